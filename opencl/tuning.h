// tuning.h - per-device kernel parameters, looked up vendor -> device -> default and passed to
// the kernels as -D macros (each .cl file has #ifndef defaults for them). The host reads the
// same values to size its launches. $PA_OPENCL_TUNING ("mm_tm=32,norm_wg=64") overrides
// entries for experiments; unknown keys are an error.
#pragma once

#include <string>
#include <string_view>

#include "device.h"

namespace pa::ocl {

struct tuning {
    // mul_mat.cl, k_mul_mat_tiled: TM x TN tile, TK k-step, WM x WN outputs per thread
    int mm_tm = 64, mm_tn = 64, mm_tk = 32, mm_wm = 4, mm_wn = 4;
    int mv_wg = 64;       // k_mul_mv threads per row
    int mv_max_n = 8;     // columns up to which mul_mat uses k_mul_mv
    int norm_wg = 128;    // norm.cl threads per row
    int softmax_wg = 128; // softmax.cl threads per row
    int ew_wg = 256;      // elementwise work-group size
    int fa_threads = 128; // flash_attn.cl work-group size (FA_BM * FA_TPQ)
    int blas_min_n = 16;  // F32 mul_mat goes to CLBlast from this many columns of b
    std::string source;   // which table entry matched (for reports)

    // -D flags of one program ("mul_mat.cl", ...); empty for programs without tuning macros.
    std::string defines(std::string_view program) const;
};

// The table entry for this device, with $PA_OPENCL_TUNING applied (throws pa::error on a bad
// override string).
tuning tuning_for(const device_caps& dev);

} // namespace pa::ocl
