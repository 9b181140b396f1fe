// test_opencl_plugin.cpp - libpa-opencl.so through the host loader: descriptor, devices,
// backend open/errors/options, and one small graph per op family run by the scheduler on
// OpenCL and compared with the CPU backend (the full op sweep is test_backend_ops).
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend_ops_util.h"
#include "pa/error.h"
#include "pa/ops.h"
#include "pa/plugin_loader.h"
#include "pa/scheduler.h"

namespace {

std::shared_ptr<pa::plugin> plugin() {
    static std::shared_ptr<pa::plugin> p = pa::plugin::load(PA_PLUGIN_PATH);
    return p;
}

#define REQUIRE_DEVICE()                                                                                     \
    if (plugin()->device_count() == 0) GTEST_SKIP() << "no OpenCL device present"

TEST(OpenclPlugin, DescribesItselfAndItsDevices) {
    auto p = plugin();
    EXPECT_EQ(p->name(), "opencl");
    EXPECT_FALSE(p->version().empty());
    REQUIRE_DEVICE();
    const std::string d0 = p->describe_device(0);
    EXPECT_NE(d0.find("MiB"), std::string::npos) << d0;
    EXPECT_EQ(d0.find('\n'), std::string::npos) << d0; // one line
    EXPECT_THROW(p->describe_device(p->device_count()), pa::error);
    EXPECT_THROW(p->describe_device(-1), pa::error);
}

TEST(OpenclPlugin, OpensBackendsByIndexNameAndRejectsUnknownDevices) {
    REQUIRE_DEVICE();
    auto be = plugin()->open_backend("");
    EXPECT_EQ(be->name(), "opencl");
    EXPECT_FALSE(be->is_host());
    EXPECT_NE(be->description().find("CLBlast"), std::string::npos) << be->description();
    auto by_index = plugin()->open_backend("0");
    EXPECT_EQ(by_index->name(), "opencl");
    try {
        plugin()->open_backend("no-such-device-xyz");
        FAIL() << "expected an error";
    } catch (const pa::error& e) {
        EXPECT_NE(std::string(e.what()).find("no-such-device-xyz"), std::string::npos) << e.what();
    }
}

TEST(OpenclPlugin, OptionsAndOutOfMemoryCrossTheAbiAsStatuses) {
    REQUIRE_DEVICE();
    auto be = plugin()->open_backend("");
    EXPECT_THROW(be->set_option("no_such_option", "1"), pa::error);
    be->set_option("max_alloc_bytes", "100000");
    try {
        be->alloc(200000);
        FAIL() << "expected out of memory";
    } catch (const pa::error& e) {
        EXPECT_EQ(e.status(), PA_ERR_OUT_OF_MEMORY);
        EXPECT_NE(std::string(e.what()).find("200000"), std::string::npos) << e.what();
    }
    void* h = be->alloc(50000);
    std::vector<float> in(1000, 1.5f), out(1000);
    be->write(h, 100, in.data(), 4000);
    be->read(h, 100, out.data(), 4000);
    EXPECT_EQ(in, out);
    EXPECT_THROW(be->read(h, 49000, out.data(), 4000), pa::error);
    be->release(h);
}

TEST(OpenclPlugin, EntryRefusesAnotherAbiWithAMessage) {
    void* so = dlopen(PA_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(so, nullptr) << dlerror();
    auto entry = reinterpret_cast<pa_plugin_entry_fn>(dlsym(so, PA_PLUGIN_ENTRY_SYMBOL));
    ASSERT_NE(entry, nullptr);
    pa_host_api host{};
    host.abi_version = PA_PLUGIN_ABI_VERSION + 7;
    pa_plugin_desc desc{};
    char err[256] = {0};
    EXPECT_EQ(entry(&host, &desc, err, sizeof err), PA_ERR_ABI);
    EXPECT_NE(std::string(err).find(std::to_string(PA_PLUGIN_ABI_VERSION + 7)), std::string::npos) << err;
    EXPECT_EQ(entry(nullptr, &desc, err, sizeof err), PA_ERR_INVALID);
    // only the entry symbol is exported
    EXPECT_EQ(dlsym(so, "_ZN2pa12fp16_to_fp32Et"), nullptr);
}

// ---- one graph per op family, OpenCL vs CPU ----------------------------------------------

using builder = std::function<pa::tensor*(pa::context&, std::mt19937&)>;

pa::tensor* rnd(pa::context& ctx, std::mt19937& rng, pa_type type, std::initializer_list<int64_t> ne) {
    pa::tensor* t = ctx.new_tensor(type, ne);
    pa::test::set_values(t, pa::test::random_values(size_t(pa::nelements(t)), rng()));
    return t;
}

// Runs the graph of build() on {opencl, cpu} and on {cpu}; returns the NMSE and whether the
// output node ran on OpenCL.
double compare(pa::backend& ocl, const builder& build, bool& on_opencl) {
    auto cpu = pa::make_cpu_backend(1);
    std::vector<float> got, want;
    for (int pass = 0; pass < 2; ++pass) {
        pa::context ctx;
        std::mt19937 rng(1234);
        pa::tensor* out = build(ctx, rng);
        pa::graph g = pa::build_forward({out});
        std::vector<pa::backend*> order;
        if (pass == 0) order.push_back(&ocl);
        order.push_back(cpu.get());
        pa::scheduler s(order);
        s.compute(g);
        if (pass == 0) on_opencl = s.assigned_backend(out) == 0;
        (pass == 0 ? got : want) = pa::test::get_values(out);
    }
    return pa::test::nmse(got, want);
}

struct op_case {
    const char* name;
    double max_nmse;
    builder build;
};

std::vector<op_case> op_cases() {
    using namespace pa;
    return {
        {"add_broadcast_f16", 1e-7,
         [](context& c, std::mt19937& r) {
             return add(c, rnd(c, r, PA_TYPE_F32, {33, 5, 4, 2}), rnd(c, r, PA_TYPE_F16, {33, 1, 2, 1}));
         }},
        {"mul_silu_scale", 1e-7,
         [](context& c, std::mt19937& r) {
             tensor* a = rnd(c, r, PA_TYPE_F32, {17, 6, 3});
             return scale(c, silu(c, mul(c, a, rnd(c, r, PA_TYPE_F32, {17, 1, 3}))), 0.7f);
         }},
        {"swiglu_permuted", 1e-7,
         [](context& c, std::mt19937& r) {
             tensor* a = permute(c, rnd(c, r, PA_TYPE_F32, {8, 5, 3}), 1, 0, 2, 3);
             tensor* b = permute(c, rnd(c, r, PA_TYPE_F32, {8, 5, 3}), 1, 0, 2, 3);
             return swiglu(c, a, b);
         }},
        {"rms_norm_permuted", 1e-7,
         [](context& c, std::mt19937& r) {
             return rms_norm(c, permute(c, rnd(c, r, PA_TYPE_F32, {13, 70, 2}), 1, 0, 2, 3), 1e-5f);
         }},
        {"rope_normal", 1e-7,
         [](context& c, std::mt19937& r) {
             return rope(c, rnd(c, r, PA_TYPE_F32, {16, 3, 7}), 16, 0, 10000.0f, 5);
         }},
        {"rope_neox_partial", 1e-7,
         [](context& c, std::mt19937& r) {
             return rope(c, rnd(c, r, PA_TYPE_F32, {20, 2, 9}), 12, 2, 500.0f, 1000);
         }},
        {"soft_max_mask_f16", 1e-7,
         [](context& c, std::mt19937& r) {
             return soft_max_ext(c, rnd(c, r, PA_TYPE_F32, {37, 6, 3}), rnd(c, r, PA_TYPE_F16, {37, 8}),
                                 0.5f);
         }},
        {"get_rows_q4_1", 1e-7,
         [](context& c, std::mt19937& r) {
             tensor* ids = c.new_tensor(PA_TYPE_I32, {4, 2});
             test::set_i32(ids, {0, 5, 2, 5, 1, 1, 4, 3});
             return get_rows(c, rnd(c, r, PA_TYPE_Q4_1, {64, 6, 2}), ids);
         }},
        {"mul_mat_f32_blas_broadcast", 1e-6,
         [](context& c, std::mt19937& r) {
             return mul_mat(c, rnd(c, r, PA_TYPE_F32, {40, 24, 2}), rnd(c, r, PA_TYPE_F32, {40, 20, 4}));
         }},
        {"mul_mat_q8_0_vector", 1e-6,
         [](context& c, std::mt19937& r) {
             return mul_mat(c, rnd(c, r, PA_TYPE_Q8_0, {96, 19}), rnd(c, r, PA_TYPE_F32, {96, 3}));
         }},
        {"mul_mat_q4_0_dequant_blas", 1e-6,
         [](context& c, std::mt19937& r) {
             return mul_mat(c, rnd(c, r, PA_TYPE_Q4_0, {64, 30}), rnd(c, r, PA_TYPE_F32, {64, 40}));
         }},
        {"mul_mat_f16_tiled_transposed_b", 1e-6,
         [](context& c, std::mt19937& r) {
             tensor* b = transpose(c, rnd(c, r, PA_TYPE_F32, {21, 50}));
             return mul_mat(c, rnd(c, r, PA_TYPE_F16, {50, 70}), b);
         }},
        {"cpy_f32_to_q4_0", 1e-7,
         [](context& c, std::mt19937& r) {
             return cont(c, rnd(c, r, PA_TYPE_F32, {64, 5, 2}), PA_TYPE_Q4_0);
         }},
        {"cpy_permuted_to_f16", 1e-7,
         [](context& c, std::mt19937& r) {
             return cont(c, permute(c, rnd(c, r, PA_TYPE_F32, {7, 9, 4}), 2, 0, 1, 3), PA_TYPE_F16);
         }},
        {"flash_attn_f16_gqa_causal", 5e-6,
         [](context& c, std::mt19937& r) {
             tensor* q = rnd(c, r, PA_TYPE_F32, {64, 9, 4});
             return flash_attn_ext(c, q, rnd(c, r, PA_TYPE_F16, {64, 21, 2}),
                                   rnd(c, r, PA_TYPE_F16, {64, 21, 2}), 0.125f, 12, true);
         }},
        {"flash_attn_d256_gqa8_decode", 5e-6,
         [](context& c, std::mt19937& r) {
             tensor* q = rnd(c, r, PA_TYPE_F32, {256, 2, 8});
             return flash_attn_ext(c, q, rnd(c, r, PA_TYPE_F16, {256, 19, 1}),
                                   rnd(c, r, PA_TYPE_F32, {256, 19, 1}), 0.0625f, 17, true);
         }},
        {"flash_attn_d80_noncausal", 5e-6,
         [](context& c, std::mt19937& r) {
             tensor* q = permute(c, rnd(c, r, PA_TYPE_F32, {80, 3, 5}), 0, 2, 1, 3); // [80, 5, 3]
             return flash_attn_ext(c, q, rnd(c, r, PA_TYPE_F32, {80, 37, 3}),
                                   rnd(c, r, PA_TYPE_F32, {80, 37, 3}), 0.11f, 0, false);
         }},
    };
}

TEST(OpenclPlugin, EveryOpFamilyMatchesTheCpuBackend) {
    REQUIRE_DEVICE();
    auto ocl = plugin()->open_backend("");
    for (const op_case& oc : op_cases()) {
        SCOPED_TRACE(oc.name);
        bool on_opencl = false;
        const double err = compare(*ocl, oc.build, on_opencl);
        EXPECT_TRUE(on_opencl);
        EXPECT_LE(err, oc.max_nmse);
    }
}

} // namespace
