// scheduler.cpp - node placement, runs, residency of tensors on backends, copies, liveness.
//
// A graph is planned once: every node goes to the first backend that supports it, consecutive
// nodes on one backend form a run, and each storage root gets its last reader. The plan is kept
// and reused while the graph it was made from is unchanged.
//
// Every storage root (a tensor that owns storage: not a view) has a residency record: one
// handle per backend (allocated lazily) and a bitmask of the backends whose copy is current.
// A run on backend b starts after the srcs of its nodes are made current on b and their results
// have storage on b; the backend then computes the whole run in one call, in order, and only b
// holds the current value of their roots. The backend sees "shadow" records: copies of the
// nodes and their srcs whose storage fields point at b's handles.
//
// A node that runs off the preferred (first) backend because that one does not support it is a
// fallback; with $PA_VERBOSE set, the first fallback of each kind (op, types, shapes, backend)
// is one "info:" line on stderr.
#include "pa/scheduler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include <fmt/format.h>

#include "pa/error.h"
#include "pa/op_registry.h"

namespace pa {

struct scheduler::residency {
    std::vector<void*> handle; // per backend
    std::vector<bool> owned;   // handle allocated by us (false: the root's own host data)
    uint32_t valid = 0;        // bit b: backend b holds the current value
    size_t bytes = 0;
    // keeps_state() of the root when the record was made: the final sweep of compute() must
    // not look at the root itself, whose context may be gone (graphs built per call)
    bool keep = false;
    // identity of a kept leaf, so that a new tensor at a reused address is not mistaken for it
    void* data = nullptr;
    pa_type type = PA_TYPE_F32;
    int64_t ne[4] = {0, 0, 0, 0};
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

struct scheduler::plan {
    std::vector<tensor_key> keys; // nodes, then leafs
    bool timing = false;          // made with one node a run
    std::vector<run> runs;
    std::vector<std::vector<tensor*>> frees; // per node: intermediate roots it reads last
};

// Handles of dead intermediates on the backend of a run, reused for the storage of later
// results of the same run (the backend runs the nodes in order, so the last reader of a handle
// runs before its next writer) and given back to the backend when the run is over.
class scheduler::spare_handles {
  public:
    explicit spare_handles(backend* be) : be_(be) {}
    ~spare_handles() {
        for (const auto& [h, bytes] : spares_)
            be_->release(h);
    }
    spare_handles(const spare_handles&) = delete;
    spare_handles& operator=(const spare_handles&) = delete;

    void add(void* h, size_t bytes) { spares_.emplace_back(h, bytes); }
    // The smallest spare of bytes..2*bytes, or nullptr.
    void* take(size_t bytes) {
        auto best = spares_.end();
        for (auto it = spares_.begin(); it != spares_.end(); ++it)
            if (it->second >= bytes && it->second <= 2 * bytes &&
                (best == spares_.end() || it->second < best->second))
                best = it;
        if (best == spares_.end()) return nullptr;
        void* h = best->first;
        spares_.erase(best);
        return h;
    }

