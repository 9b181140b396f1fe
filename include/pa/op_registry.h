// op_registry.h - the OPEN op registry: ops by name and id. Built-ins are registered at
// construction with fixed ids (enum pa_op); plugins add ops through the host API and get ids
// from PA_OP_FIRST_DYNAMIC on. One process-wide instance (op ids live in tensors and must
// mean the same thing to the host and every plugin); it is thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "pa/pa_plugin.h"

namespace pa {

struct op_info {
    int32_t id = -1;
    std::string name;
    int n_src_min = 0, n_src_max = 0;
    pa_op_infer_fn infer = nullptr;   // plugin ops only
    pa_op_cpu_fn cpu_compute = nullptr; // plugin ops only (built-ins live in the CPU backend)
};

class op_registry {
public:
    static op_registry& global();

    // Adds a plugin op; re-registering the same name with the same functions returns the old id.
    // Throws pa::error on a name clash or a bad descriptor.
    int32_t add(const pa_op_desc& desc);
    int32_t find(std::string_view name) const; // -1 if unknown
    const op_info* get(int32_t id) const;      // nullptr if unknown
    std::string name(int32_t id) const;        // "?" if unknown
    std::vector<op_info> list() const;

private:
    op_registry();
    mutable std::mutex mu_;
    std::deque<op_info> ops_; // index = id (gaps for unused ids); deque keeps addresses stable
};

} // namespace pa
