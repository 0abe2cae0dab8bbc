// Gram-matrix metrics (theory.md section 1), computed in float64 from the eigenvalues.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>

#include "types.hpp"

namespace isoinit {

// The one metric list, in the order of every result array (metric k is column k). The enum
// (m_isometry, ...) and the name table are generated from it; gram_metrics() below computes
// each entry, and the Python side reads the names through _core.metric_names().
#define ISOINIT_METRICS(X) \
  X(isometry)              \
  X(gap)                   \
  X(potential)             \
  X(effective_rank)        \
  X(stable_rank)           \
  X(mean_abs_corr)         \
  X(max_abs_corr)          \
  X(condition)

enum Metric : int {
#define ISOINIT_METRIC_ENUM(name) m_##name,
  ISOINIT_METRICS(ISOINIT_METRIC_ENUM)
#undef ISOINIT_METRIC_ENUM
      n_metrics
};

inline const char* const* metric_names() {
#define ISOINIT_METRIC_NAME(name) #name,
  static const char* const names[n_metrics] = {ISOINIT_METRICS(ISOINIT_METRIC_NAME)};
#undef ISOINIT_METRIC_NAME
  return names;
}

/// Eigenvalues (ascending) and eigenvectors of a symmetric Gram matrix. One decomposition
/// serves both the metrics and the Gram sampler's square root.
struct GramEigen {
  VectorXd values;
  MatrixXd vectors;
  bool finite = true;
  /// The Gram these describe is root_scale^2 times the decomposed one (1 unless
  /// kernels::gram_safe had to prescale; the Gram sampler scales its square root by it).
  double root_scale = 1.0;

  void compute(const MatrixXd& g, bool with_vectors) {
    finite = g.allFinite();
    if (!finite) return;
    Eigen::SelfAdjointEigenSolver<MatrixXd> es(g, with_vectors ? Eigen::ComputeEigenvectors : Eigen::EigenvaluesOnly);
    values = es.eigenvalues();
    if (with_vectors) vectors = es.eigenvectors();
  }
};

/// A Gram matrix counts as singular when its smallest eigenvalue is at most
/// n * machine epsilon * its largest: below the eigensolver's backward error, so that
/// eigenvalue's sign and size carry no information.
inline bool is_singular(const VectorXd& ascending) {
  const double n = static_cast<double>(ascending.size());
  const double lmax = ascending(ascending.size() - 1);
  return !(lmax > 0) || ascending(0) <= n * std::numeric_limits<double>::epsilon() * lmax;
}

/// Write the n_metrics metrics of Gram matrix g (with eigenvalues e) to out[0..n_metrics).
inline void gram_metrics(const MatrixXd& g, const GramEigen& e, double* out) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  if (!e.finite) {
    std::fill(out, out + n_metrics, nan);
    return;
  }
  const Eigen::Index n = g.rows();
  const VectorXd& lam = e.values;
  const double trace = g.trace();
  const double lmax = lam(n - 1);
  const bool singular = is_singular(lam) || !(trace > 0);
  if (singular) {
    out[m_isometry] = 0.0;
    out[m_gap] = inf;
    out[m_condition] = inf;
  } else {
    double sum_log = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) sum_log += std::log(lam(i));
    const double gap = std::log(trace / static_cast<double>(n)) - sum_log / static_cast<double>(n);
    out[m_gap] = std::max(gap, 0.0);  // >= 0 by AM-GM; clip rounding below zero
    out[m_isometry] = std::exp(-out[m_gap]);
    out[m_condition] = lmax / lam(0);
  }
  // entropy of the normalized spectrum (negative rounding noise clipped to 0)
  double pos_sum = 0.0;
  for (Eigen::Index i = 0; i < n; ++i) pos_sum += std::max(lam(i), 0.0);
  double entropy = 0.0;
  if (pos_sum > 0) {
    for (Eigen::Index i = 0; i < n; ++i) {
      const double p = std::max(lam(i), 0.0) / pos_sum;
      if (p > 0) entropy -= p * std::log(p);
    }
    out[m_effective_rank] = std::exp(entropy);
    out[m_stable_rank] = trace / lmax;
  } else {
    // the zero Gram (a collapsed representation, every sample at 0) has rank 0: both ranks are
    // 0, the limit of a spectrum shrinking to nothing, never NaN
    out[m_effective_rank] = 0.0;
    out[m_stable_rank] = 0.0;
  }
  // correlations; a zero row is parallel to everything (collapse): |rho| = 1
  double max_abs = 0.0, sum_abs = 0.0;
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = j + 1; i < n; ++i) {
      const double denom = std::sqrt(g(i, i) * g(j, j));
      double r = denom > 0 ? std::fabs(g(i, j)) / denom : 1.0;
      r = std::min(r, 1.0);
      max_abs = std::max(max_abs, r);
      sum_abs += r;
    }
  }
  out[m_max_abs_corr] = max_abs;
  out[m_mean_abs_corr] = sum_abs / (0.5 * static_cast<double>(n) * static_cast<double>(n - 1));
  out[m_potential] = max_abs >= 1.0 ? inf : max_abs / (1.0 - max_abs);
}

}  // namespace isoinit
