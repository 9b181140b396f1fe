// mask_quality.h - quality of a block mask against exact dense attention (the spec's "Quality
// metrics"): attention recall, density, oracle density, oracle overlap, output error.
//
// Exact dense probabilities are recomputed on the CPU for every (head, query): O(H N^2 d),
// multithreaded (n_threads 0 = all cores). For long inputs, recall_sample.h measures a subset.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "pa/block_sparse.h"

namespace pa::analysis {

struct mask_quality {
    // Recall: per (head, query) the dense softmax mass inside the kept blocks.
    double recall_mean = 0, recall_p5 = 0, recall_min = 0;
    std::vector<double> recall_per_head; // mean over the head's queries
    std::vector<double> recall_p5_per_head, recall_min_per_head;
    // Recall of the queries in each quarter of the sequence (first to last), mean and p5.
    std::array<double, 4> recall_quartile_mean{}, recall_quartile_p5{};
    // Density: kept blocks / causal blocks, overall and per head.
    double density = 0;
    std::vector<double> density_per_head;
    // Oracle density: per (head, row) the fewest blocks whose exact dense mass (probabilities
    // summed over the row's queries) reaches gamma of the row's mass, over causal blocks.
    double oracle_density = 0;
    std::vector<double> oracle_density_per_head;
    // The same floor for a mask that always keeps block 0 and the diagonal block (an estimator
    // with force_sink_and_local): per (head, row) those two, then the fewest blocks of highest
    // mass reaching gamma. Where the sink alone holds gamma, the oracle keeps 1 block and this 2.
    double oracle_forced_density = 0;
    // Oracle overlap: per (head, row) IoU of the kept set with the blocks of highest true mass
    // at the same count; mean over rows.
    double oracle_iou = 0;
};

// x: the attention problem (x.scale is the logit scale); gamma: the oracle's threshold.
mask_quality measure_mask(const attn_qkv& x, const block_mask& mask, float gamma, int n_threads = 0);

// Density alone (cheap).
double mask_density(const block_mask& mask, std::vector<double>* per_head = nullptr);

struct output_error {
    double rel_l2 = 0; // ||a - ref|| / ||ref||
    double max_abs = 0;
};
output_error compare_outputs(const float* a, const float* ref, size_t n);

} // namespace pa::analysis
