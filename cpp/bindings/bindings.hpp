// Shared header of the bindings: included first by every register_*.cpp.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "isoinit/simulate.hpp"

namespace py = pybind11;

namespace isoinit::bind {

/// A C-contiguous float64 array, converting whatever NumPy can convert.
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

/// Move a std::vector into a NumPy array of the given shape without copying.
template <class T>
py::array_t<T> to_array(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* owner = new std::vector<T>(std::move(v));
  py::capsule free_when_done(owner, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, owner->data(), free_when_done);
}

/// Copy a 2-D C-contiguous array into a row-major Eigen matrix, checking its shape.
RowMatrixXd to_matrix(const DoubleArray& a, const char* name);

/// Raised (as Python's MemoryError, with this message) when a call would need more memory
/// than the machine has, or ran out of it.
struct MemoryLimitError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Physical memory of the machine in bytes (and at most the address-space limit, if one is
/// set); +inf if unknown.
double available_memory();

/// "8.0 TB": a byte count for messages.
std::string format_bytes(double bytes);

/// Throw MemoryLimitError "<what> (about <total> in all); this machine has <available> of memory" if
/// `total` bytes exceed the available memory. `what` names the parameter responsible.
void require_memory(double total, const std::string& what);

/// A thread that outlives the call it runs a job for: a worker left idle by an earlier call is
/// reused, so that its OpenMP team (and OpenBLAS's per-thread state) is made once, not once per
/// call (a new thread costs a new team: 1 to 10 ms per call on 2 threads, measured).
/// Concurrent calls get a worker each; after a fork the child starts a pool of its own.
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
/// With `small` (work of about a millisecond or less, where the hand-over to the worker, 20 to
/// 40 us, would dominate) f runs on the calling thread without the GIL; it must then not start
/// an OpenMP team of more than one thread (callers pass one thread): the calling thread never
/// owns a team, so a process forked after a call can call again (a forked thread's team would
/// wait forever on threads the child does not have).
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

void register_simulate(py::module_& m);
void register_metrics(py::module_& m);
void register_random(py::module_& m);
void register_activations(py::module_& m);
void register_inputs(py::module_& m);

}  // namespace isoinit::bind
