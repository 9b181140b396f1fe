// logits_file.h - the log-probability file of llama.cpp's perplexity tool
// (`llama-perplexity --kl-divergence-base FILE` writes it, `--kl-divergence` reads it), so a
// dense run (of pa or of llama.cpp) can be the base of a KL-divergence run elsewhere:
//
//   char[8] "_logits_", int32 n_ctx, int32 n_vocab, int32 n_chunk,
//   int32 tokens[n_chunk * n_ctx]           the evaluated token stream (chunk c = tokens[c*n_ctx ..])
//   per chunk, for each scored position (n_ctx - 1 - n_ctx/2 of them: llama.cpp scores the second
//   half of a chunk), one row of nv = 2 * ((n_vocab + 1) / 2) + 4 uint16:
//     float scale, float min_log_prob (the first 4 uint16), then q[n_vocab] (+ padding) with
//     log p_v = scale * q_v + min_log_prob; the row keeps the 16 nats below the top logit,
//     everything lower is q = 0.
// Little-endian, as written on x86 and ARM.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "logprob.h"

namespace pa::model {

inline constexpr int64_t logits_row_u16(int64_t n_vocab) {
    return 2 * ((n_vocab + 1) / 2) + 4;
}
inline constexpr int64_t logits_rows_per_chunk(int64_t n_ctx) {
    return n_ctx - 1 - n_ctx / 2;
}

struct file_closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

// A row of logits encoded as the file stores it (row holds logits_row_u16(n_vocab) values).
void encode_log_probs(std::span<const float> logits, const row_stats& s, uint16_t* row);

// Base statistics of one decoded row against new logits q (llama.cpp's KL rule: terms with
// log p_base <= -16 are left out).
struct base_row_cmp {
    double kl = 0;           // KL(base || q)
    double base_nll = 0;     // -log p_base(target)
    int32_t base_argmax = 0; // top token of the base
};
base_row_cmp compare_to_base(const uint16_t* row, std::span<const float> q_logits, const row_stats& qs,
                             int32_t target);

class logits_writer {
  public:
    // tokens: the first n_chunk * n_ctx tokens of the evaluated stream
    logits_writer(const std::string& path, int n_ctx, int n_vocab, int n_chunk,
                  std::span<const int32_t> tokens);
    void write_rows(const uint16_t* rows, int64_t n); // rows in order, logits_row_u16(n_vocab) each
    void close();                                     // checks the row count and flushes

  private:
    std::string path_;
    std::unique_ptr<std::FILE, file_closer> f_;
    int64_t row_len_ = 0, rows_expected_ = 0, rows_written_ = 0;
};

class logits_reader {
  public:
    explicit logits_reader(const std::string& path); // validates the header against the file size
    int n_ctx() const { return n_ctx_; }
    int n_vocab() const { return n_vocab_; }
    int n_chunk() const { return n_chunk_; }
    const std::vector<int32_t>& tokens() const { return tokens_; }
    const std::string& path() const { return path_; }
    // The next n rows, in file order, into buf (resized).
    void read_rows(int64_t n, std::vector<uint16_t>& buf);

  private:
    std::string path_;
    std::unique_ptr<std::FILE, file_closer> f_;
    int n_ctx_ = 0, n_vocab_ = 0, n_chunk_ = 0;
    std::vector<int32_t> tokens_;
    int64_t rows_left_ = 0;
};

} // namespace pa::model
