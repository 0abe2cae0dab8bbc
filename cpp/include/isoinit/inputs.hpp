// Input batches built from a drawn matrix: the paper's degenerate batch.
//
// Every step is this kernel's own (the Gram by kernels::gram, the eigenvector by Eigen's
// solver, the sums in a fixed order), so a batch of fewer than kernels::BLAS_MIN_ROWS rows
// (and columns) has the same bits on every x86-64 CPU.
#pragma once

#include <Eigen/Dense>
#include <cmath>
#include <stdexcept>

#include "factor.hpp"
#include "kernels.hpp"
#include "types.hpp"

namespace isoinit {

/// The paper's degenerate batch from x0 (n x d; Joudaki, Daneshmand, Bach 2023, section 5):
/// x0 with its largest singular value multiplied by `degeneracy`, rescaled to global mean
/// square 1. With u the top left singular vector of x0 (the top eigenvector of its Gram),
/// that is x0 + (degeneracy - 1) u u^T x0 (for n > d, the same from the right with the top
/// right singular vector v: x0 + (degeneracy - 1) x0 v v^T).
inline RowMatrixXd degenerate_batch(const RowMatrixXd& x0, double degeneracy) {
  if (x0.rows() < 1 || x0.cols() < 1) throw std::invalid_argument("x0 must not be empty");
  pin_backends();
  const bool left = x0.rows() <= x0.cols();
  const RowMatrixXd xt = left ? RowMatrixXd() : RowMatrixXd(x0.transpose());
  MatrixXd g;
  kernels::gram(left ? x0 : xt, g);
  const Eigen::SelfAdjointEigenSolver<MatrixXd> solver(g);
  if (solver.info() != Eigen::Success) throw std::runtime_error("the eigensolver did not converge on the Gram of x0");
  const VectorXd top = solver.eigenvectors().col(g.rows() - 1);  // eigenvalues ascending
  const double c = degeneracy - 1.0;
  RowMatrixXd x = x0;
  if (left) {  // w = u^T x0, x += c u w
    Eigen::RowVectorXd w = Eigen::RowVectorXd::Zero(x0.cols());
    for (Eigen::Index i = 0; i < x0.rows(); ++i) w += top(i) * x0.row(i);
    for (Eigen::Index i = 0; i < x0.rows(); ++i) x.row(i) += (c * top(i)) * w;
  } else {  // z = x0 v, x += c z v^T
    for (Eigen::Index i = 0; i < x0.rows(); ++i) {
      double z = 0.0;
      for (Eigen::Index j = 0; j < x0.cols(); ++j) z += x0(i, j) * top(j);
      x.row(i) += (c * z) * top.transpose();
    }
  }
  double sumsq = 0.0;
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    sumsq += kernels::dot(x.row(i).data(), x.row(i).data(), static_cast<std::size_t>(x.cols()));
  x /= std::sqrt(sumsq / static_cast<double>(x.size()));
  return x;
}

}  // namespace isoinit
