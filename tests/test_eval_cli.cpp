// test_eval_cli.cpp - `pa eval niah` and `pa eval attn` end to end on stories260K (converted by
// `pa convert`, CPU device, context 512: small -c, a small block and --min-tokens 0 so that the
// proxy path is taken): JSON contents, determinism, the proxy path, replay of a saved layer with
// `pa attn --load`, and one-line errors. Skipped when the pa binary has not been built.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <regex>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_util.h"
#include "stories_util.h"

namespace fs = std::filesystem;

namespace {

using pa::test::pa_binary;
using result = pa::test::cli_result;
result run(const std::string& args) {
    return pa::test::run_pa(args);
}

class eval_cli : public ::testing::Test {
  protected:
    static fs::path dir() { return fs::temp_directory_path() / fmt::format("pa_eval_cli_{}", getpid()); }
    static std::string model() { return (dir() / "stories260K.gguf").string(); }
    static std::string haystack() { return (dir() / "haystack.txt").string(); }

    static void SetUpTestSuite() {
        if (!fs::exists(pa_binary())) return;
        fs::create_directories(dir());
        const std::string& data = pa::test::stories_data_dir;
        run(fmt::format("convert --checkpoint {}stories260K.bin --tokenizer {}tok512.bin -o {}", data, data,
                        model()));
        std::ofstream f(haystack());
        for (int i = 0; i < 40; ++i)
            f << "On day " << i << " the children went out. " << pa::test::stories_story << "\n";
    }
    static void TearDownTestSuite() { fs::remove_all(dir()); }
    void SetUp() override {
        if (!fs::exists(pa_binary())) GTEST_SKIP() << pa_binary() << " is not built";
        ASSERT_TRUE(fs::exists(model()));
    }
};

// The number after "key": in a JSON text (first occurrence from `from`).
double json_number(const std::string& j, const std::string& key, size_t from = 0) {
    const size_t at = j.find("\"" + key + "\": ", from);
    if (at == std::string::npos) return -1e300;
    return std::stod(j.substr(at + key.size() + 4));
}

int count(const std::string& s, const std::string& what) {
    int n = 0;
    for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1))
        ++n;
    return n;
}

const std::string niah_args =
    "--depths 0,50,100 --trials 1 --settings \"dense;proxy;gamma=0.9,stride=8\" -c 300 "
    "--proxy-min-len 128 --min-tokens 0 --block 64 --device cpu --quiet";

TEST_F(eval_cli, niah_json_same_prompts_for_every_setting_and_deterministic) {
    const result r = run(fmt::format("eval niah -m {} -f {} {} --json", model(), haystack(), niah_args));
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string& j = r.out;
    EXPECT_EQ(j.front(), '{');
    EXPECT_EQ(count(j, "\"label\": "), 3);
    EXPECT_NE(j.find("\"label\": \"gamma=0.9,stride=8\""), std::string::npos);
    EXPECT_EQ(json_number(j, "n_tokens"), 300);
    EXPECT_EQ(count(j, "\"trial\": "), 3);           // 3 depths x 1 trial
    EXPECT_EQ(count(j, "\"correct\": "), 3 * 3 + 3); // per answer, and per setting's total
    // every prompt within the target, the needle at its depth
    for (size_t at = j.find("\"tokens\": "); at != std::string::npos; at = j.find("\"tokens\": ", at + 1))
        EXPECT_LE(std::stod(j.substr(at + 10)), 300);
    // dense takes no proxy node; the proxy settings took it (5 layers in each prompt's prefill)
    const size_t proxy = j.find("\"label\": \"proxy\""), other = j.find("\"label\": \"gamma=0.9,stride=8\"");
    EXPECT_EQ(json_number(j, "proxy_nodes"), 0);
    EXPECT_EQ(json_number(j, "proxy_nodes", proxy), 3 * 5);
    EXPECT_EQ(json_number(j, "proxy_nodes", other), 3 * 5);
    EXPECT_EQ(json_number(j, "stride", other), 8);
    EXPECT_NEAR(json_number(j, "gamma", other), 0.9, 1e-6);
    // deterministic for a seed: the same prompts and answers again (times aside)
    const result again = run(fmt::format("eval niah -m {} -f {} {} --json", model(), haystack(), niah_args));
    const std::regex seconds("\"seconds\": [0-9.]+");
    EXPECT_EQ(std::regex_replace(again.out, seconds, ""), std::regex_replace(j, seconds, ""));
    const result other_seed =
        run(fmt::format("eval niah -m {} -f {} {} --json --seed 2", model(), haystack(), niah_args));
    EXPECT_NE(std::regex_replace(other_seed.out, seconds, ""), std::regex_replace(j, seconds, ""));
}

