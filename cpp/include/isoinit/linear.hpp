// The linear map H = gain * X W + 1 b^T, by two samplers (theory.md sections 2 and 3).
//
// * weights: draw W (d_in x d_out) explicitly, then multiply. Needed to reuse a network on
//   another batch and cheaper when n > d.
// * gram: draw H directly from the n x n Gram G = X X^T / d_in of the block input. For
//   Gaussian W, H ~ gain * R Z with R R^T = G and Z an n x d_out standard normal matrix; for
//   Haar semi-orthogonal W, H ~ gain * sqrt(d_in) * c * R F^T with F the first d_out rows of a
//   uniformly random orthonormal m x n frame (m = max(d_in, d_out), c = sqrt(max(1, d_out/d_in))).
//   Both are exact in distribution for the whole batch jointly, for any square root R (two
//   square roots differ by an orthogonal factor, R' = R Q, which the law of Z and of F absorbs):
//   R = L is the Cholesky factor of G, and for a singular (collapsed) G, where the Cholesky
//   fails, the semidefinite Cholesky, whose columns at rounding-level pivots are 0 (GramFactor).
#pragma once

#include <Eigen/Dense>
#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "factor.hpp"
#include "kernels.hpp"
#include "lapack.hpp"
#include "random.hpp"
#include "types.hpp"

