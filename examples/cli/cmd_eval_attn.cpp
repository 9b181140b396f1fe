// pa eval attn: prefill a real text, capture the post-RoPE Q and K, and V, of chosen layers
// (session::capture_qkv), and measure on each the proxy mask of the CPU reference estimator
// against exact attention: recall, density, oracle density, output error, per layer and head;
// and the ProxyAttn premise, head similarity inside KV groups and proxy groups
// (analysis/layer_quality.h). --save writes each layer as a PAQKV1 dump for `pa attn --load`.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <sstream>

#include "cmd_eval.h"
#include "dump_files.h"
#include "layer_quality.h"
#include "pa/error.h"
#include "proxy_options.h"
#include "ref/reference.h"
#include "session_options.h"

namespace pa::cli::eval {
namespace {

const char* usage =
    "usage: pa eval attn (-m MODEL.gguf -f TEXT [-c N] | --from DIR) [--layers LIST] [options]\n"
    "Prefills the first N tokens of TEXT, captures the Q/K/V of the chosen layers and measures the\n"
    "proxy_sparse_attn mask (CPU reference estimate, the proxy flags below) against exact attention,\n"
    "per layer and head: recall mean / p5 / min, density, oracle density, output error; and head\n"
    "similarity: share(i -> j) = head j's attention mass on head i's top-k keys, over the ordered\n"
    "pairs of a KV group (heads sharing a KV head) and of a proxy group, mean and minimum.\n"
    "  -c N               tokens to prefill (default 2048; BOS included when the model adds one)\n"
    "  --skip T           start T tokens into the text (default 0)\n"
    "  --needle-depth P   instead of the text's first tokens: pa eval niah's prompt of N tokens with\n"
    "                     the needle at P percent (the prompt flags below, as for pa eval niah)\n"
    "  --trial T          ... of this trial (default 0)\n"
    "  --layers LIST      layers to capture: all, or indices and ranges such as 0,5,10-12 (default all)\n"
    "  --attn MODE        attention of the capturing prefill: dense (default) or proxy\n"
    "  --save DIR         write each captured layer as DIR/layer-<L>.paqkv (PAQKV1: pa attn --load),\n"
    "                     and the needle's tokens as DIR/needle.txt\n"
    "  --from DIR         analyse the layers --save wrote to DIR instead of running a model (no -m, -f):\n"
    "                     capture on a fast device, analyse anywhere\n"
    "  --sim-k K          head similarity: top-k keys per head and query (default 0: each head's\n"
    "                     own gamma cover, the fewest keys holding gamma of its mass)\n"
    "  --sim-rows R       queries sampled for head similarity (default 256; 0 = all)\n"
    "  --per-head         a table line per head\n"
    "  --threads T        CPU threads for the analysis (default all)\n"
    "  --json             one JSON object on stdout instead of the table\n"
    "  --out FILE         also write the JSON object to FILE\n"
    "  --quiet            no progress on stderr\n"
    "The needle prompt (--needle-depth):\n";

struct options {
    std::string model_path, text_path, save_dir, from_dir, out_path, layers = "all";
    int64_t n_tokens = 2048, skip = 0;
    double needle_depth = -1; // percent; < 0: the text's first tokens
    int trial = 0;
    niah_flags prompt;
    bool json = false, per_head = false, quiet = false;
    analysis::layer_options lo;
};

// Where the needle sentence sits in a needle prompt (its tokens), and its number.
struct needle_info {
    int64_t first = -1, len = 0; // token span
    std::string number;
};

// The attention mass query t of head h puts on keys [first, first + len).
double span_mass(const attn_qkv& x, int64_t h, int64_t t, int64_t first, int64_t len) {
    const int64_t pos = x.n_past + t;
    const float* q = x.q_row(h, t);
    const float* k = x.k_head(h / x.gqa());
    std::vector<double> s(size_t(pos + 1));
    double mx = -1e300;
    for (int64_t j = 0; j <= pos; ++j) {
        double v = 0;
        for (int64_t i = 0; i < x.d; ++i)
            v += double(q[i]) * double(k[j * x.d + i]);
        s[size_t(j)] = v * double(x.scale);
        mx = std::max(mx, s[size_t(j)]);
    }
    double all = 0, in = 0;
    for (int64_t j = 0; j <= pos; ++j) {
        const double w = std::exp(s[size_t(j)] - mx);
        all += w;
        if (j >= first && j < first + len) in += w;
    }
    return in / all;
}

struct layer_result {
    analysis::layer_report r;
    bool all_kept = false;
    // per head: the largest mass a question row (one of the last B queries) puts on the
    // needle, that query, and whether its row keeps every needle block
    std::vector<double> needle_mass;
    std::vector<int64_t> needle_query;
    std::vector<int> needle_kept;
};

void print_table(const options& o, const std::vector<layer_result>& layers, const analysis::layers_summary& s,
                 const std::string& desc, int64_t n, const proxy_params& p, const needle_info& nd) {
    fmt::print("captured attention: {}, {} tokens\n", desc, n);
    fmt::print(
        "mask: proxy B={} S={} g={} gamma={:.3f} min_tokens={} force={}; head similarity k={}, {} rows\n",
        p.block, p.stride, p.n_proxy, p.gamma, p.min_tokens, int(p.force_sink_and_local),
        o.lo.sim.top_k > 0 ? std::to_string(o.lo.sim.top_k) : "gamma cover", o.lo.sim.rows);
    if (nd.first >= 0)
        fmt::print(
            "needle: tokens {}..{} ({}); needle mass: the most a question row (last B queries) puts on it,\n"
            "kept: that query's row keeps the needle's blocks\n",
            nd.first, nd.first + nd.len - 1, nd.number);
    fmt::print("{:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>5} {:>9} {:>13} {:>13}{}\n", "layer", "recall", "p5",
               "min", "density", "oracle", "d/o", "rel_l2", "sim kv", "sim proxy",
               nd.first >= 0 ? "  needle mass max (kept)" : "");
    for (const layer_result& l : layers) {
        const analysis::layer_report& r = l.r;
        std::string needle;
        if (nd.first >= 0) {
            const size_t h =
                size_t(std::max_element(l.needle_mass.begin(), l.needle_mass.end()) - l.needle_mass.begin());
            needle =
                fmt::format("  h{} {:.3f} ({})", h, l.needle_mass[h], l.needle_kept[h] ? "kept" : "DROPPED");
        }
        fmt::print("{:>6} {:>7.4f} {:>7.4f} {:>7.4f} {:>7.4f} {:>7.4f} {:>5.2f} {:>9.2e} {:>6.3f}/{:<6.3f} "
                   "{:>6.3f}/{:<6.3f}{}{}\n",
                   r.layer, r.mask.recall_mean, r.mask.recall_p5, r.mask.recall_min, r.mask.density,
                   r.mask.oracle_density,
                   r.mask.oracle_density > 0 ? r.mask.density / r.mask.oracle_density : 0.0, r.error.rel_l2,
                   r.sim_kv.mean, r.sim_kv.min, r.sim_proxy.mean, r.sim_proxy.min, needle,
                   l.all_kept ? "  (dense: every block kept)" : "");
        if (!o.per_head) continue;
        for (size_t h = 0; h < r.heads.size(); ++h) {
            const analysis::head_report& hr = r.heads[h];
            fmt::print(
                "{:>6} {:>7.4f} {:>7.4f} {:>7.4f} {:>7.4f} {:>7.4f} {:>5.2f} {:>9.2e} {:>6.3f}/{:<6.3f} "
                "{:>6.3f}/{:<6.3f}  k {:.0f}{}\n",
                fmt::format("h{}", h), hr.recall_mean, hr.recall_p5, hr.recall_min, hr.density,
                hr.oracle_density, hr.oracle_density > 0 ? hr.density / hr.oracle_density : 0.0,
                hr.error.rel_l2, hr.kv_received.mean, hr.kv_received.min, hr.proxy_received.mean,
                hr.proxy_received.min, hr.top_k_mean,
                nd.first >= 0 ? fmt::format("  needle {:.3f} ({})", l.needle_mass[h],
                                            l.needle_kept[h] ? "kept" : "DROPPED")
                              : "");
        }
    }
    fmt::print("over {} layers: recall mean {:.4f}, p5 mean {:.4f} (worst {:.4f} in layer {}), min {:.4f} "
               "(layer {}); density {:.4f}, oracle {:.4f}; rel_l2 mean {:.2e} (worst {:.2e} in layer {})\n",
               s.layers, s.recall_mean, s.recall_p5_mean, s.recall_p5_worst, s.recall_p5_worst_layer,
               s.recall_min_worst, s.recall_min_worst_layer, s.density, s.oracle_density, s.rel_l2_mean,
               s.rel_l2_worst, s.rel_l2_worst_layer);
    fmt::print(
        "head similarity: KV groups mean {:.3f}, min {:.3f} (layer {}); proxy groups mean {:.3f}, min {:.3f} "
        "(layer {})\n",
        s.sim_kv_mean, s.sim_kv_min, s.sim_kv_min_layer, s.sim_proxy_mean, s.sim_proxy_min,
        s.sim_proxy_min_layer);
}

std::string json_group(const analysis::group_similarity& g) {
    return fmt::format("{{\"mean\": {:.4f}, \"min\": {:.4f}, \"pairs\": {}}}", g.mean, g.min, g.pairs);
}

std::string json_of(const options& o, const std::vector<layer_result>& layers,
                    const analysis::layers_summary& s, const std::string& device, int64_t n,
                    const model::session_options& so, const needle_info& nd) {
    std::string j = fmt::format(
        "{{\"model\": {}, \"device\": {}, \"text\": {}, \"from\": {}, \"tokens\": {}, \"skip\": {}, "
        "\"attn\": \"{}\", {}, \"sim_top_k\": {}, \"sim_gamma\": {}, \"sim_rows\": {}",
        json_escape(o.model_path), json_escape(device), json_escape(o.text_path), json_escape(o.from_dir), n,
        o.skip, so.attn == model::attn_mode::proxy ? "proxy" : "dense", json_proxy_params(so.proxy),
        o.lo.sim.top_k, o.lo.sim.gamma, o.lo.sim.rows);
    if (nd.first >= 0)
        j += fmt::format(", \"needle_depth\": {}, \"trial\": {}, \"needle_first\": {}, \"needle_len\": {}, "
                         "\"needle_number\": \"{}\"",
                         o.needle_depth, o.trial, nd.first, nd.len, nd.number);
    j += fmt::format(
        ", \"summary\": {{\"layers\": {}, \"recall_mean\": {:.6f}, \"recall_p5_mean\": {:.6f}, "
        "\"recall_p5_worst\": {:.6f}, \"recall_p5_worst_layer\": {}, \"recall_min_worst\": {:.6f}, "
        "\"recall_min_worst_layer\": {}, \"density\": {:.6f}, \"oracle_density\": {:.6f}, "
        "\"rel_l2_mean\": {:.4e}, \"rel_l2_worst\": {:.4e}, \"rel_l2_worst_layer\": {}, "
        "\"sim_kv_mean\": {:.4f}, \"sim_kv_min\": {:.4f}, \"sim_kv_min_layer\": {}, "
        "\"sim_proxy_mean\": {:.4f}, \"sim_proxy_min\": {:.4f}, \"sim_proxy_min_layer\": {}}}",
        s.layers, s.recall_mean, s.recall_p5_mean, s.recall_p5_worst, s.recall_p5_worst_layer,
        s.recall_min_worst, s.recall_min_worst_layer, s.density, s.oracle_density, s.rel_l2_mean,
        s.rel_l2_worst, s.rel_l2_worst_layer, s.sim_kv_mean, s.sim_kv_min, s.sim_kv_min_layer,
        s.sim_proxy_mean, s.sim_proxy_min, s.sim_proxy_min_layer);
    j += ", \"layers\": [";
    for (size_t li = 0; li < layers.size(); ++li) {
        const analysis::layer_report& r = layers[li].r;
        const analysis::mask_quality& mq = r.mask;
        std::vector<double> share = r.sim.share;
        j += fmt::format(
            "{}{{\"layer\": {}, \"all_kept\": {}, \"recall_mean\": {:.6f}, \"recall_p5\": {:.6f}, "
            "\"recall_min\": "
            "{:.6f}, \"recall_quartile_mean\": {}, \"recall_quartile_p5\": {}, \"density\": {:.6f}, "
            "\"oracle_density\": {:.6f}, \"density_over_oracle\": {:.4f}, \"oracle_iou\": {:.6f}, "
            "\"rel_l2\": {:.4e}, "
            "\"max_abs\": {:.4e}, \"sim_kv\": {}, \"sim_proxy\": {}, \"share\": {}",
            li ? ", " : "", r.layer, layers[li].all_kept, mq.recall_mean, mq.recall_p5, mq.recall_min,
            json_numbers({mq.recall_quartile_mean.begin(), mq.recall_quartile_mean.end()}),
            json_numbers({mq.recall_quartile_p5.begin(), mq.recall_quartile_p5.end()}), mq.density,
            mq.oracle_density, mq.oracle_density > 0 ? mq.density / mq.oracle_density : 0.0, mq.oracle_iou,
            r.error.rel_l2, r.error.max_abs, json_group(r.sim_kv), json_group(r.sim_proxy),
            json_numbers(share));
        j += ", \"heads\": [";
        for (size_t h = 0; h < r.heads.size(); ++h) {
            const analysis::head_report& hr = r.heads[h];
            j += fmt::format(
                "{}{{\"head\": {}, \"recall_mean\": {:.6f}, \"recall_p5\": {:.6f}, \"recall_min\": {:.6f}, "
                "\"density\": {:.6f}, \"oracle_density\": {:.6f}, \"rel_l2\": {:.4e}, \"max_abs\": "
                "{:.4e}, \"top_k_mean\": {:.1f}, \"sim_kv_received\": {}, \"sim_proxy_received\": {}",
                h ? ", " : "", h, hr.recall_mean, hr.recall_p5, hr.recall_min, hr.density, hr.oracle_density,
                hr.error.rel_l2, hr.error.max_abs, hr.top_k_mean, json_group(hr.kv_received),
                json_group(hr.proxy_received));
            if (nd.first >= 0)
                j += fmt::format(", \"needle_mass\": {:.6f}, \"needle_query\": {}, \"needle_kept\": {}",
                                 layers[li].needle_mass[h], layers[li].needle_query[h],
                                 layers[li].needle_kept[h] != 0);
            j += "}";
        }
        j += "]}";
    }
    return j + "]}";
}

std::string layer_file(const std::string& dir, int layer) {
    return (std::filesystem::path(dir) / fmt::format("layer-{}.paqkv", layer)).string();
}

// DIR/needle.txt: "<first token> <tokens> <number>", written with the layers of a needle prompt.
void save_capture(const std::string& dir, const std::vector<int>& layers,
                  const std::vector<attn_qkv>& captured, const needle_info& nd) {
    std::filesystem::create_directories(dir);
    for (size_t i = 0; i < layers.size(); ++i)
        analysis::write_qkv_dump(layer_file(dir, layers[i]), captured[i]);
    const std::string path = (std::filesystem::path(dir) / "needle.txt").string();
    std::filesystem::remove(path);
    if (nd.first < 0) return;
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) throw error(fmt::format("{}: cannot write", path));
    std::fprintf(f, "%lld %lld %s\n", (long long)nd.first, (long long)nd.len, nd.number.c_str());
    std::fclose(f);
}

needle_info read_needle(const std::string& dir) {
    needle_info nd;
    const std::string path = (std::filesystem::path(dir) / "needle.txt").string();
    if (!std::filesystem::exists(path)) return nd;
    std::istringstream in(read_text_file(path));
    if (!(in >> nd.first >> nd.len >> nd.number) || nd.first < 0 || nd.len <= 0)
        throw error(fmt::format("{}: not '<first token> <tokens> <number>'", path));
    return nd;
}

// The layers saved in dir: all of them (layer-<L>.paqkv, ascending), or those of the list.
std::vector<int> saved_layers(const std::string& dir, const std::string& list) {
    if (!std::filesystem::is_directory(dir)) throw error(fmt::format("--from {}: not a directory", dir));
    std::vector<int> found;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        int l = -1;
        char tail[8] = {};
        if (std::sscanf(name.c_str(), "layer-%d.%7s", &l, tail) == 2 && std::string(tail) == "paqkv" &&
            l >= 0)
            found.push_back(l);
    }
    if (found.empty()) throw error(fmt::format("--from {}: no layer-<L>.paqkv files", dir));
    std::sort(found.begin(), found.end());
    if (list == "all") return found;
    const std::vector<int> want = parse_index_list(list, found.back() + 1, "--layers");
    for (int l : want)
        if (!std::binary_search(found.begin(), found.end(), l))
            throw error(fmt::format("--layers: layer {} is not saved in {}", l, dir));
    return want;
}

