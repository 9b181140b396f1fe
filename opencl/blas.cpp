// blas.cpp - CLBlast calls behind one mutex.
#include "blas.h"

#include <clblast.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>

namespace pa::ocl {
namespace {

std::mutex& blas_mutex() {
    static std::mutex mu; // CLBlast state is process-wide, so is this lock
    return mu;
}

void check_blas(clblast::StatusCode s, const char* what, const gemm_desc& g) {
    if (s == clblast::StatusCode::kSuccess) return;
    const int code = static_cast<int>(s);
    const pa_status st =
        (s == clblast::StatusCode::kTempBufferAllocFailure || s == clblast::StatusCode::kOpenCLOutOfResources)
            ? PA_ERR_OUT_OF_MEMORY
            : PA_ERR_DEVICE;
    throw error(fmt::format("CLBlast {} failed with status {} (m={} n={} k={} batch={} lda={} ldb={} ldc={})",
                            what, code, g.m, g.n, g.k, g.batch, g.lda, g.ldb, g.ldc),
                st);
}

// Parses $PA_CLBLAST_PARAMS and overrides CLBlast's parameters for this device; returns the
// file name when something was applied.
std::string apply_overrides(cl_device_id device) {
    const char* path = std::getenv("PA_CLBLAST_PARAMS");
    if (!path || !*path) return {};
    std::ifstream in(path);
    if (!in) return {};
    std::string line, applied;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string kernel, kv;
        if (!(ls >> kernel) || kernel.empty() || kernel[0] == '#') continue;
        std::unordered_map<std::string, size_t> params;
        while (ls >> kv) {
            const size_t eq = kv.find('=');
            if (eq == std::string::npos) continue;
            params[kv.substr(0, eq)] = size_t(std::strtoull(kv.c_str() + eq + 1, nullptr, 10));
        }
        if (!params.empty() && clblast::OverrideParameters(device, kernel, clblast::Precision::kSingle,
                                                           params) == clblast::StatusCode::kSuccess)
            applied += (applied.empty() ? "" : ",") + kernel;
    }
    return applied.empty() ? std::string() : fmt::format("{} ({})", path, applied);
}

} // namespace

