// recall_sample.h - attention recall on a subsample of query rows, so that it stays cheap at
// 128K tokens (the full measure, proxy_analysis.h, is O(H N^2 d) on the CPU).
#pragma once

#include <cstdint>

#include "proxy/ref/proxy_ref.h"

namespace pa::bench {

struct recall_stats {
    double mean = 1.0, p5 = 1.0, min = 1.0;
    int64_t rows = 0; // (head, query) pairs measured
};

// For every head, rows_per_head queries evenly spaced over [0, N) (the last one included): the
// exact dense softmax mass inside the blocks the mask keeps for the query's row.
recall_stats sampled_recall(const proxy::geometry& geo, const proxy::host_qkv& x, const proxy::estimate& e,
                            int64_t rows_per_head, int n_threads = 0);

} // namespace pa::bench
