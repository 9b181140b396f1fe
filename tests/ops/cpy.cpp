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

TEST_F(CpuOps, CpyI32CopiesBitsAndConvertsAsACast) {
    tensor* a = ctx.new_tensor(PA_TYPE_I32, {2, 3});
    test::set_i32(a, {-3, 0, 7, 16777217, INT32_MIN, 2049});
    // i32 -> i32, transposed: rows (-3, 7, INT32_MIN), (0, 16777217, 2049), bits kept
    tensor* t = cont(ctx, transpose(ctx, a));
    run_on_host(ctx, build_forward({t}), *cpu);
    const auto* ti = static_cast<const int32_t*>(t->data);
    EXPECT_EQ(std::vector<int32_t>(ti, ti + 6), (std::vector<int32_t>{-3, 7, INT32_MIN, 0, 16777217, 2049}));
    // to f32: 2^24 + 1 rounds to 2^24 (nearest even); to f16: 2049 rounds to 2048
    expect_near_all(run(cont(ctx, a, PA_TYPE_F32)), {-3, 0, 7, 16777216, -2147483648.0f, 2049}, 0.0f);
    tensor* h = cont(ctx, view_1d(ctx, a, 3, 0), PA_TYPE_F16);
    expect_near_all(run(h), {-3, 0, 7}, 0.0f);
    tensor* h2 = cont(ctx, view_1d(ctx, a, 1, 5 * sizeof(int32_t)), PA_TYPE_F16);
    expect_near_all(run(h2), {2048}, 0.0f);
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

// I32 sources: bits into I32, converted (as a C cast to float) into every other type. I32
// results are compared through a final cont to F32, exact for the values used (|v| <= 2^24).
struct case_cpy_i32 : test_case {
    pa_type dst_type;
    shape4 ne;
    layout l_src;
    int dst_kind; // as case_cpy
    case_cpy_i32(pa_type d, shape4 n, layout ls, int kind) : dst_type(d), ne(n), l_src(ls), dst_kind(kind) {}
    std::string op_name() const override { return "cpy"; }
    std::string vars() const override {
        static const char* kinds[] = {"cont", "into_view", "reshape"};
        return fmt::format("i32->{},ne={},{},{}", type_name(dst_type), shape_str(ne), layout_name(l_src),
                           kinds[dst_kind]);
    }
    double max_nmse() const override { return traits(dst_type).quantized ? 5e-4 : 1e-7; }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, PA_TYPE_I32, ne, l_src, "src");
        tensor* r = nullptr;
        if (dst_kind == 0) {
            r = cont(ctx, a, dst_type);
        } else if (dst_kind == 1) {
            r = cpy(ctx, a, make_input(ctx, dst_type, ne, layout::padded, "dst"));
        } else {
            tensor* d = ctx.new_tensor(dst_type, {ne[0] * ne[1], ne[2] * ne[3]});
            set_name(d, "dst");
            r = cpy(ctx, a, d);
        }
        return dst_type == PA_TYPE_I32 ? cont(ctx, r, PA_TYPE_F32) : r;
    }
    void init(tensor* leaf, std::mt19937& rng) override {
        if (leaf->type != PA_TYPE_I32) return test_case::init(leaf, rng);
        // F16 holds the range exactly up to 2048 and rounds above; F32 rounds above 2^24
        const int32_t hi = dst_type == PA_TYPE_F16   ? 30000
                           : dst_type == PA_TYPE_F32 ? INT32_MAX
                           : dst_type == PA_TYPE_I32 ? (1 << 24)
                                                     : 1000;
        std::uniform_int_distribution<int32_t> pick(-hi, hi);
        std::vector<int32_t> v(size_t(nelements(leaf)));
        for (int32_t& x : v)
            x = pick(rng);
        set_i32(leaf, v);
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
    const pa_type i32_targets[] = {PA_TYPE_I32,  PA_TYPE_F32,  PA_TYPE_F16,
                                   PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1};
    for (pa_type dst : i32_targets) {
        const bool qd = traits(dst).quantized;
        const shape4 ne = qd ? shape4{64, 3, 2, 1} : shape4{17, 3, 2, 1};
        for (layout l : {layout::packed, layout::permuted, layout::padded})
            c.push_back(std::make_unique<case_cpy_i32>(dst, ne, l, 0));
        c.push_back(std::make_unique<case_cpy_i32>(dst, ne, layout::permuted, 1));
        c.push_back(std::make_unique<case_cpy_i32>(dst, shape4{32, 5, 3, 1}, layout::packed, 2));
        if (!qd) {
            c.push_back(std::make_unique<case_cpy_i32>(dst, shape4{33, 7, 1, 1}, layout::transposed, 0));
            c.push_back(std::make_unique<case_cpy_i32>(dst, shape4{5, 9, 3, 1}, layout::transposed, 1));
        }
    }
    return c;
}

PA_BACKEND_OPS_TEST(Cpy, "cpy", cpy_cases)

} // namespace
} // namespace pa::test
