// Two graphs computed at once from two threads on ONE OpenCL backend (each thread with its
// own scheduler) give the same results as the CPU reference; the program cache and buffer
// pool are shared between them.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>

#include "pa/ops.h"
#include "pa/plugin_loader.h"
#include "pa/scheduler.h"

namespace {

struct job {
    pa::context ctx;
    pa::tensor* out = nullptr;
    std::vector<float> got;
};

// mul_mat -> rms_norm -> reshape -> flash attention: several kernels and CLBlast in one graph
void build(job& j, uint32_t seed) {
    const int64_t d = 64, n = 48, h = 4, hkv = 2;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    auto rnd = [&](pa::tensor* t) {
        auto* p = static_cast<float*>(t->data);
        for (int64_t i = 0; i < pa::nelements(t); ++i)
            p[i] = u(rng);
    };
    pa::tensor* w = j.ctx.new_tensor(PA_TYPE_F32, {d, d * h});
    pa::tensor* x = j.ctx.new_tensor(PA_TYPE_F32, {d, n});
    pa::tensor* k = j.ctx.new_tensor(PA_TYPE_F32, {d, n, hkv});
    pa::tensor* v = j.ctx.new_tensor(PA_TYPE_F32, {d, n, hkv});
    for (pa::tensor* t : {w, x, k, v})
        rnd(t);
    pa::tensor* q = pa::rms_norm(j.ctx, pa::mul_mat(j.ctx, w, x), 1e-5f); // [d*h, n]
    q = pa::permute(j.ctx, pa::reshape(j.ctx, q, {d, h, n}), 0, 2, 1, 3); // [d, n, h]
    j.out = pa::flash_attn_ext(j.ctx, q, k, v, 0.125f, 0, true);
}

std::vector<float> run(pa::backend* accel, pa::backend* cpu, job& j) {
    std::vector<pa::backend*> order;
    if (accel) order.push_back(accel);
    order.push_back(cpu);
    pa::scheduler s(order);
    pa::graph g = pa::build_forward({j.out});
    s.compute(g);
    const auto* p = static_cast<const float*>(j.out->data);
    return {p, p + pa::nelements(j.out)};
}

TEST(Concurrency, TwoThreadsOneOpenCLBackend) {
    auto plug = pa::plugin::load(PA_PLUGIN_PATH);
    if (plug->device_count() == 0) GTEST_SKIP() << "no OpenCL device";
    auto ocl = plug->open_backend("");
    auto cpu = pa::make_cpu_backend(1);
    constexpr int threads = 2, rounds = 3;
    std::vector<job> jobs(threads);
    for (int t = 0; t < threads; ++t)
        build(jobs[t], 100 + t);
    // Each graph alone on the same backend first: the kernels are deterministic, so the concurrent
    // runs must reproduce these bit for bit (a race shows up here even where the device's own
    // rounding, e.g. f16 tensor cores, differs from the CPU reference).
    std::vector<std::vector<float>> alone(threads);
    for (int t = 0; t < threads; ++t)
        alone[t] = run(ocl.get(), cpu.get(), jobs[t]);
    std::vector<std::vector<float>> results(threads);
    std::vector<std::string> errors(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            try {
                for (int r = 0; r < rounds; ++r)
                    results[t] = run(ocl.get(), cpu.get(), jobs[t]);
            } catch (const std::exception& e) {
                errors[t] = e.what();
            }
        });
    }
    for (auto& th : pool)
        th.join();
    for (int t = 0; t < threads; ++t) {
        ASSERT_TRUE(errors[t].empty()) << errors[t];
        const std::vector<float> ref = run(nullptr, cpu.get(), jobs[t]);
        ASSERT_EQ(ref.size(), results[t].size());
        double err = 0, norm = 0;
        for (size_t i = 0; i < ref.size(); ++i) {
            err += (ref[i] - results[t][i]) * double(ref[i] - results[t][i]);
            norm += double(ref[i]) * ref[i];
        }
        EXPECT_LT(err / norm, 1e-6) << "thread " << t; // f32 kernels give ~1e-12, f16 tensor cores ~1e-7
        EXPECT_EQ(results[t], alone[t]) << "thread " << t << ": concurrent run differs from the run alone";
    }
}

} // namespace
