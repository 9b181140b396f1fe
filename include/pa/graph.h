// graph.h - a compute graph: the nodes needed for some outputs, in topological order.
#pragma once

#include <initializer_list>
#include <vector>

#include "pa/tensor.h"

namespace pa {

struct graph {
    std::vector<tensor*> nodes;   // ops (views included), each after its srcs
    std::vector<tensor*> leafs;   // tensors with op == PA_OP_NONE that the nodes read
    std::vector<tensor*> outputs; // what build_forward was asked for (flagged PA_FLAG_OUTPUT)
};

// Collects every tensor the outputs depend on, depth first, srcs before users.
graph build_forward(std::initializer_list<tensor*> outputs);
graph build_forward(const std::vector<tensor*>& outputs);

} // namespace pa
