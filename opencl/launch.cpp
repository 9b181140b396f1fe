// launch.cpp - kernel argument errors and the enqueue helper.
#include "launch.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#include <fmt/format.h>

namespace pa::ocl {
namespace {

// PA_OPENCL_PROFILE=1: wait for every kernel, add its wall time to its name's total, and print
// the totals (largest first) to stderr at exit. For finding where time goes on a device without
// a vendor profiler; it serializes the queue, so totals are upper bounds of the async run.
// CLBlast's kernels are not launched here and do not appear.
class kernel_profile {
  public:
    static kernel_profile* get() {
        static kernel_profile* p = [] {
            const char* e = std::getenv("PA_OPENCL_PROFILE");
            return e && *e && std::string_view(e) != "0" ? new_profile() : nullptr;
        }();
        return p;
    }
    void add(const std::string& name, double ms) {
        std::lock_guard lock(mu_);
        auto& [total, count] = totals_[name];
        total += ms;
        ++count;
    }
    ~kernel_profile() {
        std::vector<std::pair<std::string, std::pair<double, long>>> rows(totals_.begin(), totals_.end());
        std::sort(rows.begin(), rows.end(),
                  [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
        std::fprintf(stderr, "PA_OPENCL_PROFILE: kernel wall times (queue serialized)\n");
        for (const auto& [name, tc] : rows)
            std::fprintf(stderr, "  %-28s %10.3f ms  %8ld launches\n", name.c_str(), tc.first, tc.second);
    }

  private:
    static kernel_profile* new_profile() {
        static kernel_profile instance; // destroyed at exit, which prints the table
        return &instance;
    }
    std::mutex mu_;
    std::map<std::string, std::pair<double, long>> totals_;
};

std::string kernel_name(cl_kernel k) {
    char name[256] = {};
    if (clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof(name) - 1, name, nullptr) != CL_SUCCESS)
        return "?";
    return name;
}

} // namespace

shape_ref shape_of(const pa_tensor* t) {
    shape_ref s{};
    for (int i = 0; i < 4; ++i) {
        s.ne.s[i] = t->ne[i];
        s.nb.s[i] = t->nb[i];
    }
    return s;
}

void detail::arg_error(cl_kernel k, cl_uint index, cl_int err) {
    check(err, fmt::format("setting argument {} of kernel {}", index, kernel_name(k)));
    throw error("unreachable", PA_ERR_DEVICE);
}

void launch(cl_command_queue q, cl_kernel k, const nd_range& global, const nd_range& local) {
    size_t g[3], l[3];
    const cl_uint dims = global.dims ? global.dims : 1;
    for (cl_uint i = 0; i < dims; ++i) {
        if (global.size[i] == 0) return; // empty tensor: nothing to do
        l[i] = local.dims ? local.size[i] : 1;
        g[i] = round_up(global.size[i], l[i]);
    }
    kernel_profile* prof = kernel_profile::get();
    std::chrono::steady_clock::time_point t0;
    if (prof) {
        clFinish(q);
        t0 = std::chrono::steady_clock::now();
    }
    const cl_int err =
        clEnqueueNDRangeKernel(q, k, dims, nullptr, g, local.dims ? l : nullptr, 0, nullptr, nullptr);
    if (prof && err == CL_SUCCESS) {
        clFinish(q);
        prof->add(kernel_name(k),
                  std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    if (err != CL_SUCCESS)
        check(err, fmt::format("launching kernel {} (global {}x{}x{}, local {}x{}x{})", kernel_name(k), g[0],
                               dims > 1 ? g[1] : 1, dims > 2 ? g[2] : 1, local.dims ? l[0] : 0,
                               local.dims > 1 ? l[1] : 0, local.dims > 2 ? l[2] : 0));
}

} // namespace pa::ocl
