// get_rows.cpp - rows of src0 (any type, dequantized) picked by the I32 ids in src1.
#include <vector>

#include <fmt/format.h>

#include "ops.h"
#include "pa/error.h"

namespace pa::cpu {

void op_get_rows(tensor* dst, int n_threads, const simd_kernels&) {
    const tensor* a = dst->src[0];
    const tensor* ids = dst->src[1];
    std::vector<float> row(size_t(a->ne[0]));
    for_each_row(dst, 1, 0.0, [&](int64_t i1, int64_t i2, int64_t i3) {
        int32_t id;
        std::memcpy(&id, elem_ptr(ids, i1, i2, i3, 0), 4);
        if (id < 0 || id >= a->ne[1])
            throw error(fmt::format("get_rows: row id {} out of range [0, {})", id, a->ne[1]));
        load_row(a, id, i2, i3, row.data());
        store_row(dst, i1, i2, i3, row.data());
    });
    (void)n_threads; // memory bound and cheap: one thread keeps one scratch row
}

} // namespace pa::cpu
