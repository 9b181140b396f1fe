// mma_check.cpp - pa_mma_check: checks the tensor-core attention kernels (opencl/kernels/
// flash_attn_mma.cl, flash_attn_mma_sparse.cl) against a CPU reference and times them, through plain
// OpenCL (no dependency on the backend, so it runs while the backend is being built).
//
//   pa_mma_check                 NVIDIA sm_80+: real PTX; checks, then timings
//   pa_mma_check --emulate       any device (PoCL): the PTX helpers emulated; checks only
//   pa_mma_check --probe         only which inline-PTX shared-memory forms, named barriers and mbarriers
//                                work (own process: a failing probe can break the OpenCL context)
// Options: --check-only, --time-only, --n-list 4096,8192,... , --variants W8B64A0,W4B64A1M2 ,
//          --json FILE (timings as JSON lines), --reps R, --sparse-n N.
// Exit status 1 when a check fails.
#include <CL/cl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "mma_check_kernels.h"

namespace {

[[noreturn]] void fail(const std::string& m) {
    throw std::runtime_error(m);
}
void ck(cl_int e, const char* what) {
    if (e != CL_SUCCESS) fail(fmt::format("{}: OpenCL error {}", what, e));
}
const char* source_of(const char* name) {
    for (const auto& s : pa_mma_check_sources)
        if (!std::strcmp(s.name, name)) return s.text;
    fail(fmt::format("no embedded source {}", name));
}

struct mem_del {
    void operator()(cl_mem m) const { clReleaseMemObject(m); }
};
using mem_ptr = std::unique_ptr<std::remove_pointer_t<cl_mem>, mem_del>;

struct env {
    cl_platform_id platform = nullptr;
    cl_device_id dev = nullptr;
    cl_context ctx = nullptr;
    cl_command_queue q = nullptr;
    std::string name, platform_name;
    bool nvidia = false;
    int cc_major = 0, cc_minor = 0;
};

env open_env() {
    cl_uint np = 0;
    ck(clGetPlatformIDs(0, nullptr, &np), "clGetPlatformIDs");
    std::vector<cl_platform_id> ps(np);
    ck(clGetPlatformIDs(np, ps.data(), nullptr), "clGetPlatformIDs");
    env e;
    for (auto p : ps) {
        char name[256] = {};
        clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof name - 1, name, nullptr);
        cl_device_id d = nullptr;
        if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 1, &d, nullptr) != CL_SUCCESS) continue;
        const bool nv = std::string(name).find("NVIDIA") != std::string::npos;
        if (!e.dev || (nv && !e.nvidia)) {
            e.platform = p, e.dev = d, e.nvidia = nv, e.platform_name = name;
        }
    }
    if (!e.dev) fail("no OpenCL device");
    char dn[256] = {};
    clGetDeviceInfo(e.dev, CL_DEVICE_NAME, sizeof dn - 1, dn, nullptr);
    e.name = dn;
    if (e.nvidia) {
        cl_uint v = 0; // CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV / MINOR_NV
        if (clGetDeviceInfo(e.dev, 0x4000, sizeof v, &v, nullptr) == CL_SUCCESS) e.cc_major = (int)v;
        if (clGetDeviceInfo(e.dev, 0x4001, sizeof v, &v, nullptr) == CL_SUCCESS) e.cc_minor = (int)v;
    }
    cl_int err = 0;
    e.ctx = clCreateContext(nullptr, 1, &e.dev, nullptr, nullptr, &err);
    ck(err, "clCreateContext");
    e.q = clCreateCommandQueue(e.ctx, e.dev, CL_QUEUE_PROFILING_ENABLE, &err);
    ck(err, "clCreateCommandQueue");
    return e;
}

mem_ptr buffer(const env& e, size_t bytes, const void* host = nullptr) {
    cl_int err = 0;
    cl_mem m = clCreateBuffer(e.ctx, CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0),
                              std::max<size_t>(bytes, 4), const_cast<void*>(host), &err);
    ck(err, fmt::format("clCreateBuffer({} bytes)", bytes).c_str());
    return mem_ptr(m);
}

cl_program build(const env& e, const std::string& src, const std::string& opts, std::string* log_out) {
    cl_int err = 0;
    const char* s = src.c_str();
    cl_program p = clCreateProgramWithSource(e.ctx, 1, &s, nullptr, &err);
    ck(err, "clCreateProgramWithSource");
    const cl_int berr = clBuildProgram(p, 1, &e.dev, opts.c_str(), nullptr, nullptr);
    size_t n = 0;
    clGetProgramBuildInfo(p, e.dev, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
    std::string log(n, '\0');
    if (n) clGetProgramBuildInfo(p, e.dev, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
    if (log_out) *log_out = log;
    if (berr != CL_SUCCESS) fail(fmt::format("build failed ({}) with {}:\n{}", berr, opts, log));
    return p;
}

cl_kernel kernel(cl_program p, const char* name) {
    cl_int err = 0;
    cl_kernel k = clCreateKernel(p, name, &err);
    ck(err, name);
    return k;
}

template <class T> void arg(cl_kernel k, cl_uint i, const T& v) {
    ck(clSetKernelArg(k, i, sizeof(T), &v), "clSetKernelArg");
}

double event_ms(cl_event ev) {
    cl_ulong a = 0, b = 0;
    clWaitForEvents(1, &ev);
    clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof a, &a, nullptr);
    clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof b, &b, nullptr);
    clReleaseEvent(ev);
    return (double)(b - a) * 1e-6;
}

