// backend_ops_cases.h - the op test table for test_backend_ops.cpp (in the spirit of ggml's
// test-backend-ops): one struct per op family that builds its graph from a few variables,
// names itself from them, and states its NMSE bound. Inputs are the graph's leafs, filled
// with uniform [-1, 1] values from a seed fixed by the case name (ids and masks by the case).
#pragma once

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backend_ops_util.h"
#include "pa/error.h"
#include "pa/ops.h"

namespace pa::test {

using shape4 = std::array<int64_t, 4>;

struct test_case {
    virtual ~test_case() = default;
    virtual std::string op_name() const = 0;
    virtual std::string vars() const = 0;
    virtual double max_nmse() const { return 1e-7; }
    // Builds the graph; must give the same graph (and leaf order) every call.
    virtual tensor* build(context& ctx) = 0;
    // Fills one leaf; the default is uniform [-1, 1] floats.
    virtual void init(tensor* leaf, std::mt19937& rng) {
        set_values(leaf, random_values(size_t(nelements(leaf)), rng()));
    }
    std::string name() const { return op_name() + "(" + vars() + ")"; }
};

// How an input is laid out in memory (all give the same logical shape).
enum class layout {
    packed,     // contiguous
    transposed, // stored with dims 0 and 1 swapped, then transposed (plain types only)
    permuted,   // stored with dims 1 and 2 swapped, then permuted back
    padded,     // a view into a bigger tensor: longer rows, an extra row, an odd offset
};

inline const char* layout_name(layout l) {
    switch (l) {
    case layout::packed: return "packed";
    case layout::transposed: return "transposed";
    case layout::permuted: return "permuted";
    case layout::padded: return "padded";
    }
    return "?";
}

inline std::string shape_str(const shape4& ne) {
    return fmt::format("{}x{}x{}x{}", ne[0], ne[1], ne[2], ne[3]);
}

inline void set_name(tensor* t, const char* name) { std::snprintf(t->name, sizeof t->name, "%s", name); }

// An input of logical shape ne in the given layout; the storage leaf is named `name`.
inline tensor* make_input(context& ctx, pa_type type, shape4 ne, layout l, const char* name = "input") {
    const bool quant = traits(type).quantized;
    tensor* base = nullptr;
    tensor* out = nullptr;
    switch (l) {
    case layout::packed: base = out = ctx.new_tensor(type, {ne[0], ne[1], ne[2], ne[3]}); break;
    case layout::transposed:
        base = ctx.new_tensor(type, {ne[1], ne[0], ne[2], ne[3]});
        out = transpose(ctx, base);
        break;
    case layout::permuted:
        base = ctx.new_tensor(type, {ne[0], ne[2], ne[1], ne[3]});
        out = permute(ctx, base, 0, 2, 1, 3);
        break;
    case layout::padded: {
        const int64_t pad = quant ? 2 * quant_block_elems : 3;
        base = ctx.new_tensor(type, {ne[0] + pad, ne[1] + 1, ne[2], ne[3]});
        const size_t offset = base->nb[1] + (quant ? traits(type).block_bytes : 2 * traits(type).block_bytes);
        out = view_4d(ctx, base, ne[0], ne[1], ne[2], ne[3], base->nb[1], base->nb[2], base->nb[3], offset);
        break;
    }
    }
    if (!base) throw error("make_input: unknown layout");
    set_name(base, name);
    return out;
}

// ---- get_rows ---------------------------------------------------------------------------
struct case_get_rows : test_case {
    pa_type type;
    shape4 src; // [ne0, rows, ne2, ne3]
    int64_t n_ids;
    layout l;
    case_get_rows(pa_type t, shape4 s, int64_t n, layout lay) : type(t), src(s), n_ids(n), l(lay) {}
    std::string op_name() const override { return "get_rows"; }
    std::string vars() const override {
        return fmt::format("type={},src={},n={},{}", type_name(type), shape_str(src), n_ids, layout_name(l));
    }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, type, src, l, "src");
        tensor* ids = ctx.new_tensor(PA_TYPE_I32, {n_ids, src[2], src[3]});
        set_name(ids, "ids");
        return get_rows(ctx, a, ids);
    }
    void init(tensor* leaf, std::mt19937& rng) override {
        if (leaf->type != PA_TYPE_I32) return test_case::init(leaf, rng);
        std::uniform_int_distribution<int32_t> pick(0, int32_t(src[1] - 1));
        std::vector<int32_t> v(size_t(nelements(leaf)));
        for (int32_t& x : v) x = pick(rng);
        set_i32(leaf, v);
    }
};

