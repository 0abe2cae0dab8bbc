// Running a call's computation on a worker thread, with the GIL released and Ctrl-C honoured
// (interruptible), and the pool of worker threads behind it (workers.cpp).
#pragma once

#include <pybind11/pybind11.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

namespace py = pybind11;

namespace isoinit::bind {

/// A thread that outlives the call it runs a job for: a worker left idle by an earlier call is
/// reused, so that its OpenMP team (and OpenBLAS's per-thread state) is made once, not once per
/// call (docs/performance.md has what a new team costs). Concurrent calls get a worker each;
/// after a fork the child starts a pool of its own.
struct Worker;
/// An idle worker, or a new one. Call with the GIL held (the GIL guards the pool).
Worker* acquire_worker();
/// Run job() on w (w runs one job at a time; the job must not throw).
void post(Worker* w, std::function<void()> job);
/// Give w back to the pool once its job has finished. Call with the GIL held.
void release_worker(Worker* w);

/// Run f(cancel) with the GIL released and Ctrl-C honoured: the computation runs on a worker
/// thread (acquire_worker; it may start an OpenMP team of its own) while the calling thread
/// waits, waking every 50 ms to take the GIL and call PyErr_CheckSignals(). On a pending signal
/// (or an exception raised by a Python signal handler) it sets `cancel` -- the kernel checks it
/// between layers, runs and matrices and throws isoinit::Cancelled -- waits for the worker and
/// raises the Python exception (KeyboardInterrupt). An exception thrown by f is rethrown on
/// the calling thread as it was. Python objects are never touched by f.
///
/// With `small` (work so short that the hand-over to the worker would dominate it) f runs on
/// the calling thread without the GIL; it must then not start an OpenMP team of more than one
/// thread (callers pass one thread): the calling thread never owns a team, so a process forked
/// after a call can call again (a forked thread's team would wait forever on threads the child
/// does not have).
template <class F>
auto interruptible(F&& f, bool small = false) {
  using R = std::invoke_result_t<F&, const std::atomic<bool>&>;
  std::atomic<bool> cancel{false};
  if (small) {
    py::gil_scoped_release release;
    return f(cancel);
  }
  std::optional<R> out;
  std::exception_ptr error;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false, interrupted = false;
  Worker* worker = acquire_worker();
  {
    py::gil_scoped_release release;
    post(worker, [&] {
      try {
        out.emplace(f(cancel));
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mu);  // held while notifying: the waiter may return and free cv
      done = true;
      cv.notify_one();
    });
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        if (cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return done; })) break;
      }
      py::gil_scoped_acquire acquire;
      if (PyErr_CheckSignals() != 0) {  // the error indicator stays set on this thread
        interrupted = true;
        cancel.store(true);
        break;
      }
    }
    std::unique_lock<std::mutex> lock(mu);  // after an interrupt: the job stops at its next check
    cv.wait(lock, [&] { return done; });
  }
  release_worker(worker);
  if (interrupted) throw py::error_already_set();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

}  // namespace isoinit::bind
