// op.cpp - the op descriptor and the OpenCL op_impl of proxy_sparse_attn.
#include "op.h"

#include <fmt/format.h>

#include "ocl/lowering.h"
#include "ocl_api.h"
#include "pa/error.h"
#include "pa/proxy_sparse_attn.h"
#include "ref/reference.h"

namespace pa::proxy {

const pa_op_desc& op_desc() {
    static const pa_op_desc desc = {proxy_op_name, 3, 3, op_infer, op_cpu_compute};
    return desc;
}

void register_op(const pa_host_api& host) {
    char err[256] = {0};
    const int32_t id = host.register_op(&op_desc(), err, sizeof err);
    if (id < 0) throw error(fmt::format("registering {}: {}", proxy_op_name, err), PA_ERR_INVALID);
    pa::ocl::op_impl impl;
    impl.supports = [](const pa::ocl::device_context& ctx, const pa_tensor* node) {
        return ocl_supports(ctx, node);
    };
    impl.compute = [](pa::ocl::device_context& ctx, pa_tensor* node) { ocl_compute(ctx, node); };
    pa::ocl::register_op_impl(id, std::move(impl));
}

} // namespace pa::proxy
