// fuzz_llama2c.cpp - libFuzzer entry for pa::fuzz::run_llama2c (body in fuzz/targets/llama2c_target.h).
#include "targets/llama2c_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    pa::fuzz::run_llama2c({data, size});
    return 0;
}
