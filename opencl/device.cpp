// device.cpp - platform/device discovery and selection.
#include "device.h"

#include <CL/cl_ext.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fmt/format.h>

namespace pa::ocl {
namespace {

// A string property of an OpenCL object (clGetDeviceInfo, clGetPlatformInfo, ...), trailing NULs
// and spaces trimmed; empty when the query fails.
template <class Object, class Info, class Query> std::string info_string(Query query, Object obj, Info what) {
    size_t n = 0;
    if (query(obj, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
    std::string s(n, '\0');
    if (query(obj, what, n, s.data(), nullptr) != CL_SUCCESS) return {};
    while (!s.empty() && (s.back() == '\0' || std::isspace(static_cast<unsigned char>(s.back()))))
        s.pop_back();
    return s;
}

std::string device_string(cl_device_id d, cl_device_info what) {
    return info_string(clGetDeviceInfo, d, what);
}

std::string platform_string(cl_platform_id p, cl_platform_info what) {
    return info_string(clGetPlatformInfo, p, what);
}

template <class T> T device_value(cl_device_id d, cl_device_info what, T fallback = T{}) {
    T v{};
    return clGetDeviceInfo(d, what, sizeof(T), &v, nullptr) == CL_SUCCESS ? v : fallback;
}

std::string lower(std::string_view s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return r;
}

device_caps describe(cl_platform_id p, cl_device_id d, int index) {
    device_caps c;
    c.platform_id = p;
    c.device_id = d;
    c.index = index;
    c.platform = platform_string(p, CL_PLATFORM_NAME);
    c.vendor = device_string(d, CL_DEVICE_VENDOR);
    c.name = device_string(d, CL_DEVICE_NAME);
    c.driver_version = device_string(d, CL_DRIVER_VERSION);
    c.device_version = device_string(d, CL_DEVICE_VERSION);
    c.opencl_c_version = device_string(d, CL_DEVICE_OPENCL_C_VERSION);
    c.extensions = device_string(d, CL_DEVICE_EXTENSIONS);
    c.is_gpu = (device_value<cl_device_type>(d, CL_DEVICE_TYPE) & CL_DEVICE_TYPE_GPU) != 0;
    c.fp16 = c.has_extension("cl_khr_fp16");
    c.intel_subgroups = c.has_extension("cl_intel_subgroups");
    c.subgroups = c.intel_subgroups || c.has_extension("cl_khr_subgroups");
    c.fp64 = c.has_extension("cl_khr_fp64");
    c.correct_div_sqrt = (device_value<cl_device_fp_config>(d, CL_DEVICE_SINGLE_FP_CONFIG) &
                          CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
    c.nvidia = c.has_extension("cl_nv_device_attribute_query");
    if (c.nvidia) {
        c.nv_cc_major = int(device_value<cl_uint>(d, CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV));
        c.nv_cc_minor = int(device_value<cl_uint>(d, CL_DEVICE_COMPUTE_CAPABILITY_MINOR_NV));
    }
    c.local_mem = device_value<cl_ulong>(d, CL_DEVICE_LOCAL_MEM_SIZE);
    c.global_mem = device_value<cl_ulong>(d, CL_DEVICE_GLOBAL_MEM_SIZE);
    c.max_alloc = device_value<cl_ulong>(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
    c.compute_units = device_value<cl_uint>(d, CL_DEVICE_MAX_COMPUTE_UNITS);
    c.max_work_group = device_value<size_t>(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, size_t(1));
    c.mem_base_align = device_value<cl_uint>(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN, cl_uint(1024)) / 8;
    return c;
}

} // namespace

bool device_caps::has_extension(std::string_view ext) const {
    size_t pos = 0;
    while ((pos = extensions.find(ext, pos)) != std::string::npos) { // whole words only
        const size_t end = pos + ext.size();
        const bool start_ok = pos == 0 || extensions[pos - 1] == ' ';
        const bool end_ok = end == extensions.size() || extensions[end] == ' ';
        if (start_ok && end_ok) return true;
        pos = end;
    }
    return false;
}

std::string device_caps::summary() const {
    std::string caps;
    if (fp16) caps += " fp16";
    if (subgroups) caps += intel_subgroups ? " subgroups(intel)" : " subgroups";
    if (nvidia) caps += fmt::format(" nvidia(sm_{}{})", nv_cc_major, nv_cc_minor);
    return fmt::format(
        "{} | {} | {} | driver {} | {} | {} CUs, {} MiB global, {} MiB max alloc, {} KiB local |{}", name,
        vendor, platform, driver_version, opencl_c_version, compute_units, global_mem >> 20, max_alloc >> 20,
        local_mem >> 10, caps.empty() ? " -" : caps);
}

std::vector<device_caps> list_devices() {
    std::vector<device_caps> out;
    cl_uint np = 0;
    if (clGetPlatformIDs(0, nullptr, &np) != CL_SUCCESS || np == 0) return out; // no ICD or no platform
    std::vector<cl_platform_id> platforms(np);
    if (clGetPlatformIDs(np, platforms.data(), nullptr) != CL_SUCCESS) return out;
    for (cl_platform_id p : platforms) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &nd) != CL_SUCCESS || nd == 0) continue;
        std::vector<cl_device_id> devices(nd);
        if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, devices.data(), nullptr) != CL_SUCCESS) continue;
        for (cl_device_id d : devices)
            out.push_back(describe(p, d, int(out.size())));
    }
    return out;
}

device_caps select_device(std::string_view spec) {
    std::string want(spec);
    if (want.empty()) {
        if (const char* env = std::getenv("PA_OPENCL_DEVICE"); env && *env) want = env;
    }
    std::vector<device_caps> devs = list_devices();
    if (devs.empty())
        throw error("no OpenCL device found (no platform installed, or no device on it)", PA_ERR_INVALID);
    if (want.empty()) {
        for (const device_caps& d : devs)
            if (d.is_gpu) return d;
        return devs.front();
    }
    const bool numeric =
        std::all_of(want.begin(), want.end(), [](unsigned char c) { return std::isdigit(c); });
    if (numeric) {
        const size_t i = want.size() > 9 ? devs.size() : size_t(std::stoul(want));
        if (i < devs.size()) return devs[i];
    } else {
        const std::string w = lower(want);
        for (const device_caps& d : devs)
            if (lower(d.name).find(w) != std::string::npos) return d;
        for (const device_caps& d : devs)
            if (lower(d.platform).find(w) != std::string::npos) return d;
    }
    std::string seen;
    for (const device_caps& d : devs)
        seen += fmt::format("{}{}: {}", seen.empty() ? "" : ", ", d.index, d.name);
    throw error(fmt::format("no OpenCL device matches '{}' (devices: {})", want, seen), PA_ERR_INVALID);
}

} // namespace pa::ocl
