// tokenizer_spm.cpp - SentencePiece-style BPE ("llama" tokenizer model): start from single
// codepoints, merge the adjacent pair whose concatenation is the highest-scoring token, and
// spell whatever is not a token with <0xXX> byte tokens.
#include "bpe_merge.h"
#include "tokenizer.h"
#include "unicode.h"

namespace pa::model {

void tokenizer::encode_spm(std::string_view text, std::vector<int32_t>& out) const {
    std::vector<bpe_symbol> syms;
    syms.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        // a truncated sequence ends at the first non-continuation byte: it must not swallow the
        // next character (e.g. the U+2581 of a space, which would then decode as its raw bytes)
        size_t len = 1;
        const size_t want = std::min(utf8_len(static_cast<unsigned char>(text[i])), text.size() - i);
        while (len < want && (static_cast<unsigned char>(text[i + len]) & 0xC0) == 0x80) ++len;
        bpe_append(syms, i, len, find(text.substr(i, len)));
        i += len;
    }
    if (syms.empty()) return;

    bpe_merge(syms, [&](const bpe_symbol& l, const bpe_symbol& r) -> std::optional<bpe_rating> {
        const int32_t id = find(text.substr(l.start, l.len + r.len));
        if (id < 0) return std::nullopt;
        return bpe_rating{-double(scores_[size_t(id)]), id};
    });

    for (int32_t i = 0; i >= 0; i = syms[size_t(i)].next) {
        const bpe_symbol& s = syms[size_t(i)];
        if (s.id >= 0) {
            out.push_back(s.id);
            continue;
        }
        for (uint32_t k = 0; k < s.len; ++k) { // byte fallback
            const int32_t b = byte_ids_[static_cast<unsigned char>(text[s.start + k])];
            if (b >= 0) out.push_back(b);
            else if (unk_ >= 0) out.push_back(unk_);
        }
    }
}

} // namespace pa::model
