// test_fault_backend_agreement.cpp - the same answer or the same error on every backend, over
// the graphs the fuzzers keep: every fuzz_ops input (fuzz/corpus/fuzz_ops/ and its regression
// files) is built twice, computed by scheduler({cpu}) and by scheduler({opencl, cpu}), and the
// two must agree: both refuse it with the same status, or both compute it and every output
// element the CPU reference gives as finite is finite on OpenCL too and within tolerance of it.
// Inputs are the programs' own leaves (values in [-2, 2], raw bytes for block types). A
// disagreement names the first node that differs, each node computed on its own (op, types,
// shapes, strides and params of it and its sources).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

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

// A fuzz_ops program built from its bytes (as run_ops builds it) and the graph of its last
// result; `g` is empty when the program makes nothing to compute.
struct built_program {
    pa::fuzz::ops_program prog;
    pa::tensor* out = nullptr;
    pa::graph g;
};

std::unique_ptr<built_program> build_program(const std::vector<uint8_t>& bytes) {
    auto b = std::make_unique<built_program>();
    pa::fuzz::ops_program& prog = b->prog;
    pa::fuzz::input in(bytes);
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
    if (prog.results.empty() || !in.flag()) return b;
    pa::tensor* out = prog.results.back();
    pa::graph g = pa::build_forward({out});
    double cost = 0;
    for (const pa::tensor* n : g.nodes) {
        if (pa::nbytes(n) > (size_t(1) << 22)) return b;
        cost += pa::fuzz::node_cost(n);
    }
    for (const pa::tensor* l : g.leafs)
        if (!l->data) return b;
    if (cost > 4e6) return b;
    // a proxy node stopped after an estimation stage leaves its output undefined (profiling)
    for (const pa::tensor* n : g.nodes)
        if (n->op == pa::op_registry::global().find(pa::proxy_op_name) &&
            n->op_params[pa::proxy_param_stop_after] != 0)
            return b;
    b->out = out;
    b->g = std::move(g);
    return b;
}

// Computes `out` (a node of a built program) and reads it back.
outcome compute(pa::tensor* out, const std::vector<pa::backend*>& order) {
    outcome o;
    o.computed = true;
    const pa::graph g = pa::build_forward({out});
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

// Builds the fuzz_ops program of `bytes` and computes its last result.
outcome run_program(const std::vector<uint8_t>& bytes, const std::vector<pa::backend*>& order) {
    const auto b = build_program(bytes);
    if (!b->out) return {};
    return compute(b->out, order);
}

// The first element where `got` leaves the CPU reference `ref` (finite there, and non-finite or
// off by more than 1e-3 of the largest finite reference magnitude), and how many do.
struct disagreement {
    size_t bad = 0, first = 0;
};

disagreement compare(const std::vector<float>& ref, const std::vector<float>& got) {
    float mag = 1.0f;
    for (float v : ref)
        if (std::isfinite(v)) mag = std::max(mag, std::fabs(v));
    disagreement d;
    for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
        if (!std::isfinite(ref[i])) continue;
        if (!std::isfinite(got[i]) || std::fabs(got[i] - ref[i]) > 1e-3f * mag)
            if (d.bad++ == 0) d.first = i;
    }
    return d;
}

std::string describe(const pa::tensor* t) {
    std::string s = pa::op_registry::global().name(t->op) + " " + pa::shape_string(t);
    s += " nb [" + std::to_string(t->nb[0]) + ", " + std::to_string(t->nb[1]) + ", " +
         std::to_string(t->nb[2]) + ", " + std::to_string(t->nb[3]) + "]";
    if (t->view_src) s += " view+" + std::to_string(t->view_offs);
    if (t->op != PA_OP_NONE && !pa::is_view_op(t->op)) {
        int n = PA_MAX_OP_PARAMS;
        while (n > 0 && t->op_params[n - 1] == 0)
            --n;
        s += " params [";
        for (int i = 0; i < n; ++i)
            s += (i ? ", " : "") + std::to_string(t->op_params[i]);
        s += "]";
    }
    return s;
}

// Names the first node of the program whose value OpenCL computes differently from the CPU
// (each node computed on its own, in graph order), with its sources' types, shapes and strides.
std::string first_differing_node(const std::vector<uint8_t>& bytes) {
    const size_t n_nodes = build_program(bytes)->g.nodes.size();
    for (size_t k = 0; k < n_nodes; ++k) {
        const auto cpu_side = build_program(bytes);
        const auto ocl_side = build_program(bytes);
        pa::tensor* node = cpu_side->g.nodes[k];
        if (pa::is_view_op(node->op)) continue;
        const outcome ref = compute(node, {env().cpu.get()});
        const outcome got = compute(ocl_side->g.nodes[k], {env().opencl.get(), env().cpu.get()});
        const disagreement d = compare(ref.values, got.values);
        if (ref.error == got.error && d.bad == 0) continue;
        std::string s = "first differing node #" + std::to_string(k) + ": " + describe(node);
        for (const pa::tensor* src : node->src)
            if (src) s += "\n  src " + describe(src);
        if (d.bad)
            s += "\n  " + std::to_string(d.bad) + " elements differ, first at " + std::to_string(d.first) +
                 ": opencl " + std::to_string(got.values[d.first]) + ", cpu " +
                 std::to_string(ref.values[d.first]);
        return s;
    }
    return "no single node differs";
}

TEST(BackendAgreement, FuzzOpsCorpusSameAnswerOrSameError) {
    if (!env().opencl) GTEST_SKIP() << "no OpenCL device";
    // The portable kernels are under test. The NVIDIA tensor-core paths round operands to f16
    // (finite inputs past 65504 overflow) and multiply the masked keys of a 64-key tile by a
    // weight of 0 (0 x NaN = NaN where V holds NaN), so on NaN / huge inputs they cannot give
    // the CPU's answer; test_flash_attn_mma and test_mul_mat_mma check them at f16 tolerances.
    const char* mma_was = std::getenv("PA_MMA");
    const std::string mma_saved = mma_was ? mma_was : "";
    ::setenv("PA_MMA", "0", 1);
    struct restore {
        bool had;
        std::string v;
        ~restore() { had ? ::setenv("PA_MMA", v.c_str(), 1) : ::unsetenv("PA_MMA"); }
    } restore_mma{mma_was != nullptr, mma_saved};
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
            const disagreement d = compare(ref.values, got.values);
            EXPECT_EQ(d.bad, 0u) << "first at " << d.first << ": opencl " << got.values[d.first] << ", cpu "
                                 << ref.values[d.first] << "\n"
                                 << (d.bad ? first_differing_node(bytes) : "");
        }
    }
    std::printf("[ agreement     ] %zu programs: %zu computed alike, %zu refused alike\n", files, computed,
                refused);
    EXPECT_GT(computed, 20u);
}

} // namespace