namespace {

// Largest byte span one CLBlast call may address in a buffer, and at what byte offset. On the
// H100's OpenCL driver a single GEMM whose C reached 2^31 bytes (4096 x 131072 F32) faulted the
// queue while 1.9e9 bytes ran fine: CLBlast's kernels index with 32-bit ints. Larger problems
// are split (batched ones into groups of batch items, single ones along n), and each piece reads
// its operands through a sub-buffer that starts near it.
// $PA_BLAS_SPAN_LIMIT lowers the limit (tests use it to exercise the split on small sizes).
size_t span_limit() {
    static const size_t limit = [] {
        size_t v = size_t(1) << 31;
        if (const char* e = std::getenv("PA_BLAS_SPAN_LIMIT"); e && *e)
            v = std::max<size_t>(4096, std::strtoull(e, nullptr, 10));
        return v;
    }();
    return limit;
}

size_t base_align(cl_command_queue q) {
    cl_device_id dev = nullptr;
    cl_uint bits = 1024;
    if (clGetCommandQueueInfo(q, CL_QUEUE_DEVICE, sizeof dev, &dev, nullptr) == CL_SUCCESS)
        clGetDeviceInfo(dev, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof bits, &bits, nullptr);
    return std::max<size_t>(4, bits / 8);
}

// A view of [offs, offs + bytes) of r that starts at most `align` bytes before offs: a
// sub-buffer when r.mem is a whole buffer and offs is large, else r itself.
struct near_view {
    mem_handle sub;
    mem_ref ref;
};
near_view view_near(const mem_ref& r, size_t bytes, size_t align) {
    near_view v{mem_handle(), r};
    if (r.offs < align) return v;
    cl_mem parent = nullptr;
    clGetMemObjectInfo(r.mem, CL_MEM_ASSOCIATED_MEMOBJECT, sizeof parent, &parent, nullptr);
    if (parent) return v; // already a sub-buffer: sub-buffers of sub-buffers are not allowed
    const size_t origin = r.offs / align * align;
    cl_buffer_region region{origin, r.offs - origin + bytes};
    cl_int err = CL_SUCCESS;
    v.sub =
        mem_handle(clCreateSubBuffer(r.mem, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &err));
    check(err, "creating a sub-buffer for a CLBlast GEMM");
    v.ref = {v.sub.get(), r.offs - origin};
    return v;
}

// Bytes of a column-major operand with `cols` columns of `rows` elements at leading dim ld.
size_t operand_bytes(size_t rows, size_t cols, size_t ld) {
    return cols == 0 ? 0 : ((cols - 1) * ld + rows) * 4;
}

void sgemm_call(cl_command_queue q, const gemm_desc& g) {
    const auto ta = g.trans_a ? clblast::Transpose::kYes : clblast::Transpose::kNo;
    const auto tb = g.trans_b ? clblast::Transpose::kYes : clblast::Transpose::kNo;
    clblast::StatusCode s;
    if (g.batch == 1)
        s = clblast::Gemm<float>(clblast::Layout::kColMajor, ta, tb, g.m, g.n, g.k, g.alpha, g.a.mem,
                                 g.a.offs / 4, g.lda, g.b.mem, g.b.offs / 4, g.ldb, g.beta, g.c.mem,
                                 g.c.offs / 4, g.ldc, &q, nullptr);
    else
        s = clblast::GemmStridedBatched<float>(clblast::Layout::kColMajor, ta, tb, g.m, g.n, g.k, g.alpha,
                                               g.a.mem, g.a.offs / 4, g.lda, g.stride_a, g.b.mem,
                                               g.b.offs / 4, g.ldb, g.stride_b, g.beta, g.c.mem, g.c.offs / 4,
                                               g.ldc, g.stride_c, g.batch, &q, nullptr);
    check_blas(s, g.batch == 1 ? "Gemm" : "GemmStridedBatched", g);
}

// Bytes that A, B and C of one batch item span (as stored, before op()).
struct operand_spans {
    size_t a, b, c;
};
operand_spans item_spans(const gemm_desc& g) {
    const size_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
    const size_t b_rows = g.trans_b ? g.n : g.k, b_cols = g.trans_b ? g.k : g.n;
    return {operand_bytes(a_rows, a_cols, g.lda), operand_bytes(b_rows, b_cols, g.ldb),
            operand_bytes(g.m, g.n, g.ldc)};
}
// Bytes that `count` consecutive items of one operand span (stride in elements, 0: shared).
size_t batch_span(size_t item, size_t stride_elems, size_t count) {
    return (count - 1) * stride_elems * 4 + item;
}

// A single GEMM (batch 1): split along n when it spans the limit.
void sgemm_single(cl_command_queue q, const gemm_desc& g, size_t limit, size_t align) {
    const operand_spans sp = item_spans(g);
    const bool big = g.c.offs + sp.c >= limit || g.b.offs + sp.b >= limit || g.a.offs + sp.a >= limit;
    if (!big || g.trans_b || sp.a >= limit / 2) return sgemm_call(q, g);
    // Split along n; each piece sees B and C through sub-buffers that start next to it.
    const size_t col_bytes = std::max(g.ldb * 4, g.ldc * 4); // per column of B and C
    const size_t cols = std::max<size_t>(1, (limit / 2) / col_bytes);
    const near_view a = view_near(g.a, sp.a, align);
    for (size_t n0 = 0; n0 < g.n; n0 += cols) {
        gemm_desc p = g;
        p.n = std::min(cols, g.n - n0);
        const near_view b =
            view_near({g.b.mem, g.b.offs + n0 * g.ldb * 4}, operand_bytes(g.k, p.n, g.ldb), align);
        const near_view c =
            view_near({g.c.mem, g.c.offs + n0 * g.ldc * 4}, operand_bytes(g.m, p.n, g.ldc), align);
        p.a = a.ref;
        p.b = b.ref;
        p.c = c.ref;
        sgemm_call(q, p);
    }
}

// Consecutive batch items whose spans stay under budget for all three operands (at least 1).
size_t items_per_call(const gemm_desc& g, size_t budget) {
    const operand_spans sp = item_spans(g);
    size_t n = g.batch;
    const std::pair<size_t, size_t> ops[] = {{sp.a, g.stride_a}, {sp.b, g.stride_b}, {sp.c, g.stride_c}};
    for (const auto& [item, stride] : ops) {
        if (item >= budget) return 1;
        if (stride) n = std::min(n, (budget - item) / (stride * 4) + 1);
    }
    return std::max<size_t>(1, n);
}

} // namespace

