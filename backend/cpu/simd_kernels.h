// simd_kernels.h - the kernels behind simd.h, written once with GCC/Clang vector extensions and
// compiled per instruction set: simd_<isa>.cpp defines PA_SIMD_NS (the namespace) and
// PA_SIMD_LANES (floats in one vector: 4 SSE/NEON, 8 AVX2, 16 AVX-512) and includes this file.
// Activations stay f32; weight blocks are unpacked into float vectors in registers. Multiply-adds
// are explicit (vfma, fmadd) and the files are compiled with -ffp-contract=off.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "pa/types.h"
#include "simd.h"

#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#ifndef PA_SIMD_NS
#error "define PA_SIMD_NS and PA_SIMD_LANES before including simd_kernels.h"
#endif

namespace pa::cpu::PA_SIMD_NS {
namespace {

constexpr int VL = PA_SIMD_LANES;
static_assert(VL == 4 || VL == 8 || VL == 16);
using vec = float __attribute__((vector_size(VL * sizeof(float))));
using ivec = int32_t __attribute__((vector_size(VL * sizeof(int32_t))));
using u8x16 = uint8_t __attribute__((vector_size(16)));

inline vec load(const float* p) {
    vec v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store(float* p, vec v) {
    std::memcpy(p, &v, sizeof v);
}
inline vec splat(float x) {
    return vec{} + x;
}
inline vec select(ivec mask, vec a, vec b) {
    return vec((ivec(a) & mask) | (ivec(b) & ~mask));
}
inline vec vmax(vec a, vec b) {
    return select(a > b, a, b);
}
// a * b + c on scalars, fused exactly when the variant fuses its vector arithmetic: written out
// so that the compiler's choice (which can differ between template instances) never makes the
// same dot product round differently in two places.
inline float fmadd(float a, float b, float c) {
#if defined(__FMA__)
    return std::fma(a, b, c);
#else
    return a * b + c;
#endif
}

// a * b + c on vectors: one fused operation where the variant has FMA, two roundings where it
// has not. Every multiply-add of the kernels goes through here (the files are compiled with
// -ffp-contract=off), so no compiler choice can make two paths round differently.
inline vec vfma(vec a, vec b, vec c) {
#if PA_SIMD_LANES == 16 && defined(__AVX512F__)
    return vec(_mm512_fmadd_ps(__m512(a), __m512(b), __m512(c)));
#elif PA_SIMD_LANES == 8 && defined(__FMA__)
    return vec(_mm256_fmadd_ps(__m256(a), __m256(b), __m256(c)));
#else
    return a * b + c;
#endif
}

inline float hsum(vec v) {
    float s = 0;
    for (int l = 0; l < VL; ++l)
        s += v[l];
    return s;
}

inline float half(uint16_t h) {
#if defined(__F16C__)
    return _cvtsh_ss(h);
#else
    return fp16_to_fp32(h);
#endif
}

// Element i of a row of floats or halves that may sit at any byte address (views of any offset).
inline float f32_at(const void* row, int64_t i) {
    float v;
    std::memcpy(&v, static_cast<const char*>(row) + i * int64_t(sizeof(float)), sizeof v);
    return v;
}
inline float f16_at(const void* row, int64_t i) {
    uint16_t h;
    std::memcpy(&h, static_cast<const char*>(row) + i * int64_t(sizeof(uint16_t)), sizeof h);
    return half(h);
}

// VL halves to floats
inline vec load_half(const uint16_t* p) {
#if PA_SIMD_LANES == 16 && defined(__AVX512F__)
    return vec(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
#elif PA_SIMD_LANES == 8 && defined(__F16C__)
    return vec(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
#else
    vec v;
    for (int l = 0; l < VL; ++l)
        v[l] = f16_at(p, l);
    return v;
#endif
}

// exp(x) for x <= 0 (x = n ln2 + r, |r| <= ln2/2, Taylor to r^6: relative error ~2e-7); inputs
// below -87.3 give 2^-126, which callers either mask or cannot tell from 0 in a sum.
inline vec exp_v(vec x) {
    constexpr float log2e = 1.44269504088896341f, ln2_hi = 0.693145751953125f,
                    ln2_lo = 1.42860682030941723e-6f;
    constexpr float round_magic = 12582912.0f; // 1.5 * 2^23
    x = vmax(x, splat(-87.3f));
    const vec n = (x * log2e + round_magic) - round_magic;
    const vec r = (x - n * ln2_hi) - n * ln2_lo;
    vec p = splat(1.0f / 720);
    p = vfma(p, r, splat(1.0f / 120));
    p = vfma(p, r, splat(1.0f / 24));
    p = vfma(p, r, splat(1.0f / 6));
    p = vfma(p, r, splat(0.5f));
    p = vfma(p, r, splat(1.0f));
    p = vfma(p, r, splat(1.0f));
    return p * vec((__builtin_convertvector(n, ivec) + 127) << 23);
}

// ---- quantized blocks -> float vectors ------------------------------------------------------

// Bytes to float lanes. (GCC 12 turns __builtin_convertvector of byte vectors into one scalar
// conversion per lane, so the widening is spelled out: intrinsics on AVX2/AVX-512, byte
// shuffles into 32-bit lanes otherwise.)

// Bytes c*VL .. c*VL + VL-1 of src (unsigned) as floats.
template <int c> inline vec u8_chunk(u8x16 src) {
#if PA_SIMD_LANES == 16 && defined(__AVX512F__)
    static_assert(c == 0);
    return vec(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(__m128i(src))));
#elif PA_SIMD_LANES == 8 && defined(__AVX2__)
    const __m128i x = c == 0 ? __m128i(src) : _mm_unpackhi_epi64(__m128i(src), __m128i(src));
    return vec(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(x)));
#else
    static_assert(VL == 4, "generic kernels use 4 lanes");
    constexpr int o = c * 4, z = 16; // index 16 picks a zero byte
    const u8x16 w =
        __builtin_shufflevector(src, u8x16{}, o, z, z, z, o + 1, z, z, z, o + 2, z, z, z, o + 3, z, z, z);
    return __builtin_convertvector(ivec(w), vec);
#endif
}

// VL signed bytes at p as floats.
inline vec i8_chunk(const int8_t* p) {
#if PA_SIMD_LANES == 16 && defined(__AVX512F__)
    return vec(
        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))));
#elif PA_SIMD_LANES == 8 && defined(__AVX2__)
    return vec(
        _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)))));
