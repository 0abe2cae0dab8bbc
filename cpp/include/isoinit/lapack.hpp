// Optional BLAS/LAPACK back end of the kernel: the few routines the Gram sampler and the
// metrics use (Cholesky, symmetric eigenvalues, triangular inverse, and the
// products X X^T, L H and X W, and the trailing update of a Cholesky), called through the
// Fortran interface.
//
// Enabled by the compile definition ISOINIT_HAVE_LAPACK (the Python extension defines it and
// links the OpenBLAS of the scipy-openblas32 wheel); without it this header declares nothing
// and the kernel uses Eigen and its own loops. Symbols are ISOINIT_BLAS_PREFIX + name + "_":
// the prefix defaults to `scipy_` (scipy-openblas32's names, e.g. scipy_dgemm_); define
// ISOINIT_BLAS_PREFIX empty for a plain BLAS/LAPACK (dgemm_). Integers are 32-bit (LP64).
// With ISOINIT_OPENBLAS defined, blas::single_threaded() sets OpenBLAS's own thread count to
// 1: the kernel runs one network per OpenMP thread, and a BLAS call must not start threads
// of its own inside that region (its results then do not depend on the thread count).
#pragma once

#ifdef ISOINIT_HAVE_LAPACK

#include <Eigen/Dense>
#include <algorithm>
#include <climits>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "types.hpp"

#ifndef ISOINIT_BLAS_PREFIX
#define ISOINIT_BLAS_PREFIX scipy_
#endif
#define ISOINIT_BLAS_CAT2(a, b) a##b
#define ISOINIT_BLAS_CAT(a, b) ISOINIT_BLAS_CAT2(a, b)
#define ISOINIT_BLAS(name) ISOINIT_BLAS_CAT(ISOINIT_BLAS_PREFIX, name##_)

// Fortran interface; the trailing size_t arguments are the hidden lengths of the character
// arguments (gfortran's convention; ignored by C implementations).
extern "C" {
void ISOINIT_BLAS(dpotrf)(const char* uplo, const int* n, double* a, const int* lda, int* info, std::size_t);
void ISOINIT_BLAS(dsyevd)(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                          double* work, const int* lwork, int* iwork, const int* liwork, int* info, std::size_t,
                          std::size_t);
void ISOINIT_BLAS(dtrtri)(const char* uplo, const char* diag, const int* n, double* a, const int* lda, int* info,
                          std::size_t, std::size_t);
void ISOINIT_BLAS(dsyrk)(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha,
                         const double* a, const int* lda, const double* beta, double* c, const int* ldc, std::size_t,
                         std::size_t);
void ISOINIT_BLAS(dtrmm)(const char* side, const char* uplo, const char* transa, const char* diag, const int* m,
                         const int* n, const double* alpha, const double* a, const int* lda, double* b, const int* ldb,
                         std::size_t, std::size_t, std::size_t, std::size_t);
void ISOINIT_BLAS(dgemm)(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                         const double* alpha, const double* a, const int* lda, const double* b, const int* ldb,
                         const double* beta, double* c, const int* ldc, std::size_t, std::size_t);
// float32 (the float32 mode's products)
void ISOINIT_BLAS(ssyrk)(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha,
                         const float* a, const int* lda, const float* beta, float* c, const int* ldc, std::size_t,
                         std::size_t);
void ISOINIT_BLAS(strmm)(const char* side, const char* uplo, const char* transa, const char* diag, const int* m,
                         const int* n, const float* alpha, const float* a, const int* lda, float* b, const int* ldb,
                         std::size_t, std::size_t, std::size_t, std::size_t);
void ISOINIT_BLAS(sgemm)(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                         const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                         const float* beta, float* c, const int* ldc, std::size_t, std::size_t);
#ifdef ISOINIT_OPENBLAS
void ISOINIT_BLAS_CAT(ISOINIT_BLAS_PREFIX, openblas_set_num_threads)(int);
char* ISOINIT_BLAS_CAT(ISOINIT_BLAS_PREFIX, openblas_get_corename)(void);
#endif
}

