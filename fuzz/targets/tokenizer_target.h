// tokenizer_target.h - fuzz bodies for the tokenizers (examples/model/tokenizer.h):
//   run_tokenizer_encode  arbitrary text through fixed vocabularies: stories260K's SentencePiece
//                         BPE (tests/data/tok512.bin, converted) and a small GPT-2 byte-level BPE
//                         under every pre-tokenizer. Byte-level BPE must round-trip any bytes;
//                         SentencePiece with byte fallback must round-trip any text without U+2581.
//   run_tokenizer_meta    a GGUF image (tokenizer.ggml.* metadata) -> tokenizer construction ->
//                         encode/decode/piece of every token.
#pragma once

#include <fmt/format.h>

#include <memory>
#include <vector>

#include "convert.h"
#include "fuzz_util.h"
#include "pa/error.h"
#include "tokenizer.h"
#include "unicode.h"

#ifndef PA_FUZZ_DATA_DIR
#error "PA_FUZZ_DATA_DIR must name tests/data (stories260K.bin, tok512.bin)"
#endif

namespace pa::fuzz {

struct fixed_tokenizer {
    std::unique_ptr<gguf::file> file;
    std::unique_ptr<model::tokenizer> tok;
    bool byte_level = false; // every byte has a token: decode(encode(x)) == x
};

// The GPT-2 style vocabulary: 256 byte symbols, a few merges, two special tokens.
inline std::vector<uint8_t> small_bpe_vocab(const std::string& pre) {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) {
        std::string s;
        model::utf8_append(s, model::byte_to_codepoint(uint8_t(b)));
        tokens.push_back(s);
    }
    const std::vector<std::string> merges = {"h e", "l l", "he ll", "hell o", "\xc4\xa0 w", "o r", "\xc4\xa0w or",
                                             "\xc4\xa0 t", "\xc4\xa0t he", "1 2", "12 3", "\xc4\x8a \xc4\x8a"};
    for (const char* t : {"he", "ll", "hell", "hello", "\xc4\xa0w", "or", "\xc4\xa0wor", "\xc4\xa0t", "\xc4\xa0the", "12",
                          "123", "\xc4\x8a\xc4\x8a", "<|endoftext|>", "<|im_start|>"})
        tokens.push_back(t);
    std::vector<int32_t> types(tokens.size(), 1);
    types[types.size() - 2] = 3; // control
    types[types.size() - 1] = 4; // user defined
    gguf::writer w;
    w.set("tokenizer.ggml.model", gguf::value::of_string("gpt2"));
    w.set("tokenizer.ggml.pre", gguf::value::of_string(pre));
    w.set("tokenizer.ggml.tokens", gguf::value::of_strings(tokens));
    w.set("tokenizer.ggml.token_type", gguf::value::of_i32s(types));
    w.set("tokenizer.ggml.merges", gguf::value::of_strings(merges));
    w.set("tokenizer.ggml.eos_token_id", gguf::value::of_u32(uint32_t(tokens.size() - 2)));
    w.set("tokenizer.ggml.bos_token_id", gguf::value::of_u32(uint32_t(tokens.size() - 2)));
    return w.to_memory();
}

// stories260K's tokenizer metadata as the converter writes it (the weights are dropped).
inline std::vector<uint8_t> stories_vocab() {
    std::vector<std::string> notes;
    const std::string dir = PA_FUZZ_DATA_DIR;
    const gguf::writer full =
        model::convert_llama2c_files(dir + "/stories260K.bin", dir + "/tok512.bin", PA_TYPE_F32, notes);
    const std::unique_ptr<gguf::file> f = gguf::file::from_memory(full.to_memory(), "stories260K.gguf");
    gguf::writer w;
    for (const gguf::kv& e : f->metadata())
        if (e.key.starts_with("tokenizer.")) w.set(e.key, e.val);
    return w.to_memory();
}

