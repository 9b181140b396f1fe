// softmax.cpp - soft_max_ext (scale, F32/F16 masks): the CPU reference against closed-form values
// (CpuOps) and every backend against the CPU reference (BackendOps).
#include <cmath>
#include <numbers>

#include "op_test.h"

namespace pa::test {
namespace {

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

struct case_soft_max : test_case {
    shape4 ne;
    float scale_;
    int mask; // 0 none, 1 f32, 2 f16
    layout l;
    case_soft_max(shape4 n, float s, int m, layout lay) : ne(n), scale_(s), mask(m), l(lay) {}
    std::string op_name() const override { return "soft_max_ext"; }
    std::string vars() const override {
        static const char* masks[] = {"none", "f32", "f16"};
        return fmt::format("ne={},scale={},mask={},{}", shape_str(ne), scale_, masks[mask], layout_name(l));
    }
    double max_nmse() const override { return 1e-6; }
    tensor* build(context& ctx) override {
        tensor* a = make_input(ctx, PA_TYPE_F32, ne, l, "a");
        tensor* m = nullptr;
        if (mask) {
            m = ctx.new_tensor(mask == 1 ? PA_TYPE_F32 : PA_TYPE_F16, {ne[0], ne[1] + 2});
            set_name(m, "mask");
        }
        return soft_max_ext(ctx, a, m, scale_);
    }
    // causal-like mask: -inf above a diagonal (never a whole row), random elsewhere
    void init(tensor* leaf, std::mt19937& rng) override {
        if (std::strcmp(leaf->name, "mask") != 0) return test_case::init(leaf, rng);
        std::vector<float> v = random_values(size_t(nelements(leaf)), rng());
        for (int64_t r = 0; r < leaf->ne[1]; ++r)
            for (int64_t c = 0; c < leaf->ne[0]; ++c)
                if (c > r + leaf->ne[0] / 2) v[size_t(r * leaf->ne[0] + c)] = -INFINITY;
        set_values(leaf, v);
    }
};

case_list soft_max_cases() {
    case_list c;
    const shape4 sh[] = {{1, 1, 1, 1},   {7, 3, 1, 1},    {32, 17, 3, 1},
                         {100, 5, 3, 2}, {1000, 3, 2, 1}, {4099, 2, 1, 1}};
    for (const shape4& s : sh)
        for (int mask : {0, 1, 2})
            for (float scale : {1.0f, 0.125f})
                c.push_back(std::make_unique<case_soft_max>(s, scale, mask, layout::packed));
    for (layout l : all_layouts)
        for (int mask : {0, 2})
            c.push_back(std::make_unique<case_soft_max>(shape4{33, 9, 4, 1}, 0.5f, mask, l));
    shape_rng r(606);
    for (int i = 0; i < 20; ++i) {
        const shape4 ne{r.in(1, 1500), r.in(1, 20), r.in(1, 4), r.in(1, 2)};
        const float scale = r.pick({1.0f, 0.088f, 3.0f});
        const int mask = int(r.in(0, 2));
        const layout l = r.pick(all_layouts);
        c.push_back(std::make_unique<case_soft_max>(ne, scale, mask, l));
    }
    return c;
}

PA_BACKEND_OPS_TEST(SoftMax, "soft_max_ext", soft_max_cases)

} // namespace
} // namespace pa::test
