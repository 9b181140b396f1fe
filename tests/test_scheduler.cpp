// Scheduler: placement by supports_op, runs of consecutive nodes in one compute call, the plan
// reused for an unchanged graph, copies between backends, parameter caching, persistent state
// written in place, intermediates freed after their last use, outputs on the host. A fake "device" backend
// (host memory behind opaque handles) supports only add, scale and (one-row) rms_norm of contiguous F32
// tensors, so graphs must be split between it and the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "pa/error.h"
#include "pa/ops.h"
#include "pa/scheduler.h"

namespace {

class fake_device final : public pa::backend {
  public:
    std::string name() const override { return "fake"; }
    std::string description() const override { return "test device"; }
    bool supports_op(const pa::tensor* n) const override {
        ++supports_queries;
        if (n->op != PA_OP_ADD && n->op != PA_OP_SCALE && n->op != PA_OP_RMS_NORM) return false;
        for (const pa::tensor* s : n->src)
            if (s && (s->type != PA_TYPE_F32 || !pa::is_contiguous(s) || !pa::same_shape(s, n))) return false;
        return true;
    }
    void* alloc(size_t bytes) override {
        if (live_bytes + bytes > cap) throw pa::error("fake: out of memory", PA_ERR_OUT_OF_MEMORY);
        auto mem = std::make_unique<std::vector<std::byte>>(bytes);
        void* h = mem.get();
        live_bytes += bytes;
        blocks[h] = std::move(mem);
        ++allocs;
        return h;
    }
    void release(void* h) override {
        live_bytes -= blocks.at(h)->size();
        blocks.erase(h);
    }
    void write(void* h, size_t off, const void* src, size_t n) override {
        std::memcpy(bytes(h) + off, src, n);
        ++writes;
    }
    void read(void* h, size_t off, void* dst, size_t n) override { std::memcpy(dst, bytes(h) + off, n); }
    void compute(std::span<pa::tensor* const> nodes) override {
        ++calls;
        call_sizes.push_back(nodes.size());
        for (pa::tensor* n : nodes) {
            std::vector<void*> srcs;
            for (const pa::tensor* s : n->src)
                if (s) srcs.push_back(s->buffer);
            storage.push_back({n->buffer, std::move(srcs)});
            EXPECT_EQ(n->data, nullptr) << "a device backend gets no host pointers";
            float* out = f32(n);
            const int64_t count = pa::nelements(n);
            if (n->op == PA_OP_ADD) {
                const float* a = f32(n->src[0]);
                const float* b = f32(n->src[1]);
                for (int64_t i = 0; i < count; ++i)
                    out[i] = a[i] + b[i];
            } else if (n->op == PA_OP_RMS_NORM) { // one row
                const float* a = f32(n->src[0]);
                double sum = 0;
                for (int64_t i = 0; i < count; ++i)
                    sum += double(a[i]) * a[i];
                const float f = float(1.0 / std::sqrt(sum / double(count) + pa_param_f(n, 0)));
                for (int64_t i = 0; i < count; ++i)
                    out[i] = a[i] * f;
            } else {
                const float* a = f32(n->src[0]);
                const float s = pa_param_f(n, 0);
                for (int64_t i = 0; i < count; ++i)
                    out[i] = a[i] * s;
            }
            ++computed;
        }
    }

    struct node_storage {
        void* result;
        std::vector<void*> srcs;
    };
    std::map<void*, std::unique_ptr<std::vector<std::byte>>> blocks;
    std::vector<node_storage> storage; // of every node computed, in order
    size_t live_bytes = 0, cap = size_t(1) << 30;
    int allocs = 0, writes = 0, computed = 0, calls = 0;
    std::vector<size_t> call_sizes; // nodes handed over in each compute call
    mutable int supports_queries = 0;

