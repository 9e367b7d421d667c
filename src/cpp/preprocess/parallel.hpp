// Runs independent tasks on a few native threads. The work items (images, row bands) are coarse, so
// plain std::threads per call cost little next to the work and need no global pool state.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace kuzet::vision {

// Native threads per batch call: KUZET_NUM_THREADS if set (>= 1), else the hardware's.
inline unsigned worker_count() {
  static const unsigned count = [] {
    if (const char* env = std::getenv("KUZET_NUM_THREADS")) {
      const long v = std::strtol(env, nullptr, 10);
      if (v >= 1 && v <= 1024) return static_cast<unsigned>(v);
    }
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1u : n;
  }();
  return count;
}

// Threads to use for a call: max_threads if > 0 (a caller already running on its own worker threads passes 1),
// else worker_count().
inline unsigned threads_for(unsigned max_threads) { return max_threads > 0 ? max_threads : worker_count(); }

// Calls fn(i) for i in [0, n), on up to threads_for(max_threads) threads. Rethrows the first exception.
template <class Fn>
void parallel_for(std::size_t n, Fn&& fn, unsigned max_threads = 0) {
  const std::size_t threads = std::min<std::size_t>(n, threads_for(max_threads));
  if (threads <= 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&]() {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace kuzet::vision
