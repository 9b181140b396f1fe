// estimator_util.cpp - see estimator_util.h.
#include "estimator_util.h"

#include "lowering.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace pa::proxy::est {
scratch temp(device_context& ctx, int64_t elems, size_t elem_bytes) {
    return ctx.temp(size_t(std::max<int64_t>(elems, 1)) * elem_bytes);
}

scratch zeros(device_context& ctx, int64_t elems, size_t elem_bytes) {
    scratch s = temp(ctx, elems, elem_bytes);
    const uint8_t zero = 0;
    pa::ocl::check(clEnqueueFillBuffer(ctx.queue(), s.mem(), &zero, 1, 0, s.size(), 0, nullptr, nullptr),
                   "proxy_sparse_attn: clearing a buffer");
    return s;
}

packed_upload::packed_upload(const device_context& ctx)
    : align_(std::max<size_t>(ctx.caps().mem_base_align, 8)) {}

int packed_upload::add_bytes(const void* p, size_t n) {
    const size_t at = (bytes_.size() + align_ - 1) / align_ * align_, size = std::max<size_t>(n, 4);
    bytes_.resize(at + size);
    if (n) std::memcpy(bytes_.data() + at, p, n);
    parts_at_.push_back({at, size});
    return int(parts_at_.size() - 1);
}

std::shared_ptr<const packed_upload::device_copy> packed_upload::make_copy(device_context& ctx) const {
    auto c = std::make_shared<device_copy>();
    c->buf = temp(ctx, int64_t(std::max<size_t>(bytes_.size(), 1)), 1);
    ctx.write(c->buf, bytes_.data(), bytes_.size());
    for (const cl_buffer_region& r : parts_at_) {
        cl_int err = CL_SUCCESS;
        c->parts.emplace_back(
            clCreateSubBuffer(c->buf.mem(), CL_MEM_READ_ONLY, CL_BUFFER_CREATE_TYPE_REGION, &r, &err));
        pa::ocl::check(err, "proxy_sparse_attn: a sub-buffer of the packed upload");
    }
    return c;
}

void packed_upload::send(device_context& ctx) {
    // the key: the bytes, then where the parts lie in them
    std::vector<std::byte> key(bytes_);
    const auto* at = reinterpret_cast<const std::byte*>(parts_at_.data());
    key.insert(key.end(), at, at + parts_at_.size() * sizeof(cl_buffer_region));
    copy_ =
        ctx.kept_upload<device_copy>("proxy_sparse_attn packed_upload", key, [&] { return make_copy(ctx); });
}

void packed_upload::send_keyed(device_context& ctx, std::string_view kind, std::span<const std::byte> key,
                               const std::function<void(packed_upload&)>& fill) {
    copy_ = ctx.kept_upload<device_copy>(kind, key, [&] {
        fill(*this);
        return make_copy(ctx);
    });
}

void read_bytes(device_context& ctx, const scratch& s, void* data, size_t bytes) {
    if (bytes)
        pa::ocl::check(
            clEnqueueReadBuffer(ctx.queue(), s.mem(), CL_TRUE, 0, bytes, data, 0, nullptr, nullptr),
            "proxy_sparse_attn: reading debug output");
}

int32_t sort_n(const geometry& geo) {
    int64_t p = 1;
    while (p < geo.n_kblocks)
        p <<= 1;
    return int32_t(p);
}

void rank_rows(device_context& ctx, cl_kernel k, const geometry& geo, const scratch& scores,
               const scratch& ranks, const scratch& budgets, const scratch& flags, int32_t flag_stride,
               int64_t k_max) {
    const int32_t sn = sort_n(geo);
    ctx.launch(k, pa::ocl::range2(size_t(wg_sort) * size_t(geo.n_rows), size_t(geo.H)),
               pa::ocl::range2(wg_sort, 1), scores.mem(), ranks.mem(), budgets.mem(), flags.mem(),
               flag_stride, int32_t(geo.row0), int32_t(geo.n_rows), int32_t(geo.force), geo.gamma,
               int32_t(geo.k_min), int32_t(k_max), sn, pa::ocl::local_mem{size_t(sn) * 4},
               pa::ocl::local_mem{size_t(sn) * 4}, pa::ocl::local_mem{4});
}

device_mask mask_buffers(device_context& ctx, const geometry& geo) {
    device_mask m;
    m.counts = temp(ctx, geo.H * geo.n_rows);
    m.blocks = temp(ctx, geo.H * geo.tri_total());
    return m;
}

void read_ranks(device_context& ctx, const geometry& geo, const scratch& ranks, const scratch& budgets,
                ocl_debug& dbg) {
    dbg.ranks = read<int32_t>(ctx, ranks, geo.H * geo.tri_total());
    dbg.budgets = read<int32_t>(ctx, budgets, geo.H * geo.n_rows);
}

void read_mask(device_context& ctx, const geometry& geo, const device_mask& mask, ocl_debug& dbg) {
    dbg.counts = read<int32_t>(ctx, mask.counts, geo.H * geo.n_rows);
    dbg.blocks = read<int32_t>(ctx, mask.blocks, geo.H * geo.tri_total());
}

int64_t stats_budget_bytes() {
    static const int64_t v = [] {
        const char* e = std::getenv("PA_PROXY_BM_BYTES");
        return e && *e ? std::max<int64_t>(1, std::atoll(e)) : int64_t(256) << 20;
    }();
    return v;
}

} // namespace pa::proxy::est
