// masked_attention.h - exact attention restricted to the blocks a mask keeps, on the CPU: the
// output a block-sparse kernel should produce for a mask, computed independently of any
// estimator, so that a mask's output error against dense attention can be measured on its own.
#pragma once

#include <vector>

#include "pa/block_sparse.h"

namespace pa::analysis {

// out [N][H][d] (the attention node's [d, H, N] layout, contiguous): for query t and head h,
// softmax(scale * q k^T) v over the causal keys of the blocks mask keeps for (h, row of t); every
// causal key when mask is null (dense attention). Softmax sums in double. n_threads 0 = all cores.
std::vector<float> masked_attention(const attn_qkv& x, const block_mask* mask, int n_threads = 0);

} // namespace pa::analysis
