// blas.cpp - CLBlast calls behind one mutex.
#include "blas.h"

#include <clblast.h>

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

void blas_sgemm(cl_command_queue queue, const gemm_desc& g) {
    if (g.m == 0 || g.n == 0 || g.batch == 0) return;
    if (g.a.offs % 4 || g.b.offs % 4 || g.c.offs % 4)
        throw error("CLBlast GEMM: buffer offsets must be multiples of 4 bytes", PA_ERR_INVALID);
    std::lock_guard lock(blas_mutex());
    cl_command_queue q = queue;
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
