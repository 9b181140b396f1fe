// blas.h - CLBlast wrapper: strided batched SGEMM, serialized process-wide (CLBlast keeps
// global caches and its calls are not documented as thread-safe), a warm-up that compiles
// CLBlast's kernels before timed work, and a report of the tuning parameters in use.
//
// Tuning: CLBlast looks its parameters up in its built-in database (device, then
// architecture, then vendor, then defaults). $PA_CLBLAST_PARAMS may name a file of lines
// "Xgemm KEY=VALUE KEY=VALUE ..." (e.g. from clblast_tuner_xgemm) that override them; the
// report says which source is in effect.
#pragma once

#include <string>

#include "ocl_api.h"

namespace pa::ocl {

void blas_sgemm(cl_command_queue queue, const gemm_desc& g); // throws pa::error
void blas_warmup(cl_context ctx, cl_command_queue queue);    // one tiny GEMM
// Applies $PA_CLBLAST_PARAMS (once per device) and describes the Xgemm parameters in effect.
std::string blas_describe(cl_device_id device);

} // namespace pa::ocl
