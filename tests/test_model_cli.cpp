// test_model_cli.cpp - `pa convert`, `pa run` and `pa perplexity` end to end on stories260K
// (CPU device, so this runs everywhere): outputs, JSON, --help, and one-line errors with a
// non-zero exit. Skipped when the pa binary has not been built.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_util.h"

namespace fs = std::filesystem;

namespace {

const std::string data_dir = std::string(PA_SOURCE_DIR) + "/tests/data/";
const std::string golden =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

using pa::test::pa_binary;
using result = pa::test::cli_result;
result run(const std::string& args) {
    return pa::test::run_pa(args);
}

std::string converted(const std::string& type) {
    const std::string path =
        (fs::temp_directory_path() / fmt::format("pa_cli_{}_{}.gguf", getpid(), type)).string();
    if (!fs::exists(path)) {
        const result r =
            run(fmt::format("convert --checkpoint {}stories260K.bin --tokenizer {}tok512.bin -o {} --type {}",
                            data_dir, data_dir, path, type));
        EXPECT_EQ(r.code, 0) << r.err;
    }
    return path;
}

// the stories260K fixture story, n times
std::string story_text(int n) {
    const std::string one =
        "Once upon a time, there was a little boy named Tim. Tim had a big red ball. He liked to "
        "play with his ball in the park. One day, Tim saw a cat in a tree. The cat was sad because "
        "it could not get down. Tim wanted to help the cat. He threw his ball up to the tree. The "
        "cat jumped on the ball and came down. Tim and the cat were happy. They played together all "
        "day. The end. ";
    std::string s;
    for (int i = 0; i < n; ++i)
        s += one;
    return s;
}

#define REQUIRE_PA()                                                                                         \
    do {                                                                                                     \
        if (!fs::exists(pa_binary())) GTEST_SKIP() << pa_binary() << " is not built";                        \
    } while (0)

class model_cli : public ::testing::Test {
  protected:
    static void TearDownTestSuite() {
        for (const char* t : {"f32", "q8_0"})
            std::remove((fs::temp_directory_path() / fmt::format("pa_cli_{}_{}.gguf", getpid(), t)).c_str());
    }
};

} // namespace

TEST_F(model_cli, convert_reports_fallbacks) {
    REQUIRE_PA();
    const std::string out = (fs::temp_directory_path() / fmt::format("pa_cli_{}_q4.gguf", getpid())).string();
    const result r =
        run(fmt::format("convert {}stories260K.bin {}tok512.bin -o {} --type q4_0", data_dir, data_dir, out));
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("blk.0.ffn_down.weight: rows of 172 are not whole 32-element blocks, kept F32"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("q4_0"), std::string::npos) << r.err;
    const std::string re = out + ".q8.gguf"; // requantize the q4_0 file
    const result r2 = run(fmt::format("convert -m {} -o {} --type q8_0 --quiet", out, re));
    EXPECT_EQ(r2.code, 0) << r2.err;
    EXPECT_TRUE(fs::exists(re));
    std::remove(out.c_str());
    std::remove(re.c_str());
}

TEST_F(model_cli, run_greedy_prints_the_story) {
    REQUIRE_PA();
    for (const char* type : {"f32", "q8_0"}) {
        const result r = run(fmt::format("run -m {} -p '' -n 40 --temp 0 --device cpu", converted(type)));
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.out.substr(0, golden.size()), golden) << type;
        EXPECT_NE(r.err.find("decode: 40 tokens"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("prefill: 1 tokens"), std::string::npos) << r.err;
    }
}

TEST_F(model_cli, run_json) {
    REQUIRE_PA();
    const result r = run(fmt::format(
        "run -m {} -p 'Once upon a time' -n 8 --temp 0.7 --seed 3 --device cpu --json", converted("f32")));
    EXPECT_EQ(r.code, 0) << r.err;
    for (const char* key : {"\"prompt_tokens\": 5", "\"generated_tokens\": 8", "\"prefill_tok_s\"",
                            "\"decode_tok_s\"", "\"text\": \""})
        EXPECT_NE(r.out.find(key), std::string::npos) << key << " in " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out; // one line
}

