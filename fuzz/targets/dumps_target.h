// dumps_target.h - fuzz body for the attention dump files (analysis/dump_files.h): PAQKV1 Q/K/V
// dumps (`pa attn --load`) and PAMASK1 block masks (`pa attn --save-mask`, the PyTorch anchor).
//
// Input: the file itself (the reader is picked by the magic; anything else goes to the Q/K/V
// reader, which must refuse it). Whatever a reader accepts must keep the format's invariants and
// survive a write/read round trip bit for bit. A small accepted Q/K/V problem then goes where
// `pa attn --load` sends it, on the CPU backend: proxy_sparse_attn and dense attention nodes,
// the estimated mask (proxy CPU reference) and its quality against exact attention. Bytes after
// the dump's data pick the node's parameters (the node validates them) and the K/V type. With
// finite, moderate inputs every output is a convex combination of values, so it stays within
// the largest |v|; recall and density stay within [0, 1].
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "attn_inputs.h"
#include "dump_files.h"
#include "fuzz_util.h"
#include "mask_quality.h"
#include "pa/error.h"
#include "pa/ops.h"
#include "pa/proxy_sparse_attn.h"
#include "pa/scheduler.h"
#include "proxy_op.h"
#include "ref/reference.h"

namespace pa::fuzz {

// Problems up to this many multiply-adds of dense attention (H * N * keys * d) are computed.
inline constexpr int64_t dumps_max_attention_work = int64_t(1) << 20;

// The mask's CSR invariants: per (head, row) a count in [0, m + 1] and an ascending list in 0..m.
inline void check_mask(const block_mask& mk) {
    const block_grid& g = mk.grid;
    check(mk.counts.size() == size_t(mk.n_heads * g.n_rows), "mask counts have the wrong size");
    check(mk.blocks.size() == size_t(mk.n_heads * g.tri_total()), "mask blocks have the wrong size");
    for (int64_t h = 0; h < mk.n_heads; ++h)
        for (int64_t m = g.row0; m < g.n_kblocks; ++m) {
            const std::span<const int32_t> kept = mk.kept(h, m);
            check(kept.size() <= size_t(m + 1), fmt::format("row {} of head {} keeps too many blocks", m, h));
            for (size_t i = 0; i < kept.size(); ++i)
                check(kept[i] >= 0 && kept[i] <= m && (i == 0 || kept[i] > kept[i - 1]),
                      fmt::format("row {} of head {}: block list not ascending in 0..{}", m, h, m));
        }
}

inline void check_mask_round_trip(const block_mask& mk) {
    const memfile out({});
    analysis::write_mask_file(out.path(), mk);
    const block_mask back = analysis::read_mask_file(out.path());
    check(back.grid.B == mk.grid.B && back.grid.n_past == mk.grid.n_past &&
              back.grid.n_keys == mk.grid.n_keys && back.n_heads == mk.n_heads && back.counts == mk.counts &&
              back.blocks == mk.blocks,
          "mask round trip changed the mask");
}

inline bool finite_and_moderate(const std::vector<float>& v, float bound) {
    return std::all_of(v.begin(), v.end(),
                       [&](float x) { return std::isfinite(x) && std::fabs(x) <= bound; });
}

// `pa attn --load` on the CPU: both attention nodes, the estimated mask and its quality.
inline void run_attention(const attn_qkv& s, input& params) {
    ensure_proxy_op();
    proxy_params p;
    p.block = int32_t(params.range(1, 256));
    p.stride = int32_t(params.range(1, 16));
    p.key_stride = int32_t(params.flag() ? 1 : params.range(1, 16));
    p.n_proxy = int32_t(params.range(1, 4));
    p.gamma = params.flag() ? 0.95f : params.take<float>();
    p.min_tokens = int32_t(params.range(0, 512));
    p.budget = static_cast<proxy_budget>(params.range(0, 3));
    p.n_samples = int32_t(params.range(0, 16));
    p.exact_rows = params.flag();
    p.force_sink_and_local = !params.flag();
    p.scale = 1.0f / std::sqrt(float(s.d));
    p.n_past = int32_t(s.n_past);
    const pa_type kv_type = params.flag() ? PA_TYPE_F16 : PA_TYPE_F32;

    analysis::attn_inputs in;
    analysis::make_attn_inputs(in, s, kv_type);
    tensor* prox = nullptr;
    try {
        prox = proxy_sparse_attn(in.ctx, in.q, in.k, in.v, p);
    } catch (const pa::error&) {
        return; // parameters the node refuses
    }
    tensor* dense = flash_attn_ext(in.ctx, in.q, in.k, in.v, p.scale, int(s.n_past), true);
    auto cpu = make_cpu_backend(1);
    scheduler sched({cpu.get()});
    sched.compute(build_forward({prox, dense}));

    const proxy::geometry geo = proxy::make_geometry(prox);
    const proxy::host_qkv x = proxy::load_qkv(geo, in.q, in.k, in.v, 1);
    const proxy::estimate e = proxy::estimate_mask(geo, x, 1);
    check_mask(e.mask);
    check_mask_round_trip(e.mask);
    const double density = analysis::mask_density(e.mask);
    check(density >= 0.0 && density <= 1.0, fmt::format("density {} outside [0, 1]", density));

    const float bound = 1e4f; // logits stay finite, values fit F16
    if (!finite_and_moderate(s.q, bound) || !finite_and_moderate(s.k, bound) ||
        !finite_and_moderate(s.v, bound))
        return;
    const size_t n_out = size_t(s.N * s.H * s.d);
    // the values as attention reads them: F16 storage rounds them (absolutely, not relatively,
    // among F16's subnormals below 6.1e-5), so the bound is the largest stored value
    float stored_max = 0.0f;
    for (float v : s.v)
        stored_max =
            std::max(stored_max, std::fabs(kv_type == PA_TYPE_F16 ? fp16_to_fp32(fp32_to_fp16(v)) : v));
    const float vmax = stored_max * 1.0001f;
    for (const tensor* out : {dense, prox}) {
        const float* o = static_cast<const float*>(out->data);
        for (size_t i = 0; i < n_out; ++i)
            check(std::isfinite(o[i]) && std::fabs(o[i]) <= vmax + 1e-30f,
                  fmt::format("{} output {} = {} outside the values' range (max |v| {})",
                              out == dense ? "dense" : "proxy", i, o[i], vmax));
    }
    const analysis::mask_quality mq = analysis::measure_mask(x, e.mask, geo.gamma, 1);
    check(mq.recall_mean >= 0.0 && mq.recall_mean <= 1.0 + 1e-6 && mq.recall_min >= 0.0,
          fmt::format("recall {} (min {}) outside [0, 1]", mq.recall_mean, mq.recall_min));
    check(mq.density >= 0.0 && mq.density <= 1.0,
          fmt::format("measured density {} outside [0, 1]", mq.density));
}

inline void run_qkv(std::span<const uint8_t> data) {
    const memfile f(data);
    attn_qkv s;
    try {
        s = analysis::read_qkv_dump(f.path());
    } catch (const pa::error& e) {
        check(std::string_view(e.what()).find(f.path()) != std::string_view::npos,
              "error does not name the file");
        return;
    }
    const int64_t nk = s.n_past + s.N;
    check(s.d > 0 && s.N > 0 && s.n_past >= 0 && s.H > 0 && s.Hkv > 0 && s.H % s.Hkv == 0,
          "accepted bad sizes");
    check(s.q.size() == size_t(s.H * s.N * s.d) && s.k.size() == size_t(s.Hkv * nk * s.d) &&
              s.v.size() == s.k.size(),
          "arrays do not match the sizes");
    check(s.scale == 1.0f / std::sqrt(float(s.d)), "scale is not 1/sqrt(d)");
    const size_t data_bytes = 8 + 5 * 8 + 4 * (s.q.size() + s.k.size() + s.v.size());
    check(data_bytes <= data.size(), "accepted a file shorter than its arrays");

    const memfile out({});
    analysis::write_qkv_dump(out.path(), s);
    const attn_qkv back = analysis::read_qkv_dump(out.path());
    auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
        return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
    };
    check(back.d == s.d && back.N == s.N && back.n_past == s.n_past && back.H == s.H && back.Hkv == s.Hkv &&
              same_bits(back.q, s.q) && same_bits(back.k, s.k) && same_bits(back.v, s.v),
          "Q/K/V round trip changed the problem");

    if (s.H * s.N > dumps_max_attention_work / nk / s.d) return; // too big to compute per input
    input params(data.subspan(data_bytes));
    run_attention(s, params);
}

inline void run_mask(std::span<const uint8_t> data) {
    const memfile f(data);
    block_mask mk;
    try {
        mk = analysis::read_mask_file(f.path());
    } catch (const pa::error& e) {
        check(std::string_view(e.what()).find(f.path()) != std::string_view::npos,
              "error does not name the file");
        return;
    }
    check_mask(mk);
    const double density = analysis::mask_density(mk);
    check(density >= 0.0 && density <= 1.0, fmt::format("density {} outside [0, 1]", density));
    check_mask_round_trip(mk);
}

inline void run_dumps(std::span<const uint8_t> data) {
    static constexpr char mask_magic[8] = {'P', 'A', 'M', 'A', 'S', 'K', '1', 0};
    if (data.size() >= 8 && std::memcmp(data.data(), mask_magic, 8) == 0)
        run_mask(data);
    else
        run_qkv(data);
}

} // namespace pa::fuzz
