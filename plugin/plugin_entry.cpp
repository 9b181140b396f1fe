// plugin_entry.cpp - libpa-opencl.so: the C ABI (include/pa/pa_plugin.h) around the OpenCL
// backend. Only pa_plugin_entry is exported; every call catches all exceptions and turns them
// into a pa_status plus message (the plugin never throws into or exits its host).
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include <fmt/format.h>

#include "backend_ocl.h"
#include "device.h"
#include "pa/error.h"
#include "pa/pa_plugin.h"

#include "proxy_sparse_attn/op.h"

namespace {

const pa_host_api* g_host = nullptr; // the host's table, valid while the plugin is loaded

void copy_message(const std::string& msg, char* buf, size_t len) {
    if (!buf || len == 0) return;
    const size_t n = std::min(msg.size(), len - 1);
    std::memcpy(buf, msg.data(), n);
    buf[n] = '\0';
}

// Runs f; exceptions become a status and a message.
template <class F> pa_status guarded(std::string& message, F&& f) noexcept {
    try {
        f();
        return PA_OK;
    } catch (const pa::error& e) {
        message = e.what();
        return e.status();
    } catch (const std::bad_alloc&) {
        message = "out of host memory";
        return PA_ERR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        message = e.what();
        return PA_ERR_DEVICE;
    } catch (...) {
        message = "unknown error";
        return PA_ERR_DEVICE;
    }
}

// Runs f; on failure the message goes to err (at most err_len bytes, NUL-terminated).
template <class F> pa_status guarded_into(char* err, size_t err_len, F&& f) noexcept {
    std::string msg;
    const pa_status s = guarded(msg, std::forward<F>(f));
    if (s != PA_OK) copy_message(msg, err, err_len);
    return s;
}

// One opened backend as the host sees it.
struct backend_box {
    std::unique_ptr<pa::ocl::opencl_backend> be;
    std::string description;
    std::mutex err_mu;
    std::string last_error;

    template <class F> pa_status run(F&& f) noexcept {
        std::string msg;
        const pa_status s = guarded(msg, std::forward<F>(f));
        if (s != PA_OK) {
            std::lock_guard lock(err_mu);
            last_error = std::move(msg);
        }
        return s;
    }
};

backend_box* box(void* ctx) {
    return static_cast<backend_box*>(ctx);
}

const char* be_name(void*) {
    return "opencl";
}
const char* be_description(void* ctx) {
    return box(ctx)->description.c_str();
}

const char* be_last_error(void* ctx) {
    thread_local std::string copy; // stable for the caller even if another thread fails meanwhile
    std::lock_guard lock(box(ctx)->err_mu);
    copy = box(ctx)->last_error;
    return copy.c_str();
}

int be_supports_op(void* ctx, const pa_tensor* node) {
    return box(ctx)->be->supports_op(node) ? 1 : 0;
}

pa_status be_alloc(void* ctx, size_t size, void** handle) {
    return box(ctx)->run([&] { *handle = box(ctx)->be->alloc(size); });
}

void be_release(void* ctx, void* handle) {
    box(ctx)->be->release(handle);
}

pa_status be_write(void* ctx, void* handle, size_t offset, const void* src, size_t size) {
    return box(ctx)->run([&] { box(ctx)->be->write(handle, offset, src, size); });
}

pa_status be_read(void* ctx, void* handle, size_t offset, void* dst, size_t size) {
    return box(ctx)->run([&] { box(ctx)->be->read(handle, offset, dst, size); });
}

pa_status be_compute(void* ctx, pa_tensor* const* nodes, int n_nodes) {
    return box(ctx)->run([&] { box(ctx)->be->compute(nodes, n_nodes); });
}

pa_status be_synchronize(void* ctx) {
    return box(ctx)->run([&] { box(ctx)->be->synchronize(); });
}

pa_status be_set_option(void* ctx, const char* key, const char* value) {
    return box(ctx)->run([&] {
        if (!key || !value) throw pa::error("set_option: key and value must not be NULL", PA_ERR_INVALID);
        box(ctx)->be->set_option(key, value);
    });
}

void be_destroy(void* ctx) {
    std::unique_ptr<backend_box> owned(box(ctx));
    try {
        owned->be.reset();
    } catch (...) { // a failing driver call during teardown must not reach the host
    }
}

int plugin_device_count() {
    try {
        return static_cast<int>(pa::ocl::list_devices().size());
    } catch (...) {
        return 0;
    }
}

pa_status plugin_device_describe(int index, char* buf, size_t buf_len) {
    std::string msg;
    const pa_status s = guarded(msg, [&] {
        const auto devices = pa::ocl::list_devices();
        if (index < 0 || size_t(index) >= devices.size())
            throw pa::error(fmt::format("no OpenCL device {} ({} present)", index, devices.size()),
                            PA_ERR_INVALID);
        msg = devices[size_t(index)].summary();
    });
    copy_message(msg, buf, buf_len);
    return s;
}

pa_status plugin_backend_open(const char* spec, pa_backend_iface* out, char* err, size_t err_len) {
    return guarded_into(err, err_len, [&] {
        if (!out) throw pa::error("backend_open: out must not be NULL", PA_ERR_INVALID);
        auto b = std::make_unique<backend_box>();
        b->be = std::make_unique<pa::ocl::opencl_backend>(spec ? spec : "");
        b->description = b->be->description();
        *out = pa_backend_iface{};
        out->ctx = b.release();
        out->name = be_name;
        out->description = be_description;
        out->last_error = be_last_error;
        out->supports_op = be_supports_op;
        out->alloc = be_alloc;
        out->release = be_release;
        out->write = be_write;
        out->read = be_read;
        out->compute = be_compute;
        out->synchronize = be_synchronize;
        out->set_option = be_set_option;
        out->destroy = be_destroy;
    });
}

void plugin_unload() {
    g_host = nullptr;
}

} // namespace

extern "C" __attribute__((visibility("default"))) pa_status
pa_plugin_entry(const pa_host_api* host, pa_plugin_desc* out, char* err, size_t err_len) {
    return guarded_into(err, err_len, [&] {
        if (!host || !out) throw pa::error("pa_plugin_entry: host and out must not be NULL", PA_ERR_INVALID);
        if (host->abi_version != PA_PLUGIN_ABI_VERSION)
            throw pa::error(fmt::format("libpa-opencl was built for plugin ABI {} but the host speaks ABI {}",
                                        PA_PLUGIN_ABI_VERSION, host->abi_version),
                            PA_ERR_ABI);
        g_host = host;
        pa::proxy::register_op(*host); // the ops this plugin adds
        *out = pa_plugin_desc{};
        out->abi_version = PA_PLUGIN_ABI_VERSION;
        out->name = "opencl";
        out->version = "0.1.0";
        out->device_count = plugin_device_count;
        out->device_describe = plugin_device_describe;
        out->backend_open = plugin_backend_open;
        out->unload = plugin_unload;
    });
}
