// niah.h - needle-in-a-haystack prompts for real models (`pa eval niah`): a number hidden in
// one sentence ("The magic number is 4817263.") at a chosen depth of a real text cut to a
// target token length, a question at the end, the whole wrapped by the model's prompt format,
// then the start of the answer ("The magic number is": small models need it to answer with a
// number; the model's continuation is judged).
//
// Trial t fixes the number and the haystack offset (both drawn from the seed and t), so the
// prompts of one trial differ only in the needle's depth, and every setting evaluated sees the
// same prompts. The haystack window starts and ends on sentence boundaries; the needle goes to
// the sentence boundary nearest to depth x the haystack's length (0: first, 1: last). The
// window is the longest one whose whole prompt (prefix tokens such as BOS included) stays
// within the target: it falls short of it by less than about one sentence.
//
// Tokenizer and prompt format come in as functions, so this does not depend on the model
// library and the format (a small ChatML writer now, the model's chat template later) can be
// swapped.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pa::analysis {

struct text_codec {
    // text -> tokens as the model reads them (special tokens such as <|im_start|> matched), no BOS
    std::function<std::vector<int32_t>(std::string_view)> encode;
    std::function<std::string(std::span<const int32_t>)> decode;
    int64_t prefix_tokens = 0; // tokens the model puts in front of a prompt (1 with a BOS)
};

// The user's message -> the whole prompt text (chat template and generation prompt).
using prompt_formatter = std::function<std::string(std::string_view user)>;

struct niah_options {
    int64_t n_tokens = 0;                               // target prompt length, prefix tokens included
    std::string needle = "The magic number is {}.";     // {} becomes the number
    std::string question = "What is the magic number?"; // after the haystack and a blank line
    std::string preamble; // before the haystack, followed by a blank line ("" = none)
    // after the formatted prompt (a space between when the prompt does not end in whitespace):
    // the start of the answer, which small models need to answer with the number at all
    std::string answer_prefix = "The magic number is";
    int digits = 7; // the number has this many digits (1-18)
    uint64_t seed = 1;
};

struct niah_prompt {
    double depth = 0;        // requested, in [0, 1]
    double depth_actual = 0; // needle start / haystack length, in characters
    int trial = 0;
    std::string number;          // the needle's digits
    std::string text;            // the formatted prompt
    int64_t n_tokens = 0;        // tokens of text, prefix tokens included
    int64_t needle_token = 0;    // index of the needle's first token in the prompt (approximately:
                                 // the tokens of the text before it, prefix included)
    int64_t haystack_offset = 0; // first haystack token of the window
};

class niah_builder {
  public:
    // Throws pa::error when the haystack is too short for the target or the options are invalid.
    niah_builder(std::string_view haystack, text_codec codec, prompt_formatter format, niah_options o);

    niah_prompt build(double depth, int trial) const;
    // "The magic number is 4817263." of a number
    std::string needle_sentence(const std::string& number) const;
    const niah_options& options() const { return opt_; }
    int64_t haystack_tokens() const { return int64_t(hay_.size()); }

  private:
    std::string haystack_text(int64_t offset, int64_t n) const; // window trimmed to sentences
    std::string user_message(const std::string& hay, double depth, const std::string& needle,
                             size_t* needle_at) const;

    std::vector<int32_t> hay_;
    text_codec codec_;
    prompt_formatter format_;
    niah_options opt_;
};

// Depths 0, 1/(n-1), ..., 1 (n >= 2; n = 1 gives {0.5}).
std::vector<double> even_depths(int n);

// Byte offsets where sentences start in text: 0, and after the whitespace that follows a
// sentence end (. ! or ?, optionally followed by closing quotes or brackets).
std::vector<size_t> sentence_starts(std::string_view text);

} // namespace pa::analysis
