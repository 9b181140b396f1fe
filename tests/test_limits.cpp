// test_limits.cpp - absurd sizes are refused before anything is allocated, with a message that
// names the limit, on every surface that takes a size:
//   op results (2^40 elements a tensor), attention positions (2^31 - 1; kernels index with
//   32-bit ints), the proxy node (2^31 keys), GGUF tensor infos (2^40), model hyperparameters
//   (2^24, never wrapped into plausible ints), llama2.c headers (2^18), KV cache contexts
//   (2^24), and the CLI (`pa attn --n 10000000000`, `pa run --ctx ...`).
// Tensor creation and view/reshape limits are in test_ops_build.cpp, GGUF counts and lengths
// in test_gguf_malformed.cpp. In sanitizer builds ASan aborts any request above 1 TiB, so a
// limit checked after an allocation fails there too; elsewhere the CLI runs under RLIMIT_AS.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "fault_util.h"
#include "llm_graph.h"
#include "pa/error.h"
#include "pa/ops.h"
#include "pa/plugin_loader.h"
#include "pa/proxy_sparse_attn.h"

#define PA_FUZZ_DATA_DIR PA_SOURCE_DIR "/tests/data"
#include "../fuzz/targets/llama2c_target.h"

namespace {

const std::string tensor_limit = std::to_string(pa::max_tensor_elements); // 1099511627776

// Expects stmt to throw pa::error whose message contains every needle.
#define EXPECT_LIMIT(stmt, ...)                                                                              \
    do {                                                                                                     \
        try {                                                                                                \
            (void)(stmt);                                                                                    \
            ADD_FAILURE() << #stmt << " was accepted";                                                       \
        } catch (const pa::error& e) {                                                                       \
            for (const std::string& n : std::initializer_list<std::string>{__VA_ARGS__})                     \
                EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << #stmt << ": " << e.what();    \
        }                                                                                                    \
    } while (0)

TEST(Limits, OpResultsAboveTheElementLimit) {
    pa::context ctx;
    const int64_t g = int64_t(1) << 31;
    // found by fuzz_ops: [2, 2^31, 5] x [2, 2^31, 5] would be a [2^31, 2^31, 5] record
    pa::tensor* a = ctx.new_tensor(PA_TYPE_F32, {2, g, 5}, false);
    EXPECT_LIMIT(pa::mul_mat(ctx, a, a), "mul_mat", tensor_limit);
    // get_rows: 2^20 ids of 2^20-element rows in 2^10 batches = 2^50 elements
    pa::tensor* table = ctx.new_tensor(PA_TYPE_F32, {int64_t(1) << 20, 4, 1 << 10}, false);
    pa::tensor* ids = ctx.new_tensor(PA_TYPE_I32, {int64_t(1) << 20, 1 << 10}, false);
    EXPECT_LIMIT(pa::get_rows(ctx, table, ids), "get_rows", tensor_limit);
    // head counts: q of 2^30 heads x 2^10 positions x 64 dims cannot even be made
    EXPECT_LIMIT(ctx.new_tensor(PA_TYPE_F32, {64, 1 << 10, int64_t(1) << 30}, false), tensor_limit);
    EXPECT_EQ(ctx.host_bytes(), 0u);
}

TEST(Limits, AttentionPositionsAboveTwoToThe31) {
    pa::context ctx;
    const int64_t n = (int64_t(1) << 31) + 8;
    pa::tensor* q = ctx.new_tensor(PA_TYPE_F32, {4, 16, 2}, false);
    pa::tensor* k = ctx.new_tensor(PA_TYPE_F16, {4, n, 1}, false);
    EXPECT_LIMIT(pa::flash_attn_ext(ctx, q, k, k, 0.5f, 0, false), "flash_attn_ext", "2^31 - 1");
    pa::tensor* q_long = ctx.new_tensor(PA_TYPE_F32, {4, n, 1}, false);
    EXPECT_LIMIT(pa::flash_attn_ext(ctx, q_long, k, k, 0.5f, 0, true), "flash_attn_ext", "2^31 - 1");
    // just below the limit is a valid record
    pa::tensor* k_ok = ctx.new_tensor(PA_TYPE_F16, {4, (int64_t(1) << 31) - 1, 1}, false);
    EXPECT_NO_THROW(pa::flash_attn_ext(ctx, q, k_ok, k_ok, 0.5f, 0, true));
    EXPECT_EQ(ctx.host_bytes(), 0u);
}

TEST(Limits, ProxyNodeSequenceAndParams) {
    pa::plugin::load(PA_PLUGIN_PATH); // registers proxy_sparse_attn (with or without devices)
    pa::context ctx;
    const int64_t n = int64_t(1) << 31;
    pa::tensor* q = ctx.new_tensor(PA_TYPE_F32, {64, n, 2}, false);
    pa::tensor* k = ctx.new_tensor(PA_TYPE_F16, {64, n, 1}, false);
    pa::proxy_params p;
    EXPECT_LIMIT(pa::proxy_sparse_attn(ctx, q, k, k, p), "proxy_sparse_attn", "2^31");
    pa::tensor* q1 = ctx.new_tensor(PA_TYPE_F32, {64, 1024, 2}, false);
    pa::tensor* k1 = ctx.new_tensor(PA_TYPE_F16, {64, n + 2048, 1}, false);
    p.n_past = std::numeric_limits<int32_t>::max(); // n_past + N passes 2^31
    EXPECT_LIMIT(pa::proxy_sparse_attn(ctx, q1, k1, k1, p), "proxy_sparse_attn", "2^31");
    p = {};
    p.n_proxy = std::numeric_limits<int32_t>::max(); // absurd proxy head count
    EXPECT_LIMIT(pa::proxy_sparse_attn(ctx, q1, k1, k1, p), "n_proxy");
    p = {};
    p.block = std::numeric_limits<int32_t>::max(); // 2^31 - 1 is prime: no stride > 1 divides it
    p.stride = 4;
    EXPECT_LIMIT(pa::proxy_sparse_attn(ctx, q1, k1, k1, p), "multiple of stride");
    EXPECT_EQ(ctx.host_bytes(), 0u);
}

// A GGUF image with one F32 tensor of the given dims (no data section needed: the shape fails).
std::vector<uint8_t> gguf_with_dims(std::initializer_list<uint64_t> dims) {
    std::vector<uint8_t> b;
    auto put = [&](const void* p, size_t n) { b.insert(b.end(), (const uint8_t*)p, (const uint8_t*)p + n); };
    auto u32 = [&](uint32_t v) { put(&v, 4); };
    auto u64 = [&](uint64_t v) { put(&v, 8); };
    put("GGUF", 4);
    u32(3);
    u64(1); // tensors
    u64(0); // kv
    u64(1);
    put("t", 1);
    u32(uint32_t(dims.size()));
    for (uint64_t d : dims)
        u64(d);
    u32(PA_TYPE_F32);
    u64(0);
    b.resize(b.size() + 64, 0);
    return b;
}

TEST(Limits, GgufTensorInfosAboveTheElementLimit) {
    EXPECT_LIMIT(
        pa::gguf::file::from_memory(gguf_with_dims({uint64_t(1) << 32, uint64_t(1) << 32}), "big.gguf"),
        "big.gguf", "tensor 't'", tensor_limit);
    EXPECT_LIMIT(
        pa::gguf::file::from_memory(gguf_with_dims({1u << 16, 1u << 16, 1u << 16, 1u << 16}), "big.gguf"),
        tensor_limit); // 2^64 would wrap to 0
    EXPECT_LIMIT(pa::gguf::file::from_memory(gguf_with_dims({uint64_t(1) << 63}), "big.gguf"), "too large");
}

// The tiny llama2.c model, converted, with one metadata value replaced.
std::unique_ptr<pa::gguf::file> tiny_model_with(const std::string& key, pa::gguf::value v) {
    const pa::fuzz::memfile ck(pa::fuzz::tiny_checkpoint(8));
    std::vector<std::string> notes;
    pa::gguf::writer w = pa::model::llama2c_to_gguf(pa::model::load_llama2c_checkpoint(ck.path()),
                                                    pa::fuzz::tiny_vocabulary(8), PA_TYPE_F32, "tiny", notes);
    w.set(key, std::move(v));
    return pa::gguf::file::from_memory(w.to_memory(), "tiny.gguf");
}

TEST(Limits, ModelHyperparametersAreNotWrappedIntoPlausibleInts) {
    EXPECT_NO_THROW(pa::model::model(tiny_model_with("general.name", pa::gguf::value::of_string("ok"))));
    const uint64_t wraps_to_1 = (uint64_t(1) << 32) + 1; // as an int this would read 1 head
    for (const auto& [key, v] : std::vector<std::pair<std::string, pa::gguf::value>>{
             {"llama.attention.head_count", pa::gguf::value::of_u64(wraps_to_1)},
             {"llama.attention.head_count_kv", pa::gguf::value::of_u64(wraps_to_1)},
             {"llama.block_count", pa::gguf::value::of_u64(uint64_t(1) << 31)},
             {"llama.context_length", pa::gguf::value::of_u64(uint64_t(1) << 40)},
             {"llama.embedding_length", pa::gguf::value::of_i64(-2)},
             {"llama.feed_forward_length", pa::gguf::value::of_u32(1u << 25)},
         }) {
        SCOPED_TRACE(key);
        EXPECT_LIMIT(pa::model::model(tiny_model_with(key, v)), "tiny.gguf", "2^24");
    }
    const int64_t wide = int64_t(wraps_to_1) + 1; // key_length 2^32 + 2 would read as 2
    EXPECT_LIMIT(
        pa::model::model(tiny_model_with("llama.attention.key_length", pa::gguf::value::of_i64(wide))),
        "head dim");
}

TEST(Limits, Llama2cHeaderNamesItsLimit) {
    std::vector<uint8_t> ck = pa::fuzz::tiny_checkpoint(8);
    const int32_t dim = 1 << 20;
    std::memcpy(ck.data(), &dim, 4);
    const pa::fuzz::memfile f(ck);
    EXPECT_LIMIT(pa::model::load_llama2c_checkpoint(f.path()), "implausible llama2.c header", "262144");
}

TEST(Limits, KvCacheContext) {
    pa::model::hparams hp;
    hp.n_layer = 2;
    hp.head_dim = 8;
    hp.n_head_kv = 2;
    EXPECT_LIMIT(pa::model::kv_cache(hp, pa::model::max_ctx + 1, PA_TYPE_F16), "16777216", "context limit");
    EXPECT_LIMIT(pa::model::kv_cache(hp, -5, PA_TYPE_F16), "context limit");
    EXPECT_NO_THROW(
        pa::model::kv_cache(hp, pa::model::max_ctx, PA_TYPE_F16)); // records only: nothing allocated
}

// ---- the CLI ----------------------------------------------------------------------------

pa::test::child_result run_limited(const std::vector<std::string>& args) {
    pa::test::child_options o;
    o.timeout_s = 60;
    if (!pa::test::built_with_asan)
        o.max_address_space = size_t(4) << 30; // a big allocation would fail loudly
    return pa::test::run_child(args, o);
}

void expect_one_error(const pa::test::child_result& r, std::initializer_list<std::string> needles) {
    EXPECT_TRUE(r.exited) << "killed by signal " << r.signal << "\n" << r.err;
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_EQ(pa::test::count_lines_with(r.err, "error:"), 1) << r.err;
    EXPECT_EQ(r.err.find("bad_alloc"), std::string::npos) << r.err;
    for (const std::string& n : needles)
        EXPECT_NE(r.err.find(n), std::string::npos) << r.err;
    EXPECT_LT(r.seconds, 10.0) << "refused up front, not after work";
}

TEST(Limits, CliRefusesAbsurdSizesUpFront) {
    const std::string pa = pa::test::pa_binary();
    if (!std::filesystem::exists(pa)) GTEST_SKIP() << pa << " is not built";
    expect_one_error(run_limited({pa, "attn", "--n", "10000000000", "--device", "cpu"}), {"2^31"});
    expect_one_error(run_limited({pa, "attn", "--n", "1000000", "--dim", "10000000", "--device", "cpu"}),
                     {"2^40"});
    expect_one_error(run_limited({pa, "attn", "--n", "4096", "--heads", "2147483647", "--kv-heads", "1",
                                  "--device", "cpu"}),
                     {"2^40"});
    // pa run: the context is checked before it narrows to int or sizes the KV cache
    const auto tmp = std::filesystem::temp_directory_path() / fmt::format("pa-limits-{}.gguf", ::getpid());
    const pa::fuzz::memfile ck(pa::fuzz::tiny_checkpoint(8));
    std::vector<std::string> notes;
    pa::model::llama2c_to_gguf(pa::model::load_llama2c_checkpoint(ck.path()), pa::fuzz::tiny_vocabulary(8),
                               PA_TYPE_F32, "tiny", notes)
        .write(tmp.string());
    for (const char* ctx : {"100000000", "4294967396", "-3"})
        expect_one_error(run_limited({pa, "run", "-m", tmp.string(), "-p", "a", "-n", "1", "--ctx", ctx,
                                      "--device", "cpu"}),
                         {"--ctx", "16777216"});
    std::filesystem::remove(tmp);
}

} // namespace
