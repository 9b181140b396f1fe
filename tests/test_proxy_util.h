// test_proxy_util.h - shared helpers of tests/test_proxy_*.cpp: a case description, Q/K/V
// tensors from the synthetic patterns, the dense reference on the CPU backend.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pa/backend.h"
#include "pa/context.h"
#include "pa/error.h"
#include "pa/ops.h"
#include "pa/proxy_sparse_attn.h"
#include "pa/scheduler.h"
#include "pa/types.h"
#include "patterns.h"
#include "ref/reference.h"

namespace proxy_test {

struct attn_case {
    int64_t N = 256, n_past = 0, H = 4, Hkv = 2, d = 64;
    int32_t g = 1, B = 16, S = 4, min_tokens = 32;
    float gamma = 0.9f;
    bool force = true;
    pa_type kv = PA_TYPE_F32;
    pa::analysis::pattern pat = pa::analysis::pattern::needle;
    uint64_t seed = 1;
    // estimator options; the case name mentions them only when they differ from these
    pa::proxy_budget budget = pa::proxy_budget::rows;
    int32_t KS = 1, samples = 8;
    bool exact = true;
    pa::proxy_estimator estimator = pa::proxy_estimator::proxy;
    float flex_tau = 0.1f;
    int32_t max_tokens = 0;
    float scale = 0; // 0: 1 / sqrt(d)

