// cli_args.cpp - command registry and a small option parser.
#include <cstdlib>
#include <fmt/format.h>

#include "cli.h"
#include "pa/error.h"

namespace pa::cli {

namespace {
// Value of an option given without one (a bare flag).
constexpr char kNoValue = '\x01';
std::vector<command>& command_list() {
    static std::vector<command> list;
    return list;
}
} // namespace

void register_command(const command& c) {
    command_list().push_back(c);
}
const std::vector<command>& commands() {
    return command_list();
}

std::vector<std::string> split_list(const std::string& list, char sep) {
    std::vector<std::string> items;
    size_t from = 0;
    while (from <= list.size()) {
        size_t end = list.find(sep, from);
        if (end == std::string::npos) end = list.size();
        items.push_back(list.substr(from, end - from));
        from = end + 1;
    }
    return items;
}

std::string trimmed(std::string s) {
    s.erase(0, s.find_first_not_of(" \t"));
    s.erase(s.find_last_not_of(" \t") + 1);
    return s;
}

int args::print_usage() const {
    fmt::print("{}", usage_);
    return 0;
}

args::args(int argc, char** argv, std::string usage) : usage_(std::move(usage)) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            help_ = true;
            continue;
        }
        if (a.size() > 1 && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) {
            std::string key = a, value;
            if (auto eq = a.find('='); eq != std::string::npos) {
                key = a.substr(0, eq);
                value = a.substr(eq + 1);
            } else if (i + 1 < argc &&
                       (argv[i + 1][0] != '-' || (argv[i + 1][1] >= '0' && argv[i + 1][1] <= '9') ||
                        argv[i + 1][1] == '.' || argv[i + 1][1] == '\0')) {
                value = argv[++i];
            } else {
                value.assign(1, kNoValue); // present without a value
            }
            values_[key] = value;
            used_[key] = false;
        } else {
            positional_.push_back(a);
        }
    }
}

bool args::has(const std::string& name) {
    auto it = values_.find(name);
    if (it == values_.end()) return false;
    used_[name] = true;
    return true;
}

bool args::flag(const std::string& name) {
    auto it = values_.find(name);
    if (it == values_.end()) return false;
    used_[name] = true;
    if (!(it->second.size() == 1 &&
          it->second[0] == kNoValue)) // "--json value": the value was really a positional
    {
        positional_.push_back(it->second);
        it->second.assign(1, kNoValue);
    }
    return true;
}

std::string args::str(const std::string& name, const std::string& def) {
    auto it = values_.find(name);
    if (it == values_.end()) return def;
    used_[name] = true;
    if (it->second.size() == 1 && it->second[0] == kNoValue)
        throw error(fmt::format("option {} needs a value", name));
    return it->second;
}

int64_t args::i64(const std::string& name, int64_t def) {
    const std::string s = str(name, "");
    if (s.empty()) return def;
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    // accept 16k / 128K style sizes
    if (end && (*end == 'k' || *end == 'K') && end[1] == '\0') return v * 1024;
    if (!end || *end) throw error(fmt::format("option {}: '{}' is not an integer", name, s));
    return v;
}

double args::f64(const std::string& name, double def) {
    const std::string s = str(name, "");
    if (s.empty()) return def;
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (!end || *end) throw error(fmt::format("option {}: '{}' is not a number", name, s));
    return v;
}

std::vector<std::string> args::positional() {
    return positional_;
}

void args::finish() const {
    for (const auto& [k, used] : used_)
        if (!used) throw error(fmt::format("unknown option {} (see --help)", k));
}

} // namespace pa::cli
