// bench_util.h - what the benchmarks share: timing a graph node, JSON records, result files.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pa/backend.h"
#include "pa/scheduler.h"

namespace pa::bench {

// One JSON object with fields in insertion order (values are kept as JSON text).
class record {
  public:
    record& set(const std::string& key, double v);
    record& set(const std::string& key, int64_t v);
    record& set(const std::string& key, int v) { return set(key, int64_t(v)); }
    record& set(const std::string& key, bool v);
    record& set(const std::string& key, const std::string& v);
    record& set(const std::string& key, const char* v) { return set(key, std::string(v)); }
    std::string json() const;
    // the value of key as a number (0 when absent or not numeric) / as text ("" when absent)
    double num(const std::string& key) const;
    std::string str(const std::string& key) const;
    bool has(const std::string& key) const;

  private:
    std::vector<std::pair<std::string, std::string>> fields_;
};

double median(std::vector<double> v);

// Runs the graph of `out` `reps` times (after `warmup` untimed runs) and returns the node's own
// times (scheduler timing: srcs resident, output copy excluded).
std::vector<double> time_node(scheduler& sched, tensor* out, int reps, int warmup = 0);

// The backend's device name (its description up to the first " | ").
std::string device_name(const backend& b);
std::string today();                         // YYYY-MM-DD (UTC)
std::string file_safe(const std::string& s); // letters, digits, '-', '.'

// Writes [rec, ...] to path (directories created); returns the path.
std::string write_records(const std::string& path, const std::vector<record>& recs);

// Sets an environment variable for the scope (restores the old value after).
class scoped_env {
  public:
    scoped_env(const char* name, const char* value);
    ~scoped_env();
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

  private:
    std::string name_, old_;
    bool had_ = false;
};

std::vector<int64_t> parse_sizes(const std::string& list); // "4096,16k,128K"
std::vector<std::string> split(const std::string& list, char sep = ','); // the non-empty pieces

} // namespace pa::bench
