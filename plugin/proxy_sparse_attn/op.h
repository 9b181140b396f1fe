// op.h - how the plugin adds proxy_sparse_attn: the op descriptor (shape rule + CPU reference,
// ref/) goes into the host's registry, its OpenCL implementation (ocl/) into the backend's.
#pragma once

#include "pa/pa_plugin.h"

namespace pa::proxy {

const pa_op_desc& op_desc();

// Registers the op with the host and its OpenCL implementation; throws pa::error.
void register_op(const pa_host_api& host);

} // namespace pa::proxy
