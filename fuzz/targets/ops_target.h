// ops_target.h - fuzz body for op and parameter validation: a small program read from the
// input creates tensors (any type id, any dims, including zero, negative and overflowing ones)
// and applies op constructors (include/pa/ops.h, proxy_sparse_attn through its shape rule,
// unknown custom ops) with arbitrary params. Each constructor must accept or throw pa::error;
// what it accepts must be a well-formed record. Graphs that stay small are then computed on the
// CPU backend, so a shape the constructors accept but the kernels cannot handle shows up as an
// ASan report.
#pragma once

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

#include "fuzz_util.h"
#include "pa/error.h"
#include "pa/op_registry.h"
#include "pa/ops.h"
#include "pa/proxy_sparse_attn.h"
#include "pa/scheduler.h"
#include "proxy_op.h"
#include "ref/reference.h"

namespace pa::fuzz {

// A record an op constructor returned: positive dims within the element limit, the byte size
// computable, views inside their root.
inline void check_record(const tensor* t) {
    check(t != nullptr, "constructor returned null");
    check(type_is_valid(t->type), "result has an invalid type");
    int64_t total = 1;
    for (int64_t n : t->ne) {
        check(n > 0 && n <= max_tensor_elements && total <= max_tensor_elements / n,
              fmt::format("result shape {} breaks the element limit", shape_string(t)));
        total *= n;
    }
    if (t->view_src) {
        check(t->view_src->view_src == nullptr, "view of a view (must point at the root)");
        check(t->view_offs <= nbytes(t->view_src) && nbytes(t) <= nbytes(t->view_src) - t->view_offs,
              fmt::format("view {} at {} exceeds its root {}", shape_string(t), t->view_offs,
                          shape_string(t->view_src)));
    }
}

struct ops_program {
    context ctx;
    std::vector<tensor*> pool;
    std::vector<tensor*> results;
    uint32_t seed = 1;