cl_event enqueue(const env& e, cl_kernel k, size_t g0, size_t g1, size_t g2, size_t l0) {
    size_t gs[3] = {g0, g1, g2}, ls[3] = {l0, 1, 1};
    cl_uint dims = g2 > 1 ? 3 : g1 > 1 ? 2 : 1;
    if (l0) gs[0] = (gs[0] + l0 - 1) / l0 * l0;
    cl_event ev = nullptr;
    ck(clEnqueueNDRangeKernel(e.q, k, dims, nullptr, gs, l0 ? ls : nullptr, 0, nullptr, &ev), "enqueue");
    return ev;
}

// ---- host f16 -----------------------------------------------------------------------------
float round_f16(float f) { // float -> nearest f16 -> float (normal range is all the tests need)
    if (f == 0.0f || !std::isfinite(f)) return f;
    int ex = 0;
    std::frexp(f, &ex);                   // f = m * 2^ex, 0.5 <= |m| < 1
    const int e = std::max(ex - 11, -24); // 11 significant bits; subnormal grid 2^-24
    const float q = std::ldexp(1.0f, e);
    return std::nearbyint(f / q) * q;
}

// ---- configuration ------------------------------------------------------------------------
struct variant {
    int warps = 8, bn = 64, async = 0, mt = 1;
    int fold = 1; // MMA_FOLD_SCALE in the sparse kernel, as the backend (the checks' scale is > 0)
    std::string name() const {
        return fmt::format("W{}B{}A{}", warps, bn, async) + (mt != 1 ? fmt::format("M{}", mt) : "") +
               (fold != 1 ? fmt::format("F{}", fold) : "");
    }
    int bm() const { return 16 * mt * warps; }
};

struct problem {
    int d = 128, n = 256, nkv = 256, h = 4, hkv = 2, n_past = 0;
    bool causal = true, kv_f16 = false;
    float scale() const { return 1.0f / std::sqrt((float)d); }
};

constexpr int kBlock = 128; // key padding unit and sparse block size
int nkp_of(int nkv) {
    return (nkv + kBlock - 1) / kBlock * kBlock;
}

struct kernels {
    cl_program prog = nullptr;
    cl_kernel prep_k = nullptr, prep_v = nullptr, attn = nullptr;
    std::string log;
};

kernels make_kernels(const env& e, const variant& v, int d, bool kv_f16, bool sparse, bool emulate) {
    std::string src = source_of("flash_attn_mma.cl");
    if (sparse) src = std::string(source_of("flash_attn_mma_sparse.cl")) + "\n" + src;
    src = std::string(source_of("mma_ptx.cl")) + "\n" + src; // the PTX helpers go first
    std::string opts =
        fmt::format("-cl-std=CL1.2 -DMMA_D={} -DMMA_WARPS={} -DMMA_BN={} -DMMA_ASYNC={} "
                    "-DMMA_MT={} -DMMA_KV_F16={} -DMMA_EMULATE={} -DMMA_FOLD_SCALE={}",
                    d, v.warps, v.bn, v.async, v.mt, kv_f16 ? 1 : 0, emulate ? 1 : 0, sparse ? v.fold : 0);
    if (e.nvidia) opts += " -cl-nv-verbose";
    kernels k;
    k.prog = build(e, src, opts, &k.log);
    k.prep_k = kernel(k.prog, "fa_mma_prep_k");
    k.prep_v = kernel(k.prog, "fa_mma_prep_v");
    k.attn = kernel(k.prog, "fa_mma");
    return k;
}

// The ptxas lines of an NVIDIA build log (registers, spills, shared memory) for fa_mma.
std::string ptxas_summary(const std::string& log) {
    std::string out;
    size_t pos = 0;
    bool in_fa = false;
    while (pos < log.size()) {
        size_t nl = log.find('\n', pos);
        if (nl == std::string::npos) nl = log.size();
        const std::string line = log.substr(pos, nl - pos);
        if (line.find("Compiling entry function") != std::string::npos)
            in_fa = line.find("'fa_mma'") != std::string::npos;
        else if (in_fa &&
                 (line.find("registers") != std::string::npos || line.find("spill") != std::string::npos ||
                  line.find("stack frame") != std::string::npos)) {
            out += ' ';
            out.append(line, line.find_first_not_of(' '));
        }
        pos = nl + 1;
    }
    return out;
}

struct device_problem {
    mem_ptr q, k, v, k16, vt16, o;
    cl_long4 q_ne, k_ne;
    cl_ulong4 q_nb, k_nb;
};

void set_shape(cl_long4& ne, cl_ulong4& nb, int d, int n, int h, size_t esize) {
    ne = {{d, n, h, 1}};
    nb = {{esize, esize * d, esize * d * n, esize * (size_t)d * n * h}};
}

