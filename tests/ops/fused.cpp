// fused.cpp - the runs of nodes the OpenCL backend runs as one launch (opencl/fused.h): rms_norm
// then mul by a weight row (alone, or computed inside the products that read it: a layer's q, k
// and v with their RoPE and cache writes, the gate and up products with their swiglu), a quantized
// decode-shaped mul_mat then add or swiglu, and the gate and up products of one input then their swiglu, rope
// then its KV cache write. The CPU reference is the two ops apart. Each case reads the first node's result
// again after the pair (a third node), so both results the fused kernel writes are compared; odd sizes, every
// quantized type, views, and pairs that must not fuse (a weight that is not one F32 row, more columns, an F32
// product, a second result placed in the storage of a value the first node reads last).
#include "op_test.h"

namespace pa::test {
namespace {

struct case_rms_norm_mul : test_case {
    shape4 ne;
    shape4 w_ne;
    pa_type w_type;
    layout lx;
    bool computed_x = false; // x an intermediate the norm reads last (its buffer free for the mul)
    case_rms_norm_mul(shape4 n, shape4 w, pa_type wt, layout l, bool cx = false)
        : ne(n), w_ne(w), w_type(wt), lx(l), computed_x(cx) {}
    std::string op_name() const override { return "rms_norm+mul"; }
    std::string vars() const override {
        return fmt::format("x={},{},w={},{}", shape_str(ne), layout_name(lx), shape_str(w_ne),
                           type_name(w_type));
    }
    double max_nmse() const override { return 1e-6; }
    tensor* build(context& ctx) override {
        tensor* x = make_input(ctx, PA_TYPE_F32, ne, lx, "x");
        if (computed_x) x = scale(ctx, x, 2.0f);
        tensor* w = make_input(ctx, w_type, w_ne, layout::packed, "w");
        tensor* norm = rms_norm(ctx, x, 1e-5f);
        return add(ctx, mul(ctx, norm, w), norm); // the norm read again after the pair
    }
};

struct case_mul_mat_add : test_case {
    pa_type type;
    int64_t K, M, N;
    bool product_first;     // add(product, r) or add(r, product); with swiglu: swiglu(product, r) (not fused)
    bool swiglu_op = false; // swiglu(r, product) instead of an add
    layout lr;
    bool computed_b = false; // b an intermediate the product reads last (its buffer free for the add)
    case_mul_mat_add(pa_type t, int64_t k, int64_t m, int64_t n, bool pf, layout l, bool cb = false,
                     bool sw = false)
        : type(t), K(k), M(m), N(n), product_first(pf), swiglu_op(sw), lr(l), computed_b(cb) {}
    std::string op_name() const override { return swiglu_op ? "mul_mat+swiglu" : "mul_mat+add"; }
    std::string vars() const override {
        return fmt::format("type={},K={},M={},N={},{},r={}{}", type_name(type), K, M, N,
                           product_first ? "product+r" : "r+product", layout_name(lr),
                           computed_b ? ",b computed" : "");
    }
    double max_nmse() const override { return 5e-4; }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, type, {K, M, 1, 1}, layout::packed, "a");
        tensor* b = make_input(ctx, PA_TYPE_F32, {K, N, 1, 1}, layout::packed, "b");
        if (computed_b) b = scale(ctx, b, 2.0f);
        tensor* r = make_input(ctx, PA_TYPE_F32, {M, N, 1, 1}, lr, "r");
        tensor* p = mul_mat(ctx, a, b);
        tensor* s = swiglu_op ? (product_first ? swiglu(ctx, p, r) : swiglu(ctx, r, p))
                              : (product_first ? add(ctx, p, r) : add(ctx, r, p));
        return add(ctx, s, p); // the product read again after the pair
    }
};

