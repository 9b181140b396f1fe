// scheduler.cpp - node placement, runs, residency of tensors on backends, copies, liveness.
//
// A graph is planned once: every node goes to the first backend that supports it, consecutive
// nodes on one backend form a run, and each storage root gets its last reader. The plan is kept
// and reused while the graph it was made from is unchanged.
//
// Every storage root (a tensor that owns storage: not a view) has a residency record: one
// handle per backend (allocated lazily) and a bitmask of the backends whose copy is current.
// A run on backend b starts after the srcs of its nodes are made current on b and their results
// have storage on b; the backend then computes the whole run in order (in one call, or a device
// run in two: its first block as soon as that is ready), and only b holds the current value of
// their roots. The backend sees "shadow" records: copies of the nodes and their srcs whose
// storage fields point at b's handles.
//
// A node that runs off the preferred (first) backend because that one does not support it is a
// fallback; with $PA_VERBOSE set, the first fallback of each kind (op, types, shapes, backend)
// is one "info:" line on stderr.
#include "pa/scheduler.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <unordered_set>

#include <fmt/format.h>

#include "pa/error.h"
#include "pa/op_registry.h"

namespace pa {

struct scheduler::residency {
    std::vector<void*> handle; // per backend
    uint32_t owned = 0;        // bit b: handle[b] allocated by us (else the root's own host data)
    uint32_t valid = 0;        // bit b: backend b holds the current value
    size_t bytes = 0;
    // keeps_state() of the root when the record was made: the final sweep of compute() must
    // not look at the root itself, whose context may be gone (graphs built per call)
    bool keep = false;
    // identity of the root, so that a new tensor at a reused address is not mistaken for it
    void* data = nullptr;
    pa_type type = PA_TYPE_F32;
    int64_t ne[4] = {0, 0, 0, 0};

    bool holds_nothing() const { return valid == 0 && owned == 0; }
    bool same_identity(const tensor* root) const {
        return data == root->data && type == root->type && std::memcmp(ne, root->ne, sizeof ne) == 0;
    }
};

// What placement and liveness depend on, for every node and leaf of the planned graph.
struct scheduler::tensor_key {
    const tensor* t;
    int32_t op;
    pa_type type;
    uint32_t flags;
    int64_t ne[PA_MAX_DIMS];
    size_t nb[PA_MAX_DIMS];
    int32_t params[PA_MAX_OP_PARAMS];
    const tensor* src[PA_MAX_SRC];
    const tensor* view_src;
    bool operator==(const tensor_key&) const = default;
};

// Storage roots are numbered once per plan, so that running a node looks its records up by
// index instead of by address.
struct scheduler::plan {
    static constexpr uint32_t none = UINT32_MAX;
    std::vector<tensor_key> keys; // nodes, then leafs
    bool timing = false;          // made with one node a run
    std::vector<run> runs;
    std::vector<int32_t> node_run;                          // per node: its run (-1: a view)
    std::vector<tensor*> roots;                             // storage roots of nodes and leafs
    std::vector<uint32_t> transient;                        // roots that do not keep state
    std::vector<uint32_t> node_root;                        // per node: its root
    std::vector<std::array<uint32_t, PA_MAX_SRC>> src_root; // per node: its srcs' roots (or none)
    std::vector<uint32_t> frees, frees_begin; // node i reads roots frees[frees_begin[i]..[i+1]] last
    // records of the roots, valid while bound_epoch == the scheduler's res_epoch_
    std::vector<residency*> rec;
    uint64_t bound_epoch = UINT64_MAX;
};

// Handles of dead intermediates on the backend of a run, reused for the storage of later
// results of the same run (the backend runs the nodes in order, so the last reader of a handle
// runs before its next writer) and given back to the backend when the run is over.
// A small handle (at most small_spare_bytes) is reused only reuse_distance compute nodes after
// its last reader: a backend that runs a few adjacent nodes as one kernel needs a result's
// storage to differ from what the nodes before it read (decode-sized values, so the extra
// memory is small). Large handles (prefill) are reused at once, keeping memory to liveness.
class scheduler::spare_handles {
  public:
    static constexpr size_t small_spare_bytes = size_t(1) << 20;
    static constexpr size_t reuse_distance = 12;

