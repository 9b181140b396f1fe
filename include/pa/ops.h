// ops.h - op constructors (ggml semantics). Each checks its preconditions (throws pa::error
// naming the op and the offending shapes), makes the result record, packs scalars into
// op_params and links src[]. Nothing is computed here.
#pragma once

#include <array>
#include <initializer_list>
#include <span>
#include <string_view>

#include "pa/context.h"

namespace pa {

// ---- views (no computation; results alias a's storage) ----------------------------------
tensor* view_1d(context& ctx, tensor* a, int64_t ne0, size_t offset);
tensor* view_2d(context& ctx, tensor* a, int64_t ne0, int64_t ne1, size_t nb1, size_t offset);
tensor* view_3d(context& ctx, tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, size_t nb1, size_t nb2,
                size_t offset);
tensor* view_4d(context& ctx, tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, size_t nb1,
                size_t nb2, size_t nb3, size_t offset);
tensor* reshape(context& ctx, tensor* a, std::initializer_list<int64_t> ne); // a contiguous
// Dimension i of a becomes dimension axis[i] of the result (as ggml_permute).
tensor* permute(context& ctx, tensor* a, int axis0, int axis1, int axis2, int axis3);
tensor* transpose(context& ctx, tensor* a); // swap dims 0 and 1

// ---- copies -----------------------------------------------------------------------------
tensor* cont(context& ctx, tensor* a);               // contiguous copy, same type
tensor* cont(context& ctx, tensor* a, pa_type type); // contiguous copy converted to type
tensor* cpy(context& ctx, tensor* a, tensor* b);     // write a (converted) into b; returns a view of b

// ---- compute ----------------------------------------------------------------------------
// a [ne0, rows, ne2, ne3] any type; ids I32 [n, ne2, ne3] (ids->ne[1] == a->ne[2]) -> F32 [ne0, n, ne2, ne3]
tensor* get_rows(context& ctx, tensor* a, tensor* ids);
tensor* add(context& ctx, tensor* a, tensor* b); // F32; b broadcast over a
tensor* mul(context& ctx, tensor* a, tensor* b); // F32; b broadcast over a
tensor* scale(context& ctx, tensor* a, float s);
tensor* rms_norm(context& ctx, tensor* a, float eps);
// a [K, M, a2, a3] any type, b F32 [K, N, b2, b3] -> F32 [M, N, b2, b3]; b2 % a2 == 0, b3 % a3 == 0
tensor* mul_mat(context& ctx, tensor* a, tensor* b);
// a F32 [d, H, N, 1]; rotates the first n_dims of each head; mode 0: pairs (2i, 2i+1);
// mode 2 (neox): pairs (i, i + n_dims/2). Position of token t = n_past + t.
inline constexpr int rope_mode_normal = 0;
inline constexpr int rope_mode_neox = 2;
tensor* rope(context& ctx, tensor* a, int n_dims, int mode, float theta, int n_past);
inline constexpr int rope_param_n_past = 3; // op_params slot of n_past
// softmax(a * scale + mask) along ne0; mask F32/F16 [ne0, >= ne1] or nullptr
tensor* soft_max_ext(context& ctx, tensor* a, tensor* mask, float scale);
tensor* silu(context& ctx, tensor* a);
tensor* swiglu(context& ctx, tensor* a, tensor* b); // silu(a) * b
// q F32 [d, N, H, 1]; k, v F32|F16 [d, Nkv, Hkv, 1] with H % Hkv == 0 (query head h reads
// kv head h / (H/Hkv)) -> F32 [d, H, N, 1] (reshape to [d*H, N] directly). Causal: query t
// sees keys j <= n_past + t; needs n_past + N <= Nkv. Non-causal sees all Nkv keys.
tensor* flash_attn_ext(context& ctx, tensor* q, tensor* k, tensor* v, float scale, int n_past,
                       bool causal = true);

// An op from the registry by name (plugin ops): its infer rule gives type and shape.
tensor* custom(context& ctx, std::string_view op_name, std::initializer_list<tensor*> srcs,
               std::span<const int32_t> params);

// flash_attn_ext parameter slots, shared with ops that replace it
inline constexpr int fa_param_scale = 0;
inline constexpr int fa_param_n_past = 1;
inline constexpr int fa_param_causal = 2;

} // namespace pa