struct case_gate_up_swiglu : test_case {
    pa_type type, up_type;
    int64_t K, M, N;
    bool computed_b;
    case_gate_up_swiglu(pa_type t, pa_type ut, int64_t k, int64_t m, int64_t n, bool cb = false)
        : type(t), up_type(ut), K(k), M(m), N(n), computed_b(cb) {}
    std::string op_name() const override { return "mul_mat+mul_mat+swiglu"; }
    std::string vars() const override {
        return fmt::format("gate={},up={},K={},M={},N={}{}", type_name(type), type_name(up_type), K, M, N,
                           computed_b ? ",b computed" : "");
    }
    double max_nmse() const override { return 5e-4; }
    tensor* build(context& ctx) override {
        tensor* wg = make_input(ctx, type, {K, M, 1, 1}, layout::packed, "gate");
        tensor* wu = make_input(ctx, up_type, {K, M, 1, 1}, layout::packed, "up");
        tensor* b = make_input(ctx, PA_TYPE_F32, {K, N, 1, 1}, layout::packed, "b");
        if (computed_b) b = scale(ctx, b, 2.0f);
        tensor* g = mul_mat(ctx, wg, b);
        tensor* u = mul_mat(ctx, wu, b);
        return add(ctx, add(ctx, swiglu(ctx, g, u), g), u); // both products read again after the run
    }
};

struct case_rope_store : test_case {
    int64_t d, n_dims, H, N, n_past;
    int mode;
    pa_type cache_type;
    case_rope_store(int64_t d_, int64_t nd, int64_t h, int64_t n, int64_t np, int m, pa_type ct)
        : d(d_), n_dims(nd), H(h), N(n), n_past(np), mode(m), cache_type(ct) {}
    std::string op_name() const override { return "rope+cpy"; }
    std::string vars() const override {
        return fmt::format("d={},n_dims={},H={},N={},n_past={},mode={},cache={}", d, n_dims, H, N, n_past,
                           mode, type_name(cache_type));
    }
    double max_nmse() const override { return cache_type == PA_TYPE_F16 ? 1e-6 : 1e-9; }
    tensor* build(context& ctx) override {
        tensor* x = make_input(ctx, PA_TYPE_F32, {d, H, N, 1}, layout::packed, "x");
        tensor* cache = make_input(ctx, cache_type, {d, n_past + N + 5, H, 1}, layout::packed, "cache");
        tensor* r = rope(ctx, x, int(n_dims), mode, 10000.0f, int(n_past));
        tensor* rows =
            view_3d(ctx, cache, d, N, H, cache->nb[1], cache->nb[2], size_t(n_past) * cache->nb[1]);
        tensor* stored = cpy(ctx, permute(ctx, r, 0, 2, 1, 3), rows); // as the model's KV cache write
        return add(ctx, permute(ctx, r, 0, 2, 1, 3), stored);         // the rope result read again
    }
};

// a quantized decode product, then its cpy through a reshape + permute into rows of a cache (the
// model's V cache write)
struct case_mul_mat_store : test_case {
    pa_type type, cache_type;
    int64_t K, d, H, N, n_past;
    case_mul_mat_store(pa_type t, pa_type ct, int64_t k, int64_t d_, int64_t h, int64_t n, int64_t np)
        : type(t), cache_type(ct), K(k), d(d_), H(h), N(n), n_past(np) {}
    std::string op_name() const override { return "mul_mat+cpy"; }
    std::string vars() const override {
        return fmt::format("type={},cache={},K={},d={},H={},N={},n_past={}", type_name(type),
                           type_name(cache_type), K, d, H, N, n_past);
    }
    double max_nmse() const override { return 5e-4; }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, type, {K, d * H, 1, 1}, layout::packed, "a");
        tensor* b = make_input(ctx, PA_TYPE_F32, {K, N, 1, 1}, layout::packed, "b");
        tensor* cache = make_input(ctx, cache_type, {d, n_past + N + 3, H, 1}, layout::packed, "cache");
        tensor* x = reshape(ctx, mul_mat(ctx, a, b), {d, H, N});
        tensor* rows =
            view_3d(ctx, cache, d, N, H, cache->nb[1], cache->nb[2], size_t(n_past) * cache->nb[1]);
        tensor* stored = cpy(ctx, permute(ctx, x, 0, 2, 1, 3), rows);
        return add(ctx, permute(ctx, x, 0, 2, 1, 3), stored); // the product read again
    }
};