TEST_F(model_cli, perplexity_json) {
    REQUIRE_PA();
    const result r =
        run(fmt::format("perplexity -m {} -f /nonexistent/text.txt -c 64 --device cpu --attn dense --json",
                        converted("f32")));
    EXPECT_NE(r.code, 0); // no such file: a one-line error
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    const result ok = run(
        fmt::format("perplexity -m {} -p 'Tim had a big red ball. He liked to play with it in the "
                    "park every day.' -c 16 --device cpu --attn dense --json --score all --estimator flex "
                    "--max-tokens 64",
                    converted("f32")));
    EXPECT_EQ(ok.code, 0) << ok.err;
    for (const char* key : {"\"dense\": {\"ppl\": ", "\"n_ctx\": 16", "\"prefill_s\"", "\"chunks\": 1",
                            "\"score\": \"all\"", "\"estimator\": \"flex\"", "\"max_tokens\": 64"})
        EXPECT_NE(ok.out.find(key), std::string::npos) << key << " in " << ok.out;
}

// llama.cpp's definition by default: it says so, refuses a text shorter than two chunks, and
// reports the phases of the run
TEST_F(model_cli, perplexity_llama_cpp_definition) {
    REQUIRE_PA();
    const std::string story = story_text(4);
    const result r = run(fmt::format("perplexity -m {} -p '{}' -c 64 --device cpu --attn dense --json",
                                     converted("f32"), story));
    EXPECT_EQ(r.code, 0) << r.err;
    for (const char* key :
         {"\"score\": \"llama.cpp\"", "\"scoring\": \"llama.cpp: positions 32..62 of each chunk of 64",
          "\"tokens_scored\": ", "\"phases\": {\"load_s\"", "\"tokenize_s\"", "\"score_s\""})
        EXPECT_NE(r.out.find(key), std::string::npos) << key << " in " << r.out;
    const result short_text = run(fmt::format(
        "perplexity -m {} -p 'Tim had a ball.' -c 64 --device cpu --attn dense", converted("f32")));
    EXPECT_NE(short_text.code, 0);
    EXPECT_NE(short_text.err.find("llama.cpp's definition needs at least 2 x 64"), std::string::npos)
        << short_text.err;
    EXPECT_EQ(std::count(short_text.err.begin(), short_text.err.end(), '\n'), 1) << short_text.err;
}

// --attn both: KL(dense || proxy) overall and per chunk; a saved dense run as the base of a
// dense run gives KL ~0 and full top-1 agreement; the base file replaces the text
TEST_F(model_cli, perplexity_kl_divergence) {
    REQUIRE_PA();
    const std::string story = story_text(4);
    const std::string proxy = "--proxy-min-len 0 --block 16 --min-tokens 16 --gamma 0.8";
    const result both = run(fmt::format("perplexity -m {} -p '{}' -c 64 --device cpu --attn both {} --json",
                                        converted("f32"), story, proxy));
    EXPECT_EQ(both.code, 0) << both.err;
    for (const char* key : {"\"kl\": {\"base\": \"dense\", \"of\": \"proxy\", \"all\": {\"tokens\": ",
                            "\"p99\": ", "\"top1_agree\": ", "\"ppl_ratio\": ", "\"chunks\": [{"})
        EXPECT_NE(both.out.find(key), std::string::npos) << key << " in " << both.out;

    const std::string base =
        (fs::temp_directory_path() / fmt::format("pa_cli_{}_base.kld", getpid())).string();
    const result save =
        run(fmt::format("perplexity -m {} -p '{}' -c 64 --device cpu --attn dense --save-logits {}",
                        converted("f32"), story, base));
    EXPECT_EQ(save.code, 0) << save.err;
    const result again = run(fmt::format("perplexity -m {} --kl-base {} --device cpu --attn dense --json",
                                         converted("f32"), base));
    EXPECT_EQ(again.code, 0) << again.err;
    EXPECT_NE(again.out.find("\"top1_agree\": 1.000000"), std::string::npos) << again.out;
    const size_t at = again.out.find("\"all\": {");
    ASSERT_NE(at, std::string::npos) << again.out;
    const double mean = std::stod(again.out.substr(again.out.find("\"mean\": ", at) + 8));
    EXPECT_LT(std::fabs(mean), 1e-4) << again.out; // the stored rows resolve log p to 2.4e-4
    const result other =
        run(fmt::format("perplexity -m {} --kl-base {} -p 'Tim had a big red dog.' --device cpu "
                        "--attn dense",
                        converted("f32"), base));
    EXPECT_NE(other.code, 0);
    EXPECT_NE(other.err.find("differ from those in"), std::string::npos) << other.err;
    std::remove(base.c_str());
}