#else
    int8_t q[4];
    std::memcpy(q, p, sizeof q);
    int32_t b[4];
    for (int l = 0; l < 4; ++l)
        b[l] = q[l];
    ivec v;
    std::memcpy(&v, b, sizeof v);
    return __builtin_convertvector(v, vec);
#endif
}

// Chunk c (of 32 / VL) of a Q4 block: low nibbles are elements 0..15, high nibbles 16..31.
template <int c> inline vec nibbles(u8x16 lo, u8x16 hi) {
    constexpr int per_half = 16 / VL;
    return u8_chunk<c % per_half>(c < per_half ? lo : hi);
}

template <class F, size_t... c> inline void for_chunks(F&& f, std::index_sequence<c...>) {
    (f(std::integral_constant<int, int(c)>{}), ...);
}
constexpr auto chunks = std::make_index_sequence<32 / VL>{};

// The 32 weights of one block as 32 / VL float vectors (scale and offset applied).
[[gnu::always_inline]] inline void unpack_block(pa_type t, const char* blk, vec* w) {
    if (t == PA_TYPE_Q8_0) {
        const auto* b = reinterpret_cast<const block_q8_0*>(blk);
        const vec d = splat(half(b->d));
        for_chunks([&](auto c) { w[c] = i8_chunk(b->qs + c * VL) * d; }, chunks);
        return;
    }
    u8x16 q;
    float d, m;
    if (t == PA_TYPE_Q4_0) {
        const auto* b = reinterpret_cast<const block_q4_0*>(blk);
        std::memcpy(&q, b->qs, 16);
        d = half(b->d);
        m = -8.0f * d;
    } else {
        const auto* b = reinterpret_cast<const block_q4_1*>(blk);
        std::memcpy(&q, b->qs, 16);
        d = half(b->d);
        m = half(b->m);
    }
    const u8x16 lo = q & 0x0f, hi = q >> 4;
    for_chunks([&](auto c) { w[c] = vfma(nibbles<c>(lo, hi), splat(d), splat(m)); }, chunks);
}

