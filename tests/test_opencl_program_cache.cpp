// test_opencl_program_cache.cpp - the program cache: memory and disk hits, corrupt, truncated
// and foreign entries are deleted and rebuilt (never trusted), build errors carry the log, and
// PA_OPENCL_BUILD_LOG reports builds.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "env_guard.h"
#include "ocl_api.h"
#include "pa/error.h"
#include "program_cache.h"

namespace {

namespace fs = std::filesystem;
using namespace pa::ocl;

const char* kSource = "kernel void twice(global float* x) { x[get_global_id(0)] *= 2.0f; }\n";

class ProgramCache : public ::testing::Test {
  protected:
    void SetUp() override {
        if (list_devices().empty()) GTEST_SKIP() << "no OpenCL device present";
        dir_ = fs::temp_directory_path() / ("pa-ocl-cache-test-" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        ctx_ = std::make_unique<device_context>("");
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    program_cache make() { return program_cache(ctx_->cl_ctx(), ctx_->caps(), dir_.string()); }
    std::vector<unsigned char> read_file(const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
    void write_file(const std::string& p, const std::vector<unsigned char>& bytes) {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    }
    // The kernel from the cache doubles a buffer: proof the (re)loaded program works.
    void expect_runs(program_cache& pc, const std::string& options = "") {
        cl_kernel k = pc.kernel("twice.cl", kSource, "twice", options);
        scratch buf = ctx_->temp(4 * 4);
        const float in[4] = {1, 2, 3, 4};
        check(clEnqueueWriteBuffer(ctx_->queue(), buf.mem(), CL_TRUE, 0, sizeof in, in, 0, nullptr, nullptr),
              "w");
        ctx_->launch(k, range1(4), {}, buf.mem());
        float out[4];
        check(clEnqueueReadBuffer(ctx_->queue(), buf.mem(), CL_TRUE, 0, sizeof out, out, 0, nullptr, nullptr),
              "r");
        for (int i = 0; i < 4; ++i)
            EXPECT_EQ(out[i], 2.0f * in[i]);
    }
    fs::path dir_;
    std::unique_ptr<device_context> ctx_;
};

TEST_F(ProgramCache, BuildsOnceThenHitsMemoryThenDisk) {
    {
        program_cache pc = make();
        expect_runs(pc);
        pc.program("twice.cl", kSource, "");
        const auto st = pc.get_stats();
        EXPECT_EQ(st.source_builds, 1);
        EXPECT_EQ(st.disk_writes, 1);
        EXPECT_GE(st.memory_hits, 1);
        EXPECT_TRUE(fs::exists(pc.entry_path("twice.cl", kSource, "")));
    }
    program_cache again = make(); // a new process would see the same directory
    expect_runs(again);
    const auto st = again.get_stats();
    EXPECT_EQ(st.disk_hits, 1);
    EXPECT_EQ(st.source_builds, 0);
    EXPECT_EQ(st.bad_entries, 0);
}

TEST_F(ProgramCache, KeyCoversSourceAndOptions) {
    program_cache pc = make();
    const std::string a = pc.entry_path("twice.cl", kSource, "");
    EXPECT_NE(a, pc.entry_path("twice.cl", kSource, "-DX=1"));
    EXPECT_NE(a, pc.entry_path("twice.cl", std::string(kSource) + " ", ""));
    EXPECT_NE(a, pc.entry_path("other.cl", kSource, ""));
    EXPECT_EQ(a, pc.entry_path("twice.cl", kSource, ""));
    EXPECT_EQ(fs::path(a).parent_path(), dir_);
}

// Damaged entries of every kind: detected, deleted, rebuilt, rewritten intact.
TEST_F(ProgramCache, DamagedEntriesAreRebuilt) {
    std::string path;
    std::vector<unsigned char> good;
    {
        program_cache pc = make();
        pc.program("twice.cl", kSource, "");
        path = pc.entry_path("twice.cl", kSource, "");
        good = read_file(path);
    }
    ASSERT_GT(good.size(), 48u);
    struct damage {
        const char* what;
        std::vector<unsigned char> bytes;
    };
    std::vector<damage> cases;
    auto flipped = good;
    flipped[48 + (good.size() - 48) / 2] ^= 0x5a; // payload byte: checksum mismatch
    cases.push_back({"corrupt payload", flipped});
    cases.push_back({"truncated", std::vector<unsigned char>(good.begin(), good.begin() + good.size() / 2)});
    cases.push_back({"header only", std::vector<unsigned char>(good.begin(), good.begin() + 48)});
    cases.push_back({"empty", {}});
    auto magic = good;
    magic[0] = 'X';
    cases.push_back({"bad magic", magic});
    auto key = good;
    key[20] ^= 1; // another key's entry under this name
    cases.push_back({"foreign key", key});
    auto padded = good;
    padded.push_back(0);
    cases.push_back({"trailing bytes", padded});

    for (const damage& d : cases) {
        SCOPED_TRACE(d.what);
        write_file(path, d.bytes);
        program_cache pc = make();
        expect_runs(pc);
        const auto st = pc.get_stats();
        EXPECT_EQ(st.bad_entries, 1);
        EXPECT_EQ(st.source_builds, 1);
        EXPECT_EQ(st.disk_hits, 0);
        EXPECT_EQ(st.disk_writes, 1);
        program_cache reread = make(); // the rewritten entry is intact
        reread.program("twice.cl", kSource, "");
        EXPECT_EQ(reread.get_stats().disk_hits, 1);
        EXPECT_EQ(reread.get_stats().bad_entries, 0);
    }
}

TEST_F(ProgramCache, BuildErrorCarriesTheLog) {
    program_cache pc = make();
    const std::string bad = "kernel void broken(global float* x) { x[0] = undefined_identifier_xyz; }\n";
    try {
        pc.program("broken.cl", bad, "");
        FAIL() << "expected a build error";
    } catch (const pa::error& e) {
        const std::string msg = e.what();
        EXPECT_EQ(e.status(), PA_ERR_DEVICE);
        EXPECT_NE(msg.find("broken.cl"), std::string::npos) << msg;
        EXPECT_NE(msg.find("undefined_identifier_xyz"), std::string::npos) << msg; // from the build log
    }
    EXPECT_FALSE(fs::exists(pc.entry_path("broken.cl", bad, "")));
    // through the device context too, with the common header prepended
    EXPECT_THROW(ctx_->get_kernel(program_source{"broken.cl", bad}, "broken"), pa::error);
}

// PA_OPENCL_BUILD_LOG=1 reports each build from source (name, options) on stderr; hits do not.
TEST_F(ProgramCache, BuildLogOnRequest) {
    program_cache pc = make();
    {
        pa::test::env_guard on("PA_OPENCL_BUILD_LOG", "1");
        ::testing::internal::CaptureStderr();
        pc.program("twice.cl", kSource, "-DLOG_PROBE=1");
        pc.program("twice.cl", kSource, "-DLOG_PROBE=1"); // a memory hit: no second report
        const std::string err = ::testing::internal::GetCapturedStderr();
        EXPECT_NE(err.find("pa: built twice.cl"), std::string::npos) << err;
        EXPECT_NE(err.find("-DLOG_PROBE=1"), std::string::npos) << err;
        EXPECT_EQ(err.find("pa: built"), err.rfind("pa: built")) << err;
    }
    pa::test::env_guard off("PA_OPENCL_BUILD_LOG", nullptr);
    ::testing::internal::CaptureStderr();
    pc.program("twice.cl", kSource, "-DLOG_PROBE=2");
    EXPECT_EQ(::testing::internal::GetCapturedStderr().find("pa: built"), std::string::npos);
}

// A register cap in the options reaches NVIDIA's programs (the driver ignores the option itself,
// the cache writes it into the PTX): the stored binary carries .maxnreg, the build log's register
// count respects the cap, and the kernel still computes. Elsewhere the option is not given
// (tuning.cpp) and a program built with it is the plain one.
TEST_F(ProgramCache, RegisterCapReachesNvidiaPrograms) {
    if (!ctx_->caps().has_extension("cl_nv_compiler_options"))
        GTEST_SKIP() << "the device does not take NVIDIA's compiler options";
    program_cache pc = make();
    const std::string opts = "-cl-nv-verbose -cl-nv-maxrregcount=32";
    cl_kernel k = pc.kernel("twice.cl", kSource, "twice", opts);
    cl_program prog = nullptr;
    check(clGetKernelInfo(k, CL_KERNEL_PROGRAM, sizeof prog, &prog, nullptr), "program of kernel");
    size_t size = 0;
    check(clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr), "binary size");
    std::string binary(size, '\0');
    unsigned char* dst = reinterpret_cast<unsigned char*>(binary.data());
    check(clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof dst, &dst, nullptr), "binary");
    EXPECT_NE(binary.find(".maxnreg 32"), std::string::npos) << binary.substr(0, 2000);
    size_t log_size = 0;
    check(clGetProgramBuildInfo(prog, ctx_->device(), CL_PROGRAM_BUILD_LOG, 0, nullptr, &log_size),
          "log size");
    std::string log(log_size, '\0');
    check(clGetProgramBuildInfo(prog, ctx_->device(), CL_PROGRAM_BUILD_LOG, log_size, log.data(), nullptr),
          "log");
    if (const size_t used = log.find("Used "); used != std::string::npos) {
        EXPECT_LE(std::stoi(log.substr(used + 5)), 32) << log;
    }
    // the disk entry holds the capped PTX: a second cache loads it
    program_cache again = make();
    expect_runs(again, opts);
    EXPECT_EQ(again.get_stats().disk_hits, 1);
    EXPECT_EQ(again.get_stats().source_builds, 0);
}

TEST_F(ProgramCache, UnwritableDirectoryOnlyCostsTime) {
    program_cache pc(ctx_->cl_ctx(), ctx_->caps(), "/proc/pa-no-such-dir/cache");
    expect_runs(pc);
    EXPECT_EQ(pc.get_stats().disk_writes, 0);
    program_cache off(ctx_->cl_ctx(), ctx_->caps(), "off");
    EXPECT_TRUE(off.directory().empty());
    expect_runs(off);
}

// The default directory: none on PoCL (its own cache keeps what it compiled; a binary request would
// make it compile every kernel of a program), unless $PA_KERNEL_CACHE names one or PoCL's cache is
// off; the usual default elsewhere. The platform's name is read here from OpenCL itself.
TEST_F(ProgramCache, NoDefaultDirectoryWherePoclCaches) {
    char name[256] = {};
    check(clGetPlatformInfo(ctx_->caps().platform_id, CL_PLATFORM_NAME, sizeof name - 1, name, nullptr),
          "platform name");
    const bool pocl = std::string(name).find("Portable Computing Language") != std::string::npos;
    {
        pa::test::env_guard unset("PA_KERNEL_CACHE", nullptr), pocl_cache("POCL_KERNEL_CACHE", nullptr),
            xdg("XDG_CACHE_HOME", (dir_ / "xdg").string()); // the default directory, not the user's
        program_cache pc(ctx_->cl_ctx(), ctx_->caps());
        EXPECT_EQ(program_cache::default_directory(), (dir_ / "xdg" / "pa-opencl").string());
        EXPECT_EQ(pc.directory(), pocl ? std::string() : program_cache::default_directory()) << name;
        expect_runs(pc);
        EXPECT_EQ(pc.get_stats().disk_writes, pocl ? 0 : 1) << name;
    }
    {
        pa::test::env_guard named("PA_KERNEL_CACHE", dir_.string());
        program_cache pc(ctx_->cl_ctx(), ctx_->caps());
        EXPECT_EQ(pc.directory(), dir_.string());
        expect_runs(pc);
        EXPECT_EQ(pc.get_stats().disk_writes, 1); // named: used on PoCL too
    }
    {
        pa::test::env_guard unset("PA_KERNEL_CACHE", nullptr), pocl_off("POCL_KERNEL_CACHE", "0"),
            xdg("XDG_CACHE_HOME", (dir_ / "xdg").string());
        program_cache pc(ctx_->cl_ctx(), ctx_->caps());
        EXPECT_EQ(pc.directory(), program_cache::default_directory()); // PoCL keeps nothing: pa does
    }
}

} // namespace
