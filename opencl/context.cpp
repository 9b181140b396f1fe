// context.cpp - device_context: context, queue, programs, buffers, CLBlast; scratch; the
// table of plugin op implementations.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "blas.h"
#include "context_impl.h"
#include "host_wait.h"
#include "kernel_profile.h"
#include "opencl_kernels.h"

namespace pa::ocl {

// ---- embedded sources -------------------------------------------------------------------
static const char* find_embedded(std::string_view name) {
    for (const pa_embedded_source& s : pa_ocl_sources)
        if (name == s.name) return s.text;
    return nullptr;
}

std::string common_source() {
    const char* c = find_embedded("common.cl");
    return c ? c : "";
}

// Programs that need a shared piece between common.cl and their own text.
constexpr std::pair<std::string_view, std::string_view> program_pieces[] = {
    {"flash_attn_mma.cl", "mma_ptx.cl"}, // the inline-PTX tensor-core helpers (and their emulation)
    {"mul_mat_mma.cl", "mma_ptx.cl"},
    {"mul_mat_mma.cl", "mmq_common.cl"}, // the GEMMs' geometry, activation tiles, results
    {"mul_mat_mma_rq.cl", "mma_ptx.cl"},
    {"mul_mat_mma_rq.cl", "mmq_common.cl"},
    {"flash_attn_tiled.cl", "flash_attn_tiled_common.cl"}, // options' defaults, K / V loads
    {"flash_attn_tiled_q.cl", "flash_attn_tiled_common.cl"},
};

std::string builtin_source(std::string_view program, std::string_view prefix_program) {
    const auto text_of = [](std::string_view name) {
        const char* text = find_embedded(name);
        if (!text) throw error(fmt::format("no embedded OpenCL program named '{}'", name), PA_ERR_INVALID);
        return text;
    };
    std::string prefix;
    for (const auto& [prog, piece] : program_pieces)
        if (prog == program) prefix += fmt::format("{}\n", text_of(piece));
    if (!prefix_program.empty()) prefix += fmt::format("{}\n", text_of(prefix_program));
    return fmt::format("{}\n{}#line 1\n{}", common_source(), prefix, text_of(program));
}

// ---- device_context ---------------------------------------------------------------------
device_context::device_context(std::string_view spec) : impl_(std::make_unique<impl>()) {
    impl& s = *impl_;
    s.caps = select_device(spec);
    cl_int err = CL_SUCCESS;
    const cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                           reinterpret_cast<cl_context_properties>(s.caps.platform_id), 0};
    s.ctx = context_handle(clCreateContext(props, 1, &s.caps.device_id, nullptr, nullptr, &err));
    check(err, fmt::format("creating an OpenCL context on {}", s.caps.name));
    const cl_command_queue_properties queue_props =
        kernel_profile::current() == kernel_profile::mode::device ? CL_QUEUE_PROFILING_ENABLE : 0;
    s.queue = queue_handle(clCreateCommandQueue(s.ctx.get(), s.caps.device_id, queue_props, &err));
    check(err, fmt::format("creating a command queue on {}", s.caps.name));
    s.pool = std::make_shared<buffer_pool>(s.ctx.get(), s.queue.get(), s.caps);
    s.programs = std::make_unique<program_cache>(s.ctx.get(), s.caps);
    s.tune = tuning_for(s.caps);
    host_wait_mode(); // a bad $PA_OPENCL_WAIT fails the backend's opening, not its first wait
}

device_context::~device_context() {
    if (!impl_ || !impl_->queue) return;
    clFinish(impl_->queue.get()); // no kernel may outlive its buffers
    kernel_profile::report_device();
}

const device_caps& device_context::caps() const {
    return impl_->caps;
}
cl_context device_context::cl_ctx() const {
    return impl_->ctx.get();
}
cl_device_id device_context::device() const {
    return impl_->caps.device_id;
}
cl_command_queue device_context::queue() const {
    return impl_->queue.get();
}
const tuning& device_context::tune() const {
    return impl_->tune;
}

// The tuning table's -D flags of a program, then the caller's options (which may override them),
// then $PA_OPENCL_DEFINES (experiments: e.g. "-DMMA_MBARRIER=1", given to every program).
std::string device_context::tuned_options(std::string_view program, const std::string& options) const {
    static const std::string extra = [] {
        const char* e = std::getenv("PA_OPENCL_DEFINES");
        return std::string(e ? e : "");
    }();
    std::string o = impl_->tune.defines(program);
    for (const std::string* part : {&options, &extra})
        if (!part->empty()) o += (o.empty() ? "" : " ") + *part;
    return o;
}

