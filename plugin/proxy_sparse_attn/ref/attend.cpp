// attend.cpp - step 7 (exact attention over the kept blocks), loading Q/K/V, the
// whole node on the CPU, and the op's C entry points (shape rule, CPU compute).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "pa/error.h"
#include "pa/fast_dot.h"
#include "pa/parallel.h"
#include "pa/types.h"
#include "reference.h"

namespace pa::proxy {
namespace {

// Host storage of t: its own data, or (a view built but not run through a scheduler) its root's.
const char* host_data(const pa_tensor* t) {
    if (t->data) return static_cast<const char*>(t->data);
    if (t->view_src && t->view_src->data) return static_cast<const char*>(t->view_src->data) + t->view_offs;
    return nullptr;
}

// Row (i1, i2) of t (ne0 elements, f32 or f16, any strides) as floats.
void load_row(const pa_tensor* t, int64_t i1, int64_t i2, float* out) {
    const char* base = host_data(t) + size_t(i1) * t->nb[1] + size_t(i2) * t->nb[2];
    for (int64_t i = 0; i < t->ne[0]; ++i) {
        const char* p = base + size_t(i) * t->nb[0];
        if (t->type == PA_TYPE_F16) {
            uint16_t hbits;
            std::memcpy(&hbits, p, 2);
            out[i] = fp16_to_fp32(hbits);
        } else {
            std::memcpy(&out[i], p, 4);
        }
    }
}

void load_heads(const pa_tensor* t, int64_t rows, int64_t heads, std::vector<float>& out, int n_threads) {
    const int64_t d = t->ne[0];
    if (!host_data(t)) throw error(fmt::format("{}: a source has no host data", proxy_op_name));
    out.assign(size_t(rows * heads * d), 0.0f);
    parallel_for(rows * heads, 256, n_threads, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r)
            load_row(t, r % rows, r / rows, &out[size_t(r * d)]);
    });
}

// The host prefixes shape-rule messages with the op name: drop ours to avoid saying it twice.
void copy_message(const std::exception& ex, char* err, size_t err_len) {
    if (!err || !err_len) return;
    std::string_view msg = ex.what();
    const std::string prefix = std::string(proxy_op_name) + ": ";
    if (msg.substr(0, prefix.size()) == prefix) msg.remove_prefix(prefix.size());
    const size_t n = std::min(msg.size(), err_len - 1);
    std::memcpy(err, msg.data(), n);
    err[n] = '\0';
}

// One query row: two passes over the kept keys (max, then exp/sum/accumulate), sum in double.
PA_NO_COVERAGE PA_FAST_CLONES void attend_row(const geometry& geo, const host_qkv& x, const estimate& e,
                                              int64_t h, int64_t t, float* out, std::vector<float>& s,
                                              std::vector<float>& acc) {
    const int64_t d = geo.d, B = geo.B, p = geo.n_past + t, m = p / B;
    const float* qv = &x.q[size_t((h * geo.N + t) * d)];
    const int64_t hk = h / geo.gqa;
    const float* K = &x.k[size_t(hk * geo.n_keys * d)];
    const float* V = &x.v[size_t(hk * geo.n_keys * d)];
    const auto kept = e.kept(h, m);
    float mx = -INFINITY;
    size_t c = 0;
    for (int32_t n : kept)
        for (int64_t j = n * B; j < std::min((n + 1) * B, p + 1); ++j) {
            s[c] = geo.scale * fast_dot(qv, K + j * d, d);
            mx = std::max(mx, s[c++]);
        }
    std::fill(acc.begin(), acc.end(), 0.0f);
    double sum = 0.0;
    c = 0;
    for (int32_t n : kept)
        for (int64_t j = n * B; j < std::min((n + 1) * B, p + 1); ++j) {
            const float w = std::exp(s[c++] - mx);
            sum += w;
            const float* vj = V + j * d;
            for (int64_t i = 0; i < d; ++i)
                acc[size_t(i)] += w * vj[i];
        }
    const float inv = float(1.0 / sum);
    for (int64_t i = 0; i < d; ++i)
        out[i] = acc[size_t(i)] * inv;
}

} // namespace

