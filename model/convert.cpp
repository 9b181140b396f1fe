// convert.cpp - llama2.c -> GGUF conversion and GGUF requantization (see convert.h).
#include "convert.h"

#include <cctype>
#include <cstring>
#include <fmt/format.h>

#include "pa/error.h"

namespace pa::model {
namespace {

constexpr const char* spm_space = "\xe2\x96\x81"; // U+2581, SentencePiece's visible space

bool is_byte_token(const std::string& s) {
    return s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>' &&
           std::isxdigit((unsigned char)s[3]) && std::isxdigit((unsigned char)s[4]);
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        if (s.compare(i, from.size(), from) == 0) {
            out += to;
            i += from.size();
        } else {
            out += s[i++];
        }
    }
    return out;
}

// Converts n F32 values (whole rows of ne0) to type t.
std::vector<uint8_t> encode_rows(pa_type t, const float* src, int64_t ne0, int64_t rows) {
    const size_t rs = row_size(t, ne0);
    std::vector<uint8_t> out(rs * size_t(rows));
    for (int64_t r = 0; r < rows; ++r) {
        if (t == PA_TYPE_F32) {
            std::memcpy(out.data() + rs * r, src + r * ne0, rs);
        } else {
            quantize_row(t, src + r * ne0, out.data() + rs * r, ne0);
        }
    }
    return out;
}

void set_tokenizer(gguf::writer& w, const llama2c_tokenizer& tok) {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    for (size_t i = 0; i < tok.tokens.size(); ++i) {
        // llama2.c's exporter wrote BOS/EOS as "\n<s>\n" / "\n</s>\n" and spaces literally.
        std::string s = tok.tokens[i];
        int32_t type = tt_normal;
        if (i == 0) {
            s = "<unk>";
            type = tt_unknown;
        } else if (i == 1) {
            s = "<s>";
            type = tt_control;
        } else if (i == 2) {
            s = "</s>";
            type = tt_control;
        } else if (is_byte_token(s)) {
            type = tt_byte;
        } else {
            s = replace_all(s, " ", spm_space);
        }
        tokens.push_back(std::move(s));
        types.push_back(type);
    }
    set_spm_vocabulary(w, std::move(tokens), tok.scores, types);
    w.set("tokenizer.ggml.add_eos_token", gguf::value::of_bool(false));
    w.set("tokenizer.ggml.add_space_prefix", gguf::value::of_bool(true));
}

} // namespace

void set_spm_vocabulary(gguf::writer& w, std::vector<std::string> tokens, std::span<const float> scores,
                        std::span<const int32_t> types) {
    w.set("tokenizer.ggml.model", gguf::value::of_string("llama"));
    w.set("tokenizer.ggml.tokens", gguf::value::of_strings(std::move(tokens)));
    w.set("tokenizer.ggml.scores", gguf::value::of_f32s(scores));
    w.set("tokenizer.ggml.token_type", gguf::value::of_i32s(types));
    w.set("tokenizer.ggml.unknown_token_id", gguf::value::of_u32(0));
    w.set("tokenizer.ggml.bos_token_id", gguf::value::of_u32(1));
    w.set("tokenizer.ggml.eos_token_id", gguf::value::of_u32(2));
    w.set("tokenizer.ggml.add_bos_token", gguf::value::of_bool(true));
}

void set_llama_metadata(gguf::writer& w, const std::string& model_name, pa_type target,
                        const llama_shape& s) {
    const std::string a = "llama";
    w.set("general.architecture", gguf::value::of_string(a));
    w.set("general.name", gguf::value::of_string(model_name));
    w.set("general.file_type", gguf::value::of_u32(file_type_of(target)));
    if (traits(target).quantized) w.set("general.quantization_version", gguf::value::of_u32(2));
    w.set(a + ".context_length", gguf::value::of_u32(s.context));
    w.set(a + ".embedding_length", gguf::value::of_u32(s.embd));
    w.set(a + ".block_count", gguf::value::of_u32(s.layers));
    w.set(a + ".feed_forward_length", gguf::value::of_u32(s.ffn));
    w.set(a + ".rope.dimension_count", gguf::value::of_u32(s.rope_dims));
    w.set(a + ".attention.head_count", gguf::value::of_u32(s.heads));
    w.set(a + ".attention.head_count_kv", gguf::value::of_u32(s.kv_heads));
    w.set(a + ".attention.layer_norm_rms_epsilon", gguf::value::of_f32(s.rms_eps));
    w.set(a + ".rope.freq_base", gguf::value::of_f32(s.rope_theta));
    w.set(a + ".vocab_size", gguf::value::of_u32(s.vocab));
}

