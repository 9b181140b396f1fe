// elementwise.cpp - add, mul (b broadcast over a), swiglu, scale, silu: the CPU reference against
// hand-computed values (CpuOps) and every backend against the CPU reference (BackendOps;
// rms_norm's cases share the unary case list: BackendOps.ScaleSiluRmsNorm).
#include <cmath>

#include "op_test.h"

namespace pa::test {
namespace {

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

struct case_binary : test_case {
    int32_t op;
    shape4 a_ne, b_ne;
    pa_type b_type;
    layout la, lb;
    case_binary(int32_t o, shape4 a, shape4 b, pa_type bt, layout l_a, layout l_b)
        : op(o), a_ne(a), b_ne(b), b_type(bt), la(l_a), lb(l_b) {}
    std::string op_name() const override {
        return op == PA_OP_ADD ? "add" : op == PA_OP_MUL ? "mul" : "swiglu";
    }
    std::string vars() const override {
        return fmt::format("a={},{},b={},{},{}", shape_str(a_ne), layout_name(la), shape_str(b_ne),
                           type_name(b_type), layout_name(lb));
    }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, PA_TYPE_F32, a_ne, la, "a");
        tensor* b = make_input(ctx, b_type, b_ne, lb, "b");
        if (op == PA_OP_ADD) return add(ctx, a, b);
        if (op == PA_OP_MUL) return mul(ctx, a, b);
        return swiglu(ctx, a, b);
    }
};

struct case_unary : test_case {
    int32_t op;
    shape4 ne;
    layout l;
    float param;
    case_unary(int32_t o, shape4 n, layout lay, float p = 0.0f) : op(o), ne(n), l(lay), param(p) {}
    std::string op_name() const override {
        return op == PA_OP_SCALE ? "scale" : op == PA_OP_SILU ? "silu" : "rms_norm";
    }
    std::string vars() const override {
        return fmt::format("ne={},{},p={}", shape_str(ne), layout_name(l), param);
    }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, PA_TYPE_F32, ne, l, "a");
        if (op == PA_OP_SCALE) return scale(ctx, a, param);
        if (op == PA_OP_SILU) return silu(ctx, a);
        return rms_norm(ctx, a, param);
    }
};

