// flash_attn_decode.cpp - see flash_attn_decode.h. The split count aims at two work-groups per
// compute unit (a decode token alone has only Hkv of them, 3 for SmolLM2, 8 for Llama-3-8B)
// while every split keeps at least one tile of keys. With several splits the kernel merges them
// itself (the last work-group of each query and kv head, counted in ctx.counters), so decode
// attention is one launch either way.
#include "flash_attn_decode.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "launch.h"
#include "op_table.h"

namespace pa::ocl {
namespace {

constexpr int64_t max_outputs_per_thread = 16;

bool enabled() {
    static const bool on = [] {
        const char* e = std::getenv("PA_FA_DECODE");
        return !(e && std::string_view(e) == "0");
    }();
    return on;
}

// $PA_FA_DECODE_SPLITS: the split count to use instead of the device's (still at most one split
// per tile of keys), for tests; read at every call so a test can set it for a few cases.
int64_t forced_splits() {
    const char* e = std::getenv("PA_FA_DECODE_SPLITS");
    return e ? std::strtoll(e, nullptr, 10) : 0;
}

// threads per work-group (= keys per tile) for group size g and head dim d
int64_t work_group(int64_t g, int64_t d) {
    return g * d > 64 * 8 ? 128 : 64;
}

// Whether K's rows can be read as 16-byte words (FD_K_VEC): contiguous along the head dim, whole
// words a row, every row at 16-byte alignment.
bool k_rows_vectorizable(const operand& k) {
    const uint64_t elem = k.type == PA_TYPE_F16 ? 2 : 4;
    const uint64_t d = uint64_t(k.shape.ne.s[0]);
    return k.shape.nb.s[0] == elem && (d * elem) % 16 == 0 && k.shape.nb.s[1] % 16 == 0 &&
           k.shape.nb.s[2] % 16 == 0 && k.shape.nb.s[3] % 16 == 0 && k.mem.offs % 16 == 0;
}

} // namespace

bool flash_attn_decode_usable(const device_context& ctx, const operand& q, const operand& k,
                              const operand& v) {
    const int64_t d = q.shape.ne.s[0], N = q.shape.ne.s[1], H = q.shape.ne.s[2], Hkv = k.shape.ne.s[2];
    if (!enabled() || N > flash_attn_decode_max_n || Hkv <= 0 || H % Hkv) return false;
    const int64_t g = H / Hkv, wg = work_group(g, d);
    const uint64_t local_bytes = uint64_t(4 * (g * d + g * wg + 3 * g));
    return (g * d + wg - 1) / wg <= max_outputs_per_thread && local_bytes + 256 <= ctx.caps().local_mem &&
           type_is_float(k.type) && type_is_float(v.type);
}

void flash_attn_decode(device_context& ctx, const operand& q, const operand& k, const operand& v,
                       const operand& o, int64_t n_past, bool causal, float scale) {
    const int64_t d = q.shape.ne.s[0], N = q.shape.ne.s[1], H = q.shape.ne.s[2], Nkv = k.shape.ne.s[1],
                  Hkv = k.shape.ne.s[2];
    const int64_t g = H / Hkv, wg = work_group(g, d);
    const int64_t keys = causal ? std::min(Nkv, n_past + N) : Nkv; // the most any query sees
    const int64_t target = 2 * std::max<int64_t>(1, ctx.caps().compute_units);
    const int64_t forced = forced_splits();
    const int64_t wanted = forced > 0 ? forced : (target + Hkv * N - 1) / (Hkv * N);
    int64_t splits = std::clamp<int64_t>(wanted, 1, (keys + wg - 1) / wg);
    const int64_t per_split = (keys + splits - 1) / splits;
    splits = (keys + per_split - 1) / per_split;
    const cl_kernel kernel = ctx.get_kernel("flash_attn_decode.cl", "k_fa_decode",
                                            {{"FD_D", d},
                                             {"FD_G", g},
                                             {"FD_WG", wg},
                                             {"FD_K_F16", k.type == PA_TYPE_F16},
                                             {"FD_V_F16", v.type == PA_TYPE_F16},
                                             {"FD_K_VEC", k_rows_vectorizable(k)}});
    const uint64_t part_floats = splits > 1 ? uint64_t(N * H * splits * d) : 0; // then (m, l) pairs
    scratch part = ctx.temp(splits > 1 ? size_t(part_floats + uint64_t(N * H * splits * 2)) * 4 : 4);
    const cl_mem counters = splits > 1 ? ctx.counters(size_t(Hkv * N)) : part.mem();
    ctx.launch(kernel, range3(size_t(splits * wg), size_t(Hkv), size_t(N)), range3(size_t(wg), 1, 1),
               q.mem.mem, k.mem.mem, v.mem.mem, o.mem.mem, part.mem(), counters,
               arg_pack(uint64_t(q.mem.offs), q.shape, uint64_t(k.mem.offs), k.shape, uint64_t(v.mem.offs),
                        v.shape, uint64_t(o.mem.offs), o.shape, scale, int32_t(n_past), int32_t(causal),
                        int32_t(per_split), int32_t(splits), part_floats));
}

} // namespace pa::ocl
