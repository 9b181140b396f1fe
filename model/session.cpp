// session.cpp - chunked evaluation through the scheduler (see session.h).
#include "session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fmt/format.h>

#include "pa/error.h"
#include "pa/op_registry.h"

namespace pa::model {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int resolve_ctx(const model& m, int n_ctx) {
    return n_ctx > 0 ? n_ctx : m.hp().n_ctx_train;
}

} // namespace

// The decode graph and the positions [first, end) it serves; its attention reads `end` rows.
struct session::decode_graph {
    context ctx;
    llm_graph lg;
    int first = 0, end = 0;
};

session::session(const model& m, std::vector<backend*> backends, const session_options& o)
    : m_(m), opt_(o), cache_(m.hp(), resolve_ctx(m, o.n_ctx), o.kv_type), sched_(backends),
      backends_(backends) {
    if (opt_.n_batch <= 0) throw error(fmt::format("batch size {} must be > 0", opt_.n_batch));
    if (opt_.decode_span < 0) throw error(fmt::format("decode span {} must be >= 0", opt_.decode_span));
}

session::~session() = default;

std::vector<float> session::decode(int32_t token) {
    if (token < 0 || token >= m_.hp().n_vocab)
        throw error(fmt::format("forward: token id {} outside the vocabulary", token));
    const auto t0 = std::chrono::steady_clock::now();
    graph_change change = graph_change::params_only;
    if (!decode_ || n_past_ < decode_->first || n_past_ >= decode_->end) {
        decode_.reset();
        auto d = std::make_unique<decode_graph>();
        d->first = n_past_ / opt_.decode_span * opt_.decode_span;
        d->end = int(std::min<int64_t>(n_ctx(), int64_t(d->first) + opt_.decode_span));
        d->lg = build_llm_graph(d->ctx, m_, cache_, std::span<const int32_t>(&token, 1), n_past_,
                                graph_output::last_logits, {}, d->end);
        decode_ = std::move(d);
        change = graph_change::any;
    } else {
        *static_cast<int32_t*>(decode_->lg.tokens->data) = token;
        set_position(decode_->lg, n_past_);
    }
    stats_.build_seconds += seconds_since(t0);
    run(decode_->lg, 1, change);
    n_past_++;
    const auto* p = static_cast<const float*>(decode_->lg.out->data);
    return std::vector<float>(p, p + m_.hp().n_vocab);
}

void session::run(llm_graph& lg, int64_t n_tokens, graph_change change) {
    // Prefill chunks whose attention span (keys n_past + N) reaches proxy_min_len get proxy
    // attention, whatever the chunk size; decode (one token) never does.
    if (opt_.attn == attn_mode::proxy && n_tokens > 1 && n_past_ + n_tokens >= opt_.proxy_min_len)
        stats_.proxy_nodes += swap_dense_attention(lg.g, opt_.proxy, {}, 0);
    const auto t0 = std::chrono::steady_clock::now();
    compute(lg.g, change);
    stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stats_.graphs++;
    stats_.tokens += n_tokens;
}

void session::set_profile(bool on) {
    profiling_ = on;
    sched_.set_timing(on);
}

void session::compute(const graph& g, graph_change change) {
    sched_.compute(g, change);
    if (!profiling_) return;
    for (const node_timing& t : sched_.timings()) {
        // a node off the preferred (first) backend is marked: it fell back there
        const std::string key = fmt::format("{}@{}{}", op_registry::global().name(t.node->op),
                                            backends_[size_t(t.backend_index)]->name(),
                                            t.backend_index != 0 ? " (fallback)" : "");
        op_time& o = profile_[key];
        o.ms += t.ms;
        o.count++;
    }
}

