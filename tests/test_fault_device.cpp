// test_fault_device.cpp - device faults seen through the whole stack (plugin ABI, backend,
// scheduler), not one layer at a time:
//   - device memory runs out at every point of a graph (max_alloc_bytes swept from far too
//     small to enough): each compute either gives the CPU reference's answer or a pa::error
//     with PA_ERR_OUT_OF_MEMORY that says so; never a crash, a hang or a wrong answer, and the
//     backend works again once memory is there;
//   - every kernel-cache entry on disk truncated, garbled or emptied between two runs: the next
//     backend rebuilds them and computes the same result.
// Layer tests: test_opencl_buffers.cpp (the cap itself), test_opencl_program_cache.cpp (entry
// validation, build log), test_fault_program_cache.cpp (contention).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>

#include <fmt/format.h>

#include "env_guard.h"
#include "pa/error.h"
#include "pa/ops.h"
#include "pa/plugin_loader.h"
#include "pa/proxy_sparse_attn.h"
#include "pa/scheduler.h"

namespace {

namespace fs = std::filesystem;

std::shared_ptr<pa::plugin> plugin() {
    static std::shared_ptr<pa::plugin> p = pa::plugin::load(PA_PLUGIN_PATH);
    return p;
}

#define REQUIRE_DEVICE()                                                                                     \
    do {                                                                                                     \
        if (plugin()->device_count() == 0) GTEST_SKIP() << "no OpenCL device";                               \
    } while (0)

// mul_mat (CLBlast) -> rms_norm -> reshape/permute -> dense and proxy attention (F16 K/V),
// outputs of both attentions: most kernel families and scratch memory in one graph.
struct problem {
    pa::context ctx;
    pa::tensor *dense = nullptr, *proxy = nullptr;
    explicit problem(uint32_t seed) {
        const int64_t d = 64, n = 96, h = 4, hkv = 2;
        std::mt19937 rng(seed);
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        pa::tensor* w = ctx.new_tensor(PA_TYPE_F32, {d, d * h});
        pa::tensor* x = ctx.new_tensor(PA_TYPE_F32, {d, n});
        pa::tensor* k = ctx.new_tensor(PA_TYPE_F16, {d, n, hkv});
        pa::tensor* v = ctx.new_tensor(PA_TYPE_F16, {d, n, hkv});
        for (pa::tensor* t : {w, x}) {
            auto* p = static_cast<float*>(t->data);
            for (int64_t i = 0; i < pa::nelements(t); ++i)
                p[i] = u(rng);
        }
        for (pa::tensor* t : {k, v}) {
            auto* p = static_cast<uint16_t*>(t->data);
            for (int64_t i = 0; i < pa::nelements(t); ++i)
                p[i] = pa::fp32_to_fp16(u(rng));
        }
        pa::tensor* q = pa::rms_norm(ctx, pa::mul_mat(ctx, w, x), 1e-5f);
        q = pa::cont(ctx, pa::permute(ctx, pa::reshape(ctx, q, {d, h, n}), 0, 2, 1, 3)); // [d, n, h]
        dense = pa::flash_attn_ext(ctx, q, k, v, 0.125f, 0, true);
        pa::proxy_params p;
        p.block = 16;
        p.stride = 4;
        p.min_tokens = 0;
        p.gamma = 0.9f;
        proxy = pa::proxy_sparse_attn(ctx, q, k, v, p);
    }
};

std::vector<float> values(const pa::tensor* t) {
    const auto* p = static_cast<const float*>(t->data);
    return {p, p + pa::nelements(t)};
}

double nmse(const std::vector<float>& a, const std::vector<float>& b) {
    double err = 0, norm = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        err += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        norm += double(b[i]) * b[i];
    }
    return norm > 0 ? err / norm : err;
}

struct results {
    std::vector<float> dense, proxy;
};

results compute(pa::backend* accel, pa::backend* cpu, problem& pr) {
    std::vector<pa::backend*> order;
    if (accel) order.push_back(accel);
    order.push_back(cpu);
    pa::scheduler s(order);
    s.compute(pa::build_forward({pr.dense, pr.proxy}));
    return {values(pr.dense), values(pr.proxy)};
}