// a layer's attention input as the model builds it: rms_norm, mul by a weight row, then the q, k
// and v products of the result, RoPE of q and k, the k and v cache writes: one launch
// (k_mul_mv_q_heads). The result adds q's first Hkv heads, both written cache rows, v's product
// and (when K = d * Hkv) the mul's result, so every value the launch writes is compared.
// subset 1: only k (RoPE, no cache write) and v (cache write, no RoPE); 2: only v (cache write):
// the launch's variants with fewer products and buffers.
struct case_attention_input : test_case {
    pa_type type, cache_type;
    int64_t d, H, Hkv, N, n_past;
    int mode, subset;
    case_attention_input(pa_type t, pa_type ct, int64_t d_, int64_t h, int64_t hkv, int64_t n, int64_t np,
                         int m, int sub = 0)
        : type(t), cache_type(ct), d(d_), H(h), Hkv(hkv), N(n), n_past(np), mode(m), subset(sub) {}
    int64_t K() const { return d * Hkv % 32 == 0 ? d * Hkv : 96; }
    std::string op_name() const override { return "rms_norm+mul+q,k,v+rope+cpy"; }
    std::string vars() const override {
        return fmt::format("type={},cache={},K={},d={},H={},Hkv={},N={},n_past={},mode={},subset={}",
                           type_name(type), type_name(cache_type), K(), d, H, Hkv, N, n_past, mode, subset);
    }
    double max_nmse() const override { return 5e-4; }
    tensor* build(context& ctx) override {
        tensor* x = make_input(ctx, PA_TYPE_F32, {K(), N, 1, 1}, layout::packed, "x");
        tensor* w = make_input(ctx, PA_TYPE_F32, {K(), 1, 1, 1}, layout::packed, "norm weight");
        tensor* wq = make_input(ctx, type, {K(), d * H, 1, 1}, layout::packed, "wq");
        tensor* wk = make_input(ctx, type, {K(), d * Hkv, 1, 1}, layout::packed, "wk");
        tensor* wv = make_input(ctx, type, {K(), d * Hkv, 1, 1}, layout::packed, "wv");
        tensor* kc = make_input(ctx, cache_type, {d, n_past + N + 3, Hkv, 1}, layout::packed, "k cache");
        tensor* vc = make_input(ctx, cache_type, {d, n_past + N + 3, Hkv, 1}, layout::packed, "v cache");
        tensor* cur = mul(ctx, rms_norm(ctx, x, 1e-5f), w);
        const auto write = [&](tensor* cache, tensor* t) {
            tensor* rows =
                view_3d(ctx, cache, d, N, Hkv, cache->nb[1], cache->nb[2], size_t(n_past) * cache->nb[1]);
            return cpy(ctx, permute(ctx, t, 0, 2, 1, 3), rows);
        };
        if (subset == 1) {
            tensor* k = rope(ctx, reshape(ctx, mul_mat(ctx, wk, cur), {d, Hkv, N}), int(d), mode, 10000.0f,
                             int(n_past));
            tensor* v = reshape(ctx, mul_mat(ctx, wv, cur), {d, Hkv, N});
            return add(ctx, add(ctx, permute(ctx, k, 0, 2, 1, 3), write(vc, v)), permute(ctx, v, 0, 2, 1, 3));
        }
        if (subset == 2) {
            tensor* v = reshape(ctx, mul_mat(ctx, wv, cur), {d, Hkv, N});
            return add(ctx, write(vc, v), permute(ctx, v, 0, 2, 1, 3));
        }
        tensor* q =
            rope(ctx, reshape(ctx, mul_mat(ctx, wq, cur), {d, H, N}), int(d), mode, 10000.0f, int(n_past));
        tensor* k =
            rope(ctx, reshape(ctx, mul_mat(ctx, wk, cur), {d, Hkv, N}), int(d), mode, 10000.0f, int(n_past));
        tensor* k_rows = write(kc, k);
        tensor* v = reshape(ctx, mul_mat(ctx, wv, cur), {d, Hkv, N});
        tensor* v_rows = write(vc, v);
        tensor* q_heads = view_3d(ctx, q, d, N, Hkv, q->nb[2], q->nb[1], 0); // [d, N, Hkv]: q's first heads
        tensor* out = add(ctx, add(ctx, add(ctx, q_heads, k_rows), v_rows), permute(ctx, v, 0, 2, 1, 3));
        if (K() == d * Hkv) out = add(ctx, out, permute(ctx, reshape(ctx, cur, {d, Hkv, N}), 0, 2, 1, 3));
        return out;
    }
};