// Enqueues prep + attention; returns the three events' times (ms).
struct times {
    double prep = 0, attn = 0;
};
times run(const env& e, const kernels& kk, const variant& v, const problem& p, device_problem& dp,
          const std::function<void(cl_kernel, cl_uint)>& sparse_args = {}, int sparse_rows = 0) {
    const int nkp = nkp_of(p.nkv);
    const cl_ulong zero = 0;
    cl_mem kbuf = dp.k.get(), vbuf = dp.v.get(), k16 = dp.k16.get(), vt16 = dp.vt16.get();
    arg(kk.prep_k, 0, kbuf), arg(kk.prep_k, 1, zero), arg(kk.prep_k, 2, dp.k_ne), arg(kk.prep_k, 3, dp.k_nb);
    arg(kk.prep_k, 4, k16), arg(kk.prep_k, 5, nkp);
    arg(kk.prep_v, 0, vbuf), arg(kk.prep_v, 1, zero), arg(kk.prep_v, 2, dp.k_ne), arg(kk.prep_v, 3, dp.k_nb);
    arg(kk.prep_v, 4, vt16), arg(kk.prep_v, 5, nkp);
    times t;
    t.prep += event_ms(enqueue(e, kk.prep_k, p.d / 8, nkp, p.hkv, 0));
    t.prep += event_ms(enqueue(e, kk.prep_v, p.d, nkp / 8, p.hkv, 0));
    cl_mem qbuf = dp.q.get(), obuf = dp.o.get();
    const int causal = p.causal ? 1 : 0;
    cl_uint i = 0;
    arg(kk.attn, i++, qbuf), arg(kk.attn, i++, zero), arg(kk.attn, i++, dp.q_ne), arg(kk.attn, i++, dp.q_nb);
    arg(kk.attn, i++, k16), arg(kk.attn, i++, vt16), arg(kk.attn, i++, nkp), arg(kk.attn, i++, obuf);
    arg(kk.attn, i++, zero), arg(kk.attn, i++, p.nkv), arg(kk.attn, i++, p.hkv), arg(kk.attn, i++, p.n_past);
    arg(kk.attn, i++, causal), arg(kk.attn, i++, p.scale());
    if (sparse_args) sparse_args(kk.attn, i);
    const size_t n_wg_rows =
        sparse_args ? (size_t)sparse_rows * (kBlock / v.bm()) : (p.n + v.bm() - 1) / v.bm();
    t.attn = event_ms(enqueue(e, kk.attn, n_wg_rows * p.h * 32 * v.warps, 1, 1, 32 * v.warps));
    return t;
}

// CPU reference (double) for sampled rows; keep(h, row, key) says whether a key is visible
// beyond the causal rule (the sparse mask). Inputs are the f16-rounded values the kernel sees.
double rel_l2_vs_cpu(const problem& p, const std::vector<float>& q, const std::vector<float>& k,
                     const std::vector<float>& v, const std::vector<float>& o, const std::vector<int>& rows,
                     const std::function<bool(int, int, int)>& keep, double* max_abs) {
    double num = 0, den = 0;
    *max_abs = 0;
    const int r = p.h / p.hkv;
    std::vector<double> s(p.nkv), acc(p.d);
    for (int h = 0; h < p.h; ++h) {
        const int kh = h / r;
        for (int t : rows) {
            const int lim = p.causal ? p.n_past + t : p.nkv - 1;
            double mx = -1e300;
            for (int j = 0; j < p.nkv; ++j) {
                s[j] = -1e300;
                if (j > lim || (keep && !keep(h, t, j))) continue;
                double dot = 0;
                for (int c = 0; c < p.d; ++c)
                    dot += (double)round_f16(q[((size_t)h * p.n + t) * p.d + c]) *
                           k[((size_t)kh * p.nkv + j) * p.d + c];
                s[j] = dot * p.scale();
                mx = std::max(mx, s[j]);
            }
            double l = 0;
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int j = 0; j < p.nkv; ++j) {
                if (s[j] <= -1e299) continue;
                const double w = std::exp(s[j] - mx);
                l += w;
                for (int c = 0; c < p.d; ++c)
                    acc[c] += w * v[((size_t)kh * p.nkv + j) * p.d + c];
            }
            for (int c = 0; c < p.d; ++c) {
                const double ref = acc[c] / l, got = o[((size_t)t * p.h + h) * p.d + c];
                num += (got - ref) * (got - ref);
                den += ref * ref;
                *max_abs = std::max(*max_abs, std::fabs(got - ref));
            }
        }
    }
    return std::sqrt(num / std::max(den, 1e-30));
}