TEST_F(eval_cli, niah_table_and_out_file) {
    const std::string out = (dir() / "niah.json").string();
    const result r =
        run(fmt::format("eval niah -m {} -f {} {} --out {}", model(), haystack(), niah_args, out));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("needle in a haystack"), std::string::npos);
    EXPECT_NE(r.out.find("format plain"), std::string::npos); // stories260K has no chat template
    EXPECT_EQ(count(r.out, "/1 "), 9);                        // 3 settings x 3 depths
    EXPECT_NE(r.out.find("gamma=0.9,stride=8"), std::string::npos);
    std::ifstream f(out);
    const std::string j((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(count(j, "\"label\": "), 3);
}

TEST_F(eval_cli, niah_prompts_only) {
    const result r =
        run(fmt::format("eval niah -m {} -f {} -c 250 --depths 4 --trials 3 --prompts-only --device cpu",
                        model(), haystack()));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(count(r.out, "magic number is\n"), 12); // every prompt ends with the answer prefix
    EXPECT_EQ(count(r.out, "66.7%"), 3);
    const result j =
        run(fmt::format("eval niah -m {} -f {} -c 250 --depths 4 --trials 3 --prompts-only --json "
                        "--answer-prefix \"\" --device cpu",
                        model(), haystack()));
    ASSERT_EQ(j.code, 0) << j.err;
    EXPECT_EQ(count(j.out, "\"trial\": "), 12);
    EXPECT_NE(j.out.find("\"answer_prefix\": \"\""), std::string::npos);
    EXPECT_NE(j.out.find("\"settings\": []"), std::string::npos);
}

TEST_F(eval_cli, attn_reports_every_layer_and_saves_replayable_dumps) {
    const std::string save = (dir() / "dumps").string();
    const std::string common = "--min-tokens 0 --block 32 --device cpu";
    const result r = run(fmt::format("eval attn -m {} -f {} -c 400 --layers all --save {} --json --quiet {}",
                                     model(), haystack(), save, common));
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string& j = r.out;
    EXPECT_EQ(json_number(j, "tokens"), 400);
    EXPECT_EQ(count(j, "\"layer\": "), 5);
    EXPECT_EQ(count(j, "\"head\": "), 5 * 8);
    EXPECT_EQ(json_number(j, "layers"), 5); // summary
    const size_t layer0 = j.find("\"layer\": 0");
    ASSERT_NE(layer0, std::string::npos);
    const double recall = json_number(j, "recall_mean", layer0), density = json_number(j, "density", layer0);
    EXPECT_GT(recall, 0.5);
    EXPECT_LE(recall, 1.0);
    EXPECT_GT(density, 0.0);
    EXPECT_LT(density, 1.0);                           // the proxy path was taken: not every block kept
    EXPECT_EQ(json_number(j, "pairs", layer0), 8 * 1); // sim_kv: 4 KV groups of 2 heads
    for (int l = 0; l < 5; ++l)
        EXPECT_TRUE(fs::exists(fs::path(save) / fmt::format("layer-{}.paqkv", l))) << l;
    // --from analyses the saved layers without the model: the same numbers
    const result from = run(fmt::format("eval attn --from {} --layers 0,3 --json --quiet {}", save, common));
    ASSERT_EQ(from.code, 0) << from.err;
    EXPECT_EQ(count(from.out, "\"layer\": "), 2);
    EXPECT_EQ(json_number(from.out, "recall_mean", from.out.find("\"layer\": 0")), recall);
    EXPECT_EQ(json_number(from.out, "density", from.out.find("\"layer\": 0")), density);
    // `pa attn --load` replays layer 0: the same mask, so the same recall and density
    const result replay =
        run(fmt::format("attn --load {}/layer-0.paqkv --no-stages --json {}", save, common));
    ASSERT_EQ(replay.code, 0) << replay.err;
    EXPECT_NEAR(json_number(replay.out, "recall_mean"), recall, 1e-6);
    EXPECT_NEAR(json_number(replay.out, "density"), density, 1e-6);
}

TEST_F(eval_cli, attn_table_with_a_needle_prompt) {
    const result r = run(fmt::format("eval attn -m {} -f {} -c 300 --layers 2,4 --needle-depth 30 --per-head "
                                     "--min-tokens 0 --block 32 --sim-k 16 --device cpu --quiet",
                                     model(), haystack()));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("needle: tokens "), std::string::npos);
    EXPECT_NE(r.out.find("head similarity k=16"), std::string::npos);
    EXPECT_EQ(count(r.out, "\n    h"), 2 * 8); // per-head lines
    EXPECT_NE(r.out.find("over 2 layers"), std::string::npos);
}

