// layer_quality.cpp - see layer_quality.h.
#include "layer_quality.h"

#include <fmt/format.h>

#include "masked_attention.h"
#include "pa/error.h"

namespace pa::analysis {

layer_report measure_layer(const attn_qkv& x, const block_mask& mask, const layer_options& o) {
    if (o.n_proxy <= 0 || x.Hkv % o.n_proxy != 0)
        throw error(fmt::format("layer quality: {} proxy heads do not divide {} kv heads", o.n_proxy, x.Hkv));
    layer_report r;
    r.mask = measure_mask(x, mask, o.gamma, o.n_threads);
    const std::vector<float> dense = masked_attention(x, nullptr, o.n_threads);
    const std::vector<float> sparse = masked_attention(x, &mask, o.n_threads);
    r.error = compare_outputs(sparse.data(), dense.data(), dense.size());
    r.sim = measure_head_similarity(x, o.sim);
    const int64_t kv_group = x.gqa(), proxy_group = x.H / o.n_proxy;
    r.sim_kv = group_stats(r.sim, kv_group);
    r.sim_proxy = group_stats(r.sim, proxy_group);

    // one head's rows of [N][H][d]
    std::vector<float> hd, hs;
    for (int64_t h = 0; h < x.H; ++h) {
        hd.clear();
        hs.clear();
        for (int64_t t = 0; t < x.N; ++t) {
            const size_t at = size_t((t * x.H + h) * x.d);
            hd.insert(hd.end(), dense.begin() + long(at), dense.begin() + long(at + size_t(x.d)));
            hs.insert(hs.end(), sparse.begin() + long(at), sparse.begin() + long(at + size_t(x.d)));
        }
        head_report hr;
        hr.recall_mean = r.mask.recall_per_head[size_t(h)];
        hr.recall_p5 = r.mask.recall_p5_per_head[size_t(h)];
        hr.recall_min = r.mask.recall_min_per_head[size_t(h)];
        hr.density = r.mask.density_per_head[size_t(h)];
        hr.oracle_density = r.mask.oracle_density_per_head[size_t(h)];
        hr.error = compare_outputs(hs.data(), hd.data(), hd.size());
        hr.top_k_mean = r.sim.top_k_mean[size_t(h)];
        hr.kv_received = head_received(r.sim, kv_group, h);
        hr.proxy_received = head_received(r.sim, proxy_group, h);
        r.heads.push_back(hr);
    }
    return r;
}

layers_summary summarize_layers(const std::vector<layer_report>& layers) {
    layers_summary s;
    s.layers = int64_t(layers.size());
    if (layers.empty()) return s;
    for (const layer_report& l : layers) {
        s.recall_mean += l.mask.recall_mean;
        s.recall_p5_mean += l.mask.recall_p5;
        s.density += l.mask.density;
        s.oracle_density += l.mask.oracle_density;
        s.rel_l2_mean += l.error.rel_l2;
        s.sim_kv_mean += l.sim_kv.mean;
        s.sim_proxy_mean += l.sim_proxy.mean;
        const auto worse = [&](double v, double& worst, int& at, bool low) {
            if (at < 0 || (low ? v < worst : v > worst)) {
                worst = v;
                at = l.layer;
            }
        };
        worse(l.mask.recall_p5, s.recall_p5_worst, s.recall_p5_worst_layer, true);
        worse(l.mask.recall_min, s.recall_min_worst, s.recall_min_worst_layer, true);
        worse(l.error.rel_l2, s.rel_l2_worst, s.rel_l2_worst_layer, false);
        worse(l.sim_kv.min, s.sim_kv_min, s.sim_kv_min_layer, true);
        worse(l.sim_proxy.min, s.sim_proxy_min, s.sim_proxy_min_layer, true);
    }
    const double n = double(layers.size());
    for (double* v : {&s.recall_mean, &s.recall_p5_mean, &s.density, &s.oracle_density, &s.rel_l2_mean,
                      &s.sim_kv_mean, &s.sim_proxy_mean})
        *v /= n;
    return s;
}

} // namespace pa::analysis
