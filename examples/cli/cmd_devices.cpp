// pa devices: platforms, devices and capabilities seen by the plugin; the loaded plugins; ops.
#include <fmt/format.h>

#include "cli.h"
#include "pa/op_registry.h"

namespace {

int run_devices(int argc, char** argv) {
    pa::cli::args a(
        argc, argv,
        std::string(
            "usage: pa devices [--plugin PATH] [--json]\n"
            "Lists the OpenCL devices the plugin sees, the loaded plugins and the registered ops.\n") +
            pa::cli::device_options);
    if (a.help()) return a.print_usage();
    const bool json = a.flag("--json");
    auto plug = pa::cli::load_plugin(a);
    a.finish();
    const int n = plug->device_count();
    std::vector<std::string> devs;
    for (int i = 0; i < n; ++i)
        devs.push_back(plug->describe_device(i));
    std::vector<std::string> ops;
    for (const auto& o : pa::op_registry::global().list())
        ops.push_back(o.name);
    if (json) {
        fmt::print(
            "{{\"plugin\": {{\"path\": \"{}\", \"name\": \"{}\", \"version\": \"{}\"}}, \"devices\": [",
            plug->path(), plug->name(), plug->version());
        for (int i = 0; i < n; ++i)
            fmt::print("{}{{\"index\": {}, \"description\": \"{}\"}}", i ? ", " : "", i, devs[i]);
        fmt::print("], \"ops\": [");
        for (size_t i = 0; i < ops.size(); ++i)
            fmt::print("{}\"{}\"", i ? ", " : "", ops[i]);
        fmt::print("]}}\n");
        return 0;
    }
    fmt::print("plugin: {} {} ({})\n", plug->name(), plug->version(), plug->path());
    if (n == 0) fmt::print("  no OpenCL device found (the CPU backend is used)\n");
    for (int i = 0; i < n; ++i)
        fmt::print("  device {}: {}\n", i, devs[i]);
    fmt::print("backends: opencl ({} device{}), cpu (reference)\n", n, n == 1 ? "" : "s");
    fmt::print("ops: {}\n", fmt::join(ops, " "));
    return 0;
}

} // namespace

PA_CLI_COMMAND(devices, "list OpenCL platforms/devices, capabilities, plugins and ops", run_devices);