    float next_float() {
        seed = seed * 1664525u + 1013904223u;
        return float(int32_t(seed >> 8) % 2001 - 1000) / 500.0f;
    }
    tensor* pick(input& in) {
        const uint8_t b = in.byte();
        if (b == 255) return nullptr;
        return pool.empty() ? nullptr : pool[b % pool.size()];
    }
    void fill(tensor* t) {
        if (!t->data) return;
        const size_t n = nbytes(t);
        if (t->type == PA_TYPE_F32) {
            for (size_t i = 0; i < n / 4; ++i)
                static_cast<float*>(t->data)[i] = next_float();
        } else if (t->type == PA_TYPE_F16) {
            for (size_t i = 0; i < n / 2; ++i)
                static_cast<uint16_t*>(t->data)[i] = fp32_to_fp16(next_float());
        } else if (t->type == PA_TYPE_I32) {
            for (size_t i = 0; i < n / 4; ++i) { // row ids: mostly small, now and then negative
                seed = seed * 1664525u + 1013904223u;
                static_cast<int32_t*>(t->data)[i] = int32_t((seed >> 8) % 4) - ((seed >> 28) == 15 ? 9 : 0);
            }
        } else {
            for (size_t i = 0; i < n; ++i)
                static_cast<uint8_t*>(t->data)[i] = uint8_t(seed = seed * 69069u + 1u);
        }
    }
    void leaf(input& in) {
        static constexpr pa_type types[] = {PA_TYPE_F32,  PA_TYPE_F32,  PA_TYPE_F32,  PA_TYPE_F16,
                                            PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1, PA_TYPE_I32};
        const uint8_t tsel = in.byte();
        const pa_type type = tsel < 248 ? types[tsel % 8] : pa_type(tsel % 32);
        const int n_dims = in.byte() % 6; // 0 and 5 are invalid
        int64_t ne[6] = {1, 1, 1, 1, 1, 1};
        for (int i = 0; i < n_dims; ++i)
            ne[i] = in.dim();
        if (type_is_valid(type) && traits(type).quantized && in.flag()) ne[0] = 32 * (1 + in.byte() % 4);
        // host storage only for small tensors: the fuzzer looks for bad checks, not for RAM
        bool small = true;
        int64_t total = 1;
        for (int i = 0; i < n_dims; ++i) {
            if (ne[i] <= 0 || ne[i] > 4096 || total * ne[i] > 65536)
                small = false;
            else
                total *= ne[i];
        }
        tensor* t = ctx.new_tensor(type, n_dims, ne, small);
        check_record(t);
        fill(t);
        pool.push_back(t);
    }
    void op(input& in) {
        tensor* a = pick(in);
        tensor* b = pick(in);
        tensor* c = pick(in);
        const uint8_t kind = in.byte() % 24;
        auto sz = [&] { return size_t(in.take<uint32_t>()) * (in.flag() ? 1u : 4u); };
        tensor* r = nullptr;
        switch (kind) {
        case 0:
            r = view_1d(ctx, a, in.dim(), sz());
            break;
        case 1:
            r = view_2d(ctx, a, in.dim(), in.dim(), sz(), sz());
            break;
        case 2:
            r = view_3d(ctx, a, in.dim(), in.dim(), in.dim(), sz(), sz(), sz());
            break;
        case 3:
            r = view_4d(ctx, a, in.dim(), in.dim(), in.dim(), in.dim(), sz(), sz(), sz(), sz());
            break;
        case 4: {
            const int64_t d0 = in.dim(), d1 = in.dim(), d2 = in.dim();
            switch (in.byte() % 3) {
            case 0:
                r = reshape(ctx, a, {d0});
                break;
            case 1:
                r = reshape(ctx, a, {d0, d1});
                break;
            default:
                r = reshape(ctx, a, {d0, d1, d2, in.dim()});
                break;
            }
            break;
        }
        case 5:
            r = permute(ctx, a, in.byte() % 5, in.byte() % 5, in.byte() % 5, in.byte() % 5);
            break;
        case 6:
            r = transpose(ctx, a);
            break;
        case 7:
            r = cont(ctx, a);
            break;
        case 8:
            r = cont(ctx, a, pa_type(in.byte() % 28));
            break;
        case 9:
            r = cpy(ctx, a, b);
            break;
        case 10:
            r = get_rows(ctx, a, b);
            break;
        case 11:
            r = add(ctx, a, b);
            break;
        case 12:
            r = mul(ctx, a, b);
            break;
        case 13:
            r = scale(ctx, a, std::bit_cast<float>(in.take<uint32_t>()));
            break;
        case 14:
            r = rms_norm(ctx, a, in.flag() ? 1e-5f : std::bit_cast<float>(in.take<uint32_t>()));
            break;
        case 15:
            r = mul_mat(ctx, a, b);
            break;
        case 16:
            r = rope(ctx, a, int(in.take<int8_t>()), in.byte() % 4, in.flag() ? 10000.0f : -1.0f,
                     int(in.take<int16_t>()));
            break;
        case 17:
            r = soft_max_ext(ctx, a, in.flag() ? nullptr : b, 0.5f);
            break;
        case 18:
            r = silu(ctx, a);
            break;
        case 19:
            r = swiglu(ctx, a, b);
            break;
        case 20:
            r = flash_attn_ext(ctx, a, b, c, 0.125f, int(in.take<int8_t>()), in.flag());
            break;
        case 21: {
            proxy_params p;
            p.block = in.flag() ? 4 << (in.byte() % 6) : in.take<int32_t>();
            p.stride = in.flag() ? 1 << (in.byte() % 3) : in.take<int32_t>();
            p.n_proxy = in.flag() ? 1 : in.take<int8_t>();
            p.gamma = in.flag() ? 0.9f : std::bit_cast<float>(in.take<uint32_t>());
            p.min_tokens = in.flag() ? 0 : in.take<int16_t>();
            p.force_sink_and_local = in.flag();
            p.scale = in.flag() ? 0.0f : std::bit_cast<float>(in.take<uint32_t>());
            p.n_past = in.take<int8_t>();
            p.stop_after = in.byte() % 6;
            r = proxy_sparse_attn(ctx, a, b, c, p);
            break;
        }
        case 22: { // the proxy op with raw params (causal flag and all)
            std::array<int32_t, PA_MAX_OP_PARAMS> params{};
            for (int32_t& x : params)
                x = in.flag() ? int32_t(in.byte() % 8) : in.take<int32_t>();
            r = custom(ctx, proxy_op_name, {a, b, c}, params);
            break;
        }
        default: { // unknown names, wrong source counts, null sources
            const int32_t params[2] = {1, 2};
            const int n = in.byte() % 4;
            if (n == 0)
                r = custom(ctx, in.flag() ? "no_such_op" : proxy_op_name, {}, params);
            else if (n == 1)
                r = custom(ctx, proxy_op_name, {a}, params);
            else
                r = custom(ctx, proxy_op_name, {a, b, c, a}, params);
            break;
        }
        }
        check_record(r);
        pool.push_back(r);
        results.push_back(r);
    }
};

// Rough CPU cost of computing a node; large ones are skipped (the fuzzer wants many runs).
inline double node_cost(const tensor* n) {
    double cost = double(nelements(n));
    if (n->op == PA_OP_MUL_MAT) cost *= double(n->src[0]->ne[0]);
    if (n->op == PA_OP_FLASH_ATTN_EXT || n->op >= PA_OP_FIRST_DYNAMIC) cost *= double(n->src[1]->ne[1]);
    if (n->op == PA_OP_SOFT_MAX || n->op == PA_OP_RMS_NORM) cost *= 2;
    return cost;
}

// PA_FUZZ_VERBOSE=1 prints what a program did (for writing seeds and reading crashes).
inline bool ops_verbose() {
    static const bool v = std::getenv("PA_FUZZ_VERBOSE") != nullptr;
    return v;
}

inline void run_ops(std::span<const uint8_t> data) {
    ensure_proxy_op();
    input in(data);
    ops_program prog;
    prog.seed = in.take<uint32_t>();
    const int n_leaves = 1 + in.byte() % 4;
    for (int i = 0; i < n_leaves; ++i) {
        try {
            prog.leaf(in);
            if (ops_verbose()) std::fprintf(stderr, "leaf %s\n", shape_string(prog.pool.back()).c_str());
        } catch (const pa::error& e) {
            if (ops_verbose()) std::fprintf(stderr, "leaf rejected: %s\n", e.what());
        }
    }
    const int n_ops = in.byte() % 10;
    for (int i = 0; i < n_ops && !in.empty(); ++i) {
        try {
            prog.op(in);
            if (ops_verbose())
                std::fprintf(stderr, "op %d -> %s\n", prog.pool.back()->op,
                             shape_string(prog.pool.back()).c_str());
        } catch (const pa::error& e) {
            if (ops_verbose()) std::fprintf(stderr, "op rejected: %s\n", e.what());
        }
    }
    if (prog.results.empty() || !in.flag()) return;
    tensor* out = prog.results.back();
    const graph g = build_forward({out});
    double cost = 0;
    for (const tensor* n : g.nodes) {
        if (nbytes(n) > (size_t(1) << 22)) return;
        cost += node_cost(n);
    }
    for (const tensor* l : g.leafs)
        if (!l->data) return;
    if (cost > 4e6) return; // ~0.3 s under ASan and coverage: at 2e7 units took ~2 s
    const std::unique_ptr<backend> cpu = make_cpu_backend(1);
    scheduler sched({cpu.get()});
    try {
        sched.compute(g);
        if (ops_verbose()) std::fprintf(stderr, "computed %zu nodes\n", g.nodes.size());
    } catch (const pa::error& e) {
        if (ops_verbose()) std::fprintf(stderr, "compute failed: %s\n", e.what());
        return;
    }
    check(out->data != nullptr, fmt::format("output {} has no host data after compute", shape_string(out)));
    {
        const size_t n = nbytes(out);
        uint8_t acc = 0;
        for (size_t i = 0; i < n; ++i)
            acc ^= static_cast<const uint8_t*>(out->data)[i]; // ASan: readable
        (void)acc;
    }
}

} // namespace pa::fuzz