// Row of K elements of any weight type into floats.
void dequantize(pa_type t, const char* row, int64_t K, float* out) {
    if (t == PA_TYPE_F32) {
        std::memcpy(out, row, size_t(K) * sizeof(float));
        return;
    }
    if (t == PA_TYPE_F16) {
        const auto* h = reinterpret_cast<const uint16_t*>(row);
        int64_t k = 0;
        for (; k + VL <= K; k += VL)
            store(out + k, load_half(h + k));
        for (; k < K; ++k)
            out[k] = f16_at(h, k);
        return;
    }
    const size_t bb = traits(t).block_bytes;
    vec w[32 / VL];
    for (int64_t b = 0; b < K / 32; ++b) {
        unpack_block(t, row + size_t(b) * bb, w);
        for (int c = 0; c < 32 / VL; ++c)
            store(out + b * 32 + c * VL, w[c]);
    }
}

// ---- dot products, all summed in one order: vector chunks of k in turn, lanes, scalar tail ----

// Register tile: RM rows of A x RN columns of B, one vector accumulator per dot product
// (12 of 16 registers with SSE/AVX2, 16 of 32 with AVX-512).
constexpr int RM = 4;
constexpr int RN = VL == 16 ? 4 : 3;
// Columns of B per block of the gemm (kept in L2 while every row tile passes over them).
constexpr int64_t NB = 48;

// One weight of a float row (the scalar tail of F32 and F16 rows).
inline float weight_at(pa_type t, const char* row, int64_t k) {
    return t == PA_TYPE_F16 ? f16_at(row, k) : f32_at(row, k);
}

// The end of every dot product: lanes in order, then the elements past the last whole vector.
template <class W> inline float finish(vec acc, W&& w, const float* x, int64_t k, int64_t K) {
    float tail = 0;
    for (; k < K; ++k)
        tail = fmadd(w(k), f32_at(x, k), tail);
    return hsum(acc) + tail;
}

template <int rm, int rn>
void tile_f(const float* const* a, const float* const* b, int64_t K, float* c, int64_t ldc) {
    vec acc[rm][rn] = {};
    int64_t k = 0;
    for (; k + VL <= K; k += VL) {
        vec x[rn];
        for (int n = 0; n < rn; ++n)
            x[n] = load(b[n] + k);
        for (int r = 0; r < rm; ++r) {
            const vec w = load(a[r] + k);
            for (int n = 0; n < rn; ++n)
                acc[r][n] = vfma(w, x[n], acc[r][n]);
        }
    }
    for (int r = 0; r < rm; ++r)
        for (int n = 0; n < rn; ++n)
            c[n * ldc + r] = finish(
                acc[r][n], [&](int64_t i) { return a[r][i]; }, b[n], k, K);
}

template <int rm, int rn>
void tile_q(pa_type t, const char* const* a, const float* const* b, int64_t K, float* c, int64_t ldc) {
    vec acc[rm][rn] = {};
    int64_t k = 0;
    if (traits(t).quantized) {
        const size_t bb = traits(t).block_bytes;
        for (int64_t blk = 0; blk < K / 32; ++blk, k += 32)
            for (int r = 0; r < rm; ++r) {
                vec w[32 / VL];
                unpack_block(t, a[r] + size_t(blk) * bb, w);
                for (int q = 0; q < 32 / VL; ++q)
                    for (int n = 0; n < rn; ++n)
                        acc[r][n] = vfma(w[q], load(b[n] + k + q * VL), acc[r][n]);
            }
    } else {
        for (; k + VL <= K; k += VL) {
            vec x[rn];
            for (int n = 0; n < rn; ++n)
                x[n] = load(b[n] + k);
            for (int r = 0; r < rm; ++r) {
                const vec w = t == PA_TYPE_F16 ? load_half(reinterpret_cast<const uint16_t*>(a[r]) + k)
                                               : load(reinterpret_cast<const float*>(a[r]) + k);
                for (int n = 0; n < rn; ++n)
                    acc[r][n] = vfma(w, x[n], acc[r][n]);
            }
        }
    }
    for (int r = 0; r < rm; ++r)
        for (int n = 0; n < rn; ++n)
            c[n * ldc + r] = finish(
                acc[r][n], [&](int64_t i) { return weight_at(t, a[r], i); }, b[n], k, K);
}

