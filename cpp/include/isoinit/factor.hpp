// The factorizations of a Gram matrix, each computed at most once and only when needed:
//
//   need                                    factorization                     cost (n x n)
//   the Gram sampler's square root R R^T = G Cholesky (semidefinite if G is singular) n^3 / 3
//   isometry, gap (log det G, and whether   the same Cholesky, plus a triangular  n^3 / 3
//     G counts as singular)                 inverse when a cheap bound does not settle it
//   effective rank, stable rank, condition  eigenvalues, without vectors      ~ 4 n^3 / 3 + more
//   potential, correlations                 none (the entries of G)
//
// With ISOINIT_HAVE_LAPACK the factorizations of matrices of kernels::BLAS_MIN_ROWS rows or
// more are LAPACK's (dpotrf, dsyevd, dtrtri); smaller ones, and all without LAPACK, Eigen's
// (LLT, SelfAdjointEigenSolver), compiled for the baseline instruction set with the blocking
// pin_backends() fixes: the same bits on every x86-64 CPU, where OpenBLAS's kernels depend
// on the CPU. The semidefinite Cholesky is written here (its trailing updates by BLAS dsyrk,
// or Eigen's rank update).
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels.hpp"
#include "lapack.hpp"
#include "types.hpp"

namespace isoinit {

/// Make the back ends' results independent of the thread count and the CPU's caches: the BLAS
/// back end, if the kernel has one, stays on the calling thread (see lapack.hpp), and Eigen's
/// product blocking, which it otherwise derives from the cache sizes the CPU reports, uses
/// fixed sizes (once per process; thread-safe).
inline void pin_backends() {
#ifdef ISOINIT_HAVE_LAPACK
  blas::single_threaded();
#endif
  static const bool pinned = [] {
    Eigen::setCpuCacheSizes(32 * 1024, 1024 * 1024, 8 * 1024 * 1024);
    return true;
  }();
  (void)pinned;
}

/// A Gram matrix counts as singular when its smallest eigenvalue is at most
/// n * machine epsilon * its largest: below the eigensolver's backward error, so that
/// eigenvalue's sign and size carry no information.
inline bool is_singular(const VectorXd& ascending) {
  const double n = static_cast<double>(ascending.size());
  const double lmax = ascending(ascending.size() - 1);
  return !(lmax > 0) || ascending(0) <= n * std::numeric_limits<double>::epsilon() * lmax;
}

/// The factorizations of one Gram matrix g (symmetric positive semi-definite up to
/// rounding; the Gram the sampler and the metrics describe is root_scale^2 * g), computed
/// lazily: reset() starts a new Gram, and each accessor computes its factorization at most
/// once for it.
///
/// Singularity keeps the rule of is_singular (smallest eigenvalue <= n eps largest) without
/// the eigenvalues where the Cholesky factor settles it with a wide margin: G is regular if
/// a lower bound of lambda_min exceeds REGULAR_MARGIN * n * eps * an upper bound of
/// lambda_max. The bounds are lambda_min >= det G / (tr G / (n - 1))^(n - 1) (the other n - 1
/// eigenvalues are at most tr G / (n - 1) on average), free from the Cholesky diagonal, and
/// lambda_min >= 1 / ||L^-1||_F^2 (a triangular inverse); lambda_max <= min(tr G, max row
/// sum of |G|). Where neither settles it, or the Cholesky fails, the eigenvalues decide, as
/// they do whenever they are computed anyway.
class GramFactor {
 public:
  /// Safety factor of the Cholesky-based regularity test over the rule's n * eps: it covers
  /// the rounding of the Cholesky factorization and of the eigensolver, so the test never
  /// calls regular a Gram whose computed eigenvalues the rule would call singular.
  static constexpr double REGULAR_MARGIN = 64.0;

  /// The Gram is root_scale^2 times the factored one (kernels::gram_safe's prescaling).
  double root_scale = 1.0;
  /// false if the Gram has a non-finite entry (nothing is computed then).
  bool finite = true;

  /// Start on a new Gram g, forgetting every factorization of the previous one.
  void reset(const MatrixXd& g, double scale = 1.0) {
    root_scale = scale;
    finite = g.allFinite();
    chol_ = State::not_done;
    root_ = false;
    semidefinite_ = false;
    values_done_ = false;
  }