cl_kernel device_context::get_kernel(std::string_view builtin_program, std::string_view kernel_name,
                                     const std::string& options) {
    kernel_key key;
    key.of = kernel_key::kind::builtin_options;
    key.program = builtin_program;
    key.kernel = kernel_name;
    key.options = options;
    {
        std::lock_guard lock(impl_->kernels_mu);
        if (cl_kernel k = impl_->kernels.find(key)) return k;
    }
    const std::string src = builtin_source(builtin_program);
    cl_kernel k =
        impl_->programs->kernel(builtin_program, src, kernel_name, tuned_options(builtin_program, options));
    std::lock_guard lock(impl_->kernels_mu);
    impl_->kernels.insert(key, k);
    return k;
}

cl_kernel device_context::get_kernel(std::string_view builtin_program, std::string_view kernel_name,
                                     std::initializer_list<define> defines, std::string_view extra) {
    kernel_key key;
    key.of = kernel_key::kind::builtin_defines;
    key.program = builtin_program;
    key.kernel = kernel_name;
    key.options = extra;
    key.defs = std::span<const define>(defines.begin(), defines.size());
    {
        std::lock_guard lock(impl_->kernels_mu);
        if (cl_kernel k = impl_->kernels.find(key)) return k;
    }
    std::string options;
    for (const define& d : defines)
        options += fmt::format("{}-D{}={}", options.empty() ? "" : " ", d.name, d.value);
    if (!extra.empty()) options += fmt::format("{}{}", options.empty() ? "" : " ", extra);
    cl_kernel k = get_kernel(builtin_program, kernel_name, options);
    std::lock_guard lock(impl_->kernels_mu);
    impl_->kernels.insert(key, k);
    return k;
}

program_source hashed(program_source src) {
    src.text_hash = std::hash<std::string_view>{}(src.text);
    return src;
}

cl_kernel device_context::get_kernel(const program_source& src, std::string_view kernel_name,
                                     const std::string& options) {
    // std::hash of the text is far cheaper than building the full source and the cache's key
    kernel_key key;
    key.of = kernel_key::kind::source;
    key.program = src.name;
    key.kernel = kernel_name;
    key.options = options;
    key.text_size = src.text.size();
    key.text_hash = src.text_hash ? src.text_hash : std::hash<std::string_view>{}(src.text);
    key.prepend_common = src.prepend_common;
    {
        std::lock_guard lock(impl_->kernels_mu);
        if (cl_kernel k = impl_->kernels.find(key)) return k;
    }
    const std::string text =
        src.prepend_common ? fmt::format("{}\n#line 1\n{}", common_source(), src.text) : src.text;
    cl_kernel k = impl_->programs->kernel(src.name, text, kernel_name, tuned_options(src.name, options));
    std::lock_guard lock(impl_->kernels_mu);
    impl_->kernels.insert(key, k);
    return k;
}

mem_ref device_context::mem(const pa_tensor* t) const {
    const void* handle = t->buffer;
    size_t offs = t->offs;
    if (!handle && t->view_src && t->view_src->buffer) { // a view the caller did not resolve
        handle = t->view_src->buffer;
        offs = t->view_src->offs + t->view_offs;
    }
    if (!handle) throw error(fmt::format("tensor '{}' has no OpenCL storage", t->name), PA_ERR_INVALID);
    return {static_cast<const device_buffer*>(handle)->mem.get(), offs};
}

scratch device_context::temp(size_t bytes) {
    scratch s;
    device_buffer* b = impl_->pool->acquire(bytes);
    s.pool_ = impl_->pool;
    s.buffer_ = b;
    s.mem_ = b->mem.get();
    s.size_ = bytes;
    return s;
}

void device_context::write(const scratch& s, const void* src, size_t bytes) {
    if (bytes > s.size())
        throw error(fmt::format("writing {} bytes into a scratch buffer of {}", bytes, s.size()),
                    PA_ERR_INVALID);
    impl_->pool->write(static_cast<device_buffer*>(s.buffer_), 0, src, bytes);
}

