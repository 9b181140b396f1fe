// kernel_profile.h - PA_OPENCL_PROFILE: where a device's time goes, per kernel name.
//   PA_OPENCL_PROFILE=1       wall time of every launch with the queue drained before and after
//                             it (serialized: totals are upper bounds of the asynchronous run)
//   PA_OPENCL_PROFILE=device  the device's own timestamps (a profiling queue, one event a
//                             launch, nothing waited on): per kernel the time it ran, and for
//                             the whole run the time between one kernel's end and the next one's
//                             start, which is what a launch costs the device beyond its work
// Both print a table to stderr: at exit (wall) or when the device context goes (device).
// CLBlast's kernels are not launched through launch() and do not appear.
#pragma once

#include "cl_common.h"

namespace pa::ocl::kernel_profile {

enum class mode { off, wall, device };
mode current(); // read from the environment once

// Around one clEnqueueNDRangeKernel of launch(): before() returns the event pointer to pass
// (nullptr unless device mode), after() records the launch.
cl_event* before(cl_command_queue q);
void after(cl_command_queue q, cl_kernel k, cl_int enqueue_status);

// Device mode: resolves the recorded events and prints the table (the queue must still live).
void report_device(cl_command_queue q);

} // namespace pa::ocl::kernel_profile
