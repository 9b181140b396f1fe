// plugin_loader.h - loads backend plugins (dlopen), checks the versioned C ABI and wraps
// their backends. Failures are one-line pa::error messages naming the file and the cause.
// A loaded plugin's code stays mapped until the process exits (its ops may be referenced by
// tensors and the registry), so backends may outlive the plugin object.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pa/backend.h"
#include "pa/pa_plugin.h"

namespace pa {

class plugin {
public:
    static std::shared_ptr<plugin> load(const std::string& path); // throws pa::error
    const std::string& path() const { return path_; }
    const std::string& name() const { return name_; }
    const std::string& version() const { return version_; }
    int device_count() const;
    std::string describe_device(int index) const;
    // spec: "" (default device), an index "1", or a substring of the device name
    std::unique_ptr<backend> open_backend(const std::string& spec) const; // throws pa::error

private:
    std::string path_, name_, version_;
    pa_plugin_desc desc_{};
};

// The plugin the CLI and tests load by default: $PA_PLUGIN if set, else
// <dir of the running executable>/../lib/libpa-opencl.so.
std::string default_plugin_path();
// Plugins loaded so far in this process (for `pa devices`).
std::vector<std::shared_ptr<plugin>> loaded_plugins();

} // namespace pa
