// Gram-matrix metrics (theory.md section 1), computed in float64 from the Gram matrix and
// the factorizations each one needs (factor.hpp): the Cholesky log-determinant for the
// isometry and gap, the eigenvalues for the ranks and the condition number.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "factor.hpp"
#include "types.hpp"

namespace isoinit {

// The one metric list, in the order of every result array (metric k is column k). The enum
// (m_isometry, ...) and the name table are generated from it; gram_metrics() below computes
// each entry, and the Python side reads the names through _core.metric_names() (and the
// groups below through _core.constants()).
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

/// A set of metrics, bit (1 << m) for Metric m: what a simulation computes (Config::metrics);
/// the others are NaN in its results.
using MetricMask = std::uint32_t;
constexpr MetricMask metric_bit(Metric m) { return MetricMask{1} << static_cast<unsigned>(m); }
constexpr MetricMask all_metrics = (MetricMask{1} << static_cast<unsigned>(n_metrics)) - 1;
/// The metrics that need the eigenvalues of the Gram (an eigendecomposition without vectors).
constexpr MetricMask spectral_metrics =
    metric_bit(m_effective_rank) | metric_bit(m_stable_rank) | metric_bit(m_condition);
/// The metrics that need the log-determinant (a Cholesky factorization).
constexpr MetricMask determinant_metrics = metric_bit(m_isometry) | metric_bit(m_gap);
/// The metrics that need no factorization (the entries of the Gram).
constexpr MetricMask correlation_metrics =
    metric_bit(m_potential) | metric_bit(m_mean_abs_corr) | metric_bit(m_max_abs_corr);

/// Eigenvalues (ascending) and, optionally, eigenvectors of a symmetric Gram matrix (Eigen's
/// solver), for the values-based gram_metrics() below. The run loop uses GramFactor
/// (factor.hpp) instead, which computes only what the wanted metrics and the sampler need.
struct GramEigen {
  VectorXd values;
  MatrixXd vectors;
  bool finite = true;
  /// The Gram these describe is root_scale^2 times the decomposed one (1 unless
  /// kernels::gram_safe had to prescale).
  double root_scale = 1.0;