namespace isoinit {

enum class WeightKind { gaussian, orthogonal };
enum class Sampler { gram, weights };

/// Fill a row-major matrix with standard normals from a stream.
inline void fill_normal(RowMatrixXd& m, Stream& s) { s.fill_normal(m.data(), static_cast<std::size_t>(m.size())); }

/// Haar-distributed orthonormal columns: Q of the QR decomposition of a rows x cols
/// (rows >= cols) Gaussian matrix, columns multiplied by the signs of R's diagonal.
inline MatrixXd haar_frame(Eigen::Index rows, Eigen::Index cols, Stream& s) {
  RowMatrixXd a(rows, cols);
  fill_normal(a, s);
  const MatrixXd am = a;
  Eigen::HouseholderQR<MatrixXd> qr(am);
  MatrixXd q = qr.householderQ() * MatrixXd::Identity(rows, cols);
  const MatrixXd& r = qr.matrixQR();
  for (Eigen::Index j = 0; j < cols; ++j)
    if (r(j, j) < 0) q.col(j) *= -1.0;
  return q;
}

/// The weight matrix of one block, W (d_in x d_out), times `gain`: iid N(0, gain^2/d_in), or
/// Haar semi-orthogonal with E[W W^T] = gain^2 (d_out/d_in) I (the Gaussian's second moment).
/// The scale is applied once (gain / sqrt(d_in)), so gain 1 gives the draws of N(0, 1/d_in).
inline RowMatrixXd draw_weights(Eigen::Index d_in, Eigen::Index d_out, WeightKind kind, Stream& s, double gain = 1.0) {
  if (kind == WeightKind::gaussian) {
    RowMatrixXd w(d_in, d_out);
    fill_normal(w, s);
    w *= gain / std::sqrt(static_cast<double>(d_in));
    return w;
  }
  if (d_in >= d_out) {
    RowMatrixXd w = haar_frame(d_in, d_out, s);  // orthonormal columns
    if (gain != 1.0) w *= gain;
    return w;
  }
  const double c = std::sqrt(static_cast<double>(d_out) / static_cast<double>(d_in));
  return (c * gain) * haar_frame(d_out, d_in, s).transpose();  // orthonormal rows, scaled
}

/// draw_weights in float32: the same draws, rounded (Gaussian weights are drawn straight
/// into the float32 matrix, a block of normals at a time).
template <class T>
inline RowMatrix<T> draw_weights_as(Eigen::Index d_in, Eigen::Index d_out, WeightKind kind, Stream& s,
                                    double gain = 1.0) {
  if (kind != WeightKind::gaussian) return draw_weights(d_in, d_out, kind, s, gain).template cast<T>();
  RowMatrix<T> w(d_in, d_out);
  s.fill_normal(w.data(), static_cast<std::size_t>(w.size()));
  w *= static_cast<T>(gain / std::sqrt(static_cast<double>(d_in)));
  return w;
}

/// Per-feature bias b (d_out), N(0, bias^2); empty when bias == 0.
inline Eigen::RowVectorXd draw_bias(Eigen::Index d_out, double bias, Stream& s) {
  Eigen::RowVectorXd b;
  if (bias > 0) {
    b.resize(d_out);
    s.fill_normal(b.data(), static_cast<std::size_t>(d_out));
    b *= bias;
  }
  return b;
}

/// H = gain * X W (+ b), explicit weights. The product is the hand-written loop for a batch of
/// fewer than kernels::BLAS_MIN_ROWS rows (the same bits on every CPU), else BLAS's (dgemm,
/// sgemm in float32) with ISOINIT_HAVE_LAPACK and Eigen's without.
template <class T>
inline void linear_weights(const RowMatrix<T>& x, const RowMatrix<T>& w, double gain, const Eigen::RowVectorXd& b,
                           RowMatrix<T>& h) {
  if (x.rows() < kernels::BLAS_MIN_ROWS) {
    kernels::product_loops(x, w, h);
  } else {
#ifdef ISOINIT_HAVE_LAPACK
    blas::gemm_rows(x, w, h);
#else
    h.noalias() = x * w;
#endif
  }
  if (gain != 1.0) h *= static_cast<T>(gain);
  if (b.size()) {
    if constexpr (std::is_same_v<T, double>)
      h.rowwise() += b;
    else
      h.rowwise() += b.cast<T>();
  }
}

/// H ~ gain * X W (+ b) drawn from the square root L of the input Gram X X^T / d_in that f
/// holds (GramFactor::square_root): H = gain L Z for Gaussian weights, the orthogonal
/// analogue with a Haar frame otherwise. In float32 the square root is computed in float64
/// and rounded, and the normals are the float64 stream's, rounded.
template <class T>
inline void linear_gram(const GramFactor& f, Eigen::Index d_in, Eigen::Index d_out, WeightKind kind, double gain,
                        const Eigen::RowVectorXd& b, Stream& s, std::vector<T>& buffer, RowMatrix<T>& h) {
  const Eigen::Index n = f.lower().rows();
  MatrixXd r = f.lower();
  if (f.root_scale != 1.0) r *= f.root_scale;  // a prescaled Gram (kernels::gram_safe)
  if (kind == WeightKind::gaussian) {
    r *= gain;
    if constexpr (std::is_same_v<T, double>)
      kernels::lower_multiply_normals(r, d_out, s, buffer, h);
    else
      kernels::lower_multiply_normals(Matrix<T>(r.cast<T>()), d_out, s, buffer, h);
  } else {
    const Eigen::Index m = std::max(d_in, d_out);
    if (n > m)
      throw std::invalid_argument(
          "sampler 'gram' with orthogonal weights needs n <= max(d_in, d_out); use sampler='weights'");
    const double c = std::sqrt(std::max(1.0, static_cast<double>(d_out) / static_cast<double>(d_in)));
    const MatrixXd frame = haar_frame(m, n, s);
    r *= gain * std::sqrt(static_cast<double>(d_in)) * c;
    RowMatrixXd hd = frame.topRows(d_out).transpose();
#ifdef ISOINIT_HAVE_LAPACK
    if (kernels::use_blas(n))
      blas::trmm_lower_left(r, hd);
    else
#endif
      hd = r.triangularView<Eigen::Lower>() * hd;
    if constexpr (std::is_same_v<T, double>)
      h.swap(hd);
    else
      h = hd.cast<T>();
  }
  if (b.size()) {
    if constexpr (std::is_same_v<T, double>)
      h.rowwise() += b;
    else
      h.rowwise() += b.cast<T>();
  }
}

}  // namespace isoinit
