// flash_attn.cpp - flash_attn_ext (GQA, causal and not, n_past, F32/F16 K/V, cache views): the CPU
// reference against closed-form values (CpuOps) and every backend against the CPU reference
// (BackendOps).
#include <cmath>
#include <cstdlib>
#include <numbers>
#include <string_view>

#include "op_test.h"

namespace pa::test {
namespace {

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

// Softmax's own answer: a NaN score (here a NaN query element) makes that query's row NaN; the
// other query's row, with finite scores, stays exact.
TEST_F(CpuOps, FlashAttnNanScoreMakesItsRowNan) {
    tensor* q = f32({2, 2, 1}, {std::nanf(""), 0, /* token 1 */ 1, 0});
    tensor* k = f32({2, 2, 1}, {1, 0, 0, 1});
    tensor* v = f32({2, 2, 1}, {1, 2, 3, 4});
    const std::vector<float> got = run(flash_attn_ext(ctx, q, k, v, 1.0f, 0, false));
    EXPECT_TRUE(std::isnan(got[0]) && std::isnan(got[1])) << got[0] << " " << got[1];
    const float w0 = float(std::numbers::e / (1 + std::numbers::e)); // scores (1, 0)
    expect_near_all({got[2], got[3]}, {w0 * 1 + (1 - w0) * 3, w0 * 2 + (1 - w0) * 4});
}

struct case_flash_attn : test_case {
    int64_t d, N, H, H_kv, n_past, extra_kv;
    pa_type k_type, v_type;
    bool causal;
    layout lq, lkv;  // q: packed or permuted ([d, H, N] storage); kv: packed, permuted or padded (cache view)
    float scale = 0; // 0: 1 / sqrt(d)
    int repeats = 1; // > 1: the sum of that many attentions of the operands, each its own scale
    case_flash_attn(int64_t d_, int64_t n, int64_t h, int64_t hkv, int64_t np, int64_t extra, pa_type kt,
                    pa_type vt, bool c, layout q_l, layout kv_l)
        : d(d_), N(n), H(h), H_kv(hkv), n_past(np), extra_kv(extra), k_type(kt), v_type(vt), causal(c),
          lq(q_l), lkv(kv_l) {}
    std::string op_name() const override { return "flash_attn_ext"; }
    std::string vars() const override {
        return fmt::format("d={},N={},H={},Hkv={},n_past={},Nkv={},k={},v={},{},q={},kv={}", d, N, H, H_kv,
                           n_past, n_past + N + extra_kv, type_name(k_type), type_name(v_type),
                           causal ? "causal" : "full", layout_name(lq), layout_name(lkv)) +
               (scale != 0 ? fmt::format(",scale={:g}", scale) : "") +
               (repeats > 1 ? fmt::format(",x{}", repeats) : "");
    }
    double max_nmse() const override { return 5e-4; }
    tensor* build(context& ctx) override {
        const int64_t n_kv = n_past + N + extra_kv;
        tensor* q = make_input(ctx, PA_TYPE_F32, {d, N, H, 1}, lq, "q");
        tensor* k = make_input(ctx, k_type, {d, n_kv, H_kv, 1}, lkv, "k");
        tensor* v = make_input(ctx, v_type, {d, n_kv, H_kv, 1}, lkv, "v");
        const float s0 = scale != 0 ? scale : float(1.0 / std::sqrt(double(d)));
        tensor* out = flash_attn_ext(ctx, q, k, v, s0, int(n_past), causal);
        for (int r = 1; r < repeats; ++r)
            out = add(ctx, out, flash_attn_ext(ctx, q, k, v, s0 * float(1 + r), int(n_past), causal));
        return out;
    }
    // With a huge scale, keys of 1/(2d) the size keep every score (scale * q) . k finite.
    void init(tensor* leaf, std::mt19937& rng) override {
        std::vector<float> x = random_values(size_t(nelements(leaf)), rng());
        if (std::fabs(scale) > 1e30f && std::string_view(leaf->name) == "k")
            for (float& e : x)
                e /= float(2 * d);
        set_values(leaf, x);
    }
};

// Decoding over long caches (flash_attn_decode.cl with its keys split over work-groups and
// merged in the same launch): few kv heads, odd lengths, GQA 1, 3 and 4, F16 and F32 K/V, 1 to
// 4 queries, causal and not; the x3 cases run the kernel three times in a row on the same
// context (a merge counter not set back to zero would break the second and third).
case_list flash_attn_decode_cases() {
    const pa_type f16 = PA_TYPE_F16, f32 = PA_TYPE_F32;
    case_list c;
    const auto add_case = [&](int64_t d, int64_t n, int64_t h, int64_t hkv, int64_t np, int64_t extra,
                              pa_type kt, pa_type vt, bool causal, int repeats = 1,
                              layout kv_layout = layout::padded) {
        auto fc = std::make_unique<case_flash_attn>(d, n, h, hkv, np, extra, kt, vt, causal, layout::permuted,
                                                    kv_layout);
        fc->repeats = repeats;
        c.push_back(std::move(fc));
    };
    add_case(64, 1, 1, 1, 3001, 0, f16, f16, true);
    add_case(64, 1, 1, 1, 4999, 0, f16, f16, true); // more tiles of keys than threads per work-group
    add_case(64, 2, 3, 1, 1999, 13, f32, f32, true);
    add_case(64, 1, 9, 3, 2047, 0, f16, f16, true); // SmolLM2's heads
    add_case(128, 3, 8, 2, 777, 41, f16, f32, false);
    add_case(80, 4, 2, 2, 1234, 5, f32, f16, true);
    add_case(64, 4, 4, 1, 500, 77, f32, f32, false);
    add_case(256, 1, 3, 1, 1111, 0, f16, f16, true); // 128 threads per work-group
    add_case(64, 1, 3, 1, 1500, 0, f16, f16, true, 3);
    add_case(64, 4, 8, 2, 901, 3, f32, f16, false, 3);
    add_case(32, 3, 4, 4, 2500, 9, f16, f32, true, 3);
    // K rows at 16-byte alignment (packed and permuted cache views): read as 16-byte words
    add_case(64, 1, 9, 3, 2047, 0, f16, f16, true, 1, layout::packed);
    add_case(128, 1, 8, 2, 777, 0, f16, f16, true, 1, layout::permuted);
    add_case(80, 2, 3, 1, 1001, 7, f32, f16, true, 1, layout::packed);
    add_case(32, 4, 4, 2, 300, 1, f16, f32, false, 1, layout::permuted);
    return c;
}

case_list flash_attn_cases() {
    case_list c;
    struct gqa {
        int64_t H, H_kv;
    };
    static const gqa ratios[] = {{4, 4}, {4, 2}, {8, 2}, {7, 1}, {8, 1}}; // 1, 2, 4, 7, 8
    const pa_type f16 = PA_TYPE_F16, f32 = PA_TYPE_F32;
    // head dims, incl. an odd one; 32, 64, 96 and 128 take the register-tiled kernel
    for (int64_t d : {64, 80, 128, 33, 32, 96}) {
        c.push_back(std::make_unique<case_flash_attn>(d, 17, 4, 2, 0, 0, f16, f16, true, layout::packed,
                                                      layout::packed));
        c.push_back(std::make_unique<case_flash_attn>(d, 1, 8, 2, 40, 0, f16, f16, true, layout::permuted,
                                                      layout::padded)); // decode step
        c.push_back(std::make_unique<case_flash_attn>(d, 33, 4, 4, 5, 3, f32, f32, true, layout::packed,
                                                      layout::packed));
    }
    // GQA ratios, n_past > 0, N not a multiple of tile sizes
    for (const gqa& g : ratios) {
        c.push_back(std::make_unique<case_flash_attn>(64, 37, g.H, g.H_kv, 11, 0, f16, f16, true,
                                                      layout::permuted, layout::packed));
        c.push_back(std::make_unique<case_flash_attn>(128, 5, g.H, g.H_kv, 0, 0, f32, f16, false,
                                                      layout::packed, layout::permuted));
    }
    // types and layouts
    for (pa_type kt : {f32, f16})
        for (pa_type vt : {f32, f16})
            for (layout l : {layout::packed, layout::permuted, layout::padded}) {
                c.push_back(
                    std::make_unique<case_flash_attn>(64, 9, 4, 2, 7, 2, kt, vt, true, layout::packed, l));
            }
    c.push_back(
        std::make_unique<case_flash_attn>(64, 1, 1, 1, 0, 0, f16, f16, true, layout::packed, layout::packed));
    c.push_back(std::make_unique<case_flash_attn>(80, 65, 2, 1, 0, 0, f16, f16, false, layout::packed,
                                                  layout::padded));
    // longer sequences (tiles of keys and queries, partially masked last tiles)
    c.push_back(std::make_unique<case_flash_attn>(128, 300, 8, 2, 0, 0, f16, f16, true, layout::permuted,
                                                  layout::packed));
    c.push_back(std::make_unique<case_flash_attn>(64, 129, 4, 1, 171, 0, f16, f16, true, layout::packed,
                                                  layout::padded));
    c.push_back(std::make_unique<case_flash_attn>(80, 100, 4, 4, 0, 27, f32, f32, false, layout::packed,
                                                  layout::packed));
    // decoding (flash_attn_decode.cl): SmolLM2's and Llama-3-8B's groups over a long cache whose
    // last rows are masked, a few queries, several splits of the keys, non-causal, d 256
    c.push_back(std::make_unique<case_flash_attn>(64, 1, 9, 3, 550, 217, f16, f16, true, layout::permuted,
                                                  layout::padded));
    c.push_back(std::make_unique<case_flash_attn>(128, 1, 32, 8, 1000, 0, f16, f16, true, layout::permuted,
                                                  layout::padded));
    c.push_back(std::make_unique<case_flash_attn>(64, 3, 9, 3, 300, 20, f32, f16, true, layout::packed,
                                                  layout::permuted));
    c.push_back(std::make_unique<case_flash_attn>(80, 4, 6, 2, 129, 5, f16, f32, false, layout::permuted,
                                                  layout::packed));
    c.push_back(std::make_unique<case_flash_attn>(256, 1, 8, 1, 70, 0, f16, f16, true, layout::permuted,
                                                  layout::padded));
    // a huge scale (|q| * scale * log2 e past the float range, every score finite): the row kernel
    // (d = 1, the proxy node's case), the register-tiled one (d = 32), both signs
    for (float sc : {3e38f, -3e38f})
        for (int64_t d : {1, 32}) {
            auto hc = std::make_unique<case_flash_attn>(d, 9, 2, 1, 3, 0, f32, f32, true, layout::packed,
                                                        layout::packed);
            hc->scale = sc;
            c.push_back(std::move(hc));
        }
    for (auto& dc : flash_attn_decode_cases())
        c.push_back(std::move(dc));
    shape_rng r(707);
    for (int i = 0; i < 30; ++i) {
        const gqa g = r.pick(ratios);
        const int64_t d = r.pick({33, 64, 80, 128, 256}); // each head dim is one more kernel build
        const int64_t n = r.pick({int64_t(1), r.in(1, 16), r.in(17, 150)});
        const int64_t n_past = r.in(0, 100), extra = r.in(0, 9);
        const pa_type kt = r.pick({f32, f16}), vt = r.pick({f32, f16});
        const bool causal = r.in(0, 3) != 0;
        const layout lq = r.pick({layout::packed, layout::permuted});
        const layout lkv = r.pick({layout::packed, layout::permuted, layout::padded});
        c.push_back(
            std::make_unique<case_flash_attn>(d, n, g.H, g.H_kv, n_past, extra, kt, vt, causal, lq, lkv));
    }
    return c;
}

PA_BACKEND_OPS_TEST(FlashAttnExt, "flash_attn_ext", flash_attn_cases)

// The decode cases with their keys split many ways whatever the device's compute units
// ($PA_FA_DECODE_SPLITS): every tile of keys its own split (up to 79, more than the threads of
// a work-group), and an odd count.
TEST(BackendOps, FlashAttnDecodeManySplits) {
    struct env_guard {
        explicit env_guard(const char* v) { ::setenv("PA_FA_DECODE_SPLITS", v, 1); }
        ~env_guard() { ::unsetenv("PA_FA_DECODE_SPLITS"); }
    };
    for (const char* splits : {"100000", "7"}) {
        env_guard g(splits);
        run_family(fmt::format("fa_decode/{}", splits).c_str(), flash_attn_decode_cases());
    }
}

} // namespace
} // namespace pa::test