// rms_norm, mul by a weight row, then the gate and up products of the result and their swiglu:
// one launch (k_mul_mv_q with MVQ_NORM and MVQ_EPI 3); the mul's result read again after it.
struct case_norm_gate_up_swiglu : test_case {
    pa_type type;
    int64_t K, N;
    case_norm_gate_up_swiglu(pa_type t, int64_t k, int64_t n) : type(t), K(k), N(n) {}
    std::string op_name() const override { return "rms_norm+mul+mul_mat+mul_mat+swiglu"; }
    std::string vars() const override { return fmt::format("type={},K={},N={}", type_name(type), K, N); }
    double max_nmse() const override { return 5e-4; }
    tensor* build(context& ctx) override {
        tensor* x = make_input(ctx, PA_TYPE_F32, {K, N, 1, 1}, layout::packed, "x");
        tensor* w = make_input(ctx, PA_TYPE_F32, {K, 1, 1, 1}, layout::packed, "norm weight");
        tensor* wg = make_input(ctx, type, {K, K, 1, 1}, layout::packed, "gate");
        tensor* wu = make_input(ctx, type, {K, K, 1, 1}, layout::packed, "up");
        tensor* cur = mul(ctx, rms_norm(ctx, x, 1e-5f), w);
        tensor* g = mul_mat(ctx, wg, cur);
        tensor* u = mul_mat(ctx, wu, cur);
        return add(ctx, add(ctx, add(ctx, swiglu(ctx, g, u), g), u), cur);
    }
};

