// test_fault_backend_agreement.cpp - the same answer or the same error on every backend, over
// the graphs the fuzzers keep: every fuzz_ops input (fuzz/corpus/fuzz_ops/ and its regression
// files) is built twice, computed by scheduler({cpu}) and by scheduler({opencl, cpu}), and the
// two must agree: both refuse it with the same status, or both compute it and every output
// element the CPU reference gives as finite is finite on OpenCL too and within tolerance of it.
// Inputs are the programs' own leaves (values in [-2, 2], raw bytes for block types).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

#include "pa/plugin_loader.h"

#define PA_FUZZ_DATA_DIR PA_SOURCE_DIR "/tests/data"
#include "../fuzz/targets/ops_target.h"
#include "backend_ops_util.h"

namespace {

namespace fs = std::filesystem;

// The plugin is loaded before anything registers proxy_sparse_attn, so the op is the plugin's.
struct backends {
    std::shared_ptr<pa::plugin> opencl_plugin = pa::plugin::load(PA_PLUGIN_PATH);
    std::unique_ptr<pa::backend> opencl =
        opencl_plugin->device_count() ? opencl_plugin->open_backend("") : nullptr;
    std::unique_ptr<pa::backend> cpu = pa::make_cpu_backend(2);
};

backends& env() {
    static backends b;
    return b;
}

struct outcome {
    bool computed = false; // false: the program made no graph to compute
    std::optional<pa_status> error;
    std::string message;
    std::vector<float> values;
};

// Builds the fuzz_ops program of `bytes` (as run_ops does) and computes its last result.
outcome run_program(const std::vector<uint8_t>& bytes, const std::vector<pa::backend*>& order) {
    pa::fuzz::input in(bytes);
    pa::fuzz::ops_program prog;
    prog.seed = in.take<uint32_t>();
    const int n_leaves = 1 + in.byte() % 4;
    for (int i = 0; i < n_leaves; ++i)
        try {
            prog.leaf(in);
        } catch (const pa::error&) {
        }
    const int n_ops = in.byte() % 10;
    for (int i = 0; i < n_ops && !in.empty(); ++i)
        try {
            prog.op(in);
        } catch (const pa::error&) {
        }
    outcome o;
    if (prog.results.empty() || !in.flag()) return o;
    pa::tensor* out = prog.results.back();
    const pa::graph g = pa::build_forward({out});
    double cost = 0;
    for (const pa::tensor* n : g.nodes) {
        if (pa::nbytes(n) > (size_t(1) << 22)) return o;
        cost += pa::fuzz::node_cost(n);
    }
    for (const pa::tensor* l : g.leafs)
        if (!l->data) return o;
    if (cost > 4e6) return o;
    // a proxy node stopped after an estimation stage leaves its output undefined (profiling)
    for (const pa::tensor* n : g.nodes)
        if (n->op == pa::op_registry::global().find(pa::proxy_op_name) &&
            n->op_params[pa::proxy_param_stop_after] != 0)
            return o;
    o.computed = true;
    pa::scheduler sched(order);
    try {
        sched.compute(g);
    } catch (const pa::error& e) {
        o.error = e.status();
        o.message = e.what();
        return o;
    }
    pa::tensor* whole = out->view_src ? out->view_src : out; // a cpy into a view: all of it
    if (!whole->data) {
        o.message = "the output has no host data";
        return o;
    }
    if (whole->type != PA_TYPE_I32) o.values = pa::test::get_values(whole);
    return o;
}

TEST(BackendAgreement, FuzzOpsCorpusSameAnswerOrSameError) {
    if (!env().opencl) GTEST_SKIP() << "no OpenCL device";
    size_t files = 0, computed = 0, refused = 0;
    for (const char* dir : {"fuzz/corpus/fuzz_ops", "tests/data/regressions/fuzz_ops"}) {
        for (const auto& e : fs::directory_iterator(fs::path(PA_SOURCE_DIR) / dir)) {
            SCOPED_TRACE(e.path().string());
            std::ifstream f(e.path(), std::ios::binary);
            const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)),
                                             std::istreambuf_iterator<char>());
            ++files;
            const outcome ref = run_program(bytes, {env().cpu.get()});
            if (!ref.computed) continue;
            const outcome got = run_program(bytes, {env().opencl.get(), env().cpu.get()});
            ASSERT_TRUE(got.computed);
            if (ref.error || got.error) {
                EXPECT_EQ(got.error, ref.error) << "cpu: " << ref.message << "\nopencl: " << got.message;
                ++refused;
                continue;
            }
            ++computed;
            ASSERT_TRUE(ref.message.empty() && got.message.empty())
                << "cpu: " << ref.message << "; opencl: " << got.message;
            ASSERT_EQ(got.values.size(), ref.values.size());
            float mag = 1.0f;
            for (float v : ref.values)
                if (std::isfinite(v)) mag = std::max(mag, std::fabs(v));
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < ref.values.size(); ++i) {
                if (!std::isfinite(ref.values[i])) continue;
                if (!std::isfinite(got.values[i]) || std::fabs(got.values[i] - ref.values[i]) > 1e-3f * mag) {
                    if (bad++ == 0) first = i;
                }
            }
            EXPECT_EQ(bad, 0u) << "first at " << first << ": opencl " << got.values[first] << ", cpu "
                               << ref.values[first];
        }
    }
    std::printf("[ agreement     ] %zu programs: %zu computed alike, %zu refused alike\n", files, computed,
                refused);
    EXPECT_GT(computed, 20u);
}

} // namespace
