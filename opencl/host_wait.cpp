// host_wait.cpp - see host_wait.h.
#include "host_wait.h"

#include <cstdlib>
#include <string>
#include <thread>

#include <fmt/format.h>

namespace pa::ocl {
namespace {

wait_mode parse_mode() {
    const char* e = std::getenv("PA_OPENCL_WAIT");
    const std::string_view v = e ? e : "";
    if (v.empty() || v == "block") return wait_mode::block;
    if (v == "spin") return wait_mode::spin;
    throw error(fmt::format("PA_OPENCL_WAIT: '{}' is not 'block' or 'spin'", v), PA_ERR_INVALID);
}

} // namespace

// Done: status CL_COMPLETE; failed: a negative status (the error code).
bool command_done(cl_event e, std::string_view what) {
    cl_int status = CL_QUEUED;
    const cl_int err = clGetEventInfo(e, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr);
    if (err != CL_SUCCESS) check(err, fmt::format("{}: reading the event status", what));
    if (status < 0) check(status, what);
    return status == CL_COMPLETE;
}

void spin_until_done(cl_command_queue q, cl_event e, std::string_view what) {
    check(clFlush(q), fmt::format("{}: flushing the queue", what)); // else the command may never start
    for (unsigned polls = 0; !command_done(e, what); ++polls)
        if (polls > 1000) std::this_thread::yield(); // a long wait: let other threads in
}

wait_mode host_wait_mode() {
    static const wait_mode m = parse_mode(); // a bad value throws again at every call
    return m;
}

void finish_queue(cl_command_queue q, std::string_view what) {
    if (host_wait_mode() == wait_mode::spin) {
        cl_event marker = nullptr;
        check(clEnqueueMarkerWithWaitList(q, 0, nullptr, &marker), fmt::format("{}: a marker", what));
        const event_handle m(marker);
        spin_until_done(q, marker, what);
    }
    check(clFinish(q), std::string(what)); // with spin: returns at once, and reports a failed queue
}

} // namespace pa::ocl
