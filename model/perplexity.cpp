// perplexity.cpp - see perplexity.h.
#include "perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>

#include "pa/error.h"

namespace pa::model {
namespace {

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// The classifier runs on at most this many positions at a time (slice x n_vocab floats).
constexpr int64_t logits_slice = 512;

// Sums of one mode over some scored tokens.
struct nll_sums {
    double nll = 0, nll2 = 0;
    int64_t n = 0;
    void add(double v) {
        nll += v;
        nll2 += v * v;
        ++n;
    }
};

void finish(ppl_result& r, const nll_sums& s) {
    r.scored = s.n;
    r.nll = s.nll / double(s.n);
    r.ppl = std::exp(r.nll);
    const double var = s.nll2 / double(s.n) - r.nll * r.nll;
    r.ppl_err = s.n > 1 && var > 0 ? r.ppl * std::sqrt(var / double(s.n - 1)) : 0.0;
}

double percentile(const std::vector<float>& sorted, double q) {
    if (sorted.empty()) return 0;
    const double pos = q * double(sorted.size() - 1);
    const size_t lo = size_t(pos);
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return double(sorted[lo]) + (pos - double(lo)) * (double(sorted[hi]) - double(sorted[lo]));
}

} // namespace

const char* scoring_name(ppl_scoring s) {
    return s == ppl_scoring::llama_cpp ? "llama.cpp" : "all";
}

ppl_scoring parse_scoring(const std::string& s) {
    if (s == "llama.cpp" || s == "llama") return ppl_scoring::llama_cpp;
    if (s == "all") return ppl_scoring::all;
    throw error(fmt::format("--score: '{}' is not llama.cpp or all", s));
}

std::vector<int32_t> ppl_plan::chunk(int c) const {
    if (scoring == ppl_scoring::llama_cpp) {
        std::vector<int32_t> t(stream.begin() + int64_t(c) * n_ctx, stream.begin() + int64_t(c + 1) * n_ctx);
        if (bos >= 0) t[0] = bos;
        return t;
    }
    const int64_t per = bos >= 0 ? n_ctx - 1 : n_ctx; // text tokens a chunk holds
    const int64_t begin = int64_t(c) * per, end = std::min<int64_t>(int64_t(stream.size()), begin + per);
    std::vector<int32_t> t;
    if (bos >= 0) t.push_back(bos);
    t.insert(t.end(), stream.begin() + begin, stream.begin() + end);
    return t;
}

int ppl_plan::scored(int c) const {
    if (scoring == ppl_scoring::llama_cpp) return int(logits_rows_per_chunk(n_ctx));
    return int(chunk(c).size()) - 1;
}

int64_t ppl_plan::scored_total() const {
    int64_t n = 0;
    for (int c = 0; c < n_chunks; ++c)
        n += scored(c);
    return n;
}

ppl_plan plan_perplexity(const tokenizer& tok, std::span<const int32_t> text, int n_ctx, int max_chunks,
                         ppl_scoring scoring) {
    if (n_ctx < 2) throw error(fmt::format("perplexity: context {} must be >= 2", n_ctx));
    ppl_plan p;
    p.scoring = scoring;
    p.n_ctx = n_ctx;
    p.bos = tok.add_bos() && tok.bos() >= 0 ? tok.bos() : -1;
    p.text_tokens = int64_t(text.size());
    if (scoring == ppl_scoring::llama_cpp) {
        if (p.bos >= 0) p.stream.push_back(p.bos);
        p.stream.insert(p.stream.end(), text.begin(), text.end());
        if (int64_t(p.stream.size()) < 2 * int64_t(n_ctx))
            throw error(
                fmt::format("perplexity: the text has {} tokens; llama.cpp's definition needs at least "
                            "2 x {} (lower -c, or score every token with --score all)",
                            p.stream.size(), n_ctx));
        p.n_chunks = int(int64_t(p.stream.size()) / n_ctx);
        p.first = n_ctx / 2;
    } else {
        p.stream.assign(text.begin(), text.end());
        const int64_t per = p.bos >= 0 ? n_ctx - 1 : n_ctx;
        const int64_t full = int64_t(text.size()) / per;
        p.n_chunks = int(std::max<int64_t>(1, full));
        if (full == 0) p.n_ctx = int(text.size()) + (p.bos >= 0 ? 1 : 0); // one shorter chunk
        if (p.n_ctx < 2) throw error("perplexity: the text has too few tokens");
        p.first = 0;
    }
    if (max_chunks > 0) p.n_chunks = std::min(p.n_chunks, max_chunks);
    return p;
}

ppl_plan plan_from_logits_file(const tokenizer& tok, const logits_reader& base, int max_chunks) {
    if (base.n_vocab() != tok.n_vocab())
        throw error(fmt::format("{}: written for a vocabulary of {} tokens, the model has {}", base.path(),
                                base.n_vocab(), tok.n_vocab()));
    for (int32_t t : base.tokens())
        if (t < 0 || t >= tok.n_vocab())
            throw error(fmt::format("{}: token id {} outside the vocabulary", base.path(), t));
    ppl_plan p;
    p.scoring = ppl_scoring::llama_cpp;
    p.n_ctx = base.n_ctx();
    p.first = p.n_ctx / 2;
    p.bos = tok.add_bos() && tok.bos() >= 0 ? tok.bos() : -1;
    p.stream = base.tokens();
    p.text_tokens = int64_t(p.stream.size());
    p.n_chunks = max_chunks > 0 ? std::min(base.n_chunk(), max_chunks) : base.n_chunk();
    return p;
}

kl_summary summarize_kl(std::vector<float> kl, int64_t same_top, double nll_q_sum, double nll_p_sum) {
    kl_summary s;
    s.count = int64_t(kl.size());
    if (kl.empty()) return s;
    double sum = 0;
    for (float v : kl)
        sum += double(v);
    std::sort(kl.begin(), kl.end());
    s.mean = sum / double(kl.size());
    s.median = percentile(kl, 0.5);
    s.p99 = percentile(kl, 0.99);
    s.max = double(kl.back());
    s.top1 = double(same_top) / double(kl.size());
    s.ppl_ratio = std::exp((nll_q_sum - nll_p_sum) / double(kl.size()));
    return s;
}

ppl_report evaluate_perplexity(const ppl_plan& plan, const ppl_job& job) {
    const size_t n_modes = job.sessions.size();
    if (n_modes < 1 || n_modes > 2) throw error("perplexity: one or two sessions");
    if (job.base && n_modes != 1) throw error("perplexity: a base file compares one attention mode");
    if ((job.base || job.save) && plan.scoring != ppl_scoring::llama_cpp)
        throw error("perplexity: logits files hold llama.cpp's scored positions (use --score llama.cpp)");
    const model& m = job.sessions[0]->mdl();
    const int64_t V = m.hp().n_vocab, E = m.hp().n_embd;
    for (session* s : job.sessions) {
        if (plan.n_ctx > s->n_ctx())
            throw error(
                fmt::format("perplexity: context {} exceeds the session's {}", plan.n_ctx, s->n_ctx()));
        if (s->mdl().hp().n_vocab != V) throw error("perplexity: sessions of different models");
    }
    const bool kl = n_modes == 2 || job.base;
    const int64_t row_u16 = logits_row_u16(V);

    ppl_report rep;
    rep.modes.resize(n_modes);
    rep.has_kl = kl;
    std::vector<nll_sums> sums(n_modes);
    std::vector<double> eval0(n_modes), logits0(n_modes);
    for (size_t k = 0; k < n_modes; ++k) {
        eval0[k] = job.sessions[k]->stats().seconds;
        logits0[k] = job.sessions[k]->stats().logits_seconds;
        rep.modes[k].n_ctx = plan.n_ctx;
    }
    std::vector<float> kl_all;
    int64_t same_all = 0;
    double base_nll_all = 0, q_nll_all = 0;
    const auto t_start = clock_type::now();

    std::vector<uint16_t> base_rows, save_rows;
    std::vector<std::vector<float>> logits(n_modes); // one slice of logits per mode, storage reused
    for (int c = 0; c < plan.n_chunks; ++c) {
        const std::vector<int32_t> toks = plan.chunk(c);
        const int n_scored = plan.scored(c);
        std::vector<std::vector<float>> hidden(n_modes);
        for (size_t k = 0; k < n_modes; ++k) {
            session& s = *job.sessions[k];
            s.reset();
            hidden[k] = s.eval_hidden(toks, plan.first);
        }
        std::vector<nll_sums> chunk_sums(n_modes);
        std::vector<float> chunk_kl;
        int64_t chunk_same = 0;
        double chunk_nll_p = 0, chunk_nll_q = 0;
        for (int64_t s0 = 0; s0 < n_scored; s0 += logits_slice) {
            const int64_t n = std::min<int64_t>(logits_slice, n_scored - s0);
            for (size_t k = 0; k < n_modes; ++k)
                job.sessions[k]->project(
                    std::span<const float>(hidden[k]).subspan(size_t(s0 * E), size_t(n * E)), n, logits[k]);
            // targets: the chunk token after each scored position
            auto target = [&](int64_t i) { return toks[size_t(plan.first + s0 + i + 1)]; };

            // per mode: log-softmax statistics and NLL of every row
            std::vector<std::vector<row_stats>> st(n_modes, std::vector<row_stats>(size_t(n)));
            std::vector<std::vector<double>> nll(n_modes, std::vector<double>(size_t(n)));
            for (size_t k = 0; k < n_modes; ++k) {
                const auto t0 = clock_type::now();
                parallel_rows(n, 8, [&](int64_t b, int64_t e) {
                    for (int64_t i = b; i < e; ++i) {
                        const std::span<const float> row(logits[k].data() + i * V, size_t(V));
                        st[k][size_t(i)] = logit_stats(row);
                        nll[k][size_t(i)] = token_nll(row, st[k][size_t(i)], target(i));
                    }
                });
                for (int64_t i = 0; i < n; ++i) {
                    sums[k].add(nll[k][size_t(i)]);
                    chunk_sums[k].add(nll[k][size_t(i)]);
                }
                rep.modes[k].score_seconds += seconds_since(t0);
            }

            // KL against the first mode or the base file; rows to save
            if (!kl && !job.save) continue;
            const auto t0 = clock_type::now();
            if (job.base) job.base->read_rows(n, base_rows);
            if (job.save) save_rows.resize(size_t(n * row_u16));
            std::vector<float> kl_rows(kl ? size_t(n) : 0);
            std::vector<double> base_nll(job.base ? size_t(n) : 0);
            std::vector<uint8_t> same(kl ? size_t(n) : 0);
            parallel_rows(n, 8, [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) {
                    const std::span<const float> row0(logits[0].data() + i * V, size_t(V));
                    if (n_modes == 2) {
                        const std::span<const float> row1(logits[1].data() + i * V, size_t(V));
                        kl_rows[size_t(i)] =
                            float(kl_divergence(row0, st[0][size_t(i)], row1, st[1][size_t(i)]));
                        same[size_t(i)] = st[0][size_t(i)].argmax == st[1][size_t(i)].argmax;
                    } else if (job.base) {
                        const base_row_cmp r = compare_to_base(base_rows.data() + i * row_u16, row0,
                                                               st[0][size_t(i)], target(i));
                        kl_rows[size_t(i)] = float(r.kl);
                        base_nll[size_t(i)] = r.base_nll;
                        same[size_t(i)] = r.base_argmax == st[0][size_t(i)].argmax;
                    }
                    if (job.save) encode_log_probs(row0, st[0][size_t(i)], save_rows.data() + i * row_u16);
                }
            });
            if (job.save) job.save->write_rows(save_rows.data(), n);
            for (int64_t i = 0; kl && i < n; ++i) {
                chunk_kl.push_back(kl_rows[size_t(i)]);
                chunk_same += same[size_t(i)];
                // P is the base: the first mode, or the file; Q the compared run
                chunk_nll_p += job.base ? base_nll[size_t(i)] : nll[0][size_t(i)];
                chunk_nll_q += job.base ? nll[0][size_t(i)] : nll[1][size_t(i)];
            }
            rep.kl_seconds += seconds_since(t0);
        }
        for (size_t k = 0; k < n_modes; ++k) {
            rep.modes[k].chunk_ppl.push_back(std::exp(chunk_sums[k].nll / double(chunk_sums[k].n)));
            rep.modes[k].chunks++;
            finish(rep.modes[k], sums[k]);
        }
        if (kl) {
            rep.chunk_kl.push_back(summarize_kl(chunk_kl, chunk_same, chunk_nll_q, chunk_nll_p));
            kl_all.insert(kl_all.end(), chunk_kl.begin(), chunk_kl.end());
            same_all += chunk_same;
            base_nll_all += chunk_nll_p;
            q_nll_all += chunk_nll_q;
            rep.kl = summarize_kl(kl_all, same_all, q_nll_all, base_nll_all);
            if (job.base) rep.base_ppl = std::exp(base_nll_all / double(kl_all.size()));
        }
        if (job.on_chunk) job.on_chunk(c, plan.n_chunks, rep);
    }
    for (size_t k = 0; k < n_modes; ++k) {
        ppl_result& r = rep.modes[k];
        r.eval_seconds = job.sessions[k]->stats().seconds - eval0[k];
        r.logits_seconds = job.sessions[k]->stats().logits_seconds - logits0[k];
        r.seconds = r.eval_seconds + r.logits_seconds + r.score_seconds;
    }
    rep.seconds = seconds_since(t_start);
    return rep;
}

ppl_result perplexity(session& s, std::span<const int32_t> text, int n_ctx, int max_chunks,
                      ppl_scoring scoring) {
    const ppl_plan plan = plan_perplexity(s.mdl().tok(), text, n_ctx, max_chunks, scoring);
    ppl_job job;
    job.sessions = {&s};
    return evaluate_perplexity(plan, job).modes[0];
}

} // namespace pa::model
