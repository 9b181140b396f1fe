// test_fault_regressions.cpp - every input the fuzzers keep, replayed in every build (any
// compiler, with or without sanitizers): the committed seed corpora (fuzz/corpus/<target>/) and
// each crash the fuzzers found (tests/data/regressions/<target>/, named after the bug), run
// through the same target bodies as the libFuzzer binaries (fuzz/targets/*.h). Plus direct
// tests of the bugs behind those crashes, against hand-computed expectations.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "pa/scheduler.h"

#define PA_FUZZ_DATA_DIR PA_SOURCE_DIR "/tests/data"
#include "../fuzz/targets/dumps_target.h"
#include "../fuzz/targets/gguf_target.h"
#include "../fuzz/targets/llama2c_target.h"
#include "../fuzz/targets/ops_target.h"
#include "../fuzz/targets/tokenizer_target.h"
#include "ref/det_math.h"

namespace {

namespace fs = std::filesystem;
using body = void (*)(std::span<const uint8_t>);

std::vector<uint8_t> read_all(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Runs every file of the target's corpus and regression folders; returns how many ran.
size_t replay(const std::string& target, body run) {
    size_t n = 0;
    for (const fs::path& dir : {fs::path(PA_SOURCE_DIR) / "fuzz" / "corpus" / target,
                                fs::path(PA_SOURCE_DIR) / "tests" / "data" / "regressions" / target}) {
        if (!fs::is_directory(dir)) continue;
        for (const auto& e : fs::directory_iterator(dir)) {
            SCOPED_TRACE(e.path().string());
            const std::vector<uint8_t> bytes = read_all(e.path());
            try {
                run(bytes);
            } catch (const std::exception& ex) { // invariant_broken, or anything the targets let escape
                ADD_FAILURE() << e.path() << ": " << ex.what();
            }
            ++n;
        }
    }
    return n;
}

TEST(FuzzCorpusReplay, Gguf) {
    EXPECT_GT(replay("fuzz_gguf", pa::fuzz::run_gguf), 5u);
}
TEST(FuzzCorpusReplay, Llama2c) {
    EXPECT_GT(replay("fuzz_llama2c", pa::fuzz::run_llama2c), 5u);
}
TEST(FuzzCorpusReplay, TokenizerEncode) {
    EXPECT_GT(replay("fuzz_tokenizer_encode", pa::fuzz::run_tokenizer_encode), 5u);
}
TEST(FuzzCorpusReplay, TokenizerMeta) {
    EXPECT_GT(replay("fuzz_tokenizer_meta", pa::fuzz::run_tokenizer_meta), 5u);
}
TEST(FuzzCorpusReplay, Ops) {
    EXPECT_GT(replay("fuzz_ops", pa::fuzz::run_ops), 5u);
}
TEST(FuzzCorpusReplay, Dumps) {
    EXPECT_GT(replay("fuzz_dumps", pa::fuzz::run_dumps), 5u);
}

// ---- the bugs behind the crashes ----------------------------------------------------------

// fuzz_llama2c: NaN weights, and subnormal ones whose 1/d overflows to inf, made Q4_0/Q4_1
// quantization convert NaN/inf to int (undefined behaviour; UBSan aborts). Every code must now
// come out in range and finite inputs must stay finite after a round trip.
TEST(FuzzRegressions, QuantizeNonFiniteAndSubnormalBlocks) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    std::vector<std::vector<float>> blocks;
    blocks.push_back(std::vector<float>(32, nan));
    blocks.push_back(std::vector<float>(32, inf));
    std::vector<float> sub(32), mixed(32), tiny(32);
    for (int i = 0; i < 32; ++i) {
        sub[size_t(i)] = i % 2 ? 1e-39f : -1e-39f;          // 1/d overflows
        mixed[size_t(i)] = i == 5 ? nan : float(i) - 16.0f; // one NaN among finite values
        tiny[size_t(i)] = std::numeric_limits<float>::denorm_min() * float(i);
    }
    blocks.push_back(sub);
    blocks.push_back(mixed);
    blocks.push_back(tiny);
    for (pa_type t : {PA_TYPE_Q4_0, PA_TYPE_Q4_1, PA_TYPE_Q8_0}) {
        for (const std::vector<float>& x : blocks) {
            std::vector<uint8_t> q(pa::row_size(t, 32));
            pa::quantize_row(t, x.data(), q.data(), 32);
            std::vector<float> back(32);
            pa::dequantize_row(t, q.data(), back.data(), 32);
            const bool finite_in = std::all_of(x.begin(), x.end(), [](float v) { return std::isfinite(v); });
            if (!finite_in) continue;
            for (float v : back) {
                EXPECT_TRUE(std::isfinite(v)) << pa::type_name(t);
                EXPECT_LE(std::fabs(v), 1e-37f) << pa::type_name(t); // all inputs are below 2e-39
            }
        }
    }
}

// fuzz_llama2c: a llama2.c vocabulary of 1 or 2 tokens converted to a GGUF whose BOS/EOS ids
// (1 and 2) lie outside it, so the file the converter wrote did not load.
TEST(FuzzRegressions, ConverterRefusesVocabulariesWithoutRoomForSpecials) {
    for (int32_t vocab : {1, 2}) {
        const pa::fuzz::memfile ck(pa::fuzz::tiny_checkpoint(vocab));
        const auto checkpoint = pa::model::load_llama2c_checkpoint(ck.path());
        std::vector<std::string> notes;
        try {
            pa::model::llama2c_to_gguf(checkpoint, pa::fuzz::tiny_vocabulary(vocab), PA_TYPE_F32, "tiny",
                                       notes);
            ADD_FAILURE() << "vocabulary of " << vocab << " accepted";
        } catch (const pa::error& e) {
            EXPECT_NE(std::string(e.what()).find("<unk>, <s> and </s>"), std::string::npos) << e.what();
        }
    }
    // three tokens is the smallest that converts and loads
    const pa::fuzz::memfile ck(pa::fuzz::tiny_checkpoint(3));
    std::vector<std::string> notes;
    const auto img = pa::model::llama2c_to_gguf(pa::model::load_llama2c_checkpoint(ck.path()),
                                                pa::fuzz::tiny_vocabulary(3), PA_TYPE_F32, "tiny", notes)
                         .to_memory();
    const pa::model::model m(pa::gguf::file::from_memory(img, "tiny.gguf"));
    EXPECT_EQ(m.hp().n_vocab, 3);
}

// fuzz_llama2c: a checkpoint whose vocab_size is INT32_MIN (negative means "unshared
// classifier") was negated: signed overflow. It must be an implausible header now.
TEST(FuzzRegressions, Llama2cVocabSizeInt32MinIsRejected) {
    std::vector<uint8_t> ck = pa::fuzz::tiny_checkpoint(8);
    const int32_t vmin = INT32_MIN;
    std::memcpy(ck.data() + 5 * 4, &vmin, 4);
    const pa::fuzz::memfile f(ck);
    try {
        pa::model::load_llama2c_checkpoint(f.path());
        ADD_FAILURE() << "accepted";
    } catch (const pa::error& e) {
        EXPECT_NE(std::string(e.what()).find("implausible llama2.c header"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("-2147483648"), std::string::npos) << e.what();
    }
}

// fuzz_tokenizer_encode: in SentencePiece mode a truncated UTF-8 lead byte swallowed the next
// bytes, i.e. the U+2581 that stands for a following space; decoding then gave the three raw
// bytes of U+2581 instead of the space.
TEST(FuzzRegressions, SpmTruncatedUtf8DoesNotSwallowTheNextSpace) {
    const pa::model::tokenizer& t = *pa::fuzz::fixed_tokenizers().front().tok; // stories260K
    for (const std::string s : {"\xc3 a", "x \xe2\x82 b", "\xf0\x9f c", "\xc3", "a\xe2"}) {
        const std::vector<int32_t> ids = t.encode(s, false, false);
        EXPECT_EQ(t.decode(ids), s);
    }
    // "\xc3 a": the lone lead byte is one byte token, then "\xe2\x96\x81" "a" as usual
    const std::vector<int32_t> ids = t.encode("\xc3 a", false, false);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(t.piece(ids[1]), "\xc3");
}

// ASan run of the test suite: the scheduler read the flags of every tensor it had seen at the end
// of each compute and wrote into view outputs when it died, also when those tensors' graph
// contexts were already gone (graphs built per call, as the model session does): use after
// free. Here each call's context dies first; the sanitizer build checks the accesses.
TEST(FuzzRegressions, SchedulerOutlivesPerCallGraphContexts) {
    pa::context persistent;
    pa::tensor* w = persistent.new_tensor(PA_TYPE_F32, {4});
    pa::tensor* cache = persistent.new_tensor(PA_TYPE_F32, {4, 3});
    w->flags |= PA_FLAG_PARAM;
    cache->flags |= PA_FLAG_PERSIST;
    for (int i = 0; i < 4; ++i)
        static_cast<float*>(w->data)[i] = float(i);
    auto cpu = pa::make_cpu_backend(1);
    std::vector<float> got;
    {
        pa::scheduler sched({cpu.get()});
        for (int step = 0; step < 3; ++step) {
            pa::context call; // dies before the scheduler, as in pa::model::session
            pa::tensor* x = call.new_tensor(PA_TYPE_F32, {4});
            for (int i = 0; i < 4; ++i)
                static_cast<float*>(x->data)[i] = float(10 * step);
            pa::tensor* y = pa::add(call, x, w);
            call.ensure_host_data(y);
            pa::tensor* slot = pa::view_1d(call, cache, 4, size_t(step) * 16);
            sched.compute(pa::build_forward({y, pa::cpy(call, y, slot)}));
            EXPECT_FLOAT_EQ(static_cast<float*>(y->data)[3], float(10 * step + 3));
        }
        got.resize(12);
        sched.read_tensor(cache, got.data(), got.size() * 4);
    }
    for (int step = 0; step < 3; ++step)
        for (int i = 0; i < 4; ++i)
            EXPECT_FLOAT_EQ(got[size_t(step * 4 + i)], float(10 * step + i));
}

// fuzz_gguf (a slow unit: 22 s and 1.8 GB under ASan): block_count 16,580,609, below the 2^24
// limit of hyperparameters, in a file of 11 tensors; the loader sized its per-layer records
// before looking for the first layer's weights. The count is now checked against the file's
// tensors first (a layer has several).
TEST(FuzzRegressions, BlockCountBeyondTheFilesTensorsIsRefusedFirst) {
    const std::vector<uint8_t> bytes =
        read_all(fs::path(PA_SOURCE_DIR) / "tests/data/regressions/fuzz_gguf/block_count_beyond_tensors");
    try {
        const pa::model::model m(pa::gguf::file::from_memory(bytes, "slow.gguf"));
        ADD_FAILURE() << "accepted";
    } catch (const pa::error& e) {
        EXPECT_NE(std::string(e.what()).find("block_count 16580609 exceeds the file's 11 tensors"),
                  std::string::npos)
            << e.what();
    }
}

// Found while writing fuzz_dumps: a 40-byte PAMASK1 header (block 1, 65536 queries, one head)
// made the reader allocate its 8.6 GB of counts and block lists before reading them. The sizes
// are now checked against the bytes the file holds: 4 * (65536 rows + 65536 * 65537 / 2 list
// slots) = 8,590,327,808.
TEST(FuzzRegressions, MaskFileSizesAreCheckedAgainstTheFileBeforeAllocating) {
    const std::vector<uint8_t> bytes =
        read_all(fs::path(PA_SOURCE_DIR) / "tests/data/regressions/fuzz_dumps/mask_header_claims_gigabytes");
    ASSERT_EQ(bytes.size(), 40u);
    const pa::fuzz::memfile f(bytes);
    try {
        pa::analysis::read_mask_file(f.path());
        ADD_FAILURE() << "accepted";
    } catch (const pa::error& e) {
        EXPECT_NE(std::string(e.what()).find("truncated mask (0 of 8590327808 data bytes)"),
                  std::string::npos)
            << e.what();
    }
}

// fuzz_dumps: a Q/K/V dump with NaN in its queries reached the proxy estimator (pa attn --load),
// whose int8 quantization converted NaN to int8 (undefined behaviour); rows near FLT_MAX did the
// same through a NaN reciprocal. Rows holding NaN, or whose largest |x| is outside [2^-100,
// 2^50], now quantize as zero rows; rows inside the range are unchanged.
TEST(FuzzRegressions, ProxyQuantizationOfNonFiniteAndHugeRows) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const std::vector<std::vector<float>> zero_rows = {{nan, 1, 2, 3},  {1, 2, 3, -nan},  {inf, 1, 2, 3},
                                                       {1, -inf, 0, 0}, {3e38f, 1, 1, 1}, {0x1p51f, 0, 0, 0}};
    for (const std::vector<float>& row : zero_rows) {
        int8_t q[4] = {1, 1, 1, 1};
        EXPECT_EQ(pa::proxy::det::quantize_row(row.data(), 4, q), 0.0f) << row[0];
        for (int8_t v : q)
            EXPECT_EQ(v, 0) << row[0];
    }
    // at the top of the range: x * 127 / 2^50 = 127, 79.375, -31.75, 0
    const float top[4] = {0x1p50f, 0x1p49f + 0x1p47f, -0x1p48f, 0.0f};
    int8_t q[4];
    EXPECT_GT(pa::proxy::det::quantize_row(top, 4, q), 0.0f);
    EXPECT_EQ(q[0], 127);
    EXPECT_EQ(q[1], 79);
    EXPECT_EQ(q[2], -32);
    EXPECT_EQ(q[3], 0);
}

// fuzz_dumps (campaign of 2026-11-30): budget = fixed with min_tokens 0 and forcing off keeps no
// block in any row; the softmax over nothing gave NaN outputs from finite inputs. The parameter
// check refuses that combination; with forcing on, or one token of floor, it is accepted.
TEST(FuzzRegressions, FixedBudgetWithoutBlocksIsRefused) {
    pa::proxy_params p;
    p.budget = pa::proxy_budget::fixed;
    p.min_tokens = 0;
    p.force_sink_and_local = false;
    try {
        pa::proxy_params_check(p);
        ADD_FAILURE() << "a fixed budget of zero blocks was accepted";
    } catch (const pa::error& e) {
        EXPECT_NE(std::string(e.what()).find("min_tokens (0) must be > 0"), std::string::npos) << e.what();
    }
    p.min_tokens = 1;
    EXPECT_NO_THROW(pa::proxy_params_check(p));
    p.min_tokens = 0, p.force_sink_and_local = true;
    EXPECT_NO_THROW(pa::proxy_params_check(p));
    p.force_sink_and_local = false, p.estimator = pa::proxy_estimator::xattn; // budget is proxy's
    EXPECT_NO_THROW(pa::proxy_params_check(p));
}

} // namespace
