// proxy_op.h - what the plugin entry registers for proxy_sparse_attn: the op descriptor (shape
// rule + CPU reference, plugin/proxy/ref) and its OpenCL implementation (proxy_ocl.h).
#pragma once

#include "ocl_api.h"
#include "pa/pa_plugin.h"

namespace pa::proxy {

const pa_op_desc& op_desc();
pa::ocl::op_impl opencl_impl();

} // namespace pa::proxy
