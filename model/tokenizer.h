// tokenizer.h - tokenizers read from GGUF metadata (tokenizer.ggml.*).
//
// "llama": SentencePiece-style BPE over codepoints: spaces become U+2581, a space is put in
//          front of the text (add_space_prefix), the adjacent pair whose merged text is the
//          highest-scoring token merges first (leftmost on ties), and what is left over falls
//          back to <0xXX> byte tokens.
// "gpt2":  byte-level BPE: the text is split into words by the model's pre-tokenizer
//          (tokenizer.ggml.pre), each word's bytes are mapped to GPT-2's printable alphabet,
//          and tokenizer.ggml.merges apply by rank (lowest first).
// Special tokens (control, user-defined and unknown) written in the text are matched whole first.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pa/gguf.h"
#include "pretokenize.h"

namespace pa::model {

enum class tokenizer_kind { spm, bpe };

class tokenizer {
  public:
    explicit tokenizer(const gguf::file& f); // throws pa::error naming the file and key

    // parse_special: text like "<|im_start|>" becomes that one token.
    std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = true) const;
    // The bytes a token stands for (control tokens give "" unless show_special).
    std::string piece(int32_t id, bool show_special = false) const;
    // Concatenated pieces; the space SentencePiece put in front of the text is removed.
    std::string decode(std::span<const int32_t> ids, bool show_special = false) const;

    tokenizer_kind kind() const { return kind_; }
    int32_t n_vocab() const { return int32_t(tokens_.size()); }
    int32_t bos() const { return bos_; }
    int32_t eos() const { return eos_; }
    bool add_bos() const { return add_bos_; }
    bool add_space_prefix() const { return add_space_prefix_; }
    bool is_eog(int32_t id) const; // end of generation: EOS, EOT and chat end markers
    bool is_control(int32_t id) const;
    const std::string& token_text(int32_t id) const { return tokens_.at(size_t(id)); }
    int32_t find(std::string_view text) const; // -1 if not a token

  private:
    void encode_fragment(std::string_view text, bool first_or_after_special, std::vector<int32_t>& out) const;
    void encode_spm(std::string_view text, std::vector<int32_t>& out) const;
    void encode_bpe_word(std::string_view word, std::vector<int32_t>& out) const;

    tokenizer_kind kind_ = tokenizer_kind::spm;
    pre_style pre_ = pre_style::gpt2;
    std::vector<std::string> tokens_;
    std::vector<float> scores_;
    std::vector<int32_t> types_;
    struct str_hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    struct merge_entry {
        int32_t rank, id;
    };
    std::unordered_map<std::string, int32_t, str_hash, std::equal_to<>> ids_;
    std::unordered_map<uint64_t, merge_entry> merges_; // (left id << 32 | right id) -> rank, merged id
    std::vector<int32_t> specials_;                    // matched in text, longest first
    std::vector<int32_t> eog_;
    int32_t byte_ids_[256]; // spm byte fallback tokens (-1 if absent)
    int32_t bos_ = -1, eos_ = -1, unk_ = -1;
    bool add_bos_ = true;
    bool add_space_prefix_ = true;
};

} // namespace pa::model
