// device.h - OpenCL platform/device discovery, the capability record and device selection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cl_common.h"

namespace pa::ocl {

// What the backend and kernels need to know about one device.
struct device_caps {
    cl_platform_id platform_id = nullptr;
    cl_device_id device_id = nullptr;
    int index = -1;               // position in list_devices()
    std::string platform;         // platform name
    std::string vendor;           // device vendor
    std::string name;             // device name
    std::string driver_version;   // CL_DRIVER_VERSION
    std::string device_version;   // "OpenCL 3.0 ..."
    std::string opencl_c_version; // "OpenCL C 1.2 ..."
    std::string extensions;
    bool is_gpu = false;
    bool fp16 = false;      // cl_khr_fp16 (arithmetic in half; F16 storage works everywhere)
    bool subgroups = false; // cl_khr_subgroups or cl_intel_subgroups
    bool intel_subgroups = false;
    bool fp64 = false;                    // cl_khr_fp64
    bool correct_div_sqrt = false;        // -cl-fp32-correctly-rounded-divide-sqrt is accepted
    bool nvidia = false;                  // cl_nv_device_attribute_query present
    int nv_cc_major = 0, nv_cc_minor = 0; // NVIDIA compute capability (0 when unknown)
    uint64_t local_mem = 0;               // bytes of __local memory per work-group
    uint64_t global_mem = 0;
    uint64_t max_alloc = 0; // CL_DEVICE_MAX_MEM_ALLOC_SIZE
    uint32_t compute_units = 0;
    size_t max_work_group = 0;
    uint32_t mem_base_align = 0; // CL_DEVICE_MEM_BASE_ADDR_ALIGN in bytes

    bool has_extension(std::string_view ext) const;
    std::string summary() const; // one line: name, platform, driver, memory, capabilities
};

// Every device of every platform, in platform then device order. Empty (never throws) when
// there is no ICD or no platform.
std::vector<device_caps> list_devices();

// Picks a device by spec: "" = $PA_OPENCL_DEVICE if set, else the first GPU, else the first
// device; "N" = index into list_devices(); otherwise a case-insensitive substring of the device
// or platform name. Throws pa::error(PA_ERR_INVALID) naming the spec and the devices seen.
device_caps select_device(std::string_view spec);

} // namespace pa::ocl
