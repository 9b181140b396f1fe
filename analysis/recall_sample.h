// recall_sample.h - attention recall on a subsample of query rows, so that it stays cheap at
// 128K tokens (the full measure, mask_quality.h, is O(H N^2 d) on the CPU).
#pragma once

#include <cstdint>

#include "pa/block_sparse.h"

namespace pa::analysis {

struct recall_stats {
    double mean = 1.0, p5 = 1.0, min = 1.0;
    int64_t rows = 0; // (head, query) pairs measured
};

// For every head, rows_per_head queries evenly spaced over [0, N) (the last one included): the
// exact dense softmax mass inside the blocks the mask keeps for the query's row.
recall_stats sampled_recall(const attn_qkv& x, const block_mask& mask, int64_t rows_per_head,
                            int n_threads = 0);

} // namespace pa::analysis
