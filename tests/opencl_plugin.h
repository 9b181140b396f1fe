// opencl_plugin.h - the OpenCL plugin's default backend and a CPU backend, opened once per test
// binary (PA_PLUGIN or the build's plugin); skip says why OpenCL is not there.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>

#include "pa/backend.h"
#include "pa/error.h"
#include "pa/plugin_loader.h"

namespace pa::test {

struct plugin_backends {
    std::shared_ptr<pa::plugin> plug;
    std::unique_ptr<pa::backend> ocl, cpu;
    std::string skip; // why OpenCL is not there (empty: it is)
};

inline plugin_backends& opencl_and_cpu() {
    static plugin_backends b = [] {
        plugin_backends x;
        const char* env = std::getenv("PA_PLUGIN");
        try {
            x.plug = pa::plugin::load(env && *env ? env : PA_PLUGIN_PATH);
            if (x.plug->device_count() == 0)
                x.skip = "no OpenCL device";
            else
                x.ocl = x.plug->open_backend("");
        } catch (const pa::error& e) {
            x.skip = e.what();
        }
        x.cpu = pa::make_cpu_backend(2);
        return x;
    }();
    return b;
}

} // namespace pa::test
