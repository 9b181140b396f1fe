// estimators.h - the OpenCL lowering of estimator = xattn | flex (ref/estimators.h on the CPU),
// called by ocl_run() (lowering.cpp) instead of the proxy estimate. Kernels: kernels/xattn.cl and
// kernels/flex.cl, each behind kernels/estimator_common.cl. Every step runs on the device, nothing
// is read back in between; the result is the kept-block mask (CSR counts and blocks, as
// pa::ocl::device_block_mask reads it), bit-identical to the CPU reference's.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "../geometry.h"
#include "ocl_api.h"

namespace pa::proxy {

struct ocl_debug;

// The mask of one run: counts [H][n_rows], blocks [H][tri_total].
struct device_mask {
    pa::ocl::scratch counts, blocks;
};

// Steps 1-4 (up to geo.stop_after); returns false when stopped before the mask is complete.
// dbg, when given, receives the intermediates (layouts of ref/reference.h `estimate`).
bool xattn_on_device(pa::ocl::device_context& ctx, const geometry& geo, const pa::ocl::operand& q,
                     const pa::ocl::operand& k, ocl_debug* dbg, device_mask& out);
bool flex_on_device(pa::ocl::device_context& ctx, const geometry& geo, const pa::ocl::operand& q,
                    const pa::ocl::operand& k, ocl_debug* dbg, device_mask& out);

// "" when the device can run this estimator for geo, else why not (proxy: always "").
std::string estimator_unsupported_reason(const pa::ocl::device_context& ctx, const geometry& geo);

} // namespace pa::proxy