// Calls that address 2 GiB or more of a buffer are split: batched ones into groups of batch
// items, each group through sub-buffers that start next to it; single GEMMs (and groups of one
// item that are still too big) along n.
void blas_sgemm(cl_command_queue queue, const gemm_desc& g) {
    if (g.m == 0 || g.n == 0 || g.batch == 0) return;
    if (g.a.offs % 4 || g.b.offs % 4 || g.c.offs % 4)
        throw error("CLBlast GEMM: buffer offsets must be multiples of 4 bytes", PA_ERR_INVALID);
    std::lock_guard lock(blas_mutex());
    cl_command_queue q = queue;
    const size_t limit = span_limit();
    const operand_spans sp = item_spans(g);
    const bool big = g.a.offs + batch_span(sp.a, g.stride_a, g.batch) >= limit ||
                     g.b.offs + batch_span(sp.b, g.stride_b, g.batch) >= limit ||
                     g.c.offs + batch_span(sp.c, g.stride_c, g.batch) >= limit;
    if (!big) return sgemm_call(q, g);
    const size_t align = base_align(q);
    if (g.batch == 1) return sgemm_single(q, g, limit, align);
    const size_t group = items_per_call(g, limit / 2);
    for (size_t b0 = 0; b0 < g.batch; b0 += group) {
        gemm_desc p = g;
        p.batch = std::min(group, g.batch - b0);
        p.a.offs += b0 * g.stride_a * 4;
        p.b.offs += b0 * g.stride_b * 4;
        p.c.offs += b0 * g.stride_c * 4;
        if (p.batch == 1) { // one item, maybe still too big: the single path splits it along n
            sgemm_single(q, p, limit, align);
            continue;
        }
        const near_view a = view_near(p.a, batch_span(sp.a, g.stride_a, p.batch), align);
        const near_view b = view_near(p.b, batch_span(sp.b, g.stride_b, p.batch), align);
        const near_view c = view_near(p.c, batch_span(sp.c, g.stride_c, p.batch), align);
        p.a = a.ref;
        p.b = b.ref;
        p.c = c.ref;
        sgemm_call(q, p);
    }
}

void blas_warmup(cl_context ctx, cl_command_queue queue) {
    // 8x8x8, batch 2: compiles the GEMM program (CLBlast compiles per context and routine)
    constexpr size_t n = 8, floats = 3 * 2 * n * n;
    cl_int err = CL_SUCCESS;
    mem_handle buf(clCreateBuffer(ctx, CL_MEM_READ_WRITE, floats * 4, nullptr, &err));
    check(err, "allocating the CLBlast warm-up buffer");
    const float zero = 0.0f;
    check(clEnqueueFillBuffer(queue, buf.get(), &zero, sizeof zero, 0, floats * 4, 0, nullptr, nullptr),
          "clearing the CLBlast warm-up buffer");
    gemm_desc g;
    g.m = g.n = g.k = n;
    g.a = {buf.get(), 0};
    g.b = {buf.get(), 2 * n * n * 4};
    g.c = {buf.get(), 4 * n * n * 4};
    g.lda = g.ldb = g.ldc = n;
    g.stride_a = g.stride_b = g.stride_c = n * n;
    g.batch = 2;
    blas_sgemm(queue, g);
    g.batch = 1;
    blas_sgemm(queue, g);
    check(clFinish(queue), "CLBlast warm-up");
}

std::string blas_describe(cl_device_id device) {
    static std::mutex mu;
    static std::unordered_map<cl_device_id, std::string> applied; // overrides applied per device
    std::string source;
    {
        std::lock_guard lock(mu);
        auto it = applied.find(device);
        if (it == applied.end()) it = applied.emplace(device, apply_overrides(device)).first;
        source = it->second;
    }
    std::unordered_map<std::string, size_t> params;
    std::lock_guard lock(blas_mutex());
    const auto s = clblast::RetrieveParameters(device, "Xgemm", clblast::Precision::kSingle, params);
    std::string list;
    if (s == clblast::StatusCode::kSuccess) {
        std::set<std::string> keys; // sorted for a stable line
        for (const auto& [k, v] : params)
            keys.insert(fmt::format("{}={}", k, v));
        for (const auto& k : keys)
            list += (list.empty() ? "" : " ") + k;
    } else {
        list = fmt::format("(not available: status {})", static_cast<int>(s));
    }
    return fmt::format("CLBlast Xgemm {}: {}",
                       source.empty()
                           ? "parameters from CLBlast's database (tuned if this device is listed, else "
                             "vendor/default values)"
                           : "tuned parameters from " + source,
                       list);
}

} // namespace pa::ocl
