// x16_copy.cpp - the kept f16 copy of a product's activations (x16_copy.h).
#include "x16_copy.h"

#include "pa/tensor.h"

namespace pa::ocl {
namespace {

struct span {
    cl_mem mem;
    size_t lo, hi;
};

span bytes_of(const device_context& ctx, const pa_tensor* t) {
    const mem_ref m = ctx.mem(t);
    return {m.mem, m.offs, m.offs + nbytes(t)};
}

} // namespace

const x16_copy* x16_keeper::find(const device_context& ctx, const pa_tensor* b, size_t np, size_t kp) const {
    if (!kept_) return nullptr;
    const span s = bytes_of(ctx, b);
    const x16_copy& k = *kept_;
    if (k.mem != s.mem || k.lo != s.lo || k.hi != s.hi || k.np != np || k.kp != kp) return nullptr;
    for (size_t i = 0; i < 4; ++i)
        if (k.ne[i] != b->ne[i] || k.nb[i] != b->nb[i]) return nullptr;
    return &k;
}

void x16_keeper::keep(const device_context& ctx, const pa_tensor* b, size_t np, size_t kp, scratch x) {
    const span s = bytes_of(ctx, b);
    x16_copy k;
    k.mem = s.mem;
    k.lo = s.lo;
    k.hi = s.hi;
    for (size_t i = 0; i < 4; ++i) {
        k.ne[i] = b->ne[i];
        k.nb[i] = b->nb[i];
    }
    k.np = np;
    k.kp = kp;
    k.x = std::move(x);
    kept_ = std::move(k);
}

void x16_keeper::written(const device_context& ctx, const pa_tensor* d) {
    if (!kept_ || !(d->buffer || (d->view_src && d->view_src->buffer))) return;
    const span s = bytes_of(ctx, d);
    if (s.mem == kept_->mem && s.lo < kept_->hi && kept_->lo < s.hi) kept_.reset();
}

} // namespace pa::ocl
