// test_backend_errors.cpp - the same bad graph gives the same error on every backend. Each case
// is a graph that is wrong: out-of-range row ids (found only when computing, by the node), or
// mismatched shapes and wrong types (refused by the op constructor before any backend sees
// them). Every case is built twice from scratch and computed by scheduler({cpu}) and by
// scheduler({opencl, cpu}); both must throw pa::error with the case's status at the same stage,
// the OpenCL message must end with the CPU's (the plugin edge prefixes the backend and call),
// and a node that fails while computing must have run on OpenCL, not fallen back to the CPU.
#include <gtest/gtest.h>

#include <climits>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "backend_ops_util.h"
#include "pa/error.h"
#include "pa/ops.h"
#include "pa/plugin_loader.h"
#include "pa/scheduler.h"

namespace pa::test {
namespace {

struct backends {
    std::unique_ptr<backend> cpu = make_cpu_backend(2);
    std::shared_ptr<plugin> opencl_plugin;
    std::unique_ptr<backend> opencl;
    std::string skip_reason;
};

backends& env() {
    static backends b = [] {
        backends x;
        x.opencl_plugin = plugin::load(PA_PLUGIN_PATH); // a load failure fails every test
        if (x.opencl_plugin->device_count() == 0)
            x.skip_reason = "the OpenCL plugin reports no device";
        else
            x.opencl = x.opencl_plugin->open_backend("");
        return x;
    }();
    return b;
}

#define REQUIRE_OPENCL()                                                                                     \
    if (!env().opencl) GTEST_SKIP() << env().skip_reason

enum class stage { build, compute, none };
std::ostream& operator<<(std::ostream& os, stage s) {
    return os << (s == stage::build ? "build" : s == stage::compute ? "compute" : "none (no error)");
}

struct outcome {
    stage at = stage::none;
    pa_status status = PA_OK;
    std::string message;
    int failing_backend = -1; // compute errors: where the failing node ran
};

struct bad_graph {
    std::string name;
    // Builds the graph (may throw) and returns its output; the node expected to fail, if the
    // error comes while computing, goes to *failing.
    std::function<tensor*(context&, tensor** failing)> build;
    stage expected_stage;
};

tensor* i32(context& ctx, std::initializer_list<int64_t> ne, const std::vector<int32_t>& v) {
    tensor* t = ctx.new_tensor(PA_TYPE_I32, ne);
    set_i32(t, v);
    return t;
}

tensor* filled(context& ctx, pa_type type, std::initializer_list<int64_t> ne) {
    tensor* t = ctx.new_tensor(type, ne);
    set_values(t, random_values(size_t(nelements(t)), 11));
    return t;
}

outcome run(const bad_graph& c, const std::vector<backend*>& order) {
    outcome o;
    context ctx;
    tensor* failing = nullptr;
    tensor* out = nullptr;
    try {
        out = c.build(ctx, &failing);
    } catch (const error& e) {
        return {stage::build, e.status(), e.what(), -1};
    }
    scheduler s(order);
    try {
        s.compute(build_forward({out}));
    } catch (const error& e) {
        o = {stage::compute, e.status(), e.what(), failing ? s.assigned_backend(failing) : -1};
    }
    return o;
}

// get_rows of a source of `rows` rows (type t, [ne0, rows, ne2]) at the given ids [n, ne2].
bad_graph rows_case(std::string name, pa_type t, int64_t ne0, int64_t rows, int64_t ne2,
                    std::vector<int32_t> ids) {
    return {std::move(name),
            [=](context& ctx, tensor** failing) {
                tensor* a = filled(ctx, t, {ne0, rows, ne2});
                tensor* id = i32(ctx, {int64_t(ids.size()) / ne2, ne2}, ids);
                return *failing = get_rows(ctx, a, id);
            },
            stage::compute};
}

std::vector<bad_graph> bad_graphs() {
    std::vector<bad_graph> c;
    // ids out of range: every source type, first, middle and last rows, both ends of int32
    c.push_back(rows_case("id_equal_to_rows_f32", PA_TYPE_F32, 4, 5, 1, {0, 5, 1}));
    c.push_back(rows_case("negative_id_f16", PA_TYPE_F16, 7, 3, 1, {-1}));
    c.push_back(rows_case("int32_max_id_q8_0", PA_TYPE_Q8_0, 32, 3, 1, {2, 1, INT32_MAX}));
    c.push_back(rows_case("int32_min_id_q4_0", PA_TYPE_Q4_0, 64, 2, 1, {INT32_MIN, 0}));
    c.push_back(rows_case("bad_id_in_last_slice_q4_1", PA_TYPE_Q4_1, 32, 4, 3, {0, 3, 1, 2, 3, 4}));
    c.push_back(rows_case("several_bad_ids_first_is_reported", PA_TYPE_F32, 3, 4, 1, {1, 7, -1, 9}));
    c.push_back(rows_case("many_rows_one_bad", PA_TYPE_F32, 5, 50, 1, [] {
        std::vector<int32_t> v(300, 3);
        v[271] = 50;
        return v;
    }()));
    c.push_back({"ids_a_transposed_view",
                 [](context& ctx, tensor** failing) {
                     tensor* a = filled(ctx, PA_TYPE_F32, {6, 4, 2});
                     tensor* base = i32(ctx, {2, 3}, {0, 1, 2, 3, 3, 4}); // ids [3, 2]: (0,2,3), (1,3,4)
                     return *failing = get_rows(ctx, a, transpose(ctx, base));
                 },
                 stage::compute});
    c.push_back({"ids_computed_on_the_device",
                 [](context& ctx, tensor** failing) {
                     tensor* a = filled(ctx, PA_TYPE_F16, {6, 4});
                     tensor* base = i32(ctx, {2, 2}, {0, 1, 2, 4});
                     return *failing = get_rows(ctx, a, reshape(ctx, cont(ctx, transpose(ctx, base)), {4}));
                 },
                 stage::compute});
    // mismatched shapes and wrong types: the constructors refuse them on every backend
    auto at_build = [&](std::string name, std::function<tensor*(context&)> f) {
        c.push_back({std::move(name), [f](context& ctx, tensor**) { return f(ctx); }, stage::build});
    };
    at_build("get_rows_ids_f32", [](context& ctx) {
        return get_rows(ctx, filled(ctx, PA_TYPE_F32, {4, 5}), filled(ctx, PA_TYPE_F32, {2}));
    });
    at_build("get_rows_ids_slices_differ", [](context& ctx) {
        return get_rows(ctx, filled(ctx, PA_TYPE_F32, {4, 5, 2}), i32(ctx, {2, 3}, {0, 0, 0, 0, 0, 0}));
    });
    at_build("mul_mat_k_differs", [](context& ctx) {
        return mul_mat(ctx, filled(ctx, PA_TYPE_F32, {8, 4}), filled(ctx, PA_TYPE_F32, {9, 3}));
    });
    at_build("mul_mat_b_f16", [](context& ctx) {
        return mul_mat(ctx, filled(ctx, PA_TYPE_F32, {8, 4}), filled(ctx, PA_TYPE_F16, {8, 3}));
    });
    at_build("mul_mat_a_i32", [](context& ctx) {
        return mul_mat(ctx, i32(ctx, {8, 1}, std::vector<int32_t>(8)), filled(ctx, PA_TYPE_F32, {8, 3}));
    });
    at_build("add_not_broadcastable", [](context& ctx) {
        return add(ctx, filled(ctx, PA_TYPE_F32, {6, 4}), filled(ctx, PA_TYPE_F32, {4, 4}));
    });
    at_build("add_f16_first", [](context& ctx) {
        return add(ctx, filled(ctx, PA_TYPE_F16, {6, 4}), filled(ctx, PA_TYPE_F32, {6, 4}));
    });
    at_build("rms_norm_q8_0", [](context& ctx) {
        return rms_norm(ctx, filled(ctx, PA_TYPE_Q8_0, {32, 2}), 1e-5f);
    });
    at_build("cont_f32_to_i32",
             [](context& ctx) { return cont(ctx, filled(ctx, PA_TYPE_F32, {4}), PA_TYPE_I32); });
    at_build("cont_rows_not_whole_blocks", [](context& ctx) {
        return cont(ctx, filled(ctx, PA_TYPE_F32, {33, 2}), PA_TYPE_Q8_0);
    });
    at_build("cpy_element_counts_differ", [](context& ctx) {
        return cpy(ctx, filled(ctx, PA_TYPE_F32, {4, 3}), filled(ctx, PA_TYPE_F32, {4, 4}));
    });
    at_build("soft_max_mask_too_short", [](context& ctx) {
        return soft_max_ext(ctx, filled(ctx, PA_TYPE_F32, {8, 4}), filled(ctx, PA_TYPE_F32, {8, 2}), 1.0f);
    });
    at_build("flash_attn_head_dims_differ", [](context& ctx) {
        return flash_attn_ext(ctx, filled(ctx, PA_TYPE_F32, {8, 2, 2}), filled(ctx, PA_TYPE_F16, {16, 4, 2}),
                              filled(ctx, PA_TYPE_F16, {16, 4, 2}), 0.3f, 2);
    });
    at_build("flash_attn_keys_fewer_than_queries", [](context& ctx) {
        return flash_attn_ext(ctx, filled(ctx, PA_TYPE_F32, {8, 4, 2}), filled(ctx, PA_TYPE_F16, {8, 3, 2}),
                              filled(ctx, PA_TYPE_F16, {8, 3, 2}), 0.3f, 0);
    });
    at_build("rope_odd_dims", [](context& ctx) {
        return rope(ctx, filled(ctx, PA_TYPE_F32, {8, 2, 3}), 3, rope_mode_normal, 10000.0f, 0);
    });
    return c;
}

TEST(BackendErrors, SameBadGraphSameErrorOnEveryBackend) {
    REQUIRE_OPENCL();
    for (const bad_graph& c : bad_graphs()) {
        SCOPED_TRACE(c.name);
        const outcome ref = run(c, {env().cpu.get()});
        const outcome got = run(c, {env().opencl.get(), env().cpu.get()});
        ASSERT_EQ(ref.at, c.expected_stage) << "cpu: " << ref.message;
        EXPECT_EQ(got.at, ref.at) << "opencl: " << got.message;
        EXPECT_EQ(ref.status, PA_ERR_INVALID) << ref.message;
        EXPECT_EQ(got.status, ref.status) << got.message;
        EXPECT_TRUE(got.message.ends_with(ref.message))
            << "opencl: " << got.message << "\ncpu: " << ref.message;
        if (c.expected_stage == stage::compute) {
            EXPECT_EQ(ref.failing_backend, 0);
            EXPECT_EQ(got.failing_backend, 0) << "the failing node did not run on OpenCL";
        }
    }
}

// The error names the id the CPU reference reports: the first bad one in row order.
TEST(BackendErrors, OutOfRangeIdMessageNamesTheFirstBadId) {
    const outcome o = run(bad_graphs()[5], {env().cpu.get()});
    EXPECT_EQ(o.message, "get_rows: row id 7 out of range [0, 4)");
}

// A failed compute leaves nothing behind: the same scheduler and graph, with good ids, give the
// right rows (checked against the source values) on the next compute.
TEST(BackendErrors, GoodIdsAfterABadComputeGiveTheRightRows) {
    REQUIRE_OPENCL();
    context ctx;
    tensor* a = filled(ctx, PA_TYPE_F32, {5, 4});
    tensor* ids = i32(ctx, {3}, {1, 4, 0});
    tensor* out = get_rows(ctx, a, ids);
    graph g = build_forward({out});
    scheduler s({env().opencl.get(), env().cpu.get()});
    EXPECT_THROW(s.compute(g), error);
    set_i32(ids, {3, 0, 2});
    ASSERT_NO_THROW(s.compute(g));
    const auto* src = static_cast<const float*>(a->data);
    const auto* got = static_cast<const float*>(out->data);
    const int picked[] = {3, 0, 2};
    for (int r = 0; r < 3; ++r)
        for (int i = 0; i < 5; ++i)
            EXPECT_EQ(got[r * 5 + i], src[picked[r] * 5 + i]) << r << "," << i;
}

} // namespace
} // namespace pa::test
