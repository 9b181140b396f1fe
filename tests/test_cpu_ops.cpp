// test_cpu_ops.cpp - the CPU reference backend against hand-computed and closed-form cases,
// one or more per op. These are what makes the CPU backend a trustworthy reference for the
// backend-vs-CPU suite (test_backend_ops.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "backend_ops_util.h"
#include "pa/error.h"
#include "pa/ops.h"

namespace pa {
namespace {

using test::get_values;
using test::set_values;

class CpuOps : public ::testing::Test {
protected:
    std::unique_ptr<backend> cpu = make_cpu_backend(2);
    context ctx;

    std::vector<float> run(tensor* out) {
        graph g = build_forward({out});
        test::run_on_host(ctx, g, *cpu);
        return get_values(out);
    }
    tensor* f32(std::initializer_list<int64_t> ne, const std::vector<float>& v) {
        tensor* t = ctx.new_tensor(PA_TYPE_F32, ne);
        set_values(t, v);
        return t;
    }
};

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-6f) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

TEST_F(CpuOps, GetRowsF32AndF16) {
    tensor* a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    tensor* ids = ctx.new_tensor(PA_TYPE_I32, {3});
    test::set_i32(ids, {2, 0, 2});
    expect_near_all(run(get_rows(ctx, a, ids)), {5, 6, 1, 2, 5, 6}, 0.0f);

    tensor* h = ctx.new_tensor(PA_TYPE_F16, {2, 3});
    set_values(h, {0.5f, -1.5f, 2.0f, 3.0f, 1024.0f, -0.25f});
    tensor* ids2 = ctx.new_tensor(PA_TYPE_I32, {1});
    test::set_i32(ids2, {2});
    expect_near_all(run(get_rows(ctx, h, ids2)), {1024.0f, -0.25f}, 0.0f);
}

TEST_F(CpuOps, GetRowsQuantizedHandBlocks) {
    // Q8_0 block: d = 0.5 (f16 0x3800), qs[i] = i - 16 -> x_i = 0.5 (i - 16)
    tensor* q8 = ctx.new_tensor(PA_TYPE_Q8_0, {32, 2});
    auto* b8 = static_cast<block_q8_0*>(q8->data);
    for (int r = 0; r < 2; ++r) {
        b8[r].d = 0x3800;
        for (int i = 0; i < 32; ++i) b8[r].qs[i] = int8_t(r == 1 ? i - 16 : 0);
    }
    // Q4_0 block: d = 2 (0x4000), nibbles lo = i, hi = 15 - i -> x_i = 2 (i - 8), x_{16+i} = 2 (7 - i)
    tensor* q4 = ctx.new_tensor(PA_TYPE_Q4_0, {32, 1});
    auto* b4 = static_cast<block_q4_0*>(q4->data);
    b4[0].d = 0x4000;
    for (int i = 0; i < 16; ++i) b4[0].qs[i] = uint8_t(i | ((15 - i) << 4));
    // Q4_1 block: d = 0.25 (0x3400), m = -1 (0xbc00), nibble lo = i, hi = i -> x = 0.25 i - 1
    tensor* q41 = ctx.new_tensor(PA_TYPE_Q4_1, {32, 1});
    auto* b41 = static_cast<block_q4_1*>(q41->data);
    b41[0].d = 0x3400;
    b41[0].m = 0xbc00;
    for (int i = 0; i < 16; ++i) b41[0].qs[i] = uint8_t(i | (i << 4));

    tensor* id1 = ctx.new_tensor(PA_TYPE_I32, {1});
    test::set_i32(id1, {1});
    tensor* id0 = ctx.new_tensor(PA_TYPE_I32, {1});
    test::set_i32(id0, {0});
    std::vector<float> w8(32), w4(32), w41(32);
    for (int i = 0; i < 32; ++i) w8[i] = 0.5f * float(i - 16);
    for (int i = 0; i < 16; ++i) {
        w4[i] = 2.0f * float(i - 8);
        w4[16 + i] = 2.0f * float(7 - i);
        w41[i] = w41[16 + i] = 0.25f * float(i) - 1.0f;
    }
    expect_near_all(run(get_rows(ctx, q8, id1)), w8, 0.0f);
    expect_near_all(run(get_rows(ctx, q4, id0)), w4, 0.0f);
    expect_near_all(run(get_rows(ctx, q41, id0)), w41, 0.0f);
}

TEST_F(CpuOps, GetRowsOutOfRangeIdThrows) {
    tensor* a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    tensor* ids = ctx.new_tensor(PA_TYPE_I32, {1});
    test::set_i32(ids, {3});
    EXPECT_THROW(run(get_rows(ctx, a, ids)), error);
}

TEST_F(CpuOps, AddMulBroadcast) {
    tensor* a = f32({3, 2}, {1, 2, 3, 4, 5, 6});
    tensor* b = f32({3, 1}, {10, 20, 30});
    expect_near_all(run(add(ctx, a, b)), {11, 22, 33, 14, 25, 36}, 0.0f);
    tensor* c = ctx.new_tensor(PA_TYPE_F16, {1, 2});
    set_values(c, {2.0f, -0.5f});
    expect_near_all(run(mul(ctx, a, c)), {2, 4, 6, -2, -2.5f, -3}, 0.0f);
}

TEST_F(CpuOps, ScaleSiluSwiglu) {
    tensor* a = f32({3}, {0.0f, 1.0f, -2.0f});
    expect_near_all(run(scale(ctx, a, -0.5f)), {0.0f, -0.5f, 1.0f}, 0.0f);
    const float s1 = 1.0f / (1.0f + std::exp(-1.0f)), s2 = -2.0f / (1.0f + std::exp(2.0f));
    expect_near_all(run(silu(ctx, a)), {0.0f, s1, s2});
    tensor* b = f32({3}, {5.0f, 3.0f, 0.5f});
    expect_near_all(run(swiglu(ctx, a, b)), {0.0f, 3.0f * s1, 0.5f * s2});
}

TEST_F(CpuOps, RmsNorm) {
    // row [3, 4]: mean of squares 12.5
    tensor* a = f32({2, 2}, {3, 4, 0, 2});
    const float eps = 1e-3f;
    const float i1 = 1.0f / std::sqrt(12.5f + eps), i2 = 1.0f / std::sqrt(2.0f + eps);
    expect_near_all(run(rms_norm(ctx, a, eps)), {3 * i1, 4 * i1, 0, 2 * i2});
}

TEST_F(CpuOps, MulMat2x3By3x2) {
    tensor* a = f32({3, 2}, {1, 2, 3, 4, 5, 6});    // rows a_0 = (1,2,3), a_1 = (4,5,6)
    tensor* b = f32({3, 2}, {7, 8, 9, 10, 11, 12}); // cols b_0 = (7,8,9), b_1 = (10,11,12)
    // dst[m, n] = a_m . b_n, m fastest
    expect_near_all(run(mul_mat(ctx, a, b)), {50, 122, 68, 167}, 0.0f);
}

TEST_F(CpuOps, MulMatBroadcastAndTransposedB) {
    // a [2, 1, 1] broadcast over b's 2 slices; b given transposed (a non-contiguous view)
    tensor* a = f32({2, 1}, {1, -1});
    tensor* bt = f32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}); // slice s: [[1,2],[3,4]] + 4s
    tensor* b = transpose(ctx, bt);                        // b[k, n] = bt[n, k]
    // slice 0: column n = (bt[n,0], bt[n,1]) = (1,3),(2,4): a.(1,3) = -2, a.(2,4) = -2
    expect_near_all(run(mul_mat(ctx, a, b)), {-2, -2, -2, -2}, 0.0f);
    tensor* a2 = f32({2, 1, 2}, {1, 0, 0, 1}); // slice 0 picks k=0, slice 1 picks k=1
    tensor* b2 = f32({2, 3, 4}, test::random_values(24, 7));
    std::vector<float> bv = get_values(b2), got = run(mul_mat(ctx, a2, b2));
    ASSERT_EQ(got.size(), 12u);
    for (int s = 0; s < 4; ++s) // b slice s uses a slice s / 2
        for (int n = 0; n < 3; ++n) EXPECT_EQ(got[s * 3 + n], bv[(s * 3 + n) * 2 + s / 2]);
}

