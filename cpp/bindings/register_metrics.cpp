#include "bindings.hpp"

namespace isoinit::bind {

void register_metrics(py::module_& m) {
  m.def("metric_names", [] {
    std::vector<std::string> names;
    for (int k = 0; k < n_metrics; ++k) names.emplace_back(metric_names()[k]);
    return names;
  });
  m.def(
      "gram_metrics",
      [](const DoubleArray& grams) {
        if (grams.ndim() != 3 || grams.shape(1) != grams.shape(2))
          throw std::invalid_argument("grams must have shape (k, n, n)");
        const py::ssize_t k = grams.shape(0), n = grams.shape(1);
        if (n < 2) throw std::invalid_argument("grams must be n x n with n >= 2; got n=" + std::to_string(n));
        std::vector<double> out(static_cast<std::size_t>(k * n_metrics));
        const double* src = grams.data();
        {
          py::gil_scoped_release release;
          // independent matrices: parallel over the stack for large ones; an allocation
          // failure is caught inside the region and rethrown after it
          const bool parallel = k > 1 && n >= 32;
          (void)parallel;
          bool failed = false;
#ifdef ISOINIT_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
#endif
          for (py::ssize_t i = 0; i < k; ++i) {
            try {
              // symmetrize: callers pass Grams computed in floating point
              MatrixXd g = Eigen::Map<const RowMatrixXd>(src + i * n * n, n, n);
              g = 0.5 * (g + g.transpose()).eval();
              GramEigen e;
              e.compute(g, false);
              gram_metrics(g, e, out.data() + i * n_metrics);
            } catch (...) {
#ifdef ISOINIT_HAVE_OPENMP
#pragma omp atomic write
#endif
              failed = true;
            }
          }
          if (failed) throw std::runtime_error("gram_metrics: out of memory");
        }
        return to_array(std::move(out), {k, static_cast<py::ssize_t>(n_metrics)});
      },
      py::arg("grams"), "Metrics of a stack of Gram matrices (k, n, n) -> (k, n_metrics).");
}

}  // namespace isoinit::bind
