// program_text.h - the OpenCL programs of the estimators, assembled from the embedded
// kernels/*.cl (and opencl/kernels/mma_ptx.cl): the shared files in front, then the program's
// own file from line 1 (compiler messages point into it).
#pragma once

#include <initializer_list>
#include <string_view>

#include "ocl_api.h"

namespace pa::proxy {

// The files of `front` in order, then `file`; named after `file`.
pa::ocl::program_source program_text(std::initializer_list<std::string_view> front, std::string_view file);

// The same, assembled and hashed once per process (the texts are embedded constants) and kept:
// what the lowerings launch from. A node's estimate makes ~17 launches; assembling and hashing
// ~50 KB of text for each cost ~10 us of host time a launch on the H200's host.
const pa::ocl::program_source& shared_program_text(std::initializer_list<std::string_view> front,
                                                   std::string_view file);

// proxy_det.cl (deterministic math) and proxy_common.cl (K loads, row layout, sort) in front of
// proxy_estimate.cl or proxy_sort.cl (shared).
const pa::ocl::program_source& proxy_program(std::string_view file);

// proxy_det.cl, proxy_common.cl and estimator_common.cl in front of xattn.cl or flex.cl (shared).
const pa::ocl::program_source& estimator_program(std::string_view file);

} // namespace pa::proxy
