// fuzz_gguf.cpp - libFuzzer entry for pa::fuzz::run_gguf (body in fuzz/targets/gguf_target.h).
#include "targets/gguf_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    pa::fuzz::run_gguf({data, size});
    return 0;
}
