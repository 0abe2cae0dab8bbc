#include "bindings.hpp"

#ifndef ISOINIT_VERSION
#define ISOINIT_VERSION "0+unknown"
#endif
#define ISOINIT_CORE_API 3

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
  register_simulate(m);
  register_metrics(m);
  register_random(m);
  register_activations(m);
  m.def("build_info", [] {
    py::dict d;
    d["version"] = ISOINIT_VERSION;
#ifdef ISOINIT_HAVE_OPENMP
    d["openmp"] = true;
#else
    d["openmp"] = false;
#endif
    d["max_threads"] = isoinit::resolve_threads(0);
    d["eigen"] = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                 std::to_string(EIGEN_MINOR_VERSION);
    d["simd"] = std::string(Eigen::SimdInstructionSetsInUse());  // Eigen's, fixed at compile time
#ifdef ISOINIT_X86_DISPATCH
    // the hand-written loops (normals, Gram, products) pick AVX2 at run time when the CPU has it
    d["kernels"] = isoinit::detail::have_avx2() ? "avx2" : "baseline";
#else
    d["kernels"] = "baseline";
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