inline const std::vector<fixed_tokenizer>& fixed_tokenizers() {
    static const std::vector<fixed_tokenizer> all = [] {
        std::vector<fixed_tokenizer> v;
        auto add = [&](const std::vector<uint8_t>& image, const std::string& name, bool byte_level) {
            fixed_tokenizer t;
            t.file = gguf::file::from_memory(image, name);
            t.tok = std::make_unique<model::tokenizer>(*t.file);
            t.byte_level = byte_level;
            v.push_back(std::move(t));
        };
        add(stories_vocab(), "stories260K", false);
        for (const char* pre : {"gpt2", "smollm", "llama-bpe", "qwen2"}) add(small_bpe_vocab(pre), pre, true);
        return v;
    }();
    return all;
}

inline void check_ids(const model::tokenizer& t, const std::vector<int32_t>& ids) {
    for (int32_t id : ids) check(id >= 0 && id < t.n_vocab(), fmt::format("token id {} outside [0, {})", id, t.n_vocab()));
}

inline void run_tokenizer_encode(std::span<const uint8_t> data) {
    input in(data);
    const uint8_t sel = in.byte();
    const auto& all = fixed_tokenizers();
    const fixed_tokenizer& ft = all[(sel & 0x0f) % all.size()];
    const bool add_bos = (sel & 0x10) != 0, parse_special = (sel & 0x20) != 0;
    const std::string_view text = in.rest();
    const model::tokenizer& t = *ft.tok;
    const std::vector<int32_t> ids = t.encode(text, add_bos, parse_special);
    check_ids(t, ids);
    const std::string back = t.decode(ids, parse_special);
    const std::vector<int32_t> plain = t.encode(text, false, false);
    check_ids(t, plain);
    check(text.empty() == plain.empty(), "non-empty text gave no tokens (or empty text some)");
    const std::string plain_back = t.decode(plain);
    const bool spm_space_in_text = text.find("\xe2\x96\x81") != std::string_view::npos;
    if (ft.byte_level || !spm_space_in_text)
        check(plain_back == text, fmt::format("{}: decode(encode(text)) differs from the text ({} -> {} bytes)",
                                              ft.file->path(), text.size(), plain_back.size()));
    for (int32_t id : plain) (void)t.piece(id, true);
}

inline void run_tokenizer_meta(std::span<const uint8_t> data) {
    std::unique_ptr<gguf::file> f;
    try {
        f = gguf::file::from_memory(data, "tokenizer.gguf");
    } catch (const pa::error&) {
        return;
    }
    std::unique_ptr<model::tokenizer> t;
    try {
        t = std::make_unique<model::tokenizer>(*f);
    } catch (const pa::error& e) {
        check(std::string_view(e.what()).starts_with("tokenizer.gguf: "), "error does not name the file");
        return;
    }
    check(t->n_vocab() > 0, "empty vocabulary accepted");
    check(t->bos() >= -1 && t->bos() < t->n_vocab() && t->eos() >= -1 && t->eos() < t->n_vocab(),
          "special token ids outside the vocabulary");
    const int32_t n = std::min(t->n_vocab(), 2048);
    std::string all;
    for (int32_t id = 0; id < n; ++id) {
        all += t->piece(id, true);
        (void)t->is_eog(id);
        (void)t->is_control(id);
        check(t->find(t->token_text(id)) >= 0, "a token's own text is not found");
    }
    (void)t->piece(-1);
    (void)t->piece(t->n_vocab());
    if (all.size() > 8192) all.resize(8192);
    for (const std::string& s : {all, std::string("Hello world! <s> <|im_start|>user\n 12345 \xe2\x96\x81 \xf0\x9f\x98\x80"),
                                 std::string("\xff\xfe\x80"), std::string(" "), std::string()}) {
        for (bool special : {false, true}) {
            const std::vector<int32_t> ids = t->encode(s, t->add_bos(), special);
            check_ids(*t, ids);
            (void)t->decode(ids, special);
        }
    }
}

} // namespace pa::fuzz