std::shared_ptr<const void>
device_context::kept_any(std::string_view kind, std::span<const std::byte> bytes,
                         const std::function<std::shared_ptr<const void>()>& make) {
    constexpr size_t keep = 8; // distinct tables alive at once: a model's few node shapes
    std::lock_guard lock(impl_->kept_mu);
    auto& kept = impl_->kept;
    const auto hit = std::find_if(kept.begin(), kept.end(), [&](const impl::kept_entry& e) {
        return e.kind == kind && std::ranges::equal(e.bytes, bytes);
    });
    if (hit != kept.end()) {
        std::rotate(kept.begin(), hit, hit + 1);
        return kept.front().value;
    }
    std::shared_ptr<const void> value = make();
    if (kept.size() == keep) kept.pop_back();
    kept.insert(kept.begin(), {std::string(kind), std::vector<std::byte>(bytes.begin(), bytes.end()), value});
    return value;
}

cl_mem device_context::counters(size_t n) {
    std::lock_guard lock(impl_->counters_mu);
    if (n > impl_->counters_n) { // a buffer still in use by queued kernels lives until they end
        const size_t want = std::max<size_t>(n, 2 * impl_->counters_n);
        std::vector<cl_int> zeros(want, 0);
        cl_int err = CL_SUCCESS;
        mem_handle buf(clCreateBuffer(cl_ctx(), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                                      want * sizeof(cl_int), zeros.data(), &err));
        check(err, fmt::format("allocating {} counters", want));
        impl_->counters = std::move(buf);
        impl_->counters_n = want;
    }
    return impl_->counters.get();
}

void device_context::gemm(const gemm_desc& g) {
    std::call_once(impl_->blas_warm, [&] { blas_warmup(cl_ctx(), queue()); });
    blas_sgemm(queue(), g);
}

std::string device_context::blas_info() {
    std::lock_guard lock(impl_->kernels_mu);
    if (impl_->blas_report.empty()) impl_->blas_report = blas_describe(device());
    return impl_->blas_report;
}

void device_context::set_max_alloc(uint64_t bytes) {
    impl_->pool->set_cap(bytes);
}
uint64_t device_context::max_alloc() const {
    return impl_->pool->cap();
}
uint64_t device_context::allocated() const {
    return impl_->pool->allocated();
}

void device_context::finish() {
    std::vector<std::function<void()>> checks;
    {
        std::lock_guard lock(impl_->checks_mu);
        checks.swap(impl_->deferred_checks);
    }
    finish_queue(queue(), "waiting for the OpenCL queue");
    for (const auto& c : checks)
        c();
}

void device_context::discard_deferred_checks() {
    std::lock_guard lock(impl_->checks_mu);
    impl_->deferred_checks.clear();
}

void device_context::after_finish(std::function<void()> check) {
    std::lock_guard lock(impl_->checks_mu);
    impl_->deferred_checks.push_back(std::move(check));
}

// ---- scratch ----------------------------------------------------------------------------
scratch::scratch(scratch&& o) noexcept
    : pool_(std::move(o.pool_)), buffer_(std::exchange(o.buffer_, nullptr)),
      mem_(std::exchange(o.mem_, nullptr)), size_(std::exchange(o.size_, 0)) {}

scratch& scratch::operator=(scratch&& o) noexcept {
    if (this != &o) {
        scratch old(std::move(*this));
        pool_ = std::move(o.pool_);
        buffer_ = std::exchange(o.buffer_, nullptr);
        mem_ = std::exchange(o.mem_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

scratch::~scratch() {
    if (pool_ && buffer_)
        static_cast<buffer_pool*>(pool_.get())->give_back(static_cast<device_buffer*>(buffer_));
}

// ---- plugin op implementations ----------------------------------------------------------
namespace {
struct op_table {
    std::mutex mu;
    std::map<int32_t, op_impl> ops;
};
op_table& ops_table() {
    static op_table t; // one per plugin: op ids are process-wide
    return t;
}
} // namespace

void register_op_impl(int32_t op_id, op_impl impl) {
    op_table& t = ops_table();
    std::lock_guard lock(t.mu);
    t.ops[op_id] = std::move(impl);
}

std::optional<op_impl> find_op_impl(int32_t op_id) {
    op_table& t = ops_table();
    std::lock_guard lock(t.mu);
    auto it = t.ops.find(op_id);
    if (it == t.ops.end()) return std::nullopt;
    return it->second;
}

} // namespace pa::ocl
