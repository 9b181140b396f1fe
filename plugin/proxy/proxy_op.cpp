// proxy_op.cpp - the op descriptor and the OpenCL op_impl of proxy_sparse_attn.
#include "proxy_op.h"

#include "pa/proxy_attn.h"
#include "proxy_ocl.h"
#include "ref/proxy_ref.h"

namespace pa::proxy {

const pa_op_desc& op_desc() {
    static const pa_op_desc desc = {proxy_op_name, 3, 3, op_infer, op_cpu_compute};
    return desc;
}

pa::ocl::op_impl opencl_impl() {
    pa::ocl::op_impl impl;
    impl.supports = [](const pa::ocl::device_context& ctx, const pa_tensor* node) {
        return ocl_supports(ctx, node);
    };
    impl.compute = [](pa::ocl::device_context& ctx, pa_tensor* node) { ocl_compute(ctx, node); };
    return impl;
}

} // namespace pa::proxy
