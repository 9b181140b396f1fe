// test_cpu_simd.cpp - every CPU kernel variant this machine runs (generic, avx2, avx512: see
// backend/cpu/simd.h) against an independent reference: mul_mat against a double-precision sum
// over the dequantized weights (both the in-place dot path of few columns and the packed
// tile path of many), flash_attn_ext against a plain softmax in double, for every weight type,
// odd sizes, broadcast slices, GQA, causal offsets and padding lanes.
#include <gtest/gtest.h>

#include <cmath>

#include "backend_ops_util.h"
#include "pa/error.h"
#include "pa/ops.h"

namespace pa {
namespace {

using test::get_values;
using test::random_values;
using test::set_values;

std::vector<std::string> variants() {
    // the backend accepts the option for exactly the variants this CPU runs
    std::vector<std::string> v;
    for (const char* n : {"generic", "avx2", "avx512"}) {
        auto b = make_cpu_backend(2);
        try {
            b->set_option("simd", n);
            v.emplace_back(n);
        } catch (const error&) {
        }
    }
    return v;
}

class CpuSimd : public ::testing::TestWithParam<std::string> {
  protected:
    std::unique_ptr<backend> cpu = make_cpu_backend(2);
    context ctx;
    void SetUp() override { cpu->set_option("simd", GetParam()); }
    std::vector<float> run(tensor* out) {
        graph g = build_forward({out});
        test::run_on_host(ctx, g, *cpu);
        return get_values(out);
    }
};

// sum_k a[k, m] b[k, n] in double over what a holds (its dequantized values)
std::vector<double> matmul_reference(const std::vector<float>& a, const std::vector<float>& b, int64_t K,
                                     int64_t M, int64_t N) {
    std::vector<double> c(size_t(M * N));
    for (int64_t n = 0; n < N; ++n)
        for (int64_t m = 0; m < M; ++m) {
            double s = 0;
            for (int64_t k = 0; k < K; ++k)
                s += double(a[size_t(m * K + k)]) * double(b[size_t(n * K + k)]);
            c[size_t(n * M + m)] = s;
        }
    return c;
}

TEST_P(CpuSimd, MulMatEveryTypeBothPaths) {
    const int64_t M = 37;
    for (pa_type t : {PA_TYPE_F32, PA_TYPE_F16, PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1}) {
        const int64_t K = traits(t).quantized ? 96 : 172; // float rows: not a whole number of vectors
        for (int64_t N : {1, 3, 5, 8, 9, 13, 40}) {       // <= 8: rows read in place; more: packed tiles
            tensor* a = ctx.new_tensor(t, {K, M});
            tensor* b = ctx.new_tensor(PA_TYPE_F32, {K, N});
            set_values(a, random_values(size_t(K * M), 11 + uint32_t(N)));
            set_values(b, random_values(size_t(K * N), 12 + uint32_t(N)));
            const std::vector<float> got = run(mul_mat(ctx, a, b));
            const std::vector<double> want = matmul_reference(get_values(a), get_values(b), K, M, N);
            double max_err = 0;
            for (size_t i = 0; i < want.size(); ++i)
                max_err = std::max(max_err, std::fabs(got[i] - want[i]));
            EXPECT_LT(max_err, 2e-5 * std::sqrt(double(K))) << type_name(t) << " N=" << N;
        }
    }
}

TEST_P(CpuSimd, MulMatBroadcastSlicesAndStridedB) {
    // a [K, M, 2, 1] against b [K, N, 4, 1] (each a slice serves two b slices), b transposed
    const int64_t K = 64, M = 19, N = 11;
    tensor* a = ctx.new_tensor(PA_TYPE_Q4_1, {K, M, 2, 1});
    tensor* bt = ctx.new_tensor(PA_TYPE_F32, {N, K, 4, 1});
    set_values(a, random_values(size_t(K * M * 2), 3));
    set_values(bt, random_values(size_t(K * N * 4), 4));
    tensor* b = transpose(ctx, bt); // [K, N, 4, 1], k not contiguous
    const std::vector<float> got = run(mul_mat(ctx, a, b));
    const std::vector<float> av = get_values(a), btv = get_values(bt);
    for (int64_t s = 0; s < 4; ++s) {
        std::vector<float> as(av.begin() + (s / 2) * K * M, av.begin() + (s / 2 + 1) * K * M),
            bs(size_t(K * N));
        for (int64_t n = 0; n < N; ++n)
            for (int64_t k = 0; k < K; ++k)
                bs[size_t(n * K + k)] = btv[size_t(s * K * N + k * N + n)];
        const std::vector<double> want = matmul_reference(as, bs, K, M, N);
        for (size_t i = 0; i < want.size(); ++i)
            ASSERT_NEAR(got[size_t(s * M * N) + i], want[i], 2e-4) << s;
    }
}

TEST_P(CpuSimd, MulMatColumnDoesNotDependOnTheBatch) {
    // prefill at once or in chunks must give identical numbers (an F16 KV cache would amplify a
    // last-bit difference): every column alone, and in a batch of 8, equals the batch of 40
    const int64_t K = 160, M = 21, N = 40;
    for (pa_type t : {PA_TYPE_Q4_1, PA_TYPE_Q8_0, PA_TYPE_F16, PA_TYPE_F32}) {
        tensor* a = ctx.new_tensor(t, {K, M});
        tensor* b = ctx.new_tensor(PA_TYPE_F32, {K, N});
        set_values(a, random_values(size_t(K * M), 21));
        const std::vector<float> bv = random_values(size_t(K * N), 22);
        set_values(b, bv);
        const std::vector<float> all = run(mul_mat(ctx, a, b));
        for (int64_t n0 : {int64_t(0), int64_t(17), int64_t(39)}) {
            for (int64_t cols : {int64_t(1), int64_t(8)}) {
                const int64_t nc = std::min(cols, N - n0);
                tensor* bs = ctx.new_tensor(PA_TYPE_F32, {K, nc});
                set_values(bs, std::vector<float>(bv.begin() + n0 * K, bv.begin() + (n0 + nc) * K));
                const std::vector<float> part = run(mul_mat(ctx, a, bs));
                for (int64_t i = 0; i < nc * M; ++i)
                    ASSERT_EQ(part[size_t(i)], all[size_t(n0 * M + i)]) << type_name(t);
            }
        }
    }
}

// softmax(scale q k^T) v per (token, head) in double, causal from n_past
std::vector<double> attention_reference(const std::vector<float>& q, const std::vector<float>& k,
                                        const std::vector<float>& v, int64_t d, int64_t N, int64_t H,
                                        int64_t n_kv, int64_t H_kv, float scale, int64_t n_past,
                                        bool causal) {
    std::vector<double> out(size_t(d * H * N));
    for (int64_t t = 0; t < N; ++t)
        for (int64_t h = 0; h < H; ++h) {
            const int64_t hk = h / (H / H_kv);
            const int64_t keys = causal ? std::min(n_kv, n_past + t + 1) : n_kv;
            std::vector<double> s(static_cast<size_t>(keys));
            double mx = -1e300, sum = 0;
            for (int64_t j = 0; j < keys; ++j) {
                double dot = 0;
                for (int64_t i = 0; i < d; ++i)
                    dot +=
                        double(q[size_t((h * N + t) * d + i)]) * double(k[size_t((hk * n_kv + j) * d + i)]);
                s[size_t(j)] = scale * dot;
                mx = std::max(mx, s[size_t(j)]);
            }
            for (double& x : s)
                sum += x = std::exp(x - mx);
            for (int64_t i = 0; i < d; ++i) {
                double o = 0;
                for (int64_t j = 0; j < keys; ++j)
                    o += s[size_t(j)] * double(v[size_t((hk * n_kv + j) * d + i)]);
                out[size_t((t * H + h) * d + i)] = o / sum;
            }
        }
    return out;
}

TEST_P(CpuSimd, FlashAttentionAgainstDoubleSoftmax) {
    struct shape {
        int64_t d, N, H, H_kv, n_kv, n_past;
        bool causal;
        pa_type kv;
    };
    const shape shapes[] = {
        {64, 1, 9, 3, 70, 69, true, PA_TYPE_F16},   // decoding, GQA 3
        {64, 37, 4, 2, 100, 63, true, PA_TYPE_F16}, // chunk after a prefix, more rows than a tile
        {32, 50, 2, 2, 50, 0, true, PA_TYPE_F32},   // prefill from 0
        {40, 5, 3, 1, 33, 0, false, PA_TYPE_F16},   // d not a multiple of the vector, not causal
        {6, 3, 1, 1, 9, 6, true, PA_TYPE_F32},      // tiny head dim
    };
    for (const shape& s : shapes) {
        tensor* q = ctx.new_tensor(PA_TYPE_F32, {s.d, s.N, s.H});
        tensor* k = ctx.new_tensor(s.kv, {s.d, s.n_kv, s.H_kv});
        tensor* v = ctx.new_tensor(s.kv, {s.d, s.n_kv, s.H_kv});
        set_values(q, random_values(size_t(s.d * s.N * s.H), 5, -2, 2));
        set_values(k, random_values(size_t(s.d * s.n_kv * s.H_kv), 6, -2, 2));
        set_values(v, random_values(size_t(s.d * s.n_kv * s.H_kv), 7));
        const float scale = 1.0f / std::sqrt(float(s.d));
        const std::vector<float> got = run(flash_attn_ext(ctx, q, k, v, scale, s.n_past, s.causal));
        const std::vector<double> want =
            attention_reference(get_values(q), get_values(k), get_values(v), s.d, s.N, s.H, s.n_kv, s.H_kv,
                                scale, s.n_past, s.causal);
        ASSERT_EQ(got.size(), want.size());
        double max_err = 0;
        for (size_t i = 0; i < want.size(); ++i)
            max_err = std::max(max_err, std::fabs(got[i] - want[i]));
        EXPECT_LT(max_err, 2e-5) << "d " << s.d << " N " << s.N << " H " << s.H << "/" << s.H_kv << " n_kv "
                                 << s.n_kv;
    }
}

TEST_P(CpuSimd, FlashAttentionRowDoesNotDependOnTheBatch) {
    // a decoding step (one token, the F16 cache read in place) equals the same token's row of a
    // prefill of 40 tokens (K and V converted first): bit for bit
    const int64_t d = 64, H = 6, H_kv = 2, n_kv = 90, N = 40, n_past = n_kv - N;
    tensor* q = ctx.new_tensor(PA_TYPE_F32, {d, N, H});
    tensor* k = ctx.new_tensor(PA_TYPE_F16, {d, n_kv, H_kv});
    tensor* v = ctx.new_tensor(PA_TYPE_F16, {d, n_kv, H_kv});
    const std::vector<float> qv = random_values(size_t(d * N * H), 31, -2, 2);
    set_values(q, qv);
    set_values(k, random_values(size_t(d * n_kv * H_kv), 32, -2, 2));
    set_values(v, random_values(size_t(d * n_kv * H_kv), 33));
    const float scale = 0.125f;
    const std::vector<float> all = run(flash_attn_ext(ctx, q, k, v, scale, n_past, true));
    for (int64_t t : {int64_t(0), int64_t(17), N - 1}) {
        tensor* q1 = ctx.new_tensor(PA_TYPE_F32, {d, 1, H});
        std::vector<float> row(size_t(d * H));
        for (int64_t h = 0; h < H; ++h)
            for (int64_t i = 0; i < d; ++i)
                row[size_t(h * d + i)] = qv[size_t((h * N + t) * d + i)];
        set_values(q1, row);
        tensor* kk = view_3d(ctx, k, d, n_past + t + 1, H_kv, k->nb[1], k->nb[2], 0);
        tensor* vv = view_3d(ctx, v, d, n_past + t + 1, H_kv, v->nb[1], v->nb[2], 0);
        const std::vector<float> one = run(flash_attn_ext(ctx, q1, kk, vv, scale, n_past + t, true));
        for (int64_t i = 0; i < d * H; ++i)
            ASSERT_EQ(one[size_t(i)], all[size_t(t * d * H + i)]) << "token " << t;
    }
}

INSTANTIATE_TEST_SUITE_P(Variants, CpuSimd, ::testing::ValuesIn(variants()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

TEST(CpuSimdOption, UnknownVariantIsAClearError) {
    auto cpu = make_cpu_backend(1);
    EXPECT_THROW(cpu->set_option("simd", "sse9"), error);
    EXPECT_NE(cpu->description().find("threads"), std::string::npos);
}

} // namespace
} // namespace pa
