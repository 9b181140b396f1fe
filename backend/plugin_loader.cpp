// plugin_loader.cpp - dlopen, ABI check, and the C++ wrapper around a plugin's C backend.
#include "pa/plugin_loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <mutex>

#include "pa/error.h"
#include "pa/op_registry.h"

namespace pa {
namespace {

std::mutex g_plugins_mu;
std::vector<std::shared_ptr<plugin>>& plugins_list() {
    static std::vector<std::shared_ptr<plugin>> list;
    return list;
}

int32_t host_register_op(const pa_op_desc* desc, char* err, size_t err_len) {
    try {
        if (!desc) throw error("register_op: null descriptor");
        return op_registry::global().add(*desc);
    } catch (const std::exception& e) {
        if (err && err_len) std::snprintf(err, err_len, "%s", e.what());
        return -1;
    }
}

int32_t host_find_op(const char* name) {
    return name ? op_registry::global().find(name) : -1;
}

void host_log(int level, const char* msg) {
    static const char* names[] = {"error", "warning", "info", "debug"};
    if (level < 0 || level > 3) level = 2;
    if (level <= 1 || std::getenv("PA_VERBOSE"))
        std::fprintf(stderr, "%s: %s\n", names[level], msg ? msg : "");
}

const pa_host_api g_host_api = {PA_PLUGIN_ABI_VERSION, host_register_op, host_find_op, host_log};

// The C++ face of a plugin's backend table. Every failed call becomes a pa::error.
class plugin_backend final : public backend {
  public:
    explicit plugin_backend(const pa_backend_iface& iface) : i_(iface) {}
    ~plugin_backend() override {
        if (i_.destroy) i_.destroy(i_.ctx);
    }
    std::string name() const override { return i_.name(i_.ctx); }
    std::string description() const override { return i_.description(i_.ctx); }
    bool supports_op(const tensor* node) const override { return i_.supports_op(i_.ctx, node) != 0; }
    void* alloc(size_t bytes) override {
        void* h = nullptr;
        check(i_.alloc(i_.ctx, bytes, &h), "alloc");
        return h;
    }
    void release(void* h) override { i_.release(i_.ctx, h); }
    void write(void* h, size_t offset, const void* src, size_t bytes) override {
        check(i_.write(i_.ctx, h, offset, src, bytes), "write");
    }
    void read(void* h, size_t offset, void* dst, size_t bytes) override {
        check(i_.read(i_.ctx, h, offset, dst, bytes), "read");
    }
    void compute(std::span<tensor* const> nodes) override {
        check(i_.compute(i_.ctx, nodes.data(), static_cast<int>(nodes.size())), "compute");
    }
    void synchronize() override { check(i_.synchronize(i_.ctx), "synchronize"); }
    void set_option(const std::string& key, const std::string& value) override {
        if (!i_.set_option) backend::set_option(key, value);
        check(i_.set_option(i_.ctx, key.c_str(), value.c_str()), "set_option");
    }

  private:
    void check(pa_status st, const char* what) const {
        if (st == PA_OK) return;
        const char* msg = i_.last_error ? i_.last_error(i_.ctx) : nullptr;
        throw error(fmt::format("{} {}: {}", name(), what, msg && *msg ? msg : "failed"), st);
    }
    pa_backend_iface i_;
};

} // namespace

std::shared_ptr<plugin> plugin::load(const std::string& path) {
    if (!std::filesystem::exists(path)) throw error(fmt::format("plugin '{}': no such file", path));
    // RTLD_NODELETE: op functions of the plugin may be referenced for the life of the process
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!handle) {
        const char* why = dlerror();
        throw error(fmt::format("plugin '{}': cannot load: {}", path, why ? why : "unknown reason"));
    }
    auto entry = reinterpret_cast<pa_plugin_entry_fn>(dlsym(handle, PA_PLUGIN_ENTRY_SYMBOL));
    if (!entry) {
        dlclose(handle);
        throw error(
            fmt::format("plugin '{}': not a pa plugin (no entry symbol '{}')", path, PA_PLUGIN_ENTRY_SYMBOL),
            PA_ERR_ABI);
    }
    auto p = std::make_shared<plugin>();
    char err[512] = {0};
    const pa_status st = entry(&g_host_api, &p->desc_, err, sizeof err);
    if (st == PA_OK && p->desc_.abi_version != PA_PLUGIN_ABI_VERSION) {
        throw error(fmt::format("plugin '{}': built for ABI version {}, this runtime has version {}", path,
                                p->desc_.abi_version, PA_PLUGIN_ABI_VERSION),
                    PA_ERR_ABI);
    }
    if (st != PA_OK)
        throw error(fmt::format("plugin '{}': {}", path, err[0] ? err : "initialisation failed"), st);
    if (!p->desc_.device_count || !p->desc_.device_describe || !p->desc_.backend_open)
        throw error(fmt::format("plugin '{}': incomplete descriptor", path), PA_ERR_ABI);
    p->path_ = path;
    p->name_ = p->desc_.name ? p->desc_.name : "?";
    p->version_ = p->desc_.version ? p->desc_.version : "?";
    std::lock_guard lock(g_plugins_mu);
    plugins_list().push_back(p);
    return p;
}

int plugin::device_count() const {
    return desc_.device_count();
}

std::string plugin::describe_device(int index) const {
    char buf[1024] = {0};
    if (desc_.device_describe(index, buf, sizeof buf) != PA_OK)
        throw error(fmt::format("plugin {}: no device {}", name_, index));
    return buf;
}

std::unique_ptr<backend> plugin::open_backend(const std::string& spec) const {
    pa_backend_iface iface{};
    char err[1024] = {0};
    const pa_status st = desc_.backend_open(spec.c_str(), &iface, err, sizeof err);
    if (st != PA_OK)
        throw error(
            fmt::format("{}: cannot open {}: {}", name_,
                        spec.empty() ? std::string("the default device") : fmt::format("device '{}'", spec),
                        err[0] ? err : "failed"),
            st);
    return std::make_unique<plugin_backend>(iface);
}

std::string default_plugin_path() {
    if (const char* env = std::getenv("PA_PLUGIN"); env && *env) return env;
    char exe[PATH_MAX] = {0};
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        const auto dir = std::filesystem::path(std::string(exe, size_t(n))).parent_path();
        return (dir.parent_path() / "lib" / "libpa-opencl.so").string();
    }
    return "libpa-opencl.so";
}

std::vector<std::shared_ptr<plugin>> loaded_plugins() {
    std::lock_guard lock(g_plugins_mu);
    return plugins_list();
}

} // namespace pa
