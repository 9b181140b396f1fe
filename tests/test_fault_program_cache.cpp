// test_fault_program_cache.cpp - the OpenCL program cache under contention and faults
// (the single-threaded cases, damaged entries and the build log are in
// test_opencl_program_cache.cpp):
//   - many threads asking one cache for the same kernels at once: one build per key, one shared
//     kernel, every thread's kernel runs;
//   - several caches (as separate processes would) on one directory at once: entries stay
//     intact, no temporary files are left, a later cache loads every entry from disk;
//   - a program that fails to build, asked for by many threads: each gets the error with the
//     device's build log, nothing is cached, and the cache keeps working;
//   - entries truncated or overwritten while other caches read them: rebuilt, never trusted.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "ocl_api.h"
#include "pa/error.h"
#include "program_cache.h"

namespace {

namespace fs = std::filesystem;
using namespace pa::ocl;

// Three programs that differ in source or options: three cache keys.
const char* kSource = "kernel void axpb(global float* x, float a) { x[get_global_id(0)] = x[get_global_id(0)] * a + B; }\n";
const char* kOptions[] = {"-DB=1.0f", "-DB=2.0f", "-DB=3.0f"};

class ProgramCacheStress : public ::testing::Test {
  protected:
    void SetUp() override {
        if (list_devices().empty()) GTEST_SKIP() << "no OpenCL device present";
        dir_ = fs::temp_directory_path() / fmt::format("pa-fault-cache-{}", ::getpid());
        fs::remove_all(dir_);
        ctx_ = std::make_unique<device_context>("");
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::unique_ptr<program_cache> make() {
        return std::make_unique<program_cache>(ctx_->cl_ctx(), ctx_->caps(), dir_.string());
    }
    // x = [1, 2, 3, 4] -> x * 2 + B, on its own in-order queue (the context's queue is not
    // shared between threads here: each call makes one, as separate backends would).
    bool runs(cl_kernel k, float b) {
        cl_int err = CL_SUCCESS;
        cl_command_queue q = clCreateCommandQueue(ctx_->cl_ctx(), ctx_->device(), 0, &err);
        if (err != CL_SUCCESS) return false;
        float x[4] = {1, 2, 3, 4};
        cl_mem m = clCreateBuffer(ctx_->cl_ctx(), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof x, x, &err);
        bool ok = err == CL_SUCCESS;
        const float a = 2.0f;
        {
            // kernel arguments are per-object state: one thread at a time sets and enqueues
            static std::mutex launch_mu;
            std::lock_guard lock(launch_mu);
            ok = ok && clSetKernelArg(k, 0, sizeof m, &m) == CL_SUCCESS && clSetKernelArg(k, 1, sizeof a, &a) == CL_SUCCESS;
            const size_t global = 4;
            ok = ok && clEnqueueNDRangeKernel(q, k, 1, nullptr, &global, nullptr, 0, nullptr, nullptr) == CL_SUCCESS;
        }
        ok = ok && clEnqueueReadBuffer(q, m, CL_TRUE, 0, sizeof x, x, 0, nullptr, nullptr) == CL_SUCCESS;
        for (int i = 0; i < 4; ++i) ok = ok && x[i] == float(i + 1) * 2.0f + b;
        if (m) clReleaseMemObject(m);
        clReleaseCommandQueue(q);
        return ok;
    }
    std::vector<fs::path> files(const std::string& suffix = "") const {
        std::vector<fs::path> v;
        if (!fs::exists(dir_)) return v;
        for (const auto& e : fs::directory_iterator(dir_))
            if (suffix.empty() || e.path().string().find(suffix) != std::string::npos) v.push_back(e.path());
        return v;
    }
    fs::path dir_;
    std::unique_ptr<device_context> ctx_;
};

TEST_F(ProgramCacheStress, ManyThreadsOneCacheBuildEachKeyOnce) {
    auto pc = make();
    constexpr int threads = 8, rounds = 12;
    std::vector<std::vector<cl_kernel>> got(threads, std::vector<cl_kernel>(3, nullptr));
    std::atomic<int> failures{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            while (!go.load()) std::this_thread::yield(); // start together: maximal contention
            try {
                for (int r = 0; r < rounds; ++r) {
                    const int i = (t + r) % 3;
                    cl_kernel k = pc->kernel("axpb.cl", kSource, "axpb", kOptions[i]);
                    if (got[size_t(t)][size_t(i)] && got[size_t(t)][size_t(i)] != k) ++failures;
                    got[size_t(t)][size_t(i)] = k;
                    if (r < 3 && !runs(k, float(i + 1))) ++failures;
                }
            } catch (const std::exception& e) {
                ADD_FAILURE() << e.what();
                ++failures;
            }
        });
    }
    go = true;
    for (auto& th : pool) th.join();
    EXPECT_EQ(failures.load(), 0);
    for (int i = 0; i < 3; ++i) {
        std::set<cl_kernel> distinct;
        for (int t = 0; t < threads; ++t) distinct.insert(got[size_t(t)][size_t(i)]);
        EXPECT_EQ(distinct.size(), 1u) << "key " << i << ": every thread shares one kernel";
    }
    const auto st = pc->get_stats();
    EXPECT_EQ(st.source_builds, 3); // exactly one build per key despite the contention
    EXPECT_EQ(st.disk_writes, 3);
    EXPECT_EQ(st.memory_hits, threads * rounds - 3);
    EXPECT_EQ(files(".tmp").size(), 0u);
}

