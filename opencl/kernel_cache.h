// kernel_cache.h - the device context's in-memory table of built kernels. Launchers ask for
// their kernel at every launch, so a lookup builds no string and allocates nothing: the key is
// hashed from the pieces as given (program, kernel name, build options or -D defines, and for a
// program given as source its text's hash) and compared piece by piece with the stored copy.
// Not thread-safe: the device context locks around it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cl_common.h"
#include "ocl_api.h"

namespace pa::ocl {

// What names one kernel of one build: a view of the caller's pieces.
struct kernel_key {
    enum class kind : uint8_t { builtin_options, builtin_defines, source };
    kind of = kind::builtin_options;
    std::string_view program; // embedded program file, or program_source::name
    std::string_view kernel;
    std::string_view options;     // builtin_options and source
    std::span<const define> defs; // builtin_defines
    // source: the text's size and std::hash, and whether common.cl goes first
    size_t text_size = 0;
    size_t text_hash = 0;
    bool prepend_common = false;
};

class kernel_cache {
  public:
    cl_kernel find(const kernel_key& k) const; // nullptr if absent
    void insert(const kernel_key& k, cl_kernel kernel);

  private:
    struct entry { // kernel_key with its own copies of the pieces
        kernel_key::kind of;
        std::string program, kernel, options;
        std::vector<std::pair<std::string, int64_t>> defs;
        size_t text_size, text_hash;
        bool prepend_common;
        cl_kernel value;
    };
    static size_t hash_of(const kernel_key& k);
    static bool matches(const entry& e, const kernel_key& k);
    std::unordered_map<size_t, std::vector<entry>> table_; // by hash_of
};

} // namespace pa::ocl
