// program_text.cpp - see program_text.h.
#include "program_text.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <fmt/format.h>

#include "pa/error.h"

namespace pa::proxy::embedded {
#include "proxy_kernels.h"
} // namespace pa::proxy::embedded

namespace pa::proxy {
namespace {

std::string_view embedded_text(std::string_view name) {
    for (const auto& s : embedded::pa_proxy_sources)
        if (name == s.name) return s.text;
    throw error(fmt::format("proxy_sparse_attn: no embedded kernel file {}", name), PA_ERR_DEVICE);
}

} // namespace

pa::ocl::program_source program_text(std::initializer_list<std::string_view> front, std::string_view file) {
    std::string text;
    for (std::string_view f : front) {
        text += embedded_text(f);
        text += "\n";
    }
    text += "#line 1\n";
    text += embedded_text(file);
    return {std::string(file), std::move(text), false};
}

const pa::ocl::program_source& shared_program_text(std::initializer_list<std::string_view> front,
                                                   std::string_view file) {
    static std::mutex mu;
    static std::map<std::string, std::unique_ptr<const pa::ocl::program_source>> kept;
    std::string key;
    for (std::string_view f : front)
        key += fmt::format("{}+", f);
    key += file;
    std::lock_guard lock(mu);
    auto& slot = kept[key];
    if (!slot)
        slot = std::make_unique<const pa::ocl::program_source>(pa::ocl::hashed(program_text(front, file)));
    return *slot;
}

const pa::ocl::program_source& proxy_program(std::string_view file) {
    return shared_program_text({"proxy_det.cl", "proxy_common.cl"}, file);
}

const pa::ocl::program_source& estimator_program(std::string_view file) {
    return shared_program_text({"proxy_det.cl", "proxy_common.cl", "estimator_common.cl"}, file);
}

} // namespace pa::proxy
