// proxy_analysis.h - quality metrics of a sparse mask against dense attention (spec "Quality
// metrics"): attention recall, density, oracle overlap, output error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "proxy_ref.h"

namespace pa::proxy {

struct mask_quality {
    // Recall: per (head, query) the dense softmax mass inside the kept blocks.
    double recall_mean = 0, recall_p5 = 0, recall_min = 0;
    std::vector<double> recall_per_head; // mean over the head's queries
    // Density: kept blocks / causal blocks, overall and per head.
    double density = 0;
    std::vector<double> density_per_head;
    // Oracle overlap: per (head, row) IoU of the kept set with the blocks of highest true mass
    // (dense probabilities summed over the row's queries) at the same count; mean over rows.
    double oracle_iou = 0;
};

// Exact dense probabilities are recomputed on the CPU for every (head, query): O(H N^2 d).
// Multithreaded (n_threads 0 = all cores).
mask_quality measure_mask(const geometry& geo, const host_qkv& x, const estimate& e, int n_threads = 0);

// Density alone (cheap).
double mask_density(const geometry& geo, const estimate& e, std::vector<double>* per_head = nullptr);

struct output_error {
    double rel_l2 = 0; // ||a - ref|| / ||ref||
    double max_abs = 0;
};
output_error compare_outputs(const float* a, const float* ref, size_t n);

} // namespace pa::proxy