// The tokens to prefill: the text's tokens [skip, skip + n) after BOS, or a needle prompt.
std::vector<int32_t> input_tokens(const options& o, const model::model& m, needle_info& nd) {
    const model::tokenizer& tok = m.tok();
    const std::string text = read_text_file(o.text_path);
    if (o.needle_depth >= 0) {
        const analysis::niah_builder b = make_niah_builder(m, text, o.prompt, o.n_tokens, nullptr);
        const analysis::niah_prompt p = b.build(o.needle_depth / 100.0, o.trial);
        nd.first = p.needle_token;
        nd.len = int64_t(tok.encode(b.needle_sentence(p.number), false, false).size());
        nd.number = p.number;
        return tok.encode(p.text, tok.add_bos(), true);
    }
    const std::vector<int32_t> all = tok.encode(text, false, false);
    const int64_t bos = tok.add_bos() ? 1 : 0, want = o.n_tokens - bos;
    if (o.skip < 0 || o.skip + want > int64_t(all.size()))
        throw error(
            fmt::format("{}: {} tokens, fewer than --skip {} + {}", o.text_path, all.size(), o.skip, want));
    std::vector<int32_t> t;
    if (bos) t.push_back(tok.bos());
    t.insert(t.end(), all.begin() + o.skip, all.begin() + o.skip + want);
    return t;
}

} // namespace

