// test_opencl_tuning.cpp - the kernel parameter table (opencl/tuning.cpp): the vendor level over
// the defaults, the -D flags each program gets, and $PA_OPENCL_TUNING overrides and their errors.
// No device needed: the lookup reads a capability record.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "env_guard.h"
#include "flash_attn_mma.h"
#include "pa/error.h"
#include "tuning.h"

namespace {

using namespace pa::ocl;

device_caps gpu(const char* vendor) {
    device_caps c;
    c.is_gpu = true;
    c.vendor = vendor;
    c.name = "test device";
    return c;
}

// Sets $PA_OPENCL_TUNING for one scope (unset before and after).
struct tuning_env {
    explicit tuning_env(const char* value) { ::setenv("PA_OPENCL_TUNING", value, 1); }
    ~tuning_env() { ::unsetenv("PA_OPENCL_TUNING"); }
};

TEST(OpenclTuning, VendorEntriesOverTheDefaults) {
    ::unsetenv("PA_OPENCL_TUNING");
    device_caps cpu;
    cpu.is_gpu = false;
    const tuning c = tuning_for(cpu);
    EXPECT_EQ(c.source, "cpu");
    EXPECT_EQ(c.mm_tm, 32);
    EXPECT_EQ(c.norm_wg, 64);
    EXPECT_EQ(c.fa_threads, 64);
    EXPECT_EQ(c.ew_wg, 256) << "what the cpu entry does not name keeps its default";
    EXPECT_EQ(c.fat_variant, 0) << "CPU devices: the portable kernel that compiles fastest";

    const tuning intel = tuning_for(gpu("Intel(R) Corporation"));
    EXPECT_EQ(intel.source, "intel");
    EXPECT_EQ(intel.mm_tn, 32);
    EXPECT_EQ(intel.norm_wg, 128);
    EXPECT_EQ(intel.fat_variant, 0) << "Intel: the portable kernel with fewer registers";

    const tuning other = tuning_for(gpu("Some Vendor Inc."));
    EXPECT_EQ(other.source, "default");
    EXPECT_EQ(other.mm_tm, 64);
    EXPECT_EQ(other.fat_variant, 7) << "GPUs: the Q-resident portable kernel";
    const tuning nv = tuning_for(gpu("NVIDIA Corporation"));
    EXPECT_EQ(nv.source, "nvidia");
    EXPECT_EQ(nv.norm_wg, 64) << "NVIDIA: rms_norm rows of a small model's width";
    EXPECT_EQ(other.norm_wg, 128);
}

TEST(OpenclTuning, EachProgramGetsItsFieldsAsDefines) {
    ::unsetenv("PA_OPENCL_TUNING");
    const tuning t = tuning_for(gpu("Some Vendor Inc."));
    EXPECT_EQ(t.defines("mul_mat.cl"), "-DTM=64 -DTN=64 -DTK=32 -DWM=4 -DWN=4 -DMV_WG=64 -DMV_MAX_N=8");
    EXPECT_EQ(t.defines("norm.cl"), "-DNORM_WG=128");
    EXPECT_EQ(t.defines("rope.cl"), "") << "rope's work-group size is read by the host only";
    for (const tuning_field& f : tuning_fields())
        EXPECT_EQ(f.program.empty(), f.macro.empty()) << f.key;
}

// A register cap reaches its programs as NVIDIA's build option, and only where the device takes
// NVIDIA's options and the cap is set (the program cache writes it into the PTX).
TEST(OpenclTuning, RegisterCapsAreBuildOptionsOnNvidiaOnly) {
    device_caps nv = gpu("NVIDIA Corporation");
    nv.extensions = "cl_khr_global_int32_base_atomics cl_nv_compiler_options cl_nv_device_attribute_query";
    {
        tuning_env env("mvq_maxrreg=96,mma_maxrreg=168,fat_maxrreg=128");
        const tuning t = tuning_for(nv);
        EXPECT_NE(t.defines("flash_attn_tiled.cl").find("-cl-nv-maxrregcount=128"), std::string::npos);
        EXPECT_NE(t.defines("flash_attn_tiled_q.cl").find("-cl-nv-maxrregcount=128"), std::string::npos);
        EXPECT_NE(t.defines("mul_mv_q.cl").find("-cl-nv-maxrregcount=96"), std::string::npos);
        EXPECT_NE(t.defines("flash_attn_mma.cl").find("-cl-nv-maxrregcount=168"), std::string::npos);
        EXPECT_NE(t.defines("flash_attn_mma_sparse.cl").find("-cl-nv-maxrregcount=168"), std::string::npos);
        EXPECT_EQ(t.defines("mul_mat_mma.cl").find("maxrregcount"), std::string::npos) << "not set";
        EXPECT_EQ(tuning_for(gpu("Some Vendor Inc.")).defines("mul_mv_q.cl").find("maxrregcount"),
                  std::string::npos)
            << "a device without NVIDIA's options";
    }
    EXPECT_EQ(tuning_for(nv).defines("mul_mv_q.cl").find("maxrregcount"), std::string::npos)
        << "off by default";
    EXPECT_NE(tuning_for(nv).defines("flash_attn_tiled_q.cl").find("-cl-nv-maxrregcount=168"),
              std::string::npos)
        << "the portable attention's entry: three work-groups a multiprocessor";
}

TEST(OpenclTuning, EnvironmentOverridesAndItsErrors) {
    {
        tuning_env env("mm_tm=32,norm_wg=256");
        const tuning t = tuning_for(gpu("NVIDIA Corporation"));
        EXPECT_EQ(t.mm_tm, 32);
        EXPECT_EQ(t.norm_wg, 256);
        EXPECT_EQ(t.source, "nvidia + PA_OPENCL_TUNING");
    }
    {
        tuning_env env("no_such_key=4");
        EXPECT_THROW(tuning_for(gpu("NVIDIA Corporation")), pa::error);
    }
    {
        tuning_env env("mm_tm");
        EXPECT_THROW(tuning_for(gpu("NVIDIA Corporation")), pa::error);
    }
    {
        tuning_env env("norm_wg=48"); // reductions need a power of two
        EXPECT_THROW(tuning_for(gpu("NVIDIA Corporation")), pa::error);
    }
    EXPECT_EQ(tuning_for(gpu("NVIDIA Corporation")).fat_variant, 7);    // the portable attention kernel
    EXPECT_EQ(tuning_for(gpu("NVIDIA Corporation")).fat_unroll_pv, 32); // its P V loop unrolled
    EXPECT_EQ(tuning_for(gpu("Some Vendor Inc.")).fat_unroll_pv, 0);    // the compiler's choice
    {
        tuning_env env("fat_variant=0"); // 0 to fat_variants - 1
        EXPECT_EQ(tuning_for(gpu("NVIDIA Corporation")).fat_variant, 0);
    }
    {
        const std::string past_last = "fat_variant=" + std::to_string(pa::ocl::fat_variants);
        tuning_env env(past_last.c_str());
        EXPECT_THROW(tuning_for(gpu("NVIDIA Corporation")), pa::error);
    }
}

// The tensor-core GEMM's tile and stages share 48 KiB of local memory: NVIDIA's entry takes the
// 2 x 2 tile with three stages, a bigger tile with three stages is refused with a message that
// says why, and the kept repack's size may be 0 (off) where every other size must be positive.
TEST(OpenclTuning, GemmStagesFitLocalMemoryAndTheRepackCacheMayBeOff) {
    ::unsetenv("PA_OPENCL_TUNING");
    const tuning nv = tuning_for(gpu("NVIDIA Corporation"));
    EXPECT_EQ(nv.mmq_wn * 10 + nv.mmq_wm, 22);
    EXPECT_EQ(nv.mmq_stages, 3);
    EXPECT_EQ(tuning_for(gpu("Some Vendor Inc.")).mmq_stages, 2);
    EXPECT_EQ(nv.defines("mul_mat_mma.cl"), "-DMMQ_WN=2 -DMMQ_WM=2 -DMMQ_STAGES=3");
    EXPECT_EQ(nv.mmq_f16_stages, 2) << "F16 weights: two stages, b read as F32";
    EXPECT_EQ(tuning_for(gpu("Some Vendor Inc.")).mmq_f16_stages, 0) << "elsewhere as mmq_stages";
    {
        tuning_env env("mmq_f16_stages=1");
        EXPECT_THROW(tuning_for(gpu("NVIDIA Corporation")), pa::error);
    }
    {
        tuning_env env("mmq_wm=4,mmq_stages=2,mmq_f16_stages=3"); // 3 x 24 KiB do not fit
        EXPECT_THROW(tuning_for(gpu("NVIDIA Corporation")), pa::error);
    }
    {
        tuning_env env("mmq_wm=4"); // 2 x 4 warps: three stages of 24 KiB do not fit
        try {
            tuning_for(gpu("NVIDIA Corporation"));
            ADD_FAILURE() << "a 2 x 4 tile with three stages was accepted";
        } catch (const pa::error& e) {
            EXPECT_NE(std::string(e.what()).find("mmq_stages"), std::string::npos) << e.what();
        }
    }
    {
        tuning_env env("mmq_wm=4,mmq_stages=2");
        EXPECT_EQ(tuning_for(gpu("NVIDIA Corporation")).mmq_stages, 2);
    }
    {
        tuning_env env("mmq_cache_mib=0");
        EXPECT_EQ(tuning_for(gpu("NVIDIA Corporation")).mmq_cache_mib, 0);
    }
    {
        tuning_env env("mmq_chunk_mib=0");
        EXPECT_THROW(tuning_for(gpu("NVIDIA Corporation")), pa::error);
    }
}

// The GEMM of weights dequantized in registers (mul_mat_mma_rq.cl): on for Q4_0 / Q4_1 in NVIDIA's
// entry with three stages, off elsewhere; 0, 1 (Q4) or 2 (Q8_0 too), 2 to 5 stages; the tile's
// shape passed to its program as to mul_mat_mma.cl's, the stages not (the host passes them, fewer
// where a weight type's stages would not fit).
TEST(OpenclTuning, RegisterDequantizedGemmKeys) {
    ::unsetenv("PA_OPENCL_TUNING");
    EXPECT_EQ(tuning_for(gpu("Some Vendor Inc.")).mmq_wreg, 0);
    EXPECT_EQ(tuning_for(gpu("Some Vendor Inc.")).mmq_rq_sync, 0);
    EXPECT_EQ(tuning_for(gpu("NVIDIA Corporation")).mmq_wreg * 100 +
                  tuning_for(gpu("NVIDIA Corporation")).mmq_rq_stages * 10 +
                  tuning_for(gpu("NVIDIA Corporation")).mmq_rq_sync,
              231);
    // the stages' hand-over and the tile are the host's choice a product at a time (-DRQ_MBAR with the
    // device's capability; -DMMQ_WN / -DMMQ_WM by weight type and rows), not the table's defines
    EXPECT_EQ(tuning_for(gpu("NVIDIA Corporation")).defines("mul_mat_mma_rq.cl"), "");
    EXPECT_EQ(tuning_for(gpu("NVIDIA Corporation")).mmq_rq_tile_types, 1 << PA_TYPE_Q4_0);
    EXPECT_EQ(tuning_for(gpu("Some Vendor Inc.")).mmq_rq_tile_types,
              (1 << PA_TYPE_Q4_0) | (1 << PA_TYPE_Q4_1) | (1 << PA_TYPE_Q8_0));
    for (const char* bad : {"mmq_wreg=3", "mmq_rq_stages=1", "mmq_rq_stages=6", "mmq_rq_sync=2",
                            "mmq_rq_wn=3", "mmq_rq_wm=1"}) {
        tuning_env env(bad);
        try {
            tuning_for(gpu("NVIDIA Corporation"));
            ADD_FAILURE() << bad << " was accepted";
        } catch (const pa::error& e) {
            EXPECT_NE(std::string(e.what()).find(std::string(bad).substr(0, std::string(bad).find('='))),
                      std::string::npos)
                << e.what();
        }
    }
    tuning_env env("mmq_wreg=2,mmq_rq_stages=4,mmq_rq_sync=0");
    const tuning t = tuning_for(gpu("NVIDIA Corporation"));
    EXPECT_EQ(t.mmq_wreg * 100 + t.mmq_rq_stages * 10 + t.mmq_rq_sync, 240);
}

// The decode products' A/B keys: on by default, passed to mul_mv_q.cl only, 0 or 1.
TEST(OpenclTuning, DecodeLoopKeysAreSwitches) {
    ::unsetenv("PA_OPENCL_TUNING");
    const tuning t = tuning_for(gpu("NVIDIA Corporation"));
    EXPECT_EQ(t.mvq_nib, 1);
    EXPECT_EQ(t.mvq_aligned, 1);
    EXPECT_NE(t.defines("mul_mv_q.cl").find("-DMVQ_NIB=1 -DMVQ_ALIGNED=1"), std::string::npos)
        << t.defines("mul_mv_q.cl");
    EXPECT_EQ(t.defines("mul_mat.cl").find("MVQ_"), std::string::npos);
    {
        tuning_env env("mvq_nib=0,mvq_aligned=0");
        const tuning off = tuning_for(gpu("NVIDIA Corporation"));
        EXPECT_NE(off.defines("mul_mv_q.cl").find("-DMVQ_NIB=0 -DMVQ_ALIGNED=0"), std::string::npos);
    }
    for (const char* bad : {"mvq_nib=2", "mvq_aligned=-1"}) {
        tuning_env env(bad);
        EXPECT_THROW(tuning_for(gpu("NVIDIA Corporation")), pa::error) << bad;
    }
}

// $PA_MMA's variant strings (read on NVIDIA devices; parsed the same anywhere): the block-sparse
// kernel's folded scale is on unless a trailing F0 says otherwise, and anything else is refused
// with the expected forms in the message.
TEST(OpenclTuning, MmaVariantStrings) {
    const device_caps nv = gpu("NVIDIA Corporation");
    {
        pa::test::env_guard e("PA_MMA", "W4B32A1M2");
        const mma_config c = mma_config_for(nv, 128);
        EXPECT_EQ(c.warps, 4);
        EXPECT_EQ(c.bn, 32);
        EXPECT_EQ(c.async, 1);
        EXPECT_EQ(c.mt, 2);
        EXPECT_EQ(c.fold, 1);
    }
    {
        pa::test::env_guard e("PA_MMA", "W4B32A1M2F0");
        EXPECT_EQ(mma_config_for(nv, 128).fold, 0);
    }
    for (const char* bad : {"W4B32A1M2F2", "W3B32", "fast"}) {
        pa::test::env_guard e("PA_MMA", bad);
        try {
            mma_config_for(nv, 128);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const pa::error& err) {
            EXPECT_NE(std::string(err.what()).find("F<0|1>"), std::string::npos) << err.what();
        }
    }
}

} // namespace