TEST_F(eval_cli, attn_needle_prompt_is_the_niah_prompt) {
    // pa eval attn --needle-depth P --trial T prefills the prompt pa eval niah builds for (P, T)
    const std::string flags = "-c 260 --seed 5 --preamble \"Find it.\" --device cpu --quiet --json";
    const result n = run(fmt::format("eval niah -m {} -f {} --depths 30% --trials 3 --prompts-only {}",
                                     model(), haystack(), flags));
    ASSERT_EQ(n.code, 0) << n.err;
    const size_t trial2 = n.out.find("\"trial\": 2");
    ASSERT_NE(trial2, std::string::npos);
    const size_t prompt = n.out.rfind('{', trial2);
    const result a =
        run(fmt::format("eval attn -m {} -f {} --needle-depth 30 --trial 2 --layers 1 --min-tokens 0 "
                        "--block 32 {}",
                        model(), haystack(), flags));
    ASSERT_EQ(a.code, 0) << a.err;
    EXPECT_EQ(json_number(a.out, "tokens"), json_number(n.out, "tokens", prompt));
    EXPECT_EQ(json_number(a.out, "needle_first"), json_number(n.out, "needle_token", prompt));
    const size_t num = n.out.find("\"number\": \"", prompt);
    ASSERT_NE(num, std::string::npos);
    EXPECT_NE(a.out.find("\"needle_number\": \"" + n.out.substr(num + 11, 7) + "\""), std::string::npos);
}

TEST_F(eval_cli, errors_are_one_line) {
    const std::string m = model(), h = haystack();
    const std::pair<std::string, std::string> cases[] = {
        {"eval", "error: pa eval needs a subcommand"},
        {"eval frob", "error: pa eval: unknown subcommand 'frob'"},
        {fmt::format("eval niah -m {}", m), "error: give a haystack text with -f FILE"},
        {fmt::format("eval niah -m {} -f {} -c 300 --settings \"gamma=2\" --device cpu", m, h),
         "error: --settings: 'gamma=2': --gamma 2 must be in (0, 1]"},
        {fmt::format("eval niah -m {} -f {} -c 300 --settings \"frob=1\" --device cpu", m, h),
         "error: --settings: 'frob=1': unknown option --frob"},
        {fmt::format("eval niah -m {} -f {} -c 100000 --device cpu", m, h),
         "error: needle in a haystack: the text has"},
        {fmt::format("eval niah -m {} -f {} --depths 0,120 --device cpu", m, h), "error: --depths: '120'"},
        {fmt::format("eval attn -m {} -f {} -c 300 --layers 7 --device cpu", m, h), "error: --layers: '7'"},
        {fmt::format("eval attn -m {} -f {} -c 100000 --device cpu", m, h), "error: "},
        {fmt::format("eval attn --from {} -m {}", dir().string(), m),
         "error: --from DIR analyses saved layers"},
        {fmt::format("eval attn --from {} --device cpu", dir().string()), "error: --from "},
    };
    for (const auto& [args, want] : cases) {
        const result r = run(args);
        EXPECT_EQ(r.code, 1) << args;
        EXPECT_EQ(r.err.rfind(want, 0), 0u) << args << "\n" << r.err;
        EXPECT_EQ(count(r.err, "\n"), 1) << args << "\n" << r.err;
    }
}

} // namespace
