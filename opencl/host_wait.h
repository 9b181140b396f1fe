// host_wait.h - how the host thread waits for the device ($PA_OPENCL_WAIT). "block" (default):
// OpenCL's blocking calls, where the driver may put the thread to sleep until the device is done;
// on a virtual machine the wake-up costs tens of microseconds, once per decoded token for its
// logits. "spin": the same commands enqueued without blocking and their event polled until done
// (the thread keeps its CPU, as CUDA's default spin-wait does). Read once; any other value is an
// error when the backend opens.
#pragma once

#include <string_view>

#include "cl_common.h"

namespace pa::ocl {

enum class wait_mode { block, spin };
wait_mode host_wait_mode(); // throws pa::error (PA_ERR_INVALID) on a bad $PA_OPENCL_WAIT

// Whether e's command has run (CL_COMPLETE); a failed command throws pa::error("<what>: ...").
bool command_done(cl_event e, std::string_view what);

// Polls e (a command enqueued on q, which is flushed first) until it has run; a failed command
// throws pa::error("<what>: ...").
void spin_until_done(cl_command_queue q, cl_event e, std::string_view what);

// A command the host must see done before it goes on (a read into, or a write from, host memory):
// enqueue(blocking, event) enqueues it, blocking in block mode; in spin mode not blocking, with its
// event, which is then polled. Returns enqueue's status (nothing is waited for when it failed).
template <class Enqueue> cl_int enqueue_waited(cl_command_queue q, Enqueue&& enqueue, std::string_view what) {
    if (host_wait_mode() == wait_mode::block) return enqueue(CL_TRUE, nullptr);
    cl_event ev = nullptr;
    const cl_int err = enqueue(CL_FALSE, &ev);
    if (err != CL_SUCCESS) return err;
    const event_handle owned(ev);
    spin_until_done(q, ev, what);
    return err;
}

// All commands of q done (clFinish, or in spin mode a marker polled first).
void finish_queue(cl_command_queue q, std::string_view what);

} // namespace pa::ocl
