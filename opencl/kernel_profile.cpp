// kernel_profile.cpp - PA_OPENCL_PROFILE (see kernel_profile.h).
#include "kernel_profile.h"

#include "launch.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pa::ocl::kernel_profile {
namespace {

struct totals {
    double ms = 0;
    long launches = 0;
    double gap_before_ms = 0; // device mode: idle time before its launches (gaps under 1 ms)
    double enqueue_ms = 0;    // device mode: host time in clEnqueueNDRangeKernel
};

void print_table(const char* title, const std::map<std::string, totals>& by_name, bool device) {
    std::vector<std::pair<std::string, totals>> rows(by_name.begin(), by_name.end());
    std::sort(rows.begin(), rows.end(),
              [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
    std::fprintf(stderr, "PA_OPENCL_PROFILE: %s\n", title);
    const auto per_launch = [](double ms, long n) { return n ? 1e3 * ms / double(n) : 0.0; };
    for (const auto& [name, t] : rows) {
        std::fprintf(stderr, "  %-28s %10.3f ms  %8ld launches  %8.2f us each", name.c_str(), t.ms,
                     t.launches, per_launch(t.ms, t.launches));
        if (device)
            std::fprintf(stderr, "  %8.2f us gap before  %6.2f us host enqueue",
                         per_launch(t.gap_before_ms, t.launches), per_launch(t.enqueue_ms, t.launches));
        std::fprintf(stderr, "\n");
    }
}

// Wall mode: totals printed when the process exits.
struct wall_table {
    std::mutex mu;
    std::map<std::string, totals> by_name;
    ~wall_table() {
        if (!by_name.empty()) print_table("kernel wall times (queue serialized)", by_name, false);
    }
};
wall_table& wall() {
    static wall_table t;
    return t;
}

// Device mode: one event a launch, resolved in batches so the events held stay bounded.
struct device_record {
    std::string name;
    event_handle ev;
};
struct device_table {
    std::mutex mu;
    std::vector<device_record> pending;
    std::map<std::string, totals> by_name;
    double busy_ms = 0, gap_ms = 0, idle_ms = 0; // idle: gaps over 1 ms (the host not feeding)
    long gaps = 0, idles = 0;
    cl_ulong last_end = 0;
    long gap_hist[7] = {}; // gaps under 2, 5, 10, 20, 50, 100, 1000 us
};
device_table& dev() {
    static device_table t;
    return t;
}

constexpr size_t resolve_every = 16384;
constexpr double idle_ms_threshold = 1.0;

void resolve(device_table& t) { // t.mu held
    if (t.pending.empty()) return;
    cl_event last = t.pending.back().ev.get();
    if (clWaitForEvents(1, &last) != CL_SUCCESS) {
        t.pending.clear();
        return;
    }
    for (const auto& r : t.pending) {
        cl_ulong start = 0, end = 0;
        if (clGetEventProfilingInfo(r.ev.get(), CL_PROFILING_COMMAND_START, sizeof start, &start, nullptr) !=
                CL_SUCCESS ||
            clGetEventProfilingInfo(r.ev.get(), CL_PROFILING_COMMAND_END, sizeof end, &end, nullptr) !=
                CL_SUCCESS)
            continue;
        const double ms = 1e-6 * static_cast<double>(end - start);
        auto& row = t.by_name[r.name];
        row.ms += ms;
        ++row.launches;
        t.busy_ms += ms;
        if (t.last_end && start >= t.last_end) {
            const double gap = 1e-6 * static_cast<double>(start - t.last_end);
            if (gap < idle_ms_threshold) {
                t.gap_ms += gap;
                ++t.gaps;
                row.gap_before_ms += gap;
                int b = 0;
                for (const double edge : {0.002, 0.005, 0.010, 0.020, 0.050, 0.100})
                    if (gap >= edge) ++b;
                ++t.gap_hist[b];
            } else {
                t.idle_ms += gap;
                ++t.idles;
            }
        }
        t.last_end = std::max(t.last_end, end);
    }
    t.pending.clear();
}

} // namespace

mode current() {
    static const mode m = [] {
        const char* e = std::getenv("PA_OPENCL_PROFILE");
        const std::string_view v = e ? e : "";
        if (v.empty() || v == "0") return mode::off;
        return v == "device" ? mode::device : mode::wall;
    }();
    return m;
}

cl_int enqueue(cl_command_queue q, cl_kernel k, const std::function<cl_int(cl_event*)>& enqueue) {
    using clock = std::chrono::steady_clock;
    const auto ms_since = [](clock::time_point t0) {
        return std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    };
    if (current() == mode::wall) {
        clFinish(q);
        const auto t0 = clock::now();
        const cl_int err = enqueue(nullptr);
        if (err != CL_SUCCESS) return err;
        clFinish(q);
        const double ms = ms_since(t0);
        std::lock_guard lock(wall().mu);
        auto& row = wall().by_name[kernel_name(k)];
        row.ms += ms;
        ++row.launches;
        return err;
    }
    cl_event ev = nullptr;
    const auto t0 = clock::now();
    const cl_int err = enqueue(&ev); // device mode (off never comes here)
    const double enqueue_ms = ms_since(t0);
    if (err != CL_SUCCESS || !ev) return err;
    auto& t = dev();
    std::lock_guard lock(t.mu);
    t.pending.push_back({kernel_name(k), event_handle(ev)});
    t.by_name[t.pending.back().name].enqueue_ms += enqueue_ms;
    if (t.pending.size() >= resolve_every) resolve(t);
    return err;
}

void report_device() {
    if (current() != mode::device) return;
    auto& t = dev();
    std::lock_guard lock(t.mu);
    resolve(t);
    if (t.by_name.empty()) return;
    print_table("kernel device times (profiling events, queue not serialized)", t.by_name, true);
    std::fprintf(
        stderr,
        "  busy %.3f ms; between kernels %.3f ms in %ld gaps (%.2f us each); idle (gaps >= %.0f ms) %.3f "
        "ms in %ld\n",
        t.busy_ms, t.gap_ms, t.gaps, t.gaps ? 1e3 * t.gap_ms / t.gaps : 0.0, idle_ms_threshold, t.idle_ms,
        t.idles);
    std::fprintf(stderr,
                 "  gaps (us): <2 %ld, 2-5 %ld, 5-10 %ld, 10-20 %ld, 20-50 %ld, 50-100 %ld, 100-1000 %ld\n",
                 t.gap_hist[0], t.gap_hist[1], t.gap_hist[2], t.gap_hist[3], t.gap_hist[4], t.gap_hist[5],
                 t.gap_hist[6]);
    t.by_name.clear();
    std::fill(std::begin(t.gap_hist), std::end(t.gap_hist), 0L);
    t.busy_ms = t.gap_ms = t.idle_ms = 0;
    t.gaps = t.idles = 0;
    t.last_end = 0;
}

} // namespace pa::ocl::kernel_profile
