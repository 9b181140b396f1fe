// mul_mat.cpp - mul_mat (every weight type, broadcast batches, strided and transposed operands):
// the CPU reference against hand-computed values (CpuOps) and every backend against the CPU
// reference (BackendOps).
#include <cmath>

#include "op_test.h"

namespace pa::test {
namespace {

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
        for (int n = 0; n < 3; ++n)
            EXPECT_EQ(got[s * 3 + n], bv[(s * 3 + n) * 2 + s / 2]);
}

TEST_F(CpuOps, MulMatQuantizedA) {
    tensor* a = ctx.new_tensor(PA_TYPE_Q8_0, {32, 1});
    auto* blk = static_cast<block_q8_0*>(a->data);
    blk->d = 0x3c00; // 1.0
    for (int i = 0; i < 32; ++i)
        blk->qs[i] = int8_t(i % 3 - 1);
    std::vector<float> ones(32, 1.0f);
    float want = 0;
    for (int i = 0; i < 32; ++i)
        want += float(i % 3 - 1);
    expect_near_all(run(mul_mat(ctx, a, f32({32, 1}, ones))), {want}, 0.0f);
}

struct case_mul_mat : test_case {
    pa_type type;
    int64_t K, M, N;
    std::array<int64_t, 2> a_batch, b_batch;
    layout la, lb;
    case_mul_mat(pa_type t, int64_t k, int64_t m, int64_t n, std::array<int64_t, 2> ab,
                 std::array<int64_t, 2> bb, layout l_a = layout::packed, layout l_b = layout::packed)
        : type(t), K(k), M(m), N(n), a_batch(ab), b_batch(bb), la(l_a), lb(l_b) {}
    std::string op_name() const override { return "mul_mat"; }
    std::string vars() const override {
        return fmt::format("type={},K={},M={},N={},a={}x{},b={}x{},{},{}", type_name(type), K, M, N,
                           a_batch[0], a_batch[1], b_batch[0], b_batch[1], layout_name(la), layout_name(lb));
    }
    // f32/f16 weights dequantize exactly; quantized paths may reorder or requantize sums (ggml: 5e-4)
    double max_nmse() const override { return traits(type).quantized ? 5e-4 : 1e-6; }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, type, {K, M, a_batch[0], a_batch[1]}, la, "a");
        tensor* b = make_input(ctx, PA_TYPE_F32, {K, N, b_batch[0], b_batch[1]}, lb, "b");
        return mul_mat(ctx, a, b);
    }
};

case_list mul_mat_cases() {
    case_list c;
    using b2 = std::array<int64_t, 2>;
    for (pa_type t : all_types) {
        const bool q = traits(t).quantized;
        for (int64_t K : {q ? int64_t(32) : int64_t(17), int64_t(96), int64_t(256)})
            for (int64_t M : {1, 7, 33})
                for (int64_t N : {1, 5, 17, 64})
                    c.push_back(std::make_unique<case_mul_mat>(t, K, M, N, b2{1, 1}, b2{1, 1}));
        // broadcast over dims 2-3, as GQA attention and batched heads use it
        c.push_back(std::make_unique<case_mul_mat>(t, 64, 16, 9, b2{2, 1}, b2{4, 1}));
        c.push_back(std::make_unique<case_mul_mat>(t, 64, 5, 3, b2{1, 2}, b2{3, 4}));
        c.push_back(std::make_unique<case_mul_mat>(t, 32, 3, 8, b2{3, 2}, b2{3, 2}));
        // larger ones: a model's projection and a long K
        c.push_back(std::make_unique<case_mul_mat>(t, 512, 256, 33, b2{1, 1}, b2{1, 1}));
        // prefill-sized N past the tiles of the tensor-core path (128 tokens x 256 rows on NVIDIA)
        c.push_back(std::make_unique<case_mul_mat>(t, q ? 96 : 100, 300, 130, b2{1, 1}, b2{1, 1}));
        c.push_back(std::make_unique<case_mul_mat>(t, 64, 40, 140, b2{2, 1}, b2{4, 1}));
        c.push_back(std::make_unique<case_mul_mat>(t, 4096, 64, 2, b2{1, 1}, b2{1, 1}));
        // decode shapes (quantized a: k_mul_mv_q): blocks per row below, at and above its 16 lanes
        for (int64_t K : {int64_t(160), int64_t(544), int64_t(1600)})
            for (int64_t N : {1, 3, 8})
                c.push_back(std::make_unique<case_mul_mat>(t, K, 37, N, b2{1, 1}, b2{1, 1}));
        // non-contiguous inputs
        for (layout lb : all_layouts)
            c.push_back(std::make_unique<case_mul_mat>(t, 64, 9, 7, b2{2, 1}, b2{2, 1}, layout::packed, lb));
        c.push_back(std::make_unique<case_mul_mat>(t, 64, 9, 7, b2{2, 1}, b2{4, 1}, layout::permuted,
                                                   layout::packed));
        c.push_back(
            std::make_unique<case_mul_mat>(t, 96, 9, 7, b2{1, 1}, b2{1, 1}, layout::padded, layout::padded));
        if (!q)
            c.push_back(std::make_unique<case_mul_mat>(t, 33, 9, 17, b2{1, 1}, b2{2, 1}, layout::transposed,
                                                       layout::transposed));
    }
    shape_rng r(404);
    const std::array<b2, 2> batches[] = {{b2{1, 1}, b2{1, 1}},
                                         {b2{1, 1}, b2{3, 1}},
                                         {b2{2, 1}, b2{4, 1}},
                                         {b2{1, 2}, b2{2, 2}},
                                         {b2{2, 3}, b2{2, 3}}};
    for (int i = 0; i < 60; ++i) {
        const pa_type t = r.pick(all_types);
        const bool q = traits(t).quantized;
        const int64_t K = q ? 32 * r.in(1, 10) : r.in(1, 300);
        const auto& bt = r.pick(batches);
        const layout la =
            q ? r.pick({layout::packed, layout::permuted, layout::padded}) : r.pick(all_layouts);
        const int64_t M = r.in(1, 100), N = r.in(1, 70);
        const layout lb = r.pick(all_layouts);
        c.push_back(std::make_unique<case_mul_mat>(t, K, M, N, bt[0], bt[1], la, lb));
    }
    return c;
}

PA_BACKEND_OPS_TEST(MulMat, "mul_mat", mul_mat_cases)

} // namespace
} // namespace pa::test
