// estimator_util.h - host helpers shared by ocl/xattn.cpp and ocl/flex.cpp: scratch buffers,
// uploads, fills and debug read-backs, and the selection kernels of estimator_common.cl (the
// programs: program_text.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../geometry.h"
#include "estimators.h"
#include "ocl_api.h"

namespace pa::proxy::est {

using pa::ocl::device_context;
using pa::ocl::scratch;

inline constexpr int wg_sort = 128; // LS of estimator_common.cl

// At least `elems` elements of elem_bytes each (one when elems is 0).
scratch temp(device_context& ctx, int64_t elems, size_t elem_bytes = 4);
scratch zeros(device_context& ctx, int64_t elems, size_t elem_bytes = 4);
void read_bytes(device_context& ctx, const scratch& s, void* data, size_t bytes);
template <class T> scratch upload(device_context& ctx, const std::vector<T>& v) {
    scratch s = temp(ctx, int64_t(v.size()), sizeof(T));
    ctx.write(s, v.data(), v.size() * sizeof(T));
    return s;
}
// Several small host arrays sent to the device as one write, each then seen by kernels as a
// buffer of its own (a sub-buffer at an offset aligned for the device). On the H200 every write
// on the queue left the device idle ~15 us between kernels: the sample rows' eight arrays cost
// ~130 us of an 8K estimate of ~300. The device copy is kept by its contents
// (device_context::kept_upload): the next node with the same tables (every layer of a model at
// one prompt length, every run of a bench) sends nothing and creates no sub-buffer.
class packed_upload {
  public:
    explicit packed_upload(const device_context& ctx); // the device's sub-buffer alignment
    // Adds an array (sent by send()); returns its part number.
    template <class T> int add(const std::vector<T>& v) { return add_bytes(v.data(), v.size() * sizeof(T)); }
    void send(device_context& ctx); // one scratch buffer, one write, a sub-buffer per part
    // The same for parts that fill() adds, kept by a short key from which fill() always makes the
    // same parts (e.g. the fields of the sample rows the tables list): a node whose key an
    // earlier node had neither runs fill() nor compares the tables themselves. Part numbers
    // count from 0 in fill()'s order of add().
    void send_keyed(device_context& ctx, std::string_view kind, std::span<const std::byte> key,
                    const std::function<void(packed_upload&)>& fill);
    cl_mem mem(int part) const { return copy_->parts[size_t(part)].get(); }

  private:
    struct device_copy {
        scratch buf; // before parts: the sub-buffers go first
        std::vector<pa::ocl::mem_handle> parts;
    };
    std::shared_ptr<const device_copy> make_copy(device_context& ctx) const;
    int add_bytes(const void* p, size_t n);
    size_t align_;
    std::vector<std::byte> bytes_;           // the parts at their offsets in the device buffer
    std::vector<cl_buffer_region> parts_at_; // at least 4 bytes each: no empty region
    std::shared_ptr<const device_copy> copy_;
};

template <class T> std::vector<T> read(device_context& ctx, const scratch& s, int64_t count) {
    std::vector<T> out(static_cast<size_t>(count));
    read_bytes(ctx, s, out.data(), out.size() * sizeof(T));
    return out;
}

int32_t sort_n(const geometry& geo); // next power of two of n_kblocks

// rank_rows_threshold: ranks and budgets of the rows of heads whose flag (flags[h * stride]) is on.
void rank_rows(device_context& ctx, cl_kernel k, const geometry& geo, const scratch& scores,
               const scratch& ranks, const scratch& budgets, const scratch& flags, int32_t flag_stride,
               int64_t k_max);

// The mask's buffers, uninitialised: counts [H][n_rows], blocks [H][tri_total].
device_mask mask_buffers(device_context& ctx, const geometry& geo);
// dbg's ranks and budgets ([H][tri_total], [H][n_rows]) from the device.
void read_ranks(device_context& ctx, const geometry& geo, const scratch& ranks, const scratch& budgets,
                ocl_debug& dbg);
// dbg's counts and blocks from the mask.
void read_mask(device_context& ctx, const geometry& geo, const device_mask& mask, ocl_debug& dbg);

// Per-batch scratch budget of the per-(query, block) statistics: $PA_PROXY_BM_BYTES or 256 MiB.
int64_t stats_budget_bytes();

} // namespace pa::proxy::est
