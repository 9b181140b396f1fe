// context_impl.h - what a device_context holds (internal to opencl/ and plugin_entry).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "buffer_pool.h"
#include "kernel_cache.h"
#include "ocl_api.h"
#include "program_cache.h"
#include "repack_cache.h"
#include "tuning.h"
#include "x16_copy.h"

namespace pa::ocl {

struct device_context::impl {
    device_caps caps;
    context_handle ctx;
    queue_handle queue;
    std::shared_ptr<buffer_pool> pool;
    std::unique_ptr<program_cache> programs;
    tuning tune;
    std::mutex kernels_mu;
    kernel_cache kernels; // under kernels_mu
    std::mutex checks_mu;
    std::vector<std::function<void()>> deferred_checks; // after_finish(), under checks_mu
    std::once_flag blas_warm;
    std::string blas_report;
    std::mutex counters_mu;
    mem_handle counters; // device_context::counters
    size_t counters_n = 0;
    repack_cache mmq_weights; // mul_mat_mma's repacked PARAM weights (used under the backend's compute lock)
    x16_keeper mmq_x16;       // mul_mat_mma's f16 copy of the last activations (same lock)
    struct kept_entry {
        std::string kind;
        std::vector<std::byte> bytes;
        std::shared_ptr<const void> value;
    };
    std::mutex kept_mu;
    std::vector<kept_entry> kept; // device_context::kept_upload, most recently used first; under kept_mu
};

// Source text of an embedded program with common.cl in front (throws for an unknown name).
// common.cl, then the pieces the program shares with others (context.cpp: mma_ptx.cl for the
// tensor-core programs), then prefix_program's text (a variant's macros, if given), then program's.
std::string builtin_source(std::string_view program, std::string_view prefix_program = {});
std::string common_source();

} // namespace pa::ocl
