// ocl_api.h - what op implementations outside opencl/ (plugin ops such as proxy_sparse_attn)
// use to run on the OpenCL backend. Stable interface: add to it, do not change it.
//
// A device_context is one opened device: cl context, in-order queue, program cache, buffer
// pool, CLBlast. Op code receives it in op_impl::compute(), which the backend calls from
// compute() with the backend's lock held, so kernels (whose arguments are shared state) may be
// used without further locking. Everything throws pa::error on failure; the plugin's C ABI
// edge turns that into a status and message.
//
// Tensors: every src and the node have device storage; mem(t) gives (cl_mem, byte offset).
// Kernels take a tensor as (__global T* base, ulong offs) plus, when they need strides,
// (long4 ne, ulong4 nb): set_args(k, ctx.mem(t), shape_of(t)) passes all four.
//
// Typical op:
//   cl_kernel k = ctx.get_kernel(program_source{"my.cl", my_text}, "my_kernel", "-DBLOCK=64");
//   ctx.launch(k, range2(n, h), range2(64, 1), ctx.mem(src), shape_of(src), ctx.mem(dst), 1.0f);
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cl_common.h"
#include "device.h"
#include "launch.h"
#include "pa/pa_tensor.h"
#include "tuning.h"

namespace pa::ocl {

class device_context;

// OpenCL C source of a program not embedded in opencl/kernels (e.g. plugin/kernels/*.cl).
// With prepend_common the backend's common.cl (types, block layouts, helpers) goes first.
struct program_source {
    std::string name; // for messages and the cache key, e.g. "proxy_score.cl"
    std::string text;
    bool prepend_common = true;
    // std::hash of text when the owner computed it once (hashed()); 0: get_kernel hashes the
    // text at every call, which for a 50 KB program costs more than the launch itself
    size_t text_hash = 0;
};

// src with text_hash filled in: for a source kept and launched from many times (change its
// text afterwards and the hash is stale).
program_source hashed(program_source src);

// One -D macro of a kernel build: "-D<name>=<value>".
struct define {
    std::string_view name;
    int64_t value;
};

// Pooled temporary device memory; goes back to the pool when destroyed. Reuse is safe for
// work already enqueued (the queue is in order).
class scratch {
  public:
    scratch() = default;
    scratch(scratch&&) noexcept;
    scratch& operator=(scratch&&) noexcept;
    scratch(const scratch&) = delete;
    scratch& operator=(const scratch&) = delete;
    ~scratch();
    mem_ref ref() const { return {mem_, 0}; }
    cl_mem mem() const { return mem_; }
    size_t size() const { return size_; }

  private:
    friend class device_context;
    std::shared_ptr<void> pool_; // the pool it returns to (kept alive while the scratch lives)
    void* buffer_ = nullptr;     // pool-owned record
    cl_mem mem_ = nullptr;
    size_t size_ = 0;
};

// Single-precision GEMM with BLAS (column-major) semantics, batched with constant strides:
// for b < batch: C_b = alpha * op(A_b) * op(B_b) + beta * C_b, X_b = X + b * stride_x.
// Offsets are in bytes (multiples of 4); ld and strides in elements. Runs on CLBlast.
struct gemm_desc {
    bool trans_a = false, trans_b = false;
    size_t m = 0, n = 0, k = 0;
    float alpha = 1.0f, beta = 0.0f;
    mem_ref a;
    size_t lda = 0, stride_a = 0;
    mem_ref b;
    size_t ldb = 0, stride_b = 0;
    mem_ref c;
    size_t ldc = 0, stride_c = 0;
    size_t batch = 1;
};

class device_context {
  public:
    // Opens the device picked by spec (see select_device); throws pa::error.
    explicit device_context(std::string_view spec);
    ~device_context();
    device_context(const device_context&) = delete;
    device_context& operator=(const device_context&) = delete;

    const device_caps& caps() const;
    cl_context cl_ctx() const;
    cl_device_id device() const;
    cl_command_queue queue() const;

    // A kernel of an embedded program (a file name of opencl/kernels, e.g. "flash_attn.cl") or
    // of the given source, built once per (source, options) for this device and cached in
    // memory and on disk. options are extra build flags, typically -D tuning macros; the
    // device's tuning defines for the program (by file name, tuning.h) come first, so options
    // can override them.
    // The kernel object is shared: set its arguments and launch it before leaving compute().
    cl_kernel get_kernel(std::string_view builtin_program, std::string_view kernel_name,
                         const std::string& options = {});
    cl_kernel get_kernel(const program_source& src, std::string_view kernel_name,
                         const std::string& options = {});
    // The same with the options given as -D macros, "-DA=1 -DB=2" for {{"A", 1}, {"B", 2}},
    // followed by extra (more flags, or empty). A launch that asks for its kernel this way
    // formats no string unless the kernel is not built yet.
    cl_kernel get_kernel(std::string_view builtin_program, std::string_view kernel_name,
                         std::initializer_list<define> defines, std::string_view extra = {});

