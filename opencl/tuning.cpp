// tuning.cpp - the parameter table: vendor entries, device entries inside them, each naming
// only the values that differ from the level above. The values follow each vendor's local-memory
// and work-group limits, set by hand; measured sweeps are in bench/NOTES.md.
#include "tuning.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fmt/format.h>
#include <sstream>
#include <vector>

#include "pa/error.h"
#include "ptx_register_cap.h" // register_cap_option: NVIDIA's register cap, a build option

namespace pa::ocl {
namespace {

// (a key may stand on several lines, one a program: the same value for each)
constexpr tuning_field fields[] = {
    {"mm_tm", &tuning::mm_tm, "mul_mat.cl", "TM"},
    {"mm_tn", &tuning::mm_tn, "mul_mat.cl", "TN"},
    {"mm_tk", &tuning::mm_tk, "mul_mat.cl", "TK"},
    {"mm_wm", &tuning::mm_wm, "mul_mat.cl", "WM"},
    {"mm_wn", &tuning::mm_wn, "mul_mat.cl", "WN"},
    {"mv_wg", &tuning::mv_wg, "mul_mat.cl", "MV_WG"},
    {"mv_max_n", &tuning::mv_max_n, "mul_mat.cl", "MV_MAX_N"},
    {"blas_min_n", &tuning::blas_min_n, "", ""},
    {"dequant_chunk_mib", &tuning::dequant_chunk_mib, "", ""},
    {"mmq_wn", &tuning::mmq_wn, "mul_mat_mma.cl", "MMQ_WN"},
    {"mmq_wm", &tuning::mmq_wm, "mul_mat_mma.cl", "MMQ_WM"},
    {"mmq_stages", &tuning::mmq_stages, "mul_mat_mma.cl", "MMQ_STAGES"},
    {"mmq_f16_stages", &tuning::mmq_f16_stages, "", "", 0},
    {"mmq_wreg", &tuning::mmq_wreg, "", "", 0},
    {"mmq_rq_stages", &tuning::mmq_rq_stages, "", ""},
    {"mmq_rq_wn", &tuning::mmq_rq_wn, "", ""}, // the host's -DMMQ_WN / -DMMQ_WM, a product at a time
    {"mmq_rq_wm", &tuning::mmq_rq_wm, "", ""},
    {"mmq_rq_tile_types", &tuning::mmq_rq_tile_types, "", "", 0},
    {"mmq_rq_sync", &tuning::mmq_rq_sync, "", "", 0},
    {"mmq_min_n", &tuning::mmq_min_n, "", ""},
    {"mmq_f32_min_n", &tuning::mmq_f32_min_n, "", ""},
    {"mmq_x16_min_m", &tuning::mmq_x16_min_m, "", ""},
    {"mmq_chunk_mib", &tuning::mmq_chunk_mib, "", ""},
    {"mmq_keep_x16", &tuning::mmq_keep_x16, "", "", 0},
    {"mmq_cache_mib", &tuning::mmq_cache_mib, "", "", 0},
    {"ew_wg", &tuning::ew_wg, "elementwise.cl", "EW_WG"},
    {"norm_wg", &tuning::norm_wg, "norm.cl", "NORM_WG"},
    {"softmax_wg", &tuning::softmax_wg, "softmax.cl", "SOFTMAX_WG"},
    {"rope_wg", &tuning::rope_wg, "", ""},
    {"get_rows_wg", &tuning::get_rows_wg, "", ""},
    {"cpy_wg", &tuning::cpy_wg, "", ""},
    {"quantize_wg", &tuning::quantize_wg, "", ""},
    {"fa_threads", &tuning::fa_threads, "", ""},
    {"fat_variant", &tuning::fat_variant, "", "", 0},
    {"fat_unroll_s", &tuning::fat_unroll_s, "", "", 0},
    {"fat_unroll_pv", &tuning::fat_unroll_pv, "", "", 0},
    {"fat_maxrreg", &tuning::fat_maxrreg, "flash_attn_tiled.cl", register_cap_option, 0},
    {"fat_maxrreg", &tuning::fat_maxrreg, "flash_attn_tiled_q.cl", register_cap_option, 0},
    {"mvq_maxrreg", &tuning::mvq_maxrreg, "mul_mv_q.cl", register_cap_option, 0},
    {"mmq_maxrreg", &tuning::mmq_maxrreg, "mul_mat_mma.cl", register_cap_option, 0},
    {"mmq_maxrreg", &tuning::mmq_maxrreg, "mul_mat_mma_rq.cl", register_cap_option, 0},
    {"mma_maxrreg", &tuning::mma_maxrreg, "flash_attn_mma.cl", register_cap_option, 0},
    {"mma_maxrreg", &tuning::mma_maxrreg, "flash_attn_mma_sparse.cl", register_cap_option, 0},
    {"mvq_lanes", &tuning::mvq_lanes, "", ""},
    {"mvq_wg", &tuning::mvq_wg, "", ""},
    {"mvq_chunk", &tuning::mvq_chunk, "mul_mv_q.cl", "MVQ_CHUNK"},
    {"mvq_nib", &tuning::mvq_nib, "mul_mv_q.cl", "MVQ_NIB", 0},
    {"mvq_aligned", &tuning::mvq_aligned, "mul_mv_q.cl", "MVQ_ALIGNED", 0},
};

struct setting {
    std::string_view key;
    int value;
};
struct device_entry {
    std::string_view name; // a case-insensitive part of the device name, e.g. "H100"
    std::vector<setting> values;
};
struct vendor_entry {
    std::string_view vendor; // a vendor_of() name
    std::vector<setting> values;
    std::vector<device_entry> devices;
};

const std::vector<vendor_entry>& table() {
    static const std::vector<vendor_entry> t = {
        // CPU devices (PoCL): small work-groups, one thread per core does the work
        {"cpu",
         {{"mm_tm", 32},
          {"mm_tn", 32},
          {"norm_wg", 64},
          {"softmax_wg", 64},
          {"fa_threads", 64},
          {"fat_variant", 0}},
         {}},
        // decode products: 8 lanes a row, 16 rows a work-group (H200: Llama-3-8B-shaped tg128 185 -> 201
        // tokens/s against 64 threads; 4 or 16 lanes, 32 threads, 32-block chunks all slower).
        // Prefill GEMMs: 128 x 128 tiles (two work-groups a multiprocessor), three stages, b through
        // its f16 copy (H200, Llama-3-8B shapes at 32K, Q4_0: 246-256 -> 236-308 TFLOP/s; Q8_0
        // 203-223 -> 230-286; F16 197-223 -> 202-238; the 2 x 4 tile with either b path is slower).
        // F16 weights take two stages with b read as F32 instead (H200, same call, 8K / 32K / 128K:
        // k/v 184 / 207 / 216 -> 205 / 233 / 239, q/o 229 / 239 / 241 -> 236 / 241 / 249 TFLOP/s;
        // quantized weights lose 10-25% that way).
        // Portable attention: the Q-resident 32 x 64 tile with pipelined staging (variant 4; H200,
        // Llama-3-8B layer, 16K / 32K: 28.4 / 28.85 TFLOP/s against 25.0 / 25.5 for variant 1 and
        // 23.9 / 24.5 for variant 0; variants 2 and 3 21-22), launched KV group by KV group with
        // the heaviest tiles first and the lazy running max (variant 6: 28.97 / 29.13 against 28.21
        // / 28.72 in one call, SmolLM2's d = 64 28.2 against 25.6, block-sparse 32K -3%), with the
        // scale folded into Q and unmasked tiles not masked (variant 7: 29.8 / 29.9 against 6's
        // 29.0 / 29.1 in one call), held to 160 registers (three work-groups a multiprocessor;
        // uncapped 7 takes 165 and runs at 29.55 / 29.7; capped at 144 / 152 / 156 / 164 / 168,
        // 16K: 28.6 / 28.3 / 28.8 / 29.7 / 28.8; 176 lets it take two work-groups' worth: 26.6),
        // with O += P V's loop over keys unrolled fully and the cap at 168 (32.3 / 32.5 in one
        // call against 29.7 / 29.9; unrolled 8 / 16 times 31.8 / 32.1 at 168, fully at 164 / 166
        // / 172 / uncapped 31.6 / 31.5 / 28.2 / 28.0: bench/results/h200-2026-12-02-d)
        // Q4_0 and Q4_1 weights dequantized in registers (mul_mat_mma_rq.cl), three stages (H200,
        // 8K tokens, same calls, Q4_0: q/o 273-282 against 270-281 TFLOP/s, gate/up 303-310 against
        // 295-300, down 292-296 against 289-294, k/v -1%; 32K gate/up / down / k/v +2-3%, q/o -2%;
        // Q4_1 8K gate/up +2%, the others -1 to -3%; SmolLM2-shaped prefill 8K queued 26.0-26.3
        // against 26.9-27.3 ms, a random SmolLM2-shaped Q4_1 model pp8192 237-243K against 229K
        // tokens/s; four or five stages the same within the spread, two k-steps a barrier 8-10%
        // slower; bench/results/h200-2026-12-02-f). Their stages handed over by mbarriers instead
        // of a barrier a step (H200, Llama-3-8B shapes, same call, Q4_0 8K: q/o 281-298 against
        // 265, k/v 213-233 against 204, gate/up 316-322 against 302, down 312-316 against 297;
        // 32K +5-6%, Q4_1 +5-13%; bench/results/h200-2026-12-02-g, calls 3 and 4). With them Q8_0
        // in registers (mmq_wreg 2) measured faster than mul_mat_mma.cl too (8K: 283 / 230 / 289 /
        // 297 against 265 / 213 / 279 / 278): Q8_0 takes it too (mmq_wreg 2, since the fifteenth
        // session). That kernel's tile of 2 x 4 warps (128 tokens x 256 weight rows, one 256-item
        // work-group a multiprocessor) where mul_mat_mma.cl keeps 2 x 2: under sustained load the
        // card's power cap lowers the SM clock (1725-1800 MHz in a 32K layer's products), and the
        // larger tile, half the activation traffic a product, ran one Llama-3-8B layer's seven
        // products, Q4_0, at 326.9 / 315.7 TFLOP/s (8K / 32K) against 318.9 / 289.3 (4 x 2: 163-167;
        // bench/results/h200-2026-12-02-h, call 4), and at 331.4 / 323.8 / 317.7 at 8K / 32K / 128K
        // in call 5; for Q4_0 only: Q4_1 at 8K lost 6% with it (292.9 against 312.1), Q8_0 half
        // (three of its stages do not fit 48 KiB at that tile, two leave no copy ahead).
        // rms_norm with 64 items a row (H200, SmolLM2-shaped prefill, 576 floats a row: 15.8 / 20.5 us
        // against 21.4 / 27.1 with 128, alone / with its mul; 32: 15.1 / 18.4, 256: 32.3 / 41.0;
        // bench/results/h200-2026-12-02-e, call 3).
        {"nvidia",
         {{"mvq_lanes", 8},
          {"mvq_wg", 128},
          {"mmq_wn", 2},
          {"mmq_wm", 2},
          {"mmq_stages", 3},
          {"mmq_f16_stages", 2},
          {"mmq_wreg", 2},
          {"mmq_rq_stages", 3},
          {"mmq_rq_sync", 1},
          {"mmq_rq_wn", 2},
          {"mmq_rq_wm", 4},
          {"mmq_rq_tile_types", 1 << PA_TYPE_Q4_0},
          {"norm_wg", 64},
          {"fat_variant", 7},
          {"fat_unroll_pv", 32},
          {"fat_maxrreg", 168}},
         {}},
        // a smaller local-memory footprint per EU thread; the portable attention's variant 0, since
        // variant 7 keeps ~165 values a work-item (NVIDIA's count) where a thread's register file
        // holds 128 at SIMD8 (not measured on an Intel GPU)
        {"intel", {{"mm_tm", 32}, {"mm_tn", 32}, {"fat_variant", 0}}, {}},
        // Adreno, Mali
        {"mobile", {{"mm_tm", 32}, {"mm_tn", 32}, {"norm_wg", 64}, {"softmax_wg", 64}}, {}},
    };
    return t;
}

bool contains_ci(std::string_view hay, std::string_view needle) {
    auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
        return std::tolower(uint8_t(a)) == std::tolower(uint8_t(b));
    });
    return it != hay.end();
}

