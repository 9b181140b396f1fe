// x16_copy.h - the f16 copy of a prefill product's activations (mul_mat_mma.cl's X16), kept for
// the next products that read the same activations in one compute() call: a layer's q, k and v
// products share their input, and so do gate and up, so one conversion serves them (the copy costs
// 14 us of a 64 us product at SmolLM2's width, 56 us at Llama-3-8B's, 8K tokens). Dropped when a
// node writes over any byte of the activations it was made from, and at every compute() call's
// start and end (backend_ocl.cpp: host writes and buffer releases come between calls, when none
// is kept), so a kept copy is never stale.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "ocl_api.h"

namespace pa::ocl {

struct x16_copy {
    cl_mem mem = nullptr; // the activations' buffer and bytes [lo, hi) in it
    size_t lo = 0, hi = 0;
    std::array<int64_t, 4> ne{};
    std::array<size_t, 4> nb{};
    size_t np = 0, kp = 0; // tokens and k of the copy's layout (padded)
    scratch x;
};

class x16_keeper {
  public:
    // The kept copy of b as X16 with np tokens and kp k, or nullptr.
    const x16_copy* find(const device_context& ctx, const pa_tensor* b, size_t np, size_t kp) const;
    void keep(const device_context& ctx, const pa_tensor* b, size_t np, size_t kp, scratch x);
    // Node d was computed: drop the copy if d's bytes overlap the activations'.
    void written(const device_context& ctx, const pa_tensor* d);
    void forget() { kept_.reset(); }

  private:
    std::optional<x16_copy> kept_;
};

} // namespace pa::ocl
