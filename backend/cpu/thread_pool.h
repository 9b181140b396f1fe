// thread_pool.h - the worker threads behind cpu::parallel_for. A decoded token runs a few
// hundred small parallel loops; starting threads for each costs more than the work, so workers
// are started once (process-wide, as many as ever requested) and wait for the next loop,
// spinning briefly before they sleep. Work-local buffers (thread_local) then live across loops.
#pragma once

#include <cstdint>
#include <functional>

namespace pa::cpu {

// Runs fn(t) for t in [0, n_tasks) on the calling thread and n_tasks - 1 pool workers and
// returns when all are done. The first exception from any task is rethrown here.
void run_on_pool(int n_tasks, const std::function<void(int)>& fn);

} // namespace pa::cpu