case_list fused_cases() {
    case_list c;
    const pa_type f32 = PA_TYPE_F32, f16 = PA_TYPE_F16;
    for (int64_t ne0 : {1, 17, 576, 1000})
        for (layout l : {layout::packed, layout::permuted, layout::padded})
            c.push_back(
                std::make_unique<case_rms_norm_mul>(shape4{ne0, 3, 2, 1}, shape4{ne0, 1, 1, 1}, f32, l));
    // not fused: an F16 weight, a weight per row
    c.push_back(
        std::make_unique<case_rms_norm_mul>(shape4{64, 3, 1, 1}, shape4{64, 1, 1, 1}, f16, layout::packed));
    c.push_back(
        std::make_unique<case_rms_norm_mul>(shape4{64, 3, 1, 1}, shape4{64, 3, 1, 1}, f32, layout::packed));
    for (pa_type t : {PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1})
        for (int64_t K : {int64_t(64), int64_t(544), int64_t(1600)})
            for (int64_t N : {1, 3, 8}) {
                const bool pf = (K + N) % 2 == 0;
                c.push_back(std::make_unique<case_mul_mat_add>(t, K, 37, N, pf, layout::packed));
                c.push_back(std::make_unique<case_mul_mat_add>(t, K, 5, N, !pf, layout::padded));
            }
    for (pa_type t : {PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1})
        for (int64_t N : {1, 5}) { // swiglu(gate, up product): fused; swiglu(product, r): apart
            c.push_back(
                std::make_unique<case_mul_mat_add>(t, 576, 41, N, false, layout::packed, false, true));
            c.push_back(std::make_unique<case_mul_mat_add>(t, 96, 7, N, false, layout::padded, false, true));
            c.push_back(std::make_unique<case_mul_mat_add>(t, 96, 7, N, true, layout::packed, false, true));
        }
    for (pa_type t : {PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1})
        for (int64_t N : {1, 2, 8}) {
            c.push_back(std::make_unique<case_gate_up_swiglu>(t, t, 576, 43, N));
            c.push_back(std::make_unique<case_gate_up_swiglu>(t, t, 160, 5, N));
        }
    // apart: weights of two types; the swiglu in the storage of b, which the up product reads last
    c.push_back(std::make_unique<case_gate_up_swiglu>(PA_TYPE_Q8_0, PA_TYPE_Q4_1, 64, 9, 1));
    c.push_back(std::make_unique<case_gate_up_swiglu>(PA_TYPE_Q4_1, PA_TYPE_Q4_1, 64, 37, 2, true));
    for (pa_type ct : {PA_TYPE_F16, PA_TYPE_F32})
        for (int mode : {0, 2}) {
            c.push_back(std::make_unique<case_rope_store>(64, 64, 3, 1, 17, mode, ct));
            c.push_back(std::make_unique<case_rope_store>(80, 80, 2, 3, 0, mode, ct));
            c.push_back(std::make_unique<case_rope_store>(35, 32, 3, 2, 5, mode, ct)); // a copied tail
        }
    for (pa_type t : {PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1})
        for (pa_type ct : {PA_TYPE_F16, PA_TYPE_F32}) {
            c.push_back(std::make_unique<case_mul_mat_store>(t, ct, 576, 64, 3, 1, 17));
            c.push_back(std::make_unique<case_mul_mat_store>(t, ct, 96, 24, 5, 3, 0));
        }
    for (pa_type t : {PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1})
        for (int mode : {0, 2}) {
            c.push_back(std::make_unique<case_attention_input>(t, f16, 64, 3, 3, 1, 17, mode));
            c.push_back(std::make_unique<case_attention_input>(t, f32, 32, 6, 2, 3, 0, mode)); // GQA 3
            c.push_back(std::make_unique<case_attention_input>(t, f16, 16, 4, 1, 8, 5, mode)); // K != d * Hkv
            c.push_back(std::make_unique<case_attention_input>(t, f32, 128, 4, 1, 2, 40, mode)); // GQA 4
        }
    for (pa_type t : {PA_TYPE_Q8_0, PA_TYPE_Q4_1}) { // fewer products: k and v, or v alone
        c.push_back(std::make_unique<case_attention_input>(t, f16, 64, 3, 3, 1, 17, 2, 1));
        c.push_back(std::make_unique<case_attention_input>(t, f32, 32, 6, 2, 3, 0, 0, 2));
    }
    for (pa_type t : {PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1})
        for (int64_t N : {1, 3, 8})
            c.push_back(std::make_unique<case_norm_gate_up_swiglu>(t, N == 3 ? 96 : 64, N));
    // the second result in the storage of the first node's source (the scheduler reuses it): apart
    c.push_back(std::make_unique<case_rms_norm_mul>(shape4{576, 1, 1, 1}, shape4{576, 1, 1, 1}, f32,
                                                    layout::packed, true));
    for (int64_t N : {1, 4})
        c.push_back(std::make_unique<case_mul_mat_add>(PA_TYPE_Q4_1, 64, 37, N, true, layout::packed, true));
    // not fused: f32 weights (k_mul_mv), more columns than k_mul_mv_q takes
    c.push_back(std::make_unique<case_mul_mat_add>(f32, 64, 9, 1, true, layout::packed));
    c.push_back(std::make_unique<case_mul_mat_add>(PA_TYPE_Q8_0, 64, 9, 12, true, layout::packed));
    return c;
}

PA_BACKEND_OPS_TEST(FusedPairs, "fused", fused_cases)

} // namespace
} // namespace pa::test
