// The module isoinit._core: its attributes, the translation of the kernel's exceptions, and
// every register_*.cpp's functions.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bindings.hpp"

#ifndef ISOINIT_VERSION
#define ISOINIT_VERSION "0+unknown"
#endif
#define ISOINIT_CORE_API 10

namespace isoinit::bind {

RowMatrixXd to_matrix(const DoubleArray& a, const char* name) {
  if (a.ndim() != 2)
    throw std::invalid_argument(std::string(name) + " must be 2-D; got ndim=" + std::to_string(a.ndim()));
  RowMatrixXd m(a.shape(0), a.shape(1));
  std::copy(a.data(), a.data() + a.size(), m.data());
  return m;
}

}  // namespace isoinit::bind

PYBIND11_MODULE(_core, m) {
  m.doc() = "isoinit's compiled kernel (private: use the isoinit package)";
  // isoinit/__init__.py refuses a _core whose version or interface level differs from its own
  // (a stale build): bump ISOINIT_CORE_API with every change of the bound functions.
  m.attr("__version__") = ISOINIT_VERSION;
  m.attr("API") = ISOINIT_CORE_API;
  using namespace isoinit::bind;
  // OpenBLAS runs on the calling thread (one network per OpenMP thread, results that do not
  // depend on the thread count) and Eigen's blocking is fixed (results that do not depend on
  // the CPU's caches)
  isoinit::pin_backends();
  if (const char* simd = std::getenv("ISOINIT_SIMD");
      simd && *simd && std::strcmp(simd, "auto") != 0 && std::strcmp(simd, "off") != 0)
    throw py::value_error(std::string("environment variable ISOINIT_SIMD must be 'auto' or 'off'; got '") + simd + "'");
  // MemoryLimitError -> MemoryError with its message; a bare std::bad_alloc (pybind11 already
  // maps it to MemoryError) is given a message that says what ran out
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const MemoryLimitError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError,
                      "isoinit ran out of memory (std::bad_alloc in the compiled kernel): use fewer runs, a smaller "
                      "batch or narrower layers");
    }
  });
  register_simulate(m);
  register_metrics(m);
  register_random(m);
  register_activations(m);
  register_inputs(m);
  register_constants(m);
  m.def(
      "max_threads", [] { return isoinit::resolve_threads(0); },
      "The number of threads threads=0 runs on: the OpenMP default, at most the processors.");
  m.def("build_info", [] {
    py::dict d;
    d["version"] = ISOINIT_VERSION;
#ifdef ISOINIT_HAVE_OPENMP
    d["openmp"] = true;
#else
    d["openmp"] = false;
#endif
    d["max_threads"] = isoinit::resolve_threads(0);  // as max_threads()
    d["memory"] = available_memory();
    d["eigen"] = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                 std::to_string(EIGEN_MINOR_VERSION);
    d["simd"] = std::string(Eigen::SimdInstructionSetsInUse());  // Eigen's, fixed at compile time
#ifdef ISOINIT_HAVE_LAPACK
    d["lapack"] = isoinit::blas::describe();  // factorizations and large products; CPU kernel picked at load time
#else
    d["lapack"] = py::none();  // Eigen's factorizations and the hand-written loops only
#endif
#ifdef ISOINIT_X86_DISPATCH
    // the hand-written loops (Gram, products) pick AVX2 at run time when the CPU has it; the
    // normals AVX-512 (F + DQ), else AVX2
    d["kernels"] = isoinit::detail::have_avx2() ? "avx2" : "baseline";
    {
      const auto path = isoinit::detail::best_normal_path();
      d["normals"] = path == isoinit::detail::NormalPath::avx512 ? "avx512"
                     : path == isoinit::detail::NormalPath::avx2 ? "avx2"
                                                                 : "scalar";
    }
#else
    d["kernels"] = "baseline";
    d["normals"] = "scalar";
#endif
#if defined(__clang__)
    d["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    d["compiler"] = std::string("gcc ") + __VERSION__;
#else
    d["compiler"] = "unknown";
#endif
    return d;
  });
}
