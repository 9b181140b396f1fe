// test_fault_cli.cpp - faults as a user of the `pa` CLI meets them, each in a child process:
//   - Ctrl-C (SIGINT) during a long prefill: "error: interrupted", exit code 130, promptly, on
//     the CPU backend and on the OpenCL one (a kernel may be in flight);
//   - no OpenCL platform at all: the run falls back to the CPU with exactly one warning and
//     gives the same text as --device cpu;
//   - device memory capped by PA_OPENCL_MAX_MEM: one "error: ... OpenCL out of memory" line naming
//     the cap and exit code 1, never a crash.
// The wrong-ABI plugin is refused by tests/test_plugin_loader.cpp and the CTest
// cli_wrong_abi_plugin; the no-platform warning's text by CTest cli_no_platform_falls_back.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "fault_util.h"

namespace {

namespace fs = std::filesystem;
using pa::test::child_options;
using pa::test::child_result;
using pa::test::count_lines_with;
using pa::test::pa_binary;
using pa::test::run_child;

const std::string data_dir = std::string(PA_SOURCE_DIR) + "/tests/data/";

class FaultCli : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!fs::exists(pa_binary())) return;
        tmp_ = fs::temp_directory_path() / fmt::format("pa-fault-cli-{}", ::getpid());
        fs::create_directories(tmp_);
        model_ = (tmp_ / "stories260K.gguf").string();
        const child_result r = run_child({pa_binary(), "convert", "--checkpoint", data_dir + "stories260K.bin",
                                          "--tokenizer", data_dir + "tok512.bin", "-o", model_, "--type", "f32"});
        ASSERT_EQ(r.code, 0) << r.err;
        // ~21700 tokens: minutes of prefill on the CPU reference, so the interrupt lands mid-way
        std::ofstream(tmp_ / "long.txt")
            << [] {
                   std::string s;
                   for (int i = 0; i < 700; ++i)
                       s += "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. ";
                   return s;
               }();
    }
    static void TearDownTestSuite() {
        std::error_code ec;
        if (!tmp_.empty()) fs::remove_all(tmp_, ec);
    }
    void SetUp() override {
        if (!fs::exists(pa_binary())) GTEST_SKIP() << pa_binary() << " is not built";
    }
    static bool have_device() {
        const child_result r = run_child({pa_binary(), "devices"});
        return r.code == 0 && r.out.find("no OpenCL device") == std::string::npos &&
               r.err.find("no OpenCL device") == std::string::npos;
    }
    // SIGINT once the first prefill chunk reported progress; the run must stop cleanly.
    void interrupt_prefill(const std::string& device) {
        child_options o;
        o.signal_when_stderr_has = "prefill ";
        o.timeout_s = 300;
        const child_result r =
            run_child({pa_binary(), "run", "-m", model_, "-f", (tmp_ / "long.txt").string(), "-n", "4", "--ctx", "22000",
                       "--attn", "dense", "--temp", "0", "--device", device},
                      o);
        ASSERT_FALSE(r.timed_out) << r.err;
        ASSERT_GE(r.seconds_after_signal, 0) << "never saw prefill progress: " << r.err;
        EXPECT_TRUE(r.exited) << "killed by signal " << r.signal << "\n" << r.err;
        EXPECT_EQ(r.code, 130) << r.err;
        EXPECT_NE(r.err.find("error: interrupted"), std::string::npos) << r.err;
        EXPECT_EQ(count_lines_with(r.err, "error:"), 1) << r.err;
        EXPECT_EQ(r.out.find("decode:"), std::string::npos); // it did not go on generating
        // between two runs of graph nodes: well under a second on this model; generous for sanitizers
        EXPECT_LT(r.seconds_after_signal, 20.0) << r.err;
    }
    static inline fs::path tmp_;
    static inline std::string model_;
};

TEST_F(FaultCli, SigintDuringPrefillOnTheCpuExitsCleanly) { interrupt_prefill("cpu"); }

TEST_F(FaultCli, SigintDuringPrefillOnOpenCLExitsCleanly) {
    if (!have_device()) GTEST_SKIP() << "no OpenCL device";
    interrupt_prefill("opencl");
}

TEST_F(FaultCli, NoOpenCLPlatformFallsBackToTheCpuWithOneWarning) {
    child_options none;
    none.env["OCL_ICD_VENDORS"] = (tmp_ / "no-such-vendors").string(); // the ICD loader finds nothing
    none.env["OCL_ICD_FILENAMES"] = "";
    none.env["PA_DEVICE"] = std::nullopt;
    const std::vector<std::string> args = {pa_binary(), "run", "-m", model_, "-p", "Once upon a time", "-n", "24",
                                           "--temp", "0"};
    const child_result fallback = run_child(args, none);
    ASSERT_EQ(fallback.code, 0) << fallback.err;
    EXPECT_EQ(count_lines_with(fallback.err, "warning:"), 1) << fallback.err;
    EXPECT_EQ(count_lines_with(fallback.err, "no OpenCL device; running on the CPU backend"), 1) << fallback.err;
    std::vector<std::string> cpu_args = args;
    cpu_args.insert(cpu_args.end(), {"--device", "cpu"});
    const child_result cpu = run_child(cpu_args);
    ASSERT_EQ(cpu.code, 0) << cpu.err;
    EXPECT_EQ(count_lines_with(cpu.err, "warning:"), 0) << cpu.err;
    EXPECT_EQ(fallback.out, cpu.out); // greedy: the same story

    // pa attn too: the proxy op still comes with the plugin and runs on its CPU reference
    const child_result attn = run_child({pa_binary(), "attn", "--n", "300", "--heads", "2", "--kv-heads", "1", "--dim",
                                         "64", "--block", "32", "--min-tokens", "0", "--no-stages", "--json"},
                                        none);
    ASSERT_EQ(attn.code, 0) << attn.err;
    EXPECT_EQ(count_lines_with(attn.err, "warning:"), 1) << attn.err;
    EXPECT_NE(attn.out.find("\"proxy_on_device\": false"), std::string::npos) << attn.out;
}

TEST_F(FaultCli, DeviceMemoryCapGivesOneClearError) {
    if (!have_device()) GTEST_SKIP() << "no OpenCL device";
    child_options capped;
    capped.env["PA_OPENCL_MAX_MEM"] = "65536";
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{pa_binary(), "attn", "--n", "1024", "--heads", "4", "--kv-heads", "2", "--dim", "64",
                                   "--no-stages", "--no-recall", "--device", "opencl"},
          std::vector<std::string>{pa_binary(), "run", "-m", model_, "-p", "Once upon a time", "-n", "8", "--temp", "0",
                                   "--device", "opencl"}}) {
        SCOPED_TRACE(args[1]);
        const child_result r = run_child(args, capped);
        EXPECT_TRUE(r.exited) << "killed by signal " << r.signal << "\n" << r.err;
        EXPECT_EQ(r.code, 1) << r.err;
        EXPECT_EQ(count_lines_with(r.err, "error:"), 1) << r.err;
        EXPECT_NE(r.err.find("OpenCL out of memory"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("65536"), std::string::npos) << "the message names the cap: " << r.err;
    }
}

} // namespace