// Runs tile<rm, rn> for the rm x rn left at the edges (rm <= RM, rn <= RN).
template <template <int, int> class T, class... Args> void edge_tile(int rm, int rn, Args&&... args) {
    auto by_rn = [&](auto rm_c) {
        constexpr int m = decltype(rm_c)::value;
        switch (rn) {
        case 1:
            return T<m, 1>::run(args...);
        case 2:
            return T<m, 2>::run(args...);
        case 3:
            return T<m, 3>::run(args...);
        default:
            if constexpr (RN >= 4) return T<m, RN>::run(args...);
        }
    };
    switch (rm) {
    case 1:
        return by_rn(std::integral_constant<int, 1>{});
    case 2:
        return by_rn(std::integral_constant<int, 2>{});
    case 3:
        return by_rn(std::integral_constant<int, 3>{});
    default:
        return by_rn(std::integral_constant<int, RM>{});
    }
}
template <int rm, int rn> struct run_f {
    static void run(const float* const* a, const float* const* b, int64_t K, float* c, int64_t ldc) {
        tile_f<rm, rn>(a, b, K, c, ldc);
    }
};
template <int rm, int rn> struct run_q {
    static void run(pa_type t, const char* const* a, const float* const* b, int64_t K, float* c,
                    int64_t ldc) {
        tile_q<rm, rn>(t, a, b, K, c, ldc);
    }
};

void dequantize_rows(pa_type t, const char* a, size_t row_bytes, int64_t rows, int64_t K, float* out) {
    for (int64_t r = 0; r < rows; ++r)
        dequantize(t, a + size_t(r) * row_bytes, K, out + r * K);
}

void gemm(const float* a, int64_t lda, int64_t M, const float* b, int64_t ldb, int64_t N, int64_t K, float* c,
          int64_t ldc) {
    for (int64_t n0 = 0; n0 < N; n0 += NB) {
        const int64_t n1 = std::min(N, n0 + NB);
        for (int64_t m = 0; m < M; m += RM) {
            const int rm = int(std::min<int64_t>(RM, M - m));
            const float* ar[RM];
            for (int r = 0; r < rm; ++r)
                ar[r] = a + (m + r) * lda;
            for (int64_t n = n0; n < n1; n += RN) {
                const int rn = int(std::min<int64_t>(RN, n1 - n));
                const float* bc[RN];
                for (int j = 0; j < rn; ++j)
                    bc[j] = b + (n + j) * ldb;
                if (rm == RM && rn == RN)
                    tile_f<RM, RN>(ar, bc, K, c + n * ldc + m, ldc);
                else
                    edge_tile<run_f>(rm, rn, ar, bc, K, c + n * ldc + m, ldc);
            }
        }
    }
}

void dot_rows(pa_type t, const char* a, size_t row_bytes, int64_t M, int64_t K, const float* b, int64_t ldb,
              int64_t N, float* c, int64_t ldc) {
    for (int64_t m = 0; m < M; m += RM) {
        const int rm = int(std::min<int64_t>(RM, M - m));
        const char* ar[RM];
        for (int r = 0; r < rm; ++r)
            ar[r] = a + size_t(m + r) * row_bytes;
        for (int64_t n = 0; n < N; n += RN) {
            const int rn = int(std::min<int64_t>(RN, N - n));
            const float* bc[RN];
            for (int j = 0; j < rn; ++j)
                bc[j] = b + (n + j) * ldb;
            if (rm == RM && rn == RN)
                tile_q<RM, RN>(t, ar, bc, K, c + n * ldc + m, ldc);
            else
                edge_tile<run_q>(rm, rn, t, ar, bc, K, c + n * ldc + m, ldc);
        }
    }
}

// ---- attention: dot-product scores, online softmax over blocks of BK keys ----------------

constexpr int64_t BK = 2 * VL;

inline float hmax(vec v) {
    float m = v[0];
    for (int l = 1; l < VL; ++l)
        m = std::max(m, v[l]);
    return m;
}

// Lane shuffles of two vectors by a compile-time index table (indices into a ++ b).
template <class F, size_t... I> inline vec shuffle2(vec a, vec b, F idx, std::index_sequence<I...>) {
    return __builtin_shufflevector(a, b, idx(int(I))...);
}
template <class F> inline vec shuffle2(vec a, vec b, F idx) {
    return shuffle2(a, b, idx, std::make_index_sequence<VL>{});
}

