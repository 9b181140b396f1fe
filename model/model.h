// model.h - a llama-family model loaded from GGUF: hyperparameters, weights (tensors whose
// data points into the file's mmap, flagged PA_FLAG_PARAM) and its tokenizer.
//
// Architectures: "llama" (RoPE mode 0, adjacent pairs: llama.cpp's converter permutes HF
// q/k weights into this layout, and llama2.c checkpoints already are in it) and "qwen2"
// (NeoX RoPE, mode 2; q/k/v biases). Tied embeddings: without output.weight the classifier is
// token_embd.weight.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pa/context.h"
#include "pa/gguf.h"
#include "tokenizer.h"

namespace pa::model {

enum class arch { llama, qwen2 };

struct hparams {
    arch architecture = arch::llama;
    std::string arch_name;
    int n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0, n_ctx_train = 0;
    int head_dim = 0, n_rot = 0; // n_rot: rotated dims of each head
    float rope_theta = 10000.0f, rms_eps = 1e-5f;
    int rope_mode = 0;
    int n_gqa() const { return n_head / n_head_kv; }
};

// Weight shapes in ggml order (ne0 first); biases only for qwen2.
struct layer_weights {
    tensor* attn_norm = nullptr; // [n_embd]
    tensor* wq = nullptr;        // [n_embd, n_head * head_dim]
    tensor* wk = nullptr;        // [n_embd, n_head_kv * head_dim]
    tensor* wv = nullptr;        // [n_embd, n_head_kv * head_dim]
    tensor* wo = nullptr;        // [n_head * head_dim, n_embd]
    tensor* bq = nullptr;        // [n_head * head_dim]
    tensor* bk = nullptr;        // [n_head_kv * head_dim]
    tensor* bv = nullptr;        // [n_head_kv * head_dim]
    tensor* ffn_norm = nullptr;  // [n_embd]
    tensor* ffn_gate = nullptr;  // [n_embd, n_ff]   (llama2.c w1)
    tensor* ffn_up = nullptr;    // [n_embd, n_ff]   (w3)
    tensor* ffn_down = nullptr;  // [n_ff, n_embd]   (w2)
};

class model {
public:
    explicit model(const std::string& path); // throws pa::error naming the file and the problem
    // Takes an already opened file (tests build GGUF images in memory).
    explicit model(std::unique_ptr<gguf::file> file);

    const hparams& hp() const { return hp_; }
    const tokenizer& tok() const { return *tok_; }
    const gguf::file& file() const { return *file_; }
    std::string describe() const; // one line: arch, sizes, weight types

    tensor* token_embd = nullptr;  // [n_embd, n_vocab]
    tensor* output_norm = nullptr; // [n_embd]
    tensor* output = nullptr;      // [n_embd, n_vocab]; == token_embd when tied
    std::vector<layer_weights> layers;

private:
    void load();
    tensor* weight(const std::string& name, std::initializer_list<int64_t> ne, bool required = true);

    std::unique_ptr<gguf::file> file_;
    context weights_;
    hparams hp_;
    std::unique_ptr<tokenizer> tok_;
};

} // namespace pa::model
