// mmq_common.cl - what the two tensor-core GEMM programs share (the host puts this file after
// mma_ptx.cl in front of mul_mat_mma.cl and mul_mat_mma_rq.cl): their tile geometry, the f16
// activations' layout (X16) and its loads into local memory, the A fragments read from there,
// the dequantization of two quantized weights into an f16x2 and the store of a warp's results.
//
// X16 [slice of b][NP][KP/8] uint4: b as f16, tokens n >= N and k >= K zero, PERM order (made by
// mul_mat_mma.cl's k_mmq_prep_f16). NP: N rounded up to whole tiles; KP: K rounded up to 32.
//
// PERM, the order of k inside each 32-k block of every f16 tile: position 8j + 2s + e holds
// k = 4j + 2e + (s & 1) + 16 (s >> 1)  (chunk j, pair s, half e), i.e. chunk j holds k = 4j,
// 4j+2, 4j+1, 4j+3, 16+4j, 16+4j+2, 16+4j+1, 16+4j+3: exactly the pairs one shift-and-mask of word
// j of Q4 nibbles (low nibbles k 4j.., high nibbles k 16+4j..) or of Q8 bytes gives, and the two
// float4s of b at k 4j and 16+4j. The sum over k is order-free; only the two operands must agree.
//
// Work-group: MMQ_WN x MMQ_WM warps, warp (wn, wm) owns 64 tokens x 64 weight rows of a
// BT x BW tile (BT = 64 MMQ_WN tokens, BW = 64 MMQ_WM rows): 4 x 8 mma tiles, 128 f32
// accumulators per lane. mma rows are tokens and mma columns weight rows, so a lane's two
// accumulators of one row are two adjacent dst elements. A stage of activations in local memory
// is [BT rows][4 chunks of 16 bytes] (one 32-k step), chunk index XOR-swizzled by row (SWZ) so that
// the 8 rows of an ldmatrix matrix, and 8 lanes storing 16 bytes, hit distinct banks.

#ifndef MMQ_WN
#define MMQ_WN 2
#endif
#ifndef MMQ_WM
#define MMQ_WM 4
#endif
#ifndef MMQ_W
#define MMQ_W PA_F16
#endif

#define BT (64 * MMQ_WN)            // tokens per tile
#define BW (64 * MMQ_WM)            // weight rows per tile
#define NT (32 * MMQ_WN * MMQ_WM)   // work-items per work-group
#define MMA_EMU_WARPS (MMQ_WN * MMQ_WM)
#define XCH (BT * 4 / NT)           // activation chunks each work-item copies per step
#define SWZ(row) (((row) >> 1) & 3) // chunk swizzle of a 64-byte tile row

#if (MMQ_WN != 1 && MMQ_WN != 2 && MMQ_WN != 4) || (MMQ_WM != 2 && MMQ_WM != 4)
#error "mmq_common.cl: MMQ_WN must be 1, 2 or 4, MMQ_WM 2 or 4"
#endif

#define MMQ_QUANT (MMQ_W == PA_Q4_0 || MMQ_W == PA_Q4_1 || MMQ_W == PA_Q8_0)
#if MMQ_W == PA_Q4_1
#define SW 2 // scale words per block: d as f16x2 (d, d), then (m, m)
#else
#define SW 1
#endif

// Where a work-item of a GEMM work-group works. Launch: global (tiles * NT, slices of b), local
// (NT); tile t = (token tile t / tiles_w, weight tile t % tiles_w): the work-groups that share a
// token tile run together; b2 = slices along dim 2 of b, r2/r3 broadcast ratios, a2 = slices along
// dim 2 of a.
typedef struct {
    int tid, lane, wn, wm; // work-item, lane, the warp's place in the tile
    int n0, m0;            // the tile's first token and weight row
    int i2, i3, zw;        // b's slice and a's
} mmq_place;
inline mmq_place mmq_place_of(int tiles_w, int b2, int r2, int r3, int a2) {
    mmq_place p;
    p.tid = get_local_id(0);
    p.lane = p.tid & 31;
    p.wn = (p.tid >> 5) % MMQ_WN;
    p.wm = (p.tid >> 5) / MMQ_WN;
    const int tile = get_group_id(0), z = get_group_id(1);
    p.n0 = (tile / tiles_w) * BT;
    p.m0 = (tile % tiles_w) * BW;
    p.i2 = z % b2;
    p.i3 = z / b2;
    p.zw = (p.i3 / r3) * a2 + p.i2 / r2;
    return p;
}

