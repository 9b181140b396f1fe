// test_opencl_flash_attn_tiled.cpp - the variants of the portable register-tiled attention kernel
// (opencl/flash_attn_tiled.cpp, fat_variant: kernels/flash_attn_tiled_q.cl) against a
// double-precision reference written here, on odd shapes: head dims 32 / 96 / 128, f16 and f32 K
// and V, rows loaded 4 dims at a time (FA_VEC) or not (K and V elements 2 apart, odd row strides),
// causal with n_past and without, GQA, a cache longer than the queries reach (NaN there: never
// read), block masks of 64 and 128 (FA_SPARSE) with an empty row, over rows loaded either way;
// scores that outgrow the running max by far, and a scale near FLT_MAX.
// Variant 0 (flash_attn_tiled.cl, the default on PoCL) is BackendOps.FlashAttnExt's on this
// device; the others run here, one launch each.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "backend_ops_util.h"
#include "flash_attn_tiled.h"
#include "pa/types.h"

namespace {

using namespace pa::ocl;

device_context* device() {
    static std::unique_ptr<device_context> ctx = [] {
        std::unique_ptr<device_context> c;
        if (!list_devices().empty()) c = std::make_unique<device_context>("");
        return c;
    }();
    return ctx.get();
}

struct tiled_case {
    int64_t d, n, n_past, extra, h, hkv; // extra: cache rows past n_past + n (NaN)
    pa_type kt, vt;
    bool causal, padded; // padded: K and V elements 2 apart, rows 2 d + 1 (no 4-dim loads)
    int32_t block;       // mask block (0: dense)
    bool ramp = false;   // K scaled up key by key (x1 .. x31): rows whose max keeps growing tile by tile
    bool huge = false;   // scale 3e38, |q . k| <= 1/2: scores near FLT_MAX, though q x scale overflows
    std::string name() const {
        return fmt::format("d{}_n{}_past{}_extra{}_h{}_{}_k{}_v{}_{}{}_B{}{}{}", d, n, n_past, extra, h, hkv,
                           kt == PA_TYPE_F16 ? "f16" : "f32", vt == PA_TYPE_F16 ? "f16" : "f32",
                           causal ? "causal" : "full", padded ? "_padded" : "", block, ramp ? "_ramp" : "",
                           huge ? "_huge_scale" : "");
    }
};

// A K or V cache [d, nkv, hkv] with rows `stride` elements apart, as f32 values (rounded through
// f16 when stored so) and as the bytes to upload.
struct cache {
    std::vector<float> val; // [hkv][nkv][d]
    std::vector<uint8_t> bytes;
    uint64_t elem, stride, step; // bytes of an element; elements a row, a dim (step)
};

void PrintTo(const tiled_case& c, std::ostream* os) {
    *os << c.name();
}

// Rows from `reached` on are NaN (never read by causal attention); values times mul; ramp: row j
// scaled by 1 + 30 j / reached.
cache make_cache(const tiled_case& c, pa_type t, int64_t reached, std::mt19937& rng, bool ramp = false,
                 float mul = 1.0f) {
    const int64_t nkv = reached + c.extra;
    cache x;
    x.elem = t == PA_TYPE_F16 ? 2 : 4;
    x.step = c.padded ? 2 : 1;
    x.stride = uint64_t(c.d) * x.step + (c.padded ? 1 : 0);
    x.val.resize(size_t(c.hkv * nkv * c.d));
    x.bytes.resize(size_t(uint64_t(c.hkv * nkv) * x.stride * x.elem));
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    for (int64_t r = 0; r < c.hkv * nkv; ++r)
        for (int64_t e = 0; e < c.d; ++e) {
            float f = r % nkv < reached ? mul * u(rng) : NAN;
            if (ramp) f *= 1.0f + 30.0f * float(r % nkv) / float(reached);
            uint8_t* at = x.bytes.data() + (uint64_t(r) * x.stride + uint64_t(e) * x.step) * x.elem;
            if (t == PA_TYPE_F16) {
                const uint16_t hbits = pa::fp32_to_fp16(f);
                f = pa::fp16_to_fp32(hbits);
                std::memcpy(at, &hbits, 2);
            } else {
                std::memcpy(at, &f, 4);
            }
            x.val[size_t(r * c.d + e)] = f;
        }
    return x;
}

// The block mask of pa/block_sparse.h over rows row0 .. row0 + n_rows - 1: a fixed pattern with
// the diagonal, and head 1's first row empty.
struct host_mask {
    int32_t row0 = 0, n_rows = 0;
    int64_t tri_total = 0;
    std::vector<int32_t> counts, blocks;
    std::vector<std::vector<std::vector<bool>>> kept; // [h][row - row0][block]
};

int64_t tri(int64_t m) {
    return m * (m + 1) / 2;
}

host_mask make_mask(const tiled_case& c) {
    host_mask mk;
    const int64_t b = c.block;
    mk.row0 = int32_t(c.n_past / b);
    mk.n_rows = int32_t((c.n_past + c.n + b - 1) / b - mk.row0);
    mk.tri_total = tri(mk.row0 + mk.n_rows) - tri(mk.row0);
    mk.counts.assign(size_t(c.h * mk.n_rows), 0);
    mk.blocks.assign(size_t(c.h * mk.tri_total), 0);
    mk.kept.assign(size_t(c.h), std::vector<std::vector<bool>>(size_t(mk.n_rows)));
    for (int64_t h = 0; h < c.h; ++h)
        for (int64_t m = mk.row0; m < mk.row0 + mk.n_rows; ++m) {
            std::vector<bool>& keep = mk.kept[size_t(h)][size_t(m - mk.row0)];
            keep.assign(size_t(m + 1), false);
            int32_t& count = mk.counts[size_t(h * mk.n_rows + m - mk.row0)];
            for (int64_t i = 0; i <= m; ++i) {
                if (h == 1 && m == mk.row0) break;
                if (i != m && (i * 7 + m * 3 + h) % 3 == 0) continue;
                keep[size_t(i)] = true;
                mk.blocks[size_t(h * mk.tri_total + tri(m) - tri(mk.row0) + count++)] = int32_t(i);
            }
        }
    return mk;
}

// o [d, H, N] in double from the values the kernel sees
std::vector<float> reference(const tiled_case& c, const std::vector<float>& q, const cache& k, const cache& v,
                             float scale, const host_mask* mask) {
    const int64_t nkv = c.n_past + c.n + c.extra, nk = c.causal ? c.n_past + c.n : nkv;
    std::vector<float> o(size_t(c.d * c.h * c.n), 0.0f);
    std::vector<double> w(static_cast<size_t>(nk));
    for (int64_t h = 0; h < c.h; ++h) {
        const int64_t hk = h / (c.h / c.hkv);
        for (int64_t t = 0; t < c.n; ++t) {
            const int64_t pos = c.n_past + t;
            double mx = -INFINITY;
            for (int64_t j = 0; j < nk; ++j) {
                bool ok = !c.causal || j <= pos;
                if (mask)
                    ok = ok &&
                         mask->kept[size_t(h)][size_t(pos / c.block - mask->row0)].size() >
                             size_t(j / c.block) &&
                         mask->kept[size_t(h)][size_t(pos / c.block - mask->row0)][size_t(j / c.block)];
                double s = 0;
                for (int64_t e = 0; e < c.d; ++e)
                    s += double(q[size_t((h * c.n + t) * c.d + e)]) * k.val[size_t((hk * nkv + j) * c.d + e)];
                w[size_t(j)] = ok ? s * scale : -INFINITY;
                mx = std::max(mx, w[size_t(j)]);
            }
            double sum = 0;
            for (int64_t j = 0; j < nk; ++j) {
                w[size_t(j)] = mx == -INFINITY ? 0.0 : std::exp(w[size_t(j)] - mx);
                sum += w[size_t(j)];
            }
            for (int64_t e = 0; e < c.d; ++e) {
                double acc = 0;
                for (int64_t j = 0; j < nk; ++j)
                    if (w[size_t(j)] != 0.0) acc += w[size_t(j)] * v.val[size_t((hk * nkv + j) * c.d + e)];
                o[size_t((t * c.h + h) * c.d + e)] = sum == 0 ? 0.0f : float(acc / sum);
            }
        }
    }
    return o;
}

mem_handle upload(const void* data, size_t bytes) {
    cl_int err = CL_SUCCESS;
    mem_handle m(clCreateBuffer(device()->cl_ctx(), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes,
                                const_cast<void*>(data), &err));
    check(err, "test upload");
    return m;
}

shape_ref shape(int64_t d, int64_t rows, int64_t heads, uint64_t elem, uint64_t stride, uint64_t step = 1) {
    shape_ref s{};
    s.ne = {{cl_long(d), cl_long(rows), cl_long(heads), 1}};
    s.nb = {
        {step * elem, stride * elem, uint64_t(rows) * stride * elem, uint64_t(rows * heads) * stride * elem}};
    return s;
}

class FlashAttnTiled : public ::testing::TestWithParam<tiled_case> {};

TEST_P(FlashAttnTiled, EveryVariantMatchesTheReference) {
    if (!device()) GTEST_SKIP() << "no OpenCL device";
    const tiled_case c = GetParam();
    std::mt19937 rng(uint32_t(c.d * 131 + c.n * 7 + c.n_past));
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    std::vector<float> q(size_t(c.d * c.n * c.h));
    for (float& x : q)
        x = c.huge ? 0.5f * u(rng) : u(rng); // huge: |q| <= 1, |k| <= 1 / (2 d)
    const int64_t nkv = c.n_past + c.n + c.extra, reached = c.causal ? c.n_past + c.n : nkv;
    const cache k = make_cache(c, c.kt, reached, rng, c.ramp, c.huge ? 0.25f / float(c.d) : 1.0f),
                v = make_cache(c, c.vt, reached, rng);
    const float scale = c.huge ? 3e38f : 1.0f / std::sqrt(float(c.d));
    const host_mask mk = c.block ? make_mask(c) : host_mask{};
    const std::vector<float> want = reference(c, q, k, v, scale, c.block ? &mk : nullptr);

    mem_handle mq = upload(q.data(), q.size() * 4), mk_ = upload(k.bytes.data(), k.bytes.size()),
               mv = upload(v.bytes.data(), v.bytes.size());
    const operand oq{{mq.get(), 0}, shape(c.d, c.n, c.h, 4, uint64_t(c.d)), PA_TYPE_F32};
    const operand ok{{mk_.get(), 0}, shape(c.d, nkv, c.hkv, k.elem, k.stride, k.step), c.kt};
    const operand ov{{mv.get(), 0}, shape(c.d, nkv, c.hkv, v.elem, v.stride, v.step), c.vt};
    mem_handle counts, blocks;
    device_block_mask dm;
    if (c.block) {
        counts = upload(mk.counts.data(), mk.counts.size() * 4);
        blocks = upload(mk.blocks.data(), mk.blocks.size() * 4);
        dm = {counts.get(), blocks.get(), c.block, mk.row0, mk.n_rows, mk.tri_total};
    }
    for (int variant = 1; variant < flash_attn_tiled_variants; ++variant) { // 0: BackendOps
        std::vector<float> got(want.size(), -1.0f);
        mem_handle mo = upload(got.data(), got.size() * 4);
        shape_ref os{};
        os.ne = {{cl_long(c.d), cl_long(c.h), cl_long(c.n), 1}};
        os.nb = {{4, uint64_t(c.d) * 4, uint64_t(c.d * c.h) * 4, uint64_t(c.d * c.h * c.n) * 4}};
        flash_attn_tiled(*device(), oq, ok, ov, operand{{mo.get(), 0}, os, PA_TYPE_F32}, int32_t(c.n_past),
                         c.causal, scale, c.block ? &dm : nullptr, variant);
        check(clEnqueueReadBuffer(device()->queue(), mo.get(), CL_TRUE, 0, got.size() * 4, got.data(), 0,
                                  nullptr, nullptr),
              "test read");
        EXPECT_LT(pa::test::rel_l2(got, want), 2e-6) << "variant " << variant;
    }
}

constexpr pa_type f16 = PA_TYPE_F16, f32 = PA_TYPE_F32;
INSTANTIATE_TEST_SUITE_P(Shapes, FlashAttnTiled,
                         ::testing::Values(tiled_case{128, 77, 5, 9, 4, 2, f16, f16, true, false, 0},
                                           tiled_case{96, 33, 0, 12, 2, 1, f32, f16, false, true, 0},
                                           tiled_case{32, 90, 100, 3, 2, 2, f16, f32, true, true, 128},
                                           // 4-dim loads over a mask (the pipelined staging's walk
                                           // from span to span) and f32 K / V
                                           tiled_case{64, 300, 37, 5, 4, 2, f16, f16, true, false, 128},
                                           tiled_case{128, 150, 70, 2, 3, 3, f32, f32, true, false, 64},
                                           // scores that outgrow the running max by far (e^100
                                           // and more) in later tiles: the lazy max must move
                                           tiled_case{64, 200, 300, 0, 2, 1, f16, f16, true, false, 0, true},
                                           // a scale near FLT_MAX (variant 7 must not fold it into Q)
                                           tiled_case{64, 100, 20, 0, 2, 1, f32, f16, true, false, 0, false,
                                                      true}),
                         [](const auto& info) { return info.param.name(); });

} // namespace