    pa::proxy_params params() const {
        pa::proxy_params p;
        p.block = B;
        p.stride = S;
        p.key_stride = KS;
        p.n_proxy = g;
        p.gamma = gamma;
        p.min_tokens = min_tokens;
        p.budget = budget;
        p.n_samples = samples;
        p.exact_rows = exact;
        p.force_sink_and_local = force;
        p.estimator = estimator;
        p.flex_tau = flex_tau;
        p.max_tokens = max_tokens;
        p.scale = scale != 0 ? scale : 1.0f / std::sqrt(float(d));
        p.n_past = int32_t(n_past);
        return p;
    }
    std::string name() const {
        // gtest names: letters, digits and underscores only
        std::string pn = pa::analysis::pattern_name(pat);
        for (char& ch : pn)
            if (ch == '-') ch = '_';
        std::string n = fmt::format("N{}_past{}_H{}_kv{}_d{}_g{}_B{}_S{}_gamma{}_min{}_force{}_{}_{}", N,
                                    n_past, H, Hkv, d, g, B, S, int(std::lround(gamma * 1000)), min_tokens,
                                    int(force), kv == PA_TYPE_F16 ? "f16" : "f32", pn);
        if (budget != pa::proxy_budget::rows) n += fmt::format("_budget_{}", pa::proxy_budget_name(budget));
        if (KS != 1) n += fmt::format("_KS{}", KS);
        if (samples != 8) n += fmt::format("_samples{}", samples);
        if (!exact) n += "_noexact";
        if (estimator != pa::proxy_estimator::proxy)
            n += fmt::format("_{}", pa::proxy_estimator_name(estimator));
        if (flex_tau != 0.1f) n += fmt::format("_tau{}", int(std::lround(flex_tau * 1000)));
        if (max_tokens != 0) n += fmt::format("_max{}", max_tokens);
        return n;
    }
};

// The shapes both the reference's invariants and the OpenCL bit-identity run on: odd lengths,
// GQA 1/2/4/7/8, g in {1, 2, Hkv}, head dims 64/80/128, n_past on and off the grid, no forcing,
// f16 K/V, other strides, longer sorts, blocks of 64/128 (the tiled attention kernel), every
// budget mode, a key stride, no exact rows, a diffuse-early / focused-last input, rows of 150
// blocks.
inline std::vector<attn_case> shape_cases() {
    std::vector<attn_case> v;
    attn_case c;
    v.push_back(c);
    c.N = 301; // not a multiple of B or S
    v.push_back(c);
    for (auto [H, Hkv] : {std::pair{4, 4}, {8, 4}, {8, 2}, {7, 1}, {8, 1}}) { // GQA 1, 2, 4, 7, 8
        attn_case x = c;
        x.H = H;
        x.Hkv = Hkv;
        v.push_back(x);
    }
    for (int g : {2, 4}) { // g in {1, 2, Hkv}
        attn_case x = c;
        x.H = 8;
        x.Hkv = 4;
        x.g = g;
        v.push_back(x);
    }
    for (int64_t d : {80, 128}) {
        attn_case x = c;
        x.d = d;
        x.N = 200;
        v.push_back(x);
    }
    for (int64_t past : {37, 64}) { // n_past > 0, off and on the block grid
        attn_case x = c;
        x.n_past = past;
        x.N = 230;
        v.push_back(x);
    }
    attn_case x = c;
    x.force = false;
    x.min_tokens = 0;
    x.gamma = 0.6f;
    v.push_back(x);
    x = c;
    x.pat = pa::analysis::pattern::random;
    x.kv = PA_TYPE_F16;
    x.S = 8;
    v.push_back(x);
    x = c;
    x.pat = pa::analysis::pattern::sink_local;
    x.B = 32;
    x.N = 700; // 22 blocks: a longer sort
    x.min_tokens = 64;
    v.push_back(x);
    // blocks of 64 and 128: step 7 on the register-tiled kernel (query tiles inside a row block)
    x = c;
    x.B = 64;
    x.N = 450;
    x.min_tokens = 64;
    x.kv = PA_TYPE_F16;
    v.push_back(x);
    x.n_past = 37;
    x.H = 8;
    x.Hkv = 2;
    x.kv = PA_TYPE_F32;
    v.push_back(x);
    x = c;
    x.B = 128;
    x.N = 700;
    x.d = 128;
    x.min_tokens = 0;
    x.gamma = 0.6f;
    x.force = false;
    v.push_back(x);
    for (auto b : {pa::proxy_budget::last, pa::proxy_budget::fixed}) {
        x = c;
        x.N = 301;
        x.budget = b;
        v.push_back(x);
    }
    x = c;
    x.N = 301;
    x.n_past = 21;
    x.KS = 4;
    x.samples = 3;
    v.push_back(x);
    x = c;
    x.exact = false;
    x.min_tokens = 0;
    v.push_back(x);
    x = c;
    x.pat = pa::analysis::pattern::diffuse_focused;
    x.N = 500;
    x.min_tokens = 0;
    x.gamma = 0.95f;
    v.push_back(x);
    x = c; // rows of more blocks than a work-group of the sorting kernels has items (128)
    x.N = 16 * 150 + 5;
    x.H = 2;
    x.Hkv = 1;
    x.min_tokens = 0;
    v.push_back(x);
    x = c; // a head dim that is not a multiple of 4: the pooling kernels take a dim an item
    x.d = 42;
    x.N = 300;
    x.kv = PA_TYPE_F16;
    v.push_back(x);
    return v;
}

// The shapes above (those of every estimator: no proxy-only options) for xattn and flex, flex
// also with every head query-aware (flex_tau 1: sqrt(JS) <= sqrt(ln 2) < 1) and with a cap.
inline std::vector<attn_case> estimator_cases() {
    std::vector<attn_case> v;
    for (const attn_case& c : shape_cases()) {
        if (c.budget != pa::proxy_budget::rows || c.KS != 1 || c.samples != 8 || !c.exact) continue;
        for (auto e : {pa::proxy_estimator::xattn, pa::proxy_estimator::flex}) {
            attn_case x = c;
            x.estimator = e;
            v.push_back(x);
        }
    }
    attn_case c;
    c.estimator = pa::proxy_estimator::flex;
    c.N = 301;
    c.flex_tau = 1.0f;
    v.push_back(c);
    c.n_past = 37;
    c.H = 8;
    c.Hkv = 2;
    c.force = false;
    c.min_tokens = 0;
    c.gamma = 0.6f;
    v.push_back(c);
    c = attn_case{};
    c.estimator = pa::proxy_estimator::flex;
    c.pat = pa::analysis::pattern::sink_local;
    c.N = 500;
    c.max_tokens = 64;
    c.flex_tau = 0.0f;
    v.push_back(c);
    c.flex_tau = 1.0f;
    v.push_back(c);
    c = attn_case{};
    c.estimator = pa::proxy_estimator::xattn;
    c.S = 8;
    c.B = 32;
    c.N = 333;
    c.n_past = 13; // the first query tile starts mid-tile
    v.push_back(c);
    c.S = 1;
    c.B = 16;
    c.kv = PA_TYPE_F16;
    v.push_back(c);
    c = attn_case{};
    c.estimator = pa::proxy_estimator::xattn;
    c.d = 40; // rows not a multiple of 16 bytes: xattn_block_stats, not its tiled form
    c.N = 260;
    v.push_back(c);
    return v;
}

// gtest prints parameters with this (test names and ctest listings stay readable)
inline void PrintTo(const attn_case& c, std::ostream* os) {
    *os << c.name();
}

struct qkv {
    pa::tensor *q = nullptr, *k = nullptr, *v = nullptr;
};

// Contiguous q [d, N, H] f32, k/v [d, n_past + N, Hkv] of the case's kv type, host data.
inline qkv make_qkv(pa::context& ctx, const attn_case& c) {
    const auto s = pa::analysis::synthesize(c.pat, c.N, c.n_past, c.H, c.Hkv, c.d, c.seed, 0.0f, c.B);
    const int64_t nk = c.n_past + c.N;
    qkv t;
    t.q = ctx.new_tensor(PA_TYPE_F32, {c.d, c.N, c.H});
    t.k = ctx.new_tensor(c.kv, {c.d, nk, c.Hkv});
    t.v = ctx.new_tensor(c.kv, {c.d, nk, c.Hkv});
    std::memcpy(t.q->data, s.q.data(), s.q.size() * 4);
    for (auto [dst, src] : {std::pair{t.k, &s.k}, std::pair{t.v, &s.v}}) {
        if (c.kv == PA_TYPE_F32) {
            std::memcpy(dst->data, src->data(), src->size() * 4);
        } else {
            auto* h = static_cast<uint16_t*>(dst->data);
            for (size_t i = 0; i < src->size(); ++i)
                h[i] = pa::fp32_to_fp16((*src)[i]);
        }
    }
    return t;
}

// Runs one node's graph on the given backends and returns its output as floats.
inline std::vector<float> run_graph(std::vector<pa::backend*> order, pa::tensor* out) {
    pa::graph g = pa::build_forward({out});
    pa::scheduler sched(std::move(order));
    sched.compute(g);
    const auto* p = static_cast<const float*>(out->data);
    return std::vector<float>(p, p + pa::nelements(out));
}

// Dense attention (flash_attn_ext) on the CPU backend: the independent reference.
inline std::vector<float> dense_cpu(pa::context& ctx, const qkv& t, const attn_case& c) {
    auto cpu = pa::make_cpu_backend();
    pa::tensor* out =
        pa::flash_attn_ext(ctx, t.q, t.k, t.v, 1.0f / std::sqrt(float(c.d)), int(c.n_past), true);
    return run_graph({cpu.get()}, out);
}

// Relative L2 bound of an OpenCL attention result against f32 arithmetic on `backend`: the NVIDIA
// tensor-core kernel rounds q, k, v and the probabilities to f16 (~1e-3 relative; 5e-3 as pa demo
// allows); it runs for head dims 64 and 128 on compute capability >= 8.0 unless $PA_MMA is "0",
// dense or over blocks that are multiples of its 128-query tile (opencl/flash_attn_mma.cpp).
inline double attention_tolerance(const pa::backend& backend, const attn_case& c, bool dense,
                                  double f32_bound) {
    const char* env = std::getenv("PA_MMA");
    const std::string desc = backend.description();
    const size_t at = desc.find("nvidia(sm_");
    const bool sm80 = at != std::string::npos && std::atoi(desc.c_str() + at + 10) >= 80;
    const bool on = (sm80 && !(env && std::string(env) == "0")) || (env && std::string(env) == "emulate");
    const bool shape = (c.d == 64 || c.d == 128) && (dense || c.B % 128 == 0);
    return on && shape ? 5e-3 : f32_bound;
}

inline double rel_l2(const std::vector<float>& a, const std::vector<float>& ref) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        const double dlt = double(a[i]) - double(ref[i]);
        num += dlt * dlt;
        den += double(ref[i]) * double(ref[i]);
    }
    return std::sqrt(num / den);
}

