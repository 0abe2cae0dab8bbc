// The Eigen types shared by the kernel headers.
#pragma once

#include <Eigen/Dense>

namespace isoinit {

using MatrixXd = Eigen::MatrixXd;  // column-major n x n Gram matrices
using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;  // n x d representations
using VectorXd = Eigen::VectorXd;
/// The same shapes in either precision (the float32 mode's representations).
template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using RowVector = Eigen::Matrix<T, 1, Eigen::Dynamic>;

}  // namespace isoinit
