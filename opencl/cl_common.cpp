// cl_common.cpp - OpenCL error names and the check() helper.
#include "cl_common.h"

#include <fmt/format.h>

namespace pa::ocl {

const char* cl_error_name(cl_int err) {
    switch (err) {
#define PA_CL_ERR(e)                                                                                         \
    case e:                                                                                                  \
        return #e;
        PA_CL_ERR(CL_SUCCESS)
        PA_CL_ERR(CL_DEVICE_NOT_FOUND)
        PA_CL_ERR(CL_DEVICE_NOT_AVAILABLE)
        PA_CL_ERR(CL_COMPILER_NOT_AVAILABLE)
        PA_CL_ERR(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        PA_CL_ERR(CL_OUT_OF_RESOURCES)
        PA_CL_ERR(CL_OUT_OF_HOST_MEMORY)
        PA_CL_ERR(CL_PROFILING_INFO_NOT_AVAILABLE)
        PA_CL_ERR(CL_MEM_COPY_OVERLAP)
        PA_CL_ERR(CL_IMAGE_FORMAT_MISMATCH)
        PA_CL_ERR(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        PA_CL_ERR(CL_BUILD_PROGRAM_FAILURE)
        PA_CL_ERR(CL_MAP_FAILURE)
        PA_CL_ERR(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        PA_CL_ERR(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        PA_CL_ERR(CL_COMPILE_PROGRAM_FAILURE)
        PA_CL_ERR(CL_LINKER_NOT_AVAILABLE)
        PA_CL_ERR(CL_LINK_PROGRAM_FAILURE)
        PA_CL_ERR(CL_DEVICE_PARTITION_FAILED)
        PA_CL_ERR(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
        PA_CL_ERR(CL_INVALID_VALUE)
        PA_CL_ERR(CL_INVALID_DEVICE_TYPE)
        PA_CL_ERR(CL_INVALID_PLATFORM)
        PA_CL_ERR(CL_INVALID_DEVICE)
        PA_CL_ERR(CL_INVALID_CONTEXT)
        PA_CL_ERR(CL_INVALID_QUEUE_PROPERTIES)
        PA_CL_ERR(CL_INVALID_COMMAND_QUEUE)
        PA_CL_ERR(CL_INVALID_HOST_PTR)
        PA_CL_ERR(CL_INVALID_MEM_OBJECT)
        PA_CL_ERR(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
        PA_CL_ERR(CL_INVALID_IMAGE_SIZE)
        PA_CL_ERR(CL_INVALID_SAMPLER)
        PA_CL_ERR(CL_INVALID_BINARY)
        PA_CL_ERR(CL_INVALID_BUILD_OPTIONS)
        PA_CL_ERR(CL_INVALID_PROGRAM)
        PA_CL_ERR(CL_INVALID_PROGRAM_EXECUTABLE)
        PA_CL_ERR(CL_INVALID_KERNEL_NAME)
        PA_CL_ERR(CL_INVALID_KERNEL_DEFINITION)
        PA_CL_ERR(CL_INVALID_KERNEL)
        PA_CL_ERR(CL_INVALID_ARG_INDEX)
        PA_CL_ERR(CL_INVALID_ARG_VALUE)
        PA_CL_ERR(CL_INVALID_ARG_SIZE)
        PA_CL_ERR(CL_INVALID_KERNEL_ARGS)
        PA_CL_ERR(CL_INVALID_WORK_DIMENSION)
        PA_CL_ERR(CL_INVALID_WORK_GROUP_SIZE)
        PA_CL_ERR(CL_INVALID_WORK_ITEM_SIZE)
        PA_CL_ERR(CL_INVALID_GLOBAL_OFFSET)
        PA_CL_ERR(CL_INVALID_EVENT_WAIT_LIST)
        PA_CL_ERR(CL_INVALID_EVENT)
        PA_CL_ERR(CL_INVALID_OPERATION)
        PA_CL_ERR(CL_INVALID_GL_OBJECT)
        PA_CL_ERR(CL_INVALID_BUFFER_SIZE)
        PA_CL_ERR(CL_INVALID_MIP_LEVEL)
        PA_CL_ERR(CL_INVALID_GLOBAL_WORK_SIZE)
        PA_CL_ERR(CL_INVALID_PROPERTY)
        PA_CL_ERR(CL_INVALID_IMAGE_DESCRIPTOR)
        PA_CL_ERR(CL_INVALID_COMPILER_OPTIONS)
        PA_CL_ERR(CL_INVALID_LINKER_OPTIONS)
        PA_CL_ERR(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef PA_CL_ERR
    case -1001:
        return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
        return "CL_ERROR";
    }
}

pa_status cl_error_status(cl_int err) {
    switch (err) {
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_RESOURCES:
    case CL_OUT_OF_HOST_MEMORY:
        return PA_ERR_OUT_OF_MEMORY;
    default:
        return PA_ERR_DEVICE;
    }
}

void check(cl_int err, std::string_view what) {
    if (err == CL_SUCCESS) return;
    throw error(fmt::format("{}: {} ({})", what, cl_error_name(err), err), cl_error_status(err));
}

} // namespace pa::ocl
