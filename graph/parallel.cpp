// parallel.cpp - dynamic chunked parallel loop on std::thread.
#include "pa/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace pa {

int resolve_threads(int n_threads) {
    if (n_threads > 0) return n_threads;
    const unsigned hw = std::thread::hardware_concurrency();
    return hw ? int(hw) : 1;
}

void parallel_for(int64_t n, int64_t grain, int n_threads, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    const int64_t chunks = (n + grain - 1) / grain;
    const int nt = int(std::min<int64_t>(resolve_threads(n_threads), chunks));
    if (nt <= 1) {
        fn(0, n);
        return;
    }
    std::atomic<int64_t> next{0};
    std::exception_ptr first;
    std::mutex mu;
    auto worker = [&] {
        for (;;) {
            const int64_t c = next.fetch_add(1);
            if (c >= chunks) return;
            try {
                fn(c * grain, std::min(n, (c + 1) * grain));
            } catch (...) {
                std::lock_guard lock(mu);
                if (!first) first = std::current_exception();
                next.store(chunks); // stop handing out work
            }
        }
    };
    std::vector<std::thread> threads;
    threads.reserve(size_t(nt - 1));
    for (int i = 1; i < nt; ++i)
        threads.emplace_back(worker);
    worker();
    for (auto& t : threads)
        t.join();
    if (first) std::rethrow_exception(first);
}

} // namespace pa
