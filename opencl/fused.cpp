// fused.cpp - see fused.h.
#include "fused.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "launch.h"
#include "mul_mv_q.h"
#include "op_table.h"

namespace pa::ocl {
namespace {

bool enabled() {
    static const bool on = [] {
        const char* e = std::getenv("PA_OPENCL_FUSE");
        return !(e && std::string_view(e) == "0");
    }();
    return on;
}

// src is the result of node: the same storage, type and layout.
bool is_result_of(const pa_tensor* src, const pa_tensor* node) {
    if (!src || src->buffer != node->buffer || src->offs != node->offs || src->type != node->type)
        return false;
    for (int i = 0; i < 4; ++i)
        if (src->ne[i] != node->ne[i] || src->nb[i] != node->nb[i]) return false;
    return true;
}

// out's storage is that of a source of node. A host may give the second node of a pair the
// buffer of a value the first reads last (the scheduler reuses dead buffers within a run, the
// backend running nodes in order); one launch would then overwrite it while reading it.
bool overwrites_a_source(const pa_tensor* out, const pa_tensor* node) {
    for (const pa_tensor* s : node->src)
        if (s && s->buffer == out->buffer) return true;
    return false;
}

bool same_shape_f32(const pa_tensor* a, const pa_tensor* b) {
    if (a->type != PA_TYPE_F32 || b->type != PA_TYPE_F32) return false;
    for (int i = 0; i < 4; ++i)
        if (a->ne[i] != b->ne[i]) return false;
    return true;
}

// The norm's input as k_mul_mv_q reads b in MVQ_NORM: unit stride, one slice, 4-byte aligned.
bool norm_input_fits(device_context& ctx, const mv_norm* norm) {
    const pa_tensor *x = norm->norm->src[0], *w = norm->mul->src[1];
    return x->type == PA_TYPE_F32 && x->nb[0] == 4 && x->nb[1] % 4 == 0 && x->ne[2] * x->ne[3] == 1 &&
           x->ne[1] <= mul_mv_q_max_n && ctx.mem(x).offs % 4 == 0 && w->nb[0] == 4 &&
           ctx.mem(w).offs % 4 == 0 && norm->norm->nb[0] == 4 && norm->mul->nb[0] == 4;
}

// One launch writes every tensor of writes while reading reads: each written tensor has storage of
// its own (a host reuses dead buffers for later results; one launch would then write a buffer
// that it still reads, or two results into one buffer).
bool writes_apart(const std::vector<const pa_tensor*>& writes, const std::vector<const pa_tensor*>& reads) {
    for (size_t i = 0; i < writes.size(); ++i) {
        for (const pa_tensor* r : reads)
            if (r->buffer == writes[i]->buffer) return false;
        for (size_t j = 0; j < i; ++j)
            if (writes[j]->buffer == writes[i]->buffer) return false;
    }
    return true;
}

// rms_norm then mul(norm, w) with w one F32 row of ne0 elements
bool is_norm_mul(device_context& ctx, const pa_tensor* norm, const pa_tensor* mul) {
    if (norm->op != PA_OP_RMS_NORM || mul->op != PA_OP_MUL || !is_result_of(mul->src[0], norm)) return false;
    const pa_tensor* w = mul->src[1];
    if (!w || w->type != PA_TYPE_F32 || w->ne[0] != norm->ne[0] || w->ne[1] != 1 || w->ne[2] != 1 ||
        w->ne[3] != 1)
        return false;
    return !overwrites_a_source(mul, norm) && supports_rms_norm(ctx, norm) && supports_binary(ctx, mul) &&
           same_shape_f32(norm, mul);
}

bool rms_norm_mul(device_context& ctx, pa_tensor* norm, pa_tensor* mul) {
    if (!is_norm_mul(ctx, norm, mul)) return false;
    const pa_tensor *a = norm->src[0], *w = mul->src[1];
    const size_t wg = size_t(ctx.tune().norm_wg);
    ctx.launch(ctx.get_kernel("fused.cl", "k_rms_norm_mul", fmt::format("-DNORM_WG={}", wg)),
               range1(size_t(nrows(a)) * wg), range1(wg), ctx.mem(a), shape_of(a), ctx.mem(norm),
               shape_of(norm), pa_param_f(norm, 0), ctx.mem(w), uint64_t(w->nb[0]), ctx.mem(mul),
               shape_of(mul));
    return true;
}

// mul_mat on k_mul_mv_q then add(product, r), add(r, product) or swiglu(r, product), r shaped
// as the product
bool mul_mv_q_then(device_context& ctx, pa_tensor* mm, pa_tensor* next) {
    if (mm->op != PA_OP_MUL_MAT || (next->op != PA_OP_ADD && next->op != PA_OP_SWIGLU)) return false;
    const bool first = is_result_of(next->src[0], mm), second = is_result_of(next->src[1], mm);
    if (first == second) return false;                   // not a source, or both (x + x)
    if (next->op == PA_OP_SWIGLU && first) return false; // silu of the product: not this epilogue
    pa_tensor* r = first ? next->src[1] : next->src[0];
    if (overwrites_a_source(next, mm) || !same_shape_f32(r, mm) || !same_shape_f32(next, mm) ||
        !mul_mv_q_usable(ctx, mm))
        return false;
    const bool add = next->op == PA_OP_ADD;
    if (!supports_mul_mat(ctx, mm) || !(add ? supports_binary(ctx, next) : supports_swiglu(ctx, next)))
        return false;
    mul_mv_q(ctx, mm, add ? mv_epilogue::add : mv_epilogue::swiglu, r, next);
    return true;
}

// The packed view of store's source: its dims, by stride, tile the n packed elements of its
// storage (strides 1, ne, ne * ne', ...; size-1 dims anywhere).
bool packed_view(const pa_tensor* v, int64_t n, mv_view& view) {
    int order[4] = {0, 1, 2, 3};
    const auto key = [&](int k) { return std::pair{v->ne[k] == 1, v->nb[k]}; }; // size-1 dims last
    std::sort(order, order + 4, [&](int x, int y) { return key(x) < key(y); });
    int64_t next = 1;
    for (int k : order) {
        view.ne.s[k] = v->ne[k];
        if (v->ne[k] == 1) continue; // its stride plays no part
        if (int64_t(v->nb[k]) != next * int64_t(sizeof(float))) return false;
        view.st.s[k] = next;
        next *= v->ne[k];
    }
    return next == n;
}

// mul_mat on k_mul_mv_q then cpy(view of the product, s): the view's dims a permutation of the
// product's packed elements (reshape then permute: the model's V cache write)
bool mul_mv_q_store(device_context& ctx, pa_tensor* mm, pa_tensor* store) {
    if (mm->op != PA_OP_MUL_MAT || store->op != PA_OP_CPY) return false;
    const pa_tensor* v = store->src[0];
    if (!v || v->buffer != mm->buffer || v->offs != mm->offs || v->type != PA_TYPE_F32 ||
        mm->type != PA_TYPE_F32 || (store->type != PA_TYPE_F32 && store->type != PA_TYPE_F16))
        return false;
    if (mm->ne[2] * mm->ne[3] != 1 || !is_contiguous(mm) || nelements(v) != nelements(mm)) return false;
    mv_view view;
    if (!packed_view(v, nelements(mm), view) || overwrites_a_source(store, mm) || !mul_mv_q_usable(ctx, mm) ||
        !supports_mul_mat(ctx, mm) || !supports_cpy(ctx, store))
        return false;
    mul_mv_q(ctx, mm, mv_epilogue::store, nullptr, store, view);
    return true;
}

// view has the storage of node with its dims permuted: view dim k is node dim perm[k]
bool permuted_view_of(const pa_tensor* view, const pa_tensor* node, cl_int4& perm) {
    if (!view || view->buffer != node->buffer || view->offs != node->offs || view->type != node->type)
        return false;
    bool used[4] = {false, false, false, false};
    for (int k = 0; k < 4; ++k) {
        int found = -1;
        for (int q = 0; q < 4 && found < 0; ++q)
            if (!used[q] && view->ne[k] == node->ne[q] && (view->ne[k] == 1 || view->nb[k] == node->nb[q]))
                found = q;
        if (found < 0) return false;
        used[found] = true;
        perm.s[k] = found;
    }
    return true;
}

// rope then cpy(permute(rope), s) (the KV cache write)
bool rope_store(device_context& ctx, pa_tensor* rope, pa_tensor* store) {
    if (rope->op != PA_OP_ROPE || store->op != PA_OP_CPY) return false;
    cl_int4 perm{};
    if (!permuted_view_of(store->src[0], rope, perm)) return false;
    if (store->type != PA_TYPE_F32 && store->type != PA_TYPE_F16) return false;
    if (overwrites_a_source(store, rope) || !supports_rope(ctx, rope) || !supports_cpy(ctx, store))
        return false;
    const pa_tensor* a = rope->src[0];
    const int32_t n_dims = pa_param_i(rope, 0);
    const size_t pairs = size_t(n_dims / 2 + (a->ne[0] - n_dims + 1) / 2);
    const size_t tokens = size_t(a->ne[2]);
    const size_t wx = size_t(ctx.tune().rope_wg);
    ctx.launch(ctx.get_kernel("fused.cl", "k_rope_store", ctx.caps().fp64 ? "-DPA_FP64" : ""),
               range2(round_up(pairs, wx), tokens), range2(wx, 1), ctx.mem(a), shape_of(a), ctx.mem(rope),
               shape_of(rope), n_dims, pa_param_i(rope, 1), pa_param_f(rope, 2), pa_param_i(rope, 3),
               ctx.mem(store), shape_of(store).nb, perm, int32_t(store->type == PA_TYPE_F16));
    return true;
}

// gate = mul_mat(wg, b), up = mul_mat(wu, b) on k_mul_mv_q, then swiglu(gate, up): one launch;
// with norm, b is the norm's mul, computed in the launch too
bool gate_up_swiglu(device_context& ctx, pa_tensor* gate, pa_tensor* up, pa_tensor* sw,
                    const mv_norm* norm = nullptr) {
    if (gate->op != PA_OP_MUL_MAT || up->op != PA_OP_MUL_MAT || sw->op != PA_OP_SWIGLU) return false;
    if (!is_result_of(sw->src[0], gate) || !is_result_of(sw->src[1], up)) return false;
    const pa_tensor *bg = gate->src[1], *bu = up->src[1], *wg = gate->src[0], *wu = up->src[0];
    if (bg->buffer != bu->buffer || bg->offs != bu->offs || wg->type != wu->type) return false;
    for (int i = 0; i < 4; ++i)
        if (bg->ne[i] != bu->ne[i] || bg->nb[i] != bu->nb[i] || wg->ne[i] != wu->ne[i] ||
            wg->nb[i] != wu->nb[i])
            return false;
    if (overwrites_a_source(up, gate) || overwrites_a_source(sw, gate) || overwrites_a_source(sw, up))
        return false;
    if (!same_shape_f32(gate, up) || !same_shape_f32(sw, up) || !mul_mv_q_usable(ctx, gate) ||
        !mul_mv_q_usable(ctx, up) || !supports_mul_mat(ctx, gate) || !supports_mul_mat(ctx, up) ||
        !supports_swiglu(ctx, sw))
        return false;
    if (norm && (!is_result_of(bg, norm->mul) || !norm_input_fits(ctx, norm) ||
                 !writes_apart({norm->norm, norm->mul, gate, up, sw},
                               {norm->norm->src[0], norm->mul->src[1], wg, wu})))
        return false;
    mul_mv_q(ctx, up, mv_epilogue::gate_swiglu, gate, sw, {}, norm);
    return true;
}

// rms_norm, its mul by one F32 row, then up to three quantized products of the mul's result
// (a layer's k, v and q), each followed by its rope (n_dims = the head size, mode 0 or 2) and a
// KV cache write of the rope's result or of the product: one k_mul_mv_q_heads launch. Returns the
// nodes it ran (0: none).
int attention_input(device_context& ctx, pa_tensor* const* nodes, int n) {
    if (n < 3 || !is_norm_mul(ctx, nodes[0], nodes[1])) return 0;
    mv_norm norm{nodes[0], nodes[1]};
    if (!norm_input_fits(ctx, &norm)) return 0;
    mv_head heads[mul_mv_q_max_heads];
    int nh = 0, i = 2;
    const auto same_storage = [](const pa_tensor* a, const pa_tensor* b) {
        return a && b && a->buffer == b->buffer && a->offs == b->offs;
    };
    for (; i < n; ++i) {
        pa_tensor* node = nodes[i];
        if (node->op == PA_OP_MUL_MAT && nh < mul_mv_q_max_heads && is_result_of(node->src[1], norm.mul) &&
            node->type == PA_TYPE_F32 && node->nb[0] == 4 && mul_mv_q_usable(ctx, node) &&
            supports_mul_mat(ctx, node) &&
            (nh == 0 || node->src[0]->type == heads[0].product->src[0]->type)) {
            heads[nh++] = mv_head{node, nullptr, nullptr, {}};
            continue;
        }
        mv_head* h = nullptr;
        for (int s = 0; s < nh && !h; ++s)
            if (same_storage(node->src[0], heads[s].rope ? heads[s].rope : heads[s].product)) h = &heads[s];
        if (!h || h->store) break;
        if (node->op == PA_OP_ROPE && !h->rope) {
            const pa_tensor *x = node->src[0], *p = h->product;
            const int32_t d = pa_param_i(node, 0), mode = pa_param_i(node, 1);
            if (d != x->ne[0] || d % 2 || (mode != 0 && mode != 2) || x->ne[0] * x->ne[1] != p->ne[0] ||
                x->ne[2] != p->ne[1] || x->ne[3] != 1 || x->nb[0] != 4 || x->nb[1] != uint64_t(4 * d) ||
                x->nb[2] != p->nb[1] || !supports_rope(ctx, node))
                break;
            bool same_params = true; // one set of rope parameters a launch
            for (int s = 0; s < nh; ++s)
                if (heads[s].rope &&
                    std::memcmp(heads[s].rope->op_params, node->op_params, 4 * sizeof(int32_t)))
                    same_params = false;
            if (!same_params) break;
            h->rope = node;
            continue;
        }
        if (node->op == PA_OP_CPY && (node->type == PA_TYPE_F32 || node->type == PA_TYPE_F16) &&
            node->src[0]->type == PA_TYPE_F32 && (h->rope || is_contiguous(h->product)) &&
            packed_view(node->src[0], nelements(h->product), h->view) && supports_cpy(ctx, node)) {
            h->store = node;
            continue;
        }
        break;
    }
    if (nh == 0) return 0;
    std::vector<const pa_tensor*> writes{norm.norm, norm.mul}, reads{norm.norm->src[0], norm.mul->src[1]};
    for (int s = 0; s < nh; ++s) {
        for (const pa_tensor* t : {heads[s].product, heads[s].rope, heads[s].store})
            if (t) writes.push_back(t);
        reads.push_back(heads[s].product->src[0]);
    }
    if (!writes_apart(writes, reads)) return 0;
    mul_mv_q_heads(ctx, heads, nh, &norm);
    return i;
}

} // namespace

int run_fused(device_context& ctx, pa_tensor* const* nodes, int n) {
    if (n < 2 || !enabled()) return 0;
    pa_tensor *first = nodes[0], *second = nodes[1];
    if (n >= 5 && is_norm_mul(ctx, first, second)) {
        const mv_norm norm{first, second};
        if (gate_up_swiglu(ctx, nodes[2], nodes[3], nodes[4], &norm)) return 5;
    }
    if (const int ran = attention_input(ctx, nodes, n); ran > 0) return ran;
    if (n >= 3 && gate_up_swiglu(ctx, first, second, nodes[2])) return 3;
    if (rms_norm_mul(ctx, first, second) || mul_mv_q_then(ctx, first, second) ||
        mul_mv_q_store(ctx, first, second) || rope_store(ctx, first, second))
        return 2;
    return 0;
}

} // namespace pa::ocl