// Block mask in proxy_sparse_attn's layout (plugin/proxy/ref/proxy_geometry.h): rows m = row0 ..
// n_kblocks-1 on the absolute key grid, counts[h][r], blocks[h][tri(m) ..].
struct mask {
    int row0 = 0, n_rows = 0;
    int64_t tri_total = 0;
    std::vector<int> counts, blocks;
    double density = 0;
    int64_t tri(int64_t m) const { return m * (m + 1) / 2 - (int64_t)row0 * (row0 + 1) / 2; }
};
// Random block mask: sink, diagonal and each other causal block with probability keep_p.
mask random_mask(int h, int n, int n_past, double keep_p, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    const int n_keys = n_past + n, nkb = (n_keys + kBlock - 1) / kBlock;
    mask m;
    m.row0 = n_past / kBlock;
    m.n_rows = nkb - m.row0;
    m.tri_total = m.tri(nkb);
    m.counts.assign((size_t)h * m.n_rows, 0);
    m.blocks.assign((size_t)(h * m.tri_total), -1);
    size_t kept = 0;
    for (int hh = 0; hh < h; ++hh)
        for (int r = 0; r < m.n_rows; ++r) {
            const int row = m.row0 + r;
            std::vector<int> list;
            for (int b = 0; b <= row; ++b)
                if (b == 0 || b == row || u(rng) < keep_p) list.push_back(b);
            std::shuffle(list.begin(), list.end(), rng); // order must not matter
            m.counts[(size_t)hh * m.n_rows + r] = (int)list.size();
            std::copy(list.begin(), list.end(), m.blocks.begin() + (hh * m.tri_total + m.tri(row)));
            kept += list.size();
        }
    m.density = (double)kept / ((double)h * m.tri_total);
    return m;
}

std::function<void(cl_kernel, cl_uint)> sparse_setter(const mem_ptr& counts, const mem_ptr& blocks,
                                                      const mask& m) {
    return [&counts, &blocks, &m](cl_kernel kn, cl_uint i) {
        cl_mem a = counts.get(), b = blocks.get();
        const cl_long tt = m.tri_total;
        arg(kn, i, a), arg(kn, i + 1, b), arg(kn, i + 2, kBlock), arg(kn, i + 3, m.row0),
            arg(kn, i + 4, m.n_rows);
        arg(kn, i + 5, tt);
    };
}

struct check_result {
    std::string what;
    double rel = 0, max_abs = 0;
    bool ok = false;
};

check_result check_one(const env& e, const variant& v, const problem& p, bool sparse, bool emulate,
                       uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> q((size_t)p.d * p.n * p.h), k((size_t)p.d * p.nkv * p.hkv), vv(k.size());
    for (auto& x : q)
        x = nd(rng);
    for (auto& x : k)
        x = nd(rng);
    for (auto& x : vv)
        x = nd(rng);
    // a few strong keys so the softmax is not flat
    for (int i = 0; i < 4 && i < p.nkv; ++i)
        for (int c = 0; c < p.d; ++c)
            k[(size_t)(i * 7 % p.nkv) * p.d + c] *= 3.0f;
    std::vector<uint16_t> k16h, v16h;
    device_problem dp;
    dp.q = buffer(e, q.size() * 4, q.data());
    std::vector<float> kr(k.size()), vr(k.size()); // what the kernel sees (f16-rounded)
    for (size_t i = 0; i < k.size(); ++i)
        kr[i] = round_f16(k[i]), vr[i] = round_f16(vv[i]);
    if (p.kv_f16) {
        auto to_bits = [](float f) {
            // exact: f is already representable
            if (f == 0.0f) return (uint16_t)(std::signbit(f) ? 0x8000 : 0);
            int ex = 0;
            const float m = std::frexp(std::fabs(f), &ex); // |f| = m 2^ex
            uint16_t sgn = std::signbit(f) ? 0x8000 : 0;
            int e16 = ex - 1 + 15;
            if (e16 <= 0) return (uint16_t)(sgn | (uint16_t)std::lround(std::ldexp(std::fabs(f), 24)));
            const int mant = (int)std::lround((m * 2 - 1) * 1024);
            return (uint16_t)(sgn | (e16 << 10) | mant);
        };
        k16h.resize(k.size()), v16h.resize(k.size());
        for (size_t i = 0; i < k.size(); ++i)
            k16h[i] = to_bits(kr[i]), v16h[i] = to_bits(vr[i]);
        dp.k = buffer(e, k16h.size() * 2, k16h.data());
        dp.v = buffer(e, v16h.size() * 2, v16h.data());
    } else {
        dp.k = buffer(e, k.size() * 4, k.data());
        dp.v = buffer(e, vv.size() * 4, vv.data());
    }
    const int nkp = nkp_of(p.nkv);
    dp.k16 = buffer(e, (size_t)nkp * p.d * p.hkv * 2);
    dp.vt16 = buffer(e, (size_t)nkp * p.d * p.hkv * 2);
    std::vector<float> o((size_t)p.d * p.n * p.h, std::nanf(""));
    dp.o = buffer(e, o.size() * 4, o.data()); // poisoned: every element must be written
    set_shape(dp.q_ne, dp.q_nb, p.d, p.n, p.h, 4);
    set_shape(dp.k_ne, dp.k_nb, p.d, p.nkv, p.hkv, p.kv_f16 ? 2 : 4);
    kernels kk = make_kernels(e, v, p.d, p.kv_f16, sparse, emulate);
    mask m;
    mem_ptr rp, bl;
    std::function<void(cl_kernel, cl_uint)> sargs;
    std::function<bool(int, int, int)> keep;
    if (sparse) {
        m = random_mask(p.h, p.n, p.n_past, 0.3, seed + 1);
        rp = buffer(e, m.counts.size() * 4, m.counts.data());
        bl = buffer(e, m.blocks.size() * 4, m.blocks.data());
        sargs = sparse_setter(rp, bl, m);
        keep = [&m, p](int h, int t, int key) {
            const int row = (p.n_past + t) / kBlock;
            const int r = row - m.row0, c = m.counts[(size_t)h * m.n_rows + r];
            for (int i = 0; i < c; ++i)
                if (m.blocks[(size_t)(h * m.tri_total + m.tri(row)) + i] == key / kBlock) return true;
            return false;
        };
    }
    run(e, kk, v, p, dp, sargs, m.n_rows);
    ck(clEnqueueReadBuffer(e.q, dp.o.get(), CL_TRUE, 0, o.size() * 4, o.data(), 0, nullptr, nullptr), "read");
    std::vector<int> rows;
    for (int t = 0; t < p.n; ++t)
        rows.push_back(t);
    check_result r;
    r.what = fmt::format("{} {} d={} n={} nkv={} H={}/{} past={} {}{}{}", sparse ? "sparse" : "dense",
                         v.name(), p.d, p.n, p.nkv, p.h, p.hkv, p.n_past, p.causal ? "causal" : "full",
                         p.kv_f16 ? " kvf16" : "", sparse ? fmt::format(" dens={:.2f}", m.density) : "");
    bool finite = true;
    for (float x : o)
        finite = finite && std::isfinite(x);
    r.rel = rel_l2_vs_cpu(p, q, kr, vr, o, rows, keep, &r.max_abs);
    // f16 P and f16 inputs: error of a few 1e-4 relative; unwritten output is NaN (fails).
    r.ok = finite && r.rel < 3e-3;
    clReleaseKernel(kk.prep_k), clReleaseKernel(kk.prep_v), clReleaseKernel(kk.attn),
        clReleaseProgram(kk.prog);
    return r;
}