// ---- add, mul (b broadcast), swiglu ------------------------------------------------------
struct case_binary : test_case {
    int32_t op;
    shape4 a_ne, b_ne;
    pa_type b_type;
    layout la, lb;
    case_binary(int32_t o, shape4 a, shape4 b, pa_type bt, layout l_a, layout l_b)
        : op(o), a_ne(a), b_ne(b), b_type(bt), la(l_a), lb(l_b) {}
    std::string op_name() const override {
        return op == PA_OP_ADD ? "add" : op == PA_OP_MUL ? "mul" : "swiglu";
    }
    std::string vars() const override {
        return fmt::format("a={},{},b={},{},{}", shape_str(a_ne), layout_name(la), shape_str(b_ne),
                           type_name(b_type), layout_name(lb));
    }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, PA_TYPE_F32, a_ne, la, "a");
        tensor* b = make_input(ctx, b_type, b_ne, lb, "b");
        if (op == PA_OP_ADD) return add(ctx, a, b);
        if (op == PA_OP_MUL) return mul(ctx, a, b);
        return swiglu(ctx, a, b);
    }
};

// ---- scale, silu, rms_norm ----------------------------------------------------------------
struct case_unary : test_case {
    int32_t op;
    shape4 ne;
    layout l;
    float param;
    case_unary(int32_t o, shape4 n, layout lay, float p = 0.0f) : op(o), ne(n), l(lay), param(p) {}
    std::string op_name() const override {
        return op == PA_OP_SCALE ? "scale" : op == PA_OP_SILU ? "silu" : "rms_norm";
    }
    std::string vars() const override {
        return fmt::format("ne={},{},p={}", shape_str(ne), layout_name(l), param);
    }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, PA_TYPE_F32, ne, l, "a");
        if (op == PA_OP_SCALE) return scale(ctx, a, param);
        if (op == PA_OP_SILU) return silu(ctx, a);
        return rms_norm(ctx, a, param);
    }
};

// ---- mul_mat ----------------------------------------------------------------------------
struct case_mul_mat : test_case {
    pa_type type;
    int64_t K, M, N;
    std::array<int64_t, 2> a_batch, b_batch;
    layout la, lb;
    case_mul_mat(pa_type t, int64_t k, int64_t m, int64_t n, std::array<int64_t, 2> ab,
                 std::array<int64_t, 2> bb, layout l_a = layout::packed, layout l_b = layout::packed)
        : type(t), K(k), M(m), N(n), a_batch(ab), b_batch(bb), la(l_a), lb(l_b) {}
    std::string op_name() const override { return "mul_mat"; }
    std::string vars() const override {
        return fmt::format("type={},K={},M={},N={},a={}x{},b={}x{},{},{}", type_name(type), K, M, N,
                           a_batch[0], a_batch[1], b_batch[0], b_batch[1], layout_name(la), layout_name(lb));
    }
    // f32/f16 weights dequantize exactly; quantized paths may reorder or requantize sums (ggml: 5e-4)
    double max_nmse() const override { return traits(type).quantized ? 5e-4 : 1e-6; }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, type, {K, M, a_batch[0], a_batch[1]}, la, "a");
        tensor* b = make_input(ctx, PA_TYPE_F32, {K, N, b_batch[0], b_batch[1]}, lb, "b");
        return mul_mat(ctx, a, b);
    }
};

// ---- rope -------------------------------------------------------------------------------
struct case_rope : test_case {
    int64_t d, H, N;
    int n_dims, mode, n_past;
    float theta;
    layout l;
    case_rope(int64_t d_, int64_t h, int64_t n, int nd, int m, float th, int np, layout lay)
        : d(d_), H(h), N(n), n_dims(nd), mode(m), n_past(np), theta(th), l(lay) {}
    std::string op_name() const override { return "rope"; }
    std::string vars() const override {
        return fmt::format("d={},H={},N={},n_dims={},mode={},theta={},n_past={},{}", d, H, N, n_dims, mode,
                           theta, n_past, layout_name(l));
    }
    // angles up to ~1000 rad computed in float on devices: ~1e-4 absolute in the worst element
    double max_nmse() const override { return 1e-6; }
    tensor* build(context& ctx) override {
        return rope(ctx, make_input(ctx, PA_TYPE_F32, {d, H, N, 1}, l, "x"), n_dims, mode, theta, n_past);
    }
};

