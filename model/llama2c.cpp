// llama2c.cpp - reads llama2.c checkpoints and tokenizer files (formats in llama2c.h).
#include "llama2c.h"

#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <memory>

#include "pa/error.h"

namespace pa::model {
namespace {

struct file_closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

// Whole-file read with a size cap; the files are small (MBs to a few hundred MB).
std::vector<uint8_t> read_file(const std::string& path) {
    std::unique_ptr<std::FILE, file_closer> f(std::fopen(path.c_str(), "rb"));
    if (!f) throw error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    if (std::fseek(f.get(), 0, SEEK_END) != 0) throw error(fmt::format("{}: cannot seek", path));
    const long size = std::ftell(f.get());
    if (size < 0) throw error(fmt::format("{}: cannot tell size", path));
    std::fseek(f.get(), 0, SEEK_SET);
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    if (size > 0 && std::fread(bytes.data(), 1, bytes.size(), f.get()) != bytes.size())
        throw error(fmt::format("{}: read failed", path));
    return bytes;
}

class reader {
public:
    reader(const std::vector<uint8_t>& b, const std::string& path) : b_(b), path_(path) {}
    size_t left() const { return b_.size() - pos_; }
    template <class T> T get(const char* what) {
        if (left() < sizeof(T)) throw error(fmt::format("{}: truncated reading {} at offset {}", path_, what, pos_));
        T v;
        std::memcpy(&v, b_.data() + pos_, sizeof v);
        pos_ += sizeof v;
        return v;
    }
    void get_floats(float* dst, size_t n, const std::string& what) {
        if (left() / sizeof(float) < n)
            throw error(fmt::format("{}: truncated reading {} ({} floats at offset {})", path_, what, n, pos_));
        std::memcpy(dst, b_.data() + pos_, n * sizeof(float));
        pos_ += n * sizeof(float);
    }
    void skip(size_t n, const char* what) {
        if (left() < n) throw error(fmt::format("{}: truncated skipping {}", path_, what));
        pos_ += n;
    }
    std::string get_bytes(size_t n, const std::string& what) {
        if (left() < n) throw error(fmt::format("{}: truncated reading {}", path_, what));
        std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
        pos_ += n;
        return s;
    }

private:
    const std::vector<uint8_t>& b_;
    const std::string& path_;
    size_t pos_ = 0;
};

constexpr int max_reasonable_dim = 1 << 16; // guards the size arithmetic below

} // namespace

llama2c_checkpoint load_llama2c_checkpoint(const std::string& path) {
    const std::vector<uint8_t> bytes = read_file(path);
    reader r(bytes, path);
    llama2c_checkpoint ck;
    llama2c_config& c = ck.config;
    c.dim = r.get<int32_t>("dim");
    c.hidden_dim = r.get<int32_t>("hidden_dim");
    c.n_layers = r.get<int32_t>("n_layers");
    c.n_heads = r.get<int32_t>("n_heads");
    c.n_kv_heads = r.get<int32_t>("n_kv_heads");
    c.vocab_size = r.get<int32_t>("vocab_size");
    c.seq_len = r.get<int32_t>("seq_len");
    c.shared_classifier = c.vocab_size > 0;
    if (c.vocab_size < 0 && c.vocab_size != INT32_MIN) c.vocab_size = -c.vocab_size; // INT32_MIN: rejected below
    const int fields[] = {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len};
    for (int v : fields)
        if (v <= 0 || v > max_reasonable_dim * 4)
            throw error(fmt::format("{}: implausible llama2.c header (dim {}, hidden {}, layers {}, heads {}, "
                                    "kv heads {}, vocab {}, seq_len {}; each must be 1 to {})", path, c.dim, c.hidden_dim,
                                    c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len, max_reasonable_dim * 4));
    if (c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0 || c.head_dim() % 2 != 0)
        throw error(fmt::format("{}: dim {} / heads {} / kv heads {} do not divide evenly", path, c.dim, c.n_heads,
                                c.n_kv_heads));
    // Expected size first, so nothing is allocated for a file that cannot hold the weights.
    const uint64_t D = c.dim, F = c.hidden_dim, L = c.n_layers, V = c.vocab_size, KV = c.kv_dim();
    uint64_t expect = V * D + L * (2 * D + D * D * 2 + KV * D * 2 + F * D * 3) + D +
                      uint64_t(c.seq_len) * c.head_dim(); // two rope tables of seq_len * head_dim / 2
    if (!c.shared_classifier) expect += V * D;
    if (r.left() / 4 < expect)
        throw error(fmt::format("{}: {} bytes of weights, the header needs {}", path, r.left(), expect * 4));

    auto read_tensor = [&](const std::string& name, std::vector<int64_t> ne) {
        size_t n = 1;
        for (int64_t e : ne) n *= size_t(e);
        named_weight w{name, std::move(ne), std::vector<float>(n)};
        r.get_floats(w.data.data(), n, name);
        return w;
    };
    // Per-layer tensors are stored layer-major for each kind; read kind by kind, then order
    // them block by block as GGUF files usually are.
    auto read_layers = [&](const std::string& kind, std::vector<int64_t> ne) {
        std::vector<named_weight> ws;
        for (int l = 0; l < c.n_layers; ++l) ws.push_back(read_tensor(fmt::format("blk.{}.{}.weight", l, kind), ne));
        return ws;
    };
    const int64_t d = c.dim, f = c.hidden_dim, kv = c.kv_dim();
    named_weight embd = read_tensor("token_embd.weight", {d, c.vocab_size});
    std::vector<std::vector<named_weight>> kinds;
    kinds.push_back(read_layers("attn_norm", {d}));
    kinds.push_back(read_layers("attn_q", {d, d}));
    kinds.push_back(read_layers("attn_k", {d, kv}));
    kinds.push_back(read_layers("attn_v", {d, kv}));
    kinds.push_back(read_layers("attn_output", {d, d}));
    kinds.push_back(read_layers("ffn_norm", {d}));
    kinds.push_back(read_layers("ffn_gate", {d, f})); // w1
    kinds.push_back(read_layers("ffn_down", {f, d})); // w2
    kinds.push_back(read_layers("ffn_up", {d, f}));   // w3
    named_weight norm = read_tensor("output_norm.weight", {d});
    r.skip(size_t(c.seq_len) * c.head_dim() * sizeof(float), "legacy RoPE tables");

    ck.weights.push_back(std::move(embd));
    for (int l = 0; l < c.n_layers; ++l)
        for (auto& k : kinds) ck.weights.push_back(std::move(k[l]));
    ck.weights.push_back(std::move(norm));
    if (!c.shared_classifier) ck.weights.push_back(read_tensor("output.weight", {d, c.vocab_size}));
    return ck;
}

llama2c_tokenizer load_llama2c_tokenizer(const std::string& path, int vocab_size) {
    const std::vector<uint8_t> bytes = read_file(path);
    reader r(bytes, path);
    llama2c_tokenizer t;
    t.max_token_length = r.get<int32_t>("max_token_length");
    if (vocab_size <= 0 || size_t(vocab_size) > r.left() / 8)
        throw error(fmt::format("{}: {} tokens cannot fit in {} bytes", path, vocab_size, bytes.size()));
    t.tokens.reserve(size_t(vocab_size));
    t.scores.reserve(size_t(vocab_size));
    for (int i = 0; i < vocab_size; ++i) {
        t.scores.push_back(r.get<float>("token score"));
        const int32_t len = r.get<int32_t>("token length");
        if (len < 0 || len > t.max_token_length || size_t(len) > r.left())
            throw error(fmt::format("{}: token {} has length {} (max {})", path, i, len, t.max_token_length));
        t.tokens.push_back(r.get_bytes(size_t(len), fmt::format("token {}", i)));
    }
    if (r.left() != 0)
        throw error(fmt::format("{}: {} trailing bytes after {} tokens (vocab size mismatch?)", path, r.left(),
                                vocab_size));
    return t;
}

} // namespace pa::model