TEST_F(CpuOps, MulMatQuantizedA) {
    tensor* a = ctx.new_tensor(PA_TYPE_Q8_0, {32, 1});
    auto* blk = static_cast<block_q8_0*>(a->data);
    blk->d = 0x3c00; // 1.0
    for (int i = 0; i < 32; ++i) blk->qs[i] = int8_t(i % 3 - 1);
    std::vector<float> ones(32, 1.0f);
    float want = 0;
    for (int i = 0; i < 32; ++i) want += float(i % 3 - 1);
    expect_near_all(run(mul_mat(ctx, a, f32({32, 1}, ones))), {want}, 0.0f);
}

TEST_F(CpuOps, RopeNormalAndNeox) {
    // one head of d = 6, n_dims = 4 (dims 4, 5 pass through), two tokens at n_past = 5
    const std::vector<float> x = {1, 0, 0, 1, 7, 8, 1, 0, 0, 1, 7, 8};
    const float theta = 10000.0f;
    for (int mode : {rope_mode_normal, rope_mode_neox}) {
        tensor* a = f32({6, 1, 2}, x);
        std::vector<float> got = run(rope(ctx, a, 4, mode, theta, 5));
        for (int t = 0; t < 2; ++t) {
            const double p = 5 + t, a0 = p, a1 = p / 100.0; // theta^(-2i/4) = 1, 1/100
            const float* g = &got[size_t(t) * 6];
            if (mode == rope_mode_normal) { // pairs (0,1), (2,3): (1,0) -> (c,s); (0,1) -> (-s,c)
                EXPECT_NEAR(g[0], std::cos(a0), 1e-6);
                EXPECT_NEAR(g[1], std::sin(a0), 1e-6);
                EXPECT_NEAR(g[2], -std::sin(a1), 1e-6);
                EXPECT_NEAR(g[3], std::cos(a1), 1e-6);
            } else { // pairs (0,2) at a0: (1,0); (1,3) at a1: (0,1)
                EXPECT_NEAR(g[0], std::cos(a0), 1e-6);
                EXPECT_NEAR(g[2], std::sin(a0), 1e-6);
                EXPECT_NEAR(g[1], -std::sin(a1), 1e-6);
                EXPECT_NEAR(g[3], std::cos(a1), 1e-6);
            }
            EXPECT_EQ(g[4], 7.0f);
            EXPECT_EQ(g[5], 8.0f);
        }
    }
}