    // Storage of a tensor of this backend (throws if it has none).
    mem_ref mem(const pa_tensor* t) const;

    // This device's kernel parameters (tuning.h).
    const tuning& tune() const;

    // Temporary device memory of at least bytes (from the pool; counts against max_alloc_bytes).
    scratch temp(size_t bytes);
    // Host bytes into the start of s, in queue order. A small write (at most 64 KiB) is enqueued
    // from a copy and returns at once; a larger one returns when it is done. Either way the host
    // memory may go right after the call. (A blocking write would also wait for every kernel
    // before it: the host would stall and the device then starve while launches catch up.)
    void write(const scratch& s, const void* src, size_t bytes);

    // Device data built from small host tables that launches only read (a node's index tables,
    // which depend on its shape alone), kept by the tables' contents: asked again for the same
    // kind and bytes (the next layer's node, the next run), it returns the object make() built
    // the first time and enqueues nothing. make() (called on a miss) returns a
    // std::shared_ptr<const T>, typically a temp() filled by write(). The most recently used
    // few are kept for the context's life; kernels must not write to them.
    template <class T, class Make>
    std::shared_ptr<const T> kept_upload(std::string_view kind, std::span<const std::byte> bytes, Make make) {
        return std::static_pointer_cast<const T>(
            kept_any(kind, bytes, [&]() -> std::shared_ptr<const void> { return make(); }));
    }

    // At least n ints of device memory that are zero between launches: a kernel counting in
    // them (the "last work-group" pattern) sets them back to zero before it ends. Kept for the
    // context's life, grown when a launch needs more.
    cl_mem counters(size_t n);

    // set_args + launch on this device's queue.
    template <class... A>
    void launch(cl_kernel k, const nd_range& global, const nd_range& local, const A&... args) {
        set_args(k, args...);
        ocl::launch(queue(), k, global, local);
    }

    // CLBlast strided batched SGEMM (serialized process-wide; warmed up once per context: the
    // first call compiles CLBlast's kernels; a call with m == 0 only does that).
    void gemm(const gemm_desc& g);
    // Whether CLBlast runs with parameters tuned for this device, and which (one line).
    std::string blas_info();

    // Device memory accounting (max_alloc_bytes cap; 0 = no cap).
    void set_max_alloc(uint64_t bytes);
    uint64_t max_alloc() const;
    uint64_t allocated() const; // live bytes, pooled free buffers included

    // Waits for every enqueued command, then runs the checks deferred by after_finish (in order,
    // the first failing one throws; all are dropped either way).
    void finish();
    // A check of device results that needs them done (e.g. an error flag a kernel set and an
    // enqueued non-blocking read brought back): run by the next finish() instead of waiting for
    // the queue now. Whatever it reads must stay alive in the closure.
    void after_finish(std::function<void()> check);
    // Drops the checks not yet run (the work they check failed to be enqueued: its error wins).
    void discard_deferred_checks();

    // Internals shared with the backend (buffer handles and pool); not for op code.
    struct impl;
    impl& internals() { return *impl_; }
    const impl& internals() const { return *impl_; }

  private:
    std::string tuned_options(std::string_view program, const std::string& options) const;
    std::shared_ptr<const void> kept_any(std::string_view kind, std::span<const std::byte> bytes,
                                         const std::function<std::shared_ptr<const void>()>& make);
    std::unique_ptr<impl> impl_;
};

// A tensor as kernels see it: storage, shape (ne/nb) and element type.
struct operand {
    mem_ref mem;
    shape_ref shape;
    pa_type type = PA_TYPE_F32;
};
inline operand operand_of(const device_context& ctx, const pa_tensor* t) {
    return {ctx.mem(t), shape_of(t), t->type};
}

// ---- ops added by plugins ---------------------------------------------------------------
// The backend consults this table for node->op >= PA_OP_FIRST_DYNAMIC: supports_op() calls
// supports (nodes whose op has no entry are unsupported), compute() calls compute.
struct op_impl {
    std::function<bool(const device_context&, const pa_tensor* node)> supports;
    std::function<void(device_context&, pa_tensor* node)> compute;
};

// Registers (or replaces) the implementation of a registry op id for every backend of this
// plugin. Thread-safe.
void register_op_impl(int32_t op_id, op_impl impl);
std::optional<op_impl> find_op_impl(int32_t op_id);

} // namespace pa::ocl
