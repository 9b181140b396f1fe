// model.cpp - hyperparameters and weights from GGUF metadata, with shape checks.
#include "model.h"

#include <fmt/format.h>
#include <map>

#include "pa/error.h"

namespace pa::model {

model::model(const std::string& path) : file_(std::make_unique<gguf::file>(path)) {
    load();
}

model::model(std::unique_ptr<gguf::file> file) : file_(std::move(file)) {
    load();
}

tensor* model::weight(const std::string& name, std::initializer_list<int64_t> ne, bool required) {
    const gguf::tensor_info* ti = file_->find_tensor(name);
    if (!ti) {
        if (required) throw error(fmt::format("{}: missing tensor '{}'", file_->path(), name));
        return nullptr;
    }
    int64_t want[4] = {1, 1, 1, 1};
    int i = 0;
    for (int64_t n : ne)
        want[i++] = n;
    for (int d = 0; d < 4; ++d) {
        if (ti->ne[d] != want[d])
            throw error(fmt::format("{}: tensor '{}' is [{}, {}, {}, {}], expected [{}, {}, {}, {}]",
                                    file_->path(), name, ti->ne[0], ti->ne[1], ti->ne[2], ti->ne[3], want[0],
                                    want[1], want[2], want[3]));
    }
    return file_->make_tensor(weights_, *ti);
}

namespace {
// Sizes are read as int64 and stored as int: out-of-range values become -1 (rejected by the
// checks below) instead of wrapping into plausible ones (2^32 + 4 heads must not load as 4).
int narrow(int64_t v) {
    return v >= INT32_MIN && v <= INT32_MAX ? int(v) : -1;
}
} // namespace

void model::load() {
    const gguf::file& f = *file_;
    auto fail = [&](const std::string& what) { throw error(fmt::format("{}: {}", f.path(), what)); };
    hp_.arch_name = f.get_string("general.architecture");
    const std::string& a = hp_.arch_name;
    if (a == "llama")
        hp_.architecture = arch::llama;
    else if (a == "qwen2")
        hp_.architecture = arch::qwen2;
    else
        fail(fmt::format("architecture '{}' is not supported (llama, qwen2)", a));

    hp_.n_embd = narrow(f.get_int(a + ".embedding_length"));
    hp_.n_layer = narrow(f.get_int(a + ".block_count"));
    hp_.n_head = narrow(f.get_int(a + ".attention.head_count"));
    hp_.n_head_kv = narrow(f.get_int(a + ".attention.head_count_kv", hp_.n_head));
    hp_.n_ff = narrow(f.get_int(a + ".feed_forward_length"));
    hp_.n_ctx_train = narrow(f.get_int(a + ".context_length", 2048));
    hp_.rms_eps = float(f.get_float(a + ".attention.layer_norm_rms_epsilon", 1e-5));
    hp_.rope_theta = float(f.get_float(a + ".rope.freq_base", 10000.0));
    hp_.rope_mode = hp_.architecture == arch::qwen2 ? 2 : 0;
    const int limits[] = {hp_.n_embd, hp_.n_layer, hp_.n_head, hp_.n_head_kv, hp_.n_ff, hp_.n_ctx_train};
    for (int v : limits)
        if (v <= 0 || v > (1 << 24))
            fail("implausible hyperparameters (a size is <= 0 or above the limit of 2^24)");
    if (hp_.n_head % hp_.n_head_kv != 0)
        fail(fmt::format("{} heads are not a multiple of {} kv heads", hp_.n_head, hp_.n_head_kv));
    hp_.head_dim = narrow(f.get_int(a + ".attention.key_length", hp_.n_embd / hp_.n_head));
    if (hp_.head_dim <= 0 || hp_.head_dim % 2 != 0)
        fail(fmt::format("head dim {} must be even", hp_.head_dim));
    if (f.get_int(a + ".attention.value_length", hp_.head_dim) != hp_.head_dim)
        fail("different key and value head sizes are not supported");
    hp_.n_rot = narrow(f.get_int(a + ".rope.dimension_count", hp_.head_dim));
    if (hp_.n_rot <= 0 || hp_.n_rot > hp_.head_dim || hp_.n_rot % 2 != 0)
        fail(fmt::format("rope.dimension_count {} must be even and <= head dim {}", hp_.n_rot, hp_.head_dim));
    if (const gguf::value* s = f.find(a + ".rope.scaling.type"); s && s->as_string() != "none")
        fail(fmt::format("RoPE scaling '{}' is not supported", s->as_string()));

    tok_ = std::make_unique<tokenizer>(f);
    const gguf::tensor_info& emb = f.get_tensor("token_embd.weight");
    hp_.n_vocab = int(emb.ne[1]);
    if (hp_.n_vocab != tok_->n_vocab())
        fail(fmt::format("token_embd.weight has {} rows, the tokenizer {} tokens", hp_.n_vocab,
                         tok_->n_vocab()));

    const int64_t E = hp_.n_embd, Q = int64_t(hp_.n_head) * hp_.head_dim,
                  KV = int64_t(hp_.n_head_kv) * hp_.head_dim;
    const int64_t V = hp_.n_vocab, F = hp_.n_ff;
    token_embd = weight("token_embd.weight", {E, V});
    output_norm = weight("output_norm.weight", {E});
    output = weight("output.weight", {E, V}, false);
    if (!output) output = token_embd; // tied embeddings
    const bool bias = hp_.architecture == arch::qwen2;
    // per-layer records are allocated only for a block count the file's tensors could hold
    if (size_t(hp_.n_layer) > f.tensors().size())
        fail(fmt::format("block_count {} exceeds the file's {} tensors", hp_.n_layer, f.tensors().size()));
    layers.resize(size_t(hp_.n_layer));
    for (int l = 0; l < hp_.n_layer; ++l) {
        layer_weights& w = layers[size_t(l)];
        auto name = [&](const char* s) { return fmt::format("blk.{}.{}", l, s); };
        w.attn_norm = weight(name("attn_norm.weight"), {E});
        w.wq = weight(name("attn_q.weight"), {E, Q});
        w.wk = weight(name("attn_k.weight"), {E, KV});
        w.wv = weight(name("attn_v.weight"), {E, KV});
        w.wo = weight(name("attn_output.weight"), {Q, E});
        w.bq = weight(name("attn_q.bias"), {Q}, bias);
        w.bk = weight(name("attn_k.bias"), {KV}, bias);
        w.bv = weight(name("attn_v.bias"), {KV}, bias);
        w.ffn_norm = weight(name("ffn_norm.weight"), {E});
        w.ffn_gate = weight(name("ffn_gate.weight"), {E, F});
        w.ffn_up = weight(name("ffn_up.weight"), {E, F});
        w.ffn_down = weight(name("ffn_down.weight"), {F, E});
    }
}

std::string model::describe() const {
    std::map<std::string, int> types;
    for (const gguf::tensor_info& ti : file_->tensors())
        types[std::string(type_name(ti.type))]++;
    std::string ts;
    for (const auto& [name, n] : types)
        ts += fmt::format("{}{} {}", ts.empty() ? "" : ", ", n, name);
    return fmt::format("{}: {} layers, dim {}, {} heads ({} kv, head dim {}), ffn {}, vocab {}, ctx {}{}; "
                       "tensors: {}",
                       hp_.arch_name, hp_.n_layer, hp_.n_embd, hp_.n_head, hp_.n_head_kv, hp_.head_dim,
                       hp_.n_ff, hp_.n_vocab, hp_.n_ctx_train,
                       output == token_embd ? ", tied embeddings" : "", ts);
}

} // namespace pa::model