// The lane sums of four vectors, each summed by halving: lane i + lane i + VL/2, then the
// same on the first half, and so on (the order hsum_tree uses for one vector). Result lane
// k * VL/4 holds the sum of a[k].
inline vec reduce4(vec a0, vec a1, vec a2, vec a3) {
    constexpr int H = VL / 2, Q = VL / 4;
    // halves: lanes [0, H) of p fold a0, lanes [H, VL) fold a1
    constexpr auto lo = [](int i) { return i < H ? i : VL + i - H; };
    constexpr auto hi = [](int i) { return i < H ? i + H : VL + i; };
    const vec p = shuffle2(a0, a1, lo) + shuffle2(a0, a1, hi);
    const vec q = shuffle2(a2, a3, lo) + shuffle2(a2, a3, hi);
    // quarters: fold the halves of each half
    constexpr auto qlo = [](int i) { return (i / Q) % 2 * H + (i / H) * VL + i % Q; };
    constexpr auto qhi = [](int i) { return (i / Q) % 2 * H + (i / H) * VL + i % Q + Q; };
    vec r = shuffle2(p, q, qlo) + shuffle2(p, q, qhi);
    // within each quarter: halving to its first lane
    if constexpr (Q >= 2) {
        constexpr auto f2 = [](int i) { return i % Q < Q / 2 ? i + Q / 2 : i; };
        r = r + shuffle2(r, r, f2);
    }
    if constexpr (Q >= 4) {
        constexpr auto f4 = [](int i) { return i % Q < Q / 4 ? i + Q / 4 : i; };
        r = r + shuffle2(r, r, f4);
    }
    return r;
}

// Chunk c (VL elements from element c * VL) of a key or value row.
inline vec row_chunk(const char* row, pa_type t, int64_t e) {
    return t == PA_TYPE_F16 ? load_half(reinterpret_cast<const uint16_t*>(row) + e)
                            : load(reinterpret_cast<const float*>(row) + e);
}
inline float row_elem(const char* row, pa_type t, int64_t e) {
    return t == PA_TYPE_F16 ? f16_at(row, e) : f32_at(row, e);
}

