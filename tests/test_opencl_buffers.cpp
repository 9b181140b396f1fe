// test_opencl_buffers.cpp - the buffer pool (reuse, copies, bounds) and the memory cap that
// makes out-of-memory reproducible (max_alloc_bytes option, PA_OPENCL_MAX_MEM).
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backend_ocl.h"
#include "buffer_pool.h"
#include "context_impl.h"
#include "pa/error.h"

namespace {

using namespace pa::ocl;

class Buffers : public ::testing::Test {
  protected:
    void SetUp() override {
        if (list_devices().empty()) GTEST_SKIP() << "no OpenCL device present";
        ctx_ = std::make_unique<device_context>("");
    }
    buffer_pool& pool() { return *ctx_->internals().pool; }
    std::unique_ptr<device_context> ctx_;
};

TEST_F(Buffers, WriteReadRoundTripWithOffsets) {
    device_buffer* b = pool().acquire(1000);
    std::vector<uint8_t> in(300), out(300);
    std::iota(in.begin(), in.end(), uint8_t(7));
    pool().write(b, 123, in.data(), in.size());
    pool().read(b, 123, out.data(), out.size());
    EXPECT_EQ(in, out);
    EXPECT_THROW(pool().write(b, b->capacity - 10, in.data(), 11), pa::error); // past the end
    EXPECT_THROW(pool().read(b, b->capacity + 1, out.data(), 0), pa::error);
    pool().give_back(b);
}

// Small writes return before the device has read them (the pool keeps a copy): the caller may
// reuse its memory at once, and the device still sees every write, in order, also when more
// are pending than the pool keeps (it then waits for the oldest).
TEST_F(Buffers, SmallWritesReturnAtOnceAndLandInOrder) {
    constexpr size_t slots = 300;
    device_buffer* b = pool().acquire(slots * 4);
    uint32_t v = 0; // every write reads this one word: the pool must copy it
    for (uint32_t round = 0; round < 2; ++round)
        for (uint32_t i = 0; i < slots; ++i) {
            v = round * 1000 + i;
            pool().write(b, i * 4, &v, 4);
        }
    std::vector<uint32_t> in(8, 0);
    std::iota(in.begin(), in.end(), 5000u);
    pool().write(b, 0, in.data(), in.size() * 4); // overlaps slots 0..7, after them
    in.assign(in.size(), 0);
    std::vector<uint32_t> out(slots);
    pool().read(b, 0, out.data(), slots * 4);
    for (uint32_t i = 0; i < slots; ++i)
        EXPECT_EQ(out[i], i < 8 ? 5000 + i : 1000 + i) << "slot " << i;
    // a write too large to stage blocks, and comes after the staged ones
    std::vector<uint8_t> big(buffer_pool::staged_write_max + 4, 7), back(big.size());
    device_buffer* c = pool().acquire(big.size());
    pool().write(c, 0, big.data(), big.size());
    pool().read(c, 0, back.data(), back.size());
    EXPECT_EQ(back, big);
    pool().give_back(b);
    pool().give_back(c);
}

TEST_F(Buffers, FreedBuffersOfCloseSizeAreReused) {
    device_buffer* a = pool().acquire(1 << 20);
    const cl_mem mem = a->mem.get();
    const uint64_t live = pool().allocated();
    pool().give_back(a);
    EXPECT_EQ(pool().pooled(), a->capacity);
    device_buffer* b = pool().acquire((1 << 20) - 1000); // close: reused
    EXPECT_EQ(b->mem.get(), mem);
    EXPECT_EQ(pool().allocated(), live);
    EXPECT_EQ(pool().pooled(), 0u);
    device_buffer* c = pool().acquire(1 << 16); // much smaller: a new buffer, not the big one
    EXPECT_NE(c->mem.get(), mem);
    pool().give_back(b);
    pool().give_back(c);
    pool().trim();
    EXPECT_EQ(pool().allocated(), 0u);
    EXPECT_EQ(pool().pooled(), 0u);
}

TEST_F(Buffers, ScratchReturnsToThePool) {
    cl_mem mem = nullptr;
    {
        scratch s = ctx_->temp(4096);
        mem = s.mem();
        EXPECT_GE(s.size(), 4096u);
        scratch moved = std::move(s);
        EXPECT_EQ(moved.mem(), mem);
        EXPECT_EQ(s.mem(), nullptr);
    }
    EXPECT_GT(pool().pooled(), 0u);
    scratch again = ctx_->temp(4000);
    EXPECT_EQ(again.mem(), mem);
}

// kept_upload: the same kind and bytes give back the object built the first time (make() not
// called again, the device copy as written); other bytes or another kind build their own; the
// context keeps a bounded number, so the oldest is built again after enough others.
TEST_F(Buffers, KeptUploadsAreSharedByContent) {
    struct copy {
        scratch s;
    };
    int made = 0;
    const auto upload = [&](std::string_view kind, const std::vector<uint32_t>& v) {
        const std::span<const std::byte> bytes = std::as_bytes(std::span(v));
        return ctx_->kept_upload<copy>(kind, bytes, [&] {
            ++made;
            auto c = std::make_shared<copy>();
            c->s = ctx_->temp(bytes.size());
            ctx_->write(c->s, v.data(), bytes.size());
            return std::shared_ptr<const copy>(std::move(c));
        });
    };
    const std::vector<uint32_t> a{1, 2, 3, 4}, b{1, 2, 3, 5};
    const auto first = upload("t", a);
    EXPECT_EQ(made, 1);
    EXPECT_EQ(upload("t", std::vector<uint32_t>(a)).get(), first.get()); // equal contents, other memory
    EXPECT_EQ(made, 1);
    EXPECT_NE(upload("t", b).get(), first.get());
    EXPECT_NE(upload("u", a).get(), first.get());
    EXPECT_EQ(made, 3);
    std::vector<uint32_t> back(a.size());
    EXPECT_EQ(clEnqueueReadBuffer(ctx_->queue(), first->s.mem(), CL_TRUE, 0, back.size() * 4, back.data(), 0,
                                  nullptr, nullptr),
              CL_SUCCESS);
    EXPECT_EQ(back, a);
    for (uint32_t i = 0; i < 16; ++i) // enough others to push "t" a out
        upload("many", {i});
    const int before = made;
    EXPECT_NE(upload("t", a).get(), nullptr);
    EXPECT_EQ(made, before + 1);
}

TEST_F(Buffers, CapGivesOutOfMemoryWithSizes) {
    ctx_->set_max_alloc(1 << 20);
    device_buffer* a = pool().acquire(600 << 10);
    try {
        pool().acquire(600 << 10);
        FAIL() << "expected out of memory";
    } catch (const pa::error& e) {
        EXPECT_EQ(e.status(), PA_ERR_OUT_OF_MEMORY);
        const std::string msg = e.what();
        EXPECT_NE(msg.find(std::to_string(600 << 10)), std::string::npos) << msg; // the request
        EXPECT_NE(msg.find(std::to_string(1 << 20)), std::string::npos) << msg;   // the cap
    }
    pool().give_back(a); // pooled, but dropped when a new request needs the room
    device_buffer* b = pool().acquire(900 << 10);
    EXPECT_LE(pool().allocated(), uint64_t(1) << 20);
    pool().give_back(b);
    ctx_->set_max_alloc(0);
}

TEST_F(Buffers, SingleBufferAboveDeviceMaxIsOutOfMemory) {
    try {
        pool().acquire(size_t(ctx_->caps().max_alloc) + 1);
        FAIL() << "expected out of memory";
    } catch (const pa::error& e) {
        EXPECT_EQ(e.status(), PA_ERR_OUT_OF_MEMORY);
    }
}

TEST(BuffersEnv, EnvironmentSetsTheCapAndTheBackendOptionOverridesIt) {
    if (list_devices().empty()) GTEST_SKIP() << "no OpenCL device present";
    std::optional<std::string> old;
    if (const char* v = std::getenv("PA_OPENCL_MAX_MEM")) old = v;
    ::setenv("PA_OPENCL_MAX_MEM", "65536", 1);
    opencl_backend be("");
    if (old)
        ::setenv("PA_OPENCL_MAX_MEM", old->c_str(), 1);
    else
        ::unsetenv("PA_OPENCL_MAX_MEM");
    EXPECT_EQ(be.context().max_alloc(), 65536u);
    EXPECT_THROW(be.alloc(100000), pa::error);
    be.set_option("max_alloc_bytes", "200000");
    void* h = be.alloc(100000);
    EXPECT_NE(h, nullptr);
    be.release(h);
    EXPECT_THROW(be.set_option("max_alloc_bytes", "lots"), pa::error);
    EXPECT_THROW(be.set_option("no_such_option", "1"), pa::error);
}

} // namespace
