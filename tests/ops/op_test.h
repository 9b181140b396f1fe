// op_test.h - what the per-family op tests (tests/ops/<family>.cpp) share.
//   BackendOps (in the spirit of ggml's test-backend-ops): one test_case struct per op family
//     builds its graph from a few variables, names itself from them and states its NMSE bound;
//     inputs are the graph's leafs, filled with uniform [-1, 1] values from a seed fixed by the
//     case name (ids and masks by the case). test_backend_ops.cpp runs every case on the CPU
//     reference and on each backend and compares them.
//   CpuOps: the CPU reference against hand-computed and closed-form cases, on this fixture.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backend_ops_util.h"
#include "pa/error.h"
#include "pa/ops.h"

namespace pa::test {

using shape4 = std::array<int64_t, 4>;

struct test_case {
    virtual ~test_case() = default;
    virtual std::string op_name() const = 0;
    virtual std::string vars() const = 0;
    virtual double max_nmse() const { return 1e-7; }
    // Builds the graph; must give the same graph (and leaf order) every call.
    virtual tensor* build(context& ctx) = 0;
    // Fills one leaf; the default is uniform [-1, 1] floats.
    virtual void init(tensor* leaf, std::mt19937& rng) {
        set_values(leaf, random_values(size_t(nelements(leaf)), rng()));
    }
    std::string name() const { return op_name() + "(" + vars() + ")"; }
};

// How an input is laid out in memory (all give the same logical shape).
enum class layout {
    packed,     // contiguous
    transposed, // stored with dims 0 and 1 swapped, then transposed (plain types only)
    permuted,   // stored with dims 1 and 2 swapped, then permuted back
    padded,     // a view into a bigger tensor: longer rows, an extra row, an odd offset
};

inline const char* layout_name(layout l) {
    switch (l) {
    case layout::packed:
        return "packed";
    case layout::transposed:
        return "transposed";
    case layout::permuted:
        return "permuted";
    case layout::padded:
        return "padded";
    }
    return "?";
}

inline std::string shape_str(const shape4& ne) {
    return fmt::format("{}x{}x{}x{}", ne[0], ne[1], ne[2], ne[3]);
}

inline void set_name(tensor* t, const char* name) {
    std::snprintf(t->name, sizeof t->name, "%s", name);
}

// An input of logical shape ne in the given layout; the storage leaf is named `name`.
inline tensor* make_input(context& ctx, pa_type type, shape4 ne, layout l, const char* name = "input") {
    const bool quant = traits(type).quantized;
    tensor* base = nullptr;
    tensor* out = nullptr;
    switch (l) {
    case layout::packed:
        base = out = ctx.new_tensor(type, {ne[0], ne[1], ne[2], ne[3]});
        break;
    case layout::transposed:
        base = ctx.new_tensor(type, {ne[1], ne[0], ne[2], ne[3]});
        out = transpose(ctx, base);
        break;
    case layout::permuted:
        base = ctx.new_tensor(type, {ne[0], ne[2], ne[1], ne[3]});
        out = permute(ctx, base, 0, 2, 1, 3);
        break;
    case layout::padded: {
        const int64_t pad = quant ? 2 * quant_block_elems : 3;
        base = ctx.new_tensor(type, {ne[0] + pad, ne[1] + 1, ne[2], ne[3]});
        const size_t offset = base->nb[1] + (quant ? traits(type).block_bytes : 2 * traits(type).block_bytes);
        out = view_4d(ctx, base, ne[0], ne[1], ne[2], ne[3], base->nb[1], base->nb[2], base->nb[3], offset);
        break;
    }
    }
    if (!base) throw error("make_input: unknown layout");
    set_name(base, name);
    return out;
}

using case_list = std::vector<std::unique_ptr<test_case>>;

// Runs every case of a family on the CPU reference and on the OpenCL backend and checks them
// (test_backend_ops.cpp); the label names the family in the summary line.
void run_family(const char* label, const case_list& cases);

// Every family's case list, for BackendOps.CaseTableRunsOnCpu.
using case_maker = case_list (*)();
std::vector<case_maker>& case_makers();
inline bool register_cases(case_maker make) {
    case_makers().push_back(make);
    return true;
}

// Ends a family file: registers its case list and defines BackendOps.<test>, which runs the
// list on every backend (label names the family in the summary line).
#define PA_BACKEND_OPS_TEST(test, label, make_cases)                                                         \
    const bool make_cases##_registered = register_cases(make_cases);                                         \
    TEST(BackendOps, test) {                                                                                 \
        run_family(label, make_cases());                                                                     \
    }

// Random shapes from a fixed seed, on top of each family's hand-picked ones.
struct shape_rng {
    std::mt19937 rng;
    explicit shape_rng(uint32_t seed) : rng(seed) {}
    int64_t in(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
    template <class T, size_t N> T pick(const T (&v)[N]) { return v[size_t(in(0, int64_t(N) - 1))]; }
};

inline constexpr pa_type all_types[] = {PA_TYPE_F32, PA_TYPE_F16, PA_TYPE_Q8_0, PA_TYPE_Q4_0, PA_TYPE_Q4_1};
inline constexpr layout all_layouts[] = {layout::packed, layout::transposed, layout::permuted,
                                         layout::padded};

// ---- CpuOps ------------------------------------------------------------------------------
class CpuOps : public ::testing::Test {
  protected:
    std::unique_ptr<backend> cpu = make_cpu_backend(2);
    context ctx;

    std::vector<float> run(tensor* out) {
        graph g = build_forward({out});
        run_on_host(ctx, g, *cpu);
        return get_values(out);
    }
    tensor* f32(std::initializer_list<int64_t> ne, const std::vector<float>& v) {
        tensor* t = ctx.new_tensor(PA_TYPE_F32, ne);
        set_values(t, v);
        return t;
    }
};

inline void expect_near_all(const std::vector<float>& got, const std::vector<float>& want,
                            float tol = 1e-6f) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
        EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

} // namespace pa::test
