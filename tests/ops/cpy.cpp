// cpy.cpp - cpy and cont (conversions between every type, into views, reshaping): the CPU
// reference against hand-computed values (CpuOps) and every backend against the CPU reference
// (BackendOps).
#include <cmath>

#include "op_test.h"

namespace pa::test {
namespace {

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
    for (int i = 0; i < 32; ++i)
        v[i] = float(8 * i - 121);
    tensor* q = cont(ctx, f32({32}, v), PA_TYPE_Q8_0);
    run(q);
    const auto* blk = static_cast<const block_q8_0*>(q->data);
    EXPECT_EQ(blk->d, 0x3c00);
    for (int i = 0; i < 32; ++i)
        EXPECT_EQ(blk->qs[i], int8_t(8 * i - 121)) << i;
}

struct case_cpy : test_case {
    pa_type src_type, dst_type;
    shape4 ne;
    layout l_src;
    int dst_kind; // 0: cont (fresh tensor), 1: cpy into a padded view of a bigger tensor, 2: reshaping cpy
    case_cpy(pa_type s, pa_type d, shape4 n, layout ls, int kind)
        : src_type(s), dst_type(d), ne(n), l_src(ls), dst_kind(kind) {}
    std::string op_name() const override { return "cpy"; }
    std::string vars() const override {
        static const char* kinds[] = {"cont", "into_view", "reshape"};
        return fmt::format("{}->{},ne={},{},{}", type_name(src_type), type_name(dst_type), shape_str(ne),
                           layout_name(l_src), kinds[dst_kind]);
    }
    // quantizing may round a few elements the other way (one step each)
    double max_nmse() const override { return traits(dst_type).quantized ? 5e-4 : 1e-7; }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, src_type, ne, l_src, "src");
        if (dst_kind == 0) return cont(ctx, a, dst_type);
        if (dst_kind == 1) return cpy(ctx, a, make_input(ctx, dst_type, ne, layout::padded, "dst"));
        tensor* d = ctx.new_tensor(dst_type, {ne[0] * ne[1], ne[2] * ne[3]}); // [ne0*ne1, ne2*ne3]
        set_name(d, "dst");
        return cpy(ctx, a, d);
    }
};

case_list cpy_cases() {
    case_list c;
    for (pa_type src : all_types)
        for (pa_type dst : all_types) {
            const bool qs = traits(src).quantized, qd = traits(dst).quantized;
            if (qs && src != dst && qd) continue; // quantized sources convert to float or themselves
            const shape4 ne = (qs || qd) ? shape4{64, 3, 2, 1} : shape4{17, 3, 2, 1};
            c.push_back(std::make_unique<case_cpy>(src, dst, ne, layout::packed, 0));
            c.push_back(std::make_unique<case_cpy>(src, dst, ne, layout::permuted, 0));
            if (!qs || src == dst) // cpy() proper converts quantized sources only to themselves
                c.push_back(std::make_unique<case_cpy>(src, dst, ne, layout::padded, 1));
            else
                c.push_back(std::make_unique<case_cpy>(src, dst, ne, layout::padded, 0));
            if (!qs)
                c.push_back(std::make_unique<case_cpy>(src, dst, shape4{32, 5, 3, 1}, layout::packed, 2));
            else if (src == dst)
                c.push_back(std::make_unique<case_cpy>(src, dst, shape4{32, 5, 3, 1}, layout::packed, 2));
            if (!qs && !qd) {
                c.push_back(std::make_unique<case_cpy>(src, dst, shape4{33, 7, 1, 1}, layout::transposed, 0));
                c.push_back(std::make_unique<case_cpy>(src, dst, shape4{5, 9, 3, 1}, layout::transposed, 1));
                c.push_back(std::make_unique<case_cpy>(src, dst, shape4{1, 1, 1, 1}, layout::packed, 0));
            }
        }
    return c;
}

PA_BACKEND_OPS_TEST(Cpy, "cpy", cpy_cases)

} // namespace
} // namespace pa::test
