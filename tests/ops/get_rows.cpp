// get_rows.cpp - get_rows (rows picked by I32 ids, from every type): the CPU reference against
// hand-computed values (CpuOps) and every backend against the CPU reference (BackendOps).
#include <cmath>

#include "op_test.h"

namespace pa::test {
namespace {

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
        for (int i = 0; i < 32; ++i)
            b8[r].qs[i] = int8_t(r == 1 ? i - 16 : 0);
    }
    // Q4_0 block: d = 2 (0x4000), nibbles lo = i, hi = 15 - i -> x_i = 2 (i - 8), x_{16+i} = 2 (7 - i)
    tensor* q4 = ctx.new_tensor(PA_TYPE_Q4_0, {32, 1});
    auto* b4 = static_cast<block_q4_0*>(q4->data);
    b4[0].d = 0x4000;
    for (int i = 0; i < 16; ++i)
        b4[0].qs[i] = uint8_t(i | ((15 - i) << 4));
    // Q4_1 block: d = 0.25 (0x3400), m = -1 (0xbc00), nibble lo = i, hi = i -> x = 0.25 i - 1
    tensor* q41 = ctx.new_tensor(PA_TYPE_Q4_1, {32, 1});
    auto* b41 = static_cast<block_q4_1*>(q41->data);
    b41[0].d = 0x3400;
    b41[0].m = 0xbc00;
    for (int i = 0; i < 16; ++i)
        b41[0].qs[i] = uint8_t(i | (i << 4));

    tensor* id1 = ctx.new_tensor(PA_TYPE_I32, {1});
    test::set_i32(id1, {1});
    tensor* id0 = ctx.new_tensor(PA_TYPE_I32, {1});
    test::set_i32(id0, {0});
    std::vector<float> w8(32), w4(32), w41(32);
    for (int i = 0; i < 32; ++i)
        w8[i] = 0.5f * float(i - 16);
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

struct case_get_rows : test_case {
    pa_type type;
    shape4 src; // [ne0, rows, ne2, ne3]
    int64_t n_ids;
    layout l;
    case_get_rows(pa_type t, shape4 s, int64_t n, layout lay) : type(t), src(s), n_ids(n), l(lay) {}
    std::string op_name() const override { return "get_rows"; }
    std::string vars() const override {
        return fmt::format("type={},src={},n={},{}", type_name(type), shape_str(src), n_ids, layout_name(l));
    }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, type, src, l, "src");
        tensor* ids = ctx.new_tensor(PA_TYPE_I32, {n_ids, src[2], src[3]});
        set_name(ids, "ids");
        return get_rows(ctx, a, ids);
    }
    void init(tensor* leaf, std::mt19937& rng) override {
        if (leaf->type != PA_TYPE_I32) return test_case::init(leaf, rng);
        std::uniform_int_distribution<int32_t> pick(0, int32_t(src[1] - 1));
        std::vector<int32_t> v(size_t(nelements(leaf)));
        for (int32_t& x : v)
            x = pick(rng);
        set_i32(leaf, v);
    }
};

case_list get_rows_cases() {
    case_list c;
    for (pa_type t : all_types) {
        const bool q = traits(t).quantized;
        const int64_t ne0 = q ? 96 : 33;
        c.push_back(std::make_unique<case_get_rows>(t, shape4{ne0, 17, 1, 1}, 5, layout::packed));
        c.push_back(std::make_unique<case_get_rows>(t, shape4{q ? 32 : 1, 1, 1, 1}, 1, layout::packed));
        c.push_back(std::make_unique<case_get_rows>(t, shape4{q ? 64 : 7, 5, 3, 2}, 16, layout::padded));
        c.push_back(std::make_unique<case_get_rows>(t, shape4{q ? 256 : 130, 9, 2, 1}, 3, layout::permuted));
        if (!q) c.push_back(std::make_unique<case_get_rows>(t, shape4{5, 11, 1, 1}, 4, layout::transposed));
    }
    shape_rng r(101);
    for (int i = 0; i < 20; ++i) {
        const pa_type t = r.pick(all_types);
        const bool q = traits(t).quantized;
        const int64_t ne0 = q ? 32 * r.in(1, 6) : r.in(1, 200);
        const layout l = q ? r.pick({layout::packed, layout::permuted, layout::padded}) : r.pick(all_layouts);
        const shape4 src{ne0, r.in(1, 40), r.in(1, 3), r.in(1, 2)};
        c.push_back(std::make_unique<case_get_rows>(t, src, r.in(1, 20), l));
    }
    return c;
}

PA_BACKEND_OPS_TEST(GetRows, "get_rows", get_rows_cases)

} // namespace
} // namespace pa::test