    void start(backend* be) {
        be_ = be;
        spares_.clear();
    }
    // Gives every spare back to the backend (the run is over).
    void release_all() noexcept {
        for (const spare& s : spares_)
            be_->release(s.handle);
        spares_.clear();
    }
    // A handle whose last reader is the step-th compute node of the run.
    void add(void* h, size_t bytes, size_t step) { spares_.push_back({h, bytes, step}); }
    // The smallest spare of bytes..2*bytes that the step-th compute node may write, or
    // nullptr; any_age: small ones too, however recent (memory is short).
    void* take(size_t bytes, size_t step, bool any_age = false) {
        auto best = spares_.end();
        for (auto it = spares_.begin(); it != spares_.end(); ++it) {
            if (it->bytes < bytes || it->bytes > 2 * bytes) continue;
            if (!any_age && it->bytes <= small_spare_bytes && step <= it->last_read + reuse_distance)
                continue;
            if (best == spares_.end() || it->bytes < best->bytes) best = it;
        }
        if (best == spares_.end()) return nullptr;
        void* h = best->handle;
        spares_.erase(best);
        return h;
    }

  private:
    struct spare {
        void* handle;
        size_t bytes;
        size_t last_read;
    };
    backend* be_ = nullptr;
    std::vector<spare> spares_;
};

struct scheduler::shadow_node {
    tensor node;
    tensor srcs[PA_MAX_SRC];
};

namespace {

// The abort flag is checked between runs; on a host backend compute() returns only when the
// nodes are done, so its runs stay short enough for Ctrl-C to stop a long prefill promptly.
// A device backend returns once the nodes are enqueued, so its runs are not cut.
constexpr size_t max_host_nodes_per_run = 32;

// A device run is handed to its backend in two parts: the first block of nodes as soon as it is
// prepared, so that the device starts on it while the host prepares the rest (a decoded token
// is one run of ~570 nodes, ~0.1 ms of preparation before its first kernel otherwise). The cut
// is before the first normalization after early_part_min_nodes compute nodes: a layer's blocks
// start there, so the backend's fused runs of adjacent nodes are not split.
constexpr size_t early_part_min_nodes = 8;

bool keeps_state(const tensor* root) {
    return root->op == PA_OP_NONE && (root->flags & (PA_FLAG_PARAM | PA_FLAG_PERSIST));
}

bool verbose() {
    const char* v = std::getenv("PA_VERBOSE");
    return v && *v;
}

// "cpy [17, 3, 2, 1] f32 <- [17, 3, 2, 1] i32": the op, the node's and its sources' shapes and types.
std::string node_signature(const tensor* node) {
    std::string s = fmt::format("{} {}", op_registry::global().name(node->op), shape_string(node));
    const char* sep = " <- ";
    for (const tensor* src : node->src) {
        if (!src) continue;
        s += sep + shape_string(src);
        sep = ", ";
    }
    return s;
}

} // namespace

scheduler::scheduler(std::vector<backend*> backends)
    : backends_(std::move(backends)), spares_(std::make_unique<spare_handles>()) {
    if (backends_.empty() || backends_.size() > 31) throw error("scheduler: give 1 to 31 backends");
    for (size_t i = 0; i < backends_.size(); ++i) {
        if (!backends_[i]) throw error("scheduler: null backend");
        if (backends_[i]->is_host() && host_index_ < 0) host_index_ = static_cast<int>(i);
    }
    if (host_index_ < 0) throw error("scheduler: a host (CPU) backend is needed as the fallback");
}

scheduler::~scheduler() {
    for (auto& [t, r] : res_)
        release_all(*r);
    for (auto& [t, mem] : host_store_)
        t->data = nullptr;
}

// ---- residency ----------------------------------------------------------------------------

// A record for root that holds nothing yet, or only the root's own host data.
void scheduler::init_record(residency& r, const tensor* root) const {
    r.handle.assign(backends_.size(), nullptr);
    r.owned = 0;
    r.valid = 0;
    r.bytes = nbytes(root);
    r.keep = keeps_state(root);
    r.data = root->data;
    r.type = root->type;
    std::memcpy(r.ne, root->ne, sizeof r.ne);
    if (root->data) { // the host copy is the tensor's own data
        r.handle[host_index_] = root->data;
        r.valid = 1u << host_index_;
    }
}

scheduler::residency& scheduler::res_of(tensor* root) {
    auto it = res_.find(root);
    if (it != res_.end()) {
        residency& r = *it->second;
        if (r.same_identity(root)) return r;
        release_all(r); // a different tensor now lives at this address
        res_.erase(it);
        ++res_epoch_;
    }
    auto r = std::make_unique<residency>();
    init_record(*r, root);
    return *res_.emplace(root, std::move(r)).first->second;
}

void scheduler::release_all(residency& r) {
    for (size_t b = 0; r.owned != 0; ++b) // the others are host data, or none
        if (r.owned & (1u << b)) {
            backends_[b]->release(r.handle[b]);
            r.owned &= ~(1u << b);
        }
    std::fill(r.handle.begin(), r.handle.end(), nullptr);
    r.valid = 0;
}

void scheduler::forget_root(const tensor* root) {
    auto it = res_.find(root);
    if (it == res_.end()) return;
    release_all(*it->second);
    res_.erase(it);
    ++res_epoch_;
}

// Records that hold nothing (intermediates after their last reader) stay while their plan is
// in use, so that the next compute of the graph finds them; a new plan drops them.
void scheduler::sweep_empty_records() {
    const size_t before = res_.size();
    std::erase_if(res_, [](const auto& e) { return !e.second->keep && e.second->holds_nothing(); });
    if (res_.size() != before) ++res_epoch_;
}

void* scheduler::handle_on(residency& r, const tensor* root, int b) {
    if (!r.handle[b]) {
        if (b == host_index_ && root->data) {
            r.handle[b] = root->data;
        } else {
            r.handle[b] = backends_[b]->alloc(r.bytes == 0 ? 1 : r.bytes);
            r.owned |= 1u << b;
        }
    }
    return r.handle[b];
}

void scheduler::make_valid(residency& r, const tensor* root, int b) {
    if (r.valid & (1u << b)) return;
    void* dst = handle_on(r, root, b);
    if (r.valid == 0) {
        if (!(root->flags & PA_FLAG_PERSIST))
            throw error(fmt::format("tensor '{}' {} is read before anything wrote it", root->name,
                                    shape_string(root)));
        std::vector<std::byte> zeros(r.bytes); // persistent state starts zeroed
        backends_[b]->write(dst, 0, zeros.data(), r.bytes);
        r.valid |= 1u << b;
        return;
    }
    int src = -1;
    if (r.valid & (1u << host_index_)) src = host_index_;
    for (int i = 0; src < 0 && i < int(backends_.size()); ++i)
        if (r.valid & (1u << i)) src = i;
    if (src == host_index_) {
        backends_[b]->write(dst, 0, r.handle[src], r.bytes);
    } else if (b == host_index_) {
        backends_[src]->read(r.handle[src], 0, dst, r.bytes);
    } else {
        std::vector<std::byte> staging(r.bytes);
        backends_[src]->read(r.handle[src], 0, staging.data(), r.bytes);
        backends_[b]->write(dst, 0, staging.data(), r.bytes);
    }
    r.valid |= 1u << b;
}

// ---- planning -----------------------------------------------------------------------------

std::vector<scheduler::tensor_key> scheduler::keys_of(const graph& g) {
    std::vector<tensor_key> keys;
    keys.reserve(g.nodes.size() + g.leafs.size());
    auto add = [&](const tensor* t) {
        tensor_key& k = keys.emplace_back();
        k.t = t;
        k.op = t->op;
        k.type = t->type;
        k.flags = t->flags;
        std::copy(std::begin(t->ne), std::end(t->ne), k.ne);
        std::copy(std::begin(t->nb), std::end(t->nb), k.nb);
        std::copy(std::begin(t->op_params), std::end(t->op_params), k.params);
        std::copy(std::begin(t->src), std::end(t->src), k.src);
        k.view_src = t->view_src;
    };
    for (const tensor* n : g.nodes)
        add(n);
    for (const tensor* l : g.leafs)
        add(l);
    return keys;
}

int scheduler::pick_backend(const tensor* node) const {
    for (size_t b = 0; b < backends_.size(); ++b)
        if (backends_[b]->supports_op(node)) return static_cast<int>(b);
    throw error(fmt::format("no backend supports op '{}' on {}", op_registry::global().name(node->op),
                            shape_string(node)),
                PA_ERR_UNSUPPORTED);
}

void scheduler::report_fallback(const tensor* node, int b) {
    if (!verbose()) return;
    std::string line =
        fmt::format("{} runs on {} (not supported by", node_signature(node), backends_[b]->name());
    for (int i = 0; i < b; ++i)
        line += fmt::format("{} {}", i ? "," : "", backends_[size_t(i)]->name());
    line += ")";
    if (fallbacks_reported_.insert(line).second) std::fprintf(stderr, "info: scheduler: %s\n", line.c_str());
}

scheduler::plan& scheduler::plan_for(const graph& g, graph_change change) {
    if (change == graph_change::params_only && plan_ && plan_->timing == timing_ &&
        plan_->keys.size() == g.nodes.size() + g.leafs.size()) {
        bool same = true; // the same tensors: the caller vouches for the rest
        for (size_t i = 0; same && i < g.nodes.size(); ++i)
            same = plan_->keys[i].t == g.nodes[i];
        for (size_t i = 0; same && i < g.leafs.size(); ++i)
            same = plan_->keys[g.nodes.size() + i].t == g.leafs[i];
        if (same) return *plan_;
    }
    std::vector<tensor_key> keys = keys_of(g);
    if (plan_ && plan_->timing == timing_ && plan_->keys == keys) return *plan_;
    auto p = std::make_unique<plan>();
    p->keys = std::move(keys);
    p->timing = timing_;
    const size_t n = g.nodes.size();
    // Placement, and runs of consecutive compute nodes on one backend (views join any run).
    // Timings are per node, so timing makes every node a run.
    p->node_run.assign(n, -1);
    size_t in_run = 0;
    for (size_t i = 0; i < n; ++i) {
        const tensor* node = g.nodes[i];
        if (is_view_op(node->op)) {
            if (!p->runs.empty()) p->runs.back().end = i + 1;
            continue;
        }
        const int b = pick_backend(node);
        if (b != 0) report_fallback(node, b);
        const size_t max_run = timing_                           ? 1
                               : backends_[size_t(b)]->is_host() ? max_host_nodes_per_run
                                                                 : SIZE_MAX;
        if (p->runs.empty() || p->runs.back().backend != b || in_run == max_run) {
            p->runs.push_back({i, i + 1, b});
            in_run = 0;
        }
        p->runs.back().end = i + 1;
        p->node_run[i] = int32_t(p->runs.size() - 1);
        ++in_run;
    }
    // Storage roots, numbered.
    std::unordered_map<const tensor*, uint32_t> index;
    auto root_index = [&](tensor* t) {
        tensor* root = storage_root(t);
        auto [it, added] = index.emplace(root, uint32_t(p->roots.size()));
        if (added) {
            p->roots.push_back(root);
            if (!keeps_state(root)) p->transient.push_back(it->second);
        }
        return it->second;
    };
    p->node_root.resize(n);
    p->src_root.resize(n);
    for (size_t i = 0; i < n; ++i) {
        p->node_root[i] = root_index(g.nodes[i]);
        for (int k = 0; k < PA_MAX_SRC; ++k)
            p->src_root[i][size_t(k)] = g.nodes[i]->src[k] ? root_index(g.nodes[i]->src[k]) : plan::none;
    }
    for (tensor* leaf : g.leafs)
        root_index(leaf);
    // Liveness: the last reader of every storage root; computed intermediates that are not
    // outputs are freed after it (when it computes something). An output may be a view into an
    // intermediate (e.g. cpy into a node's result): that root's storage is the output's.
    std::vector<size_t> last_use(p->roots.size(), SIZE_MAX);
    for (size_t i = 0; i < n; ++i)
        for (uint32_t r : p->src_root[i])
            if (r != plan::none) last_use[r] = i;
    std::vector<bool> is_output(p->roots.size(), false);
    for (tensor* out : g.outputs)
        if (auto it = index.find(storage_root(out)); it != index.end()) is_output[it->second] = true;
    std::vector<std::vector<uint32_t>> frees(n);
    for (uint32_t r = 0; r < p->roots.size(); ++r) {
        const size_t i = last_use[r];
        if (i == SIZE_MAX || p->roots[r]->op == PA_OP_NONE || is_output[r] || is_view_op(g.nodes[i]->op))
            continue;
        frees[i].push_back(r);
    }
    p->frees_begin.reserve(n + 1);
    for (const auto& f : frees) {
        p->frees_begin.push_back(uint32_t(p->frees.size()));
        p->frees.insert(p->frees.end(), f.begin(), f.end());
    }
    p->frees_begin.push_back(uint32_t(p->frees.size()));
    p->rec.assign(p->roots.size(), nullptr);
    plan_ = std::move(p);
    stats_.plans++;
    sweep_empty_records();
    return *plan_;
}

// Points the plan at the records of its roots (made if missing): by address after a record
// left res_, else checking that each root is still the tensor its record was made for.
void scheduler::bind(plan& p) {
    if (p.bound_epoch != res_epoch_) {
        for (size_t i = 0; i < p.roots.size(); ++i)
            p.rec[i] = &res_of(p.roots[i]);
    } else {
        for (size_t i = 0; i < p.roots.size(); ++i)
            if (!p.rec[i]->same_identity(p.roots[i])) p.rec[i] = &res_of(p.roots[i]);
    }
    // res_of may have replaced records of these roots, which only moves their own pointers
    p.bound_epoch = res_epoch_;
}

// ---- running ------------------------------------------------------------------------------

void scheduler::reset_inputs(const graph& g) {
    // Leaves: kept ones stay as they are; the others are re-read from host data.
    for (tensor* leaf : g.leafs) {
        if (keeps_state(leaf)) continue;
        if (!leaf->data)
            throw error(fmt::format("input tensor '{}' {} has no host data", leaf->name, shape_string(leaf)));
        if (auto it = res_.find(leaf); it != res_.end()) { // anew, in place: the plan keeps pointing at it
            release_all(*it->second);
            init_record(*it->second, leaf);
        }
    }
}

void scheduler::shadow(const tensor* t, int b, residency& r, tensor& s) {
    s = *t;
    void* h = handle_on(r, storage_root(t), b);
    const size_t offs = t->view_src ? t->view_offs : 0;
    s.buffer = h;
    s.offs = offs;
    s.data = backends_[b]->is_host() ? static_cast<char*>(h) + offs : nullptr;
    s.view_src = nullptr;
    s.view_offs = 0;
    std::memset(s.src, 0, sizeof s.src);
}

// Storage on b for the result of node i, the step-th compute node of its run: a spare handle
// of this run when one fits. The spare rule for small handles yields to memory: when b is out of
// memory, a recently read spare is taken rather than failing.
void scheduler::result_storage(plan& p, size_t i, int b, size_t step) {
    const tensor* root = p.roots[p.node_root[i]];
    residency& r = *p.rec[p.node_root[i]];
    if (root != p.keys[i].t) { // an in-place write into part of existing storage
        make_valid(r, root, b);
        return;
    }
    if (r.handle[b]) return;
    const size_t bytes = r.bytes == 0 ? 1 : r.bytes;
    void* h = spares_->take(bytes, step);
    if (!h) {
        try {
            h = backends_[b]->alloc(bytes);
        } catch (const error& e) {
            if (e.status() != PA_ERR_OUT_OF_MEMORY) throw;
            h = spares_->take(bytes, step, true);
            if (!h) throw;
        }
    }
    r.handle[b] = h;
    r.owned |= 1u << b;
}

// Roots whose last reader is node i (the step-th compute node of its run): their handle on b
// becomes a spare of the run, the others are released. Their records stay, holding nothing.
void scheduler::free_dead(plan& p, size_t i, int b, size_t step) {
    for (uint32_t k = p.frees_begin[i]; k < p.frees_begin[i + 1]; ++k) {
        residency& r = *p.rec[p.frees[k]];
        if (r.handle[b] && (r.owned & (1u << b))) {
            spares_->add(r.handle[b], r.bytes == 0 ? 1 : r.bytes, step);
            r.handle[b] = nullptr;
            r.owned &= ~(1u << b);
        }
        release_all(r);
    }
}

void scheduler::execute(const graph& g, plan& p, const run& r) {
    const auto t0 = std::chrono::steady_clock::now();
    const int b = r.backend;
    backend* be = backends_[b];
    if (shadows_.size() < r.end - r.begin) shadows_.resize(r.end - r.begin);
    run_nodes_.clear();
    spares_->start(be);
    struct give_back_spares { // also when a node's preparation or the compute throws
        spare_handles& s;
        ~give_back_spares() { s.release_all(); }
    } guard{*spares_};
    size_t handed = 0;   // nodes of run_nodes_ the backend has
    double launch_s = 0; // in the backend's compute
    const bool early = !timing_ && !be->is_host();
    for (size_t i = r.begin; i < r.end; ++i) {
        tensor* node = g.nodes[i];
        if (is_view_op(node->op)) continue;
        const size_t step = run_nodes_.size();
        if (early && handed == 0 && step >= early_part_min_nodes && node->op == PA_OP_RMS_NORM) {
            const auto h0 = std::chrono::steady_clock::now();
            be->compute(run_nodes_);
            launch_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - h0).count();
            handed = step;
        }
        const auto& srcs = p.src_root[i];
        for (int k = 0; k < PA_MAX_SRC; ++k)
            if (srcs[size_t(k)] != plan::none)
                make_valid(*p.rec[srcs[size_t(k)]], p.roots[srcs[size_t(k)]], b);
        result_storage(p, i, b, step);
        shadow_node& sh = shadows_[step];
        residency& out = *p.rec[p.node_root[i]];
        shadow(node, b, out, sh.node);
        for (int k = 0; k < PA_MAX_SRC; ++k) {
            if (srcs[size_t(k)] == plan::none) continue;
            shadow(node->src[k], b, *p.rec[srcs[size_t(k)]], sh.srcs[k]);
            sh.node.src[k] = &sh.srcs[k];
        }
        run_nodes_.push_back(&sh.node);
        assigned_upto_ = i + 1;
        out.valid = 1u << b; // later nodes of the run read it on b
        free_dead(p, i, b, step);
    }
    const auto t1 = std::chrono::steady_clock::now();
    be->compute(std::span<tensor* const>(run_nodes_).subspan(handed));
    launch_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    stats_.launch_s += launch_s;
    stats_.prepare_s +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() - launch_s;
    if (timing_) { // a run is one node (with its copies) while timing is on
        be->synchronize();
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        timings_.push_back({g.nodes[r.begin], b, ms});
    }
}

