// pa bench attn|prefill|gemm|model: the benchmarks of bench/ (see docs/benchmarks.md).
#include <cstdio>
#include <cstring>

#include "bench.h"
#include "cli.h"
#include "pa/error.h"

namespace {

int run_bench(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        std::printf(
            "usage: pa bench attn|prefill|gemm|model|random-model [options]   (pa bench <what> --help for "
            "options)\n"
            "  attn     dense vs proxy_sparse_attn over N, per-stage times, recall, density, CLBlast SGEMM\n"
            "  prefill  random-weight llama (Llama-3-8B layer shapes, Q4_0) prefill, dense vs proxy\n"
            "  gemm     weight products per shape and type: tensor cores vs CLBlast SGEMM\n"
            "  model    a GGUF model's prompt (ppN) and generation (tgN) speed, as llama-bench\n"
            "  random-model  a llama GGUF of a given shape (Llama-3-8B) with random quantized weights\n");
        return argc < 2 ? 1 : 0;
    }
    if (!std::strcmp(argv[1], "attn")) return pa::bench::run_bench_attn(argc - 1, argv + 1);
    if (!std::strcmp(argv[1], "prefill")) return pa::bench::run_bench_prefill(argc - 1, argv + 1);
    if (!std::strcmp(argv[1], "gemm")) return pa::bench::run_bench_gemm(argc - 1, argv + 1);
    if (!std::strcmp(argv[1], "model")) return pa::bench::run_bench_model(argc - 1, argv + 1);
    if (!std::strcmp(argv[1], "random-model")) return pa::bench::run_bench_random_model(argc - 1, argv + 1);
    throw pa::error(std::string("pa bench: unknown benchmark '") + argv[1] +
                    "' (attn, prefill, gemm, model, random-model)");
}

} // namespace

PA_CLI_COMMAND(bench,
               "benchmarks: dense vs proxy attention (attn), model prefill (prefill), weight GEMMs (gemm), "
               "model pp/tg (model); JSON in "
               "bench/results",
               run_bench);
