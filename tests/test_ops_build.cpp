// test_ops_build.cpp - bad inputs to tensor creation and every op constructor: each must
// throw pa::error naming the op (never crash, never build a tensor that reaches outside its
// storage), and the shape rules must give ggml's result shapes for good inputs.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "pa/error.h"
#include "pa/op_registry.h"
#include "pa/ops.h"

namespace pa {
namespace {

// Expects stmt to throw pa::error whose message contains `needle`.
#define EXPECT_PA_ERROR(stmt, needle)                                                                        \
    do {                                                                                                     \
        try {                                                                                                \
            (void)(stmt);                                                                                    \
            ADD_FAILURE() << #stmt << " did not throw";                                                      \
        } catch (const ::pa::error& e) {                                                                     \
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)                                 \
                << #stmt << " threw \"" << e.what() << "\", expected it to mention \"" << (needle) << "\"";  \
        }                                                                                                    \
    } while (0)

constexpr size_t huge_size = std::numeric_limits<size_t>::max();

class OpsBuild : public ::testing::Test {
protected:
    context ctx;
    tensor* f32(std::initializer_list<int64_t> ne) { return ctx.new_tensor(PA_TYPE_F32, ne, false); }
    tensor* of(pa_type t, std::initializer_list<int64_t> ne) { return ctx.new_tensor(t, ne, false); }
};

// ---- tensor creation --------------------------------------------------------------------

TEST_F(OpsBuild, NewTensorRejectsBadShapesAndTypes) {
    EXPECT_PA_ERROR(ctx.new_tensor(PA_TYPE_F32, {0}), "dimension 0");
    EXPECT_PA_ERROR(ctx.new_tensor(PA_TYPE_F32, {4, -1}), "dimension 1");
    EXPECT_PA_ERROR(ctx.new_tensor(PA_TYPE_F32, {1, 1, 1, 1, 1}), "dims");
    EXPECT_PA_ERROR(ctx.new_tensor(PA_TYPE_F32, 0, nullptr), "dims");
    EXPECT_PA_ERROR(ctx.new_tensor(pa_type(5), {4}), "type");
    // pa_type(-1) would be undefined behaviour (outside the enum's value range 0..31; UBSan
    // flags the load); 31 is the largest invalid id a pa_type can hold
    EXPECT_PA_ERROR(ctx.new_tensor(pa_type(31), {4}), "type");
    EXPECT_PA_ERROR(ctx.new_tensor(PA_TYPE_Q8_0, {33}), "block");
    EXPECT_PA_ERROR(ctx.new_tensor(PA_TYPE_Q4_1, {16, 2}), "block");
}

TEST_F(OpsBuild, HugeTensorsNameTheLimit) {
    const std::string limit = std::to_string(max_tensor_elements);
    const int64_t big = int64_t(1) << 21;
    EXPECT_PA_ERROR(ctx.new_tensor(PA_TYPE_F32, {max_tensor_elements + 1}), limit);
    EXPECT_PA_ERROR(ctx.new_tensor(PA_TYPE_F32, {big, big}, false), limit);           // 2^42 elements
    EXPECT_PA_ERROR(ctx.new_tensor(PA_TYPE_F16, {big, big, big, big}, false), limit); // 2^84 wraps in int64
    EXPECT_PA_ERROR(ctx.new_tensor(PA_TYPE_F32, {std::numeric_limits<int64_t>::max()}), limit);
    // exactly the limit is a valid record (no storage requested)
    tensor* t = ctx.new_tensor(PA_TYPE_F32, {int64_t(1) << 20, int64_t(1) << 20}, false);
    EXPECT_EQ(nelements(t), max_tensor_elements);
    EXPECT_EQ(t->data, nullptr);
}

TEST_F(OpsBuild, TensorHelpers) {
    tensor* q = ctx.new_tensor(PA_TYPE_Q4_1, {64, 3, 2});
    EXPECT_EQ(q->nb[0], 20u); // one block
    EXPECT_EQ(q->nb[1], 40u); // two blocks a row
    EXPECT_EQ(q->nb[2], 120u);
    EXPECT_EQ(nbytes(q), 240u);
    EXPECT_EQ(nrows(q), 6);
    EXPECT_EQ(nelements(q), 384);
    EXPECT_TRUE(is_contiguous(q));
    EXPECT_EQ(shape_string(q), "[64, 3, 2, 1] q4_1");
    EXPECT_EQ(reinterpret_cast<uintptr_t>(q->data) % 64, 0u);

    tensor* a = ctx.new_tensor(PA_TYPE_F16, {5, 4, 3});
    tensor* t = transpose(ctx, a);
    EXPECT_FALSE(is_contiguous(t));
    EXPECT_EQ(nbytes(t), nbytes(a)); // a permute spans the same bytes
    EXPECT_EQ(storage_root(t), a);
    tensor* v = view_2d(ctx, a, 3, 2, a->nb[1], a->nb[1]);
    EXPECT_FALSE(is_contiguous(v)); // rows shorter than their stride
    EXPECT_EQ(nbytes(v), a->nb[1] + 3 * 2u);
    EXPECT_TRUE(is_contiguous(view_1d(ctx, a, 7, 2)));
    EXPECT_THROW(ctx.ensure_host_data(v), error);

    tensor* big = f32({6, 4, 2});
    EXPECT_TRUE(can_repeat(f32({3, 1, 2}), big));
    EXPECT_FALSE(can_repeat(f32({4, 1, 1}), big));
    EXPECT_TRUE(same_shape(big, f32({6, 4, 2, 1})));
    EXPECT_TRUE(is_view_op(PA_OP_PERMUTE));
    EXPECT_FALSE(is_view_op(PA_OP_CPY));
    const size_t before = ctx.host_bytes();
    void* p = ctx.alloc_host(1);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
    EXPECT_EQ(static_cast<unsigned char*>(p)[0], 0);
    EXPECT_GE(ctx.host_bytes(), before + 1);
}

// ---- views ------------------------------------------------------------------------------

TEST_F(OpsBuild, ViewsStayInsideTheirStorage) {
    tensor* a = f32({8, 4}); // 128 bytes
    EXPECT_NO_THROW(view_1d(ctx, a, 32, 0));
    EXPECT_NO_THROW(view_1d(ctx, a, 1, 124));
    EXPECT_PA_ERROR(view_1d(ctx, a, 33, 0), "exceeds");
    EXPECT_PA_ERROR(view_1d(ctx, a, 1, 128), "exceeds");
    EXPECT_PA_ERROR(view_2d(ctx, a, 8, 5, a->nb[1], 0), "exceeds");
    EXPECT_PA_ERROR(view_2d(ctx, a, 8, 2, a->nb[1] * 3, 4), "exceeds");
    EXPECT_PA_ERROR(view_3d(ctx, a, 4, 2, 3, 16, 48, 8), "exceeds");
    EXPECT_PA_ERROR(view_4d(ctx, a, 2, 2, 2, 2, 8, 16, 64, 72), "exceeds");
    // a view of a view is checked against the root's storage, offsets accumulate
    tensor* v = view_1d(ctx, a, 16, 64);
    EXPECT_EQ(v->view_src, a);
    EXPECT_EQ(v->view_offs, 64u);
    EXPECT_NO_THROW(view_1d(ctx, v, 16, 0));
    EXPECT_PA_ERROR(view_1d(ctx, v, 16, 4), "exceeds");
    tensor* vv = view_1d(ctx, v, 4, 16);
    EXPECT_EQ(vv->view_src, a);
    EXPECT_EQ(vv->view_offs, 80u);
}

TEST_F(OpsBuild, ViewsRejectBadDimsAndPartialBlocks) {
    tensor* a = f32({8, 4});
    EXPECT_PA_ERROR(view_2d(ctx, a, 0, 1, 32, 0), "dimension 0");
    EXPECT_PA_ERROR(view_4d(ctx, a, 2, 2, -1, 1, 8, 16, 16, 0), "dimension 2");
    tensor* q = of(PA_TYPE_Q8_0, {64, 2});
    EXPECT_NO_THROW(view_2d(ctx, q, 32, 2, q->nb[1], 0));
    EXPECT_PA_ERROR(view_2d(ctx, q, 16, 2, q->nb[1], 0), "block");
    EXPECT_PA_ERROR(view_4d(ctx, nullptr, 1, 1, 1, 1, 4, 4, 4, 0), "null");
    EXPECT_PA_ERROR(view_2d(ctx, nullptr, 1, 1, 4, 0), "null");
}

TEST_F(OpsBuild, View1dOfNullIsAnError) { EXPECT_PA_ERROR(view_1d(ctx, nullptr, 1, 0), "null"); }

// Offsets and strides so large that the byte arithmetic wraps around must not sneak a view
// past the bounds check.
TEST_F(OpsBuild, ViewsWithOverflowingOffsetsOrStridesAreRejected) {
    tensor* a = f32({8, 4});
    EXPECT_THROW(view_1d(ctx, a, 4, huge_size - 8), error);
    EXPECT_THROW(view_1d(ctx, a, 4, huge_size), error);
    const size_t half = size_t(1) << 63;
    EXPECT_THROW(view_2d(ctx, a, 4, 3, half, 0), error); // (3-1) * 2^63 wraps to 0
    EXPECT_THROW(view_4d(ctx, a, 4, 1, 1, 5, 16, 16, half / 2, 0), error);
    EXPECT_THROW(view_1d(ctx, a, int64_t(1) << 62, 0), error); // 2^62 floats = 2^64 bytes
}

TEST_F(OpsBuild, ReshapePermuteTranspose) {
    tensor* a = f32({6, 4});
    tensor* r = reshape(ctx, a, {3, 8});
    EXPECT_EQ(r->ne[0], 3);
    EXPECT_EQ(r->ne[1], 8);
    EXPECT_PA_ERROR(reshape(ctx, a, {5, 5}), "elements");
    EXPECT_PA_ERROR(reshape(ctx, a, {24, 0}), "dimension 1");
    EXPECT_PA_ERROR(reshape(ctx, a, {}), "dims");
    EXPECT_PA_ERROR(reshape(ctx, a, {1, 2, 3, 4, 1}), "dims");
    EXPECT_PA_ERROR(reshape(ctx, transpose(ctx, a), {24}), "contiguous");
    EXPECT_PA_ERROR(reshape(ctx, nullptr, {24}), "null");
    tensor* q = of(PA_TYPE_Q4_0, {64, 2});
    EXPECT_PA_ERROR(reshape(ctx, q, {16, 8}), "block");
    EXPECT_NO_THROW(reshape(ctx, q, {32, 4}));

    tensor* p = permute(ctx, f32({2, 3, 4, 5}), 2, 0, 3, 1);
    EXPECT_EQ(p->ne[0], 3);
    EXPECT_EQ(p->ne[1], 5);
    EXPECT_EQ(p->ne[2], 2);
    EXPECT_EQ(p->ne[3], 4);
    EXPECT_EQ(p->nb[2], 4u); // old dim 0
    EXPECT_PA_ERROR(permute(ctx, a, 0, 0, 1, 2), "permutation");
    EXPECT_PA_ERROR(permute(ctx, a, 0, 1, 2, 4), "permutation");
    EXPECT_PA_ERROR(permute(ctx, a, -1, 1, 2, 3), "permutation");
    EXPECT_PA_ERROR(permute(ctx, q, 1, 0, 2, 3), "quantized");
    EXPECT_PA_ERROR(transpose(ctx, q), "quantized");
    EXPECT_PA_ERROR(transpose(ctx, nullptr), "null");
}

TEST_F(OpsBuild, HugeReshapeIsRejected) {
    tensor* a = f32({16});
    // (2^62 + 4) * 4 wraps to 16 in 64 bits: still not a valid shape of 16 elements
    EXPECT_THROW(reshape(ctx, a, {(int64_t(1) << 62) + 4, 4}), error);
    EXPECT_THROW(reshape(ctx, a, {int64_t(1) << 62, int64_t(1) << 62, 4, 4}), error);
}

// ---- copies -----------------------------------------------------------------------------

TEST_F(OpsBuild, ContAndCpyRules) {
    tensor* a = f32({33, 2});
    EXPECT_PA_ERROR(cont(ctx, a, PA_TYPE_Q8_0), "cannot be");
    EXPECT_PA_ERROR(cont(ctx, a, PA_TYPE_I32), "i32");
    EXPECT_NO_THROW(cont(ctx, of(PA_TYPE_I32, {4}), PA_TYPE_F32)); // ids may become floats
    EXPECT_PA_ERROR(cont(ctx, of(PA_TYPE_Q8_0, {32}), PA_TYPE_Q4_0), "quantized");
    EXPECT_PA_ERROR(cont(ctx, nullptr), "null");
    EXPECT_PA_ERROR(cont(ctx, nullptr, PA_TYPE_F16), "null");
    tensor* c = cont(ctx, transpose(ctx, a), PA_TYPE_F16);
    EXPECT_EQ(c->ne[0], 2);
    EXPECT_EQ(c->ne[1], 33);
    EXPECT_TRUE(is_contiguous(c));

    EXPECT_PA_ERROR(cpy(ctx, a, f32({33, 3})), "element count");
    EXPECT_PA_ERROR(cpy(ctx, transpose(ctx, f32({6, 11})), f32({33, 2})), "contiguous");
    EXPECT_PA_ERROR(cpy(ctx, of(PA_TYPE_Q8_0, {32}), f32({32})), "quantized");
    EXPECT_PA_ERROR(cpy(ctx, nullptr, a), "null");
    EXPECT_PA_ERROR(cpy(ctx, a, nullptr), "null");
    tensor* dst = of(PA_TYPE_F16, {66});
    tensor* v = cpy(ctx, a, dst);
    EXPECT_EQ(v->view_src, dst);
    EXPECT_EQ(v->type, PA_TYPE_F16);
}

// ---- compute ops ------------------------------------------------------------------------

TEST_F(OpsBuild, GetRows) {
    tensor* a = of(PA_TYPE_Q4_0, {64, 10, 3});
    tensor* ids = of(PA_TYPE_I32, {5, 3});
    tensor* r = get_rows(ctx, a, ids);
    EXPECT_EQ(r->type, PA_TYPE_F32);
    EXPECT_EQ(r->ne[0], 64);
    EXPECT_EQ(r->ne[1], 5);
    EXPECT_EQ(r->ne[2], 3);
    EXPECT_PA_ERROR(get_rows(ctx, a, of(PA_TYPE_F32, {5, 3})), "i32");
    EXPECT_PA_ERROR(get_rows(ctx, a, of(PA_TYPE_I32, {5, 2})), "do not match");
    EXPECT_PA_ERROR(get_rows(ctx, a, of(PA_TYPE_I32, {5, 3, 2})), "do not match");
    EXPECT_PA_ERROR(get_rows(ctx, nullptr, ids), "null");
    EXPECT_PA_ERROR(get_rows(ctx, a, nullptr), "null");
}

TEST_F(OpsBuild, BinaryOpsBroadcastRules) {
    tensor* a = f32({6, 4, 2});
    for (auto* op : {&add, &mul}) {
        EXPECT_NO_THROW(op(ctx, a, f32({6})));
        EXPECT_NO_THROW(op(ctx, a, f32({3, 2, 2})));
        EXPECT_NO_THROW(op(ctx, a, of(PA_TYPE_F16, {6, 1, 2})));
        EXPECT_PA_ERROR(op(ctx, a, f32({4})), "broadcast");
        EXPECT_PA_ERROR(op(ctx, a, f32({6, 4, 2, 2})), "broadcast");
        EXPECT_PA_ERROR(op(ctx, of(PA_TYPE_F16, {6}), f32({6})), "f32");
        EXPECT_PA_ERROR(op(ctx, a, of(PA_TYPE_Q8_0, {32})), "f32");
        EXPECT_PA_ERROR(op(ctx, a, of(PA_TYPE_I32, {6})), "f32");
        EXPECT_PA_ERROR(op(ctx, nullptr, a), "null");
        EXPECT_PA_ERROR(op(ctx, a, nullptr), "null");
    }
    EXPECT_EQ(add(ctx, a, f32({6}))->ne[2], 2);
}

TEST_F(OpsBuild, UnaryOpsNeedF32) {
    tensor* h = of(PA_TYPE_F16, {4});
    EXPECT_PA_ERROR(scale(ctx, h, 2.0f), "scale");
    EXPECT_PA_ERROR(silu(ctx, h), "silu");
    EXPECT_PA_ERROR(rms_norm(ctx, h, 1e-5f), "rms_norm");
    EXPECT_PA_ERROR(rms_norm(ctx, f32({4}), -1.0f), "eps");
    EXPECT_PA_ERROR(scale(ctx, nullptr, 1.0f), "null");
    EXPECT_PA_ERROR(silu(ctx, nullptr), "null");
    EXPECT_PA_ERROR(rms_norm(ctx, nullptr, 1e-5f), "null");
    EXPECT_PA_ERROR(swiglu(ctx, f32({4}), f32({5})), "shape");
    EXPECT_PA_ERROR(swiglu(ctx, f32({4}), h), "f32");
    EXPECT_PA_ERROR(swiglu(ctx, nullptr, f32({4})), "swiglu");
    EXPECT_PA_ERROR(swiglu(ctx, f32({4}), nullptr), "null");
    tensor* s = scale(ctx, f32({3, 5}), 0.25f);
    EXPECT_EQ(pa_param_f(s, 0), 0.25f);
}

TEST_F(OpsBuild, MulMatShapes) {
    tensor* r = mul_mat(ctx, of(PA_TYPE_Q8_0, {64, 7, 2, 1}), f32({64, 5, 6, 3}));
    EXPECT_EQ(r->ne[0], 7);
    EXPECT_EQ(r->ne[1], 5);
    EXPECT_EQ(r->ne[2], 6);
    EXPECT_EQ(r->ne[3], 3);
    EXPECT_PA_ERROR(mul_mat(ctx, f32({8, 3}), f32({9, 3})), "inner");
    EXPECT_PA_ERROR(mul_mat(ctx, f32({8, 3, 4}), f32({8, 3, 6})), "broadcast");
    EXPECT_PA_ERROR(mul_mat(ctx, f32({8, 3, 1, 2}), f32({8, 3, 1, 3})), "broadcast");
    EXPECT_PA_ERROR(mul_mat(ctx, f32({8, 3, 2}), f32({8, 3, 1})), "broadcast");
    EXPECT_PA_ERROR(mul_mat(ctx, f32({8, 3}), of(PA_TYPE_F16, {8, 3})), "f32");
    EXPECT_PA_ERROR(mul_mat(ctx, of(PA_TYPE_I32, {8, 3}), f32({8, 3})), "f32");
    EXPECT_PA_ERROR(mul_mat(ctx, nullptr, f32({8, 3})), "null");
    EXPECT_PA_ERROR(mul_mat(ctx, f32({8, 3}), nullptr), "null");
    // a quantized a whose blocks are not packed (hand-made strides) is refused
    tensor* q = of(PA_TYPE_Q4_0, {64, 2});
    q->nb[0] = 36;
    EXPECT_PA_ERROR(mul_mat(ctx, q, f32({64, 1})), "packed");
}

TEST_F(OpsBuild, RopeRules) {
    tensor* x = f32({8, 2, 3});
    EXPECT_NO_THROW(rope(ctx, x, 8, rope_mode_neox, 1e4f, 7));
    EXPECT_NO_THROW(rope(ctx, x, 2, rope_mode_normal, 1e4f, 0));
    EXPECT_PA_ERROR(rope(ctx, x, 3, 0, 1e4f, 0), "even");
    EXPECT_PA_ERROR(rope(ctx, x, 10, 0, 1e4f, 0), "head dim");
    EXPECT_PA_ERROR(rope(ctx, x, 0, 0, 1e4f, 0), "n_dims");
    EXPECT_PA_ERROR(rope(ctx, x, 8, 1, 1e4f, 0), "mode");
    EXPECT_PA_ERROR(rope(ctx, x, 8, 0, 0.0f, 0), "theta");
    EXPECT_PA_ERROR(rope(ctx, x, 8, 0, 1e4f, -1), "n_past");
    EXPECT_PA_ERROR(rope(ctx, f32({8, 2, 3, 2}), 8, 0, 1e4f, 0), "rope");
    EXPECT_PA_ERROR(rope(ctx, of(PA_TYPE_F16, {8, 2}), 8, 0, 1e4f, 0), "f32");
    EXPECT_PA_ERROR(rope(ctx, nullptr, 8, 0, 1e4f, 0), "rope");
}

TEST_F(OpsBuild, SoftMaxMaskRules) {
    tensor* a = f32({5, 3, 2});
    EXPECT_NO_THROW(soft_max_ext(ctx, a, nullptr, 1.0f));
    EXPECT_NO_THROW(soft_max_ext(ctx, a, of(PA_TYPE_F16, {5, 4}), 1.0f));
    EXPECT_PA_ERROR(soft_max_ext(ctx, a, f32({4, 3}), 1.0f), "cover");
    EXPECT_PA_ERROR(soft_max_ext(ctx, a, f32({5, 2}), 1.0f), "cover");
    EXPECT_PA_ERROR(soft_max_ext(ctx, a, f32({5, 3, 2}), 1.0f), "cover");
    EXPECT_PA_ERROR(soft_max_ext(ctx, a, of(PA_TYPE_I32, {5, 3}), 1.0f), "mask");
    EXPECT_PA_ERROR(soft_max_ext(ctx, a, of(PA_TYPE_Q8_0, {32, 3}), 1.0f), "mask");
    EXPECT_PA_ERROR(soft_max_ext(ctx, of(PA_TYPE_F16, {5}), nullptr, 1.0f), "f32");
    EXPECT_PA_ERROR(soft_max_ext(ctx, nullptr, nullptr, 1.0f), "null");
}

TEST_F(OpsBuild, FlashAttnRules) {
    tensor* q = f32({64, 10, 8});
    tensor* k = of(PA_TYPE_F16, {64, 30, 2});
    tensor* v = of(PA_TYPE_F16, {64, 30, 2});
    tensor* o = flash_attn_ext(ctx, q, k, v, 0.125f, 20);
    EXPECT_EQ(o->ne[0], 64);
    EXPECT_EQ(o->ne[1], 8);
    EXPECT_EQ(o->ne[2], 10);
    EXPECT_EQ(pa_param_i(o, fa_param_n_past), 20);
    EXPECT_EQ(pa_param_i(o, fa_param_causal), 1);
    EXPECT_PA_ERROR(flash_attn_ext(ctx, q, k, v, 0.125f, 21), "n_past + N");
    EXPECT_NO_THROW(flash_attn_ext(ctx, q, k, v, 0.125f, 21, false)); // non-causal: any n_past
    EXPECT_PA_ERROR(flash_attn_ext(ctx, q, k, v, 0.125f, -1, false), "n_past");
    EXPECT_PA_ERROR(flash_attn_ext(ctx, of(PA_TYPE_F16, {64, 10, 8}), k, v, 1, 0), "q must be f32");
    EXPECT_PA_ERROR(flash_attn_ext(ctx, q, of(PA_TYPE_Q8_0, {64, 30, 2}), v, 1, 0), "f32 or f16");
    EXPECT_PA_ERROR(flash_attn_ext(ctx, q, k, f32({80, 30, 2}), 1, 0), "head dims");
    EXPECT_PA_ERROR(flash_attn_ext(ctx, q, k, f32({64, 31, 2}), 1, 0), "differ");
    EXPECT_PA_ERROR(flash_attn_ext(ctx, q, of(PA_TYPE_F16, {64, 30, 3}), of(PA_TYPE_F16, {64, 30, 3}), 1, 0),
                    "multiple");
    EXPECT_PA_ERROR(flash_attn_ext(ctx, f32({64, 10, 8, 2}), k, v, 1, 0), "batch");
    EXPECT_PA_ERROR(flash_attn_ext(ctx, nullptr, k, v, 1, 0), "null");
    EXPECT_PA_ERROR(flash_attn_ext(ctx, q, nullptr, v, 1, 0), "null");
    EXPECT_PA_ERROR(flash_attn_ext(ctx, q, k, nullptr, 1, 0), "null");
}

// ---- registry ops -----------------------------------------------------------------------

// A test op: [n] -> [params[0], n]; params[0] <= 0 is invalid.
pa_status test_infer(const pa_tensor* const* src, int, const int32_t* params, pa_tensor* out, char* err,
                     size_t err_len) {
    if (params[0] <= 0) {
        std::snprintf(err, err_len, "rows must be positive, got %d", params[0]);
        return PA_ERR_INVALID;
    }
    out->type = PA_TYPE_F32;
    out->ne[0] = params[0] == 7 ? 0 : params[0]; // 7: a broken rule that gives an empty dim
    out->ne[1] = src[0]->ne[0];
    out->ne[2] = params[0] == 9 ? std::numeric_limits<int32_t>::max() : 1; // 9: a huge result
    out->ne[3] = params[0] == 9 ? std::numeric_limits<int32_t>::max() : 1;
    return PA_OK;
}
pa_status test_cpu(pa_tensor*, char*, size_t) { return PA_OK; }

int32_t register_test_op() {
    const pa_op_desc d{"test_ops_build_op", 1, 2, test_infer, test_cpu};
    return op_registry::global().add(d);
}

TEST_F(OpsBuild, CustomOpsCheckTheRegistryAndTheShapeRule) {
    const int32_t id = register_test_op();
    EXPECT_GE(id, PA_OP_FIRST_DYNAMIC);
    EXPECT_EQ(register_test_op(), id); // same functions: same id
    tensor* x = f32({5});
    const int32_t p3[] = {3};
    tensor* t = custom(ctx, "test_ops_build_op", {x}, p3);
    EXPECT_EQ(t->op, id);
    EXPECT_EQ(t->ne[0], 3);
    EXPECT_EQ(t->ne[1], 5);
    EXPECT_EQ(t->src[0], x);
    EXPECT_TRUE(is_contiguous(t));

    EXPECT_PA_ERROR(custom(ctx, "no_such_op_anywhere", {x}, p3), "unknown op");
    EXPECT_PA_ERROR(custom(ctx, "test_ops_build_op", {}, p3), "sources");
    EXPECT_PA_ERROR(custom(ctx, "test_ops_build_op", {x, x, x}, p3), "sources");
    EXPECT_PA_ERROR(custom(ctx, "test_ops_build_op", {nullptr}, p3), "null");
    const int32_t bad[] = {-2};
    EXPECT_PA_ERROR(custom(ctx, "test_ops_build_op", {x}, bad), "rows must be positive, got -2");
    const int32_t empty[] = {7};
    EXPECT_PA_ERROR(custom(ctx, "test_ops_build_op", {x}, empty), "empty");
    const int32_t many[PA_MAX_OP_PARAMS + 1] = {3};
    EXPECT_PA_ERROR(custom(ctx, "test_ops_build_op", {x}, many), "params");
    const int32_t huge[] = {9};
    EXPECT_PA_ERROR(custom(ctx, "test_ops_build_op", {x}, huge), std::to_string(max_tensor_elements));

    // a different op under a taken name is refused; so is one without a CPU reference
    const pa_op_desc clash{"test_ops_build_op", 1, 1, test_infer, nullptr};
    EXPECT_THROW(op_registry::global().add(clash), error);
    const pa_op_desc clash2{"test_ops_build_op", 0, 1, test_infer, test_cpu};
    EXPECT_NO_THROW(op_registry::global().add(clash2)); // same functions: accepted as the same op
    const pa_op_desc no_name{"", 1, 1, test_infer, test_cpu};
    EXPECT_THROW(op_registry::global().add(no_name), error);
    const pa_op_desc bad_range{"test_ops_build_bad_range", 2, 1, test_infer, test_cpu};
    EXPECT_THROW(op_registry::global().add(bad_range), error);
    const pa_op_desc too_many{"test_ops_build_too_many", 0, PA_MAX_SRC + 1, test_infer, test_cpu};
    EXPECT_THROW(op_registry::global().add(too_many), error);
}

TEST_F(OpsBuild, BuiltinNamesAreInTheRegistry) {
    const op_registry& reg = op_registry::global();
    EXPECT_EQ(reg.find("mul_mat"), PA_OP_MUL_MAT);
    EXPECT_EQ(reg.find("flash_attn_ext"), PA_OP_FLASH_ATTN_EXT);
    EXPECT_EQ(reg.find("soft_max_ext"), PA_OP_SOFT_MAX);
    EXPECT_EQ(reg.name(PA_OP_ROPE), "rope");
    EXPECT_EQ(reg.name(12345), "?");
    EXPECT_EQ(reg.get(PA_OP_BUILTIN_COUNT), nullptr);
    EXPECT_EQ(reg.find("nope"), -1);
}

} // namespace
} // namespace pa