void scheduler::outputs_to_host(const graph& g) {
    for (tensor* out : g.outputs) {
        tensor* root = storage_root(out);
        if (!root->data) {
            auto it = res_.find(root);
            if (it == res_.end() || it->second->holds_nothing()) continue; // a pure view of nothing computed
            residency& r = *it->second;
            host_store_.emplace_back(root, std::make_unique<std::byte[]>(r.bytes == 0 ? 1 : r.bytes));
            root->data = host_store_.back().second.get();
            r.data = root->data;
            if (r.handle[host_index_] && (r.owned & (1u << host_index_))) { // move the host copy into place
                if (r.valid & (1u << host_index_)) std::memcpy(root->data, r.handle[host_index_], r.bytes);
                backends_[host_index_]->release(r.handle[host_index_]);
            }
            r.handle[host_index_] = root->data;
            r.owned &= ~(1u << host_index_);
        }
        make_valid(res_of(root), root, host_index_);
        if (out->view_src) {
            out->data = static_cast<char*>(root->data) + out->view_offs;
            // reset with its root, but only if the root's storage is ours: a view into storage
            // its own context owns stays valid, and its graph context may die before we do
            const bool ours = std::any_of(host_store_.begin(), host_store_.end(),
                                          [&](const auto& e) { return e.first == root && e.second; });
            if (ours) host_store_.emplace_back(out, nullptr);
        }
    }
}

