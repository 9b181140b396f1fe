// cpu_backend.cpp - the reference backend: host memory, every built-in op (op_table.cpp), and
// the CPU reference of every registered plugin op.
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "ops.h"
#include "pa/backend.h"
#include "pa/error.h"
#include "pa/op_registry.h"
#include "simd.h"

namespace pa {
namespace {

// The scheduler gives host backends a data pointer for every node and src; check before use.
void check_host_data(const tensor* node) {
    if (!node->data) throw error(fmt::format("cpu: node '{}' has no host storage", node->name));
    for (const tensor* s : node->src)
        if (s && !s->data)
            throw error(fmt::format("cpu: a source of node '{}' has no host storage", node->name));
}

void run_dynamic(tensor* node) {
    const op_info* info = op_registry::global().get(node->op);
    if (!info || !info->cpu_compute)
        throw error(fmt::format("cpu: op id {} has no CPU reference", node->op), PA_ERR_UNSUPPORTED);
    char err[512] = {0};
    const pa_status st = info->cpu_compute(node, err, sizeof err);
    if (st != PA_OK)
        throw error(fmt::format("cpu: {} failed: {}", info->name, err[0] ? err : "no message"), st);
}

class cpu_backend final : public backend {
  public:
    explicit cpu_backend(int n_threads) : n_threads_(resolve_threads(n_threads)), simd_(&cpu::simd()) {}

    std::string name() const override { return "cpu"; }
    std::string description() const override {
        return fmt::format("reference CPU backend, {} threads, {}", n_threads_, simd_->name);
    }
    bool is_host() const override { return true; }

    bool supports_op(const tensor* node) const override {
        if (!node) return false;
        if (node->op >= PA_OP_FIRST_DYNAMIC) {
            const op_info* info = op_registry::global().get(node->op);
            return info && info->cpu_compute;
        }
        if (!type_is_valid(node->type)) return false;
        const cpu::builtin_kernel* k = cpu::find_builtin(node->op);
        return k && k->supports && k->supports(node);
    }

    void* alloc(size_t bytes) override {
        // 64-byte aligned, size rounded up as aligned_alloc requires; never a null handle
        const size_t rounded = (bytes + 63) / 64 * 64;
        void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
        if (!p)
            throw error(fmt::format("cpu: out of host memory allocating {} bytes", bytes),
                        PA_ERR_OUT_OF_MEMORY);
        return p;
    }
    void release(void* handle) override { std::free(handle); }
    void write(void* handle, size_t offset, const void* src, size_t bytes) override {
        if (bytes) std::memcpy(static_cast<char*>(handle) + offset, src, bytes);
    }
    void read(void* handle, size_t offset, void* dst, size_t bytes) override {
        if (bytes) std::memcpy(dst, static_cast<const char*>(handle) + offset, bytes);
    }

    void compute(std::span<tensor* const> nodes) override {
        for (tensor* node : nodes)
            run(node);
    }

    void set_option(const std::string& key, const std::string& value) override {
        if (key == "n_threads") {
            int n = 0;
            try {
                n = std::stoi(value);
            } catch (const std::exception&) {
                throw error(fmt::format("cpu: n_threads must be an integer, not '{}'", value));
            }
            if (n < 0) throw error("cpu: n_threads must be >= 0");
            n_threads_ = resolve_threads(n);
            return;
        }
        if (key == "simd") { // kernel variant: generic | avx2 | avx512 (simd.h)
            const cpu::simd_kernels* k = cpu::simd_variant(value);
            if (!k)
                throw error(fmt::format("cpu: simd variant '{}' is not built or not supported here", value));
            simd_ = k;
            return;
        }
        throw error(fmt::format("cpu: unknown option '{}' (known: n_threads, simd)", key),
                    PA_ERR_UNSUPPORTED);
    }

  private:
    static int resolve_threads(int n) {
        if (n > 0) return n;
        const unsigned hw = std::thread::hardware_concurrency();
        return hw ? int(hw) : 1;
    }

    void run(tensor* node) {
        if (node->op == PA_OP_NONE || is_view_op(node->op)) return; // views alias their source's storage
        check_host_data(node);
        if (node->op >= PA_OP_FIRST_DYNAMIC) return run_dynamic(node);
        const cpu::builtin_kernel* k = cpu::find_builtin(node->op);
        if (!k || !k->compute)
            throw error(
                fmt::format("cpu: unsupported op {} ({})", node->op, op_registry::global().name(node->op)),
                PA_ERR_UNSUPPORTED);
        k->compute(node, n_threads_, *simd_);
    }

    int n_threads_;
    const cpu::simd_kernels* simd_;
};

} // namespace

std::unique_ptr<backend> make_cpu_backend(int n_threads) {
    return std::make_unique<cpu_backend>(n_threads);
}

} // namespace pa