case_list binary_cases() {
    case_list c;
    struct shapes {
        shape4 a, b;
    };
    const shapes sh[] = {
        {{17, 3, 2, 1}, {17, 1, 1, 1}},
        {{33, 5, 3, 2}, {33, 5, 3, 2}},
        {{1, 1, 1, 1}, {1, 1, 1, 1}},
        {{16, 4, 6, 2}, {1, 4, 1, 2}},
        {{7, 3, 5, 1}, {7, 3, 1, 1}},
        {{64, 1, 1, 1}, {32, 1, 1, 1}},
        {{4096, 3, 1, 1}, {4096, 1, 1, 1}},
        // contiguous F32 rows of whole float4s (the float4 kernels): b of a's shape, one row of b
        // repeated (a model's norm weight), and rows of 4n + 2 (the general kernel)
        {{64, 9, 3, 1}, {64, 9, 3, 1}},
        {{576, 7, 1, 1}, {576, 1, 1, 1}},
        {{4, 5, 2, 3}, {4, 1, 1, 1}},
        {{18, 6, 1, 1}, {18, 1, 1, 1}},
    };
    for (int32_t op : {PA_OP_ADD, PA_OP_MUL}) {
        for (const shapes& s : sh)
            for (pa_type bt : {PA_TYPE_F32, PA_TYPE_F16})
                c.push_back(std::make_unique<case_binary>(op, s.a, s.b, bt, layout::packed, layout::packed));
        for (layout l : all_layouts) {
            c.push_back(std::make_unique<case_binary>(op, shape4{9, 6, 4, 1}, shape4{9, 6, 1, 1}, PA_TYPE_F32,
                                                      l, layout::packed));
            c.push_back(std::make_unique<case_binary>(op, shape4{10, 3, 3, 2}, shape4{10, 3, 3, 1},
                                                      PA_TYPE_F16, layout::packed, l));
        }
    }
    c.push_back(std::make_unique<case_binary>(PA_OP_SWIGLU, shape4{1536, 3, 2, 1}, shape4{1536, 3, 2, 1},
                                              PA_TYPE_F32, layout::packed, layout::packed));
    for (layout l : all_layouts) {
        c.push_back(std::make_unique<case_binary>(PA_OP_SWIGLU, shape4{35, 7, 2, 1}, shape4{35, 7, 2, 1},
                                                  PA_TYPE_F32, l, layout::packed));
        c.push_back(std::make_unique<case_binary>(PA_OP_SWIGLU, shape4{128, 5, 1, 1}, shape4{128, 5, 1, 1},
                                                  PA_TYPE_F32, layout::packed, l));
    }
    shape_rng r(202);
    for (int i = 0; i < 30; ++i) {
        const shape4 a{r.in(1, 100), r.in(1, 9), r.in(1, 4), r.in(1, 3)};
        shape4 b = a;
        for (int k = 0; k < 4; ++k)
            if (r.in(0, 2) == 0) b[size_t(k)] = 1; // broadcast this dim
        const int32_t op = i % 3 == 0 ? PA_OP_ADD : i % 3 == 1 ? PA_OP_MUL : PA_OP_SWIGLU;
        if (op == PA_OP_SWIGLU) b = a;
        const pa_type bt = op == PA_OP_SWIGLU ? PA_TYPE_F32 : r.pick({PA_TYPE_F32, PA_TYPE_F16});
        const layout la = r.pick(all_layouts), lb = r.pick(all_layouts);
        c.push_back(std::make_unique<case_binary>(op, a, b, bt, la, lb));
    }
    return c;
}

case_list unary_cases() {
    case_list c;
    const shape4 sh[] = {{1, 1, 1, 1}, {7, 3, 1, 1}, {64, 17, 2, 1}, {33, 4, 3, 2}, {4097, 2, 1, 1}};
    for (const shape4& s : sh) {
        c.push_back(std::make_unique<case_unary>(PA_OP_SCALE, s, layout::packed, 0.37f));
        c.push_back(std::make_unique<case_unary>(PA_OP_SILU, s, layout::packed));
        c.push_back(std::make_unique<case_unary>(PA_OP_RMS_NORM, s, layout::packed, 1e-5f));
    }
    for (layout l : all_layouts) {
        c.push_back(std::make_unique<case_unary>(PA_OP_SCALE, shape4{9, 5, 3, 1}, l, -2.0f));
        c.push_back(std::make_unique<case_unary>(PA_OP_SILU, shape4{9, 5, 3, 1}, l));
        c.push_back(std::make_unique<case_unary>(PA_OP_RMS_NORM, shape4{96, 5, 3, 1}, l, 1e-6f));
        c.push_back(std::make_unique<case_unary>(PA_OP_RMS_NORM, shape4{3, 7, 2, 2}, l, 0.1f));
    }
    shape_rng r(303);
    for (int i = 0; i < 24; ++i) {
        const int32_t op = r.pick({PA_OP_SCALE, PA_OP_SILU, PA_OP_RMS_NORM});
        const shape4 ne{r.in(1, 700), r.in(1, 9), r.in(1, 3), r.in(1, 2)};
        const layout l = r.pick(all_layouts);
        c.push_back(std::make_unique<case_unary>(op, ne, l, op == PA_OP_SCALE ? 1.5f : 1e-5f));
    }
    return c;
}

PA_BACKEND_OPS_TEST(AddMulSwiglu, "add/mul/swiglu", binary_cases)
PA_BACKEND_OPS_TEST(ScaleSiluRmsNorm, "scale/silu/norm", unary_cases)

} // namespace
} // namespace pa::test
