// test_opencl_kernel_cache.cpp - the device context's in-memory kernel table: a key finds what
// was stored under exactly the same pieces and nothing else; a kernel asked for by -D defines is
// the kernel of the equivalent options string.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "device.h"
#include "kernel_cache.h"
#include "ocl_api.h"

namespace {

using namespace pa::ocl;

cl_kernel fake(uintptr_t i) { // the cache stores handles and never calls OpenCL on them
    return reinterpret_cast<cl_kernel>(i);
}

kernel_key options_key(std::string_view program, std::string_view kernel, std::string_view options) {
    kernel_key k;
    k.program = program;
    k.kernel = kernel;
    k.options = options;
    return k;
}

TEST(OpenclKernelCache, FindsExactlyWhatWasStored) {
    kernel_cache c;
    const std::vector<define> defs = {{"A", 1}, {"B", 64}};
    const std::vector<define> other_value = {{"A", 1}, {"B", 65}};
    const std::vector<define> other_name = {{"A", 1}, {"C", 64}};
    const std::vector<define> fewer = {{"A", 1}};
    kernel_key by_defs;
    by_defs.of = kernel_key::kind::builtin_defines;
    by_defs.program = "p.cl";
    by_defs.kernel = "k";
    by_defs.defs = defs;
    kernel_key source = options_key("p.cl", "k", "-DA=1");
    source.of = kernel_key::kind::source;
    source.text_size = 100;
    source.text_hash = 12345;

    EXPECT_EQ(c.find(options_key("p.cl", "k", "-DA=1")), nullptr) << "empty";
    c.insert(options_key("p.cl", "k", "-DA=1"), fake(1));
    c.insert(by_defs, fake(2));
    c.insert(source, fake(3));

    // built from separate strings: the key is compared by content
    const std::string program = "p.cl", kernel = "k", options = "-DA=1";
    EXPECT_EQ(c.find(options_key(program, kernel, options)), fake(1));
    EXPECT_EQ(c.find(by_defs), fake(2));
    EXPECT_EQ(c.find(source), fake(3));

    EXPECT_EQ(c.find(options_key("p.cl", "k", "-DA=2")), nullptr);
    EXPECT_EQ(c.find(options_key("q.cl", "k", "-DA=1")), nullptr);
    EXPECT_EQ(c.find(options_key("p.cl", "k2", "-DA=1")), nullptr);
    for (const std::vector<define>* d : {&other_value, &other_name, &fewer}) {
        kernel_key k = by_defs;
        k.defs = *d;
        EXPECT_EQ(c.find(k), nullptr) << d->size();
    }
    kernel_key changed_text = source;
    changed_text.text_hash = 54321;
    EXPECT_EQ(c.find(changed_text), nullptr);
    kernel_key without_common = source;
    without_common.prepend_common = true;
    EXPECT_EQ(c.find(without_common), nullptr);

    c.insert(options_key("p.cl", "k", "-DA=1"), fake(9)); // stored already: the first stays
    EXPECT_EQ(c.find(options_key("p.cl", "k", "-DA=1")), fake(1));
}

TEST(OpenclKernelCache, DefinesGiveTheKernelOfTheSameOptions) {
    if (list_devices().empty()) GTEST_SKIP() << "no OpenCL device present";
    device_context ctx("");
    cl_kernel f32 = ctx.get_kernel("mul_mat.cl", "k_mul_mv", "-DA_TYPE=0");
    cl_kernel q8 = ctx.get_kernel("mul_mat.cl", "k_mul_mv", "-DA_TYPE=8");
    ASSERT_NE(f32, q8);
    EXPECT_EQ(ctx.get_kernel("mul_mat.cl", "k_mul_mv", {{"A_TYPE", 0}}), f32);
    EXPECT_EQ(ctx.get_kernel("mul_mat.cl", "k_mul_mv", {{"A_TYPE", 8}}), q8);
    EXPECT_EQ(ctx.get_kernel("mul_mat.cl", "k_mul_mv", {{"A_TYPE", 8}}), q8) << "cached";
    // several defines and extra flags: "-DA_TYPE=8 -DUNUSED=3 -DPA_EXTRA"
    cl_kernel full = ctx.get_kernel("mul_mat.cl", "k_mul_mv", "-DA_TYPE=8 -DUNUSED=3 -DPA_EXTRA");
    EXPECT_EQ(ctx.get_kernel("mul_mat.cl", "k_mul_mv", {{"A_TYPE", 8}, {"UNUSED", 3}}, "-DPA_EXTRA"), full);
}

} // namespace