std::vector<int> parse_list(const std::string& s) {
    std::vector<int> v;
    size_t pos = 0;
    while (pos < s.size()) {
        size_t c = s.find(',', pos);
        if (c == std::string::npos) c = s.size();
        v.push_back(std::stoi(s.substr(pos, c - pos)));
        pos = c + 1;
    }
    return v;
}

// One work-group of `items` work-items of kernel `name` of program p, with its arguments (size,
// value) in order; true when it ran.
bool run_probe(const env& e, cl_program p, const char* name,
               const std::vector<std::pair<size_t, const void*>>& args, size_t items) {
    cl_int err = 0;
    cl_kernel k = clCreateKernel(p, name, &err);
    if (err) return false;
    for (cl_uint i = 0; i < args.size(); ++i)
        clSetKernelArg(k, i, args[i].first, args[i].second);
    err = clEnqueueNDRangeKernel(e.q, k, 1, nullptr, &items, &items, 0, nullptr, nullptr);
    err = err ? err : clFinish(e.q);
    clReleaseKernel(k);
    return err == CL_SUCCESS;
}

// mma_ptx.cl's mbarrier helpers in a two-stage producer / consumer pipeline (ptx_probe_mbar.cl),
// a program of its own: the driver may reject the PTX without taking the other probes with it.
void run_mbarrier_probe(const env& e) {
    std::string log;
    cl_program p = nullptr;
    try {
        const std::string src = std::string(source_of("mma_ptx.cl")) + "\n" + source_of("ptx_probe_mbar.cl");
        p = build(e, src, "-cl-std=CL1.2 -DMMA_MBARRIER=1", &log);
    } catch (const std::exception& ex) {
        std::printf("ptx probe mbarrier: build failed: %s\n", ex.what());
        return;
    }
    constexpr int rounds = 9;
    std::vector<uint32_t> src(size_t(rounds) * 128), out(64, 0);
    for (size_t i = 0; i < src.size(); ++i)
        src[i] = uint32_t(i) * 2654435761u + 12345u;
    mem_ptr s = buffer(e, src.size() * 4, src.data()), o = buffer(e, 256);
    const cl_mem a0 = s.get(), a1 = o.get();
    bool ok = run_probe(e, p, "probe_mbar_pipeline",
                        {{sizeof(cl_mem), &a0}, {sizeof(cl_mem), &a1}, {sizeof(int), &rounds}}, 96);
    clEnqueueReadBuffer(e.q, o.get(), CL_TRUE, 0, 256, out.data(), 0, nullptr, nullptr);
    for (uint32_t c = 0; c < 64; ++c) {
        const uint32_t w = c / 32 + 1, lane = c % 32, from = (lane + 7 * w) % 32;
        uint32_t want = 0;
        for (int r = 0; r < rounds; ++r) {
            const uint32_t* v = &src[(size_t(r) * 32 + from) * 4];
            want += v[0] ^ v[1] ^ v[2] ^ v[3];
        }
        ok = ok && out[c] == want;
    }
    std::printf("ptx probe mbarrier (cp.async arrive, try_wait.parity, arrive; %d rounds, 2 stages): %s\n",
                rounds, ok ? "OK" : "FAIL");
    clReleaseProgram(p);
}

