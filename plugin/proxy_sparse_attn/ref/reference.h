// reference.h - the CPU reference of proxy_sparse_attn: the spec's steps one by one, simple and
// obviously correct, with every intermediate available to tests and tools.
//
//   load_qkv        Q/K/V (any strides, f32/f16) -> contiguous float heads
//   estimate_mask   steps 1-6: proxy pooling, token-level proxy scores, block max pooling,
//                   shared ranking, measured rows, per-head budgets, exact rows -> kept block
//                   lists (pa::block_mask)
//   attend          step 7: exact attention over the kept blocks (dense when all are kept)
//   run_reference   the whole node (what the op's CPU compute calls)
//
// The mask decisions use det_math.h, so the OpenCL lowering reproduces budgets and kept blocks
// bit for bit; outputs then agree within float tolerance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "../geometry.h"
#include "estimators.h"
#include "pa/block_sparse.h"
#include "pa/pa_plugin.h"

namespace pa::proxy {

// Contiguous float copies: q [H][N][d], k and v [Hkv][n_keys][d] (visible keys only).
using host_qkv = attn_qkv;
host_qkv load_qkv(const geometry& geo, const pa_tensor* q, const pa_tensor* k, const pa_tensor* v,
                  int n_threads = 0);

// int8 rows (det_math.h quantize_row) and their scales.
struct quant_rows {
    int64_t d = 0;
    std::vector<int8_t> v;    // [rows][d]
    std::vector<float> scale; // [rows]
};

// Everything the mask is made of. Triangular arrays use geometry::tri (row m: m+1 slots).
// The layouts below are proxy's; estimator = xattn | flex fill scores, ranks and budgets per head
// ([H][tri_total], [H][n_rows]), flex also `flex`, and leave the rest empty (estimators.h).
struct estimate {
    bool all_kept = false;              // dense: every causal block kept, nothing estimated
    std::vector<float> pooled_q;        // [g][n_sq][d] step 1: proxy queries at strided positions
    std::vector<float> pooled_k;        // [g][n_sk][d]         proxy keys (every key_stride-th)
    std::vector<float> row_max;         // [g][n_sq] step 2: max logit of each proxy query
    std::vector<float> row_inv_sum;     // [g][n_sq]   1 / its softmax sum
    std::vector<float> scores;          // [g][tri_total] step 3: A_j[m][n]
    std::vector<int32_t> ranks;         // [g][tri_total] rank of block n in row m (forced first)
    std::vector<float> sample_mass;     // [H][n_mass] step 4: block masses of the measured rows
    std::vector<int32_t> sample_budget; // [H][samples] budget = rows: count along the shared order
    std::vector<int32_t> budgets;       // [H][n_rows] blocks kept per row beyond the forced ones
    std::vector<uint8_t> exact;         // [H][tri_total] 1 = kept by the head's exact set
    block_mask mask;                    // the kept blocks per (head, row)
    flex_state flex;                    // estimator = flex: lines, divergence, pattern per head

    std::span<const int32_t> kept(int64_t h, int64_t m) const { return mask.kept(h, m); }
};

// Intermediates of one run that tools do not need: quantized rows and per-query statistics of
// the measured rows.
struct work {
    quant_rows pq, pk;           // pooled proxy queries / keys
    quant_rows bq, hk;           // measured queries per head [H][n_bq], keys per kv head [Hkv][n_keys]
    std::vector<float> qbm, qbs; // [H][n_bq][n_kblocks] block max logit, fixed-point block sum
    std::vector<float> qM, qinv; // [H][n_bq] max logit, 1 / softmax sum
};

// Steps 1-6 (stops after geo.stop_after when it is 1..3: 1 pooling, 2 proxy scores and ranks,
// 3 budgets and exact sets). n_threads 0 = all cores.
estimate estimate_mask(const geometry& geo, const host_qkv& x, int n_threads = 0);
// The full mask (every causal block) without estimation, as used when geo.all_kept.
void fill_dense_mask(const geometry& geo, estimate& e);

// Step 7: out [N][H][d] (the node's [d, H, N] layout, contiguous).
void attend(const geometry& geo, const host_qkv& x, const estimate& e, float* out, int n_threads = 0);

// The node on the CPU: dst (with host data, srcs with host data) gets the result; debug, when
// given, receives the estimate. Throws pa::error.
void run_reference(pa_tensor* dst, estimate* debug = nullptr, int n_threads = 0);

// pa_op_desc pieces (C ABI, never throw).
pa_status op_infer(const pa_tensor* const* src, int n_src, const int32_t* params, pa_tensor* out, char* err,
                   size_t err_len);
pa_status op_cpu_compute(pa_tensor* dst, char* err, size_t err_len);

} // namespace pa::proxy
