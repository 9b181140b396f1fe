// random_model.cpp - `pa bench random-model`: a llama-architecture GGUF of a given shape with
// random quantized weights, for speed measurements of models whose weights cannot be downloaded
// (Llama-3-8B). llama.cpp loads the same file, so both run on identical bytes. The weights are
// random blocks scaled so that a row's dot product with a unit-variance input has about unit
// variance (finite activations through every layer); norms are ones. The vocabulary is an SPM
// one of <unk>, <s>, </s>, the 256 byte tokens and "▁t<i>" pieces up to the vocabulary size.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "bench.h"
#include "cli.h"
#include "convert.h"
#include "pa/error.h"
#include "pa/gguf.h"
#include "pa/types.h"

namespace pa::bench {
namespace {

constexpr const char* usage =
    "usage: pa bench random-model -o OUT.gguf [--shape S] [--type T] [--seed N]\n"
    "Writes a llama-architecture GGUF with random weights (for speed runs; llama.cpp loads it too).\n"
    "  --shape S   llama3-8b (default: 32 layers, dim 4096, 32 heads / 8 KV, ffn 14336, vocab 128256),\n"
    "              smollm2-135m (30 layers, dim 576, 9 / 3 heads, ffn 1536, vocab 49152), tiny (2 layers,\n"
    "              dim 128, 4 / 2 heads, ffn 256, vocab 512)\n"
    "  --type T    q4_0 (default) | q4_1 | q8_0: the 2-D weights\n"
    "  --ctx C     llama.context_length (default 131072)\n"
    "  --seed N    random seed (default 1)\n";

struct shape {
    int64_t embd, layers, heads, kv_heads, ffn, vocab;
    float rope_theta;
};

shape shape_named(const std::string& name) {
    if (name == "llama3-8b") return {4096, 32, 32, 8, 14336, 128256, 500000.0f};
    if (name == "smollm2-135m") return {576, 30, 9, 3, 1536, 49152, 100000.0f};
    if (name == "tiny") return {128, 2, 4, 2, 256, 512, 10000.0f};
    throw error(fmt::format("--shape must be llama3-8b, smollm2-135m or tiny, not '{}'", name));
}

// rows of ne0 random weights of type t: quants uniform, block scales 1 / sqrt(var(quant) * ne0)
std::vector<uint8_t> random_weight(pa_type t, int64_t ne0, int64_t rows, std::mt19937_64& rng) {
    const type_traits& tr = traits(t);
    const int64_t blocks = ne0 / tr.block_elems * rows;
    std::vector<uint8_t> out(size_t(blocks) * tr.block_bytes);
    for (size_t i = 0; i + 8 <= out.size(); i += 8) {
        const uint64_t r = rng();
        std::memcpy(out.data() + i, &r, 8);
    }
    // a quant's variance: uniform nibbles (q4: 21.25), uniform signed bytes (q8: ~5461)
    const float var = t == PA_TYPE_Q8_0 ? 5461.0f : 21.25f;
    const uint16_t d = fp32_to_fp16(1.0f / std::sqrt(var * float(ne0)));
    const uint16_t m = fp32_to_fp16(-7.5f / std::sqrt(var * float(ne0))); // q4_1: centred like q4_0
    for (int64_t b = 0; b < blocks; ++b) {
        uint8_t* blk = out.data() + size_t(b) * tr.block_bytes;
        std::memcpy(blk, &d, 2);
        if (t == PA_TYPE_Q4_1) std::memcpy(blk + 2, &m, 2);
    }
    return out;
}

std::vector<uint8_t> ones(int64_t n) {
    std::vector<float> v(size_t(n), 1.0f);
    std::vector<uint8_t> out(v.size() * sizeof(float));
    std::memcpy(out.data(), v.data(), out.size());
    return out;
}

} // namespace

int run_bench_random_model(int argc, char** argv) {
    cli::args a(argc, argv, usage);
    if (a.help()) return a.print_usage();
    const std::string out = a.has("-o") ? a.str("-o") : a.str("--out", "");
    const std::string shape_name = a.str("--shape", "llama3-8b");
    const std::string type_name_s = a.str("--type", "q4_0");
    const int64_t ctx = a.i64("--ctx", 131072);
    const uint64_t seed = uint64_t(a.i64("--seed", 1));
    a.finish();
    if (out.empty()) throw error("pa bench random-model: give the output file with -o FILE.gguf");
    const shape s = shape_named(shape_name);
    pa_type t = PA_TYPE_Q4_0;
    if (type_name_s == "q4_1")
        t = PA_TYPE_Q4_1;
    else if (type_name_s == "q8_0")
        t = PA_TYPE_Q8_0;
    else if (type_name_s != "q4_0")
        throw error(fmt::format("--type must be q4_0, q4_1 or q8_0, not '{}'", type_name_s));
    if (ctx < 1 || ctx > INT32_MAX) throw error("--ctx must be in 1..2^31-1");

    gguf::writer w;
    const int64_t d = s.embd / s.heads, kv = d * s.kv_heads;
    model::set_llama_metadata(w, fmt::format("random {} {}", shape_name, type_name_s), t,
                              {uint32_t(ctx), uint32_t(s.embd), uint32_t(s.layers), uint32_t(s.ffn),
                               uint32_t(d), uint32_t(s.heads), uint32_t(s.kv_heads), uint32_t(s.vocab), 1e-5f,
                               s.rope_theta});

    std::vector<std::string> tokens{"<unk>", "<s>", "</s>"};
    std::vector<int32_t> types{model::tt_unknown, model::tt_control, model::tt_control};
    for (int b = 0; b < 256 && int64_t(tokens.size()) < s.vocab; ++b) {
        tokens.push_back(fmt::format("<0x{:02X}>", b));
        types.push_back(model::tt_byte);
    }
    while (int64_t(tokens.size()) < s.vocab) {
        tokens.push_back(fmt::format("\xe2\x96\x81t{}", tokens.size()));
        types.push_back(model::tt_normal);
    }
    std::vector<float> scores(tokens.size());
    for (size_t i = 0; i < scores.size(); ++i)
        scores[i] = -float(i);
    model::set_spm_vocabulary(w, std::move(tokens), scores, types);

    std::mt19937_64 rng(seed);
    const auto weight = [&](const std::string& name, int64_t ne0, int64_t ne1) {
        const int64_t ne[2] = {ne0, ne1};
        w.add_tensor(name, t, ne, random_weight(t, ne0, ne1, rng));
    };
    const auto norm = [&](const std::string& name) {
        const int64_t ne[1] = {s.embd};
        w.add_tensor(name, PA_TYPE_F32, ne, ones(s.embd));
    };
    weight("token_embd.weight", s.embd, s.vocab);
    for (int64_t l = 0; l < s.layers; ++l) {
        const std::string p = fmt::format("blk.{}.", l);
        norm(p + "attn_norm.weight");
        weight(p + "attn_q.weight", s.embd, s.embd);
        weight(p + "attn_k.weight", s.embd, kv);
        weight(p + "attn_v.weight", s.embd, kv);
        weight(p + "attn_output.weight", s.embd, s.embd);
        norm(p + "ffn_norm.weight");
        weight(p + "ffn_gate.weight", s.embd, s.ffn);
        weight(p + "ffn_up.weight", s.embd, s.ffn);
        weight(p + "ffn_down.weight", s.ffn, s.embd);
    }
    norm("output_norm.weight");
    weight("output.weight", s.embd, s.vocab);
    w.write(out);
    std::printf("wrote %s (%s, %s)\n", out.c_str(), shape_name.c_str(), type_name_s.c_str());
    return 0;
}

} // namespace pa::bench
