// test_kernel_source_rules.cpp - rules for the .cl sources that a compiler on one device enforces
// and another does not, so the device at hand (PoCL here, in CI) would not catch a break.
// - An unroll pragma (`#pragma unroll`, `_Pragma("unroll")` or a macro whose name holds UNROLL,
//   such as MMA_UNROLL) alone on its line must be followed by the loop it applies to: NVIDIA's
//   OpenCL compiler rejects a program whose pragma is followed by anything else ("expected a for,
//   while, or do-while loop to follow '#pragma unroll'"), even a preprocessor block that expands to a
//   declaration; PoCL's accepts it (the 2026-12-02 device run, bench/results/h200-2026-12-02/call3).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::string trimmed(std::string_view s) {
    size_t a = 0, b = s.size();
    while (a < b && (s[a] == ' ' || s[a] == '\t'))
        ++a;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r'))
        --b;
    std::string t(s.substr(a, b - a));
    if (!t.empty() && t.back() == '\\') { // a line of a multi-line macro
        t.pop_back();
        return trimmed(t);
    }
    return t;
}

// "line N: PRAGMA -> NEXT" for every unroll pragma alone on its line whose next line with code
// (blank lines and // comments skipped) does not start a for, while or do loop.
std::vector<std::string> unroll_violations(const std::string& text) {
    static const std::regex pragma(
        R"(^(#\s*pragma\s+unroll.*|_Pragma\("unroll[^"]*"\)|[A-Z0-9_]*UNROLL[A-Z0-9_]*)$)");
    static const std::regex loop(R"(^(for|while|do)\b)");
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        lines.push_back(trimmed(l));
    std::vector<std::string> bad;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (!std::regex_match(lines[i], pragma)) continue;
        size_t j = i + 1;
        while (j < lines.size() && (lines[j].empty() || lines[j].rfind("//", 0) == 0))
            ++j;
        const std::string next = j < lines.size() ? lines[j] : "(end of file)";
        if (!std::regex_search(next, loop))
            bad.push_back("line " + std::to_string(i + 1) + ": " + lines[i] + " -> " + next);
    }
    return bad;
}

TEST(KernelSourceRules, UnrollCheckFindsWhatNvidiaRejects) {
    // the form that failed to build on the H200 (a declaration between the pragma and its loop)
    EXPECT_EQ(
        unroll_violations("    MMA_UNROLL\n#if KEY_AHEAD\n    int k = 0;\n#endif\n    for (;;) {}\n").size(),
        1u);
    EXPECT_EQ(unroll_violations("#pragma unroll\n    x = 1;\n").size(), 1u);
    EXPECT_EQ(unroll_violations("_Pragma(\"unroll 4\")\n").size(), 1u); // nothing follows
    EXPECT_EQ(unroll_violations("    FQ_UNROLL_4 \\\n    y += 2; \\\n").size(), 1u);
    // accepted: the loop on the next line with code, or on the pragma's own line
    EXPECT_TRUE(
        unroll_violations("    MMA_UNROLL\n\n    // why\n    for (int i = 0; i < 4; ++i) {}\n").empty());
    EXPECT_TRUE(unroll_violations("#pragma unroll 8\n    while (i) --i;\n").empty());
    EXPECT_TRUE(unroll_violations("    FQ_UNROLL for (int a = 0; a < 4; ++a) \\\n").empty());
    EXPECT_TRUE(unroll_violations("#define MMA_UNROLL _Pragma(\"unroll\")\n").empty());
}

TEST(KernelSourceRules, EveryKernelSourceKeepsItsLoopsAfterTheirPragmas) {
    namespace fs = std::filesystem;
    const fs::path root = PA_SOURCE_DIR;
    int files = 0;
    for (const char* dir : {"opencl/kernels", "plugin/proxy_sparse_attn/kernels", "bench/kernels"}) {
        ASSERT_TRUE(fs::is_directory(root / dir)) << (root / dir);
        for (const fs::directory_entry& e : fs::directory_iterator(root / dir)) {
            if (e.path().extension() != ".cl") continue;
            std::ifstream f(e.path());
            std::stringstream text;
            text << f.rdbuf();
            ++files;
            for (const std::string& v : unroll_violations(text.str()))
                ADD_FAILURE() << e.path().string() << " " << v;
        }
    }
    EXPECT_GT(files, 20); // the kernels were found
}

} // namespace
