// gen_seeds.cpp - writes the seed corpora (fuzz/corpus/<target>/) with the project's own
// writers: small valid inputs of every kind a target reads, so fuzzing starts deep in the
// formats instead of at their magic numbers. Usage: pa_fuzz_seeds <corpus dir>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "patterns.h"
#include "targets/dumps_target.h"
#include "targets/gguf_target.h"
#include "targets/llama2c_target.h"
#include "targets/ops_target.h"
#include "targets/tokenizer_target.h"

namespace {

namespace fs = std::filesystem;
using bytes = std::vector<uint8_t>;
using namespace pa;

fs::path g_root;

void save(const std::string& target, const std::string& name, const bytes& b) {
    const fs::path dir = g_root / target;
    fs::create_directories(dir);
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}
bytes str(std::string_view s) {
    return bytes(s.begin(), s.end());
}
template <class T> bytes le(T v) {
    bytes b(sizeof v);
    std::memcpy(b.data(), &v, sizeof v);
    return b;
}

// llama2.c checkpoint bytes for a config (weights: a fixed pattern).
bytes checkpoint(int dim, int hidden, int layers, int heads, int kv_heads, int vocab, int seq,
                 bool shared = true) {
    const int32_t header[7] = {dim, hidden, layers, heads, kv_heads, shared ? vocab : -vocab, seq};
    const size_t D = size_t(dim), F = size_t(hidden), L = size_t(layers), V = size_t(vocab);
    const size_t KV = D / size_t(heads) * size_t(kv_heads);
    const size_t floats = V * D + L * (2 * D + 2 * D * D + 2 * KV * D + 3 * F * D) + D +
                          size_t(seq) * (D / size_t(heads)) + (shared ? 0 : V * D);
    bytes out(sizeof header + floats * 4);
    std::memcpy(out.data(), header, sizeof header);
    for (size_t i = 0; i < floats; ++i) {
        const float v = float(int(i * 7919 % 17) - 8) * 0.05f;
        std::memcpy(out.data() + sizeof header + i * 4, &v, 4);
    }
    return out;
}

bytes tokenizer_file(const model::llama2c_tokenizer& t) {
    bytes out = le<int32_t>(t.max_token_length);
    for (size_t i = 0; i < t.tokens.size(); ++i) {
        out = cat({out, le<float>(t.scores[i]), le<int32_t>(int32_t(t.tokens[i].size())), str(t.tokens[i])});
    }
    return out;
}

bytes tiny_model(int dim, int heads, int kv_heads, int vocab, pa_type type) {
    const fuzz::memfile ck(checkpoint(dim, dim, 1, heads, kv_heads, vocab, 16));
    std::vector<std::string> notes;
    return model::llama2c_to_gguf(model::load_llama2c_checkpoint(ck.path()), fuzz::tiny_vocabulary(vocab),
                                  type, "tiny", notes)
        .to_memory();
}

void gguf_seeds() {
    save("fuzz_gguf", "tiny_model_q8_0.gguf", tiny_model(32, 2, 1, 40, PA_TYPE_Q8_0));
    save("fuzz_gguf", "tiny_model_q4_0.gguf", tiny_model(32, 2, 2, 40, PA_TYPE_Q4_0));
    save("fuzz_gguf", "tiny_model_q4_1.gguf", tiny_model(32, 4, 2, 40, PA_TYPE_Q4_1));
    save("fuzz_gguf", "tiny_model_f16.gguf", tiny_model(16, 2, 1, 24, PA_TYPE_F16));
    save("fuzz_gguf", "tiny_model_f32.gguf", tiny_model(8, 2, 1, 12, PA_TYPE_F32));

    // every value type, arrays of each, tensors of each type, a non-default alignment
    gguf::writer w;
    w.set("general.alignment", gguf::value::of_u32(64));
    w.set("k.u8", gguf::value::of_u8(7));
    w.set("k.i32", gguf::value::of_i32(-5));
    w.set("k.u32", gguf::value::of_u32(4096));
    w.set("k.i64", gguf::value::of_i64(-(int64_t(1) << 40)));
    w.set("k.u64", gguf::value::of_u64(uint64_t(1) << 63));
    w.set("k.f32", gguf::value::of_f32(0.5f));
    w.set("k.f64", gguf::value::of_f64(-2.25));
    w.set("k.bool", gguf::value::of_bool(true));
    w.set("k.str", gguf::value::of_string("h\xc3\xa9llo"));
    w.set("k.strs", gguf::value::of_strings({"a", "", "bc"}));
    const float fs3[3] = {1, 2, 3};
    const int32_t is3[3] = {-1, 0, 1};
    w.set("k.f32s", gguf::value::of_f32s(fs3));
    w.set("k.i32s", gguf::value::of_i32s(is3));
    w.set("k.u16s", gguf::value::of_array(gguf::vtype::u16, 2, {1, 0, 2, 0}));
    w.set("k.i8", gguf::value::of_scalar(gguf::vtype::i8, bytes{0xff}));
    w.set("k.i16", gguf::value::of_scalar(gguf::vtype::i16, bytes{0x00, 0x80}));
    for (pa_type t : {PA_TYPE_F32, PA_TYPE_F16, PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1}) {
        const int64_t ne[2] = {32, 2};
        w.add_tensor(fmt::format("t.{}", type_name(t)), t, ne, bytes(row_size(t, 32) * 2, 0x11));
    }
    const int64_t ne3[3] = {2, 3, 4};
    w.add_tensor("t.3d", PA_TYPE_F32, ne3, bytes(2 * 3 * 4 * 4, 0));
    const bytes all = w.to_memory();
    save("fuzz_gguf", "all_types.gguf", all);
    bytes v2 = all;
    v2[4] = 2; // version 2 header
    save("fuzz_gguf", "all_types_v2.gguf", v2);
    save("fuzz_gguf", "empty.gguf", gguf::writer().to_memory());
    save("fuzz_gguf", "stories_tokenizer.gguf", fuzz::stories_vocab());
}

void llama2c_seeds() {
    save("fuzz_llama2c", "ck_tiny.bin", cat({{0x00}, fuzz::tiny_checkpoint(8)}));
    save("fuzz_llama2c", "ck_tiny_unshared_q8.bin", cat({{0x08}, fuzz::tiny_checkpoint(8, false)}));
    save("fuzz_llama2c", "ck_gqa_q4_0.bin", cat({{0x0c}, checkpoint(32, 48, 2, 4, 2, 16, 8)}));
    save("fuzz_llama2c", "ck_f16.bin", cat({{0x04}, checkpoint(8, 16, 1, 2, 2, 6, 4)}));
    save("fuzz_llama2c", "tok_tiny.bin",
         cat({{0x01}, le<uint16_t>(300), tokenizer_file(fuzz::tiny_vocabulary(300))}));
    save("fuzz_llama2c", "tok_small.bin",
         cat({{0x01}, le<uint16_t>(5), tokenizer_file(fuzz::tiny_vocabulary(5))}));
    std::ifstream f(std::string(PA_FUZZ_DATA_DIR) + "/tok512.bin", std::ios::binary);
    const bytes tok512((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    save("fuzz_llama2c", "tok512.bin", cat({{0x01}, le<uint16_t>(512), tok512}));
}

void tokenizer_seeds() {
    const std::vector<std::string> texts = {
        "Once upon a time, there was a little girl named Lily.",
        "Hello world! It's 2024, isn't it? hello<|endoftext|> <|im_start|>user\nhi",
        "  leading spaces\tand\ttabs\n\nnew lines\r\n  ",
        "unicode: caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xd0\x9f\xd1\x80\xd0\xb8 "
        "\xd9\xa1\xd9\xa2 "
        "\xf0\x9f\x98\x80\xf0\x9f\x91\x8d",
        "invalid utf-8: \xff\xfe \xc3 \xe2\x82 \x80\x80 end",
        "numbers 1234567 and 3.14159, code: def f(x):\n    return x*2\n",
        "<s>ab</s><unk> \xe2\x96\x81sp \xe2\x96\x81",
    };
    const size_t n_tok = fuzz::fixed_tokenizers().size();
    for (size_t k = 0; k < n_tok; ++k)
        for (size_t i = 0; i < texts.size(); ++i)
            save("fuzz_tokenizer_encode", fmt::format("tok{}_text{}", k, i),
                 cat({{uint8_t(k | (i % 4) << 4)}, str(texts[i])}));
    save("fuzz_tokenizer_meta", "stories.gguf", fuzz::stories_vocab());
    for (const char* pre : {"gpt2", "smollm", "llama-bpe", "qwen2", "unknown-pre"})
        save("fuzz_tokenizer_meta", fmt::format("bpe_{}.gguf", pre), fuzz::small_bpe_vocab(pre));
    gguf::writer w; // SentencePiece vocabulary without scores or types
    w.set("tokenizer.ggml.model", gguf::value::of_string("llama"));
    w.set("tokenizer.ggml.tokens", gguf::value::of_strings({"<unk>", "<s>", "</s>",
                                                            "\xe2\x96\x81"
                                                            "a",
                                                            "b", "<0x41>"}));
    save("fuzz_tokenizer_meta", "spm_minimal.gguf", w.to_memory());
}

// Programs for ops_program (fuzz/targets/ops_target.h), written in its reading order.
struct prog {
    bytes b;
    prog& u8(uint8_t v) {
        b.push_back(v);
        return *this;
    }
    template <class T> prog& raw(T v) {
        b = cat({b, le<T>(v)});
        return *this;
    }
    prog& dim(int64_t v) { // 1..9 one byte; 16..271 two bytes
        if (v <= 9) return u8(uint8_t(v - 1));
        return u8(206).u8(uint8_t(v - 16));
    }
    // type index: 0 f32, 3 f16, 4 q8_0, 5 q4_0, 6 q4_1, 7 i32
    prog& leaf(uint8_t type, std::initializer_list<int64_t> ne) {
        u8(type).u8(uint8_t(ne.size()));
        for (int64_t n : ne)
            dim(n);
        if (type >= 4 && type <= 6) u8(0); // keep ne0 as given
        return *this;
    }
    prog& op(uint8_t a, uint8_t b_, uint8_t c, uint8_t kind) { return u8(a).u8(b_).u8(c).u8(kind); }
};

void ops_seeds() {
    auto begin = [](int leaves) {
        prog p;
        p.raw<uint32_t>(12345).u8(uint8_t(leaves - 1));
        return p;
    };
    auto save_prog = [](const std::string& name, prog p) { save("fuzz_ops", name, p.u8(1).b); }; // compute
    {
        prog p = begin(2).leaf(0, {8, 4}).leaf(0, {8, 3});
        p.u8(1).op(0, 1, 0, 15);
        save_prog("mul_mat_f32", p);
    }
    {
        prog p = begin(2).leaf(4, {32, 4}).leaf(0, {32, 3});
        p.u8(1).op(0, 1, 0, 15);
        save_prog("mul_mat_q8_0", p);
    }
    {
        prog p = begin(2).leaf(5, {32, 4, 2}).leaf(0, {32, 3, 4});
        p.u8(1).op(0, 1, 0, 15);
        save_prog("mul_mat_q4_0_bcast", p);
    }
    {
        prog p = begin(2).leaf(6, {32, 2}).leaf(0, {32, 1});
        p.u8(1).op(0, 1, 0, 15);
        save_prog("mul_mat_q4_1", p);
    }
    {
        prog p = begin(3).leaf(0, {8, 5, 2}).leaf(3, {8, 7, 1}).leaf(3, {8, 7, 1});
        p.u8(1).op(0, 1, 2, 20).raw<int8_t>(2).u8(1);
        save_prog("flash_attn_f16_npast", p);
    }
    {
        prog p = begin(3).leaf(0, {8, 4, 4}).leaf(0, {8, 4, 2}).leaf(0, {8, 4, 2});
        p.u8(1).op(0, 1, 2, 20).raw<int8_t>(0).u8(0);
        save_prog("flash_attn_noncausal_gqa", p);
    }
    {
        prog p = begin(3).leaf(0, {8, 16, 2}).leaf(0, {8, 18, 1}).leaf(0, {8, 18, 1});
        p.u8(1).op(0, 1, 2, 21).u8(1).u8(0).u8(1).u8(1).u8(1).u8(1).u8(1).u8(1).u8(1).raw<int8_t>(2).u8(0);
        save_prog("proxy_block4", p);
    }
    {
        prog p = begin(3).leaf(0, {8, 9, 4}).leaf(3, {8, 9, 2}).leaf(3, {8, 9, 2});
        p.u8(1).op(0, 1, 2, 21).u8(1).u8(1).u8(1).u8(2).u8(1).u8(1).u8(1).u8(0).u8(1).raw<int8_t>(0).u8(0);
        save_prog("proxy_f16_stride4", p);
    }
    {
        prog p = begin(1).leaf(0, {8, 2, 3});
        p.u8(1).op(0, 0, 0, 16).raw<int8_t>(8).u8(2).u8(1).raw<int16_t>(3);
        save_prog("rope_neox", p);
    }
    {
        prog p = begin(2).leaf(0, {6, 3, 2}).leaf(3, {6, 4});
        p.u8(1).op(0, 1, 0, 17).u8(0);
        save_prog("soft_max_mask", p);
    }
    {
        prog p = begin(1).leaf(0, {7, 3});
        p.u8(2).op(0, 0, 0, 14).u8(1).op(1, 0, 0, 18);
        save_prog("rms_norm_silu", p);
    }
    {
        prog p = begin(2).leaf(0, {4, 6, 2}).leaf(7, {3, 2});
        p.u8(1).op(0, 1, 0, 10);
        save_prog("get_rows", p);
    }
    {
        prog p = begin(2).leaf(4, {32, 6}).leaf(7, {3});
        p.u8(1).op(0, 1, 0, 10);
        save_prog("get_rows_q8_0", p);
    }
    {
        prog p = begin(2).leaf(0, {4, 3, 2}).leaf(0, {4, 1, 2});
        p.u8(3).op(0, 1, 0, 11).op(2, 1, 0, 12).op(3, 0, 0, 19);
        save_prog("add_mul_swiglu", p);
    }
    {
        prog p = begin(1).leaf(0, {4, 3, 2, 2});
        p.u8(3).op(0, 0, 0, 5).u8(2).u8(0).u8(1).u8(3).op(1, 0, 0, 7).op(2, 0, 0, 13).raw<float>(2.0f);
        save_prog("permute_cont_scale", p);
    }
    {
        prog p = begin(2).leaf(0, {8, 4}).leaf(3, {8, 4});
        p.u8(3).op(0, 1, 0, 9).op(2, 0, 0, 6).op(3, 0, 0, 7);
        save_prog("cpy_f16_transpose_cont", p);
    }
    {
        prog p = begin(1).leaf(0, {32, 4});
        p.u8(1).op(0, 0, 0, 8).u8(8);
        save_prog("cont_to_q8_0", p);
    }
    {
        prog p = begin(1).leaf(0, {16, 4});
        p.u8(2)
            .op(0, 0, 0, 2)
            .dim(4)
            .dim(2)
            .dim(3)
            .raw<uint32_t>(16)
            .u8(1)
            .raw<uint32_t>(32)
            .u8(1)
            .raw<uint32_t>(4)
            .u8(1)
            .op(1, 0, 0, 18);
        save_prog("view_3d_silu", p);
    }
    {
        prog p = begin(1).leaf(0, {6, 4});
        p.u8(1).op(0, 0, 0, 4).dim(3).dim(8).dim(1).u8(1);
        save_prog("reshape", p);
    }
}

// A file some writer made at a path, as bytes.
bytes written(const std::function<void(const std::string&)>& write) {
    const fuzz::memfile f({});
    write(f.path());
    std::ifstream in(f.path(), std::ios::binary);
    return bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The bytes after a Q/K/V dump that pick the node's parameters (dumps_target.h run_attention).
bytes proxy_trailer(uint64_t block, uint64_t stride, uint64_t n_proxy, uint64_t budget, bool f16_kv) {
    return cat({le<uint64_t>(block - 1), le<uint64_t>(stride - 1), le<uint8_t>(1), le<uint64_t>(n_proxy - 1),
                le<uint8_t>(1), le<uint64_t>(0), le<uint64_t>(budget), le<uint64_t>(4), le<uint8_t>(1),
                le<uint8_t>(0), le<uint8_t>(f16_kv ? 1 : 0)});
}

void dumps_seeds() {
    using analysis::pattern;
    struct problem {
        const char* name;
        pattern pat;
        int64_t N, n_past, H, Hkv, d, block, stride, n_proxy, budget;
        bool f16;
    };
    const problem problems[] = {
        {"random_b4", pattern::random, 16, 0, 2, 1, 8, 4, 2, 1, 0, false},
        {"needle_npast_f16", pattern::needle, 12, 9, 4, 2, 8, 4, 4, 2, 1, true},
        {"sink_local_partial_block", pattern::sink_local, 13, 0, 2, 2, 8, 8, 2, 1, 2, false},
        {"random_one_query", pattern::random, 1, 20, 2, 1, 4, 4, 1, 1, 0, true},
    };
    for (const problem& p : problems) {
        const attn_qkv s = analysis::synthesize(p.pat, p.N, p.n_past, p.H, p.Hkv, p.d, 5, 0.0f, p.block);
        const bytes dump = written([&](const std::string& path) { analysis::write_qkv_dump(path, s); });
        save("fuzz_dumps", fmt::format("qkv_{}", p.name),
             cat({dump, proxy_trailer(uint64_t(p.block), uint64_t(p.stride), uint64_t(p.n_proxy),
                                      uint64_t(p.budget), p.f16)}));
        // the node's estimated mask of the same problem, and the full mask of its grid
        fuzz::ensure_proxy_op();
        analysis::attn_inputs in;
        analysis::make_attn_inputs(in, s, PA_TYPE_F32);
        proxy_params pp;
        pp.block = int32_t(p.block);
        pp.stride = int32_t(p.stride);
        pp.n_past = int32_t(p.n_past);
        const proxy::geometry geo = proxy::make_geometry(proxy_sparse_attn(in.ctx, in.q, in.k, in.v, pp));
        const proxy::estimate e = proxy::estimate_mask(geo, proxy::load_qkv(geo, in.q, in.k, in.v, 1), 1);
        save("fuzz_dumps", fmt::format("mask_{}", p.name),
             written([&](const std::string& path) { analysis::write_mask_file(path, e.mask); }));
        save("fuzz_dumps", fmt::format("mask_full_{}", p.name), written([&](const std::string& path) {
                 analysis::write_mask_file(path, block_mask::full(geo, p.H));
             }));
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        fmt::print(stderr, "usage: pa_fuzz_seeds <corpus dir>\n");
        return 1;
    }
    g_root = argv[1];
    gguf_seeds();
    llama2c_seeds();
    tokenizer_seeds();
    ops_seeds();
    dumps_seeds();
    // every seed must run through its target cleanly
    for (const auto& dir : fs::directory_iterator(g_root)) {
        for (const auto& e : fs::directory_iterator(dir.path())) {
            std::ifstream f(e.path(), std::ios::binary);
            const bytes b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
            const std::string t = dir.path().filename().string();
            if (t == "fuzz_gguf")
                fuzz::run_gguf(b);
            else if (t == "fuzz_llama2c")
                fuzz::run_llama2c(b);
            else if (t == "fuzz_tokenizer_encode")
                fuzz::run_tokenizer_encode(b);
            else if (t == "fuzz_tokenizer_meta")
                fuzz::run_tokenizer_meta(b);
            else if (t == "fuzz_ops")
                fuzz::run_ops(b);
            else if (t == "fuzz_dumps")
                fuzz::run_dumps(b);
        }
    }
    fmt::print("seeds written to {}\n", g_root.string());
    return 0;
}
