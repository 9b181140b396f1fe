// test_cpu_ops.cpp - the CPU reference backend itself: unknown ops, options, host memory. Its
// kernels are tested op by op against hand-computed values in tests/ops/<family>.cpp (CpuOps),
// which makes the CPU backend a trustworthy reference for the backend-vs-CPU suite (BackendOps).
#include <gtest/gtest.h>

#include "ops/op_test.h"
#include "pa/error.h"

namespace pa::test {
namespace {

TEST_F(CpuOps, UnsupportedDynamicOpIsAnError) {
    tensor* a = f32({2}, {1, 2});
    tensor* n = ctx.new_record();
    *n = *a;
    n->op = PA_OP_FIRST_DYNAMIC + 1000;
    n->src[0] = a;
    n->data = ctx.alloc_host(8);
    EXPECT_FALSE(cpu->supports_op(n));
    tensor* nodes[] = {n};
    EXPECT_THROW(cpu->compute(nodes), error);
}

TEST_F(CpuOps, OptionsAndMemory) {
    EXPECT_TRUE(cpu->is_host());
    EXPECT_NO_THROW(cpu->set_option("n_threads", "3"));
    EXPECT_THROW(cpu->set_option("n_threads", "x"), error);
    EXPECT_THROW(cpu->set_option("nope", "1"), error);
    void* h = cpu->alloc(100);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(h) % 64, 0u);
    const char msg[] = "hello";
    cpu->write(h, 10, msg, sizeof msg);
    char back[sizeof msg] = {};
    cpu->read(h, 10, back, sizeof msg);
    EXPECT_STREQ(back, msg);
    cpu->release(h);
}

} // namespace
} // namespace pa::test
