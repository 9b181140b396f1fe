// cpu_ops_matmul.cpp - mul_mat: dst[m, n, i2, i3] = sum_k a[k, m, i2/r2, i3/r3] * b[k, n, i2, i3]
// with r2 = b2/a2, r3 = b3/a3 (ggml broadcast). a may be any float or block type; its rows are
// dequantized a tile at a time, so large weight matrices never exist in float all at once.
#include <algorithm>
#include <vector>

#include "ops.h"

namespace pa::cpu {

void op_mul_mat(tensor* dst, int n_threads) {
    const tensor* a = dst->src[0];
    const tensor* b = dst->src[1];
    const int64_t K = a->ne[0], M = a->ne[1], N = b->ne[1];
    const int64_t b2 = b->ne[2], b3 = b->ne[3];
    const int64_t r2 = b2 / a->ne[2], r3 = b3 / a->ne[3];

    // b as contiguous float [K, N, b2, b3] (b may be transposed or a strided view)
    std::vector<float> bf(size_t(K * N * b2 * b3));
    for (int64_t i3 = 0; i3 < b3; ++i3)
        for (int64_t i2 = 0; i2 < b2; ++i2)
            for (int64_t n = 0; n < N; ++n) load_row(b, n, i2, i3, &bf[size_t(((i3 * b2 + i2) * N + n) * K)]);

    // work item = (slice of b, tile of a's rows); a tile of rows meets every column of b
    constexpr int64_t tile_rows = 16;
    const int64_t n_tiles = (M + tile_rows - 1) / tile_rows;
    const int64_t n_items = b2 * b3 * n_tiles;
    const double cost = 2.0 * double(tile_rows) * double(K) * double(N);
    parallel_for(n_threads, n_items, cost, [&](int64_t begin, int64_t end) {
        std::vector<float> at(size_t(tile_rows * K));
        for (int64_t item = begin; item < end; ++item) {
            const int64_t tile = item % n_tiles, slice = item / n_tiles;
            const int64_t i2 = slice % b2, i3 = slice / b2;
            const int64_t m0 = tile * tile_rows, rows = std::min(tile_rows, M - m0);
            for (int64_t m = 0; m < rows; ++m) load_row(a, m0 + m, i2 / r2, i3 / r3, &at[size_t(m * K)]);
            const float* bs = &bf[size_t(slice * N * K)];
            for (int64_t n = 0; n < N; ++n) {
                const float* bn = bs + n * K;
                for (int64_t m = 0; m < rows; ++m)
                    store_f(PA_TYPE_F32, elem_ptr(dst, m0 + m, n, i2, i3), dot(&at[size_t(m * K)], bn, K));
            }
        }
    });
}

} // namespace pa::cpu
