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
#include "metrics.hpp"

namespace isoinit {

enum class Center { none, layer, batch, mf };
enum class Scale { none, layer, batch, mf };

inline void center_rows(RowMatrixXd& m, Center c, double mf_constant) {
  switch (c) {
    case Center::none:
      return;
    case Center::layer: {
      const auto d = static_cast<std::size_t>(m.cols());
      for (Eigen::Index i = 0; i < m.rows(); ++i) {
        double* row = m.row(i).data();
        kernels::shift_scale(row, d, kernels::sum(row, d) / static_cast<double>(d), 1.0);
      }
      return;
    }
    case Center::batch:
      m.rowwise() -= m.colwise().mean();
      return;
    case Center::mf:
      m.array() -= mf_constant;
      return;
  }
}

/// Normalization bias Var(a) / mean(a)^2 (population variance) of the norms a that the
/// scaling step divides by: per-sample root mean squares for layer scaling, per-feature
/// ones for batch scaling; for `none` and `mf` the per-sample ones that layer scaling would
/// use (Joudaki et al. 2023, section 4).
inline double normalization_bias(const RowMatrixXd& m, Scale s) {
  VectorXd a;
  if (s == Scale::batch)
    a = (m.array().square().colwise().mean()).sqrt().transpose();
  else {
    const auto d = static_cast<std::size_t>(m.cols());
    a.resize(m.rows());
    for (Eigen::Index i = 0; i < m.rows(); ++i)
      a(i) = std::sqrt(kernels::dot(m.row(i).data(), m.row(i).data(), d) / static_cast<double>(d));
  }
  const double mean = a.mean();
  const double var = (a.array() - mean).square().mean();
  return var / (mean * mean);
}

/// 1 / sqrt(v), and 0 for v == 0: an all-zero row (or column) stays zero instead of
/// becoming 0/0, which is the eps -> 0 limit of x / sqrt(mean(x^2) + eps).
inline double inverse_root(double v) { return v > 0 ? 1.0 / std::sqrt(v) : 0.0; }

inline void scale_rows(RowMatrixXd& m, Scale s, double mf_constant, double eps) {
  switch (s) {
    case Scale::none:
      return;
    case Scale::layer: {
      const auto d = static_cast<std::size_t>(m.cols());
      for (Eigen::Index i = 0; i < m.rows(); ++i) {
        double* row = m.row(i).data();
        const double ms = kernels::dot(row, row, d) / static_cast<double>(d);
        kernels::shift_scale(row, d, 0.0, inverse_root(ms + eps));
      }
      return;
    }
    case Scale::batch: {
      Eigen::RowVectorXd inv = m.array().square().colwise().mean() + eps;
      for (Eigen::Index j = 0; j < inv.size(); ++j) inv(j) = inverse_root(inv(j));
      m = m * inv.asDiagonal();
      return;
    }
    case Scale::mf:
      m.array() /= mf_constant;
      return;
  }
}

/// Centering then scaling of m in place (theory.md section 2); returns the normalization
/// bias of the norms the scaling divides by. Row-wise steps run in one fused pass per row.
inline double normalize(RowMatrixXd& m, Center c, Scale s, double mf_center, double mf_scale, double eps) {
  if (c == Center::batch || s == Scale::batch) {
    center_rows(m, c, mf_center);
    const double bias = normalization_bias(m, s);
    scale_rows(m, s, mf_scale, eps);
    return bias;
  }
  const auto d = static_cast<std::size_t>(m.cols());
  const double inv_d = 1.0 / static_cast<double>(d);
  VectorXd rms(m.rows());
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
  const double mean = rms.mean();
  return (rms.array() - mean).square().mean() / (mean * mean);
}

}  // namespace isoinit
