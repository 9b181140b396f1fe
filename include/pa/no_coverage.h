// no_coverage.h - PA_NO_COVERAGE keeps libFuzzer's coverage instrumentation out of a hot numeric
// loop. The fuzz build compiles the libraries with -fsanitize=fuzzer-no-link so that the fuzzers
// see which parsing and checking branches an input reaches; inside the CPU reference's dot
// products and softmax loops that instrumentation tells them nothing and made the sanitizer
// suite's reference tests ~4-40x slower than ASan alone. ASan and UBSan still check these loops.
// Clang does not combine no_sanitize with target_clones, so a coverage build (PA_COVERAGE_BUILD)
// also compiles the CPU clones' functions once, for the default target.
#pragma once

#if defined(__has_feature)
#if __has_feature(coverage_sanitizer)
#define PA_COVERAGE_BUILD 1
#endif
#endif

#if defined(PA_COVERAGE_BUILD)
#define PA_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define PA_NO_COVERAGE
#endif
