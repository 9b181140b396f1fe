// tuning.cpp - the per-device parameter table. Values are starting points, not measurements
// yet: the tuner (a later task) replaces them with measured ones and notes the measurement.
#include "tuning.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fmt/format.h>
#include <sstream>

namespace pa::ocl {
namespace {

bool contains_ci(std::string_view hay, std::string_view needle) {
    auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
        return std::tolower(uint8_t(a)) == std::tolower(uint8_t(b));
    });
    return it != hay.end();
}

void apply_override(tuning& t, std::string_view spec) {
    std::istringstream in{std::string(spec)};
    std::string item;
    while (std::getline(in, item, ',')) {
        if (item.empty()) continue;
        const size_t eq = item.find('=');
        if (eq == std::string::npos)
            throw error(fmt::format("PA_OPENCL_TUNING: '{}' is not key=value", item));
        const std::string key = item.substr(0, eq);
        const int value = std::atoi(item.c_str() + eq + 1);
        int* field = key == "mm_tm"        ? &t.mm_tm
                     : key == "mm_tn"      ? &t.mm_tn
                     : key == "mm_tk"      ? &t.mm_tk
                     : key == "mm_wm"      ? &t.mm_wm
                     : key == "mm_wn"      ? &t.mm_wn
                     : key == "mv_wg"      ? &t.mv_wg
                     : key == "mv_max_n"   ? &t.mv_max_n
                     : key == "norm_wg"    ? &t.norm_wg
                     : key == "softmax_wg" ? &t.softmax_wg
                     : key == "ew_wg"      ? &t.ew_wg
                     : key == "fa_threads" ? &t.fa_threads
                     : key == "blas_min_n" ? &t.blas_min_n
                                           : nullptr;
        if (!field || value <= 0) throw error(fmt::format("PA_OPENCL_TUNING: bad entry '{}'", item));
        *field = value;
    }
    t.source += " + PA_OPENCL_TUNING";
}

} // namespace

std::string tuning::defines(std::string_view program) const {
    if (program == "mul_mat.cl")
        return fmt::format("-DTM={} -DTN={} -DTK={} -DWM={} -DWN={} -DMV_WG={} -DMV_MAX_N={}", mm_tm, mm_tn,
                           mm_tk, mm_wm, mm_wn, mv_wg, mv_max_n);
    if (program == "norm.cl") return fmt::format("-DNORM_WG={}", norm_wg);
    if (program == "softmax.cl") return fmt::format("-DSOFTMAX_WG={}", softmax_wg);
    if (program == "elementwise.cl") return fmt::format("-DEW_WG={}", ew_wg);
    return {};
}

tuning tuning_for(const device_caps& dev) {
    tuning t;
    t.source = "default";
    if (!dev.is_gpu) { // CPU devices (PoCL): small work-groups, one thread per core does the work
        t.mm_tm = t.mm_tn = 32;
        t.norm_wg = t.softmax_wg = 64;
        t.fa_threads = 64;
        t.source = "cpu";
    } else if (dev.nvidia || contains_ci(dev.vendor, "nvidia")) {
        t.source = "nvidia";
    } else if (contains_ci(dev.vendor, "intel")) {
        t.mm_tm = t.mm_tn = 32; // smaller local memory footprint per EU thread
        t.source = "intel";
    } else if (contains_ci(dev.vendor, "qualcomm") || contains_ci(dev.vendor, "arm")) {
        t.mm_tm = t.mm_tn = 32;
        t.norm_wg = t.softmax_wg = 64;
        t.source = "mobile";
    }
    if (const char* env = std::getenv("PA_OPENCL_TUNING"); env && *env) apply_override(t, env);
    if (t.mm_tm % t.mm_wm || t.mm_tn % t.mm_wn || (t.norm_wg & (t.norm_wg - 1)) ||
        (t.softmax_wg & (t.softmax_wg - 1)) || (t.mv_wg & (t.mv_wg - 1)) || t.mv_max_n > 64)
        throw error(
            "OpenCL tuning: tiles must divide by the per-thread block, reduction sizes be powers of two");
    return t;
}

} // namespace pa::ocl