namespace isoinit::blas {

/// A dimension as the 32-bit integer of the Fortran interface (at least 1, as leading
/// dimensions must be; the kernel's matrices are never empty).
inline int dim(Eigen::Index v) {
  if (v > INT_MAX) throw std::length_error("isoinit: a matrix dimension exceeds the BLAS limit (2^31 - 1)");
  return static_cast<int>(std::max<Eigen::Index>(v, 1));
}

/// Keep OpenBLAS on the calling thread (once per process; thread-safe).
inline void single_threaded() {
#ifdef ISOINIT_OPENBLAS
  static const bool done = [] {
    ISOINIT_BLAS_CAT(ISOINIT_BLAS_PREFIX, openblas_set_num_threads)(1);
    return true;
  }();
  (void)done;
#endif
}

/// The name of the BLAS back end and, for OpenBLAS, the CPU kernel it picked at load time.
inline std::string describe() {
#ifdef ISOINIT_OPENBLAS
  const char* core = ISOINIT_BLAS_CAT(ISOINIT_BLAS_PREFIX, openblas_get_corename)();
  return std::string("OpenBLAS (") + (core ? core : "?") + ")";
#else
  return "BLAS/LAPACK";
#endif
}

/// In-place Cholesky a = L L^T of the lower triangle (the upper is not referenced); false if
/// a leading minor is not positive (LAPACK dpotrf).
inline bool potrf_lower(MatrixXd& a) {
  const int n = dim(a.rows());
  int info = 0;
  ISOINIT_BLAS(dpotrf)("L", &n, a.data(), &n, &info, 1);
  return info == 0;
}

/// Eigenvalues (ascending) of the symmetric a (lower triangle; destroyed), LAPACK dsyevd
/// without vectors; false if it did not converge.
///
/// The workspace is the size dsyevd asks for (a query with lwork = -1, once per size and
/// thread), not the documented minimum 2 n + 1: with the minimum, dsytrd cannot hold its
/// n x 32 panel and falls back to the slower unblocked reduction (dsytd2, rank-2 updates a
/// column at a time; docs/performance.md). Up to n = 32 dsytrd is unblocked either way, so
/// small Grams get the same numbers.
inline bool syevd_values(MatrixXd& a, VectorXd& w, std::vector<double>& work, std::vector<int>& iwork) {
  const int n = dim(a.rows());
  w.resize(a.rows());
  int info = 0;
  thread_local int queried_n = -1, queried_lwork = 0;
  if (queried_n != n) {
    double best = 0.0;
    int lwork = -1, liwork = -1, best_i = 0;
    ISOINIT_BLAS(dsyevd)("N", "L", &n, a.data(), &n, w.data(), &best, &lwork, &best_i, &liwork, &info, 1, 1);
    queried_lwork = std::max(2 * n + 1, info == 0 ? static_cast<int>(best) : 0);
    queried_n = n;
    info = 0;
  }
  const int lwork = queried_lwork, liwork = 1;  // liwork: the documented value without vectors
  work.resize(static_cast<std::size_t>(lwork));
  iwork.resize(static_cast<std::size_t>(liwork));
  ISOINIT_BLAS(dsyevd)("N", "L", &n, a.data(), &n, w.data(), work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1);
  return info == 0;
}

/// In-place inverse of the lower-triangular a (LAPACK dtrtri); false if it is singular.
inline bool trtri_lower(MatrixXd& a) {
  const int n = dim(a.rows());
  int info = 0;
  ISOINIT_BLAS(dtrtri)("L", "N", &n, a.data(), &n, &info, 1, 1);
  return info == 0;
}

/// The lower triangle of g = alpha X X^T for the row-major n x d x (dsyrk; g is resized,
/// its strict upper triangle is not written).
inline void syrk_rows(const RowMatrixXd& x, double alpha, MatrixXd& g) {
  const int n = dim(x.rows()), d = dim(x.cols());
  g.resize(x.rows(), x.rows());
  const double beta = 0.0;
  // x row-major is the column-major d x n matrix X^T, and X X^T = (X^T)^T (X^T)
  ISOINIT_BLAS(dsyrk)("L", "T", &n, &d, &alpha, x.data(), &d, &beta, g.data(), &n, 1, 1);
}

/// The lower triangle of g = alpha X^T X (d x d) for the row-major n x d x (dsyrk; g is
/// resized, its strict upper triangle is not written).
inline void syrk_cols(const RowMatrixXd& x, double alpha, MatrixXd& g) {
  const int n = dim(x.rows()), d = dim(x.cols());
  g.resize(x.cols(), x.cols());
  const double beta = 0.0;
  // x row-major is the column-major d x n matrix A = X^T, and X^T X = A A^T
  ISOINIT_BLAS(dsyrk)("L", "N", &d, &n, &alpha, x.data(), &d, &beta, g.data(), &d, 1, 1);
}

/// c := c - a a^T on the lower triangle of the m x m block c (leading dimension ldc) for the
/// m x k block a (leading dimension lda), both column-major (dsyrk).
inline void syrk_lower_update(Eigen::Index m, Eigen::Index k, const double* a, Eigen::Index lda, double* c,
                              Eigen::Index ldc) {
  const int mm = dim(m), kk = dim(k), la = dim(lda), lc = dim(ldc);
  const double alpha = -1.0, beta = 1.0;
  ISOINIT_BLAS(dsyrk)("L", "N", &mm, &kk, &alpha, a, &la, &beta, c, &lc, 1, 1);
}

/// h := L h for a lower-triangular n x n L (column-major) and a row-major n x d h (dtrmm).
inline void trmm_lower_left(const MatrixXd& l, RowMatrixXd& h) {
  const int n = dim(h.rows()), d = dim(h.cols());
  const double one = 1.0;
  // h row-major is the column-major d x n H^T, and (L H)^T = H^T L^T
  ISOINIT_BLAS(dtrmm)("R", "L", "T", "N", &d, &n, &one, l.data(), &n, h.data(), &d, 1, 1, 1, 1);
}

/// h = x w for row-major x (n x k) and w (k x m) (dgemm; h is resized).
inline void gemm_rows(const RowMatrixXd& x, const RowMatrixXd& w, RowMatrixXd& h) {
  const int n = dim(x.rows()), k = dim(x.cols()), m = dim(w.cols());
  h.resize(x.rows(), w.cols());
  const double one = 1.0, zero = 0.0;
  // (X W)^T = W^T X^T, with the row-major matrices read as their column-major transposes
  ISOINIT_BLAS(dgemm)("N", "N", &m, &n, &k, &one, w.data(), &m, x.data(), &k, &zero, h.data(), &m, 1, 1);
}

/// The lower triangle of g = X_b X_b^T for the columns [j0, j0 + w) of a row-major float32
/// n x d x (ssyrk; g is n x n, its strict upper triangle is not written).
inline void syrk_rows_block(const RowMatrix<float>& x, Eigen::Index j0, Eigen::Index w, Matrix<float>& g) {
  const int n = dim(x.rows()), k = dim(w), lda = dim(x.cols());
  g.resize(x.rows(), x.rows());
  const float one = 1.0f, zero = 0.0f;
  ISOINIT_BLAS(ssyrk)("L", "T", &n, &k, &one, x.data() + j0, &lda, &zero, g.data(), &n, 1, 1);
}

/// h := L h in float32 (strmm; see trmm_lower_left).
inline void trmm_lower_left(const Matrix<float>& l, RowMatrix<float>& h) {
  const int n = dim(h.rows()), d = dim(h.cols());
  const float one = 1.0f;
  ISOINIT_BLAS(strmm)("R", "L", "T", "N", &d, &n, &one, l.data(), &n, h.data(), &d, 1, 1, 1, 1);
}

/// h = x w in float32 (sgemm; see gemm_rows).
inline void gemm_rows(const RowMatrix<float>& x, const RowMatrix<float>& w, RowMatrix<float>& h) {
  const int n = dim(x.rows()), k = dim(x.cols()), m = dim(w.cols());
  h.resize(x.rows(), w.cols());
  const float one = 1.0f, zero = 0.0f;
  ISOINIT_BLAS(sgemm)("N", "N", &m, &n, &k, &one, w.data(), &m, x.data(), &k, &zero, h.data(), &m, 1, 1);
}

}  // namespace isoinit::blas

#endif  // ISOINIT_HAVE_LAPACK
