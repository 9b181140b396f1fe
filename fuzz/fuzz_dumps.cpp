// fuzz_dumps.cpp - libFuzzer entry for pa::fuzz::run_dumps (body in fuzz/targets/dumps_target.h).
#include "targets/dumps_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    pa::fuzz::run_dumps({data, size});
    return 0;
}
