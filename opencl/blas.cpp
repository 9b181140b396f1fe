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
// are split along n, and each piece reads its operands through a sub-buffer that starts near it.
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

} // namespace

void blas_sgemm(cl_command_queue queue, const gemm_desc& g) {
    if (g.m == 0 || g.n == 0 || g.batch == 0) return;
    if (g.a.offs % 4 || g.b.offs % 4 || g.c.offs % 4)
        throw error("CLBlast GEMM: buffer offsets must be multiples of 4 bytes", PA_ERR_INVALID);
    std::lock_guard lock(blas_mutex());
    cl_command_queue q = queue;
    // op(A) is m x k, op(B) k x n, C m x n (column-major, CLBlast's view)
    const size_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
    const size_t b_rows = g.trans_b ? g.n : g.k;
    const size_t limit = span_limit();
    const size_t a_bytes = operand_bytes(a_rows, a_cols, g.lda) + (g.batch - 1) * g.stride_a * 4;
    const size_t col_bytes = std::max(g.trans_b ? size_t(4) : g.ldb * 4, g.ldc * 4); // per column of C
    const bool big =
        g.c.offs + operand_bytes(g.m, g.n, g.ldc) >= limit ||
        g.b.offs + (g.trans_b ? operand_bytes(b_rows, g.k, g.ldb) : operand_bytes(b_rows, g.n, g.ldb)) >=
            limit ||
        g.a.offs + a_bytes >= limit;
    if (!big || g.batch != 1 || g.trans_b || a_bytes >= limit / 2) return sgemm_call(q, g);
    // Split along n; each piece sees B and C through sub-buffers that start next to it.
    const size_t align = base_align(q);
    const size_t cols = std::max<size_t>(1, (limit / 2) / col_bytes);
    const near_view a = view_near(g.a, a_bytes, align);
    for (size_t n0 = 0; n0 < g.n; n0 += cols) {
        gemm_desc p = g;
        p.n = std::min(cols, g.n - n0);
        const near_view b =
            view_near({g.b.mem, g.b.offs + n0 * g.ldb * 4}, operand_bytes(b_rows, p.n, g.ldb), align);
        const near_view c =
            view_near({g.c.mem, g.c.offs + n0 * g.ldc * 4}, operand_bytes(g.m, p.n, g.ldc), align);
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