TEST_F(model_cli, tokenize_matches_llama_tokenize) {
    REQUIRE_PA();
    // llama-tokenize (llama.cpp 0c1e570) on the same GGUF: --ids -p "Hi <unk> there<s>x</s>"
    const result r = run(fmt::format("tokenize -m {} -p 'Hi <unk> there<s>x</s>' --ids", converted("f32")));
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "[1, 320, 417, 410, 0, 410, 383, 1, 410, 444, 2]\n");
    const result lines = run(fmt::format("tokenize -m {} -p 'Hi' --show-count", converted("f32")));
    EXPECT_NE(lines.out.find("     1 -> '<s>'"), std::string::npos) << lines.out;
    EXPECT_NE(lines.out.find("Total number of tokens: 3"), std::string::npos) << lines.out;
}

TEST_F(model_cli, run_habits_of_llama_cpp) {
    REQUIRE_PA();
    // -c as --ctx, -t threads, --ignore-eos: exactly -n tokens even past end-of-text
    const result r = run(fmt::format(
        "run -m {} -p '' -n 300 -c 400 -t 1 --temp 0 --ignore-eos --device cpu --json", converted("f32")));
    EXPECT_EQ(r.code, 0) << r.err;
    for (const char* key : {"\"generated_tokens\": 300", "\"n_ctx\": 400", "\"phases\": {\"load_s\"",
                            "\"tokenize_s\"", "\"decode_s\""})
        EXPECT_NE(r.out.find(key), std::string::npos) << key << " in " << r.out;
    const result v = run("--version");
    EXPECT_EQ(v.code, 0);
    EXPECT_EQ(v.out.rfind("pa ", 0), 0u) << v.out;
}

TEST_F(model_cli, help_and_errors) {
    REQUIRE_PA();
    for (const char* cmd : {"run", "perplexity", "convert", "tokenize"}) {
        const result h = run(fmt::format("{} --help", cmd));
        EXPECT_EQ(h.code, 0) << cmd;
        EXPECT_NE(h.out.find(fmt::format("usage: pa {}", cmd)), std::string::npos) << h.out;
        EXPECT_NE(h.out.find("--device"), std::string::npos) << cmd;
    }
    struct bad {
        std::string args, message;
    };
    const bad cases[] = {
        {"run -p hi", "error: give a model with -m MODEL.gguf"},
        {"run -m /nonexistent/m.gguf -p hi --device cpu", "error: /nonexistent/m.gguf: cannot open"},
        {"perplexity -m x.gguf -p t --bogus 1 --device cpu", "error: unknown option --bogus"},
        {"convert -m a.gguf -o b.gguf --type q9_9", "error: --type: 'q9_9' is not one of"},
        {fmt::format("run -m {} -p hi --attn sparse --device cpu", converted("f32")),
         "error: --attn: 'sparse'"},
        // proxy settings are checked before the prompt decides whether any node uses them
        {fmt::format("run -m {} -p hi -n 1 --block 0 --device cpu", converted("f32")),
         "error: proxy_sparse_attn: block (0) and stride (4) must be > 0"},
        {fmt::format("perplexity -m {} -p 'a b c d' --samples 0 --device cpu", converted("f32")),
         "error: proxy_sparse_attn: n_samples (0) must be in 1..1024"},
        {fmt::format("run -m {} -p hi -n 600 --ctx 100000 --device cpu --attn dense",
                     data_dir + "tok512.bin"),
         "bad magic"},
    };
    for (const bad& b : cases) {
        const result r = run(b.args);
        EXPECT_NE(r.code, 0) << b.args;
        EXPECT_EQ(r.err.rfind(b.message, 0) == 0 || r.err.find(b.message) != std::string::npos, true)
            << b.args << " -> " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err; // one line
    }
}