TEST_F(CpuOps, SoftMaxScaleAndMask) {
    tensor* a = f32({3, 2}, {1, 2, 3, 0, 0, 0});
    const double e = std::numbers::e, z = 1 + e + e * e;
    expect_near_all(run(soft_max_ext(ctx, a, nullptr, 1.0f)),
                    {float(1 / z), float(e / z), float(e * e / z), 1 / 3.f, 1 / 3.f, 1 / 3.f});
    tensor* mask = ctx.new_tensor(PA_TYPE_F16, {3, 3}); // more mask rows than a has: allowed
    set_values(mask, {0, -INFINITY, 0, -INFINITY, -INFINITY, 5, 0, 0, 0});
    tensor* a2 = f32({3, 2}, {1, 2, 3, 0, 0, 0});
    const double z2 = std::exp(2.0) + std::exp(6.0);
    expect_near_all(run(soft_max_ext(ctx, a2, mask, 2.0f)),
                    {float(std::exp(2.0) / z2), 0, float(std::exp(6.0) / z2), 0, 0, 1});
}

TEST_F(CpuOps, CpyConvertsAndTransposes) {
    tensor* a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    tensor* t = cont(ctx, transpose(ctx, a), PA_TYPE_F16); // [3, 2]: rows (1,3,5), (2,4,6)
    std::vector<float> got = run(t);
    expect_near_all(got, {1, 3, 5, 2, 4, 6}, 0.0f);
    EXPECT_EQ(static_cast<uint16_t*>(t->data)[1], 0x4200); // 3.0 in f16

    // cpy into a strided view of a bigger tensor (every other row)
    tensor* big = ctx.new_tensor(PA_TYPE_F32, {2, 6});
    tensor* dst = view_2d(ctx, big, 2, 3, 2 * big->nb[1], big->nb[1]);
    run(cpy(ctx, a, dst));
    expect_near_all(get_values(big), {0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6}, 0.0f);

    // contiguous reshaping copy [6] -> [3, 2]
    tensor* flat = f32({6}, {1, 2, 3, 4, 5, 6});
    tensor* d2 = ctx.new_tensor(PA_TYPE_F32, {3, 2});
    run(cpy(ctx, flat, d2));
    expect_near_all(get_values(d2), {1, 2, 3, 4, 5, 6}, 0.0f);
}