// Device copies of outputs and inputs are not kept; params and persistent state are. Only the
// plan's roots can hold any after a compute that finished (after one that failed, every record).
void scheduler::drop_device_copies(const plan& p) {
    const auto drop = [&](residency& r) {
        if (r.keep) return;
        if (!(r.valid & (1u << host_index_))) { // not on the host (an unread intermediate): free it all
            release_all(r);
            return;
        }
        for (size_t b = 0; b < r.handle.size(); ++b) {
            if (int(b) == host_index_ || !r.handle[b]) continue;
            if (r.owned & (1u << b)) backends_[b]->release(r.handle[b]);
            r.handle[b] = nullptr;
            r.owned &= ~(1u << b);
        }
        r.valid = 1u << host_index_;
    };
    if (sweep_all_) {
        for (auto& [t, r] : res_)
            drop(*r);
        sweep_all_ = false;
        return;
    }
    for (uint32_t i : p.transient)
        drop(*p.rec[i]);
}

void scheduler::compute(const graph& g, graph_change change) {
    using clock = std::chrono::steady_clock;
    const auto seconds = [](clock::time_point a, clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    };
    assigned_upto_ = 0;
    timings_.clear();
    try {
        const auto t0 = clock::now();
        reset_inputs(g);
        const int64_t plans = stats_.plans;
        plan& p = plan_for(g, change);
        bind(p);
        const auto t1 = clock::now();
        if (stats_.plans != plans) {
            stats_.plan_s += seconds(t0, t1);
        } else {
            stats_.dispatch_s += seconds(t0, t1);
        }
        for (const run& r : p.runs) {
            if (abort_ && abort_->load()) throw error("interrupted", PA_ERR_INTERRUPTED);
            execute(g, p, r);
            stats_.nodes += int64_t(r.end - r.begin);
        }
        stats_.runs += int64_t(p.runs.size());
        const auto t2 = clock::now();
        outputs_to_host(g);
        for (backend* be : backends_)
            be->synchronize();
        const auto t3 = clock::now();
        drop_device_copies(p);
        stats_.computes++;
        stats_.dispatch_s += seconds(t1, t2) + seconds(t3, clock::now());
        stats_.wait_s += seconds(t2, t3);
    } catch (...) {
        sweep_all_ = true; // records outside the next plan may hold device copies
        throw;
    }
}