  /// The plain Cholesky g = L L^T (once per Gram); true if it succeeded (every pivot
  /// positive: g is positive definite to working precision).
  bool cholesky(const MatrixXd& g) {
    if (chol_ == State::not_done) {
      l_ = g;
      bool ok;
#ifdef ISOINIT_HAVE_LAPACK
      if (kernels::use_blas(l_.rows()))
        ok = blas::potrf_lower(l_);
      else
#endif
      {
        Eigen::LLT<Eigen::Ref<MatrixXd> > llt(l_);
        ok = llt.info() == Eigen::Success;
      }
      chol_ = ok ? State::ok : State::failed;
      if (ok) {
        l_.triangularView<Eigen::StrictlyUpper>().setZero();
        log_det_ = 2.0 * l_.diagonal().array().log().sum();
      }
    }
    return chol_ == State::ok;
  }

  /// A square root R = L of g (L L^T = g up to rounding; lower triangular) for the Gram
  /// sampler: the Cholesky factor if every pivot exceeds tol = REGULAR_MARGIN * n * eps *
  /// max g_ii, else (a singular or nearly singular g) the semidefinite Cholesky in the same
  /// order, which gives the column of every pivot <= tol the value 0 (the pivots there are
  /// rounding noise of either sign: for a positive semi-definite G a zero pivot has a zero
  /// column below it). Any square root is exact in distribution for the sampler (theory.md §3);
  /// this one is continuous in g where the Cholesky is, so a rescaled input gives the same
  /// samples up to rounding.
  void square_root(const MatrixXd& g) {
    if (root_) return;
    root_ = true;
    const double tol = REGULAR_MARGIN * static_cast<double>(g.rows()) * std::numeric_limits<double>::epsilon() *
                       g.diagonal().maxCoeff();
    if (cholesky(g) && l_.diagonal().minCoeff() > std::sqrt(tol)) return;
    semidefinite(g, tol);
  }

  /// The lower-triangular factor L of square_root() (or of a successful cholesky()).
  const MatrixXd& lower() const { return l_; }
  /// log det g from a successful cholesky().
  double log_det() const { return log_det_; }

  /// Eigenvalues of g, ascending (once per Gram).
  const VectorXd& eigenvalues(const MatrixXd& g) {
    if (!values_done_) {
      values_done_ = true;
      spectrum(g, values_);
    }
    return values_;
  }
  bool has_eigenvalues() const { return values_done_; }

  /// Whether the eigenvalues of the Gram of an n x d matrix are cheaper from its d x d dual
  /// (dual_eigenvalues, product X^T X included): for d <= 0.85 n (measurements in
  /// docs/performance.md).
  static bool dual_pays(Eigen::Index n, Eigen::Index d) { return 20 * d <= 17 * n; }

  /// The eigenvalues of g = X X^T / (d root_scale^2), for the row-major n x d matrix x whose
  /// Gram g is (kernels::gram_safe), from the d x d dual X^T X / (d root_scale^2): the same
  /// non-zero eigenvalues, and n - d zeros (g has rank <= d < n). Once per Gram, like
  /// eigenvalues(), which then returns them. Computed in float64 for float32 x.
  template <class T>
  void dual_eigenvalues(const RowMatrix<T>& x) {
    if (values_done_) return;
    values_done_ = true;
    const Eigen::Index n = x.rows(), d = x.cols();
    RowMatrixXd copy;
    const RowMatrixXd* xd = nullptr;
    if constexpr (std::is_same_v<T, double>) xd = &x;
    if (!xd || root_scale != 1.0) {
      copy = x.template cast<double>();
      if (root_scale != 1.0) copy /= root_scale;  // the prescaled rows whose Gram g is
      xd = &copy;
    }
#ifdef ISOINIT_HAVE_LAPACK
    if (kernels::use_blas(d))
      blas::syrk_cols(*xd, 1.0 / static_cast<double>(d), dual_);  // lower triangle: all spectrum() reads
    else
#endif
      dual_.noalias() = xd->transpose() * *xd / static_cast<double>(d);
    VectorXd w;
    spectrum(dual_, w);
    values_.resize(n);
    values_.head(n - d).setZero();
    values_.tail(d) = w;
    std::sort(values_.data(), values_.data() + n);  // ascending (w may hold rounding noise below 0)
  }