TEST_F(ProgramCacheStress, SeveralCachesShareOneDirectory) {
    constexpr int caches = 4;
    std::vector<std::unique_ptr<program_cache>> pcs;
    for (int c = 0; c < caches; ++c) pcs.push_back(make());
    std::atomic<int> failures{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (int c = 0; c < caches; ++c) {
        for (int t = 0; t < 2; ++t) {
            pool.emplace_back([&, c, t] {
                while (!go.load()) std::this_thread::yield();
                try {
                    for (int i = 0; i < 3; ++i) {
                        const int k = (i + t + c) % 3;
                        if (!runs(pcs[size_t(c)]->kernel("axpb.cl", kSource, "axpb", kOptions[k]), float(k + 1)))
                            ++failures;
                    }
                } catch (const std::exception& e) {
                    ADD_FAILURE() << e.what();
                    ++failures;
                }
            });
        }
    }
    go = true;
    for (auto& th : pool) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(files(".tmp").size(), 0u) << "temporary files left behind";
    EXPECT_EQ(files(".bin").size(), 3u);
    int bad = 0;
    for (auto& pc : pcs) bad += pc->get_stats().bad_entries;
    EXPECT_EQ(bad, 0) << "a cache saw a partial entry written by another";
    auto later = make(); // a later process loads all three from disk
    for (int k = 0; k < 3; ++k) EXPECT_TRUE(runs(later->kernel("axpb.cl", kSource, "axpb", kOptions[k]), float(k + 1)));
    EXPECT_EQ(later->get_stats().disk_hits, 3);
    EXPECT_EQ(later->get_stats().source_builds, 0);
}

TEST_F(ProgramCacheStress, BuildFailureUnderContentionReportsTheLogEverywhere) {
    auto pc = make();
    const std::string bad = "kernel void broken(global float* x) { x[0] = no_such_symbol_q7; }\n";
    constexpr int threads = 6;
    std::atomic<int> with_log{0}, other{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            try {
                pc->kernel("broken.cl", bad, "broken", "");
                ++other;
            } catch (const pa::error& e) {
                const std::string msg = e.what();
                if (e.status() == PA_ERR_DEVICE && msg.find("broken.cl") != std::string::npos &&
                    msg.find("no_such_symbol_q7") != std::string::npos)
                    ++with_log;
                else
                    ++other;
            } catch (...) {
                ++other;
            }
        });
    }
    for (auto& th : pool) th.join();
    EXPECT_EQ(with_log.load(), threads);
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(files(".bin").size(), 0u) << "a failed build must not be cached";
    EXPECT_TRUE(runs(pc->kernel("axpb.cl", kSource, "axpb", kOptions[0]), 1.0f)) << "the cache keeps working";
}

// Entries damaged while other caches are loading them: whoever reads a damaged file rebuilds;
// nobody runs a wrong or partial binary.
TEST_F(ProgramCacheStress, DamageDuringConcurrentLoadsIsRebuilt) {
    make()->program("axpb.cl", kSource, kOptions[1]);
    const std::string path = make()->entry_path("axpb.cl", kSource, kOptions[1]);
    ASSERT_TRUE(fs::exists(path));
    std::atomic<bool> stop{false};
    std::thread vandal([&] { // alternately truncates and garbles the entry
        for (int i = 0; !stop.load(); ++i) {
            std::error_code ec;
            const auto size = fs::file_size(path, ec);
            if (!ec && size > 64) {
                if (i % 2) fs::resize_file(path, size / 2, ec);
                else {
                    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
                    f.seekp(std::streamoff(size - 8));
                    f.write("garbage!", 8);
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    });
    std::atomic<int> failures{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; ++t) {
        pool.emplace_back([&] {
            for (int r = 0; r < 4; ++r) {
                try {
                    auto pc = make(); // a fresh cache reads the disk entry every time
                    if (!runs(pc->kernel("axpb.cl", kSource, "axpb", kOptions[1]), 2.0f)) ++failures;
                } catch (const std::exception& e) {
                    ADD_FAILURE() << e.what();
                    ++failures;
                }
            }
        });
    }
    for (auto& th : pool) th.join();
    stop = true;
    vandal.join();
    EXPECT_EQ(failures.load(), 0);
    auto last = make(); // whatever state the vandal left, the next load works
    EXPECT_TRUE(runs(last->kernel("axpb.cl", kSource, "axpb", kOptions[1]), 2.0f));
}

} // namespace
