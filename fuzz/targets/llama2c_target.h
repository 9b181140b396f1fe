// llama2c_target.h - fuzz body for the llama2.c checkpoint and tokenizer loaders
// (examples/model/llama2c.h), and the converter to GGUF behind them.
//
// Input: one mode byte, then the file. Mode bit 0: 0 = checkpoint, 1 = tokenizer file; bits 2..
// pick the conversion target type. A tokenizer file also takes a u16 vocabulary size. Whatever
// loads is converted to GGUF (the missing half is a tiny synthetic checkpoint or vocabulary)
// and loaded back as a model, so the converter and the model loader see fuzzed weights and
// fuzzed vocabularies too.
#pragma once

#include <fmt/format.h>

#include "convert.h"
#include "fuzz_util.h"
#include "llama2c.h"
#include "model.h"
#include "pa/error.h"

namespace pa::fuzz {

// A valid llama2.c checkpoint: dim 2, hidden 2, 1 layer, 1 head, the given vocabulary, seq_len 1.
inline std::vector<uint8_t> tiny_checkpoint(int32_t vocab, bool shared_classifier = true) {
    const int32_t header[7] = {2, 2, 1, 1, 1, shared_classifier ? vocab : -vocab, 1};
    const size_t floats =
        2 * size_t(vocab) + (4 + 8 + 8 + 12) + 2 + 2 + (shared_classifier ? 0 : 2 * size_t(vocab));
    std::vector<uint8_t> out(sizeof header + floats * 4);
    std::memcpy(out.data(), header, sizeof header);
    for (size_t i = 0; i < floats; ++i) {
        const float v = float(int(i % 7) - 3) * 0.25f;
        std::memcpy(out.data() + sizeof header + i * 4, &v, 4);
    }
    return out;
}

// A llama2.c vocabulary: byte tokens "<0x00>".."<0xFF>" after <unk>, <s>, </s>, then words.
inline model::llama2c_tokenizer tiny_vocabulary(int32_t vocab) {
    model::llama2c_tokenizer t;
    t.max_token_length = 8;
    for (int32_t i = 0; i < vocab; ++i) {
        std::string s = i < 3     ? std::string(i == 0   ? "<unk>"
                                                : i == 1 ? "\n<s>\n"
                                                         : "\n</s>\n")
                        : i < 259 ? fmt::format("<0x{:02X}>", i - 3)
                                  : fmt::format("{}{}", i % 2 ? " " : "", char('a' + i % 26));
        t.tokens.push_back(std::move(s));
        t.scores.push_back(-float(i));
    }
    return t;
}

inline void convert_and_load(const model::llama2c_checkpoint& ck, const model::llama2c_tokenizer& tok,
                             pa_type target) {
    std::vector<std::string> notes;
    std::vector<uint8_t> image;
    try {
        image = model::llama2c_to_gguf(ck, tok, target, "fuzz", notes).to_memory();
    } catch (const pa::error&) {
        return;
    }
    // The converter's output must be a loadable model: any error here is a converter bug.
    try {
        const model::model m(gguf::file::from_memory(image, "converted.gguf"));
        check(m.hp().n_vocab == ck.config.vocab_size, "converted vocabulary size differs");
        for (const std::string& s :
             {std::string("hello world"), std::string("\xff\xfe<s> a b"), std::string()}) {
            const std::vector<int32_t> ids = m.tok().encode(s, true);
            for (int32_t id : ids)
                check(id >= 0 && id < m.tok().n_vocab(), "token id outside the vocabulary");
            (void)m.tok().decode(ids);
        }
    } catch (const pa::error& e) {
        throw invariant_broken(fmt::format("a converted llama2.c model does not load: {}", e.what()));
    }
}

inline void run_llama2c(std::span<const uint8_t> data) {
    input in(data);
    const uint8_t mode = in.byte();
    constexpr pa_type targets[] = {PA_TYPE_F32, PA_TYPE_F16, PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1};
    const pa_type target = targets[(mode >> 2) % 5];
    if ((mode & 1) == 0) {
        const memfile f(in.rest_bytes());
        model::llama2c_checkpoint ck;
        try {
            ck = model::load_llama2c_checkpoint(f.path());
        } catch (const pa::error& e) {
            check(std::string_view(e.what()).starts_with(f.path()), "error does not name the file");
            return;
        }
        for (const model::named_weight& w : ck.weights) {
            size_t n = 1;
            for (int64_t e : w.ne)
                n *= size_t(e);
            check(n == w.data.size(),
                  fmt::format("weight {} holds {} floats for {} elements", w.name, w.data.size(), n));
        }
        if (ck.config.vocab_size <= 4096) convert_and_load(ck, tiny_vocabulary(ck.config.vocab_size), target);
        return;
    }
    const int32_t vocab = int32_t(in.take<uint16_t>() % 1024) + 1;
    const memfile f(in.rest_bytes());
    model::llama2c_tokenizer tok;
    try {
        tok = model::load_llama2c_tokenizer(f.path(), vocab);
    } catch (const pa::error& e) {
        check(std::string_view(e.what()).starts_with(f.path()), "error does not name the file");
        return;
    }
    check(tok.tokens.size() == size_t(vocab) && tok.scores.size() == size_t(vocab),
          "vocabulary size differs");
    const memfile ckf(tiny_checkpoint(vocab));
    convert_and_load(model::load_llama2c_checkpoint(ckf.path()), tok, target);
}

} // namespace pa::fuzz
