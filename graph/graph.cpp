// graph.cpp - topological ordering of the tensors that outputs depend on.
#include "pa/graph.h"

#include <unordered_set>

#include "pa/error.h"

namespace pa {
namespace {

// Iterative depth-first post-order (graphs of real models are deep: no recursion).
void visit(tensor* root, graph& g, std::unordered_set<const tensor*>& seen) {
    struct frame { tensor* t; int next_src; };
    std::vector<frame> stack;
    if (!seen.insert(root).second) return;
    stack.push_back({root, 0});
    while (!stack.empty()) {
        frame& f = stack.back();
        if (f.next_src < PA_MAX_SRC) {
            tensor* s = f.t->src[f.next_src++];
            if (s && seen.insert(s).second) stack.push_back({s, 0});
            continue;
        }
        tensor* t = f.t;
        stack.pop_back();
        if (t->op == PA_OP_NONE) {
            g.leafs.push_back(t);
        } else {
            if (t->view_src && !seen.count(t->view_src)) {
                // a view's storage owner must come first even when it is not a src
                seen.insert(t->view_src);
                if (t->view_src->op == PA_OP_NONE) g.leafs.push_back(t->view_src);
                else throw error("build_forward: a view of a computed tensor that is not among its sources");
            }
            g.nodes.push_back(t);
        }
    }
}

} // namespace

graph build_forward(const std::vector<tensor*>& outputs) {
    graph g;
    std::unordered_set<const tensor*> seen;
    for (tensor* t : outputs) {
        if (!t) throw error("build_forward: null output");
        t->flags |= PA_FLAG_OUTPUT;
        g.outputs.push_back(t);
        visit(t, g, seen);
    }
    return g;
}

graph build_forward(std::initializer_list<tensor*> outputs) {
    return build_forward(std::vector<tensor*>(outputs));
}

} // namespace pa