  /// Whether g counts as singular (see the class comment); `trace` is g's trace. A Gram of
  /// non-positive trace (the zero Gram) is singular.
  bool singular(const MatrixXd& g, double trace) {
    if (!(trace > 0)) return true;
    if (!values_done_ && cholesky(g) && !semidefinite_ && certified_regular(g, trace)) return false;
    return is_singular(eigenvalues(g));
  }

 private:
  enum class State { not_done, ok, failed };
  State chol_ = State::not_done;
  bool root_ = false, semidefinite_ = false, values_done_ = false;
  double log_det_ = 0.0;
  MatrixXd l_, work_, dual_;
  VectorXd values_;
  Eigen::SelfAdjointEigenSolver<MatrixXd> solver_;
#ifdef ISOINIT_HAVE_LAPACK
  std::vector<double> dwork_;
  std::vector<int> iwork_;
#endif

  /// The eigenvalues of the symmetric a (its lower triangle), ascending: LAPACK's dsyevd on a
  /// copy, or Eigen's solver (without LAPACK, below kernels::BLAS_MIN_ROWS rows, or if dsyevd
  /// did not converge).
  void spectrum(const MatrixXd& a, VectorXd& w) {
#ifdef ISOINIT_HAVE_LAPACK
    if (kernels::use_blas(a.rows())) {
      work_ = a;
      if (blas::syevd_values(work_, w, dwork_, iwork_)) return;
    }
#endif
    solver_.compute(a, Eigen::EigenvaluesOnly);
    w = solver_.eigenvalues();
  }

  bool certified_regular(const MatrixXd& g, double trace) {
    const double n = static_cast<double>(g.rows());
    const double margin = REGULAR_MARGIN * n * std::numeric_limits<double>::epsilon();
    if (log_det_ - (n - 1) * std::log(trace / (n - 1)) > std::log(margin * trace)) return true;
    const double lmax_bound = std::min(trace, g.cwiseAbs().colwise().sum().maxCoeff());
#ifdef ISOINIT_HAVE_LAPACK
    if (kernels::use_blas(l_.rows())) {
      work_ = l_;
      if (!blas::trtri_lower(work_)) return false;
    } else
#endif
    {
      work_.setIdentity(l_.rows(), l_.cols());
      l_.triangularView<Eigen::Lower>().solveInPlace(work_);
    }
    const double inv_norm2 = work_.squaredNorm();  // ||L^-1||_F^2 (its strict upper triangle is 0)
    return inv_norm2 * margin * lmax_bound < 1.0;  // false for inf or NaN
  }

  /// The semidefinite Cholesky of g into l_ (see square_root): blocked, each block of
  /// columns left-looking, then a rank-b update of the trailing matrix.
  void semidefinite(const MatrixXd& g, double tol) {
    semidefinite_ = true;
    const Eigen::Index n = g.rows(), nb = 32;
    l_ = g;
    for (Eigen::Index k0 = 0; k0 < n; k0 += nb) {
      const Eigen::Index b = std::min(nb, n - k0), m = n - k0 - b;
      for (Eigen::Index j = k0; j < k0 + b; ++j) {
        auto col = l_.col(j).tail(n - j);
        if (j > k0) col.noalias() -= l_.block(j, k0, n - j, j - k0) * l_.row(j).segment(k0, j - k0).transpose();
        const double pivot = l_(j, j);
        if (pivot > tol)
          col /= std::sqrt(pivot);
        else
          col.setZero();
      }
      if (m > 0) {
#ifdef ISOINIT_HAVE_LAPACK
        if (kernels::use_blas(n))
          blas::syrk_lower_update(m, b, &l_(k0 + b, k0), n, &l_(k0 + b, k0 + b), n);
        else
#endif
          l_.bottomRightCorner(m, m).selfadjointView<Eigen::Lower>().rankUpdate(l_.block(k0 + b, k0, m, b), -1.0);
      }
    }
    l_.triangularView<Eigen::StrictlyUpper>().setZero();
  }
};

}  // namespace isoinit
