// recall_sample.h - attention recall on a subsample of query rows, so that it stays cheap at
// 128K tokens (the full measure, mask_quality.h, is O(H N^2 d) on the CPU).
#pragma once

#include <cstdint>

#include "pa/block_sparse.h"

namespace pa::analysis {

struct recall_stats {
    double mean = 1.0, p5 = 1.0, min = 1.0;
    int64_t rows = 0; // (head, query) pairs measured
    // With gamma > 0, over the same queries: kept blocks of the query's row, and the fewest
    // blocks whose dense mass reaches gamma of the query's own mass (a per-query oracle: a floor
    // below mask_quality's per-row oracle, which must serve every query of the row), each summed
    // and divided by the causal blocks of those rows.
    double density = 0, oracle_density = 0;
};

// For every head, rows_per_head queries evenly spaced over [0, N) (the last one included): the
// exact dense softmax mass inside the blocks the mask keeps for the query's row.
recall_stats sampled_recall(const attn_qkv& x, const block_mask& mask, int64_t rows_per_head,
                            int n_threads = 0, float gamma = 0.0f);

} // namespace pa::analysis
