// pretokenize.h - splits text into words before byte-level BPE, as the tokenizer.json regexes
// of the supported models do, written as hand scanners (linear time, no std::regex):
//   gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   smollm: every \p{N} isolated first, then gpt2 on the rest
//   llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//           ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   qwen2:  as llama3 with \p{N} (one digit a word)
#pragma once

#include <string_view>
#include <vector>

namespace pa::model {

enum class pre_style { gpt2, smollm, llama3, qwen2 };

// tokenizer.ggml.pre -> style; unknown names fall back to gpt2 (*known = false).
pre_style pre_style_from_name(std::string_view name, bool* known = nullptr);

// Words in order; their concatenation is the text.
std::vector<std::string_view> pretokenize(std::string_view text, pre_style style);

} // namespace pa::model