// Which inline-PTX shared-memory forms work from OpenCL C here (prints one line each).
void run_ptx_probes(const env& e) {
    std::string log;
    cl_program p = nullptr;
    try {
        p = build(e, source_of("ptx_probe.cl"), "-cl-std=CL1.2", &log);
    } catch (const std::exception& ex) {
        std::printf("ptx probes: build failed: %s\n", ex.what());
        return;
    }
    auto run1 = [&](const char* name, const std::vector<cl_mem>& mems, size_t items = 32) -> bool {
        std::vector<std::pair<size_t, const void*>> args;
        for (const cl_mem& m : mems)
            args.emplace_back(sizeof(cl_mem), &m);
        return run_probe(e, p, name, args, items);
    };
    {
        std::vector<uint32_t> out(32, 0);
        mem_ptr o = buffer(e, 128);
        bool ok = run1("probe_st_shared", {o.get()});
        clEnqueueReadBuffer(e.q, o.get(), CL_TRUE, 0, 128, out.data(), 0, nullptr, nullptr);
        for (uint32_t l = 0; l < 32; ++l)
            ok = ok && out[l] == (31 - l) * 3 + 7;
        std::printf("ptx probe st.shared via (uint)local ptr: %s\n", ok ? "OK" : "FAIL");
    }
    {
        std::vector<uint32_t> src(128), out(128, 0);
        for (uint32_t i = 0; i < 128; ++i)
            src[i] = i * 2654435761u;
        mem_ptr s = buffer(e, 512, src.data()), o = buffer(e, 512);
        bool ok = run1("probe_cp_async", {s.get(), o.get()});
        clEnqueueReadBuffer(e.q, o.get(), CL_TRUE, 0, 512, out.data(), 0, nullptr, nullptr);
        for (uint32_t l = 0; l < 32; ++l)
            for (int c = 0; c < 4; ++c)
                ok = ok && out[l * 4 + c] == src[(31 - l) * 4 + c];
        std::printf("ptx probe cp.async.cg 16B: %s\n", ok ? "OK" : "FAIL");
    }
    {
        std::vector<uint16_t> src(256);
        std::vector<uint32_t> out(128, 0);
        for (int i = 0; i < 256; ++i)
            src[i] = (uint16_t)(i * 7 + 1);
        mem_ptr s = buffer(e, 512, src.data()), o = buffer(e, 512);
        bool ok = run1("probe_ldmatrix", {s.get(), o.get()});
        clEnqueueReadBuffer(e.q, o.get(), CL_TRUE, 0, 512, out.data(), 0, nullptr, nullptr);
        for (uint32_t l = 0; l < 32; ++l)
            for (uint32_t i = 0; i < 4; ++i) {
                const uint32_t r = i * 8 + l / 4, c = 2 * (l % 4);
                ok =
                    ok && out[l * 4 + i] == ((uint32_t)src[r * 8 + c] | ((uint32_t)src[r * 8 + c + 1] << 16));
            }
        std::printf("ptx probe ldmatrix.x4: %s\n", ok ? "OK" : "FAIL");
    }
    {
        std::vector<uint32_t> out(256, 0);
        mem_ptr o = buffer(e, 1024);
        bool ok = run1("probe_named_barrier", {o.get()}, 256);
        clEnqueueReadBuffer(e.q, o.get(), CL_TRUE, 0, 1024, out.data(), 0, nullptr, nullptr);
        for (uint32_t l = 0; l < 256; ++l)
            ok = ok && out[l] == (l % 128) * 5 + 3;
        std::printf("ptx probe bar.arrive / bar.sync 1 (named barrier, 256 items): %s\n", ok ? "OK" : "FAIL");
    }
    clReleaseProgram(p);
    run_mbarrier_probe(e);
}

} // namespace

