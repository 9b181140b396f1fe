// test_opencl_device.cpp - device discovery, selection by spec, the launch helper, and that
// every embedded kernel program builds on this device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "context_impl.h"
#include "device.h"
#include "env_guard.h"
#include "ocl_api.h"
#include "opencl_kernels.h"
#include "pa/error.h"

namespace {

using namespace pa::ocl;

#define REQUIRE_DEVICE()                                                                                     \
    if (list_devices().empty()) GTEST_SKIP() << "no OpenCL device present"

// Sets an environment variable for one scope and restores the old value.
using pa::test::env_guard;

std::string lower(std::string s) {
    for (char& c : s)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

TEST(OpenclDevice, DiscoveryFillsCapabilities) {
    REQUIRE_DEVICE();
    const std::vector<device_caps> devs = list_devices();
    for (size_t i = 0; i < devs.size(); ++i) {
        const device_caps& d = devs[i];
        EXPECT_EQ(d.index, int(i));
        EXPECT_FALSE(d.name.empty());
        EXPECT_FALSE(d.platform.empty());
        EXPECT_FALSE(d.driver_version.empty());
        EXPECT_NE(d.opencl_c_version.find("OpenCL C"), std::string::npos);
        EXPECT_GT(d.local_mem, 0u);
        EXPECT_GT(d.global_mem, 0u);
        EXPECT_GT(d.max_alloc, 0u);
        EXPECT_GE(d.global_mem, d.max_alloc);
        EXPECT_GT(d.compute_units, 0u);
        EXPECT_EQ(d.fp16, d.has_extension("cl_khr_fp16"));
        EXPECT_FALSE(d.has_extension("cl_khr")); // whole words only
        EXPECT_NE(d.summary().find(d.name), std::string::npos);
    }
}

TEST(OpenclDevice, SelectByIndexNameAndPlatform) {
    REQUIRE_DEVICE();
    const std::vector<device_caps> devs = list_devices();
    const device_caps& last = devs.back();
    EXPECT_EQ(select_device(std::to_string(last.index)).device_id, last.device_id);
    // a case-insensitive substring of the name, and of the platform
    const std::string part = lower(last.name.substr(0, std::min<size_t>(6, last.name.size())));
    EXPECT_EQ(lower(select_device(part).name).find(part), 0u);
    const std::string plat = lower(last.platform.substr(0, std::min<size_t>(5, last.platform.size())));
    EXPECT_FALSE(select_device(plat).name.empty());
}

TEST(OpenclDevice, DefaultPrefersGpuAndHonoursEnvironment) {
    REQUIRE_DEVICE();
    const std::vector<device_caps> devs = list_devices();
    const device_caps def = select_device("");
    bool any_gpu = false;
    for (const auto& d : devs)
        any_gpu |= d.is_gpu;
    EXPECT_EQ(def.is_gpu, any_gpu);

    {
        env_guard env("PA_OPENCL_DEVICE", std::to_string(devs.back().index).c_str());
        EXPECT_EQ(select_device("").device_id, devs.back().device_id);
    }
    env_guard env("PA_OPENCL_DEVICE", "no-such-device-xyz");
    EXPECT_THROW(select_device(""), pa::error);
    EXPECT_EQ(select_device("0").device_id, devs.front().device_id); // an explicit spec wins
}

TEST(OpenclDevice, BadSpecNamesTheSpecAndTheDevices) {
    REQUIRE_DEVICE();
    for (const char* spec : {"no-such-device-xyz", "99"}) {
        try {
            select_device(spec);
            FAIL() << "expected an error for " << spec;
        } catch (const pa::error& e) {
            EXPECT_EQ(e.status(), PA_ERR_INVALID);
            EXPECT_NE(std::string(e.what()).find(spec), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(list_devices()[0].name), std::string::npos) << e.what();
        }
    }
}

// The launch helper: typed arguments, mem_ref offsets, rounding of the global size.
TEST(OpenclDevice, LaunchHelperPassesTypedArguments) {
    REQUIRE_DEVICE();
    env_guard env("PA_KERNEL_CACHE", "off");
    device_context ctx("");
    const program_source src{"axpb.cl",
                             "kernel void axpb(global const char* x, ulong x_offs, global float* y, float a,"
                             " int b, long n) {\n"
                             "  const long i = get_global_id(0); if (i >= n) return;\n"
                             "  y[i] = a * ((global const float*)(x + x_offs))[i] + (float)b; }\n",
                             false};
    cl_kernel k = ctx.get_kernel(src, "axpb");
    EXPECT_EQ(ctx.get_kernel(src, "axpb"), k); // cached
    std::vector<float> x(37);
    for (size_t i = 0; i < x.size(); ++i)
        x[i] = float(i);
    scratch xs = ctx.temp(x.size() * 4 + 16);
    scratch ys = ctx.temp(33 * 4);
    pa::ocl::check(
        clEnqueueWriteBuffer(ctx.queue(), xs.mem(), CL_TRUE, 16, x.size() * 4, x.data(), 0, nullptr, nullptr),
        "write");
    ctx.launch(k, range1(33), range1(8), mem_ref{xs.mem(), 16 + 4 * 4}, ys.mem(), 2.0f, int32_t(3),
               int64_t(33));
    std::vector<float> y(33);
    pa::ocl::check(
        clEnqueueReadBuffer(ctx.queue(), ys.mem(), CL_TRUE, 0, y.size() * 4, y.data(), 0, nullptr, nullptr),
        "read");
    for (size_t i = 0; i < y.size(); ++i)
        EXPECT_EQ(y[i], 2.0f * float(i + 4) + 3.0f) << i;
}

// device_context::write: a small write returns before the device has read the bytes (it keeps a
// copy: the caller's memory is overwritten right after), a large one blocks; both land in queue
// order, behind a kernel that wrote the same buffer first; past the buffer's size it throws.
TEST(OpenclDevice, ScratchWritesLandInQueueOrder) {
    REQUIRE_DEVICE();
    env_guard env("PA_KERNEL_CACHE", "off");
    device_context ctx("");
    const program_source src{"fill.cl",
                             "kernel void fill(global int* y, int v) { y[get_global_id(0)] = v; }\n", false};
    for (const size_t n : {size_t(37), size_t(40000)}) { // 148 bytes, 160 KB (over the 64 KiB staging)
        scratch s = ctx.temp(n * 4);
        ctx.launch(ctx.get_kernel(src, "fill"), range1(n), {}, s.mem(), int32_t(-1));
        std::vector<int32_t> v(n);
        for (size_t i = 0; i < n; ++i)
            v[i] = int32_t(i * 7 + 1);
        ctx.write(s, v.data(), (n - 3) * 4); // the last three keep the kernel's -1
        std::fill(v.begin(), v.end(), 0);    // the caller's memory may change at once
        std::vector<int32_t> got(n);
        pa::ocl::check(
            clEnqueueReadBuffer(ctx.queue(), s.mem(), CL_TRUE, 0, n * 4, got.data(), 0, nullptr, nullptr),
            "read");
        for (size_t i = 0; i < n; ++i)
            ASSERT_EQ(got[i], i + 3 < n ? int32_t(i * 7 + 1) : -1) << "n " << n << " i " << i;
    }
    scratch small = ctx.temp(16);
    const std::vector<int32_t> big(1024, 1);
    EXPECT_THROW(ctx.write(small, big.data(), big.size() * 4), pa::error);
}

// arg_pack lays out scalars as OpenCL C lays out a struct of the same members: padding before
// 8-, 16- and 32-byte members, a shape_ref as ne then nb, the tail padded. The kernel writes every
// member back as a long; a layout disagreement would move every member after it.
TEST(OpenclDevice, ArgPackMatchesTheKernelsStruct) {
    REQUIRE_DEVICE();
    env_guard env("PA_KERNEL_CACHE", "off");
    device_context ctx("");
    const program_source src{
        "pack.cl",
        "typedef struct { int a; long4 ne; ulong4 nb; float f; ulong u; int4 i4;"
        " int b; ulong4 w; float g; } P;\n"
        "kernel void echo(global long* out, P p) {\n"
        "  if (get_global_id(0) != 0) return;\n"
        "  out[0] = p.a; out[1] = p.ne.s0; out[2] = p.ne.s3; out[3] = (long)p.nb.s1;\n"
        "  out[4] = (long)p.nb.s2; out[5] = (long)(p.f * 4.0f); out[6] = (long)p.u;\n"
        "  out[7] = p.i4.s0; out[8] = p.i4.s3; out[9] = p.b; out[10] = (long)p.w.s0;\n"
        "  out[11] = (long)p.w.s3; out[12] = (long)(p.g * 4.0f); out[13] = sizeof(P); }\n",
        false};
    const cl_kernel k = ctx.get_kernel(src, "echo");
    pa_tensor t{};
    t.type = PA_TYPE_F32;
    const int64_t ne[4] = {5, 7, 11, 13};
    for (int i = 0; i < 4; ++i) {
        t.ne[i] = ne[i];
        t.nb[i] = size_t(4 * (i + 1) * 1000);
    }
    const cl_int4 i4{{-3, 4, 5, 6}};
    const cl_ulong4 w{{1ull << 40, 2, 3, (1ull << 41) + 9}};
    const arg_pack pack(int32_t(-7), shape_of(&t), 2.25f, uint64_t(1) << 35, i4, int32_t(42), w, -1.5f);
    scratch out = ctx.temp(14 * 8);
    ctx.launch(k, range1(1), range1(1), out.mem(), pack);
    std::vector<int64_t> got(14);
    pa::ocl::check(clEnqueueReadBuffer(ctx.queue(), out.mem(), CL_TRUE, 0, got.size() * 8, got.data(), 0,
                                       nullptr, nullptr),
                   "read");
    const std::vector<int64_t> want = {-7,
                                       5,
                                       13,
                                       8000,
                                       12000,
                                       9,
                                       int64_t(1) << 35,
                                       -3,
                                       6,
                                       42,
                                       int64_t(1) << 40,
                                       (int64_t(1) << 41) + 9,
                                       -6,
                                       int64_t(pack.size())};
    EXPECT_EQ(got, want);
    EXPECT_EQ(pack.size(),
              224u); // hand-counted: 4 + pad 28, 32, 32, 4 + pad 4, 8, 16, 4 + pad 28, 32, 4 + pad 28
}

// Every embedded program compiles standalone with its default macros (and the type variants
// the host uses), so a syntax error in a rarely used kernel shows up here.
TEST(OpenclDevice, EveryEmbeddedProgramBuilds) {
    REQUIRE_DEVICE();
    device_context ctx("");
    struct variant {
        const char* program;
        const char* kernel;
        const char* options;
    };
    const std::vector<variant> variants = {
        {"elementwise.cl", "k_add", ""},
        {"norm.cl", "k_rms_norm", ""},
        {"rope.cl", "k_rope", ""},
        {"softmax.cl", "k_soft_max", ""},
        {"get_rows.cl", "k_get_rows", ""},
        {"cpy.cl", "k_cpy_quant", ""},
        {"mul_mat.cl", "k_mul_mat_tiled", "-DA_TYPE=0"},
        {"mul_mat.cl", "k_mul_mv", "-DA_TYPE=1"},
        {"mul_mat.cl", "k_mul_mv", "-DA_TYPE=8"},
        {"mul_mat.cl", "k_mul_mv", "-DA_TYPE=2"},
        {"mul_mat.cl", "k_mul_mv", "-DA_TYPE=3"},
        {"flash_attn.cl", "k_flash_attn", "-DFA_D=64 -DFA_BM=8 -DFA_TPQ=4 -DFA_BN=16 -DFA_K_F16=1"},
    };
    for (const variant& v : variants)
        EXPECT_NE(ctx.get_kernel(v.program, v.kernel, v.options), nullptr) << v.program;
    for (const variant& v : variants) { // each tested program is embedded under its file name
        bool found = false;
        for (const pa_embedded_source& s : pa_ocl_sources)
            found |= std::string(s.name) == v.program;
        EXPECT_TRUE(found) << v.program;
    }
    EXPECT_THROW(ctx.get_kernel("no_such.cl", "k"), pa::error);
    EXPECT_THROW(ctx.get_kernel("norm.cl", "no_such_kernel"), pa::error);
}

} // namespace