template <int R>
void attn_rows_impl(const attn_kv& kv, const float* q, const int32_t* limit, float* out, float* scratch) {
    const int64_t d = kv.d, dv = d / VL * VL; // whole vectors of a row, then a scalar tail
    float* o = scratch;                       // [R][d] running weighted sums of values
    float* pb = o + R * d;                    // [R][BK] scores, then probabilities, of the current block
    std::fill(o, o + R * d, 0.0f);
    // masked keys and the initial maximum: -inf, as scores can lie anywhere in the float range
    // (a huge scale); a weight is exactly 0 for a score of -inf and NaN for a NaN one
    constexpr float lowest = -INFINITY;
    float mx[R], sum[R];
    int64_t n_keys = 0;
    for (int r = 0; r < R; ++r) {
        mx[r] = lowest;
        sum[r] = 0;
        n_keys = std::max<int64_t>(n_keys, limit[r]);
    }
    ivec lane;
    for (int l = 0; l < VL; ++l)
        lane[l] = l;
    for (int64_t j0 = 0; j0 < n_keys; j0 += BK) {
        const int64_t bk = std::min(BK, n_keys - j0);
        // scores, four keys at a time (keys past n_keys repeat the last one; masked below)
        for (int64_t j = 0; j < bk; j += 4) {
            const char* kr[4];
            for (int u = 0; u < 4; ++u)
                kr[u] = kv.k + size_t(std::min(j0 + j + u, n_keys - 1)) * kv.k_row;
            vec acc[R][4];
#pragma GCC unroll 16
            for (int x = 0; x < R * 4; ++x)
                acc[x / 4][x % 4] = vec{};
            for (int64_t e = 0; e < dv; e += VL) {
                vec kc[4];
#pragma GCC unroll 4
                for (int u = 0; u < 4; ++u)
                    kc[u] = row_chunk(kr[u], kv.k_type, e);
#pragma GCC unroll 4
                for (int r = 0; r < R; ++r) {
                    const vec qc = load(q + r * d + e);
#pragma GCC unroll 4
                    for (int u = 0; u < 4; ++u)
                        acc[r][u] = vfma(qc, kc[u], acc[r][u]);
                }
            }
            for (int r = 0; r < R; ++r) {
                const float* qr = q + r * d;
                const vec sums = reduce4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
                if (dv == d) { // lanes 0, VL/4, VL/2, 3VL/4 -> four scores (BK has room for all four)
                    const vec c = shuffle2(sums, sums, [](int i) { return i < 4 ? i * (VL / 4) : 0; });
                    std::memcpy(pb + r * BK + j, &c, 4 * sizeof(float));
                    continue;
                }
                for (int u = 0; u < 4 && j + u < bk; ++u) {
                    float tail = 0;
                    for (int64_t e = dv; e < d; ++e)
                        tail = fmadd(qr[e], row_elem(kr[u], kv.k_type, e), tail);
                    pb[r * BK + j + u] = sums[u * (VL / 4)] + tail;
                }
            }
        }
        // per query: causal mask, new maximum, rescaled sums, probabilities
        for (int r = 0; r < R; ++r) {
            const ivec keep0 = lane + int32_t(j0) < limit[r], keep1 = lane + int32_t(j0 + VL) < limit[r];
            const vec s0 = select(keep0, load(pb + r * BK), splat(lowest));
            const vec s1 = select(keep1, load(pb + r * BK + VL), splat(lowest));
            const float m_new = std::max(mx[r], hmax(vmax(s0, s1)));
            // nothing accumulated yet while the maximum is -inf (and +inf - +inf is NaN: the row's)
            const float corr = mx[r] == lowest ? 0.0f : exp_v(splat(mx[r] - m_new))[0];
            mx[r] = m_new;
            // softmax's own answer on non-finite scores: a NaN score (NaN inputs, or +inf - +inf)
            // makes the row NaN and a score of -inf weighs 0 (exp_v alone gives e^-87.3 to both)
            const vec x0 = s0 - m_new, x1 = s1 - m_new;
            const ivec live0 = s0 != splat(lowest), live1 = s1 != splat(lowest); // masked lanes hold -inf
            const vec p0 = select(live0, select(x0 != x0, x0, exp_v(x0)), vec{}),
                      p1 = select(live1, select(x1 != x1, x1, exp_v(x1)), vec{});
            sum[r] = fmadd(sum[r], corr, hsum(p0 + p1));
            store(pb + r * BK, p0);
            store(pb + r * BK + VL, p1);
            for (int64_t i = 0; i < d; ++i)
                o[r * d + i] *= corr;
        }
        // o[r] += sum_j p[r][j] * v[j], j in order
        int64_t i = 0;
        for (; i + 2 * VL <= d; i += 2 * VL) {
            vec acc[R][2];
            for (int r = 0; r < R; ++r) {
                acc[r][0] = load(o + r * d + i);
                acc[r][1] = load(o + r * d + i + VL);
            }
            for (int64_t j = 0; j < bk; ++j) {
                const char* vr = kv.v + size_t(j0 + j) * kv.v_row;
                const vec v0 = row_chunk(vr, kv.v_type, i), v1 = row_chunk(vr, kv.v_type, i + VL);
                for (int r = 0; r < R; ++r) {
                    const vec p = splat(pb[r * BK + j]);
                    acc[r][0] = vfma(p, v0, acc[r][0]);
                    acc[r][1] = vfma(p, v1, acc[r][1]);
                }
            }
            for (int r = 0; r < R; ++r) {
                store(o + r * d + i, acc[r][0]);
                store(o + r * d + i + VL, acc[r][1]);
            }
        }
        for (; i < d; ++i)
            for (int r = 0; r < R; ++r) {
                float acc = o[r * d + i];
                for (int64_t j = 0; j < bk; ++j)
                    acc =
                        fmadd(pb[r * BK + j], row_elem(kv.v + size_t(j0 + j) * kv.v_row, kv.v_type, i), acc);
                o[r * d + i] = acc;
            }
    }
    for (int r = 0; r < R; ++r)
        for (int64_t i = 0; i < d; ++i)
            out[r * d + i] = o[r * d + i] / sum[r];
}

void attn_rows(const attn_kv& kv, const float* q, const int32_t* limit, int rows, float* out,
               float* scratch) {
    switch (rows) {
    case 1:
        return attn_rows_impl<1>(kv, q, limit, out, scratch);
    case 2:
        return attn_rows_impl<2>(kv, q, limit, out, scratch);
    case 3:
        return attn_rows_impl<3>(kv, q, limit, out, scratch);
    default:
        return attn_rows_impl<attn_max_rows>(kv, q, limit, out, scratch);
    }
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
    int64_t i = 0;
    for (; i + VL <= n; i += VL)
        store(dst + i, load_half(src + i));
    for (; i < n; ++i)
        dst[i] = f16_at(src, i);
}

} // namespace

const simd_kernels& kernels() {
#if defined(__F16C__)
    constexpr bool f16_vectors = true;
#else
    constexpr bool f16_vectors = false;
#endif
    static const simd_kernels k{PA_SIMD_NAME, BK,       f16_vectors, dequantize_rows,
                                gemm,         dot_rows, attn_rows,   f16_to_f32};
    return k;
}

} // namespace pa::cpu::PA_SIMD_NS