pa_type choose_weight_type(pa_type target, pa_type current, int n_dims, int64_t ne0, const std::string& name,
                           std::string* note) {
    if (note) note->clear();
    if (n_dims < 2) return current;
    const type_traits& tr = traits(target);
    if (ne0 % tr.block_elems != 0) {
        if (note)
            *note = fmt::format("{}: rows of {} are not whole {}-element blocks, kept F32", name, ne0,
                                tr.block_elems);
        return PA_TYPE_F32;
    }
    return target;
}

uint32_t file_type_of(pa_type target) {
    switch (target) {
    case PA_TYPE_F32:
        return 0;
    case PA_TYPE_F16:
        return 1;
    case PA_TYPE_Q4_0:
        return 2;
    case PA_TYPE_Q4_1:
        return 3;
    case PA_TYPE_Q8_0:
        return 7;
    default:
        throw error(fmt::format("convert: unsupported target type {}", type_name(target)));
    }
}

gguf::writer llama2c_to_gguf(const llama2c_checkpoint& ck, const llama2c_tokenizer& tok, pa_type target,
                             const std::string& model_name, std::vector<std::string>& notes) {
    const llama2c_config& c = ck.config;
    if (int(tok.tokens.size()) != c.vocab_size)
        throw error(fmt::format("convert: tokenizer has {} tokens, the checkpoint {}", tok.tokens.size(),
                                c.vocab_size));
    if (c.vocab_size < 3) // ids 0..2 become <unk>, <s>, </s> below
        throw error(fmt::format("convert: a vocabulary of {} tokens has no room for <unk>, <s> and </s>",
                                c.vocab_size));
    gguf::writer w;
    set_llama_metadata(w, model_name, target,
                       {uint32_t(c.seq_len), uint32_t(c.dim), uint32_t(c.n_layers), uint32_t(c.hidden_dim),
                        uint32_t(c.head_dim()), uint32_t(c.n_heads), uint32_t(c.n_kv_heads),
                        uint32_t(c.vocab_size), 1e-5f /* run.c's rmsnorm */, 10000.0f});
    set_tokenizer(w, tok);

    for (const named_weight& nw : ck.weights) {
        std::string note;
        const pa_type t =
            choose_weight_type(target, PA_TYPE_F32, int(nw.ne.size()), nw.ne[0], nw.name, &note);
        if (!note.empty()) notes.push_back(note);
        const int64_t rows = int64_t(nw.data.size()) / nw.ne[0];
        w.add_tensor(nw.name, t, nw.ne, encode_rows(t, nw.data.data(), nw.ne[0], rows));
    }
    return w;
}

gguf::writer convert_llama2c_files(const std::string& checkpoint, const std::string& tokenizer,
                                   pa_type target, std::vector<std::string>& notes) {
    const llama2c_checkpoint ck = load_llama2c_checkpoint(checkpoint);
    const llama2c_tokenizer tok = load_llama2c_tokenizer(tokenizer, ck.config.vocab_size);
    std::string name = checkpoint.substr(checkpoint.find_last_of('/') + 1);
    if (const size_t dot = name.rfind('.'); dot != std::string::npos && dot > 0) name.resize(dot);
    return llama2c_to_gguf(ck, tok, target, name, notes);
}

gguf::writer requantize_gguf(const gguf::file& in, pa_type target, std::vector<std::string>& notes) {
    gguf::writer w;
    w.set_all(in.metadata());
    w.set("general.file_type", gguf::value::of_u32(file_type_of(target)));
    if (traits(target).quantized) w.set("general.quantization_version", gguf::value::of_u32(2));
    std::vector<float> row;
    for (const gguf::tensor_info& ti : in.tensors()) {
        std::string note;
        const pa_type t = choose_weight_type(target, ti.type, int(ti.n_dims), ti.ne[0], ti.name, &note);
        if (!note.empty()) notes.push_back(note);
        const std::span<const int64_t> ne(ti.ne, ti.n_dims);
        const std::span<const uint8_t> src = in.tensor_bytes(ti);
        if (t == ti.type) {
            w.add_tensor_ref(ti.name, t, ne, src);
            continue;
        }
        const int64_t ne0 = ti.ne[0], rows = ti.nelements() / ne0;
        const size_t src_rs = row_size(ti.type, ne0), dst_rs = row_size(t, ne0);
        std::vector<uint8_t> out(dst_rs * size_t(rows));
        row.resize(size_t(ne0));
        for (int64_t r = 0; r < rows; ++r) {
            const uint8_t* s = src.data() + src_rs * r;
            if (ti.type == PA_TYPE_F32)
                std::memcpy(row.data(), s, src_rs);
            else
                dequantize_row(ti.type, s, row.data(), ne0);
            if (t == PA_TYPE_F32)
                std::memcpy(out.data() + dst_rs * r, row.data(), dst_rs);
            else
                quantize_row(t, row.data(), out.data() + dst_rs * r, ne0);
        }
        w.add_tensor(ti.name, t, ne, std::move(out));
    }
    return w;
}

} // namespace pa::model
