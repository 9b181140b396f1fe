// flash_attn_decode.h - dense attention for a few queries (decoding) over a long cache
// (kernels/flash_attn_decode.cl): the keys split across work-groups, the query heads of a
// GQA group sharing each K and V row, the splits merged in the same launch by the last
// work-group to finish (one launch per call). Operands as in flash_attn.h. $PA_FA_DECODE=0
// turns it off (the other kernels of flash_attn.h then take decoding).
#pragma once

#include <cstdint>

#include "ocl_api.h"

namespace pa::ocl {

// Queries (q's N) up to which dense attention takes this kernel.
inline constexpr int64_t flash_attn_decode_max_n = 4;

// Whether flash_attn_decode runs these operands (shapes only: no storage needed).
bool flash_attn_decode_usable(const device_context& ctx, const operand& q, const operand& k,
                              const operand& v);
void flash_attn_decode(device_context& ctx, const operand& q, const operand& k, const operand& v,
                       const operand& o, int64_t n_past, bool causal, float scale);

} // namespace pa::ocl
