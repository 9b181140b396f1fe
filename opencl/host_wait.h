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

// Waits until the command of event e (enqueued on q) has run; a failed command throws
// pa::error("<what>: ..."). With spin, q is flushed and e's status polled.
void wait_for(cl_command_queue q, const event_handle& e, std::string_view what);

// All commands of q done (clFinish, or a marker waited for as wait_for does).
void finish_queue(cl_command_queue q, std::string_view what);

} // namespace pa::ocl
