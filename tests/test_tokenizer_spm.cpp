// test_tokenizer_spm.cpp - the SentencePiece-style tokenizer of stories260K (tok512.bin,
// converted to GGUF) against a direct transcription of llama2.c's encode() over the original
// tokenizer file: the quadratic "merge the best pair, repeat" loop. Plus round trips and
// special tokens.
#include <gtest/gtest.h>
#include <map>

#include "convert.h"
#include "pa/error.h"
#include "tokenizer.h"

using pa::model::tokenizer;

namespace {

const std::string data_dir = std::string(PA_SOURCE_DIR) + "/tests/data/";

struct fixture {
    std::unique_ptr<pa::gguf::file> file;
    std::unique_ptr<tokenizer> tok;
    pa::model::llama2c_tokenizer raw;
};

const fixture& stories() {
    static const fixture f = [] {
        fixture x;
        std::vector<std::string> notes;
        const auto w = pa::model::convert_llama2c_files(data_dir + "stories260K.bin", data_dir + "tok512.bin",
                                                        PA_TYPE_F32, notes);
        x.file = pa::gguf::file::from_memory(w.to_memory(), "stories260K.gguf");
        x.tok = std::make_unique<tokenizer>(*x.file);
        x.raw = pa::model::load_llama2c_tokenizer(data_dir + "tok512.bin", 512);
        return x;
    }();
    return f;
}

// llama2.c's encode(): dummy prefix, codepoints (or bytes + 3), then repeatedly merge the
// leftmost best-scoring pair whose concatenation is a token.
std::vector<int32_t> reference_encode(const pa::model::llama2c_tokenizer& t, const std::string& text) {
    std::map<std::string, int32_t> vocab;
    for (size_t i = 0; i < t.tokens.size(); ++i) vocab.emplace(t.tokens[i], int32_t(i));
    std::vector<int32_t> ids;
    if (text.empty()) return ids;
    const std::string s = " " + text;
    for (size_t i = 0; i < s.size();) {
        size_t len = 1;
        while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80 && len < 4) ++len;
        const auto it = vocab.find(s.substr(i, len));
        if (it != vocab.end()) {
            ids.push_back(it->second);
        } else {
            for (size_t k = 0; k < len; ++k) ids.push_back(int32_t(static_cast<unsigned char>(s[i + k])) + 3);
        }
        i += len;
    }
    for (;;) {
        float best = -1e10f;
        int best_id = -1, best_at = -1;
        for (size_t i = 0; i + 1 < ids.size(); ++i) {
            const auto it = vocab.find(t.tokens[size_t(ids[i])] + t.tokens[size_t(ids[i + 1])]);
            if (it != vocab.end() && t.scores[size_t(it->second)] > best) {
                best = t.scores[size_t(it->second)];
                best_id = it->second;
                best_at = int(i);
            }
        }
        if (best_id < 0) break;
        ids[size_t(best_at)] = best_id;
        ids.erase(ids.begin() + best_at + 1);
    }
    return ids;
}

const std::vector<std::string> samples = {
    "Once upon a time, there was a little girl named Lily.",
    "She loved to play outside in the park.",
    "Hello",
    "  two leading spaces, and   three inside",
    "Tom said: \"Wow! Look at that big, red ball!\"\n\nThe end.",
    "caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", // not in the vocabulary: byte fallback
    "tabs\tand\r\nnewlines\n",
    "1234567890 !@#$%^&*()",
    "a",
    " ",
};

} // namespace

TEST(tokenizer_spm, metadata) {
    const tokenizer& t = *stories().tok;
    EXPECT_EQ(t.kind(), pa::model::tokenizer_kind::spm);
    EXPECT_EQ(t.n_vocab(), 512);
    EXPECT_EQ(t.bos(), 1);
    EXPECT_EQ(t.eos(), 2);
    EXPECT_TRUE(t.add_bos());
    EXPECT_TRUE(t.is_eog(2));
    EXPECT_FALSE(t.is_eog(1));
    EXPECT_EQ(t.token_text(1), "<s>");
    EXPECT_EQ(t.token_text(259), "\xe2\x96\x81t"); // " t" stored with SentencePiece's U+2581
    EXPECT_EQ(t.piece(259), " t");
    EXPECT_EQ(t.piece(3 + 'A'), "A"); // <0x41>
    EXPECT_EQ(t.piece(1), "");
    EXPECT_EQ(t.piece(1, true), "<s>");
}

TEST(tokenizer_spm, matches_llama2c_encode) {
    const fixture& f = stories();
    for (const std::string& s : samples) {
        SCOPED_TRACE(s);
        EXPECT_EQ(f.tok->encode(s, false, false), reference_encode(f.raw, s));
    }
}

TEST(tokenizer_spm, bos_and_known_prefix) {
    const tokenizer& t = *stories().tok;
    const std::vector<int32_t> ids = t.encode("Once upon a time", true);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids[0], 1);
    EXPECT_EQ(t.decode(ids), "Once upon a time");
    EXPECT_TRUE(t.encode("", false).empty());
    EXPECT_EQ(t.encode("", true), std::vector<int32_t>{1});
}

TEST(tokenizer_spm, round_trips) {
    const tokenizer& t = *stories().tok;
    for (const std::string& s : samples) {
        SCOPED_TRACE(s);
        EXPECT_EQ(t.decode(t.encode(s, true)), s);
    }
    std::string long_text;
    for (int i = 0; i < 200; ++i) long_text += samples[size_t(i) % samples.size()];
    EXPECT_EQ(t.decode(t.encode(long_text, true)), long_text);
}

TEST(tokenizer_spm, special_tokens_in_text) {
    const tokenizer& t = *stories().tok;
    const std::vector<int32_t> with = t.encode("Hi</s><s>Bye", false, true);
    const std::vector<int32_t> hi = t.encode("Hi", false), bye = t.encode("Bye", false);
    std::vector<int32_t> expect = hi;
    expect.push_back(2);
    expect.push_back(1);
    expect.insert(expect.end(), bye.begin(), bye.end()); // a space prefix again after a special
    EXPECT_EQ(with, expect);
    const std::vector<int32_t> without = t.encode("Hi</s>", false, false);
    EXPECT_EQ(std::count(without.begin(), without.end(), 2), 0);
    EXPECT_EQ(t.decode(without), "Hi</s>");
}
