// simd_dispatch.cpp - picks the kernel variant of simd.h for this CPU (see there).
#include <cstdlib>
#include <fmt/format.h>

#include "pa/error.h"
#include "simd.h"

#if defined(PA_CPU_X86_SIMD)
#include <cpuid.h>
#endif

namespace pa::cpu {
namespace {

#if defined(PA_CPU_X86_SIMD)
// F16C from CPUID (leaf 1, ECX bit 29): not every compiler's __builtin_cpu_supports knows it.
bool has_f16c() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

bool cpu_has(const std::string& name) {
#if defined(PA_CPU_X86_SIMD)
    __builtin_cpu_init();
    if (name == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    if (name == "avx512")
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma") && has_f16c();
#endif
    return name == "generic";
}

const simd_kernels* built(const std::string& name) {
    if (name == "generic") return &generic::kernels();
#if defined(PA_CPU_X86_SIMD)
    if (name == "avx2") return &avx2::kernels();
    if (name == "avx512") return &avx512::kernels();
#endif
    return nullptr;
}

const simd_kernels& choose() {
    const char* env = std::getenv("PA_CPU_SIMD");
    if (env && *env) {
        const simd_kernels* k = simd_variant(env);
        if (!k) throw error(fmt::format("PA_CPU_SIMD={}: not built or not supported by this CPU", env));
        return *k;
    }
    return *simd_variant(simd_variants().back());
}

} // namespace

const simd_kernels* simd_variant(const std::string& name) {
    return cpu_has(name) ? built(name) : nullptr;
}

std::vector<std::string> simd_variants() {
    std::vector<std::string> v;
    for (const char* n : {"generic", "avx2", "avx512"})
        if (simd_variant(n)) v.emplace_back(n);
    return v;
}

const simd_kernels& simd() {
    static const simd_kernels& k = choose();
    return k;
}

} // namespace pa::cpu