host_qkv load_qkv(const geometry& geo, const pa_tensor* q, const pa_tensor* k, const pa_tensor* v,
                  int n_threads) {
    host_qkv x;
    x.d = geo.d;
    x.N = geo.N;
    x.n_past = geo.n_past;
    x.H = geo.H;
    x.Hkv = geo.Hkv;
    x.scale = geo.scale;
    load_heads(q, geo.N, geo.H, x.q, n_threads);
    load_heads(k, geo.n_keys, geo.Hkv, x.k, n_threads);
    load_heads(v, geo.n_keys, geo.Hkv, x.v, n_threads);
    return x;
}

void attend(const geometry& geo, const host_qkv& x, const estimate& e, float* out, int n_threads) {
    parallel_for(geo.N * geo.H, 16, n_threads, [&](int64_t b, int64_t end) {
        std::vector<float> s(static_cast<size_t>(geo.n_keys)), acc(size_t(geo.d));
        for (int64_t it = b; it < end; ++it) {
            const int64_t t = it / geo.H, h = it % geo.H;
            attend_row(geo, x, e, h, t, out + it * geo.d, s, acc);
        }
    });
}

void run_reference(pa_tensor* dst, estimate* debug, int n_threads) {
    const geometry geo = make_geometry(dst);
    if (!dst->data) throw error(fmt::format("{}: the result has no host data", proxy_op_name));
    if (dst->type != PA_TYPE_F32 || dst->ne[0] != geo.d || dst->ne[1] != geo.H || dst->ne[2] != geo.N)
        throw error(
            fmt::format("{}: the result must be f32 [{}, {}, {}]", proxy_op_name, geo.d, geo.H, geo.N));
    const host_qkv x = load_qkv(geo, dst->src[0], dst->src[1], dst->src[2], n_threads);
    estimate e = estimate_mask(geo, x, n_threads);
    std::vector<float> out(size_t(geo.N * geo.H * geo.d), 0.0f);
    if (geo.stop_after == 0) attend(geo, x, e, out.data(), n_threads);
    for (int64_t t = 0; t < geo.N; ++t)
        for (int64_t h = 0; h < geo.H; ++h) {
            char* row = static_cast<char*>(dst->data) + size_t(h) * dst->nb[1] + size_t(t) * dst->nb[2];
            const float* src = &out[size_t((t * geo.H + h) * geo.d)];
            if (dst->nb[0] == sizeof(float))
                std::memcpy(row, src, size_t(geo.d) * sizeof(float));
            else
                for (int64_t i = 0; i < geo.d; ++i)
                    std::memcpy(row + size_t(i) * dst->nb[0], &src[i], sizeof(float));
        }
    if (debug) *debug = std::move(e);
}

pa_status op_infer(const pa_tensor* const* src, int n_src, const int32_t* params, pa_tensor* out, char* err,
                   size_t err_len) {
    try {
        if (n_src != 3 || !src || !params || !out)
            throw error(fmt::format("{} takes q, k, v", proxy_op_name));
        if (params[proxy_param_causal] != 1)
            throw error(fmt::format("{}: only causal attention is supported (causal param must be 1)",
                                    proxy_op_name));
        const geometry geo = make_geometry(src[0], src[1], src[2], proxy_params_unpack(params));
        out->type = PA_TYPE_F32;
        out->ne[0] = geo.d;
        out->ne[1] = geo.H;
        out->ne[2] = geo.N;
        out->ne[3] = 1;
        return PA_OK;
    } catch (const std::exception& ex) {
        copy_message(ex, err, err_len);
        return PA_ERR_INVALID;
    }
}

pa_status op_cpu_compute(pa_tensor* dst, char* err, size_t err_len) {
    try {
        run_reference(dst);
        return PA_OK;
    } catch (const error& ex) {
        copy_message(ex, err, err_len);
        return ex.status();
    } catch (const std::exception& ex) {
        copy_message(ex, err, err_len);
        return PA_ERR_INVALID;
    }
}

} // namespace pa::proxy
