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

// The nodes that carry the tokens' position: RoPE and attention (op param n_past) and the
// cache writes (views at row n_past: the view and the cpy node on it). set_position moves them.
struct position_nodes {
    std::vector<tensor*> ropes, attns, writes;
};

struct llm_graph {
    graph g;
    tensor* tokens = nullptr;          // I32 [N] input, filled
    tensor* out = nullptr;             // see graph_output; has host storage
    std::vector<qkv_outputs> captured; // one per layer asked for in capture_layers
    position_nodes positioned;
    int64_t n_kv = 0; // cache rows the attention reads (>= n_past + N)
};

// tokens sit at positions n_past .. n_past + N - 1; needs n_past + N <= kv.n_ctx(). Dense
// attention nodes are named "attn-<layer>" (the proxy swap pass reads the layer from it).
// capture_layers: layers whose Q/K/V become outputs too (none by default).
// n_kv_rows: cache rows the attention reads, at least n_past + N (0: exactly that); the causal
// mask hides the rows after the last token, so a graph with more rows gives the same result
// and can be moved to later positions (set_position) up to n_kv_rows - N.
llm_graph build_llm_graph(context& ctx, const model& m, const kv_cache& kv, std::span<const int32_t> tokens,
                          int n_past, graph_output what, std::span<const int> capture_layers = {},
                          int64_t n_kv_rows = 0);

// Moves the graph's tokens to positions n_past.. (RoPE, the attention's mask, the cache rows
// written); needs n_past + N <= g.n_kv. The graph's nodes and shapes stay as they are.
void set_position(llm_graph& g, int n_past);

// logits [n_vocab, n] of hidden states [n_embd, n] (an input leaf with host data). out: where
// the logits go (n * n_vocab floats, the caller's), or nullptr for storage in ctx.
llm_graph build_logits_graph(context& ctx, const model& m, std::span<const float> hidden, int64_t n,
                             float* out = nullptr);

} // namespace pa::model
