// test_backend_ops.cpp - runs the op test table of tests/ops/<family>.cpp: every op on every
// available backend against the CPU reference, over many shapes: odd sizes, views and permutes,
// broadcasting, every type, GQA, n_past > 0. Each case is built twice from the same seeds: once
// run by scheduler({cpu}), once by scheduler({backend, cpu}); every compute node of the second run
// must have run on the backend (no silent CPU fallback), the output must be finite, and
// NMSE(output, reference) must be within the case's bound. One TEST per op family (in its
// family file); the failing case's name says its variables.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>

#include "ops/op_test.h"
#include "pa/error.h"
#include "pa/op_registry.h"
#include "pa/plugin_loader.h"
#include "pa/scheduler.h"

namespace pa::test {

std::vector<case_maker>& case_makers() {
    static std::vector<case_maker> makers;
    return makers;
}

namespace {

// The backends under test, opened once per process.
struct environment {
    std::unique_ptr<backend> cpu = make_cpu_backend(0);
    std::shared_ptr<plugin> opencl_plugin;
    std::unique_ptr<backend> opencl;
    std::string load_error;  // plugin failed to load or open: a test failure
    std::string skip_reason; // no device: a skip
};

environment& env() {
    static environment e = [] {
        environment x;
        try {
            x.opencl_plugin = plugin::load(PA_PLUGIN_PATH);
            if (x.opencl_plugin->device_count() == 0)
                x.skip_reason = "the OpenCL plugin reports no device";
            else
                x.opencl = x.opencl_plugin->open_backend("");
        } catch (const std::exception& err) {
            x.load_error = err.what();
        }
        return x;
    }();
    return e;
}

uint32_t seed_of(const std::string& s) { // FNV-1a: stable across runs and platforms
    uint32_t h = 2166136261u;
    for (unsigned char c : s)
        h = (h ^ c) * 16777619u;
    return h;
}

struct run_result {
    std::vector<float> values;
    bool all_on_first = true; // every compute node ran on backends[0]
    std::string stray_node;
};

// Builds the case in a fresh context, fills its leafs from fixed seeds, runs it.
run_result run_case(test_case& tc, const std::vector<backend*>& backends) {
    context ctx;
    tensor* out = tc.build(ctx);
    graph g = build_forward({out});
    std::mt19937 rng(seed_of(tc.name()));
    for (tensor* leaf : g.leafs)
        tc.init(leaf, rng);
    scheduler s(backends);
    s.compute(g);
    run_result r;
    for (const tensor* n : g.nodes) {
        if (is_view_op(n->op) || s.assigned_backend(n) == 0) continue;
        r.all_on_first = false;
        r.stray_node = fmt::format("{} {} ran on backend {}", op_registry::global().name(n->op),
                                   shape_string(n), s.assigned_backend(n));
    }
    // a cpy into a view writes part of a bigger tensor: compare all of it (catches stray writes)
    r.values = get_values(out->view_src ? out->view_src : out);
    return r;
}

struct family_stats {
    int cases = 0;
    double worst_ratio = 0.0; // largest nmse / bound
    std::string worst;
};

void check_case(test_case& tc, backend& dev, family_stats& st) {
    SCOPED_TRACE(tc.name());
    environment& e = env();
    run_result ref, got;
    try {
        ref = run_case(tc, {e.cpu.get()});
        got = run_case(tc, {&dev, e.cpu.get()});
    } catch (const std::exception& err) {
        ADD_FAILURE() << tc.name() << ": " << err.what();
        return;
    }
    ++st.cases;
    EXPECT_TRUE(got.all_on_first) << tc.name() << ": not run on " << dev.name() << ": " << got.stray_node;
    ASSERT_EQ(got.values.size(), ref.values.size());
    size_t bad = 0;
    for (size_t i = 0; i < got.values.size(); ++i)
        if (!std::isfinite(got.values[i]) && std::isfinite(ref.values[i])) ++bad;
    EXPECT_EQ(bad, 0u) << tc.name() << ": non-finite outputs (unwritten or overflowed)";
    const double err = nmse(got.values, ref.values);
    EXPECT_LE(err, tc.max_nmse()) << tc.name() << ": NMSE " << err << " > " << tc.max_nmse();
    const double ratio = err / tc.max_nmse();
    if (ratio >= st.worst_ratio) {
        st.worst_ratio = ratio;
        st.worst = fmt::format("{} nmse={:.3g}", tc.name(), err);
    }
}

} // namespace

void run_family(const char* family, const case_list& cases) {
    environment& e = env();
    if (!e.load_error.empty()) FAIL() << "OpenCL plugin " << PA_PLUGIN_PATH << ": " << e.load_error;
    if (!e.opencl) GTEST_SKIP() << e.skip_reason;
    family_stats st;
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& tc : cases) {
        const auto c0 = std::chrono::steady_clock::now();
        check_case(*tc, *e.opencl, st);
        const double cs = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
        if (cs > 0.5) std::printf("  slow case: %s %.2f s\n", tc->name().c_str(), cs);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ %-14s ] %d cases on %s in %.1f s; worst nmse/bound %.3g: %s\n", family, st.cases,
                e.opencl->name().c_str(), s, st.worst_ratio, st.worst.c_str());
}

namespace {

// The table itself must be sound: every case builds, has a unique name, and runs on the CPU
// reference with finite results (this part needs no device).
TEST(BackendOps, CaseTableRunsOnCpu) {
    std::vector<case_list> all;
    for (case_maker make : case_makers())
        all.push_back(make());
    std::set<std::string> names;
    size_t n = 0;
    auto cpu1 = make_cpu_backend(1);
    env().cpu->set_option("n_threads", "3"); // more threads than cores: uneven splits too
    for (const case_list& family : all)
        for (const auto& tc : family) {
            ++n;
            EXPECT_TRUE(names.insert(tc->name()).second) << "duplicate case " << tc->name();
            run_result r, r1;
            ASSERT_NO_THROW(r = run_case(*tc, {env().cpu.get()})) << tc->name();
            for (float v : r.values)
                ASSERT_TRUE(std::isfinite(v)) << tc->name();
            // threads split rows, never sums: the reference must not depend on the thread count
            ASSERT_NO_THROW(r1 = run_case(*tc, {cpu1.get()})) << tc->name();
            ASSERT_EQ(std::memcmp(r.values.data(), r1.values.data(), r.values.size() * sizeof(float)), 0)
                << tc->name() << ": CPU result depends on the thread count";
        }
    std::printf("[ case table     ] %zu cases\n", n);
}

} // namespace
} // namespace pa::test
