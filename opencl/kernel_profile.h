// kernel_profile.h - PA_OPENCL_PROFILE: where a device's time goes, per kernel name.
//   PA_OPENCL_PROFILE=1       wall time of every launch with the queue drained before and after
//                             it (serialized: totals are upper bounds of the asynchronous run)
//   PA_OPENCL_PROFILE=device  the device's own timestamps (a profiling queue, one event a
//                             launch, nothing waited on): per kernel the time it ran, the idle
//                             time before it and the host's time in the enqueue call, and for
//                             the whole run the gaps between one kernel's end and the next one's
//                             start (a histogram), what a launch costs the device beyond its work
// Both print a table to stderr: at exit (wall) or when the device context goes (device).
// CLBlast's kernels are not launched through launch() and do not appear.
#pragma once

#include <functional>

#include "cl_common.h"

namespace pa::ocl::kernel_profile {

enum class mode { off, wall, device };
mode current(); // read from the environment once

// One launch of k while profiling is on: calls enqueue with the event to fill (nullptr unless
// device mode), records the launch, returns enqueue's status.
cl_int enqueue(cl_command_queue q, cl_kernel k, const std::function<cl_int(cl_event*)>& enqueue);

// Device mode: resolves the recorded events and prints the table (before the queue goes).
void report_device();

} // namespace pa::ocl::kernel_profile