  void compute(const MatrixXd& g, bool with_vectors) {
    finite = g.allFinite();
    if (!finite) return;
    Eigen::SelfAdjointEigenSolver<MatrixXd> es(g, with_vectors ? Eigen::ComputeEigenvectors : Eigen::EigenvaluesOnly);
    values = es.eigenvalues();
    if (with_vectors) vectors = es.eigenvectors();
  }
};

namespace detail {

/// Effective rank, stable rank and condition number from the ascending eigenvalues lam of a
/// Gram of trace `trace` that is (`singular`) or is not singular.
inline void spectral_values(const VectorXd& lam, double trace, bool singular, MetricMask wanted, double* out) {
  const double inf = std::numeric_limits<double>::infinity();
  const Eigen::Index n = lam.size();
  const double lmax = lam(n - 1);
  if (wanted & metric_bit(m_condition)) out[m_condition] = singular || !(lam(0) > 0) ? inf : lmax / lam(0);
  if (!(wanted & (metric_bit(m_effective_rank) | metric_bit(m_stable_rank)))) return;
  // entropy of the normalized spectrum (negative rounding noise clipped to 0)
  double pos_sum = 0.0;
  for (Eigen::Index i = 0; i < n; ++i) pos_sum += std::max(lam(i), 0.0);
  double entropy = 0.0;
  if (pos_sum > 0) {
    for (Eigen::Index i = 0; i < n; ++i) {
      const double p = std::max(lam(i), 0.0) / pos_sum;
      if (p > 0) entropy -= p * std::log(p);
    }
    if (wanted & metric_bit(m_effective_rank)) out[m_effective_rank] = std::exp(entropy);
    if (wanted & metric_bit(m_stable_rank)) out[m_stable_rank] = trace / lmax;
  } else {
    // the zero Gram (a collapsed representation, every sample at 0) has rank 0: both ranks are
    // 0, the limit of a spectrum shrinking to nothing, never NaN
    if (wanted & metric_bit(m_effective_rank)) out[m_effective_rank] = 0.0;
    if (wanted & metric_bit(m_stable_rank)) out[m_stable_rank] = 0.0;
  }
}

/// Isometry and gap from mean(log lambda) = log det / n of a regular Gram (or of a singular
/// one: isometry 0, gap +inf).
inline void determinant_values(double mean_log, double trace, double n, bool singular, double* out) {
  if (singular) {
    out[m_isometry] = 0.0;
    out[m_gap] = std::numeric_limits<double>::infinity();
    return;
  }
  const double gap = std::log(trace / n) - mean_log;
  out[m_gap] = std::max(gap, 0.0);  // >= 0 by AM-GM; clip rounding below zero
  out[m_isometry] = std::exp(-out[m_gap]);
}

/// Potential and absolute correlations from the entries of g; a zero row is parallel to
/// everything (collapse): |rho| = 1.
inline void correlation_values(const MatrixXd& g, double* out) {
  const double inf = std::numeric_limits<double>::infinity();
  const Eigen::Index n = g.rows();
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

inline double sum_log(const VectorXd& lam) {
  double s = 0.0;
  for (Eigen::Index i = 0; i < lam.size(); ++i) s += std::log(lam(i));
  return s;
}

}  // namespace detail

/// Write the wanted metrics of the Gram matrix g to out[0..n_metrics) (the others are NaN),
/// computing through f (reset on g) only the factorizations they need, at most once each:
/// the eigenvalues for the effective rank, stable rank and condition number; the Cholesky
/// factor for the isometry and gap, whose log-determinant is the sum of the logs of its
/// squared diagonal (from the eigenvalues when the Cholesky fails); nothing for the
/// potential and the correlations. A Gram is singular per GramFactor::singular (the rule of
/// is_singular).
inline void gram_metrics(const MatrixXd& g, GramFactor& f, MetricMask wanted, double* out) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::fill(out, out + n_metrics, nan);
  if (!f.finite) return;
  const Eigen::Index n = g.rows();
  const double trace = g.trace();
  if (wanted & spectral_metrics) f.eigenvalues(g);  // first: then they also decide singularity
  bool singular = false;
  if (wanted & (determinant_metrics | metric_bit(m_condition))) singular = f.singular(g, trace);
  if (wanted & determinant_metrics) {
    double mean_log = 0.0;
    if (!singular)
      mean_log = (f.cholesky(g) ? f.log_det() : detail::sum_log(f.eigenvalues(g))) / static_cast<double>(n);
    detail::determinant_values(mean_log, trace, static_cast<double>(n), singular, out);
  }
  if (wanted & spectral_metrics) detail::spectral_values(f.eigenvalues(g), trace, singular, wanted, out);
  if (wanted & correlation_metrics) detail::correlation_values(g, out);
  for (int k = 0; k < n_metrics; ++k)
    if (!(wanted & metric_bit(static_cast<Metric>(k)))) out[k] = nan;  // computed alongside, not asked for
}

/// Every metric of the Gram matrix g (gram_metrics above with all_metrics).
inline void gram_metrics(const MatrixXd& g, GramFactor& f, double* out) { gram_metrics(g, f, all_metrics, out); }

/// Every metric of the Gram matrix g from its eigenvalues alone (the rule of is_singular;
/// the log-determinant from the eigenvalues).
inline void gram_metrics(const MatrixXd& g, const GramEigen& e, double* out) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (!e.finite) {
    std::fill(out, out + n_metrics, nan);
    return;
  }
  const Eigen::Index n = g.rows();
  const double trace = g.trace();
  const bool singular = is_singular(e.values) || !(trace > 0);
  detail::determinant_values(singular ? 0.0 : detail::sum_log(e.values) / static_cast<double>(n), trace,
                             static_cast<double>(n), singular, out);
  detail::spectral_values(e.values, trace, singular, all_metrics, out);
  detail::correlation_values(g, out);
}

}  // namespace isoinit