// The reference node without the op registry: geometry + estimate + attend.
struct ref_result {
    pa::proxy::geometry geo;
    pa::proxy::estimate est;
    std::vector<float> out; // [N][H][d]
};

inline ref_result run_ref(const qkv& t, const attn_case& c) {
    ref_result r;
    r.geo = pa::proxy::make_geometry(t.q, t.k, t.v, c.params());
    const auto x = pa::proxy::load_qkv(r.geo, t.q, t.k, t.v);
    r.est = pa::proxy::estimate_mask(r.geo, x);
    r.out.assign(size_t(c.N * c.H * c.d), 0.0f);
    pa::proxy::attend(r.geo, x, r.est, r.out.data());
    return r;
}

// make_geometry refuses p for these inputs with an error naming needle.
inline void expect_invalid(const qkv& t, const pa::proxy_params& p, const std::string& needle) {
    try {
        pa::proxy::make_geometry(t.q, t.k, t.v, p);
        FAIL() << "expected an error mentioning '" << needle << "'";
    } catch (const pa::error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

// ---- brute force in double --------------------------------------------------------------------
// int8 quantization as the reference defines it (rint(x * 127 / amax) * amax / 127), in double.
// The reference rounds x * 127 / amax in float: an element can round the other way at a tie,
// which moves a logit by one quantization step of one term; brute-force comparisons allow 1e-3
// relative.
inline std::vector<double> quantized(const std::vector<double>& x) {
    double amax = 0;
    for (double v : x)
        amax = std::max(amax, std::abs(v));
    std::vector<double> q(x.size(), 0.0);
    if (amax < 0x1p-100) return q;
    for (size_t i = 0; i < x.size(); ++i)
        q[i] = std::nearbyint(x[i] * 127.0 / amax) * amax / 127.0;
    return q;
}

// The dot product of the first n elements.
inline double dot(const std::vector<double>& a, const std::vector<double>& b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; ++i)
        s += a[i] * b[i];
    return s;
}
inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
    return dot(a, b, a.size());
}

} // namespace proxy_test
