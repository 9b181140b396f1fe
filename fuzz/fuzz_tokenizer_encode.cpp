// fuzz_tokenizer_encode.cpp - libFuzzer entry for pa::fuzz::run_tokenizer_encode (body in fuzz/targets/tokenizer_target.h).
#include "targets/tokenizer_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    pa::fuzz::run_tokenizer_encode({data, size});
    return 0;
}
