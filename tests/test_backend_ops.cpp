// test_backend_ops.cpp - every op on every available backend against the CPU reference, over
// many shapes: odd sizes, views and permutes, broadcasting, every type, GQA, n_past > 0.
// Each case is built twice from the same seeds: once run by scheduler({cpu}), once by
// scheduler({backend, cpu}); every compute node of the second run must have run on the backend
// (no silent CPU fallback), the output must be finite, and NMSE(output, reference) must be
// within the case's bound. One TEST per op family; the failing case's name says its variables.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>

#include "backend_ops_cases.h"
#include "pa/error.h"
#include "pa/op_registry.h"
#include "pa/plugin_loader.h"
#include "pa/scheduler.h"

namespace pa::test {
namespace {

using case_list = std::vector<std::unique_ptr<test_case>>;

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
    for (unsigned char c : s) h = (h ^ c) * 16777619u;
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
    for (tensor* leaf : g.leafs) tc.init(leaf, rng);
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

// Random shapes from a fixed seed, on top of the hand-picked ones below.
struct shape_rng {
    std::mt19937 rng;
    explicit shape_rng(uint32_t seed) : rng(seed) {}
    int64_t in(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
    template <class T, size_t N>
    T pick(const T (&v)[N]) {
        return v[size_t(in(0, int64_t(N) - 1))];
    }
};

constexpr pa_type all_types[] = {PA_TYPE_F32, PA_TYPE_F16, PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1};
constexpr layout all_layouts[] = {layout::packed, layout::transposed, layout::permuted, layout::padded};

// ---- the case table ---------------------------------------------------------------------

case_list get_rows_cases() {
    case_list c;
    for (pa_type t : all_types) {
        const bool q = traits(t).quantized;
        const int64_t ne0 = q ? 96 : 33;
        c.push_back(std::make_unique<case_get_rows>(t, shape4{ne0, 17, 1, 1}, 5, layout::packed));
        c.push_back(std::make_unique<case_get_rows>(t, shape4{q ? 32 : 1, 1, 1, 1}, 1, layout::packed));
        c.push_back(std::make_unique<case_get_rows>(t, shape4{q ? 64 : 7, 5, 3, 2}, 16, layout::padded));
        c.push_back(std::make_unique<case_get_rows>(t, shape4{q ? 256 : 130, 9, 2, 1}, 3, layout::permuted));
        if (!q) c.push_back(std::make_unique<case_get_rows>(t, shape4{5, 11, 1, 1}, 4, layout::transposed));
    }
    shape_rng r(101);
    for (int i = 0; i < 20; ++i) {
        const pa_type t = r.pick(all_types);
        const bool q = traits(t).quantized;
        const int64_t ne0 = q ? 32 * r.in(1, 6) : r.in(1, 200);
        const layout l = q ? r.pick({layout::packed, layout::permuted, layout::padded}) : r.pick(all_layouts);
        const shape4 src{ne0, r.in(1, 40), r.in(1, 3), r.in(1, 2)};
        c.push_back(std::make_unique<case_get_rows>(t, src, r.in(1, 20), l));
    }
    return c;
}

case_list binary_cases() {
    case_list c;
    struct shapes {
        shape4 a, b;
    };
    const shapes sh[] = {
        {{17, 3, 2, 1}, {17, 1, 1, 1}},     {{33, 5, 3, 2}, {33, 5, 3, 2}}, {{1, 1, 1, 1}, {1, 1, 1, 1}},
        {{16, 4, 6, 2}, {1, 4, 1, 2}},      {{7, 3, 5, 1}, {7, 3, 1, 1}},   {{64, 1, 1, 1}, {32, 1, 1, 1}},
        {{4096, 3, 1, 1}, {4096, 1, 1, 1}},
    };
    for (int32_t op : {PA_OP_ADD, PA_OP_MUL}) {
        for (const shapes& s : sh)
            for (pa_type bt : {PA_TYPE_F32, PA_TYPE_F16})
                c.push_back(std::make_unique<case_binary>(op, s.a, s.b, bt, layout::packed, layout::packed));
        for (layout l : all_layouts) {
            c.push_back(std::make_unique<case_binary>(op, shape4{9, 6, 4, 1}, shape4{9, 6, 1, 1}, PA_TYPE_F32,
                                                      l, layout::packed));
            c.push_back(std::make_unique<case_binary>(op, shape4{10, 3, 3, 2}, shape4{10, 3, 3, 1},
                                                      PA_TYPE_F16, layout::packed, l));
        }
    }
    for (layout l : all_layouts) {
        c.push_back(std::make_unique<case_binary>(PA_OP_SWIGLU, shape4{35, 7, 2, 1}, shape4{35, 7, 2, 1},
                                                  PA_TYPE_F32, l, layout::packed));
        c.push_back(std::make_unique<case_binary>(PA_OP_SWIGLU, shape4{128, 5, 1, 1}, shape4{128, 5, 1, 1},
                                                  PA_TYPE_F32, layout::packed, l));
    }
    shape_rng r(202);
    for (int i = 0; i < 30; ++i) {
        const shape4 a{r.in(1, 100), r.in(1, 9), r.in(1, 4), r.in(1, 3)};
        shape4 b = a;
        for (int k = 0; k < 4; ++k)
            if (r.in(0, 2) == 0) b[size_t(k)] = 1; // broadcast this dim
        const int32_t op = i % 3 == 0 ? PA_OP_ADD : i % 3 == 1 ? PA_OP_MUL : PA_OP_SWIGLU;
        if (op == PA_OP_SWIGLU) b = a;
        const pa_type bt = op == PA_OP_SWIGLU ? PA_TYPE_F32 : r.pick({PA_TYPE_F32, PA_TYPE_F16});
        const layout la = r.pick(all_layouts), lb = r.pick(all_layouts);
        c.push_back(std::make_unique<case_binary>(op, a, b, bt, la, lb));
    }
    return c;
}

case_list unary_cases() {
    case_list c;
    const shape4 sh[] = {{1, 1, 1, 1}, {7, 3, 1, 1}, {64, 17, 2, 1}, {33, 4, 3, 2}, {4097, 2, 1, 1}};
    for (const shape4& s : sh) {
        c.push_back(std::make_unique<case_unary>(PA_OP_SCALE, s, layout::packed, 0.37f));
        c.push_back(std::make_unique<case_unary>(PA_OP_SILU, s, layout::packed));
        c.push_back(std::make_unique<case_unary>(PA_OP_RMS_NORM, s, layout::packed, 1e-5f));
    }
    for (layout l : all_layouts) {
        c.push_back(std::make_unique<case_unary>(PA_OP_SCALE, shape4{9, 5, 3, 1}, l, -2.0f));
        c.push_back(std::make_unique<case_unary>(PA_OP_SILU, shape4{9, 5, 3, 1}, l));
        c.push_back(std::make_unique<case_unary>(PA_OP_RMS_NORM, shape4{96, 5, 3, 1}, l, 1e-6f));
        c.push_back(std::make_unique<case_unary>(PA_OP_RMS_NORM, shape4{3, 7, 2, 2}, l, 0.1f));
    }
    shape_rng r(303);
    for (int i = 0; i < 24; ++i) {
        const int32_t op = r.pick({PA_OP_SCALE, PA_OP_SILU, PA_OP_RMS_NORM});
        const shape4 ne{r.in(1, 700), r.in(1, 9), r.in(1, 3), r.in(1, 2)};
        const layout l = r.pick(all_layouts);
        c.push_back(std::make_unique<case_unary>(op, ne, l, op == PA_OP_SCALE ? 1.5f : 1e-5f));
    }
    return c;
}

case_list mul_mat_cases() {
    case_list c;
    using b2 = std::array<int64_t, 2>;
    for (pa_type t : all_types) {
        const bool q = traits(t).quantized;
        for (int64_t K : {q ? int64_t(32) : int64_t(17), int64_t(96), int64_t(256)})
            for (int64_t M : {1, 7, 33})
                for (int64_t N : {1, 5, 17, 64})
                    c.push_back(std::make_unique<case_mul_mat>(t, K, M, N, b2{1, 1}, b2{1, 1}));
        // broadcast over dims 2-3, as GQA attention and batched heads use it
        c.push_back(std::make_unique<case_mul_mat>(t, 64, 16, 9, b2{2, 1}, b2{4, 1}));
        c.push_back(std::make_unique<case_mul_mat>(t, 64, 5, 3, b2{1, 2}, b2{3, 4}));
        c.push_back(std::make_unique<case_mul_mat>(t, 32, 3, 8, b2{3, 2}, b2{3, 2}));
        // larger ones: a model's projection and a long K
        c.push_back(std::make_unique<case_mul_mat>(t, 512, 256, 33, b2{1, 1}, b2{1, 1}));
        c.push_back(std::make_unique<case_mul_mat>(t, 4096, 64, 2, b2{1, 1}, b2{1, 1}));
        // non-contiguous inputs
        for (layout lb : all_layouts)
            c.push_back(std::make_unique<case_mul_mat>(t, 64, 9, 7, b2{2, 1}, b2{2, 1}, layout::packed, lb));
        c.push_back(std::make_unique<case_mul_mat>(t, 64, 9, 7, b2{2, 1}, b2{4, 1}, layout::permuted,
                                                   layout::packed));
        c.push_back(
            std::make_unique<case_mul_mat>(t, 96, 9, 7, b2{1, 1}, b2{1, 1}, layout::padded, layout::padded));
        if (!q)
            c.push_back(std::make_unique<case_mul_mat>(t, 33, 9, 17, b2{1, 1}, b2{2, 1}, layout::transposed,
                                                       layout::transposed));
    }
    shape_rng r(404);
    const std::array<b2, 2> batches[] = {{b2{1, 1}, b2{1, 1}},
                                         {b2{1, 1}, b2{3, 1}},
                                         {b2{2, 1}, b2{4, 1}},
                                         {b2{1, 2}, b2{2, 2}},
                                         {b2{2, 3}, b2{2, 3}}};
    for (int i = 0; i < 60; ++i) {
        const pa_type t = r.pick(all_types);
        const bool q = traits(t).quantized;
        const int64_t K = q ? 32 * r.in(1, 10) : r.in(1, 300);
        const auto& bt = r.pick(batches);
        const layout la =
            q ? r.pick({layout::packed, layout::permuted, layout::padded}) : r.pick(all_layouts);
        const int64_t M = r.in(1, 100), N = r.in(1, 70);
        const layout lb = r.pick(all_layouts);
        c.push_back(std::make_unique<case_mul_mat>(t, K, M, N, bt[0], bt[1], la, lb));
    }
    return c;
}

case_list rope_cases() {
    case_list c;
    for (int mode : {rope_mode_normal, rope_mode_neox}) {
        for (int64_t d : {64, 80, 128}) {
            c.push_back(std::make_unique<case_rope>(d, 4, 7, int(d), mode, 10000.0f, 0, layout::packed));
            c.push_back(std::make_unique<case_rope>(d, 3, 17, int(d), mode, 1e6f, 1000, layout::packed));
        }
        c.push_back(std::make_unique<case_rope>(64, 2, 5, 32, mode, 10000.0f, 3, layout::packed)); // partial
        c.push_back(std::make_unique<case_rope>(6, 1, 1, 2, mode, 500.0f, 0, layout::packed));
        c.push_back(std::make_unique<case_rope>(10, 5, 33, 10, mode, 10000.0f, 77, layout::packed));
        for (layout l : all_layouts)
            c.push_back(std::make_unique<case_rope>(64, 8, 9, 64, mode, 10000.0f, 12, l));
    }
    shape_rng r(505);
    for (int i = 0; i < 20; ++i) {
        const int64_t d = 2 * r.in(1, 80);
        const int n_dims = int(2 * r.in(1, d / 2));
        const int64_t H = r.in(1, 8), N = r.in(1, 40);
        const int mode = r.pick({0, 2});
        const float theta = r.pick({10000.0f, 500000.0f});
        const int n_past = int(r.in(0, 2000));
        const layout l = r.pick(all_layouts);
        c.push_back(std::make_unique<case_rope>(d, H, N, n_dims, mode, theta, n_past, l));
    }
    return c;
}

case_list soft_max_cases() {
    case_list c;
    const shape4 sh[] = {{1, 1, 1, 1},   {7, 3, 1, 1},    {32, 17, 3, 1},
                         {100, 5, 3, 2}, {1000, 3, 2, 1}, {4099, 2, 1, 1}};
    for (const shape4& s : sh)
        for (int mask : {0, 1, 2})
            for (float scale : {1.0f, 0.125f})
                c.push_back(std::make_unique<case_soft_max>(s, scale, mask, layout::packed));
    for (layout l : all_layouts)
        for (int mask : {0, 2})
            c.push_back(std::make_unique<case_soft_max>(shape4{33, 9, 4, 1}, 0.5f, mask, l));
    shape_rng r(606);
    for (int i = 0; i < 20; ++i) {
        const shape4 ne{r.in(1, 1500), r.in(1, 20), r.in(1, 4), r.in(1, 2)};
        const float scale = r.pick({1.0f, 0.088f, 3.0f});
        const int mask = int(r.in(0, 2));
        const layout l = r.pick(all_layouts);
        c.push_back(std::make_unique<case_soft_max>(ne, scale, mask, l));
    }
    return c;
}

case_list cpy_cases() {
    case_list c;
    for (pa_type src : all_types)
        for (pa_type dst : all_types) {
            const bool qs = traits(src).quantized, qd = traits(dst).quantized;
            if (qs && src != dst && qd) continue; // quantized sources convert to float or themselves
            const shape4 ne = (qs || qd) ? shape4{64, 3, 2, 1} : shape4{17, 3, 2, 1};
            c.push_back(std::make_unique<case_cpy>(src, dst, ne, layout::packed, 0));
            c.push_back(std::make_unique<case_cpy>(src, dst, ne, layout::permuted, 0));
            if (!qs || src == dst) // cpy() proper converts quantized sources only to themselves
                c.push_back(std::make_unique<case_cpy>(src, dst, ne, layout::padded, 1));
            else
                c.push_back(std::make_unique<case_cpy>(src, dst, ne, layout::padded, 0));
            if (!qs)
                c.push_back(std::make_unique<case_cpy>(src, dst, shape4{32, 5, 3, 1}, layout::packed, 2));
            else if (src == dst)
                c.push_back(std::make_unique<case_cpy>(src, dst, shape4{32, 5, 3, 1}, layout::packed, 2));
            if (!qs && !qd) {
                c.push_back(std::make_unique<case_cpy>(src, dst, shape4{33, 7, 1, 1}, layout::transposed, 0));
                c.push_back(std::make_unique<case_cpy>(src, dst, shape4{5, 9, 3, 1}, layout::transposed, 1));
                c.push_back(std::make_unique<case_cpy>(src, dst, shape4{1, 1, 1, 1}, layout::packed, 0));
            }
        }
    return c;
}

case_list flash_attn_cases() {
    case_list c;
    struct gqa {
        int64_t H, H_kv;
    };
    static const gqa ratios[] = {{4, 4}, {4, 2}, {8, 2}, {7, 1}, {8, 1}}; // 1, 2, 4, 7, 8
    const pa_type f16 = PA_TYPE_F16, f32 = PA_TYPE_F32;
    // head dims, incl. an odd one; 32, 64, 96 and 128 take the register-tiled kernel
    for (int64_t d : {64, 80, 128, 33, 32, 96}) {
        c.push_back(std::make_unique<case_flash_attn>(d, 17, 4, 2, 0, 0, f16, f16, true, layout::packed,
                                                      layout::packed));
        c.push_back(std::make_unique<case_flash_attn>(d, 1, 8, 2, 40, 0, f16, f16, true, layout::permuted,
                                                      layout::padded)); // decode step
        c.push_back(std::make_unique<case_flash_attn>(d, 33, 4, 4, 5, 3, f32, f32, true, layout::packed,
                                                      layout::packed));
    }
    // GQA ratios, n_past > 0, N not a multiple of tile sizes
    for (const gqa& g : ratios) {
        c.push_back(std::make_unique<case_flash_attn>(64, 37, g.H, g.H_kv, 11, 0, f16, f16, true,
                                                      layout::permuted, layout::packed));
        c.push_back(std::make_unique<case_flash_attn>(128, 5, g.H, g.H_kv, 0, 0, f32, f16, false,
                                                      layout::packed, layout::permuted));
    }
    // types and layouts
    for (pa_type kt : {f32, f16})
        for (pa_type vt : {f32, f16})
            for (layout l : {layout::packed, layout::permuted, layout::padded}) {
                c.push_back(
                    std::make_unique<case_flash_attn>(64, 9, 4, 2, 7, 2, kt, vt, true, layout::packed, l));
            }
    c.push_back(
        std::make_unique<case_flash_attn>(64, 1, 1, 1, 0, 0, f16, f16, true, layout::packed, layout::packed));
    c.push_back(std::make_unique<case_flash_attn>(80, 65, 2, 1, 0, 0, f16, f16, false, layout::packed,
                                                  layout::padded));
    // longer sequences (tiles of keys and queries, partially masked last tiles)
    c.push_back(std::make_unique<case_flash_attn>(128, 300, 8, 2, 0, 0, f16, f16, true, layout::permuted,
                                                  layout::packed));
    c.push_back(std::make_unique<case_flash_attn>(64, 129, 4, 1, 171, 0, f16, f16, true, layout::packed,
                                                  layout::padded));
    c.push_back(std::make_unique<case_flash_attn>(80, 100, 4, 4, 0, 27, f32, f32, false, layout::packed,
                                                  layout::packed));
    shape_rng r(707);
    for (int i = 0; i < 30; ++i) {
        const gqa g = r.pick(ratios);
        const int64_t d = r.pick({33, 64, 80, 128, 256}); // each head dim is one more kernel build
        const int64_t n = r.pick({int64_t(1), r.in(1, 16), r.in(17, 150)});
        const int64_t n_past = r.in(0, 100), extra = r.in(0, 9);
        const pa_type kt = r.pick({f32, f16}), vt = r.pick({f32, f16});
        const bool causal = r.in(0, 3) != 0;
        const layout lq = r.pick({layout::packed, layout::permuted});
        const layout lkv = r.pick({layout::packed, layout::permuted, layout::padded});
        c.push_back(
            std::make_unique<case_flash_attn>(d, n, g.H, g.H_kv, n_past, extra, kt, vt, causal, lq, lkv));
    }
    return c;
}

TEST(BackendOps, GetRows) { run_family("get_rows", get_rows_cases()); }
TEST(BackendOps, AddMulSwiglu) { run_family("add/mul/swiglu", binary_cases()); }
TEST(BackendOps, ScaleSiluRmsNorm) { run_family("scale/silu/norm", unary_cases()); }
TEST(BackendOps, MulMat) { run_family("mul_mat", mul_mat_cases()); }
TEST(BackendOps, Rope) { run_family("rope", rope_cases()); }
TEST(BackendOps, SoftMax) { run_family("soft_max_ext", soft_max_cases()); }
TEST(BackendOps, Cpy) { run_family("cpy", cpy_cases()); }
TEST(BackendOps, FlashAttnExt) { run_family("flash_attn_ext", flash_attn_cases()); }

// The table itself must be sound: every case builds, has a unique name, and runs on the CPU
// reference with finite results (this part needs no device).
TEST(BackendOps, CaseTableRunsOnCpu) {
    std::vector<case_list> all;
    all.push_back(get_rows_cases());
    all.push_back(binary_cases());
    all.push_back(unary_cases());
    all.push_back(mul_mat_cases());
    all.push_back(rope_cases());
    all.push_back(soft_max_cases());
    all.push_back(cpy_cases());
    all.push_back(flash_attn_cases());
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
            for (float v : r.values) ASSERT_TRUE(std::isfinite(v)) << tc->name();
            // threads split rows, never sums: the reference must not depend on the thread count
            ASSERT_NO_THROW(r1 = run_case(*tc, {cpu1.get()})) << tc->name();
            ASSERT_EQ(std::memcmp(r.values.data(), r1.values.data(), r.values.size() * sizeof(float)), 0)
                << tc->name() << ": CPU result depends on the thread count";
        }
    std::printf("[ case table     ] %zu cases\n", n);
}

} // namespace
} // namespace pa::test
