// thread_pool.cpp - see thread_pool.h.
#include "thread_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PA_CPU_RELAX() _mm_pause()
#else
#define PA_CPU_RELAX() std::this_thread::yield()
#endif

namespace pa::cpu {
namespace {

// How long an idle worker keeps polling for the next loop before it sleeps: long enough to
// bridge the gap between the loops of one graph, short enough not to hold a core when idle.
constexpr auto spin_time = std::chrono::microseconds(100);

struct job {
    const std::function<void(int)>* fn = nullptr;
    int n = 0;
    std::atomic<int> next{0}, done{0};
    std::mutex mu;
    std::condition_variable finished;
    std::exception_ptr error;

    // Takes tasks until none are left; true if this call finished the last one.
    void work() {
        for (int t; (t = next.fetch_add(1)) < n;) {
            try {
                (*fn)(t);
            } catch (...) {
                std::lock_guard lock(mu);
                if (!error) error = std::current_exception();
            }
            if (done.fetch_add(1) + 1 == n) {
                std::lock_guard lock(mu);
                finished.notify_all();
            }
        }
    }
};

thread_local bool on_worker = false;

class pool {
  public:
    ~pool() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        wake_.notify_all();
        for (auto& t : workers_)
            t.join();
    }

    void run(int n_tasks, const std::function<void(int)>& fn) {
        std::unique_lock busy(run_mu_, std::try_to_lock);
        if (on_worker || !busy.owns_lock()) { // nested, or another thread has the workers: run here
            for (int t = 0; t < n_tasks; ++t)
                fn(t);
            return;
        }
        grow(n_tasks - 1);
        auto j = std::make_shared<job>();
        j->fn = &fn;
        j->n = n_tasks;
        {
            std::lock_guard lock(mu_);
            current_ = j;
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        j->work();
        {
            std::unique_lock lock(j->mu);
            j->finished.wait(lock, [&] { return j->done.load() == j->n; });
        }
        if (j->error) std::rethrow_exception(j->error);
    }

  private:
    void grow(int n) {
        while (int(workers_.size()) < n)
            workers_.emplace_back([this] { loop(); });
    }

    void loop() {
        on_worker = true;
        uint64_t seen = generation_.load(std::memory_order_acquire);
        for (;;) {
            const auto until = std::chrono::steady_clock::now() + spin_time;
            while (generation_.load(std::memory_order_acquire) == seen &&
                   std::chrono::steady_clock::now() < until)
                for (int i = 0; i < 64; ++i)
                    PA_CPU_RELAX();
            std::shared_ptr<job> j;
            {
                std::unique_lock lock(mu_);
                wake_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
                if (stop_) return;
                seen = generation_.load();
                j = current_;
            }
            j->work();
        }
    }

    std::mutex run_mu_; // one loop at a time uses the workers
    std::mutex mu_;
    std::condition_variable wake_;
    std::atomic<uint64_t> generation_{0};
    std::shared_ptr<job> current_;
    std::vector<std::thread> workers_;
    bool stop_ = false;
};

pool& the_pool() {
    static pool p;
    return p;
}

} // namespace

void run_on_pool(int n_tasks, const std::function<void(int)>& fn) {
    if (n_tasks <= 1) {
        if (n_tasks == 1) fn(0);
        return;
    }
    the_pool().run(n_tasks, fn);
}

} // namespace pa::cpu
