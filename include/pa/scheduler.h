// scheduler.h - runs a graph over several backends. Each node goes to the first backend (in
// preference order) that supports it; srcs are copied between backends when needed.
// Leaves: PA_FLAG_PARAM tensors are uploaded once per backend and kept; PA_FLAG_PERSIST
// tensors (KV caches) keep their newest copy on the device across computes; other leaves are
// re-read from host data on every compute. Intermediates are freed after their last use.
// Outputs (PA_FLAG_OUTPUT, set by build_forward) are copied to host data after compute; the
// scheduler allocates that host storage if the tensor has none (it lives as long as the
// scheduler: data is reset to NULL when the scheduler is destroyed).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "pa/backend.h"
#include "pa/graph.h"

namespace pa {

struct node_timing {
    const tensor* node;
    int backend_index;
    double ms; // host-measured, only when timing is on (synchronises after each node)
};

class scheduler {
public:
    // backends in preference order; at least one must be a host backend (the fallback).
    explicit scheduler(std::vector<backend*> backends);
    ~scheduler();
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    void compute(const graph& g); // throws pa::error; the graph's outputs are on the host after
    void set_abort_flag(const std::atomic<bool>* flag) { abort_ = flag; } // checked between nodes
    void set_timing(bool on) { timing_ = on; }
    const std::vector<node_timing>& timings() const { return timings_; }

    // Which backend ran a node in the last compute (-1 if none), for tests.
    int assigned_backend(const tensor* node) const;
    // Drop every cached device copy of t (e.g. after its host data changed).
    void forget(const tensor* t);
    // Read the current value of t (any tensor the last compute kept: leaves, persist, outputs).
    void read_tensor(const tensor* t, void* dst, size_t bytes);

private:
    struct residency;
    residency& res_of(tensor* root);
    void* handle_on(tensor* root, int b);
    void make_valid(tensor* root, int b);
    void release_all(residency& r);
    void run_node(tensor* node, int b);

    std::vector<backend*> backends_;
    int host_index_ = -1;
    std::unordered_map<const tensor*, std::unique_ptr<residency>> res_;
    std::unordered_map<const tensor*, int> assigned_;
    // host storage given to outputs that had none; their data is reset to NULL when the
    // scheduler dies, so copy results out before destroying it
    std::vector<std::pair<tensor*, std::unique_ptr<std::byte[]>>> host_store_;
    std::vector<node_timing> timings_;
    const std::atomic<bool>* abort_ = nullptr;
    bool timing_ = false;
};

} // namespace pa