// ---- soft_max_ext -----------------------------------------------------------------------
struct case_soft_max : test_case {
    shape4 ne;
    float scale_;
    int mask; // 0 none, 1 f32, 2 f16
    layout l;
    case_soft_max(shape4 n, float s, int m, layout lay) : ne(n), scale_(s), mask(m), l(lay) {}
    std::string op_name() const override { return "soft_max_ext"; }
    std::string vars() const override {
        static const char* masks[] = {"none", "f32", "f16"};
        return fmt::format("ne={},scale={},mask={},{}", shape_str(ne), scale_, masks[mask], layout_name(l));
    }
    double max_nmse() const override { return 1e-6; }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, PA_TYPE_F32, ne, l, "a");
        tensor* m = nullptr;
        if (mask) {
            m = ctx.new_tensor(mask == 1 ? PA_TYPE_F32 : PA_TYPE_F16, {ne[0], ne[1] + 2});
            set_name(m, "mask");
        }
        return soft_max_ext(ctx, a, m, scale_);
    }
    // causal-like mask: -inf above a diagonal (never a whole row), random elsewhere
    void init(tensor* leaf, std::mt19937& rng) override {
        if (std::strcmp(leaf->name, "mask") != 0) return test_case::init(leaf, rng);
        std::vector<float> v = random_values(size_t(nelements(leaf)), rng());
        for (int64_t r = 0; r < leaf->ne[1]; ++r)
            for (int64_t c = 0; c < leaf->ne[0]; ++c)
                if (c > r + leaf->ne[0] / 2) v[size_t(r * leaf->ne[0] + c)] = -INFINITY;
        set_values(leaf, v);
    }
};

// ---- cpy / cont -------------------------------------------------------------------------
struct case_cpy : test_case {
    pa_type src_type, dst_type;
    shape4 ne;
    layout l_src;
    int dst_kind; // 0: cont (fresh tensor), 1: cpy into a padded view of a bigger tensor, 2: reshaping cpy
    case_cpy(pa_type s, pa_type d, shape4 n, layout ls, int kind)
        : src_type(s), dst_type(d), ne(n), l_src(ls), dst_kind(kind) {}
    std::string op_name() const override { return "cpy"; }
    std::string vars() const override {
        static const char* kinds[] = {"cont", "into_view", "reshape"};
        return fmt::format("{}->{},ne={},{},{}", type_name(src_type), type_name(dst_type), shape_str(ne),
                           layout_name(l_src), kinds[dst_kind]);
    }
    // quantizing may round a few elements the other way (one step each)
    double max_nmse() const override { return traits(dst_type).quantized ? 5e-4 : 1e-7; }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, src_type, ne, l_src, "src");
        if (dst_kind == 0) return cont(ctx, a, dst_type);
        if (dst_kind == 1) return cpy(ctx, a, make_input(ctx, dst_type, ne, layout::padded, "dst"));
        tensor* d = ctx.new_tensor(dst_type, {ne[0] * ne[1], ne[2] * ne[3]}); // [ne0*ne1, ne2*ne3]
        set_name(d, "dst");
        return cpy(ctx, a, d);
    }
};

// ---- flash_attn_ext ---------------------------------------------------------------------
struct case_flash_attn : test_case {
    int64_t d, N, H, H_kv, n_past, extra_kv;
    pa_type k_type, v_type;
    bool causal;
    layout lq, lkv; // q: packed or permuted ([d, H, N] storage); kv: packed, permuted or padded (cache view)
    case_flash_attn(int64_t d_, int64_t n, int64_t h, int64_t hkv, int64_t np, int64_t extra, pa_type kt,
                    pa_type vt, bool c, layout q_l, layout kv_l)
        : d(d_), N(n), H(h), H_kv(hkv), n_past(np), extra_kv(extra), k_type(kt), v_type(vt), causal(c),
          lq(q_l), lkv(kv_l) {}
    std::string op_name() const override { return "flash_attn_ext"; }
    std::string vars() const override {
        return fmt::format("d={},N={},H={},Hkv={},n_past={},Nkv={},k={},v={},{},q={},kv={}", d, N, H, H_kv,
                           n_past, n_past + N + extra_kv, type_name(k_type), type_name(v_type),
                           causal ? "causal" : "full", layout_name(lq), layout_name(lkv));
    }
    double max_nmse() const override { return 5e-4; }
    tensor* build(context& ctx) override {
        const int64_t n_kv = n_past + N + extra_kv;
        tensor* q = make_input(ctx, PA_TYPE_F32, {d, N, H, 1}, lq, "q");
        tensor* k = make_input(ctx, k_type, {d, n_kv, H_kv, 1}, lkv, "k");
        tensor* v = make_input(ctx, v_type, {d, n_kv, H_kv, 1}, lkv, "v");
        return flash_attn_ext(ctx, q, k, v, float(1.0 / std::sqrt(double(d))), int(n_past), causal);
    }
};

} // namespace pa::test