int main(int argc, char** argv) {
    bool emulate = false, check_only = false, time_only = false, probe = false;
    std::string json_path, ptx_path, variants_s = "W8B64A0,W8B64A1,W4B64A1,W4B32A1,W4B32A1M2";
    bool variants_given = false; // emulated checks run only the first variant unless --variants names them
    std::vector<int> n_list = {4096, 8192, 16384, 32768, 65536, 131072};
    int reps = 5, sparse_n = 32768;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) fail("missing value for " + a);
            return argv[++i];
        };
        if (a == "--emulate")
            emulate = true;
        else if (a == "--check-only")
            check_only = true;
        else if (a == "--time-only")
            time_only = true;
        else if (a == "--probe")
            probe = true, check_only = true, time_only = true;
        else if (a == "--json")
            json_path = next();
        else if (a == "--variants")
            variants_s = next(), variants_given = true;
        else if (a == "--dump-ptx")
            ptx_path = next();
        else if (a == "--n-list")
            n_list = parse_list(next());
        else if (a == "--reps")
            reps = std::stoi(next());
        else if (a == "--sparse-n")
            sparse_n = std::stoi(next());
        else {
            std::fprintf(stderr,
                         "usage: pa_mma_check [--emulate] [--check-only|--time-only|--probe] [--n-list L] "
                         "[--variants W8B64,...] [--reps R] [--sparse-n N] [--json FILE]\n");
            return 2;
        }
    }
    try {
        env e = open_env();
        const bool real = e.nvidia && e.cc_major >= 8;
        if (!real) emulate = true;
        std::printf("device: %s (%s) cc %d.%d, %s\n", e.name.c_str(), e.platform_name.c_str(), e.cc_major,
                    e.cc_minor, emulate ? "PTX emulated" : "tensor cores");
        std::vector<variant> vars;
        for (size_t pos = 0; pos < variants_s.size();) {
            size_t c = variants_s.find(',', pos);
            if (c == std::string::npos) c = variants_s.size();
            variant v;
            const std::string vs = variants_s.substr(pos, c - pos);
            int used = 0;
            if (std::sscanf(vs.c_str(), "W%dB%d%n", &v.warps, &v.bn, &used) < 2) fail("bad variant " + vs);
            // A<cp.async>, M<m-tiles>, F<scale folded into the exponent>
            for (size_t at = size_t(used); at < vs.size();) {
                int val = 0, len = 0;
                if (std::sscanf(vs.c_str() + at, "%*c%d%n", &val, &len) < 1) fail("bad variant " + vs);
                if (vs[at] == 'A')
                    v.async = val;
                else if (vs[at] == 'M')
                    v.mt = val;
                else if (vs[at] == 'R')
                    // NVIDIA's driver takes -cl-nv-maxrregcount and ignores it; the backend's program
                    // cache writes the cap into the PTX instead (opencl/ptx_register_cap.h)
                    fail(fmt::format(
                        "variant {}: R<n> (a register cap) is not applied by pa_mma_check; "
                        "time a capped kernel with `PA_OPENCL_TUNING=mma_maxrreg={} pa bench attn`",
                        vs, val));
                else if (vs[at] == 'F')
                    v.fold = val;
                else
                    fail("bad variant " + vs);
                at += size_t(len);
            }
            vars.push_back(v);
            pos = c + 1;
        }
        int failures = 0;
        if (probe && !emulate) run_ptx_probes(e); // may leave the context broken: run alone
        if (!time_only) {
            std::vector<std::pair<problem, bool>> cases;
            problem p;
            cases.push_back({p, false}); // plain causal
            p.n = 200, p.nkv = 200;
            cases.push_back({p, false}); // tails
            p.n = 150, p.nkv = 300, p.n_past = 150;
            cases.push_back({p, false}); // n_past
            p.causal = false;
            p.n = 130;
            p.nkv = 190;
            cases.push_back({p, false}); // non-causal
            p = problem{};
            p.d = 64;
            p.h = 6;
            p.hkv = 3;
            cases.push_back({p, false}); // d 64
            p = problem{};
            p.kv_f16 = true;
            p.h = 8;
            p.hkv = 1;
            cases.push_back({p, false}); // F16 K/V, GQA 8
            p = problem{};
            p.n = 768;
            p.nkv = 768;
            cases.push_back({p, true}); // sparse
            p.n = 600;
            p.nkv = 700;
            p.n_past = 100;
            cases.push_back({p, true}); // sparse, n_past
            const std::vector<variant> cv =
                emulate && !variants_given ? std::vector<variant>{vars.front()} : vars;
            for (const auto& v : cv)
                for (size_t ci = 0; ci < cases.size(); ++ci) {
                    if (emulate && v.bm() > 128) continue;
                    check_result r;
                    try {
                        r = check_one(e, v, cases[ci].first, cases[ci].second, emulate, 1234 + (uint32_t)ci);
                    } catch (const std::exception& ex) {
                        r.what = fmt::format("{} case {}: {}", v.name(), ci, ex.what());
                    }
                    std::printf("check %-62s rel_l2 %.2e max_abs %.2e %s\n", r.what.c_str(), r.rel, r.max_abs,
                                r.ok ? "OK" : "FAIL");
                    std::fflush(stdout);
                    failures += !r.ok;
                }
        }
        if (!check_only && !emulate) {
            // timings: Llama-3-8B layer shape, inputs filled on the device
            FILE* jf = json_path.empty() ? nullptr : std::fopen(json_path.c_str(), "w");
            std::vector<std::string> table;
            cl_program fp = build(e, source_of("bench_fill.cl"), "-cl-std=CL1.2", nullptr);
            cl_kernel fill = kernel(fp, "bench_fill_f32");
            auto time_case = [&](const variant& v, problem p, const mask* m, const char* mode) -> double {
                device_problem dp;
                const int nkp = nkp_of(p.nkv);
                dp.q = buffer(e, (size_t)p.d * p.n * p.h * 4);
                dp.k = buffer(e, (size_t)p.d * p.nkv * p.hkv * 4);
                dp.v = buffer(e, (size_t)p.d * p.nkv * p.hkv * 4);
                dp.k16 = buffer(e, (size_t)nkp * p.d * p.hkv * 2);
                dp.vt16 = buffer(e, (size_t)nkp * p.d * p.hkv * 2);
                dp.o = buffer(e, (size_t)p.d * p.n * p.h * 4);
                uint32_t seed = 1;
                for (cl_mem b : {dp.q.get(), dp.k.get(), dp.v.get()}) {
                    size_t bytes = 0;
                    clGetMemObjectInfo(b, CL_MEM_SIZE, sizeof bytes, &bytes, nullptr);
                    const cl_ulong n = bytes / 4;
                    arg(fill, 0, b), arg(fill, 1, n), arg(fill, 2, seed++);
                    event_ms(enqueue(e, fill, n, 1, 1, 0));
                }
                set_shape(dp.q_ne, dp.q_nb, p.d, p.n, p.h, 4);
                set_shape(dp.k_ne, dp.k_nb, p.d, p.nkv, p.hkv, 4);
                kernels kk = make_kernels(e, v, p.d, false, m != nullptr, false);
                mem_ptr rp, bl;
                std::function<void(cl_kernel, cl_uint)> sargs;
                if (m) {
                    rp = buffer(e, m->counts.size() * 4, m->counts.data());
                    bl = buffer(e, m->blocks.size() * 4, m->blocks.data());
                    sargs = sparse_setter(rp, bl, *m);
                }
                const int srows = m ? m->n_rows : 0;
                run(e, kk, v, p, dp, sargs, srows); // warm-up
                std::vector<double> ta, tp;
                const int r = p.n >= 65536 ? std::max(2, reps / 2) : reps;
                for (int i = 0; i < r; ++i) {
                    const times t = run(e, kk, v, p, dp, sargs, srows);
                    ta.push_back(t.attn), tp.push_back(t.prep);
                }
                std::sort(ta.begin(), ta.end());
                std::sort(tp.begin(), tp.end());
                const double ms = ta[ta.size() / 2], prep = tp[tp.size() / 2];
                const double flops = 2.0 * p.h * p.d * (double)p.n * p.n; // causal dense, both products
                const double dens = m ? m->density : 1.0;
                const std::string line = fmt::format(
                    "{:<7} {:<6} n={:<6} {:>9.3f} ms  prep {:>7.3f} ms  {:>6.1f} TFLOP/s(dense-equiv)  "
                    "density {:.3f}{}",
                    mode, v.name(), p.n, ms, prep, flops / ms * 1e-9, dens, ptxas_summary(kk.log));
                std::printf("%s\n", line.c_str());
                std::fflush(stdout);
                table.push_back(line);
                if (jf)
                    std::fprintf(jf,
                                 "{\"device\":\"%s\",\"shape\":\"llama3-8b\",\"n\":%d,\"mode\":\"%s\","
                                 "\"variant\":\"%s\","
                                 "\"time_ms\":%.4f,\"prep_ms\":%.4f,\"tflops\":%.2f,\"density\":%.4f}\n",
                                 e.name.c_str(), p.n, mode, v.name().c_str(), ms, prep, flops / ms * 1e-9,
                                 dens);
                if (!ptx_path.empty() && !m) { // the driver's program binary is PTX text on NVIDIA
                    size_t sz = 0;
                    clGetProgramInfo(kk.prog, CL_PROGRAM_BINARY_SIZES, sizeof sz, &sz, nullptr);
                    std::string bin(sz, '\0');
                    unsigned char* bp = reinterpret_cast<unsigned char*>(bin.data());
                    clGetProgramInfo(kk.prog, CL_PROGRAM_BINARIES, sizeof bp, &bp, nullptr);
                    if (FILE* f = std::fopen(fmt::format("{}.{}.ptx", ptx_path, v.name()).c_str(), "w")) {
                        std::fwrite(bin.data(), 1, bin.size(), f);
                        std::fclose(f);
                    }
                }
                clReleaseKernel(kk.prep_k), clReleaseKernel(kk.prep_v), clReleaseKernel(kk.attn);
                clReleaseProgram(kk.prog);
                return ms;
            };
            problem p;
            p.h = 32, p.hkv = 8, p.d = 128;
            // variants at 32K (or the largest n given below that), then the best over the n list
            const int vn = std::min(32768, n_list.back());
            variant best = vars.front();
            double best_ms = 1e30;
            for (const auto& v : vars) {
                p.n = p.nkv = vn;
                try {
                    const double ms = time_case(v, p, nullptr, "dense");
                    if (ms < best_ms) best_ms = ms, best = v;
                } catch (const std::exception& ex) {
                    std::printf("variant %s: %s\n", v.name().c_str(), ex.what());
                }
            }
            std::printf("best variant at n=%d: %s\n", vn, best.name().c_str());
            for (int n : n_list) {
                if (n == vn) continue;
                p.n = p.nkv = n;
                time_case(best, p, nullptr, "dense");
            }
            std::vector<int> sn = {std::min(sparse_n, 32768)};
            if (sparse_n > 32768) sn.push_back(sparse_n);
            for (int n : sn)
                for (double keep : {0.30, 0.10}) {
                    p.n = p.nkv = n;
                    const mask m = random_mask(p.h, p.n, 0, keep, 99);
                    time_case(best, p, &m, "sparse");
                }
            if (jf) std::fclose(jf);
            std::printf("\n== summary ==\n");
            for (const auto& l : table)
                std::printf("%s\n", l.c_str());
        }
        if (failures) std::printf("%d check(s) FAILED\n", failures);
        return failures ? 1 : 0;
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "error: %s\n", ex.what());
        return 1;
    }
}
