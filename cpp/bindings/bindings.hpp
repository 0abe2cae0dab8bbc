// Shared header of the bindings: included first by every register_*.cpp.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "isoinit/simulate.hpp"
#include "workers.hpp"

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

void register_simulate(py::module_& m);
void register_metrics(py::module_& m);
void register_random(py::module_& m);
void register_activations(py::module_& m);
void register_inputs(py::module_& m);
void register_constants(py::module_& m);

}  // namespace isoinit::bind
