// fuzz_ops.cpp - libFuzzer entry for pa::fuzz::run_ops (body in fuzz/targets/ops_target.h).
#include "targets/ops_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    pa::fuzz::run_ops({data, size});
    return 0;
}
