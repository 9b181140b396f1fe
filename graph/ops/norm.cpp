// norm.cpp - rms_norm along ne0.
#include "builder.h"
#include "pa/ops.h"

namespace pa {
using namespace builder;

tensor* rms_norm(context& ctx, tensor* a, float eps) {
    require(eps >= 0.0f, "rms_norm", "eps must be >= 0");
    tensor* t = unary(ctx, a, PA_OP_RMS_NORM, "rms_norm");
    set_param_f(t, 0, eps);
    return t;
}

} // namespace pa
