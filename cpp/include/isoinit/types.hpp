// The Eigen types shared by the kernel headers.
#pragma once

#include <Eigen/Dense>

namespace isoinit {

using MatrixXd = Eigen::MatrixXd;  // column-major n x n Gram matrices
using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;  // n x d representations
using VectorXd = Eigen::VectorXd;

}  // namespace isoinit