// The vendor entry a device belongs to ("" when none: the defaults).
std::string_view vendor_of(const device_caps& dev) {
    if (!dev.is_gpu) return "cpu";
    if (dev.nvidia || contains_ci(dev.vendor, "nvidia")) return "nvidia";
    if (contains_ci(dev.vendor, "intel")) return "intel";
    if (contains_ci(dev.vendor, "qualcomm") || contains_ci(dev.vendor, "arm")) return "mobile";
    return {};
}

const tuning_field* find_field(std::string_view key) {
    for (const tuning_field& f : fields)
        if (f.key == key) return &f;
    return nullptr;
}

void apply(tuning& t, const std::vector<setting>& values) {
    for (const setting& s : values) {
        const tuning_field* f = find_field(s.key);
        if (!f) throw error(fmt::format("OpenCL tuning table: unknown parameter '{}'", s.key));
        t.*(f->member) = s.value;
    }
}

// Every key of the table names a field (checked at every lookup, so a typo fails on any device).
void check_keys() {
    tuning scratch;
    for (const vendor_entry& v : table()) {
        apply(scratch, v.values);
        for (const device_entry& d : v.devices)
            apply(scratch, d.values);
    }
}

void apply_override(tuning& t, std::string_view spec) {
    std::istringstream in{std::string(spec)};
    std::string item;
    while (std::getline(in, item, ',')) {
        if (item.empty()) continue;
        const size_t eq = item.find('=');
        if (eq == std::string::npos)
            throw error(fmt::format("PA_OPENCL_TUNING: '{}' is not key=value", item));
        const tuning_field* f = find_field(std::string_view(item).substr(0, eq));
        const int value = std::atoi(item.c_str() + eq + 1);
        // atoi's 0 is also what a non-number gives: 0 counts only when written as "0"
        if (!f || value < f->min || (value == 0 && item.substr(eq + 1) != "0"))
            throw error(fmt::format("PA_OPENCL_TUNING: bad entry '{}'", item));
        t.*(f->member) = value;
    }
    t.source += " + PA_OPENCL_TUNING";
}

