// backend_ocl.cpp - dispatch of nodes to built-in and plugin op implementations.
#include "backend_ocl.h"

#include <charconv>
#include <cstdlib>
#include <exception>
#include <fmt/format.h>

#include "context_impl.h"
#include "fused.h"
#include "op_table.h"

namespace pa::ocl {
namespace {

// Every src and the node must carry a type this backend knows before any traits() lookup.
bool known_types(const pa_tensor* node) {
    if (!type_is_valid(node->type)) return false;
    for (const pa_tensor* s : node->src)
        if (s && !type_is_valid(s->type)) return false;
    return true;
}

// A long call (a whole decode graph) submits its work in parts, so the device starts on the
// first kernels while the host still enqueues the rest.
constexpr int nodes_per_flush = 32;

device_buffer* as_buffer(void* handle) {
    if (!handle) throw error("OpenCL: null buffer handle", PA_ERR_INVALID);
    return static_cast<device_buffer*>(handle);
}

} // namespace

opencl_backend::opencl_backend(std::string_view spec) : ctx_(spec) {
    const char* sync = std::getenv("PA_OPENCL_SYNC");
    sync_each_node_ = sync && *sync && std::string_view(sync) != "0";
    if (ctx_.caps().is_gpu) ctx_.gemm({}); // GPUs: compile CLBlast now, not in the first timed GEMM
}

opencl_backend::~opencl_backend() = default;

std::string opencl_backend::description() {
    const device_caps& c = ctx_.caps();
    return fmt::format("{} | tuning {} | {}", c.summary(), ctx_.tune().source, ctx_.blas_info());
}

bool opencl_backend::supports_op(const pa_tensor* node) const noexcept {
    try {
        if (!node || !known_types(node)) return false;
        if (node->op >= PA_OP_FIRST_DYNAMIC) {
            const std::optional<op_impl> impl = find_op_impl(node->op);
            return impl && impl->supports && impl->compute && impl->supports(ctx_, node);
        }
        const builtin_op* op = find_builtin_op(node->op);
        return op && op->supports && op->supports(ctx_, node);
    } catch (...) {
        return false; // a shape we cannot even inspect is not supported
    }
}

void* opencl_backend::alloc(size_t bytes) {
    return ctx_.internals().pool->acquire(bytes);
}

void opencl_backend::release(void* handle) noexcept {
    if (handle) ctx_.internals().pool->give_back(static_cast<device_buffer*>(handle));
}

void opencl_backend::write(void* handle, size_t offset, const void* src, size_t bytes) {
    ctx_.internals().pool->write(as_buffer(handle), offset, src, bytes);
}

void opencl_backend::read(void* handle, size_t offset, void* dst, size_t bytes) {
    ctx_.internals().pool->read(as_buffer(handle), offset, dst, bytes);
}

void opencl_backend::compute(pa_tensor* const* nodes, int n_nodes) {
    std::lock_guard lock(compute_mu_);
    // a node that fails drops the checks deferred to the next finish: its error is the one to
    // report, and the next graph must not inherit them
    struct discard_on_throw {
        device_context& ctx;
        int uncaught = std::uncaught_exceptions();
        ~discard_on_throw() {
            if (std::uncaught_exceptions() > uncaught) ctx.discard_deferred_checks();
        }
    } guard{ctx_};
    // the f16 copy of activations that products share lives within one call (x16_copy.h), under
    // compute_mu_: host writes and buffer releases happen between calls, when none is kept
    x16_keeper& x16 = ctx_.internals().mmq_x16;
    x16.forget();
    struct forget_at_exit {
        x16_keeper& k;
        ~forget_at_exit() { k.forget(); }
    } x16_guard{x16};
    int next_flush = nodes_per_flush;
    for (int i = 0; i < n_nodes; ++i) {
        if (i >= next_flush) { // hand the device what is enqueued so far while the rest is
            check(clFlush(ctx_.queue()), "flushing the OpenCL queue");
            next_flush = i + nodes_per_flush;
        }
        pa_tensor* node = nodes[i];
        if (is_view_op(node->op)) continue; // nothing to compute
        if (!supports_op(node))
            throw error(fmt::format("OpenCL backend does not support op {} on {} '{}'", node->op,
                                    shape_string(node), node->name),
                        PA_ERR_UNSUPPORTED);
        if (const int fused = run_fused(ctx_, nodes + i, n_nodes - i); fused > 0) {
            for (int j = i; j < i + fused; ++j)
                x16.written(ctx_, nodes[j]);
            i += fused - 1; // they ran in one launch (fused.h)
        } else {
            if (node->op >= PA_OP_FIRST_DYNAMIC)
                find_op_impl(node->op)->compute(ctx_, node);
            else
                find_builtin_op(node->op)->compute(ctx_, node);
            x16.written(ctx_, node);
        }
        if (sync_each_node_) {
            const cl_int rc = clFinish(ctx_.queue());
            if (rc != CL_SUCCESS)
                throw error(fmt::format("OpenCL: node {} (op {}, {} '{}') failed: {} ({})", i, node->op,
                                        shape_string(node), node->name, cl_error_name(rc), rc),
                            cl_error_status(rc));
        }
    }
    check(clFlush(ctx_.queue()), "flushing the OpenCL queue"); // start the work; synchronize() waits
}

void opencl_backend::synchronize() {
    ctx_.finish();
}

void opencl_backend::set_option(std::string_view key, std::string_view value) {
    if (key == "max_alloc_bytes") {
        uint64_t v = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (ec != std::errc() || end != value.data() + value.size())
            throw error(fmt::format("max_alloc_bytes: '{}' is not a byte count", value), PA_ERR_INVALID);
        ctx_.set_max_alloc(v);
    } else if (key == "blas_warmup") {
        std::lock_guard lock(compute_mu_);
        ctx_.gemm({});
    } else if (key == "trim_pool") {
        ctx_.internals().pool->trim();
    } else {
        throw error(
            fmt::format("unknown OpenCL backend option '{}' (known: max_alloc_bytes, blas_warmup, trim_pool)",
                        key),
            PA_ERR_INVALID);
    }
}

} // namespace pa::ocl
