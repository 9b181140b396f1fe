// cpy.cpp - cpy/cont (kernels/cpy.cl): src converted into the node's own type and strides.
//   same type, both packed            -> clEnqueueCopyBuffer
//   block type to itself, same shape  -> k_cpy_blocks (rows may be strided)
//   plain destination (F32/F16/I32)   -> k_cpy_elem (block sources dequantize, same shape)
//   block destination from F32/F16/I32 -> k_cpy_quant (quantizes like the CPU reference)
// I32 converts to every other type (as a C cast to float, then on); nothing converts to I32
// (the constructor refuses it).
#include <fmt/format.h>

#include "op_table.h"

namespace pa::ocl {
namespace {

bool is_block_type(pa_type t) {
    return traits(t).quantized;
}

} // namespace

std::string cpy_options(const device_context& ctx) {
    // bit-exact quantization needs a correctly rounded 1/d (OpenCL allows 2.5 ulp by default)
    return ctx.caps().correct_div_sqrt ? "-cl-fp32-correctly-rounded-divide-sqrt" : "";
}

bool supports_cpy(const device_context&, const pa_tensor* d) {
    const pa_tensor* s = d->src[0];
    if (!s || nelements(s) != nelements(d) || !fits_int(s) || !fits_int(d)) return false;
    if (!type_is_valid(s->type) || !type_is_valid(d->type)) return false;
    const bool same = same_shape(s, d);
    if (!same && !(is_contiguous(s) && is_contiguous(d))) return false;
    if (s->type == d->type) return true;                               // bits, any layout
    if (d->type == PA_TYPE_I32) return false;                          // only i32 -> i32
    if (is_block_type(s->type)) return same && type_is_float(d->type); // dequantize
    if (is_block_type(d->type)) return d->ne[0] % 32 == 0 && d->nb[0] == traits(d->type).block_bytes;
    return true; // F32 <-> F16
}

void compute_cpy(device_context& ctx, pa_tensor* d) {
    const pa_tensor* s = d->src[0];
    const size_t wg = size_t(ctx.tune().cpy_wg);
    const mem_ref sm = ctx.mem(s), dm = ctx.mem(d);
    if (nelements(d) == 0) return;
    const bool same = same_shape(s, d);
    if (s->type == d->type && is_contiguous(s) && is_contiguous(d)) {
        if (sm.mem == dm.mem && sm.offs == dm.offs) return; // copy onto itself
        check(clEnqueueCopyBuffer(ctx.queue(), sm.mem, dm.mem, sm.offs, dm.offs, nbytes(s), 0, nullptr,
                                  nullptr),
              fmt::format("copying {} bytes on the device", nbytes(s)));
        return;
    }
    if (s->type == d->type && is_block_type(s->type)) { // same shape (supports_cpy)
        pa_tensor blocks = *d;
        blocks.ne[0] = d->ne[0] / 32;
        const int64_t n = nelements(&blocks);
        ctx.launch(ctx.get_kernel("cpy.cl", "k_cpy_blocks", cpy_options(ctx)),
                   range1(round_up(size_t(n), wg)), range1(wg), sm, shape_of(s).nb, dm, shape_of(&blocks),
                   int32_t(traits(s->type).block_bytes), n);
        return;
    }
    if (is_block_type(d->type)) {
        const int64_t n_blocks = nelements(d) / 32;
        const size_t qwg = size_t(ctx.tune().quantize_wg);
        ctx.launch(ctx.get_kernel("cpy.cl", "k_cpy_quant", cpy_options(ctx)),
                   range1(round_up(size_t(n_blocks), qwg)), range1(qwg), sm, shape_of(s), type_arg(s->type),
                   dm, shape_of(d), type_arg(d->type), int32_t(same), n_blocks);
        return;
    }
    const int64_t n = nelements(d);
    ctx.launch(ctx.get_kernel("cpy.cl", "k_cpy_elem", cpy_options(ctx)), range1(round_up(size_t(n), wg)),
               range1(wg), sm, shape_of(s), type_arg(s->type), dm, shape_of(d), type_arg(d->type),
               int32_t(same), n);
}

} // namespace pa::ocl
