// logits_file.cpp - see logits_file.h.
#include "logits_file.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <sys/stat.h>

#include "pa/error.h"

namespace pa::model {
namespace {

constexpr char magic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};
constexpr float kept_range = 16.0f; // nats below the top logit that a row resolves

} // namespace

void encode_log_probs(std::span<const float> logits, const row_stats& s, uint16_t* row) {
    const int64_t n = int64_t(logits.size());
    float lo = *std::min_element(logits.begin(), logits.end());
    lo = std::max(lo, s.max - kept_range);
    const float scale = (s.max - lo) / 65535.0f;
    const float min_log_prob = float(double(lo) - s.log_sum_exp);
    std::memcpy(row, &scale, sizeof scale);
    std::memcpy(row + 2, &min_log_prob, sizeof min_log_prob);
    uint16_t* q = row + 4;
    if (scale > 0) {
        const float inv = 1.0f / scale;
        for (int64_t i = 0; i < n; ++i)
            q[i] = logits[size_t(i)] > lo
                       ? uint16_t(std::lrint(std::min(65535.0f, inv * (logits[size_t(i)] - lo))))
                       : 0;
    } else {
        std::fill(q, q + n, uint16_t(0));
    }
    if (n % 2) q[n] = 0; // padding
}

base_row_cmp compare_to_base(const uint16_t* row, std::span<const float> q_logits, const row_stats& qs,
                             int32_t target) {
    float scale, min_log_prob;
    std::memcpy(&scale, row, sizeof scale);
    std::memcpy(&min_log_prob, row + 2, sizeof min_log_prob);
    const uint16_t* q = row + 4;
    const int64_t n = int64_t(q_logits.size());
    base_row_cmp r;
    r.base_argmax = int32_t(std::max_element(q, q + n) - q);
    r.base_nll = -(double(scale) * q[target] + double(min_log_prob));
    thread_local std::vector<float> lb, pb;
    lb.resize(size_t(n));
    pb.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i)
        lb[size_t(i)] = scale * float(q[i]) + min_log_prob;
    exp_nonpositive(lb.data(), pb.data(), n);
    double kl = 0;
    for (int64_t i = 0; i < n; ++i)
        if (lb[size_t(i)] > -kept_range)
            kl += double(pb[size_t(i)]) *
                  (double(lb[size_t(i)]) - (double(q_logits[size_t(i)]) - qs.log_sum_exp));
    r.kl = kl;
    return r;
}

logits_writer::logits_writer(const std::string& path, int n_ctx, int n_vocab, int n_chunk,
                             std::span<const int32_t> tokens)
    : path_(path), f_(std::fopen(path.c_str(), "wb")) {
    if (!f_) throw error(fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
    if (int64_t(tokens.size()) != int64_t(n_chunk) * n_ctx)
        throw error(fmt::format("{}: {} tokens for {} chunks of {}", path, tokens.size(), n_chunk, n_ctx));
    row_len_ = logits_row_u16(n_vocab);
    rows_expected_ = int64_t(n_chunk) * logits_rows_per_chunk(n_ctx);
    const int32_t head[3] = {n_ctx, n_vocab, n_chunk};
    bool ok = std::fwrite(magic, 1, sizeof magic, f_.get()) == sizeof magic;
    ok = ok && std::fwrite(head, sizeof head, 1, f_.get()) == 1;
    ok = ok && std::fwrite(tokens.data(), sizeof(int32_t), tokens.size(), f_.get()) == tokens.size();
    if (!ok) throw error(fmt::format("{}: write failed: {}", path, std::strerror(errno)));
}

void logits_writer::write_rows(const uint16_t* rows, int64_t n) {
    if (rows_written_ + n > rows_expected_)
        throw error(fmt::format("{}: more rows than the header announces", path_));
    if (std::fwrite(rows, sizeof(uint16_t) * size_t(row_len_), size_t(n), f_.get()) != size_t(n))
        throw error(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
    rows_written_ += n;
}

void logits_writer::close() {
    if (!f_) return;
    if (rows_written_ != rows_expected_)
        throw error(fmt::format("{}: {} of {} rows written", path_, rows_written_, rows_expected_));
    if (std::fclose(f_.release()) != 0)
        throw error(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
}

logits_reader::logits_reader(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "rb")) {
    if (!f_) throw error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    char m[8];
    int32_t head[3];
    if (std::fread(m, 1, sizeof m, f_.get()) != sizeof m || std::memcmp(m, magic, sizeof m) != 0)
        throw error(fmt::format("{}: not a logits file (no \"_logits_\" header)", path));
    if (std::fread(head, sizeof head, 1, f_.get()) != 1)
        throw error(fmt::format("{}: truncated header", path));
    n_ctx_ = head[0];
    n_vocab_ = head[1];
    n_chunk_ = head[2];
    if (n_ctx_ < 2 || n_vocab_ <= 0 || n_chunk_ <= 0 || n_ctx_ > (1 << 24) || n_vocab_ > (1 << 24) ||
        n_chunk_ > (1 << 24))
        throw error(fmt::format("{}: implausible header (n_ctx {}, n_vocab {}, n_chunk {})", path, n_ctx_,
                                n_vocab_, n_chunk_));
    rows_left_ = int64_t(n_chunk_) * logits_rows_per_chunk(n_ctx_);
    const uint64_t want = sizeof m + sizeof head + uint64_t(n_chunk_) * uint64_t(n_ctx_) * sizeof(int32_t) +
                          uint64_t(rows_left_) * uint64_t(logits_row_u16(n_vocab_)) * sizeof(uint16_t);
    struct stat st {};
    if (fstat(fileno(f_.get()), &st) != 0 || uint64_t(st.st_size) != want)
        throw error(fmt::format("{}: {} bytes, but a header of n_ctx {}, n_vocab {}, n_chunk {} needs {}",
                                path, uint64_t(st.st_size), n_ctx_, n_vocab_, n_chunk_, want));
    tokens_.resize(size_t(n_chunk_) * size_t(n_ctx_));
    if (std::fread(tokens_.data(), sizeof(int32_t), tokens_.size(), f_.get()) != tokens_.size())
        throw error(fmt::format("{}: truncated token list", path));
}

void logits_reader::read_rows(int64_t n, std::vector<uint16_t>& buf) {
    if (n > rows_left_) throw error(fmt::format("{}: fewer rows than needed", path_));
    const int64_t len = logits_row_u16(n_vocab_);
    buf.resize(size_t(n * len));
    if (std::fread(buf.data(), sizeof(uint16_t) * size_t(len), size_t(n), f_.get()) != size_t(n))
        throw error(fmt::format("{}: read failed", path_));
    rows_left_ -= n;
}

} // namespace pa::model
