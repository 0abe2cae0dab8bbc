// Hand-written hot loops of the Gram sampler on short-and-wide (n x d, n << d) matrices.
//
// Eigen's general products pay packing overhead on these shapes; these loops are written
// so that the compiler vectorizes them: reductions keep eight independent partial sums
// whose final order is fixed in the source, so the result does not depend on the vector
// width chosen at run time. On x86-64 with GCC, each loop is compiled twice (AVX2 and
// baseline) and the CPU picks one at load time; no -march flag is needed.
#pragma once

#include <cstddef>

#include "metrics.hpp"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define ISOINIT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ISOINIT_CLONES
#endif

namespace isoinit::kernels {

constexpr std::size_t LANES = 8;

/// sum_k a[k] * b[k], with 8 partial sums combined in a fixed order.
ISOINIT_CLONES inline double dot(const double* a, const double* b, std::size_t len) {
  double acc[LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t k = 0;
  for (; k + LANES <= len; k += LANES)
    for (std::size_t l = 0; l < LANES; ++l) acc[l] += a[k + l] * b[k + l];
  for (std::size_t l = 0; k < len; ++k, ++l) acc[l] += a[k] * b[k];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/// Gram X X^T / d of a row-major n x d matrix, into the n x n matrix g (both triangles).
inline void gram(const RowMatrixXd& x, MatrixXd& g) {
  const Eigen::Index n = x.rows();
  const auto d = static_cast<std::size_t>(x.cols());
  const double inv = 1.0 / static_cast<double>(d);
  g.resize(n, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j <= i; ++j) g(i, j) = g(j, i) = dot(x.row(i).data(), x.row(j).data(), d) * inv;
}

/// out[k] += c0 a0[k] + c1 a1[k] + c2 a2[k] + c3 a3[k]
ISOINIT_CLONES inline void axpy4(const double* c, const double* a0, const double* a1, const double* a2,
                                 const double* a3, double* out, std::size_t len) {
  for (std::size_t k = 0; k < len; ++k) out[k] += ((c[0] * a0[k] + c[1] * a1[k]) + (c[2] * a2[k] + c[3] * a3[k]));
}

/// out[k] += c * a[k]
ISOINIT_CLONES inline void axpy(double c, const double* a, double* out, std::size_t len) {
  for (std::size_t k = 0; k < len; ++k) out[k] += c * a[k];
}

/// h = r z for a small square r (n x n) and a row-major n x d matrix z: row i of h is a
/// combination of the rows of z, four rows at a time.
inline void left_multiply(const MatrixXd& r, const RowMatrixXd& z, RowMatrixXd& h) {
  const Eigen::Index n = r.rows();
  const auto d = static_cast<std::size_t>(z.cols());
  h.setZero(n, z.cols());
  for (Eigen::Index i = 0; i < n; ++i) {
    double* out = h.row(i).data();
    Eigen::Index k = 0;
    for (; k + 4 <= n; k += 4) {
      const double c[4] = {r(i, k), r(i, k + 1), r(i, k + 2), r(i, k + 3)};
      axpy4(c, z.row(k).data(), z.row(k + 1).data(), z.row(k + 2).data(), z.row(k + 3).data(), out, d);
    }
    for (; k < n; ++k) axpy(r(i, k), z.row(k).data(), out, d);
  }
}

/// True if every entry of m is finite (x - x is 0 for finite x, NaN otherwise).
ISOINIT_CLONES inline bool all_finite(const double* a, std::size_t len) {
  double acc[LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t k = 0;
  for (; k + LANES <= len; k += LANES)
    for (std::size_t l = 0; l < LANES; ++l) acc[l] += a[k + l] - a[k + l];
  for (std::size_t l = 0; k < len; ++k, ++l) acc[l] += a[k] - a[k];
  double total = 0.0;
  for (double v : acc) total += v;
  return total == 0.0;
}

/// sum_k a[k], with 8 partial sums.
ISOINIT_CLONES inline double sum(const double* a, std::size_t len) {
  double acc[LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t k = 0;
  for (; k + LANES <= len; k += LANES)
    for (std::size_t l = 0; l < LANES; ++l) acc[l] += a[k + l];
  for (std::size_t l = 0; k < len; ++k, ++l) acc[l] += a[k];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/// a[k] -= shift, returning sum_k a[k]^2 of the result (8 partial sums).
ISOINIT_CLONES inline double shift_sumsq(double* a, std::size_t len, double shift) {
  double acc[LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t k = 0;
  for (; k + LANES <= len; k += LANES)
    for (std::size_t l = 0; l < LANES; ++l) {
      a[k + l] -= shift;
      acc[l] += a[k + l] * a[k + l];
    }
  for (std::size_t l = 0; k < len; ++k, ++l) {
    a[k] -= shift;
    acc[l] += a[k] * a[k];
  }
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/// a[k] = (a[k] - shift) * factor
ISOINIT_CLONES inline void shift_scale(double* a, std::size_t len, double shift, double factor) {
  for (std::size_t k = 0; k < len; ++k) a[k] = (a[k] - shift) * factor;
}

}  // namespace isoinit::kernels
