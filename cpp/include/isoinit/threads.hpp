// Threads and cancellation: how many threads the kernel uses, its one parallel loop, and how
// a caller stops it.
//
// The kernel's parallelism is independent tasks (the runs of a simulation, the Grams of a
// stack) on OpenMP threads, one task per thread at a time; without ISOINIT_HAVE_OPENMP every
// loop runs on the calling thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <limits>
#include <stdexcept>

#ifdef ISOINIT_HAVE_OPENMP
#include <omp.h>
#endif

namespace isoinit {

/// Thrown by the kernel when its cancellation flag is set (the caller asked it to stop).
struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("isoinit: computation cancelled") {}
};

/// Number of threads the kernel uses for `requested` threads (<= 0: the OpenMP default) and
/// `tasks` independent tasks (runs): never more than the tasks, nor than the processors
/// OpenMP sees (omp_get_num_procs), nor less than 1. Without OpenMP, 1.
inline int resolve_threads(int requested, std::int64_t tasks = std::numeric_limits<std::int64_t>::max()) {
#ifdef ISOINIT_HAVE_OPENMP
  const int procs = std::max(1, omp_get_num_procs());
  std::int64_t t = requested > 0 ? requested : omp_get_max_threads();
  t = std::min<std::int64_t>({t, procs, std::max<std::int64_t>(tasks, 1)});
  return static_cast<int>(std::max<std::int64_t>(t, 1));
#else
  (void)requested;
  (void)tasks;
  return 1;
#endif
}

namespace detail {

inline void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
}

/// body(i) for i in [0, count), on `threads` OpenMP threads when `parallel` (dynamic, one
/// index at a time), after a cancellation check each. An exception of a body (or the
/// cancellation) is caught inside the parallel region, the remaining indices are skipped, and
/// the first exception is rethrown, as it was, after the region.
template <class F>
inline void parallel_for(std::int64_t count, int threads, bool parallel, const std::atomic<bool>* cancel, F&& body) {
  (void)threads;
  (void)parallel;
  std::exception_ptr error;
  std::atomic<bool> failed{false};
#ifdef ISOINIT_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) if (parallel) num_threads(threads)
#endif
  for (std::int64_t i = 0; i < count; ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    try {
      check_cancel(cancel);
      body(i);
    } catch (...) {
#ifdef ISOINIT_HAVE_OPENMP
#pragma omp critical(isoinit_error)
#endif
      {
        if (!error) error = std::current_exception();
      }
      failed.store(true, std::memory_order_relaxed);
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace detail

}  // namespace isoinit