std::string session::profile_report() const {
    std::vector<std::pair<std::string, op_time>> v(profile_.begin(), profile_.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
    double total = 0;
    for (const auto& e : v)
        total += e.second.ms;
    std::string out = fmt::format("{:<28} {:>10} {:>8} {:>7}\n", "op@backend", "ms", "calls", "share");
    for (const auto& [k, t] : v)
        out += fmt::format("{:<28} {:>10.1f} {:>8} {:>6.1f}%\n", k, t.ms, t.count, 100.0 * t.ms / total);
    return out;
}

std::vector<float> session::eval(std::span<const int32_t> tokens, const progress_fn& progress) {
    if (tokens.empty()) throw error("eval: no tokens");
    if (n_past_ + int64_t(tokens.size()) > n_ctx())
        throw error(fmt::format("{} tokens at position {} exceed the context of {} (use --ctx)",
                                tokens.size(), n_past_, n_ctx()));
    if (tokens.size() == 1 && opt_.decode_span > 0 && capture_layers_.empty()) {
        std::vector<float> logits = decode(tokens[0]);
        if (progress) progress(1, 1);
        return logits;
    }
    std::vector<float> logits;
    for (size_t done = 0; done < tokens.size();) {
        const size_t n = std::min(tokens.size() - done, size_t(opt_.n_batch));
        const bool last = done + n == tokens.size();
        const auto t0 = std::chrono::steady_clock::now();
        context ctx;
        llm_graph lg = build_llm_graph(ctx, m_, cache_, tokens.subspan(done, n), n_past_,
                                       graph_output::last_logits, capture_layers_);
        stats_.build_seconds += seconds_since(t0);
        run(lg, int64_t(n));
        collect(lg, int64_t(n));
        n_past_ += int(n);
        done += n;
        if (last) {
            const auto* p = static_cast<const float*>(lg.out->data);
            logits.assign(p, p + m_.hp().n_vocab);
        }
        if (progress) progress(int64_t(done), int64_t(tokens.size()));
    }
    return logits;
}

void session::eval_all(std::span<const int32_t> tokens,
                       const std::function<void(int64_t, const float*, int64_t)>& sink,
                       const progress_fn& progress) {
    if (tokens.empty()) throw error("eval: no tokens");
    if (n_past_ + int64_t(tokens.size()) > n_ctx())
        throw error(fmt::format("{} tokens at position {} exceed the context of {} (use --ctx)",
                                tokens.size(), n_past_, n_ctx()));
    const int64_t E = m_.hp().n_embd;
    // Hidden states come back to the host; the classifier then runs in slices so that at most
    // n_batch x n_vocab logits exist at a time.
    const int64_t slice = std::max<int64_t>(1, std::min<int64_t>(opt_.n_batch, 512));
    for (size_t done = 0; done < tokens.size();) {
        const size_t n = std::min(tokens.size() - done, size_t(opt_.n_batch));
        const std::vector<float> hidden = eval_hidden(tokens.subspan(done, n));
        for (int64_t s = 0; s < int64_t(n); s += slice) {
            const int64_t k = std::min<int64_t>(slice, int64_t(n) - s);
            const std::vector<float> logits =
                project(std::span<const float>(hidden).subspan(size_t(s * E), size_t(k * E)), k);
            sink(int64_t(done) + s, logits.data(), k);
        }
        done += n;
        if (progress) progress(int64_t(done), int64_t(tokens.size()));
    }
}

void session::capture_qkv(std::vector<int> layers) {
    if (n_past_ != 0)
        throw error(
            fmt::format("capture: starts at position 0, the session is at {} (reset it first)", n_past_));
    for (int l : layers)
        if (l < 0 || l >= m_.hp().n_layer)
            throw error(fmt::format("capture: layer {} is outside 0..{}", l, m_.hp().n_layer - 1));
    for (size_t i = 0; i < layers.size(); ++i)
        if (std::find(layers.begin(), layers.begin() + long(i), layers[i]) != layers.begin() + long(i))
            throw error(fmt::format("capture: layer {} is asked for twice", layers[i]));
    capture_layers_ = std::move(layers);
    captured_.assign(capture_layers_.size(), {});
    captured_tokens_ = 0;
}

void session::collect(const llm_graph& lg, int64_t n_tokens) {
    if (capture_layers_.empty()) return;
    if (captured_tokens_ != n_past_) // the chunk's position must follow the captured tokens
        throw error(fmt::format("capture: {} tokens captured, but the chunk starts at position {}",
                                captured_tokens_, n_past_));
    for (const qkv_outputs& c : lg.captured) {
        const size_t i = size_t(std::find(capture_layers_.begin(), capture_layers_.end(), c.layer) -
                                capture_layers_.begin());
        for (auto [t, dst] : {std::pair{c.q, &captured_[i].q}, std::pair{c.k, &captured_[i].k},
                              std::pair{c.v, &captured_[i].v}}) {
            const auto* p = static_cast<const float*>(t->data);
            dst->insert(dst->end(), p, p + nelements(t)); // [d, heads, N]: token-major
        }
    }
    captured_tokens_ += n_tokens;
}

std::vector<attn_qkv> session::take_captured() {
    const hparams& hp = m_.hp();
    const int64_t d = hp.head_dim, H = hp.n_head, Hkv = hp.n_head_kv, N = captured_tokens_;
    // [N][heads][d] -> [heads][N][d]
    const auto heads_first = [&](const std::vector<float>& src, int64_t heads) {
        std::vector<float> out(src.size());
        for (int64_t t = 0; t < N; ++t)
            for (int64_t h = 0; h < heads; ++h)
                std::copy_n(&src[size_t((t * heads + h) * d)], d, &out[size_t((h * N + t) * d)]);
        return out;
    };
    std::vector<attn_qkv> out;
    for (const layer_capture& c : captured_) {
        attn_qkv x;
        x.d = d;
        x.N = N;
        x.n_past = 0;
        x.H = H;
        x.Hkv = Hkv;
        x.scale = 1.0f / std::sqrt(float(d));
        x.q = heads_first(c.q, H);
        x.k = heads_first(c.k, Hkv);
        x.v = heads_first(c.v, Hkv);
        out.push_back(std::move(x));
    }
    capture_layers_.clear();
    captured_.clear();
    captured_tokens_ = 0;
    return out;
}

std::vector<float> session::eval_hidden(std::span<const int32_t> tokens, int64_t keep_from,
                                        const progress_fn& progress) {
    if (tokens.empty()) throw error("eval: no tokens");
    if (n_past_ + int64_t(tokens.size()) > n_ctx())
        throw error(fmt::format("{} tokens at position {} exceed the context of {} (use --ctx)",
                                tokens.size(), n_past_, n_ctx()));
    if (keep_from < 0 || keep_from > int64_t(tokens.size()))
        throw error("eval: keep_from outside the tokens");
    const int64_t E = m_.hp().n_embd;
    std::vector<float> out(size_t((int64_t(tokens.size()) - keep_from) * E));
    for (size_t done = 0; done < tokens.size();) {
        const size_t n = std::min(tokens.size() - done, size_t(opt_.n_batch));
        const auto t0 = std::chrono::steady_clock::now();
        context ctx;
        llm_graph lg = build_llm_graph(ctx, m_, cache_, tokens.subspan(done, n), n_past_,
                                       graph_output::hidden, capture_layers_);
        stats_.build_seconds += seconds_since(t0);
        run(lg, int64_t(n));
        collect(lg, int64_t(n));
        const auto* hidden = static_cast<const float*>(lg.out->data);
        // rows [done, done + n) of which [keep_from, ..) are kept
        const int64_t first = std::max<int64_t>(keep_from, int64_t(done)), last = int64_t(done + n);
        if (first < last)
            std::memcpy(out.data() + (first - keep_from) * E, hidden + (first - int64_t(done)) * E,
                        size_t((last - first) * E) * sizeof(float));
        n_past_ += int(n);
        done += n;
        if (progress) progress(int64_t(done), int64_t(tokens.size()));
    }
    return out;
}

std::vector<float> session::project(std::span<const float> hidden, int64_t n) {
    std::vector<float> out;
    project(hidden, n, out);
    return out;
}

void session::project(std::span<const float> hidden, int64_t n, std::vector<float>& out) {
    out.resize(size_t(n * m_.hp().n_vocab));
    context ctx;
    llm_graph g = build_logits_graph(ctx, m_, hidden, n, out.data());
    const auto t0 = std::chrono::steady_clock::now();
    compute(g.g);
    stats_.logits_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace pa::model
