// scheduler.cpp - node placement, residency of tensors on backends, copies, liveness.
//
// Every storage root (a tensor that owns storage: not a view) has a residency record: one
// handle per backend (allocated lazily) and a bitmask of the backends whose copy is current.
// A node runs on backend b after all its srcs' roots are made current on b; afterwards only
// b holds the current value of the node's root. The backend sees "shadow" records: copies of
// the node and its srcs whose storage fields point at b's handles.
#include "pa/scheduler.h"

#include <algorithm>
#include <chrono>
#include <cstring>
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

namespace {

bool keeps_state(const tensor* root) {
    return root->op == PA_OP_NONE && (root->flags & (PA_FLAG_PARAM | PA_FLAG_PERSIST));
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
    for (auto& [t, r] : res_) release_all(*r);
    for (auto& [t, mem] : host_store_) t->data = nullptr;
}

scheduler::residency& scheduler::res_of(tensor* root) {
    auto it = res_.find(root);
    if (it != res_.end()) {
        residency& r = *it->second;
        const bool same = r.data == root->data && r.type == root->type &&
                          std::memcmp(r.ne, root->ne, sizeof r.ne) == 0;
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

void scheduler::run_node(tensor* node, int b) {
    backend* be = backends_[b];
    auto shadow_of = [&](tensor* t, tensor& s) {
        s = *t;
        tensor* root = storage_root(t);
        void* h = handle_on(root, b);
        const size_t offs = t->view_src ? t->view_offs : 0;
        s.buffer = h;
        s.offs = offs;
        s.data = be->is_host() ? static_cast<char*>(h) + offs : nullptr;
        s.view_src = nullptr;
        s.view_offs = 0;
        std::memset(s.src, 0, sizeof s.src);
    };
    tensor srcs[PA_MAX_SRC];
    tensor shadow;
    for (int k = 0; k < PA_MAX_SRC; ++k) {
        if (!node->src[k]) continue;
        make_valid(storage_root(node->src[k]), b);
    }
    tensor* out_root = storage_root(node);
    if (node->view_src) make_valid(out_root, b); // in-place write into part of existing storage
    else handle_on(out_root, b);
    shadow_of(node, shadow);
    for (int k = 0; k < PA_MAX_SRC; ++k) {
        if (!node->src[k]) continue;
        shadow_of(node->src[k], srcs[k]);
        shadow.src[k] = &srcs[k];
    }
    tensor* nodes[1] = {&shadow};
    be->compute(std::span<tensor* const>(nodes, 1));
    res_of(out_root).valid = 1u << b;
}

void scheduler::compute(const graph& g) {
    assigned_.clear();
    timings_.clear();
    // Leaves: kept ones stay as they are; the others are re-read from host data.
    for (tensor* leaf : g.leafs) {
        if (keeps_state(leaf)) continue;
        auto it = res_.find(leaf);
        if (it != res_.end()) {
            release_all(*it->second);
            res_.erase(it);
        }
        if (!leaf->data)
            throw error(fmt::format("input tensor '{}' {} has no host data", leaf->name, shape_string(leaf)));
    }
    // Last use of every storage root, to free intermediates early.
    std::unordered_map<const tensor*, size_t> last_use;
    for (size_t i = 0; i < g.nodes.size(); ++i)
        for (tensor* s : g.nodes[i]->src)
            if (s) last_use[storage_root(s)] = i;

    auto pick_backend = [&](const tensor* node) {
        for (size_t b = 0; b < backends_.size(); ++b)
            if (backends_[b]->supports_op(node)) return static_cast<int>(b);
        throw error(fmt::format("no backend supports op '{}' on {}", op_registry::global().name(node->op),
                                shape_string(node)),
                    PA_ERR_UNSUPPORTED);
    };
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        if (abort_ && abort_->load()) throw error("interrupted", PA_ERR_INTERRUPTED);
        tensor* node = g.nodes[i];
        if (is_view_op(node->op)) continue;
        const int b = pick_backend(node);
        assigned_[node] = b;
        const auto t0 = std::chrono::steady_clock::now();
        run_node(node, b);
        if (timing_) {
            backends_[b]->synchronize();
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            timings_.push_back({node, b, ms});
        }
        // free intermediates whose last reader was this node
        for (tensor* s : node->src) {
            if (!s) continue;
            tensor* root = storage_root(s);
            if (root->op == PA_OP_NONE || (root->flags & PA_FLAG_OUTPUT)) continue;
            auto lu = last_use.find(root);
            if (lu == last_use.end() || lu->second != i) continue;
            auto it = res_.find(root);
            if (it != res_.end()) {
                release_all(*it->second);
                res_.erase(it);
            }
        }
    }
    // Outputs to the host.
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
    for (backend* be : backends_) be->synchronize();
    // Device copies of outputs and inputs are not kept; params and persistent state are.
    for (auto it = res_.begin(); it != res_.end();) {
        if (it->second->keep) {
            ++it;
            continue;
        }
        residency& r = *it->second;
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

int scheduler::assigned_backend(const tensor* node) const {
    auto it = assigned_.find(node);
    return it == assigned_.end() ? -1 : it->second;
}

void scheduler::forget(const tensor* t) {
    auto it = res_.find(storage_root(t));
    if (it == res_.end()) return;
    release_all(*it->second);
    res_.erase(it);
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
