// sanitizer_defaults.cpp - linked into every target of a PA_SANITIZE build.
// LeakSanitizer reports what is still allocated at exit. PoCL and its LLVM keep per-process
// state (compiled kernels, device tables) that they never free, by design; those allocations
// are suppressed by the library they come from, so a leak in our own code still fails the test.
extern "C" const char* __lsan_default_suppressions() {
    return "leak:libpocl.so\n"
           "leak:libLLVM\n";
}
