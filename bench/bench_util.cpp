// bench_util.cpp - see bench_util.h.
#include "bench_util.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "cli.h"
#include "pa/error.h"
#include "pa/graph.h"

namespace pa::bench {

namespace {
std::string json_string(const std::string& s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            o += '\\', o += c;
        else if (static_cast<unsigned char>(c) < 0x20)
            o += fmt::format("\\u{:04x}", int(c));
        else
            o += c;
    }
    return o + "\"";
}
} // namespace

record& record::set(const std::string& key, double v) {
    std::string t = std::isfinite(v) ? fmt::format("{:.6g}", v) : "null";
    for (auto& f : fields_)
        if (f.first == key) return f.second = t, *this;
    fields_.emplace_back(key, t);
    return *this;
}
record& record::set(const std::string& key, int64_t v) {
    for (auto& f : fields_)
        if (f.first == key) return f.second = std::to_string(v), *this;
    fields_.emplace_back(key, std::to_string(v));
    return *this;
}
record& record::set(const std::string& key, bool v) {
    for (auto& f : fields_)
        if (f.first == key) return f.second = v ? "true" : "false", *this;
    fields_.emplace_back(key, v ? "true" : "false");
    return *this;
}
record& record::set(const std::string& key, const std::string& v) {
    for (auto& f : fields_)
        if (f.first == key) return f.second = json_string(v), *this;
    fields_.emplace_back(key, json_string(v));
    return *this;
}
std::string record::json() const {
    std::string o = "{";
    for (size_t i = 0; i < fields_.size(); ++i)
        o += fmt::format("{}{}: {}", i ? ", " : "", json_string(fields_[i].first), fields_[i].second);
    return o + "}";
}
double record::num(const std::string& key) const {
    for (const auto& f : fields_)
        if (f.first == key) return std::strtod(f.second.c_str(), nullptr);
    return 0.0;
}
std::string record::str(const std::string& key) const {
    for (const auto& f : fields_)
        if (f.first == key)
            return f.second.size() >= 2 && f.second.front() == '"' ? f.second.substr(1, f.second.size() - 2)
                                                                   : f.second;
    return "";
}
bool record::has(const std::string& key) const {
    return std::any_of(fields_.begin(), fields_.end(), [&](const auto& f) { return f.first == key; });
}

double median(std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<double> time_node(scheduler& sched, tensor* out, int reps, int warmup) {
    const graph g = build_forward({out});
    std::vector<double> t;
    for (int i = 0; i < warmup + reps; ++i) {
        sched.compute(g);
        double ms = -1.0;
        for (const auto& nt : sched.timings())
            if (nt.node == out) ms = nt.ms;
        if (ms < 0) throw error("bench: the scheduler reported no time for the node (is timing on?)");
        if (i >= warmup) t.push_back(ms);
    }
    return t;
}

std::string device_name(const backend& b) {
    const std::string d = b.description();
    return d.substr(0, d.find(" | "));
}

std::string today() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

std::string file_safe(const std::string& s) {
    std::string o;
    for (char c : s)
        o += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '-';
    // squeeze repeated dashes
    o.erase(std::unique(o.begin(), o.end(), [](char a, char b) { return a == '-' && b == '-'; }), o.end());
    while (!o.empty() && o.back() == '-')
        o.pop_back();
    return o;
}

std::string write_records(const std::string& path, const std::vector<record>& recs) {
    const std::filesystem::path p(path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
    std::ofstream f(path);
    f << "[\n";
    for (size_t i = 0; i < recs.size(); ++i)
        f << "  " << recs[i].json() << (i + 1 < recs.size() ? ",\n" : "\n");
    f << "]\n";
    if (!f) throw error(fmt::format("cannot write {}", path));
    return path;
}

scoped_env::scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* o = std::getenv(name)) had_ = true, old_ = o;
    setenv(name, value, 1);
}
scoped_env::~scoped_env() {
    if (had_)
        setenv(name_.c_str(), old_.c_str(), 1);
    else
        unsetenv(name_.c_str());
}

std::vector<std::string> split(const std::string& list, char sep) {
    std::vector<std::string> out = cli::split_list(list, sep);
    std::erase(out, std::string());
    return out;
}

std::vector<int64_t> parse_sizes(const std::string& list) {
    std::vector<int64_t> out;
    for (const std::string& s : split(list)) {
        char* end = nullptr;
        int64_t v = std::strtoll(s.c_str(), &end, 10);
        if (end && (*end == 'k' || *end == 'K')) v *= 1024, ++end;
        if (!end || *end || v <= 0) throw error(fmt::format("bad size '{}' in '{}'", s, list));
        out.push_back(v);
    }
    return out;
}

} // namespace pa::bench
