/* pa_tensor.h - the tensor record shared by the runtime and every plugin (plain C).
 *
 * Layout follows ggml: ne[i] is the number of elements along dimension i (ne[0] is the
 * fastest-varying, e.g. the head dimension), nb[i] is the stride in BYTES between two
 * consecutive elements along dimension i. For block-quantized types nb[0] is the size of one
 * block in bytes and nb[1] = nb[0] * ne[0] / block_elements, as in ggml: a row (ne[0]
 * elements) is always a whole number of blocks.
 *
 * Storage: a tensor either owns storage (view_src == NULL) or is a view into view_src (always
 * the ROOT owner, never another view) at byte offset view_offs. Host storage is `data`;
 * device storage is (`buffer`, `offs`), an opaque handle owned by the backend that made it.
 */
#ifndef PA_TENSOR_H
#define PA_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PA_MAX_DIMS 4
#define PA_MAX_SRC 6
#define PA_MAX_OP_PARAMS 16 /* int32 slots; floats are stored bit-cast */
#define PA_MAX_NAME 64

/* Element types. The numeric values are the GGUF / ggml type ids. */
enum pa_type {
    PA_TYPE_F32 = 0,
    PA_TYPE_F16 = 1,
    PA_TYPE_Q4_0 = 2,
    PA_TYPE_Q4_1 = 3,
    PA_TYPE_Q8_0 = 8,
    PA_TYPE_I32 = 26,
    PA_TYPE_COUNT = 27 /* one past the largest id; not every id below is a valid type */
};

/* Built-in ops. Ids >= PA_OP_FIRST_DYNAMIC are handed out by the op registry to ops that
 * plugins add (e.g. proxy_sparse_attn); look those up by name. */
enum pa_op {
    PA_OP_NONE = 0, /* leaf: input, weight, cache */
    /* pure views: no computation, the result aliases src[0]'s storage */
    PA_OP_VIEW,
    PA_OP_RESHAPE,
    PA_OP_PERMUTE,
    PA_OP_TRANSPOSE,
    /* computing ops */
    PA_OP_GET_ROWS,   /* src0 [ne0, rows, ne2, ne3] any type, src1 I32 [n, ne2, ne3] -> F32 [ne0, n, ne2, ne3] */
    PA_OP_ADD,        /* src0 + src1, src1 broadcast (its ne divide src0's) */
    PA_OP_MUL,        /* src0 * src1, broadcast as ADD */
    PA_OP_SCALE,      /* src0 * p.f[0] */
    PA_OP_RMS_NORM,   /* along ne0, eps = p.f[0] */
    PA_OP_MUL_MAT,    /* src0 [K, M, a2, a3] any type, src1 F32 [K, N, b2, b3] -> F32 [M, N, b2, b3]; b2 % a2 == 0, b3 % a3 == 0 */
    PA_OP_ROPE,       /* src0 F32 [d, H, N, 1]; params: i[0] n_dims, i[1] mode (0 normal, 2 neox), f[2] theta, i[3] n_past; position of token t (ne2 index) = n_past + t */
    PA_OP_SOFT_MAX,   /* softmax(src0 * f[0] + src1) along ne0; src1 (mask, optional) F32/F16 [ne0, ne1] broadcast over dims 2,3 */
    PA_OP_SILU,
    PA_OP_SWIGLU,     /* silu(src0) * src1, same shapes */
    PA_OP_CPY,        /* convert src0 into the node's own type/strides; the node is a fresh tensor (cont) or a view of src1 (cpy) */
    PA_OP_FLASH_ATTN_EXT, /* q F32 [d, N, H], k/v F32|F16 [d, Nkv, Hkv] -> F32 [d, H, N]; f[0] scale, i[1] n_past, i[2] causal */
    PA_OP_BUILTIN_COUNT,
    PA_OP_FIRST_DYNAMIC = 64
};

enum pa_tensor_flag {
    PA_FLAG_INPUT = 1u << 0,  /* host data is (re)uploaded at every compute */
    PA_FLAG_PARAM = 1u << 1,  /* weights: uploaded once per backend and kept */
    PA_FLAG_OUTPUT = 1u << 2, /* copied back to host data after compute */
    PA_FLAG_PERSIST = 1u << 3 /* device state kept across computes (KV cache) */
};

struct pa_tensor {
    enum pa_type type;
    int64_t ne[PA_MAX_DIMS];
    size_t nb[PA_MAX_DIMS];

    int32_t op; /* enum pa_op or a registry id */
    int32_t op_params[PA_MAX_OP_PARAMS];
    uint32_t flags;
    struct pa_tensor *src[PA_MAX_SRC];

    struct pa_tensor *view_src; /* root owner of the storage, or NULL */
    size_t view_offs;

    void *data;   /* host storage (CPU backend, leaves), or NULL */
    void *buffer; /* device storage handle of the backend that runs the node, or NULL */
    size_t offs;  /* byte offset into buffer */

    char name[PA_MAX_NAME];
};

/* Helpers for op params. */
static inline float pa_param_f(const struct pa_tensor *t, int i) {
    union { int32_t i; float f; } u; u.i = t->op_params[i]; return u.f;
}
static inline int32_t pa_param_i(const struct pa_tensor *t, int i) { return t->op_params[i]; }

#ifdef __cplusplus
}
#endif
#endif
