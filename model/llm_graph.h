// llm_graph.h - the llama-family forward pass as a runtime graph, and its KV cache.
//
// KV cache: per layer one K and one V leaf [head_dim, n_ctx, n_head_kv] (F16 by default),
// flagged PA_FLAG_PERSIST so the scheduler keeps them on the device between graphs and zeroes
// them on first use; they have no host storage. Each graph writes the new tokens' rows with
// pa::cpy into a view at n_past and attends over positions [0, n_past + N).
#pragma once

#include <span>
#include <vector>

#include "model.h"
#include "pa/graph.h"

namespace pa::model {

// Largest context a KV cache (and --ctx / -c) accepts: the model loader's size limit, 2^24.
inline constexpr int max_ctx = 1 << 24;

class kv_cache {
  public:
    kv_cache(const hparams& hp, int n_ctx, pa_type type);
    int n_ctx() const { return n_ctx_; }
    pa_type type() const { return type_; }
    tensor* k(int layer) const { return k_[size_t(layer)]; }
    tensor* v(int layer) const { return v_[size_t(layer)]; }
    size_t bytes() const; // device memory of all layers

  private:
    context ctx_;
    std::vector<tensor*> k_, v_;
    int n_ctx_;
    pa_type type_;
};

enum class graph_output {
    last_logits, // logits [n_vocab, 1] of the last token (generation)
    all_logits,  // logits [n_vocab, N] of every token
    hidden       // final-normed hidden states [n_embd, N] (project them with build_logits)
};

// One layer's attention inputs as graph outputs (they come back to the host): q and k after
// RoPE, F32 [d, H, N] and [d, Hkv, N]; v F32 [d * Hkv, N] (the same layout as [d, Hkv, N]).
struct qkv_outputs {
    int layer = -1;
    tensor *q = nullptr, *k = nullptr, *v = nullptr;
};

struct llm_graph {
    graph g;
    tensor* tokens = nullptr;          // I32 [N] input, filled
    tensor* out = nullptr;             // see graph_output; has host storage
    std::vector<qkv_outputs> captured; // one per layer asked for in capture_layers
};

// tokens sit at positions n_past .. n_past + N - 1; needs n_past + N <= kv.n_ctx(). Dense
// attention nodes are named "attn-<layer>" (the proxy swap pass reads the layer from it).
// capture_layers: layers whose Q/K/V become outputs too (none by default).
llm_graph build_llm_graph(context& ctx, const model& m, const kv_cache& kv, std::span<const int32_t> tokens,
                          int n_past, graph_output what, std::span<const int> capture_layers = {});

// logits [n_vocab, n] of hidden states [n_embd, n] (an input leaf with host data). out: where
// the logits go (n * n_vocab floats, the caller's), or nullptr for storage in ctx.
llm_graph build_logits_graph(context& ctx, const model& m, std::span<const float> hidden, int64_t n,
                             float* out = nullptr);

} // namespace pa::model
