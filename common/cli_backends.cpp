// cli_backends.cpp - --device / --plugin handling shared by every subcommand.
#include <cctype>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "cli.h"
#include "pa/error.h"

namespace pa::cli {

std::vector<backend*> backend_set::order() const {
    std::vector<backend*> v;
    if (accel) v.push_back(accel.get());
    v.push_back(cpu.get());
    return v;
}

std::shared_ptr<plugin> load_plugin(args& a) {
    const std::string path = a.str("--plugin", default_plugin_path());
    return plugin::load(path);
}

backend_set open_backends(args& a, const std::string& default_device) {
    std::string dev = a.str("--device", "");
    if (dev.empty()) {
        const char* env = std::getenv("PA_DEVICE");
        dev = env && *env ? env : default_device;
    }
    backend_set set;
    set.cpu = make_cpu_backend();
    if (dev == "cpu") {
        a.str("--plugin", ""); // accepted and unused
        return set;
    }
    set.plug = load_plugin(a);
    if (set.plug->device_count() == 0) {
        // no OpenCL platform or device: run on the CPU, say so once
        std::fprintf(stderr, "warning: %s found no OpenCL device; running on the CPU backend\n",
                     set.plug->name().c_str());
        return set;
    }
    set.accel = set.plug->open_backend(dev == "opencl" ? "" : dev);
    return set;
}

bool tensor_core_attention(const backend& b) {
    const char* env = std::getenv("PA_MMA");
    if (env && std::string_view(env) == "0") return false;
    const std::string d = b.description();
    const size_t at = d.find("nvidia(sm_");
    return at != std::string::npos && std::atoi(d.c_str() + at + 10) >= 80;
}

} // namespace pa::cli
