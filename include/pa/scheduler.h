// scheduler.h - runs a graph over several backends. Each node goes to the first backend (in
// preference order) that supports it; consecutive nodes on one backend are handed to it in one
// compute call (a run); srcs are copied between backends when needed. The placement is planned
// once per graph and reused while the graph is unchanged.
// Leaves: PA_FLAG_PARAM tensors are uploaded once per backend and kept; PA_FLAG_PERSIST
// tensors (KV caches) keep their newest copy on the device across computes; other leaves are
// re-read from host data on every compute. Intermediates are freed after their last use.
// Runs: a host backend's compute returns only when done, so its runs are at most 32 nodes (the
// abort flag is checked between runs); a device backend's run is every consecutive node it got.
// Storage reuse within a run: a dead intermediate's storage goes to a later result of the run.
// Small storage (at most 1 MiB: decode-sized values) goes only to a result at least 13 compute
// nodes after its last reader, so no result shares storage with what the 12 nodes before it
// read (a backend may run adjacent nodes as one kernel); when memory runs out it goes at once.
// Large storage (prefill) is reused at once, so peak memory follows liveness.
// A planned graph's records are found by index: re-running it (a decode step) looks nothing up
// by address and allocates no host memory in the scheduler.
// Outputs (PA_FLAG_OUTPUT, set by build_forward) are copied to host data after compute; the
// scheduler allocates that host storage if the tensor has none (it lives as long as the
// scheduler: data is reset to NULL when the scheduler is destroyed).
// Fallbacks: a node that runs off the preferred (first) backend shows in assigned_backend() and
// the timings, and with $PA_VERBOSE set as one stderr line per kind of node (op, types, shapes,
// backend) the first time this scheduler plans it.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pa/backend.h"
#include "pa/graph.h"

namespace pa {

// Host-side time of compute() calls, summed over the scheduler's life (a few clock reads per
// compute, always on). dispatch is host work that overlaps the device (copies in, storage,
// handing runs to the backends, which enqueue); wait is the host blocked on the device
// (outputs read back, then each backend's synchronize).
struct compute_stats {
    int64_t computes = 0, plans = 0, runs = 0, nodes = 0;
    double plan_s = 0;     // planning (placement, liveness) of a graph unlike the last one
    double dispatch_s = 0; // inputs reset, copies in, runs handed to backends
    double wait_s = 0;     // outputs to the host, synchronize
    // parts of dispatch: runs' nodes given storage and copies in (prepare), then handed to
    // their backend (launch: a device backend enqueues, a host backend computes)
    double prepare_s = 0, launch_s = 0;
};

struct node_timing {
    const tensor* node;
    int backend_index;
    double ms; // host-measured with the node's copies, only when timing is on (one node a run)
};

// What changed in a graph since the scheduler last computed it. params_only: the same graph
// object (same nodes and leaves), of which only op params and view offsets changed, none of
// them in a way that moves a node to another backend (a decode graph re-run at the next
// position): the plan is reused without comparing the graph against it.
enum class graph_change { any, params_only };

class scheduler {
  public:
    // backends in preference order; at least one must be a host backend (the fallback).
    explicit scheduler(std::vector<backend*> backends);
    ~scheduler();
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    // throws pa::error; the graph's outputs are on the host after
    void compute(const graph& g, graph_change change = graph_change::any);
    void set_abort_flag(const std::atomic<bool>* flag) { abort_ = flag; } // checked between runs
    void set_timing(bool on) { timing_ = on; }
    const std::vector<node_timing>& timings() const { return timings_; }
    const compute_stats& stats() const { return stats_; }

    // Which backend ran a node in the last compute (-1 if none), for tests.
    int assigned_backend(const tensor* node) const;
    // Drop every cached device copy of t (e.g. after its host data changed).
    void forget(const tensor* t);
    // Read the current value of t (any tensor the last compute kept: leaves, persist, outputs).
    void read_tensor(const tensor* t, void* dst, size_t bytes);

  private:
    struct residency;
    struct tensor_key;
    struct run { // nodes [begin, end) of the graph on one backend (views compute nothing)
        size_t begin, end;
        int backend;
    };
    struct plan;
    class spare_handles;
    struct shadow_node;

    residency& res_of(tensor* root);
    void init_record(residency& r, const tensor* root) const;
    void* handle_on(residency& r, const tensor* root, int b);
    void make_valid(residency& r, const tensor* root, int b);
    void release_all(residency& r);
    void forget_root(const tensor* root);
    void sweep_empty_records();

    static std::vector<tensor_key> keys_of(const graph& g);
    int pick_backend(const tensor* node) const;
    void report_fallback(const tensor* node, int b);
    plan& plan_for(const graph& g, graph_change change);
    void bind(plan& p);

    void reset_inputs(const graph& g);
    void shadow(const tensor* t, int b, residency& r, tensor& s);
    void result_storage(plan& p, size_t i, int b, size_t step);
    void free_dead(plan& p, size_t i, int b, size_t step);
    void execute(const graph& g, plan& p, const run& r);
    void outputs_to_host(const graph& g);
    void drop_device_copies(const plan& p);

    std::vector<backend*> backends_;
    int host_index_ = -1;
    std::unordered_map<const tensor*, std::unique_ptr<residency>> res_;
    uint64_t res_epoch_ = 0;   // bumped when a record leaves res_ (pointers to it dangle)
    bool sweep_all_ = false;   // a compute failed midway: the next one drops every record's copies
    size_t assigned_upto_ = 0; // nodes [0, assigned_upto_) of the last plan got their backend
    // host storage given to outputs that had none; their data is reset to NULL when the
    // scheduler dies, so copy results out before destroying it
    std::vector<std::pair<tensor*, std::unique_ptr<std::byte[]>>> host_store_;
    std::vector<node_timing> timings_;
    compute_stats stats_;
    const std::atomic<bool>* abort_ = nullptr;
    bool timing_ = false;
    std::unique_ptr<plan> plan_;                         // of the last graph computed
    std::unique_ptr<spare_handles> spares_;              // of the run being prepared
    std::vector<shadow_node> shadows_;                   // of the run being prepared
    std::vector<tensor*> run_nodes_;                     // of the run being prepared
    std::unordered_set<std::string> fallbacks_reported_; // PA_VERBOSE lines already printed
};

} // namespace pa