int run_attn(int argc, char** argv) {
    args a(argc, argv, niah_session_usage(usage));
    if (a.help()) return a.print_usage();
    options o;
    o.model_path = a.str("-m", "");
    o.text_path = a.str("-f", "");
    o.n_tokens = a.i64("-c", 2048);
    o.skip = a.i64("--skip", 0);
    const bool needle = a.has("--needle-depth");
    o.needle_depth = needle ? a.f64("--needle-depth", 50) : -1;
    o.trial = int(a.i64("--trial", 0));
    o.prompt = niah_flags_from(a);
    o.layers = a.str("--layers", o.layers);
    o.save_dir = a.str("--save", "");
    o.from_dir = a.str("--from", "");
    o.lo.sim.top_k = a.i64("--sim-k", 0);
    o.lo.sim.rows = a.i64("--sim-rows", 256);
    o.per_head = a.flag("--per-head");
    o.lo.n_threads = int(a.i64("--threads", 0));
    o.lo.sim.n_threads = o.lo.n_threads;
    o.json = a.flag("--json");
    o.out_path = a.str("--out", "");
    o.quiet = a.flag("--quiet");
    model::session_options so = session_options_from(a, int(o.n_tokens), false);
    so.attn = parse_attn_mode(a.str("--attn", "dense"));
    if (!o.from_dir.empty()) {
        if (!o.model_path.empty() || !o.text_path.empty() || !o.save_dir.empty() || needle)
            throw error("--from DIR analyses saved layers: no -m, -f, --save or --needle-depth with it");
    } else {
        if (o.model_path.empty())
            throw error("give a model with -m MODEL.gguf (or saved layers with --from DIR)");
        if (o.text_path.empty()) throw error("give a text with -f FILE");
    }
    if (o.n_tokens < 2 || o.n_tokens > model::max_ctx)
        throw error(fmt::format("-c {} is outside 2..{}", o.n_tokens, model::max_ctx));
    if (needle && !(o.needle_depth >= 0 && o.needle_depth <= 100))
        throw error(fmt::format("--needle-depth {} is not a percentage in 0..100", o.needle_depth));
    if (o.trial < 0) throw error(fmt::format("--trial {} must be >= 0", o.trial));
    if (o.lo.sim.top_k < 0 || o.lo.sim.rows < 0) throw error("--sim-k and --sim-rows must be >= 0");
    o.lo.gamma = so.proxy.gamma;
    o.lo.sim.gamma = so.proxy.gamma;
    o.lo.n_proxy = so.proxy.n_proxy;
    const backend_set be = open_backends(a);
    std::shared_ptr<plugin> proxy_plugin =
        so.attn == model::attn_mode::proxy && o.from_dir.empty() ? ensure_proxy_plugin(a, be) : nullptr;
    a.finish();

    std::vector<int> layers;
    std::vector<attn_qkv> captured; // per layer; empty with --from (read one at a time)
    needle_info nd;
    std::string model_desc;
    int64_t n = 0;
    if (o.from_dir.empty()) {
        const model::model m(o.model_path);
        model_desc = m.describe();
        layers = parse_index_list(o.layers, m.hp().n_layer, "--layers");
        const std::vector<int32_t> tokens = input_tokens(o, m, nd);
        n = int64_t(tokens.size());
        so.n_ctx = int(n);
        if (!o.quiet)
            std::fprintf(stderr, "model: %s\ndevice: %s\nprefill: %lld tokens, capturing %zu layers\n",
                         model_desc.c_str(), be.main().description().c_str(), (long long)n, layers.size());
        model::session s(m, be.order(), so);
        s.sched().set_abort_flag(interrupt_flag());
        s.capture_qkv(layers);
        progress pre(n, o.quiet);
        s.eval(tokens, [&](int64_t done, int64_t) { pre.update(done, "prefill tokens"); });
        pre.finish();
        captured = s.take_captured();
        if (!o.save_dir.empty()) save_capture(o.save_dir, layers, captured, nd);
    } else {
        layers = saved_layers(o.from_dir, o.layers);
        nd = read_needle(o.from_dir);
        model_desc = "layers saved in " + o.from_dir;
    }

    std::vector<layer_result> results;
    progress prog(int64_t(layers.size()), o.quiet);
    for (size_t i = 0; i < layers.size(); ++i) {
        const attn_qkv x = captured.empty() ? analysis::read_qkv_dump(layer_file(o.from_dir, layers[i]))
                                            : std::move(captured[i]);
        n = x.N;
        const proxy::geometry geo = proxy::make_geometry(x, so.proxy);
        const proxy::estimate e = proxy::estimate_mask(geo, x, o.lo.n_threads);
        layer_result lr;
        lr.all_kept = geo.all_kept;
        lr.r = analysis::measure_layer(x, e.mask, o.lo);
        lr.r.layer = layers[i];
        if (nd.first >= 0) {
            // the question rows: the last B queries; per head the one that reads the needle most
            for (int64_t h = 0; h < x.H; ++h) {
                double best = -1;
                int64_t at = x.N - 1;
                for (int64_t t = std::max<int64_t>(0, x.N - geo.B); t < x.N; ++t) {
                    const double mass = span_mass(x, h, t, nd.first, nd.len);
                    if (mass > best) {
                        best = mass;
                        at = t;
                    }
                }
                lr.needle_mass.push_back(best);
                lr.needle_query.push_back(at);
                bool kept = true;
                const auto k = e.mask.kept(h, (x.n_past + at) / geo.B);
                for (int64_t blk = nd.first / geo.B; blk <= (nd.first + nd.len - 1) / geo.B; ++blk)
                    kept = kept && std::find(k.begin(), k.end(), int32_t(blk)) != k.end();
                lr.needle_kept.push_back(kept);
            }
        }
        results.push_back(std::move(lr));
        prog.update(int64_t(i + 1), fmt::format("layer {}: analysed layers", layers[i]));
    }
    prog.finish();
    std::vector<analysis::layer_report> reports;
    for (const auto& l : results)
        reports.push_back(l.r);
    const analysis::layers_summary sum = analysis::summarize_layers(reports);

    const std::string json = o.json || !o.out_path.empty()
                                 ? json_of(o, results, sum, be.main().description(), n, so, nd)
                                 : std::string();
    if (!o.json) print_table(o, results, sum, model_desc, n, so.proxy, nd);
    emit_json(json, o.json, o.out_path);
    return 0;
}

} // namespace pa::cli::eval
