// get_rows.cpp - rows of a (any type, dequantized) picked by I32 ids (kernels/get_rows.cl).
// Ids are checked on the device: the kernel records the lowest row whose id is out of range and
// the record comes back with the queue's next finish (device_context::after_finish), so a bad
// id is the same pa::error as on the CPU reference (same message, PA_ERR_INVALID), raised when
// the graph's results are waited for, instead of a plausible wrong row.
#include <algorithm>
#include <array>
#include <climits>
#include <memory>

#include <fmt/format.h>

#include "op_table.h"

namespace pa::ocl {
namespace {

// The id of flat row r of d (rows i1 fastest; d's ne[1], ne[2] given), read from the device.
int32_t id_of_row(device_context& ctx, const mem_ref& ids, const std::array<uint64_t, 3>& ids_nb,
                  const std::array<int64_t, 2>& d_ne, int64_t r) {
    const int64_t i1 = r % d_ne[0], i2 = (r / d_ne[0]) % d_ne[1], i3 = r / (d_ne[0] * d_ne[1]);
    int32_t id = 0;
    check(clEnqueueReadBuffer(ctx.queue(), ids.mem, CL_TRUE,
                              ids.offs + i1 * ids_nb[0] + i2 * ids_nb[1] + i3 * ids_nb[2], sizeof id, &id, 0,
                              nullptr, nullptr),
          "reading a get_rows id");
    return id;
}

} // namespace

bool supports_get_rows(const device_context&, const pa_tensor* d) {
    const pa_tensor *a = d->src[0], *ids = d->src[1];
    if (d->type != PA_TYPE_F32 || !a || !ids || ids->type != PA_TYPE_I32 || !fits_int(d) || !fits_int(a))
        return false;
    return type_is_valid(a->type) && d->ne[0] == a->ne[0] && d->ne[1] == ids->ne[0] && d->ne[2] == a->ne[2] &&
           d->ne[3] == a->ne[3] && ids->ne[1] == a->ne[2] && ids->ne[2] == a->ne[3];
}

void compute_get_rows(device_context& ctx, pa_tensor* d) {
    const pa_tensor *a = d->src[0], *ids = d->src[1];
    const int64_t rows = nrows(d);
    if (rows == 0) return;
    const size_t wx = size_t(ctx.tune().get_rows_wg);
    scratch bad = ctx.temp(sizeof(cl_int));
    const cl_int none = INT_MAX;
    check(
        clEnqueueFillBuffer(ctx.queue(), bad.mem(), &none, sizeof none, 0, sizeof none, 0, nullptr, nullptr),
        "clearing the get_rows id check");
    // at least one work item per row, so that rows of zero elements check their ids too
    ctx.launch(ctx.get_kernel("get_rows.cl", "k_get_rows"),
               range2(round_up(std::max<size_t>(1, size_t(d->ne[0])), wx), size_t(rows)), range2(wx, 1),
               ctx.mem(a), shape_of(a), type_arg(a->type), ctx.mem(ids), shape_of(ids).nb, ctx.mem(d),
               shape_of(d), bad.mem());
    // the flag comes back with the queue's next finish (no wait here: a decoded token would
    // otherwise stop the host at its first node)
    auto bad_row = std::make_shared<cl_int>(none);
    check(clEnqueueReadBuffer(ctx.queue(), bad.mem(), CL_FALSE, 0, sizeof(cl_int), bad_row.get(), 0, nullptr,
                              nullptr),
          "reading the get_rows id check");
    const mem_ref ids_mem = ctx.mem(ids);
    check(clRetainMemObject(ids_mem.mem), "keeping the get_rows ids for the check");
    const mem_handle ids_kept(ids_mem.mem); // alive until the check has run
    const std::array<uint64_t, 3> ids_nb{ids->nb[0], ids->nb[1], ids->nb[2]};
    const std::array<int64_t, 2> d_ne{d->ne[1], d->ne[2]};
    const int64_t n_rows = a->ne[1];
    ctx.after_finish([&ctx, bad_row, flag = std::make_shared<scratch>(std::move(bad)), ids_kept, ids_mem,
                      ids_nb, d_ne, n_rows] {
        if (*bad_row == none) return;
        throw error(fmt::format("get_rows: row id {} out of range [0, {})",
                                id_of_row(ctx, ids_mem, ids_nb, d_ne, *bad_row), n_rows));
    });
}

} // namespace pa::ocl
