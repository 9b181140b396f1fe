// bench.h - the benchmark subcommands (`pa bench attn`, `pa bench prefill`, `pa bench gemm`, `pa bench
// model`); the CLI's examples/cli/cmd_bench.cpp dispatches to them. argv[0] is the sub-subcommand name.
#pragma once

namespace pa::bench {

int run_bench_attn(int argc, char** argv);
int run_bench_prefill(int argc, char** argv);
int run_bench_gemm(int argc, char** argv);
int run_bench_model(int argc, char** argv);
int run_bench_random_model(int argc, char** argv);

} // namespace pa::bench
