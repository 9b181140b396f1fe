// session.h - runs a model over a token stream: KV cache, position, chunked prefill (--batch),
// one-token decode, and the attention choice per chunk (dense, or proxy_sparse_attn swapped
// in by the graph pass for prefill chunks whose keys, n_past + N, number proxy_min_len or more).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "llm_graph.h"
#include "pa/block_sparse.h"
#include "pa/proxy_sparse_attn.h"
#include "pa/scheduler.h"

namespace pa::model {

enum class attn_mode { dense, proxy };

struct session_options {
    int n_ctx = 0;     // 0: the model's training context
    int n_batch = 512; // tokens per prefill graph
    pa_type kv_type = PA_TYPE_F16;
    attn_mode attn = attn_mode::proxy;
    int64_t proxy_min_len = 4096; // prefill chunks attending to fewer keys stay dense
    proxy_params proxy;           // scale and n_past are taken from each dense node
    // One-token evaluation (decoding) reuses one graph for decode_span positions: built once,
    // its attention reading the cache rows up to the span's end (the causal mask hides the
    // later ones), then moved to each next position (0: a graph per token).
    int decode_span = 256;
};

struct session_stats {
    int64_t graphs = 0, tokens = 0;
    int64_t proxy_nodes = 0;   // attention nodes swapped to proxy_sparse_attn
    double seconds = 0;        // forward graphs (scheduler::compute)
    double build_seconds = 0;  // building the forward graphs (contexts, nodes)
    double logits_seconds = 0; // classifier slices of eval_all
};

struct op_time {
    double ms = 0;
    int64_t count = 0;
};

// (tokens done, tokens total) after each chunk
using progress_fn = std::function<void(int64_t, int64_t)>;

class session {
  public:
    session(const model& m, std::vector<backend*> backends, const session_options& o);
    ~session();

    // Evaluates tokens at the current position in chunks; returns the last token's logits.
    std::vector<float> eval(std::span<const int32_t> tokens, const progress_fn& progress = {});
    // As eval, but hands every token's logits to sink(first token index, logits [n][n_vocab], n).
    void eval_all(std::span<const int32_t> tokens,
                  const std::function<void(int64_t, const float*, int64_t)>& sink,
                  const progress_fn& progress = {});
    // Evaluates tokens at the current position in chunks and returns the final-normed hidden
    // states of tokens[keep_from ..], [n - keep_from][n_embd] (no classifier: see project).
    std::vector<float> eval_hidden(std::span<const int32_t> tokens, int64_t keep_from = 0,
                                   const progress_fn& progress = {});
    // Logits [n][n_vocab] of n hidden states [n][n_embd] (the classifier alone; timed in
    // stats().logits_seconds). Callers keep n small (the result is n x n_vocab floats).
    std::vector<float> project(std::span<const float> hidden, int64_t n);
    // As project, into out (resized; its storage is reused from call to call).
    void project(std::span<const float> hidden, int64_t n, std::vector<float>& out);

    void reset() { n_past_ = 0; } // start over; old cache rows are overwritten before being read
    int n_past() const { return n_past_; }
    int n_ctx() const { return cache_.n_ctx(); }
    const kv_cache& cache() const { return cache_; }
    const session_options& options() const { return opt_; }
    session_stats& stats() { return stats_; }
    const session_stats& stats() const { return stats_; }
    scheduler& sched() { return sched_; }
    // Per-op host-measured times ("op@backend" -> total); timing synchronises after every node.
    void set_profile(bool on);
    const std::map<std::string, op_time>& profile() const { return profile_; }
    std::string profile_report() const; // lines sorted by time
    const model& mdl() const { return m_; }

    // Q/K/V capture: from now on every evaluated token's post-RoPE Q and K, and V, of these
    // layers are copied back to the host (off, and free, when never asked for). Start at
    // position 0 (n_past() == 0) so that the keys are complete.
    void capture_qkv(std::vector<int> layers);
    // One attention problem per captured layer, in the order asked for (n_past 0, N = tokens
    // evaluated since capture_qkv, scale 1/sqrt(head_dim)); stops the capture. K and V are the
    // values before the KV cache stores them (F32, not rounded to a F16 cache).
    std::vector<attn_qkv> take_captured();

  private:
    struct decode_graph;
    std::vector<float> decode(int32_t token);
    void run(llm_graph& lg, int64_t n_tokens, graph_change change = graph_change::any);
    void compute(const graph& g, graph_change change = graph_change::any);
    void collect(const llm_graph& lg, int64_t n_tokens);

    const model& m_;
    session_options opt_;
    kv_cache cache_;
    scheduler sched_;
    int n_past_ = 0;
    session_stats stats_;
    std::vector<backend*> backends_;
    bool profiling_ = false;
    std::map<std::string, op_time> profile_;
    // capture: per layer, token-major copies q [n][H][d], k and v [n][Hkv][d]
    struct layer_capture {
        std::vector<float> q, k, v;
    };
    std::vector<int> capture_layers_;
    std::vector<layer_capture> captured_;
    int64_t captured_tokens_ = 0;
    std::unique_ptr<decode_graph> decode_; // the graph one-token evals reuse
};

} // namespace pa::model
