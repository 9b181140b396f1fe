// test_eval_niah_prompt.cpp - the needle-in-a-haystack prompt builder (analysis/niah.h) with a
// real tokenizer (stories260K's): the needle is in the prompt once, at the asked depth, the
// prompt's token count is within bounds, prompts are deterministic for a seed and differ
// between trials; sentence boundaries; the prompt formats (analysis/prompt_format.h).
#include <gtest/gtest.h>
#include <set>

#include "niah.h"
#include "pa/error.h"
#include "prompt_format.h"
#include "stories_util.h"

namespace pa::analysis {
namespace {

const model::model& stories() {
    static const auto m = test::load_stories(PA_TYPE_F32);
    return *m;
}

text_codec codec() {
    const model::tokenizer& tok = stories().tok();
    text_codec c;
    c.encode = [&tok](std::string_view s) { return tok.encode(s, false, true); };
    c.decode = [&tok](std::span<const int32_t> ids) { return tok.decode(ids); };
    c.prefix_tokens = 1; // BOS
    return c;
}

// A long text of distinct sentences: the story with numbered days.
std::string haystack() {
    std::string s;
    for (int i = 0; i < 40; ++i)
        s += "On day " + std::to_string(i) + " the children went out. " + test::stories_story + "\n";
    return s;
}

int64_t prompt_tokens(const std::string& text) {
    return int64_t(stories().tok().encode(text, true, true).size());
}

TEST(eval_niah_prompt, needle_at_the_asked_depth_within_the_token_budget) {
    niah_options o;
    o.n_tokens = 400;
    o.answer_prefix = ""; // the question ends the prompt
    const niah_builder b(
        haystack(), codec(), [](std::string_view u) { return std::string(u); }, o);
    for (int trial = 0; trial < 3; ++trial)
        for (double depth : even_depths(5)) {
            const niah_prompt p = b.build(depth, trial);
            SCOPED_TRACE(::testing::Message() << "depth " << depth << " trial " << trial);
            EXPECT_EQ(p.number.size(), 7u);
            EXPECT_NE(p.number[0], '0');
            const std::string needle = "The magic number is " + p.number + ".";
            const size_t at = p.text.find(needle);
            ASSERT_NE(at, std::string::npos);
            EXPECT_EQ(p.text.find(needle, at + 1), std::string::npos); // once
            // the question ends the prompt
            const std::string q = "\n\nWhat is the magic number?";
            ASSERT_GE(p.text.size(), q.size());
            EXPECT_EQ(p.text.substr(p.text.size() - q.size()), q);
            // tokens: as the model reads the prompt, at most the target, short of it by less than
            // about a sentence (the stories' sentences are under 40 tokens)
            EXPECT_EQ(p.n_tokens, prompt_tokens(p.text));
            EXPECT_LE(p.n_tokens, o.n_tokens);
            EXPECT_GE(p.n_tokens, o.n_tokens - 40);
            // depth: in characters of the haystack, within a sentence or two of the asked one
            const double hay_chars = double(p.text.size() - q.size() - needle.size() - 1);
            EXPECT_NEAR(double(at) / hay_chars, depth, 0.08);
            EXPECT_NEAR(p.depth_actual, depth, 0.08);
            if (depth == 0.0) {
                EXPECT_EQ(at, 0u);
            }
            if (depth == 1.0) {
                EXPECT_EQ(at + needle.size(), p.text.size() - q.size());
            }
            // the needle's token index: the prompt's tokens up to it, BOS included
            EXPECT_EQ(p.needle_token, prompt_tokens(p.text.substr(0, at)));
            // it starts on a sentence boundary
            if (at > 0) {
                EXPECT_TRUE(p.text[at - 1] == ' ' || p.text[at - 1] == '\n');
                const std::string before = p.text.substr(0, at);
                EXPECT_NE(before.find_last_not_of(" \n"), std::string::npos);
                EXPECT_EQ(before[before.find_last_not_of(" \n")], '.');
            }
        }
}

TEST(eval_niah_prompt, deterministic_for_a_seed_and_different_between_trials) {
    niah_options o;
    o.n_tokens = 300;
    o.seed = 7;
    const auto fmt = [](std::string_view u) { return std::string(u); };
    const niah_builder a(haystack(), codec(), fmt, o), b(haystack(), codec(), fmt, o);
    std::set<std::string> numbers;
    std::set<int64_t> offsets;
    for (int trial = 0; trial < 4; ++trial) {
        const niah_prompt p = a.build(0.5, trial), q = b.build(0.5, trial);
        EXPECT_EQ(p.text, q.text);
        EXPECT_EQ(p.number, q.number);
        numbers.insert(p.number);
        offsets.insert(p.haystack_offset);
        // one trial: the same number and text at every depth
        const niah_prompt r = a.build(0.0, trial);
        EXPECT_EQ(r.number, p.number);
        EXPECT_EQ(r.haystack_offset, p.haystack_offset);
    }
    EXPECT_EQ(numbers.size(), 4u);
    EXPECT_GE(offsets.size(), 3u);
    o.seed = 8;
    const niah_builder c(haystack(), codec(), fmt, o);
    EXPECT_NE(c.build(0.5, 0).number, a.build(0.5, 0).number);
}

TEST(eval_niah_prompt, chat_format_preamble_and_answer_prefix) {
    niah_options o;
    o.n_tokens = 300;
    o.preamble = "Find the number.";
    prompt_format pf;
    pf.style = prompt_format::kind::chatml;
    pf.system = "Be brief.";
    const niah_builder b(
        haystack(), codec(), [&](std::string_view u) { return pf.apply(u); }, o);
    const niah_prompt p = b.build(0.3, 1);
    EXPECT_EQ(
        p.text.rfind("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nFind the number.\n\n", 0),
        0u);
    // the answer prefix opens the assistant's turn (no space after the newline)
    const std::string tail =
        "What is the magic number?<|im_end|>\n<|im_start|>assistant\nThe magic number is";
    EXPECT_EQ(p.text.substr(p.text.size() - tail.size()), tail);
    EXPECT_LE(p.n_tokens, 300);
    EXPECT_EQ(p.n_tokens, prompt_tokens(p.text));
    // without a chat format: a space before the prefix
    const niah_builder c(
        haystack(), codec(), [](std::string_view u) { return std::string(u); }, o);
    const niah_prompt q = c.build(0.3, 1);
    const std::string plain_tail = "What is the magic number? The magic number is";
    EXPECT_EQ(q.text.substr(q.text.size() - plain_tail.size()), plain_tail);
}

TEST(eval_niah_prompt, errors_are_clear) {
    niah_options o;
    o.n_tokens = 100000; // longer than the text
    const auto fmt = [](std::string_view u) { return std::string(u); };
    EXPECT_THROW(niah_builder(haystack(), codec(), fmt, o), pa::error);
    o.n_tokens = 12; // the question alone does not fit
    const niah_builder b(haystack(), codec(), fmt, o);
    EXPECT_THROW(b.build(0.5, 0), pa::error);
    o.n_tokens = 300;
    const niah_builder c(haystack(), codec(), fmt, o);
    EXPECT_THROW(c.build(1.5, 0), pa::error);
    o.needle = "no placeholder";
    EXPECT_THROW(niah_builder(haystack(), codec(), fmt, o), pa::error);
}

TEST(eval_niah_prompt, sentence_starts_and_depths) {
    EXPECT_EQ(sentence_starts("One. Two!  Three? \"Four.\" Five"), (std::vector<size_t>{0, 5, 11, 18, 26}));
    EXPECT_EQ(sentence_starts("No end"), std::vector<size_t>{0});
    EXPECT_EQ(sentence_starts("Mid.word. x"), (std::vector<size_t>{0, 10}));
    EXPECT_EQ(even_depths(3), (std::vector<double>{0.0, 0.5, 1.0}));
    EXPECT_EQ(even_depths(1), std::vector<double>{0.5});
}

TEST(eval_niah_prompt, prompt_format_from_a_chat_template) {
    // SmolLM2-Instruct's template (shortened): ChatML with a default system message
    const std::string smol =
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
        "'<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n' }}"
        "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
        "{% endfor %}";
    const prompt_format f = prompt_format_from_template(smol);
    EXPECT_EQ(f.style, prompt_format::kind::chatml);
    EXPECT_EQ(f.system, "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
    EXPECT_EQ(f.apply("Hi"),
              "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
              "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    // a system turn that is not a literal is not taken
    const prompt_format g =
        prompt_format_from_template("{{'<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>'}}");
    EXPECT_EQ(g.style, prompt_format::kind::chatml);
    EXPECT_EQ(g.system, "");
    EXPECT_EQ(g.apply("Hi"), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    const prompt_format plain = prompt_format_from_template("");
    EXPECT_EQ(plain.style, prompt_format::kind::plain);
    EXPECT_EQ(plain.apply("Text"), "Text\nAnswer:");
}

} // namespace
} // namespace pa::analysis