TEST(FaultDevice, OutOfMemoryAtEveryCapIsAnErrorOrTheRightAnswer) {
    REQUIRE_DEVICE();
    auto cpu = pa::make_cpu_backend(2);
    auto ocl = plugin()->open_backend("");
    problem pr(7);
    const results ref = compute(nullptr, cpu.get(), pr);
    int oom = 0, ok = 0;
    // 1 KiB .. 16 MiB in steps of 2x: runs out at the first input upload, at intermediates, in
    // op scratch memory (proxy estimation, CLBlast), and not at all
    for (uint64_t cap = 1024; cap <= (16u << 20); cap *= 2) {
        SCOPED_TRACE(fmt::format("cap {} bytes", cap));
        ocl->set_option("max_alloc_bytes", std::to_string(cap));
        try {
            const results got = compute(ocl.get(), cpu.get(), pr);
            EXPECT_LT(nmse(got.dense, ref.dense), 1e-5);
            EXPECT_LT(nmse(got.proxy, ref.proxy), 1e-5);
            ++ok;
        } catch (const pa::error& e) {
            EXPECT_EQ(e.status(), PA_ERR_OUT_OF_MEMORY) << e.what();
            const std::string msg = e.what();
            EXPECT_NE(msg.find("out of memory"), std::string::npos) << msg;
            EXPECT_NE(msg.find(std::to_string(cap)), std::string::npos)
                << "the message names the cap: " << msg;
            ++oom;
        }
        ocl->set_option("trim_pool", "1"); // what a caller does before retrying smaller work
    }
    EXPECT_GT(oom, 0) << "no cap was small enough: the sweep tested nothing";
    EXPECT_GT(ok, 0) << "no cap was large enough";
    // After all those failures the same backend computes correctly without a cap.
    ocl->set_option("max_alloc_bytes", "0");
    const results after = compute(ocl.get(), cpu.get(), pr);
    EXPECT_LT(nmse(after.dense, ref.dense), 1e-5);
    EXPECT_LT(nmse(after.proxy, ref.proxy), 1e-5);
}

using pa::test::env_guard;

TEST(FaultDevice, DamagedKernelCacheIsRebuiltThroughThePlugin) {
    REQUIRE_DEVICE();
    const fs::path dir = fs::temp_directory_path() / fmt::format("pa-fault-kcache-{}", ::getpid());
    fs::remove_all(dir);
    env_guard env("PA_KERNEL_CACHE", dir.string());
    auto cpu = pa::make_cpu_backend(2);
    problem pr(11);
    const results ref = compute(nullptr, cpu.get(), pr);
    {
        auto ocl = plugin()->open_backend("");
        compute(ocl.get(), cpu.get(), pr);
    }
    std::vector<std::pair<fs::path, uintmax_t>> entries;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".bin") entries.emplace_back(e.path(), e.file_size());
    ASSERT_GE(entries.size(), 3u) << "the first run cached its programs";
    // damage every entry, three different ways
    for (size_t i = 0; i < entries.size(); ++i) {
        const auto& [path, size] = entries[i];
        if (i % 3 == 0) {
            fs::resize_file(path, size / 2); // truncated
        } else if (i % 3 == 1) {
            std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary); // garbled payload
            f.seekp(std::streamoff(size / 2));
            const std::string junk(64, '\x5a');
            f.write(junk.data(), std::streamsize(junk.size()));
        } else {
            std::ofstream(path, std::ios::trunc); // empty
        }
    }
    {
        auto ocl = plugin()->open_backend(""); // a new device context reads the damaged cache
        const results got = compute(ocl.get(), cpu.get(), pr);
        EXPECT_LT(nmse(got.dense, ref.dense), 1e-5);
        EXPECT_LT(nmse(got.proxy, ref.proxy), 1e-5);
    }
    // Rebuilt entries were written back and are sound: a third device context loads them as they
    // are (a damaged entry would be deleted and rewritten). Sizes are not compared with the first
    // run's: PoCL's binaries grow with the work-group sizes compiled before they are saved.
    std::vector<fs::file_time_type> written;
    for (const auto& e : entries) {
        ASSERT_TRUE(fs::exists(e.first)) << e.first;
        EXPECT_GT(fs::file_size(e.first), 0u) << e.first;
        written.push_back(fs::last_write_time(e.first));
    }
    {
        auto ocl = plugin()->open_backend("");
        const results got = compute(ocl.get(), cpu.get(), pr);
        EXPECT_LT(nmse(got.dense, ref.dense), 1e-5);
    }
    for (size_t i = 0; i < entries.size(); ++i)
        EXPECT_EQ(fs::last_write_time(entries[i].first), written[i]) << entries[i].first << " was rewritten";
    std::error_code ec;
    fs::remove_all(dir, ec);
}

} // namespace
