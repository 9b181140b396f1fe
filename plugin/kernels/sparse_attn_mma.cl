// sparse_attn_mma.cl - the block-sparse variant of opencl/kernels/fa_mma.cl (NVIDIA tensor
// cores): the host prepends this file to fa_mma.cl, whose kernel fa_mma then walks the kept key
// blocks of its (head, query block) row instead of every key tile.
//
// Mask (CSR over rows r = h * n_qblk + query block): blocks[row_ptr[r] .. row_ptr[r+1]) are the
// kept key-block indices (any order); block n covers keys [n*blk, (n+1)*blk). blk is a multiple
// of BN and of the work-group's BM rows, so a work-group reads exactly one row; K16/V^T16 are
// padded to a multiple of blk keys, so a last partial block stays in bounds (its tail is masked).

#define FA_MMA_SPARSE 1
#define SPARSE_ARGS , global const int *row_ptr, global const int *blocks, int blk, int n_qblk

#define SPARSE_ROW(h, m0) ((h) * n_qblk + (m0) / blk)
#define sparse_tiles(h, m0) ((row_ptr[SPARSE_ROW(h, m0) + 1] - row_ptr[SPARSE_ROW(h, m0)]) * (blk / BN))
#define sparse_tile_key(h, m0, it) \
    (blocks[row_ptr[SPARSE_ROW(h, m0)] + (it) / (blk / BN)] * blk + ((it) % (blk / BN)) * BN)
