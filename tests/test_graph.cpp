// test_graph.cpp - build_forward: topological order (srcs before users), leafs collected once,
// shared subexpressions once, views' storage owners first, deep chains without recursion.
#include <gtest/gtest.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "backend_ops_util.h"
#include "pa/error.h"
#include "pa/graph.h"
#include "pa/ops.h"

namespace pa {
namespace {

// Every src and storage owner of a node is either a leaf of g or a node placed before it;
// no tensor appears twice; leafs are exactly the op-less tensors reached.
void expect_valid_order(const graph& g) {
    std::unordered_map<const tensor*, size_t> pos;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        EXPECT_NE(g.nodes[i]->op, PA_OP_NONE);
        EXPECT_TRUE(pos.emplace(g.nodes[i], i).second) << "node listed twice";
    }
    std::unordered_set<const tensor*> leafs;
    for (const tensor* l : g.leafs) {
        EXPECT_EQ(l->op, PA_OP_NONE);
        EXPECT_TRUE(leafs.insert(l).second) << "leaf listed twice";
    }
    auto before = [&](const tensor* dep, size_t i) {
        if (dep->op == PA_OP_NONE) return leafs.count(dep) == 1;
        auto it = pos.find(dep);
        return it != pos.end() && it->second < i;
    };
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const tensor* n = g.nodes[i];
        for (const tensor* s : n->src) {
            if (!s) continue;
            EXPECT_TRUE(before(s, i)) << "src after its user at node " << i;
        }
        if (n->view_src) {
            EXPECT_TRUE(before(n->view_src, i)) << "view owner after the view at node " << i;
        }
    }
}

TEST(Graph, SrcsBeforeUsersAndLeafsCollected) {
    context ctx;
    tensor* x = ctx.new_tensor(PA_TYPE_F32, {8, 4});
    tensor* w = ctx.new_tensor(PA_TYPE_F16, {8, 6});
    tensor* g_ = ctx.new_tensor(PA_TYPE_F32, {8});
    tensor* h = mul(ctx, rms_norm(ctx, x, 1e-5f), g_);
    tensor* y = mul_mat(ctx, w, h);
    tensor* out = soft_max_ext(ctx, scale(ctx, y, 0.5f), nullptr, 1.0f);
    graph g = build_forward({out});
    expect_valid_order(g);
    EXPECT_EQ(g.nodes.size(), 5u);
    EXPECT_EQ(g.nodes.back(), out);
    EXPECT_EQ(g.leafs.size(), 3u);
    for (tensor* l : {x, w, g_}) EXPECT_NE(std::find(g.leafs.begin(), g.leafs.end(), l), g.leafs.end());
    ASSERT_EQ(g.outputs.size(), 1u);
    EXPECT_EQ(g.outputs[0], out);
    EXPECT_TRUE(out->flags & PA_FLAG_OUTPUT);
    EXPECT_FALSE(y->flags & PA_FLAG_OUTPUT);
}

TEST(Graph, SharedSubexpressionsAppearOnce) {
    context ctx;
    tensor* a = ctx.new_tensor(PA_TYPE_F32, {4});
    tensor* b = ctx.new_tensor(PA_TYPE_F32, {4});
    tensor* c = add(ctx, a, b); // used three times
    tensor* d = mul(ctx, c, c); // the same src twice
    tensor* e = add(ctx, d, c);
    tensor* f = swiglu(ctx, e, c);
    graph g = build_forward({f, d}); // d also an output, already reached through f
    expect_valid_order(g);
    EXPECT_EQ(g.nodes.size(), 4u);
    EXPECT_EQ(std::count(g.nodes.begin(), g.nodes.end(), c), 1);
    EXPECT_EQ(g.leafs.size(), 2u);
    EXPECT_EQ(g.outputs.size(), 2u);
    EXPECT_TRUE(d->flags & PA_FLAG_OUTPUT);
    EXPECT_TRUE(f->flags & PA_FLAG_OUTPUT);
}

