// llm_graph.cpp - the forward pass, read top to bottom as llama2.c's forward(): embed; per
// layer: RMS norm, q/k/v, RoPE, KV cache write, attention, output projection, residual,
// RMS norm, SwiGLU FFN, residual; final norm; classifier.
#include "llm_graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>

#include "pa/error.h"
#include "pa/ops.h"

namespace pa::model {
namespace {

void set_name(tensor* t, const std::string& name) {
    std::snprintf(t->name, sizeof t->name, "%s", name.c_str());
}

// Writes x [d, Hkv, N] (after RoPE) into rows n_past.. of cache [d, n_ctx, Hkv]; returns the
// write (a cpy node), which the graph must run before the attention that reads the cache.
tensor* store(context& ctx, tensor* cache, tensor* x, int n_past) {
    const int64_t d = x->ne[0], hkv = x->ne[1], n = x->ne[2];
    tensor* dst = view_3d(ctx, cache, d, n, hkv, cache->nb[1], cache->nb[2], size_t(n_past) * cache->nb[1]);
    return cpy(ctx, permute(ctx, x, 0, 2, 1, 3), dst); // [d, N, Hkv]
}

// The cache's first n_kv rows [d, n_kv, Hkv].
tensor* cached(context& ctx, tensor* cache, int64_t n_kv) {
    return view_3d(ctx, cache, cache->ne[0], n_kv, cache->ne[2], cache->nb[1], cache->nb[2], 0);
}

} // namespace

kv_cache::kv_cache(const hparams& hp, int n_ctx, pa_type type) : n_ctx_(n_ctx), type_(type) {
    if (n_ctx <= 0 || n_ctx > max_ctx)
        throw error(fmt::format("kv cache: context {} must be 1 to {} (the context limit)", n_ctx, max_ctx));
    if (type != PA_TYPE_F16 && type != PA_TYPE_F32) throw error("kv cache: type must be f16 or f32");
    for (int l = 0; l < hp.n_layer; ++l) {
        tensor* k = ctx_.new_tensor(type, {hp.head_dim, n_ctx, hp.n_head_kv}, false);
        tensor* v = ctx_.new_tensor(type, {hp.head_dim, n_ctx, hp.n_head_kv}, false);
        k->flags |= PA_FLAG_PERSIST;
        v->flags |= PA_FLAG_PERSIST;
        set_name(k, fmt::format("cache_k-{}", l));
        set_name(v, fmt::format("cache_v-{}", l));
        k_.push_back(k);
        v_.push_back(v);
    }
}

size_t kv_cache::bytes() const {
    size_t b = 0;
    for (size_t l = 0; l < k_.size(); ++l)
        b += nbytes(k_[l]) + nbytes(v_[l]);
    return b;
}

llm_graph build_llm_graph(context& ctx, const model& m, const kv_cache& kv, std::span<const int32_t> tokens,
                          int n_past, graph_output what, std::span<const int> capture_layers,
                          int64_t n_kv_rows) {
    const hparams& hp = m.hp();
    const int64_t N = int64_t(tokens.size());
    const int64_t d = hp.head_dim, H = hp.n_head, Hkv = hp.n_head_kv;
    const int64_t n_kv = std::max<int64_t>(int64_t(n_past) + N, n_kv_rows);
    if (N == 0) throw error("forward: no tokens");
    if (n_past < 0 || n_kv > kv.n_ctx())
        throw error(fmt::format("forward: positions {}..{} (attending to {} rows) exceed the context of {}",
                                n_past, n_past + N - 1, n_kv, kv.n_ctx()));
    for (int32_t t : tokens)
        if (t < 0 || t >= hp.n_vocab)
            throw error(fmt::format("forward: token id {} outside the vocabulary", t));
    for (int l : capture_layers)
        if (l < 0 || l >= hp.n_layer)
            throw error(fmt::format("forward: layer {} to capture is outside 0..{}", l, hp.n_layer - 1));
    const float kq_scale = 1.0f / std::sqrt(float(d));

    llm_graph r;
    r.n_kv = n_kv;
    r.tokens = ctx.new_tensor(PA_TYPE_I32, {N});
    std::memcpy(r.tokens->data, tokens.data(), size_t(N) * sizeof(int32_t));
    r.tokens->flags |= PA_FLAG_INPUT;
    set_name(r.tokens, "tokens");

    std::vector<tensor*> writes;                       // cache writes, in layer order
    tensor* x = get_rows(ctx, m.token_embd, r.tokens); // [n_embd, N]
    for (int l = 0; l < hp.n_layer; ++l) {
        const layer_weights& w = m.layers[size_t(l)];

        // attention: q, k, v of the normed residual stream
        tensor* cur = mul(ctx, rms_norm(ctx, x, hp.rms_eps), w.attn_norm);
        tensor* q = mul_mat(ctx, w.wq, cur); // [H*d, N]
        tensor* k = mul_mat(ctx, w.wk, cur); // [Hkv*d, N]
        tensor* v = mul_mat(ctx, w.wv, cur);
        if (w.bq) q = add(ctx, q, w.bq);
        if (w.bk) k = add(ctx, k, w.bk);
        if (w.bv) v = add(ctx, v, w.bv);
        q = rope(ctx, reshape(ctx, q, {d, H, N}), hp.n_rot, hp.rope_mode, hp.rope_theta, n_past);
        k = rope(ctx, reshape(ctx, k, {d, Hkv, N}), hp.n_rot, hp.rope_mode, hp.rope_theta, n_past);
        r.positioned.ropes.insert(r.positioned.ropes.end(), {q, k});
        if (std::find(capture_layers.begin(), capture_layers.end(), l) != capture_layers.end())
            r.captured.push_back({l, q, k, v});
        v = reshape(ctx, v, {d, Hkv, N});

        // KV cache: store this chunk, attend over everything up to it
        for (tensor* cache : {kv.k(l), kv.v(l)}) {
            tensor* write = store(ctx, cache, cache == kv.k(l) ? k : v, n_past);
            writes.push_back(write);
            r.positioned.writes.insert(r.positioned.writes.end(), {write, write->src[1]});
        }
        tensor* att = flash_attn_ext(ctx, permute(ctx, q, 0, 2, 1, 3), cached(ctx, kv.k(l), n_kv),
                                     cached(ctx, kv.v(l), n_kv), kq_scale, n_past, true); // [d, H, N]
        set_name(att, fmt::format("attn-{}", l));
        r.positioned.attns.push_back(att);

        x = add(ctx, x, mul_mat(ctx, w.wo, reshape(ctx, att, {d * H, N}))); // residual

        // feed-forward: w2(silu(w1 x) * w3 x)
        cur = mul(ctx, rms_norm(ctx, x, hp.rms_eps), w.ffn_norm);
        tensor* gated = swiglu(ctx, mul_mat(ctx, w.ffn_gate, cur), mul_mat(ctx, w.ffn_up, cur));
        x = add(ctx, x, mul_mat(ctx, w.ffn_down, gated)); // residual
    }

    if (what == graph_output::last_logits && N > 1)
        x = view_2d(ctx, x, hp.n_embd, 1, x->nb[1], size_t(N - 1) * x->nb[1]);
    x = mul(ctx, rms_norm(ctx, x, hp.rms_eps), m.output_norm);
    r.out = what == graph_output::hidden ? x : mul_mat(ctx, m.output, x);
    ctx.ensure_host_data(r.out); // the scheduler copies outputs into it
    set_name(r.out, what == graph_output::hidden ? "hidden" : "logits");
    // As ggml's build_forward_expand: the writes first, in layer order, then the output. Each
    // layer's attention depends (through the residual stream) on the previous layers only, so
    // depth-first ordering puts layer l's writes before layer l's attention. The writes are not
    // outputs: nothing copies the cache back to the host.
    writes.push_back(r.out);
    std::vector<tensor*> outputs{r.out};
    for (const qkv_outputs& c : r.captured)
        for (tensor* t : {c.q, c.k, c.v}) {
            ctx.ensure_host_data(t);
            outputs.push_back(t);
        }
    r.g = build_forward(writes);
    for (tensor* w : writes)
        if (w != r.out) w->flags &= ~uint32_t(PA_FLAG_OUTPUT);
    for (tensor* t : outputs)
        t->flags |= PA_FLAG_OUTPUT;
    r.g.outputs = outputs;
    return r;
}

void set_position(llm_graph& g, int n_past) {
    const int64_t N = g.tokens->ne[0];
    if (n_past < 0 || int64_t(n_past) + N > g.n_kv)
        throw error(fmt::format("forward: positions {}..{} are outside the graph's {} cache rows", n_past,
                                int64_t(n_past) + N - 1, g.n_kv));
    for (tensor* t : g.positioned.ropes)
        set_param_i(t, rope_param_n_past, n_past);
    for (tensor* t : g.positioned.attns)
        set_param_i(t, fa_param_n_past, n_past);
    for (tensor* t : g.positioned.writes) // views of the cache [d, n_ctx, Hkv] at row n_past
        t->view_offs = size_t(n_past) * t->view_src->nb[1];
}

llm_graph build_logits_graph(context& ctx, const model& m, std::span<const float> hidden, int64_t n,
                             float* out) {
    const int64_t E = m.hp().n_embd;
    if (n <= 0 || int64_t(hidden.size()) != E * n)
        throw error("logits: hidden states do not match the model");
    llm_graph r;
    tensor* h = ctx.new_tensor(PA_TYPE_F32, {E, n});
    std::memcpy(h->data, hidden.data(), hidden.size_bytes());
    h->flags |= PA_FLAG_INPUT;
    set_name(h, "hidden");
    r.out = mul_mat(ctx, m.output, h);
    if (out)
        r.out->data = out; // the scheduler writes the result there: no copy, no zeroing
    else
        ctx.ensure_host_data(r.out);
    set_name(r.out, "logits");
    r.g = build_forward({r.out});
    return r;
}

} // namespace pa::model