  private:
    std::byte* bytes(void* h) { return blocks.at(h)->data(); }
    float* f32(pa::tensor* t) { return reinterpret_cast<float*>(bytes(t->buffer) + t->offs); }
};

void fill(pa::tensor* t, float start) {
    auto* p = static_cast<float*>(t->data);
    for (int64_t i = 0; i < pa::nelements(t); ++i)
        p[i] = start + float(i);
}

// A chain of n scale nodes (factor f) over a new input of `elements` floats start, start + 1, ...;
// returns the last node.
pa::tensor* scale_chain(pa::context& ctx, int64_t elements, float start, int n, float f) {
    pa::tensor* cur = ctx.new_tensor(PA_TYPE_F32, {elements});
    fill(cur, start);
    for (int i = 0; i < n; ++i)
        cur = pa::scale(ctx, cur, f);
    return cur;
}

TEST(Scheduler, SplitsBetweenBackendsAndCopies) {
    pa::context ctx;
    auto dev = fake_device();
    auto cpu = pa::make_cpu_backend(1);
    pa::tensor* a = ctx.new_tensor(PA_TYPE_F32, {8, 3});
    pa::tensor* b = ctx.new_tensor(PA_TYPE_F32, {8, 3});
    fill(a, 1.0f);
    fill(b, 100.0f);
    pa::tensor* s = pa::add(ctx, a, b);      // device
    pa::tensor* t = pa::silu(ctx, s);        // cpu only
    pa::tensor* u = pa::scale(ctx, t, 2.0f); // device again
    pa::graph g = pa::build_forward({u});
    pa::scheduler sched({&dev, cpu.get()});
    sched.compute(g);
    EXPECT_EQ(sched.assigned_backend(s), 0);
    EXPECT_EQ(sched.assigned_backend(t), 1);
    EXPECT_EQ(sched.assigned_backend(u), 0);
    ASSERT_NE(u->data, nullptr);
    const auto* out = static_cast<const float*>(u->data);
    for (int i = 0; i < 24; ++i) {
        const float x = (1.0f + i) + (100.0f + i);
        EXPECT_FLOAT_EQ(out[i], 2.0f * x / (1.0f + std::exp(-x)));
    }
    EXPECT_EQ(dev.live_bytes, 0u) << "inputs, intermediates and outputs leave no device memory behind";
}

TEST(Scheduler, ConsecutiveNodesRunInOneCallPlannedOnce) {
    pa::context ctx;
    auto dev = fake_device();
    auto cpu = pa::make_cpu_backend(1);
    pa::tensor* cur = scale_chain(ctx, 8, 1.0f, 10, 2.0f);
    pa::graph g = pa::build_forward({cur});
    pa::scheduler sched({&dev, cpu.get()});
    sched.compute(g);
    sched.compute(g);
    EXPECT_EQ(dev.computed, 20);
    EXPECT_EQ(dev.calls, 2) << "the ten nodes are one run: one compute call per compute";
    EXPECT_EQ(dev.supports_queries, 10) << "the second compute reuses the plan";
    for (int i = 0; i < 8; ++i)
        EXPECT_FLOAT_EQ(static_cast<float*>(cur->data)[i], 1024.0f * float(1 + i));
}

TEST(Scheduler, ChangedGraphIsPlannedAgain) {
    pa::context ctx;
    auto dev = fake_device();
    auto cpu = pa::make_cpu_backend(1);
    pa::tensor* x = ctx.new_tensor(PA_TYPE_F32, {4, 2});
    fill(x, 0.0f);
    pa::tensor* y = pa::scale(ctx, x, 3.0f);
    pa::graph g = pa::build_forward({y});
    pa::scheduler sched({&dev, cpu.get()});
    sched.compute(g);
    EXPECT_EQ(sched.assigned_backend(y), 0);
    // the same nodes, now a non-contiguous source: the fake device refuses it, the CPU runs it
    std::swap(x->nb[0], x->nb[1]);
    std::swap(x->ne[0], x->ne[1]);
    y->ne[0] = 2;
    y->ne[1] = 4;
    pa::set_contiguous_strides(y);
    sched.forget(x);
    sched.forget(y);
    sched.compute(g);
    EXPECT_EQ(sched.assigned_backend(y), 1);
    EXPECT_EQ(dev.supports_queries, 2);
    const auto* out = static_cast<const float*>(y->data);
    for (int i = 0; i < 8; ++i)
        EXPECT_FLOAT_EQ(out[i], 3.0f * float((i % 2) * 4 + i / 2)) << i;
}

TEST(Scheduler, ParamsUploadedOnceInputsEveryTime) {
    pa::context ctx;
    auto dev = fake_device();
    auto cpu = pa::make_cpu_backend(1);
    pa::tensor* w = ctx.new_tensor(PA_TYPE_F32, {16});
    pa::tensor* x = ctx.new_tensor(PA_TYPE_F32, {16});
    w->flags |= PA_FLAG_PARAM;
    fill(w, 0.5f);
    pa::tensor* y = pa::add(ctx, x, w);
    pa::graph g = pa::build_forward({y});
    pa::scheduler sched({&dev, cpu.get()});
    for (int step = 0; step < 3; ++step) {
        fill(x, float(step * 10));
        sched.compute(g);
        EXPECT_FLOAT_EQ(static_cast<float*>(y->data)[3], float(step * 10 + 3) + 3.5f);
    }
    EXPECT_EQ(dev.writes, 1 + 3) << "weights once, the input at every compute";
    EXPECT_EQ(dev.live_bytes, 16u * 4) << "only the weights stay on the device";
}

TEST(Scheduler, PersistentStateWrittenInPlaceStaysOnDevice) {
    pa::context ctx;
    auto dev = fake_device();
    auto cpu = pa::make_cpu_backend(1);
    pa::tensor* cache = ctx.new_tensor(PA_TYPE_F32, {4, 6}); // 6 slots of 4
    cache->flags |= PA_FLAG_PERSIST;
    pa::scheduler sched({&dev, cpu.get()});
    for (int step = 0; step < 3; ++step) {
        pa::context g_ctx;
        pa::tensor* x = g_ctx.new_tensor(PA_TYPE_F32, {4});
        fill(x, float(step));
        pa::tensor* y = pa::scale(g_ctx, x, 10.0f); // device
        pa::tensor* slot = pa::view_1d(g_ctx, cache, 4, size_t(step) * 16);
        pa::tensor* w = pa::cpy(g_ctx, y, slot); // cpu (fake has no cpy): in-place write
        sched.compute(pa::build_forward({w}));
    }
    std::vector<float> got(24);
    sched.read_tensor(cache, got.data(), got.size() * 4);
    for (int step = 0; step < 3; ++step)
        for (int i = 0; i < 4; ++i)
            EXPECT_FLOAT_EQ(got[step * 4 + i], 10.0f * float(step + i));
    for (int i = 12; i < 24; ++i)
        EXPECT_EQ(got[i], 0.0f) << "untouched slots keep their zeros";
}

// Also for small values, whose storage is otherwise reused only a few nodes later (see
// SmallResultsKeepClearOfRecentlyReadStorage): short of memory, the scheduler reuses it at once.
TEST(Scheduler, IntermediatesFreedAfterLastUse) {
    pa::context ctx;
    auto dev = fake_device();
    auto cpu = pa::make_cpu_backend(1);
    // a long chain: at most input, current and next must be alive at once
    pa::tensor* cur = scale_chain(ctx, 1024, 0.0f, 50, 1.0f);
    dev.cap = 3 * 1024 * 4; // would overflow without freeing
    pa::scheduler sched({&dev, cpu.get()});
    sched.compute(pa::build_forward({cur}));
    EXPECT_EQ(dev.computed, 50);
    EXPECT_FLOAT_EQ(static_cast<float*>(cur->data)[1000], 1000.0f);
}

// Small results (decode-sized) never take the storage of a value that one of the 12 compute
// nodes before them read, so a backend may run adjacent nodes as one kernel; storage is still
// reused after that.
TEST(Scheduler, SmallResultsKeepClearOfRecentlyReadStorage) {
    pa::context ctx;
    auto dev = fake_device();
    auto cpu = pa::make_cpu_backend(1);
    pa::tensor* x = ctx.new_tensor(PA_TYPE_F32, {64});
    fill(x, 1.0f);
    pa::tensor* cur = x;
    for (int i = 0; i < 60; ++i) // a chain with a side branch: results read by one or two nodes
        cur = i % 3 == 2 ? pa::add(ctx, cur, ctx.new_tensor(PA_TYPE_F32, {64})) : pa::scale(ctx, cur, 1.0f);
    pa::graph g = pa::build_forward({cur});
    for (pa::tensor* leaf : g.leafs)
        if (leaf != x) fill(leaf, 0.0f); // 0, 1, 2, ...
    pa::scheduler sched({&dev, cpu.get()});
    sched.compute(g);
    ASSERT_EQ(dev.storage.size(), 60u);
    const size_t distance = 12;
    for (size_t k = 0; k < dev.storage.size(); ++k)
        for (size_t j = k >= distance ? k - distance : 0; j <= k; ++j)
            for (void* s : dev.storage[j].srcs)
                EXPECT_NE(dev.storage[k].result, s) << "node " << k << " writes what node " << j << " read";
    EXPECT_LT(dev.allocs, 40) << "dead storage is still reused";
    EXPECT_FLOAT_EQ(static_cast<float*>(cur->data)[5], 6.0f + 20 * 5.0f)
        << "x plus 20 side inputs, 0, 1, 2...";
}

// Large results (prefill-sized) take a dead value's storage at once: a chain needs two buffers.
TEST(Scheduler, LargeResultsReuseStorageAtOnce) {
    pa::context ctx;
    auto dev = fake_device();
    auto cpu = pa::make_cpu_backend(1);
    pa::tensor* cur = scale_chain(ctx, 300 * 1024, 0.0f, 6, 2.0f); // 1.2 MB
    pa::scheduler sched({&dev, cpu.get()});
    sched.compute(pa::build_forward({cur}));
    ASSERT_EQ(dev.storage.size(), 6u);
    for (size_t k = 2; k < 6; ++k)
        EXPECT_EQ(dev.storage[k].result, dev.storage[k - 2].result) << k;
    EXPECT_EQ(dev.allocs, 3) << "the input and two results";
    EXPECT_FLOAT_EQ(static_cast<float*>(cur->data)[1000], 64000.0f);
}

// A device backend gets a whole stretch of its nodes in one call; a host backend, whose compute
// returns only when done, gets at most 32 at a time so that the abort flag is seen in between.
TEST(Scheduler, OnlyHostRunsAreCut) {
    pa::context ctx;
    auto dev = fake_device();
    auto cpu = pa::make_cpu_backend(1);
    pa::tensor* cur = scale_chain(ctx, 8, 1.0f, 70, 1.0f);
    pa::graph g = pa::build_forward({cur});
    pa::scheduler on_device({&dev, cpu.get()});
    on_device.compute(g);
    EXPECT_EQ(dev.calls, 1);
    EXPECT_EQ(on_device.stats().runs, 1);
    pa::scheduler on_host({cpu.get()});
    on_host.compute(g);
    EXPECT_EQ(on_host.stats().runs, 3) << "70 nodes: 32 + 32 + 6";
    EXPECT_FLOAT_EQ(static_cast<float*>(cur->data)[7], 8.0f);
}

// A device run starts on the device before the host has prepared all of it: its first block,
// up to the first normalization after eight compute nodes, is handed over first.
TEST(Scheduler, DeviceRunIsHandedOverFromItsFirstBlockOn) {
    pa::context ctx;
    auto dev = fake_device();
    auto cpu = pa::make_cpu_backend(1);
    pa::tensor* cur = scale_chain(ctx, 4, 1.0f, 2, 2.0f); // 1..4 x 4
    cur = pa::rms_norm(ctx, cur, 0.0f);                   // step 2: too early to cut
    for (int i = 0; i < 9; ++i)                           // steps 3..11
        cur = pa::scale(ctx, cur, 1.0f);
    cur = pa::rms_norm(ctx, cur, 0.0f); // step 12: the cut
    cur = pa::scale(ctx, cur, 3.0f);
    cur = pa::rms_norm(ctx, cur, 0.0f); // later norms: no more cuts
    pa::graph g = pa::build_forward({cur});
    pa::scheduler sched({&dev, cpu.get()});
    sched.compute(g);
    EXPECT_EQ(sched.stats().runs, 1);
    EXPECT_EQ(dev.call_sizes, (std::vector<size_t>{12, 3}));
    // preparing the nodes and handing them over are parts of the dispatch time
    const pa::compute_stats& st = sched.stats();
    EXPECT_GT(st.launch_s, 0.0);
    EXPECT_GT(st.prepare_s, 0.0);
    EXPECT_LE(st.prepare_s + st.launch_s, st.dispatch_s * (1 + 1e-9));
    // rms_norm of 1, 2, 3, 4 (mean of squares 7.5), whatever the scales before it
    for (int i = 0; i < 4; ++i)
        EXPECT_NEAR(static_cast<float*>(cur->data)[i], float(i + 1) / std::sqrt(7.5f), 1e-6f);
    dev.call_sizes.clear();
    sched.set_timing(true); // a node a run: nothing to cut
    sched.compute(g);
    EXPECT_EQ(dev.call_sizes, std::vector<size_t>(15, 1));
}

TEST(Scheduler, OutOfDeviceMemoryIsAnError) {
    pa::context ctx;
    auto dev = fake_device();
    auto cpu = pa::make_cpu_backend(1);
    dev.cap = 100;
    pa::tensor* x = ctx.new_tensor(PA_TYPE_F32, {1024});
    pa::tensor* y = pa::scale(ctx, x, 3.0f);
    pa::scheduler sched({&dev, cpu.get()});
    try {
        sched.compute(pa::build_forward({y}));
        FAIL() << "expected an out-of-memory error";
    } catch (const pa::error& e) {
        EXPECT_EQ(e.status(), PA_ERR_OUT_OF_MEMORY);
    }
}

TEST(Scheduler, AbortFlagStopsBetweenNodes) {
    pa::context ctx;
    auto cpu = pa::make_cpu_backend(1);
    pa::tensor* x = ctx.new_tensor(PA_TYPE_F32, {4});
    pa::tensor* y = pa::scale(ctx, x, 3.0f);
    std::atomic<bool> stop{true};
    pa::scheduler sched({cpu.get()});
    sched.set_abort_flag(&stop);
    try {
        sched.compute(pa::build_forward({y}));
        FAIL() << "expected an interruption";
    } catch (const pa::error& e) {
        EXPECT_EQ(e.status(), PA_ERR_INTERRUPTED);
    }
}

TEST(Scheduler, VerboseListsEachKindOfFallbackOnce) {
    auto dev = fake_device();
    auto cpu = pa::make_cpu_backend(1);
    pa::scheduler sched({&dev, cpu.get()});
    auto graph_of_two_silus = [&](pa::context& ctx) { // silu: cpu only; add: the device
        pa::tensor* a = ctx.new_tensor(PA_TYPE_F32, {8, 3});
        fill(a, 1.0f);
        pa::tensor* s1 = pa::silu(ctx, pa::add(ctx, a, a));
        pa::tensor* outs[] = {pa::silu(ctx, s1), pa::scale(ctx, s1, 2.0f)};
        for (pa::tensor* t : outs) // host storage of the context, which dies before the scheduler
            ctx.ensure_host_data(t);
        return pa::build_forward({outs[0], outs[1]});
    };
    ::setenv("PA_VERBOSE", "1", 1);
    testing::internal::CaptureStderr();
    {
        pa::context ctx; // a new graph each step, as in decoding: planned again, reported once
        sched.compute(graph_of_two_silus(ctx));
    }
    {
        pa::context ctx;
        sched.compute(graph_of_two_silus(ctx));
    }
    const std::string err = testing::internal::GetCapturedStderr();
    ::unsetenv("PA_VERBOSE");
    EXPECT_EQ(
        err,
        "info: scheduler: silu [8, 3, 1, 1] f32 <- [8, 3, 1, 1] f32 runs on cpu (not supported by fake)\n");

    testing::internal::CaptureStderr();
    pa::scheduler quiet({&dev, cpu.get()});
    pa::context ctx;
    quiet.compute(graph_of_two_silus(ctx));
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "") << "without PA_VERBOSE nothing is printed";
}

