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
#include <limits>
#include <type_traits>

#include "kernels.hpp"
#include "types.hpp"

namespace isoinit {

enum class Center { none, layer, batch, mf };
enum class Scale { none, layer, batch, mf };

/// 1 / sqrt(v), and 0 for v == 0: an all-zero row (or column) stays zero instead of
/// becoming 0/0, which is the eps -> 0 limit of x / sqrt(mean(x^2) + eps).
inline double inverse_root(double v) { return v > 0 ? 1.0 / std::sqrt(v) : 0.0; }

/// Var(a) / mean(a)^2 (population variance) of non-negative norms a; 0 when every norm is 0
/// (a collapsed representation: all norms equal). Scale-free, so when the plain formula
/// overflows for finite norms it is recomputed on a / max(a).
inline double relative_variance(const VectorXd& a) {
  const double mean = a.mean();
  const double plain = (a.array() - mean).square().mean() / (mean * mean);
  if (std::isfinite(plain)) return plain;
  const double top = kernels::max_abs(a.data(), static_cast<std::size_t>(a.size()));
  if (top == 0) return 0.0;
  if (!std::isfinite(top)) return plain;
  const VectorXd b = a / top;
  const double mb = b.mean();
  return (b.array() - mb).square().mean() / (mb * mb);
}

namespace detail {

/// The scale-safe recomputation of one row or column v (len entries, stride `stride`) after
/// its plain mean square overflowed or underflowed: returns its root mean square and, when
/// `scale` is true, divides v by sqrt(mean(v^2) + eps), both computed on v / max|v|. Returns
/// NaN if v holds a non-finite value.
template <class T>
inline double rescue_rms(T* v, std::size_t len, std::size_t stride, bool scale, double eps) {
  const double s = kernels::max_abs(v, len, stride);
  if (!std::isfinite(s)) return std::numeric_limits<double>::quiet_NaN();
  if (s == 0) return 0.0;                                                                   // a zero vector: stays zero
  const double ms_s = kernels::scaled_sumsq(v, len, s, stride) / static_cast<double>(len);  // in [1/len, 1]
  if (scale) {
    // x / sqrt(s^2 ms_s + eps) = (x / s) / sqrt(ms_s + eps / s^2)
    const double eps_s = eps == 0 ? 0.0 : (eps / s) / s;
    const double f = inverse_root(ms_s + eps_s);
    for (std::size_t k = 0; k < len; ++k) v[k * stride] = static_cast<T>((static_cast<double>(v[k * stride]) / s) * f);
  }
  return s * std::sqrt(ms_s);
}

/// The mean of a row that the plain sum could not give (inf or NaN): on row / max|row|.
template <class T>
inline double rescue_mean(const T* v, std::size_t len) {
  const double s = kernels::max_abs(v, len);
  if (!std::isfinite(s)) return std::numeric_limits<double>::quiet_NaN();
  double acc = 0.0;
  for (std::size_t k = 0; k < len; ++k) acc += static_cast<double>(v[k]) / s;
  return s * (acc / static_cast<double>(len));
}

}  // namespace detail

/// Centering then scaling of m in place (theory.md section 2); returns the normalization
/// bias Var(a) / mean(a)^2 of the norms a that the scaling step divides by: per-feature root
/// mean squares over the batch for batch scaling, and otherwise the per-sample ones (which
/// layer scaling divides by; Joudaki et al. 2023, section 4).
///
/// The one path: batch centering subtracts the column means first; then a single fused pass
/// per row subtracts the row's shift (its mean for layer centering, the constant for mf),
/// accumulates its mean square and applies layer or mf scaling; batch scaling divides the
/// columns last. The fixed operation order of every step is part of the golden numbers.
///
/// Scale safety and finiteness: a row (column) whose plain mean or mean square overflows to
/// inf, or whose mean square underflows (below kernels::SUMSQ_TINY) although the row is not
/// zero, is recomputed on the row divided by its largest magnitude (detail::rescue_rms), so a
/// representation is never zeroed or lost because of its scale; rows computed the plain way
/// keep their exact bits. `finite` is set to false if m holds a non-finite value on entry (or
/// one made by unscaled centering / mf scaling); m's contents are then unspecified.
template <class T>
inline double normalize(RowMatrix<T>& m, Center c, Scale s, double mf_center, double mf_scale, double eps,
                        bool& finite) {
  finite = true;
  if (c == Center::batch) m.rowwise() -= m.colwise().mean();
  const bool row_center = c == Center::layer || c == Center::mf;
  VectorXd rms(m.rows());
  if (row_center || s != Scale::batch) {
    const auto d = static_cast<std::size_t>(m.cols());
    const double inv_d = 1.0 / static_cast<double>(d);
    // row i's shift, then its sum of squares after the shift (shift 0 leaves the row as is),
    // four rows at a time (kernels::sum4, shift_sumsq4: each row's numbers as one at a time)
    const auto shifts = [&](T* const* rows, int count, double* shift) {
      if (c == Center::layer) {
        if (count == 4)
          kernels::sum4(rows, d, shift);
        else
          for (int k = 0; k < count; ++k) shift[k] = kernels::sum(rows[k], d);
      }
      for (int k = 0; k < count; ++k) {
        shift[k] = c == Center::layer ? shift[k] * inv_d : (c == Center::mf ? mf_center : 0.0);
        if (!std::isfinite(shift[k])) shift[k] = detail::rescue_mean(rows[k], d);  // (NaN again: a non-finite entry)
      }
    };
    // the rest of row i, whose shifted sum of squares is sq: false if its scale is not finite
    const auto finish = [&](Eigen::Index i, double sq) {
      T* row = m.row(i).data();
      const double ms = sq * inv_d;
      if (!kernels::sumsq_in_range(ms) && !(ms == 0 && kernels::max_abs(row, d) == 0)) {
        rms(i) = detail::rescue_rms(row, d, 1, s == Scale::layer, eps);
        if (!std::isfinite(rms(i))) return false;
        if (s == Scale::mf) kernels::shift_scale(row, d, 0.0, 1.0 / mf_scale);
        return true;
      }
      rms(i) = std::sqrt(ms);
      if (s == Scale::layer)
        kernels::shift_scale(row, d, 0.0, inverse_root(ms + eps));
      else if (s == Scale::mf)
        kernels::shift_scale(row, d, 0.0, 1.0 / mf_scale);
      return true;
    };
    for (Eigen::Index i = 0; i < m.rows();) {
      const int count = m.rows() - i >= 4 ? 4 : 1;
      T* rows[4] = {m.row(i).data(), nullptr, nullptr, nullptr};
      for (int k = 1; k < count; ++k) rows[k] = m.row(i + k).data();
      double shift[4], sq[4];
      shifts(rows, count, shift);
      if (count == 4)
        kernels::shift_sumsq4(rows, d, shift, sq);
      else
        sq[0] = kernels::shift_sumsq(rows[0], d, shift[0]);
      for (int k = 0; k < count; ++k)
        if (!finish(i + k, sq[k])) {
          finite = false;
          return std::numeric_limits<double>::quiet_NaN();
        }
      i += count;
    }
    // unscaled (or constant-scaled) output can overflow where its input did not
    if (s == Scale::none || s == Scale::mf) finite = kernels::all_finite(m.data(), static_cast<std::size_t>(m.size()));
  }
  if (s != Scale::batch) return relative_variance(rms);
  // the two column reductions stay separate expressions: Eigen may evaluate them in different
  // orders, and each one's order is part of the golden numbers
  VectorXd col_rms;
  Eigen::RowVectorXd inv;
  if constexpr (std::is_same_v<T, double>) {
    col_rms = (m.array().square().colwise().mean()).sqrt().transpose();
    inv = m.array().square().colwise().mean() + eps;
  } else {  // float32: the column mean squares in float64
    const Eigen::RowVectorXd ms = m.template cast<double>().array().square().colwise().mean();
    col_rms = ms.array().sqrt().transpose();
    inv = ms.array() + eps;
  }
  const auto n = static_cast<std::size_t>(m.rows()), d = static_cast<std::size_t>(m.cols());
  for (Eigen::Index j = 0; j < inv.size(); ++j) {
    const double ms = col_rms(j) * col_rms(j);
    if (!kernels::sumsq_in_range(ms) && !(col_rms(j) == 0 && kernels::max_abs(m.data() + j, n, d) == 0)) {
      col_rms(j) = detail::rescue_rms(m.data() + j, n, d, true, eps);
      if (!std::isfinite(col_rms(j))) {
        finite = false;
        return std::numeric_limits<double>::quiet_NaN();
      }
      inv(j) = 1.0;  // the column is already scaled
    } else {
      inv(j) = inverse_root(inv(j));
    }
  }
  const double bias = relative_variance(col_rms);
  if constexpr (std::is_same_v<T, double>)
    m = m * inv.asDiagonal();
  else
    m = m * inv.template cast<T>().asDiagonal();
  return bias;
}

/// normalize() for callers that check finiteness themselves.
template <class T>
inline double normalize(RowMatrix<T>& m, Center c, Scale s, double mf_center, double mf_scale, double eps) {
  bool finite = true;
  return normalize(m, c, s, mf_center, mf_scale, eps, finite);
}

}  // namespace isoinit