bool power_of_two(int v) {
    return v > 0 && (v & (v - 1)) == 0;
}

// A GEMM tile the mmq kernels build (mmq_common.cl): 1, 2 or 4 warps along tokens, 2 or 4 along rows.
bool mmq_warps_ok(int wn, int wm) {
    return power_of_two(wn) && wn <= 4 && (wm == 2 || wm == 4);
}

} // namespace

std::span<const tuning_field> tuning_fields() {
    return fields;
}

std::string tuning::defines(std::string_view program) const {
    std::string out;
    for (const tuning_field& f : fields) {
        if (f.program != program) continue;
        const int value = this->*(f.member);
        if (f.macro.starts_with('-')) { // a build option: only when set and the device takes it
            if (value > 0 && nv_options)
                out += fmt::format("{}{}={}", out.empty() ? "" : " ", f.macro, value);
            continue;
        }
        out += fmt::format("{}-D{}={}", out.empty() ? "" : " ", f.macro, value);
    }
    return out;
}

tuning tuning_for(const device_caps& dev) {
    tuning t;
    t.source = "default";
    t.nv_options = dev.has_extension("cl_nv_compiler_options");
    const std::string_view vendor = vendor_of(dev);
    check_keys();
    for (const vendor_entry& v : table()) {
        if (v.vendor != vendor) continue;
        apply(t, v.values);
        t.source = std::string(v.vendor);
        for (const device_entry& d : v.devices) {
            if (!contains_ci(dev.name, d.name)) continue;
            apply(t, d.values);
            t.source += fmt::format(" / {}", d.name);
            break;
        }
    }
    if (const char* env = std::getenv("PA_OPENCL_TUNING"); env && *env) apply_override(t, env);
    if (t.mm_tm % t.mm_wm || t.mm_tn % t.mm_wn || !power_of_two(t.norm_wg) || !power_of_two(t.softmax_wg) ||
        !power_of_two(t.mv_wg) || t.mv_max_n > 64 || !power_of_two(t.mvq_lanes) || !power_of_two(t.mvq_wg) ||
        t.mvq_wg < 2 * t.mvq_lanes || t.mvq_wg > 1024 || t.mvq_chunk % 2 || t.mvq_chunk < 2 ||
        t.mvq_chunk > 64 || t.mvq_nib < 0 || t.mvq_nib > 1 || t.mvq_aligned < 0 || t.mvq_aligned > 1 ||
        t.fat_variant < 0 || t.fat_variant >= fat_variants)
        throw error(
            fmt::format("OpenCL tuning: tiles must divide by the per-thread block, reduction sizes be "
                        "powers of two, fat_variant be 0 to {}",
                        fat_variants - 1));
    if (!mmq_warps_ok(t.mmq_wn, t.mmq_wm) || (t.mmq_stages != 2 && t.mmq_stages != 3) ||
        (t.mmq_wn + t.mmq_wm) * t.mmq_stages > 12 ||
        (t.mmq_f16_stages != 0 && t.mmq_f16_stages != 2 && t.mmq_f16_stages != 3) ||
        (t.mmq_wn + t.mmq_wm) * t.mmq_f16_stages > 12)
        throw error("OpenCL tuning: mmq_wn must be 1, 2 or 4, mmq_wm 2 or 4, mmq_stages 2 or 3 "
                    "(mmq_f16_stages 0, 2 or 3), (mmq_wn + mmq_wm) x mmq_stages <= 12");
    if (t.mmq_wreg > 2 || t.mmq_rq_stages < 2 || t.mmq_rq_stages > 5 || t.mmq_rq_sync > 1 ||
        !mmq_warps_ok(t.mmq_rq_wn, t.mmq_rq_wm) || t.mmq_rq_tile_types < 0)
        throw error("OpenCL tuning: mmq_wreg must be 0, 1 or 2, mmq_rq_stages 2 to 5, mmq_rq_sync 0 or 1, "
                    "mmq_rq_wn 1, 2 or 4, mmq_rq_wm 2 or 4");
    return t;
}

} // namespace pa::ocl
