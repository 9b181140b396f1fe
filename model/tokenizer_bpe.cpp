// tokenizer_bpe.cpp - GPT-2 byte-level BPE ("gpt2" tokenizer model) for one pre-tokenized
// word: map its bytes to GPT-2's printable alphabet, start from single codepoints and apply
// tokenizer.ggml.merges by rank (lowest first).
#include "bpe_merge.h"
#include "tokenizer.h"
#include "unicode.h"

namespace pa::model {

void tokenizer::encode_bpe_word(std::string_view word, std::vector<int32_t>& out) const {
    std::string mapped;
    mapped.reserve(word.size() * 2);
    for (char c : word) utf8_append(mapped, byte_to_codepoint(static_cast<uint8_t>(c)));
    std::vector<bpe_symbol> syms;
    syms.reserve(word.size());
    for (size_t i = 0; i < mapped.size();) {
        const size_t len = utf8_len(static_cast<unsigned char>(mapped[i]));
        bpe_append(syms, i, len, find(std::string_view(mapped).substr(i, len)));
        i += len;
    }
    if (syms.empty()) return;

    bpe_merge(syms, [&](const bpe_symbol& l, const bpe_symbol& r) -> std::optional<bpe_rating> {
        if (l.id < 0 || r.id < 0) return std::nullopt;
        const auto it = merges_.find(uint64_t(uint32_t(l.id)) << 32 | uint32_t(r.id));
        if (it == merges_.end()) return std::nullopt;
        return bpe_rating{double(it->second.rank), it->second.id};
    });

    for (int32_t i = 0; i >= 0; i = syms[size_t(i)].next) {
        const bpe_symbol& s = syms[size_t(i)];
        if (s.id >= 0) out.push_back(s.id);
        else if (unk_ >= 0) out.push_back(unk_);
    }
}

} // namespace pa::model
