// mul_mat.cpp - mul_mat: dst[m, n, i2, i3] = sum_k a[k, m, i2/r2, i3/r3] * b[k, n, i2, i3]
// with r2 = b2/a2, r3 = b3/a3 (ggml broadcast). a is a weight matrix of any float or block type,
// b f32 activations. Two paths, both on the vector kernels of simd.h:
//   few columns (decoding): each row of a is read in place, its blocks unpacked in registers;
//   many columns (prefill): tiles of a's rows are dequantized once and multiplied with every
//   column by register tiles of rows x columns.
// Both sum every dot product in the same order, so results do not depend on the batch size.
// Weights whose rows are not packed (a transposed float view) take a plain dot-product loop.
#include <algorithm>
#include <vector>

#include "ops.h"
#include "simd.h"

namespace pa::cpu {
namespace {

// Columns up to which reading rows in place beats packing (packing costs about as much as
// multiplying a tile with this many columns).
constexpr int64_t max_dot_columns = 8;
// Rows of a per work item on the dot path.
constexpr int64_t dot_rows_per_item = 16;

bool rows_packed(const tensor* a) {
    const type_traits& tr = traits(a->type);
    return a->nb[0] == tr.block_bytes; // block types always are (supports_op checks)
}

// b as contiguous float rows [b3][b2][N][K]; returns b's own data when it already is.
const float* contiguous_b(const tensor* b, std::vector<float>& buf, int n_threads) {
    const int64_t K = b->ne[0], N = b->ne[1], b2 = b->ne[2], b3 = b->ne[3];
    if (b->type == PA_TYPE_F32 && is_contiguous(b)) return static_cast<const float*>(b->data);
    buf.resize(size_t(K * N * b2 * b3));
    parallel_for(n_threads, N * b2 * b3, 2.0 * double(K), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r)
            load_row(b, r % N, (r / N) % b2, r / (N * b2), &buf[size_t(r * K)]);
    });
    return buf.data();
}

void mul_mat_plain(tensor* dst, const float* bf, int n_threads) {
    const tensor* a = dst->src[0];
    const int64_t K = a->ne[0], M = a->ne[1], N = dst->ne[1], b2 = dst->ne[2], b3 = dst->ne[3];
    const int64_t r2 = b2 / a->ne[2], r3 = b3 / a->ne[3];
    parallel_for(n_threads, M * b2 * b3, 2.0 * double(K * N), [&](int64_t begin, int64_t end) {
        std::vector<float> row(static_cast<size_t>(K));
        for (int64_t item = begin; item < end; ++item) {
            const int64_t m = item % M, slice = item / M, i2 = slice % b2, i3 = slice / b2;
            load_row(a, m, i2 / r2, i3 / r3, row.data());
            for (int64_t n = 0; n < N; ++n)
                store_f(PA_TYPE_F32, elem_ptr(dst, m, n, i2, i3),
                        dot(row.data(), bf + (slice * N + n) * K, K));
        }
    });
}

} // namespace

void op_mul_mat(tensor* dst, int n_threads, const simd_kernels& kern) {
    const tensor* a = dst->src[0];
    const tensor* b = dst->src[1];
    const int64_t K = a->ne[0], M = a->ne[1], N = b->ne[1];
    const int64_t b2 = b->ne[2], b3 = b->ne[3];
    const int64_t r2 = b2 / a->ne[2], r3 = b3 / a->ne[3];
    thread_local std::vector<float> bbuf; // kept across calls (no page faults per call)
    const float* bf = contiguous_b(b, bbuf, n_threads);
    if (!rows_packed(a) || dst->nb[0] != sizeof(float) || (dst->nb[1] % sizeof(float)) != 0)
        return mul_mat_plain(dst, bf, n_threads);

    const int64_t ldc = int64_t(dst->nb[1] / sizeof(float));
    auto a_rows = [&](int64_t m0, int64_t i2, int64_t i3) {
        return static_cast<const char*>(static_cast<const void*>(row_ptr(a, m0, i2 / r2, i3 / r3)));
    };
    auto c_at = [&](int64_t m0, int64_t i2, int64_t i3) {
        return reinterpret_cast<float*>(elem_ptr(dst, m0, 0, i2, i3));
    };
    const int64_t slices = b2 * b3;

    if (N <= max_dot_columns) {
        const int64_t per_slice = (M + dot_rows_per_item - 1) / dot_rows_per_item;
        const double cost = 2.0 * double(dot_rows_per_item * K * N);
        parallel_for(n_threads, slices * per_slice, cost, [&](int64_t begin, int64_t end) {
            for (int64_t item = begin; item < end; ++item) {
                const int64_t slice = item / per_slice, i2 = slice % b2, i3 = slice / b2;
                const int64_t m0 = (item % per_slice) * dot_rows_per_item,
                              rows = std::min(dot_rows_per_item, M - m0);
                kern.dot_rows(a->type, a_rows(m0, i2, i3), a->nb[1], rows, K, bf + slice * N * K, K, N,
                              c_at(m0, i2, i3), ldc);
            }
        });
        return;
    }

    // row tiles: about four per thread, at most 64 rows (dequantized, they stay in L2)
    const int64_t per_thread = (M + 4 * n_threads - 1) / (4 * int64_t(std::max(1, n_threads)));
    const int64_t mt = std::clamp<int64_t>((per_thread + 3) / 4 * 4, 4, 64);
    const int64_t per_slice = (M + mt - 1) / mt;
    parallel_for(n_threads, slices * per_slice, 2.0 * double(mt * K * N), [&](int64_t begin, int64_t end) {
        thread_local std::vector<float> at; // pool threads keep it across calls
        at.resize(size_t(mt * K));
        for (int64_t item = begin; item < end; ++item) {
            const int64_t slice = item / per_slice, i2 = slice % b2, i3 = slice / b2;
            const int64_t m0 = (item % per_slice) * mt, rows = std::min(mt, M - m0);
            kern.dequantize_rows(a->type, a_rows(m0, i2, i3), a->nb[1], rows, K, at.data());
            kern.gemm(at.data(), K, rows, bf + slice * N * K, K, N, K, c_at(m0, i2, i3), ldc);
        }
    });
}

} // namespace pa::cpu
