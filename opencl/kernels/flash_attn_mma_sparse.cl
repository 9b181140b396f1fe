// flash_attn_mma_sparse.cl - the block-sparse variant of flash_attn_mma.cl (NVIDIA tensor
// cores): the host prepends this file to flash_attn_mma.cl, whose kernel fa_mma then runs the
// rows of a block mask and walks only their kept key blocks.
//
// Mask (the CSR layout of pa/block_sparse.h): row m =
// row0 + r (r < n_rows) holds the queries at absolute positions [m*blk, (m+1)*blk) (the first row
// may start mid-block, at n_past); head h keeps counts[h*n_rows + r] key blocks, listed at
// blocks[h*tri_total + tri(m) ...], tri(m) = m(m+1)/2 - row0(row0+1)/2. Block n covers keys
// [n*blk, (n+1)*blk). blk is a multiple of BM and BN, so a work-group serves one part of one row;
// K16/V^T16 are padded to whole blocks, so the last partial block stays in bounds (its tail is
// masked like any key past the query's position).

#define FA_MMA_SPARSE 1
#define SPARSE_ARGS \
    , global const int *counts, global const int *blocks, int blk, int row0, int n_rows, long tri_total

// work-group row index wr (0 .. n_rows*blk/BM - 1), heaviest rows first
#define SPARSE_ROW(wr) (n_rows - 1 - (wr) / (blk / BM))
#define SPARSE_M0(wr) ((row0 + SPARSE_ROW(wr)) * blk - n_past + ((wr) % (blk / BM)) * BM)
#define SPARSE_TRI(m) ((long)(m) * ((m) + 1) / 2 - (long)row0 * (row0 + 1) / 2)
#define SPARSE_TILES(h, wr) (counts[(h) * n_rows + SPARSE_ROW(wr)] * (blk / BN))
#define SPARSE_TILE_KEY(h, wr, it)                                                                       \
    (blocks[(long)(h) * tri_total + SPARSE_TRI(row0 + SPARSE_ROW(wr)) + (it) / (blk / BN)] * blk + \
     ((it) % (blk / BN)) * BN)
