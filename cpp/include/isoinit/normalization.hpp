// Centering and scaling: where layer, batch, RMS and mean-field normalization are computed.
//
// theory.md section 2: normalization = a centering step (none | layer: subtract each row's
// mean over features | batch: subtract each column's mean over the batch | mf: subtract a
// constant) followed by a scaling step (none | layer: divide each row by its root mean
// square | batch: divide each column by its root mean square over the batch | mf: divide
// by a constant). Layer norm = layer + layer, RMS norm = none + layer, batch norm = batch +
// batch. Rows are samples (n), columns features (d).
#pragma once

#include <Eigen/Dense>
#include <cmath>

#include "kernels.hpp"
#include "types.hpp"

namespace isoinit {

enum class Center { none, layer, batch, mf };
enum class Scale { none, layer, batch, mf };

/// 1 / sqrt(v), and 0 for v == 0: an all-zero row (or column) stays zero instead of
/// becoming 0/0, which is the eps -> 0 limit of x / sqrt(mean(x^2) + eps).
inline double inverse_root(double v) { return v > 0 ? 1.0 / std::sqrt(v) : 0.0; }

/// Var(a) / mean(a)^2 (population variance) of positive norms a.
inline double relative_variance(const VectorXd& a) {
  const double mean = a.mean();
  return (a.array() - mean).square().mean() / (mean * mean);
}

/// Centering then scaling of m in place (theory.md section 2); returns the normalization
/// bias Var(a) / mean(a)^2 of the norms a that the scaling step divides by: per-feature root
/// mean squares over the batch for batch scaling, and otherwise the per-sample ones (which
/// layer scaling divides by; Joudaki et al. 2023, section 4).
///
/// The one path: batch centering subtracts the column means first; then a single fused pass
/// per row subtracts the row's shift (its mean for layer centering, the constant for mf),
/// accumulates its mean square and applies layer or mf scaling; batch scaling divides the
/// columns last. The fixed operation order of every step is part of the golden numbers.
inline double normalize(RowMatrixXd& m, Center c, Scale s, double mf_center, double mf_scale, double eps) {
  if (c == Center::batch) m.rowwise() -= m.colwise().mean();
  const bool row_center = c == Center::layer || c == Center::mf;
  VectorXd rms(m.rows());
  if (row_center || s != Scale::batch) {
    const auto d = static_cast<std::size_t>(m.cols());
    const double inv_d = 1.0 / static_cast<double>(d);
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      double* row = m.row(i).data();
      const double shift = c == Center::layer ? kernels::sum(row, d) * inv_d : (c == Center::mf ? mf_center : 0.0);
      const double ms = kernels::shift_sumsq(row, d, shift) * inv_d;  // shift 0 leaves the row as is
      rms(i) = std::sqrt(ms);
      if (s == Scale::layer)
        kernels::shift_scale(row, d, 0.0, inverse_root(ms + eps));
      else if (s == Scale::mf)
        kernels::shift_scale(row, d, 0.0, 1.0 / mf_scale);
    }
  }
  if (s != Scale::batch) return relative_variance(rms);
  // the two column reductions stay separate expressions: Eigen may evaluate them in different
  // orders, and each one's order is part of the golden numbers
  const VectorXd col_rms = (m.array().square().colwise().mean()).sqrt().transpose();
  const double bias = relative_variance(col_rms);
  Eigen::RowVectorXd inv = m.array().square().colwise().mean() + eps;
  for (Eigen::Index j = 0; j < inv.size(); ++j) inv(j) = inverse_root(inv(j));
  m = m * inv.asDiagonal();
  return bias;
}

}  // namespace isoinit