TEST(Graph, ViewsOfLeafsAndOfComputedTensors) {
    context ctx;
    tensor* kv = ctx.new_tensor(PA_TYPE_F16, {8, 16, 2});
    tensor* q = ctx.new_tensor(PA_TYPE_F32, {8, 4, 2});
    tensor* k = view_3d(ctx, kv, 8, 10, 2, kv->nb[1], kv->nb[2], 0); // first 10 cached keys
    tensor* v = view_3d(ctx, kv, 8, 10, 2, kv->nb[1], kv->nb[2], 6 * kv->nb[1]);
    tensor* o = flash_attn_ext(ctx, q, k, v, 0.3f, 6);
    tensor* p = permute(ctx, reshape(ctx, cont(ctx, o), {8, 2, 4}), 0, 2, 1, 3);
    graph g = build_forward({cont(ctx, p)});
    expect_valid_order(g);
    EXPECT_EQ(std::count(g.leafs.begin(), g.leafs.end(), kv), 1);
    EXPECT_EQ(g.leafs.size(), 2u);
    // a view whose storage owner is not among its srcs' chain is reached through view_src
    context ctx2;
    tensor* base = ctx2.new_tensor(PA_TYPE_F32, {4, 4});
    tensor* odd = ctx2.new_record();
    *odd = *view_1d(ctx2, base, 4, 16);
    odd->src[0] = nullptr; // hand-made: only view_src links it to base
    graph g2 = build_forward({scale(ctx2, odd, 2.0f)});
    expect_valid_order(g2);
    EXPECT_EQ(g2.leafs.size(), 1u);
    EXPECT_EQ(g2.leafs[0], base);
}

TEST(Graph, ViewOfAComputedTensorThatIsNotASourceIsAnError) {
    context ctx;
    tensor* a = ctx.new_tensor(PA_TYPE_F32, {4});
    tensor* s = scale(ctx, a, 2.0f);
    tensor* v = ctx.new_record();
    *v = *view_1d(ctx, s, 2, 0);
    v->src[0] = nullptr;
    EXPECT_THROW(build_forward({silu(ctx, v)}), error);
}

TEST(Graph, NullOutputIsAnError) {
    EXPECT_THROW(build_forward({nullptr}), error);
    EXPECT_NO_THROW(build_forward(std::vector<tensor*>{}));
}

TEST(Graph, LeafOutputIsALeafNotANode) {
    context ctx;
    tensor* a = ctx.new_tensor(PA_TYPE_F32, {4});
    graph g = build_forward({a});
    EXPECT_TRUE(g.nodes.empty());
    ASSERT_EQ(g.leafs.size(), 1u);
    EXPECT_EQ(g.leafs[0], a);
}

// 100000 nodes deep: ordering must not recurse, and the chain must compute to the closed form.
TEST(Graph, DeepChainWithoutStackOverflow) {
    constexpr int depth = 100000;
    context ctx;
    tensor* x = ctx.new_tensor(PA_TYPE_F32, {1});
    tensor* one = ctx.new_tensor(PA_TYPE_F32, {1});
    test::set_values(x, {0.0f});
    test::set_values(one, {1.0f});
    tensor* t = x;
    for (int i = 0; i < depth; ++i) t = add(ctx, t, one);
    graph g = build_forward({t});
    ASSERT_EQ(g.nodes.size(), size_t(depth));
    EXPECT_EQ(g.leafs.size(), 2u);
    for (size_t i = 1; i < g.nodes.size(); ++i) ASSERT_EQ(g.nodes[i]->src[0], g.nodes[i - 1]);
    auto cpu = make_cpu_backend(1);
    test::run_on_host(ctx, g, *cpu);
    EXPECT_EQ(test::get_values(t)[0], float(depth)); // integers up to 2^24 are exact in f32
}

// A wide and deep random DAG: every node reachable once, order valid.
TEST(Graph, RandomDagOrderIsTopological) {
    context ctx;
    std::vector<tensor*> pool;
    for (int i = 0; i < 8; ++i) pool.push_back(ctx.new_tensor(PA_TYPE_F32, {3, 2}));
    uint32_t state = 12345;
    auto next = [&] { return state = state * 1664525u + 1013904223u; };
    for (int i = 0; i < 3000; ++i) {
        tensor* a = pool[next() % pool.size()];
        tensor* b = pool[next() % pool.size()];
        pool.push_back(next() % 2 ? add(ctx, a, b) : mul(ctx, a, b));
    }
    graph g = build_forward({pool.back(), pool[pool.size() / 2]});
    expect_valid_order(g);
    EXPECT_LE(g.nodes.size(), 3000u);
}

} // namespace
} // namespace pa