TEST_F(CpuOps, CpyQuantizesRows) {
    // values 8i - 121 (i = 0..31) reach amax 127 -> d = 127/127 = 1 (f16 0x3c00), q_i = the value
    std::vector<float> v(32);
    for (int i = 0; i < 32; ++i) v[i] = float(8 * i - 121);
    tensor* q = cont(ctx, f32({32}, v), PA_TYPE_Q8_0);
    run(q);
    const auto* blk = static_cast<const block_q8_0*>(q->data);
    EXPECT_EQ(blk->d, 0x3c00);
    for (int i = 0; i < 32; ++i) EXPECT_EQ(blk->qs[i], int8_t(8 * i - 121)) << i;
}

TEST_F(CpuOps, FlashAttnOneKeyGivesItsValue) {
    tensor* q = f32({4, 1, 1}, {0.3f, -1, 2, 0.5f});
    tensor* k = f32({4, 1, 1}, {1, 2, 3, 4});
    tensor* v = f32({4, 1, 1}, {9, -8, 7, 0.25f});
    expect_near_all(run(flash_attn_ext(ctx, q, k, v, 0.5f, 0)), {9, -8, 7, 0.25f});
}

TEST_F(CpuOps, FlashAttnTwoKeysCausalAndGqa) {
    // d = 2, two query heads sharing one kv head, two tokens, n_past = 0
    tensor* q = f32({2, 2, 2}, {1, 0, 0, 1, /* head 1 */ 2, 0, 0, 0});
    tensor* k = ctx.new_tensor(PA_TYPE_F16, {2, 2, 1});
    set_values(k, {1, 0, 0, 1});
    tensor* v = f32({2, 2, 1}, {1, 2, 3, 4});
    std::vector<float> got = run(flash_attn_ext(ctx, q, k, v, 1.0f, 0));
    // out [d, H, N]: token 0 sees only key 0 -> v0 for both heads
    expect_near_all({got[0], got[1], got[2], got[3]}, {1, 2, 1, 2});
    // token 1, head 0: q = (0,1): scores (0, 1) -> w1 = e/(1+e)
    const float w = float(std::numbers::e / (1 + std::numbers::e));
    expect_near_all({got[4], got[5]}, {1 + 2 * w, 2 + 2 * w});
    // token 1, head 1: q = (0,0): equal weights
    expect_near_all({got[6], got[7]}, {2, 3});
    // non-causal: token 0, head 0, q = (1,0): scores (1, 0)
    std::vector<float> nc = run(flash_attn_ext(ctx, q, k, v, 1.0f, 0, false));
    const float w0 = float(std::numbers::e / (1 + std::numbers::e));
    expect_near_all({nc[0], nc[1]}, {w0 * 1 + (1 - w0) * 3, w0 * 2 + (1 - w0) * 4});
}

TEST_F(CpuOps, UnsupportedDynamicOpIsAnError) {
    tensor* a = f32({2}, {1, 2});
    tensor* n = ctx.new_record();
    *n = *a;
    n->op = PA_OP_FIRST_DYNAMIC + 1000;
    n->src[0] = a;
    n->data = ctx.alloc_host(8);
    EXPECT_FALSE(cpu->supports_op(n));
    tensor* nodes[] = {n};
    EXPECT_THROW(cpu->compute(nodes), error);
}

TEST_F(CpuOps, OptionsAndMemory) {
    EXPECT_TRUE(cpu->is_host());
    EXPECT_NO_THROW(cpu->set_option("n_threads", "3"));
    EXPECT_THROW(cpu->set_option("n_threads", "x"), error);
    EXPECT_THROW(cpu->set_option("nope", "1"), error);
    void* h = cpu->alloc(100);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(h) % 64, 0u);
    const char msg[] = "hello";
    cpu->write(h, 10, msg, sizeof msg);
    char back[sizeof msg] = {};
    cpu->read(h, 10, back, sizeof msg);
    EXPECT_STREQ(back, msg);
    cpu->release(h);
}

} // namespace
} // namespace pa