// An output that is a view into an intermediate's storage (cpy into a node's result) keeps that
// storage alive: it reaches the host. Found by the fuzz_ops corpus run on two backends: the
// intermediate was freed after the cpy, its last reader, and the output stayed without data.
TEST(Scheduler, OutputWrittenIntoAnIntermediateReachesTheHost) {
    auto dev = fake_device();
    auto cpu = pa::make_cpu_backend(1);
    for (const std::vector<pa::backend*>& order :
         {std::vector<pa::backend*>{cpu.get()}, std::vector<pa::backend*>{&dev, cpu.get()}}) {
        pa::context ctx;
        pa::tensor* a = ctx.new_tensor(PA_TYPE_F32, {4, 2});
        pa::tensor* x = ctx.new_tensor(PA_TYPE_F32, {4});
        fill(a, 1.0f);
        fill(x, 50.0f);
        pa::tensor* s = pa::scale(ctx, a, 2.0f);                       // the intermediate: 2, 4, ..., 16
        pa::tensor* out = pa::cpy(ctx, x, pa::view_1d(ctx, s, 4, 16)); // x into its second row
        pa::scheduler sched(order);
        sched.compute(pa::build_forward({out}));
        ASSERT_NE(out->data, nullptr) << order.size() << " backends";
        const auto* whole = static_cast<const float*>(s->data);
        ASSERT_NE(whole, nullptr);
        for (int i = 0; i < 4; ++i) {
            EXPECT_FLOAT_EQ(whole[i], 2.0f * float(1 + i));
            EXPECT_FLOAT_EQ(whole[4 + i], 50.0f + float(i));
            EXPECT_FLOAT_EQ(static_cast<const float*>(out->data)[i], 50.0f + float(i));
        }
    }
}

TEST(Scheduler, NeedsAHostBackend) {
    auto dev = fake_device();
    EXPECT_THROW(pa::scheduler({&dev}), pa::error);
}

} // namespace
