#include <algorithm>

#include "bindings.hpp"

namespace isoinit::bind {

namespace {

/// The metrics of a stack of Grams (k, n, n) into metrics (k, n_metrics) and, when
/// `extremes` is given, (k, 2): each Gram's smallest eigenvalue and largest |eigenvalue|
/// (the ones its metrics were computed from, so a caller's positive semi-definiteness check
/// needs no second eigendecomposition).
std::vector<double> stack_metrics(const DoubleArray& grams, std::vector<double>* extremes) {
  if (grams.ndim() != 3 || grams.shape(1) != grams.shape(2))
    throw std::invalid_argument("grams must have shape (k, n, n)");
  const py::ssize_t k = grams.shape(0), n = grams.shape(1);
  if (n < 2) throw std::invalid_argument("grams must be n x n with n >= 2; got n=" + std::to_string(n));
  // working set per thread: a symmetrized copy, its Cholesky factor, one workspace, the
  // eigensolver's storage
  const int nt = resolve_threads(0, k);
  const double per = 5.0 * static_cast<double>(n) * static_cast<double>(n) * sizeof(double);
  require_memory(nt * per + static_cast<double>(k) * (n_metrics + 2) * sizeof(double),
                 "gram_metrics on " + std::to_string(k) + " matrices of size " + std::to_string(n) + " x " +
                     std::to_string(n) + " (" + format_bytes(per) + " of workspace per matrix, on " +
                     std::to_string(nt) + " threads)");
  const double* src = grams.data();
  if (extremes) extremes->assign(static_cast<std::size_t>(2 * k), 0.0);
  double* ext = extremes ? extremes->data() : nullptr;
  // small stacks run on the calling thread, on one thread (bind::interruptible)
  const bool small =
      static_cast<double>(k) * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) <= 1e6;
  return interruptible(
      [&](const std::atomic<bool>& cancel) {
        std::vector<double> res(static_cast<std::size_t>(k * n_metrics));
        // independent matrices: parallel over the stack for large ones
        detail::parallel_for(k, nt, !small && k > 1 && n >= 32, &cancel, [&](std::int64_t i) {
          // symmetrize: callers pass Grams computed in floating point
          MatrixXd g = Eigen::Map<const RowMatrixXd>(src + i * n * n, n, n);
          g = 0.5 * (g + g.transpose()).eval();
          GramFactor f;
          f.reset(g);
          gram_metrics(g, f, all_metrics, res.data() + i * n_metrics);
          if (ext) {
            const VectorXd& lam = f.eigenvalues(g);  // ascending; computed for the ranks above
            ext[2 * i] = lam(0);
            ext[2 * i + 1] = std::max(std::abs(lam(0)), std::abs(lam(n - 1)));
          }
        });
        return res;
      },
      small);
}

}  // namespace

void register_metrics(py::module_& m) {
  m.def(
      "gram",
      [](const DoubleArray& x) {
        if (x.ndim() != 3) throw std::invalid_argument("x must have shape (k, n, d)");
        const py::ssize_t k = x.shape(0), n = x.shape(1), d = x.shape(2);
        if (n < 1 || d < 1) throw std::invalid_argument("x must have n >= 1 rows and d >= 1 columns");
        require_memory(static_cast<double>(k) * static_cast<double>(n) * static_cast<double>(n) * sizeof(double),
                       "the Grams of " + std::to_string(k) + " matrices of " + std::to_string(n) + " rows");
        std::vector<double> out(static_cast<std::size_t>(k * n * n));
        {
          py::gil_scoped_release release;
          pin_backends();
          RowMatrixXd a(n, d);
          MatrixXd g;
          for (py::ssize_t i = 0; i < k; ++i) {
            std::copy(x.data() + i * n * d, x.data() + (i + 1) * n * d, a.data());
            kernels::gram(a, g);  // symmetric: g = g^T exactly
            std::copy(g.data(), g.data() + n * n, out.begin() + i * n * n);
          }
        }
        return to_array(std::move(out), {k, n, n});
      },
      py::arg("x"),
      "The Grams X X^T / d of a stack of representations (k, n, d) -> (k, n, n), as the kernel computes them.");
  m.def("metric_names", [] {
    std::vector<std::string> names;
    for (int k = 0; k < n_metrics; ++k) names.emplace_back(metric_names()[k]);
    return names;
  });
  m.def(
      "gram_metrics",
      [](const DoubleArray& grams) {
        return to_array(stack_metrics(grams, nullptr), {grams.shape(0), static_cast<py::ssize_t>(n_metrics)});
      },
      py::arg("grams"), "Metrics of a stack of Gram matrices (k, n, n) -> (k, n_metrics).");
  m.def(
      "gram_metrics_extremes",
      [](const DoubleArray& grams) {
        std::vector<double> ext;
        auto res = to_array(stack_metrics(grams, &ext), {grams.shape(0), static_cast<py::ssize_t>(n_metrics)});
        return py::make_tuple(std::move(res), to_array(std::move(ext), {grams.shape(0), 2}));
      },
      py::arg("grams"),
      "gram_metrics and, per Gram, (smallest eigenvalue, largest |eigenvalue|) -> ((k, n_metrics), (k, 2)).");
}

}  // namespace isoinit::bind
