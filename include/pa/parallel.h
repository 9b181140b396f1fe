// parallel.h - a parallel loop on std::thread (no pool) for CPU reference code and analysis.
#pragma once

#include <cstdint>
#include <functional>

namespace pa {

// Runs fn(begin, end) over [0, n) in chunks of `grain` items, handed out dynamically to up to
// n_threads threads (0 = hardware concurrency). Rethrows the first exception after joining.
void parallel_for(int64_t n, int64_t grain, int n_threads, const std::function<void(int64_t, int64_t)>& fn);

int resolve_threads(int n_threads);

} // namespace pa