inline void zero_acc(float4 acc[4][8]) {
    MMA_UNROLL
    for (int i = 0; i < 4; ++i) {
        MMA_UNROLL
        for (int j = 0; j < 8; ++j) acc[i][j] = (float4)(0.0f);
    }
}

// The rows of b this work-item loads for its XCH chunks of a tile starting at token n0 (tokens past
// n repeat the last one: never stored). x: b or X16 at the launch's first token; i2, i3: b's slice.
inline void x_rows(global const char* xrow[XCH], global const char* x, ulong x_offs, ulong4 x_nb, int i2, int i3,
                   int n0, int n, int tid) {
    MMA_UNROLL
    for (int i = 0; i < XCH; ++i)
        xrow[i] = x + x_offs + (ulong)i2 * x_nb.s2 + (ulong)i3 * x_nb.s3 +
                  (ulong)min(n0 + ((tid + i * NT) >> 2), n - 1) * x_nb.s1;
}

// The next tile of X16: XCH chunks per work-item, global -> local without registers.
// xrow[i]: this work-item's row of chunk i.
inline void copy_x_tile(local uint4* xs, global const char* const* xrow, int kb, int tid) {
    MMA_UNROLL
    for (int i = 0; i < XCH; ++i) {
        const int c = tid + i * NT, row = c >> 2, j = c & 3;
        cp_async16(xs + row * 4 + (j ^ SWZ(row)), (global const uint4*)xrow[i] + kb * 4 + j);
    }
}

// The A fragments of the 16 k at chunks 2kk, 2kk+1 of a stage, for the warp's 64 tokens (wn).
inline void load_a_frags(uint4 af[4], local const uint4* xs, int wn, int lane, int kk EMU_PARAM) {
    MMA_UNROLL
    for (int i = 0; i < 4; ++i) { // tokens 16i.. : matrices (rows 0-7 | 8-15) x (chunk 2kk | 2kk+1)
        const int row = wn * 64 + 16 * i + (lane & 7) + 8 * ((lane >> 3) & 1), ch = 2 * kk + (lane >> 4);
        af[i] = ldsm_x4(xs, row * 4 + (ch ^ SWZ(row)));
    }
}

#if MMQ_QUANT
// Two weights as f16x2, (q - zero) * d (+ m), from the low bits of each half of v (Q4: a nibble,
// Q8: a byte holding q + 128); d2 = (d, d), m2 = (m, m) for Q4_1.
inline uint deq_pair(uint v, uint d2, uint m2) {
#if MMQ_W == PA_Q4_0
    return h2_mul(h2_sub((v & 0x000F000Fu) | 0x64006400u, 0x64086408u), d2); // 1024 + q - 1032
#elif MMQ_W == PA_Q4_1
    return h2_fma(h2_sub((v & 0x000F000Fu) | 0x64006400u, 0x64006400u), d2, m2); // d q + m
#else
    return h2_mul(h2_sub((v & 0x00FF00FFu) | 0x64006400u, 0x64806480u), d2); // 1024 + (q + 128) - 1152
#endif
}
#endif

// Stores the warp's 64 x 64 results: lane (g, t) holds tokens g, g+8 of each 16-token tile i,
// weight rows 2t, 2t+1 of each 8-row tile j. db: dst's slice; n0, m0: the warp's first token and
// row; n, m: valid tokens and rows; d_vec2 = 1 when rows take 8-byte stores.
inline void store_warp_tile(float4 acc[4][8], global char* db, ulong4 d_nb, int d_vec2, int n0, int m0, int n,
                            int m, int lane) {
    const int g = lane >> 2, t = lane & 3;
    MMA_UNROLL
    for (int i = 0; i < 4; ++i) {
        MMA_UNROLL
        for (int h = 0; h < 2; ++h) {
            const int tok = n0 + 16 * i + g + 8 * h;
            if (tok >= n) continue;
            global char* drow = db + (ulong)tok * d_nb.s1;
            MMA_UNROLL
            for (int j = 0; j < 8; ++j) {
                const int row = m0 + 8 * j + 2 * t;
                const float v0 = h ? acc[i][j].z : acc[i][j].x, v1 = h ? acc[i][j].w : acc[i][j].y;
                if (d_vec2 && row + 1 < m) {
                    *(global float2*)(drow + (ulong)row * 4) = (float2)(v0, v1);
                    continue;
                }
                if (row < m) *(global float*)(drow + (ulong)row * d_nb.s0) = v0;
                if (row + 1 < m) *(global float*)(drow + (ulong)(row + 1) * d_nb.s0) = v1;
            }
        }
    }
}
