// rope.cpp - rope (normal and neox pairs, partial rotation, n_past): the CPU reference against
// closed-form values (CpuOps) and every backend against the CPU reference (BackendOps).
#include <cmath>

#include "op_test.h"

namespace pa::test {
namespace {

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

struct case_rope : test_case {
    int64_t d, H, N;
    int n_dims, mode, n_past;
    float theta;
    layout l;
    case_rope(int64_t d_, int64_t h, int64_t n, int nd, int m, float th, int np, layout lay)
        : d(d_), H(h), N(n), n_dims(nd), mode(m), n_past(np), theta(th), l(lay) {}
    std::string op_name() const override { return "rope"; }
    std::string vars() const override {
        return fmt::format("d={},H={},N={},n_dims={},mode={},theta={},n_past={},{}", d, H, N, n_dims, mode,
                           theta, n_past, layout_name(l));
    }
    // angles up to ~1000 rad computed in float on devices: ~1e-4 absolute in the worst element
    double max_nmse() const override { return 1e-6; }
    tensor* build(context& ctx) override {
        return rope(ctx, make_input(ctx, PA_TYPE_F32, {d, H, N, 1}, l, "x"), n_dims, mode, theta, n_past);
    }
};

case_list rope_cases() {
    case_list c;
    for (int mode : {rope_mode_normal, rope_mode_neox}) {
        for (int64_t d : {64, 80, 128}) {
            c.push_back(std::make_unique<case_rope>(d, 4, 7, int(d), mode, 10000.0f, 0, layout::packed));
            c.push_back(std::make_unique<case_rope>(d, 3, 17, int(d), mode, 1e6f, 1000, layout::packed));
        }
        c.push_back(std::make_unique<case_rope>(64, 2, 5, 32, mode, 10000.0f, 3, layout::packed)); // partial
        c.push_back(std::make_unique<case_rope>(6, 1, 1, 2, mode, 500.0f, 0, layout::packed));
        c.push_back(std::make_unique<case_rope>(10, 5, 33, 10, mode, 10000.0f, 77, layout::packed));
        for (layout l : all_layouts)
            c.push_back(std::make_unique<case_rope>(64, 8, 9, 64, mode, 10000.0f, 12, l));
    }
    shape_rng r(505);
    for (int i = 0; i < 20; ++i) {
        const int64_t d = 2 * r.in(1, 80);
        const int n_dims = int(2 * r.in(1, d / 2));
        const int64_t H = r.in(1, 8), N = r.in(1, 40);
        const int mode = r.pick({0, 2});
        const float theta = r.pick({10000.0f, 500000.0f});
        const int n_past = int(r.in(0, 2000));
        const layout l = r.pick(all_layouts);
        c.push_back(std::make_unique<case_rope>(d, H, N, n_dims, mode, theta, n_past, l));
    }
    return c;
}

PA_BACKEND_OPS_TEST(Rope, "rope", rope_cases)

} // namespace
} // namespace pa::test
