// llama2c.h - llama2.c checkpoints (Karpathy's run.c format) and their tokenizer files.
//
// Checkpoint: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len),
// then F32 tensors: token embedding [vocab, dim], attention RMS [layers, dim],
// wq [layers, dim, dim], wk [layers, kv_dim, dim], wv [layers, kv_dim, dim], wo [layers, dim, dim],
// FFN RMS [layers, dim], w1 [layers, hidden, dim], w2 [layers, dim, hidden],
// w3 [layers, hidden, dim], final RMS [dim], two legacy RoPE tables (seq_len * head_dim / 2
// floats each, skipped), then the classifier [vocab, dim] if vocab_size was negative (unshared).
// Matrices are row-major [out, in], which is ggml's [ne0 = in, ne1 = out]: no transposition.
//
// Tokenizer (tok*.bin): int32 max_token_length, then per token: f32 score, int32 length, bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pa::model {

struct llama2c_config {
    int dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0, seq_len = 0;
    bool shared_classifier = true;
    int head_dim() const { return dim / n_heads; }
    int kv_dim() const { return head_dim() * n_kv_heads; }
};

// One weight in GGUF naming and ggml order (ne[0] fastest), F32 data.
struct named_weight {
    std::string name;
    std::vector<int64_t> ne;
    std::vector<float> data;
};

struct llama2c_checkpoint {
    llama2c_config config;
    std::vector<named_weight> weights; // token_embd, blk.i.*, output_norm, output (if unshared)
};

struct llama2c_tokenizer {
    int max_token_length = 0;
    std::vector<std::string> tokens; // as stored: spaces literal, "\n<s>\n" for BOS
    std::vector<float> scores;
};

// Both validate sizes against the file length before allocating; errors name the file.
llama2c_checkpoint load_llama2c_checkpoint(const std::string& path);
llama2c_tokenizer load_llama2c_tokenizer(const std::string& path, int vocab_size);

} // namespace pa::model
