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
//
// Split rows (n_parts > 1): when a launch has few work-groups a multiprocessor, its time is the
// longest kept list (a head that keeps most blocks of the last rows), not the sum. Then each row's
// list is cut into parts of part_blocks blocks, one work-group a part; a part past the end of its
// row's list returns at once. A row of one part writes O as before; a row of several writes each
// part's O / l and (max, l) to part_o / part_ml ([part][query][head]), and fa_mma_merge (below)
// combines them into O. n_parts = 1 with part_blocks >= every count is the unsplit kernel.

#define FA_MMA_SPARSE 1
#define SPARSE_ARGS                                                                                         \
    , global const int *counts, global const int *blocks, int blk, int row0, int n_rows, long tri_total,  \
        int n_parts, int part_blocks, global float *part_o, global float2 *part_ml

// work-group row index wr (0 .. n_rows*blk/BM*n_parts - 1): the parts of a row side by side,
// heaviest rows first
#define SPARSE_PART(wr) ((wr) % n_parts)
#define SPARSE_WR(wr) ((wr) / n_parts)
#define SPARSE_ROW(wr) (n_rows - 1 - SPARSE_WR(wr) / (blk / BM))
#define SPARSE_M0(wr) ((row0 + SPARSE_ROW(wr)) * blk - n_past + (SPARSE_WR(wr) % (blk / BM)) * BM)
#define SPARSE_TRI(m) ((long)(m) * ((m) + 1) / 2 - (long)row0 * (row0 + 1) / 2)
#define SPARSE_COUNT(h, wr) counts[(h) * n_rows + SPARSE_ROW(wr)]
#define SPARSE_FIRST(wr) (SPARSE_PART(wr) * part_blocks) // the part's first entry of the row's list
// a part past the end of its row's list (part 0 always runs: it writes the row's O)
#define SPARSE_EMPTY(h, wr) (SPARSE_PART(wr) > 0 && SPARSE_COUNT(h, wr) <= SPARSE_FIRST(wr))
#define SPARSE_SPLIT(h, wr) (SPARSE_COUNT(h, wr) > part_blocks) // O goes through part_o / part_ml
#define SPARSE_TILES(h, wr) (clamp(SPARSE_COUNT(h, wr) - SPARSE_FIRST(wr), 0, part_blocks) * (blk / BN))
#define SPARSE_TILE_KEY(h, wr, it)                                                                         \
    (blocks[(long)(h) * tri_total + SPARSE_TRI(row0 + SPARSE_ROW(wr)) + SPARSE_FIRST(wr) + (it) / (blk / BN)] * \
         blk +                                                                                             \
     ((it) % (blk / BN)) * BN)