  private:
    backend* be_;
    std::vector<std::pair<void*, size_t>> spares_;
};

namespace {

// The abort flag is checked between runs; on a host backend compute() returns only when the
// nodes are done, so runs stay short enough for Ctrl-C to stop a long prefill promptly.
constexpr size_t max_nodes_per_run = 32;

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

scheduler::scheduler(std::vector<backend*> backends) : backends_(std::move(backends)) {
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

scheduler::residency& scheduler::res_of(tensor* root) {
    auto it = res_.find(root);
    if (it != res_.end()) {
        residency& r = *it->second;
        const bool same =
            r.data == root->data && r.type == root->type && std::memcmp(r.ne, root->ne, sizeof r.ne) == 0;
        if (same) return r;
        release_all(r); // a different tensor now lives at this address
        res_.erase(it);
    }
    auto r = std::make_unique<residency>();
    r->handle.assign(backends_.size(), nullptr);
    r->owned.assign(backends_.size(), false);
    r->bytes = nbytes(root);
    r->keep = keeps_state(root);
    r->data = root->data;
    r->type = root->type;
    std::memcpy(r->ne, root->ne, sizeof r->ne);
    if (root->data) { // the host copy is the tensor's own data
        r->handle[host_index_] = root->data;
        r->valid = 1u << host_index_;
    }
    return *res_.emplace(root, std::move(r)).first->second;
}

void scheduler::release_all(residency& r) {
    for (size_t b = 0; b < r.handle.size(); ++b) {
        if (r.handle[b] && r.owned[b]) backends_[b]->release(r.handle[b]);
        r.handle[b] = nullptr;
        r.owned[b] = false;
    }
    r.valid = 0;
}

void scheduler::forget_root(const tensor* root) {
    auto it = res_.find(root);
    if (it == res_.end()) return;
    release_all(*it->second);
    res_.erase(it);
}

void* scheduler::handle_on(tensor* root, int b) {
    residency& r = res_of(root);
    if (!r.handle[b]) {
        if (b == host_index_ && root->data) {
            r.handle[b] = root->data;
        } else {
            r.handle[b] = backends_[b]->alloc(r.bytes == 0 ? 1 : r.bytes);
            r.owned[b] = true;
        }
    }
    return r.handle[b];
}

void scheduler::make_valid(tensor* root, int b) {
    residency& r = res_of(root);
    if (r.valid & (1u << b)) return;
    void* dst = handle_on(root, b);
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

const scheduler::plan& scheduler::plan_for(const graph& g, graph_change change) {
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
    const size_t max_run = timing_ ? 1 : max_nodes_per_run; // timings are per node
    // Placement, and runs of consecutive compute nodes on one backend (views join any run).
    size_t in_run = 0;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const tensor* node = g.nodes[i];
        if (is_view_op(node->op)) {
            if (!p->runs.empty()) p->runs.back().end = i + 1;
            continue;
        }
        const int b = pick_backend(node);
        if (b != 0) report_fallback(node, b);
        if (p->runs.empty() || p->runs.back().backend != b || in_run == max_run) {
            p->runs.push_back({i, i + 1, b});
            in_run = 0;
        }
        p->runs.back().end = i + 1;
        ++in_run;
    }
    // Liveness: the last reader of every storage root; computed intermediates that are not
    // outputs are freed after it (when it computes something). An output may be a view into an
    // intermediate (e.g. cpy into a node's result): that root's storage is the output's.
    std::unordered_map<const tensor*, size_t> last_use;
    for (size_t i = 0; i < g.nodes.size(); ++i)
        for (tensor* s : g.nodes[i]->src)
            if (s) last_use[storage_root(s)] = i;
    std::unordered_set<const tensor*> output_roots;
    for (const tensor* out : g.outputs)
        output_roots.insert(storage_root(out));
    p->frees.resize(g.nodes.size());
    for (const auto& [root, i] : last_use) {
        if (root->op == PA_OP_NONE || output_roots.count(root) || is_view_op(g.nodes[i]->op)) continue;
        p->frees[i].push_back(const_cast<tensor*>(root));
    }
    plan_ = std::move(p);
    stats_.plans++;
    return *plan_;
}

// ---- running ------------------------------------------------------------------------------

void scheduler::reset_inputs(const graph& g) {
    // Leaves: kept ones stay as they are; the others are re-read from host data.
    for (tensor* leaf : g.leafs) {
        if (keeps_state(leaf)) continue;
        forget_root(leaf);
        if (!leaf->data)
            throw error(fmt::format("input tensor '{}' {} has no host data", leaf->name, shape_string(leaf)));
    }
}

void scheduler::shadow(tensor* t, int b, tensor& s) {
    s = *t;
    void* h = handle_on(storage_root(t), b);
    const size_t offs = t->view_src ? t->view_offs : 0;
    s.buffer = h;
    s.offs = offs;
    s.data = backends_[b]->is_host() ? static_cast<char*>(h) + offs : nullptr;
    s.view_src = nullptr;
    s.view_offs = 0;
    std::memset(s.src, 0, sizeof s.src);
}

// Storage on b for the result of a node: a spare handle of this run when one fits.
void scheduler::result_storage(tensor* node, int b, spare_handles& spares) {
    tensor* root = storage_root(node);
    if (node->view_src) { // an in-place write into part of existing storage
        make_valid(root, b);
        return;
    }
    residency& r = res_of(root);
    if (r.handle[b]) return;
    if (void* h = spares.take(r.bytes == 0 ? 1 : r.bytes)) {
        r.handle[b] = h;
        r.owned[b] = true;
    } else {
        handle_on(root, b);
    }
}

// Roots whose last reader is the node: their handle on b becomes a spare of the run, the
// others are released.
void scheduler::free_dead(const std::vector<tensor*>& roots, int b, spare_handles& spares) {
    for (tensor* root : roots) {
        auto it = res_.find(root);
        if (it == res_.end()) continue;
        residency& r = *it->second;
        if (r.handle[b] && r.owned[b]) {
            spares.add(r.handle[b], r.bytes == 0 ? 1 : r.bytes);
            r.handle[b] = nullptr;
            r.owned[b] = false;
        }
        release_all(r);
        res_.erase(it);
    }
}

void scheduler::execute(const graph& g, const plan& p, const run& r) {
    const auto t0 = std::chrono::steady_clock::now();
    const int b = r.backend;
    backend* be = backends_[b];
    struct shadow_node {
        tensor node;
        tensor srcs[PA_MAX_SRC];
    };
    std::vector<shadow_node> shadows(r.end - r.begin);
    std::vector<tensor*> nodes;
    spare_handles spares(be);
    for (size_t i = r.begin; i < r.end; ++i) {
        tensor* node = g.nodes[i];
        if (is_view_op(node->op)) continue;
        for (tensor* s : node->src)
            if (s) make_valid(storage_root(s), b);
        result_storage(node, b, spares);
        shadow_node& sh = shadows[nodes.size()];
        shadow(node, b, sh.node);
        for (int k = 0; k < PA_MAX_SRC; ++k) {
            if (!node->src[k]) continue;
            shadow(node->src[k], b, sh.srcs[k]);
            sh.node.src[k] = &sh.srcs[k];
        }
        nodes.push_back(&sh.node);
        res_of(storage_root(node)).valid = 1u << b; // later nodes of the run read it on b
        assigned_[node] = b;
        free_dead(p.frees[i], b, spares);
    }
    be->compute(nodes);
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
            if (it == res_.end()) continue; // a pure view of nothing computed
            residency& r = *it->second;
            host_store_.emplace_back(root, std::make_unique<std::byte[]>(r.bytes == 0 ? 1 : r.bytes));
            root->data = host_store_.back().second.get();
            r.data = root->data;
            if (r.handle[host_index_] && r.owned[host_index_]) { // move the host copy into place
                if (r.valid & (1u << host_index_)) std::memcpy(root->data, r.handle[host_index_], r.bytes);
                backends_[host_index_]->release(r.handle[host_index_]);
            }
            r.handle[host_index_] = root->data;
            r.owned[host_index_] = false;
        }
        make_valid(root, host_index_);
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

void scheduler::drop_device_copies() {
    // Device copies of outputs and inputs are not kept; params and persistent state are.
    for (auto it = res_.begin(); it != res_.end();) {
        residency& r = *it->second;
        if (r.keep) {
            ++it;
            continue;
        }
        if (!(r.valid & (1u << host_index_))) {
            ++it; // not on the host (an unread intermediate): free it all
            release_all(r);
            continue;
        }
        for (size_t b = 0; b < r.handle.size(); ++b) {
            if (int(b) == host_index_ || !r.handle[b]) continue;
            if (r.owned[b]) backends_[b]->release(r.handle[b]);
            r.handle[b] = nullptr;
            r.owned[b] = false;
        }
        r.valid = 1u << host_index_;
        ++it;
    }
}

void scheduler::compute(const graph& g, graph_change change) {
    using clock = std::chrono::steady_clock;
    const auto seconds = [](clock::time_point a, clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    };
    assigned_.clear();
    timings_.clear();
    const auto t0 = clock::now();
    reset_inputs(g);
    const int64_t plans = stats_.plans;
    const plan& p = plan_for(g, change);
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
    drop_device_copies();
    stats_.computes++;
    stats_.dispatch_s += seconds(t1, t2) + seconds(t3, clock::now());
    stats_.wait_s += seconds(t2, t3);
}

int scheduler::assigned_backend(const tensor* node) const {
    auto it = assigned_.find(node);
    return it == assigned_.end() ? -1 : it->second;
}

void scheduler::forget(const tensor* t) {
    forget_root(storage_root(t));
}

void scheduler::read_tensor(const tensor* t, void* dst, size_t bytes) {
    tensor* root = const_cast<tensor*>(storage_root(t));
    auto it = res_.find(root);
    const size_t offs = t->view_src ? t->view_offs : 0;
    if (it == res_.end()) {
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
