// convert.h - llama2.c checkpoint -> llama-architecture GGUF, and GGUF requantization.
//
// Weight types: with --type f16 every 2-D weight becomes F16; with a block type (q8_0, q4_0,
// q4_1) every 2-D weight whose rows are whole 32-element blocks is quantized and the others
// stay F32 (each such case is reported in notes). 1-D tensors (norms, biases) stay as they are.
// RoPE: llama2.c rotates adjacent pairs (2i, 2i+1), which is what the llama architecture's
// "normal" RoPE (mode 0) does, so q/k weights are written unchanged.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "llama2c.h"
#include "pa/gguf.h"

namespace pa::model {

// The type a 2-D (or more) weight of row length ne0 gets for a target type; 1-D tensors keep
// `current`. Explains a fallback in *note (empty otherwise).
pa_type choose_weight_type(pa_type target, pa_type current, int n_dims, int64_t ne0, const std::string& name,
                           std::string* note);

// llama.cpp's general.file_type for a target type (ALL_F32 0, MOSTLY_F16 1, Q4_0 2, Q4_1 3, Q8_0 7).
uint32_t file_type_of(pa_type target);

// GGUF token types (llama.cpp's llama_token_type).
enum token_type : int32_t { tt_normal = 1, tt_unknown = 2, tt_control = 3, tt_byte = 6 };

// The shape of a llama-architecture model as its GGUF metadata gives it.
struct llama_shape {
    uint32_t context, embd, layers, ffn, rope_dims, heads, kv_heads, vocab;
    float rms_eps, rope_theta;
};
// general.* (architecture llama, name, file type of target) and the llama.* hyperparameters.
void set_llama_metadata(gguf::writer& w, const std::string& model_name, pa_type target, const llama_shape& s);
// An SPM vocabulary (tokenizer.ggml.model "llama"): pieces, scores and token types; ids 0, 1, 2
// are <unk>, <s> and </s>, and a BOS starts every text.
void set_spm_vocabulary(gguf::writer& w, std::vector<std::string> tokens, std::span<const float> scores,
                        std::span<const int32_t> types);

// Builds the GGUF (metadata + tensors). The writer owns the converted data.
gguf::writer llama2c_to_gguf(const llama2c_checkpoint& ck, const llama2c_tokenizer& tok, pa_type target,
                             const std::string& model_name, std::vector<std::string>& notes);

// The two files -> GGUF writer (model name from the checkpoint's file name).
gguf::writer convert_llama2c_files(const std::string& checkpoint, const std::string& tokenizer,
                                   pa_type target, std::vector<std::string>& notes);

// Copies metadata and converts tensors to the target type. The writer references tensors whose
// type does not change, so `in` must outlive the writer's write().
gguf::writer requantize_gguf(const gguf::file& in, pa_type target, std::vector<std::string>& notes);

} // namespace pa::model
