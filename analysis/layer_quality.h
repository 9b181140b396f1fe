// layer_quality.h - one attention layer (e.g. Q/K/V captured from a real model), measured
// against exact dense attention: the block mask's quality (mask_quality.h) overall and per head,
// the output error of attention restricted to the mask (masked_attention.h), and head similarity
// inside KV groups and proxy groups (head_similarity.h); then a summary over layers.
#pragma once

#include <cstdint>
#include <vector>

#include "head_similarity.h"
#include "mask_quality.h"
#include "pa/block_sparse.h"

namespace pa::analysis {

struct layer_options {
    float gamma = 0.99f; // the oracle's threshold (the estimator's gamma)
    int64_t n_proxy = 1; // proxy heads g: proxy groups of H / g heads
    head_similarity_options sim;
    int n_threads = 0;
};

struct head_report {
    double recall_mean = 0, recall_p5 = 0, recall_min = 0;
    double density = 0, oracle_density = 0;
    output_error error;              // this head's rows of the output
    double top_k_mean = 0;           // mean size of the head's top set (head_similarity.h)
    group_similarity kv_received;    // share(i -> this head) over the other heads of its KV group
    group_similarity proxy_received; // ... of its proxy group
};

struct layer_report {
    int layer = -1;
    mask_quality mask;  // all heads
    output_error error; // all heads
    head_similarity sim;
    group_similarity sim_kv, sim_proxy; // ordered pairs inside KV groups / proxy groups
    std::vector<head_report> heads;
};

layer_report measure_layer(const attn_qkv& x, const block_mask& mask, const layer_options& o);

// Over layers: means, and the worst value with the layer it comes from.
struct layers_summary {
    int64_t layers = 0;
    double recall_mean = 0, recall_p5_mean = 0, density = 0, oracle_density = 0, rel_l2_mean = 0;
    double sim_kv_mean = 0, sim_proxy_mean = 0;
    double recall_p5_worst = 1, recall_min_worst = 1, rel_l2_worst = 0, sim_kv_min = 1, sim_proxy_min = 1;
    int recall_p5_worst_layer = -1, recall_min_worst_layer = -1, rel_l2_worst_layer = -1;
    int sim_kv_min_layer = -1, sim_proxy_min_layer = -1;
};
layers_summary summarize_layers(const std::vector<layer_report>& layers);

} // namespace pa::analysis