int scheduler::assigned_backend(const tensor* node) const {
    if (!plan_) return -1;
    for (size_t i = 0; i < assigned_upto_ && i < plan_->node_run.size(); ++i)
        if (plan_->keys[i].t == node)
            return plan_->node_run[i] < 0 ? -1 : plan_->runs[size_t(plan_->node_run[i])].backend;
    return -1;
}

void scheduler::forget(const tensor* t) {
    forget_root(storage_root(t));
}

void scheduler::read_tensor(const tensor* t, void* dst, size_t bytes) {
    tensor* root = const_cast<tensor*>(storage_root(t));
    auto it = res_.find(root);
    const size_t offs = t->view_src ? t->view_offs : 0;
    if (it == res_.end() || it->second->holds_nothing()) {
        if (!root->data) throw error(fmt::format("read_tensor: '{}' holds no value", t->name));
        std::memcpy(dst, static_cast<char*>(root->data) + offs, bytes);
        return;
    }
    residency& r = *it->second;
    if (offs + bytes > r.bytes) throw error("read_tensor: read past the end of the tensor");
    for (size_t b = 0; b < backends_.size(); ++b) {
        if (!(r.valid & (1u << b))) continue;
        backends_[b]->read(r.handle[b], offs, dst, bytes);
        return;
    }
    throw error(fmt::format("read_tensor: '{}' holds no value", t->name));
}

} // namespace pa
