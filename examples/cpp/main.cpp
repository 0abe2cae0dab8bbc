// The paper's main setting from C++: random ReLU MLPs with layer normalization after the
// activation (act-norm), depth 30, width 1000, on a nearly degenerate batch of n = 10
// inputs; prints the isometry gap -log I(G^l) of the batch's Gram matrix at every layer,
// averaged over the runs (Joudaki, Daneshmand, Bach 2023; docs/cpp.md).
//
// The batch: rows x_i = u + 0.03 z_i (u, z_i iid standard normal, d = 1000), nearly
// parallel; its gap is about 6, like isoinit.inputs.degenerate(10, 1000, degeneracy=100)
// on the Python side (which builds its batch differently, from an SVD).
//
// Usage: isometry_gap [runs=10] [seed=0] [threads=0 (OpenMP default)]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

#include "isoinit/simulate.hpp"

namespace {

/// n x d rows u + noise * z_i, drawn from the kernel's counter-based streams (purpose `user`,
/// which no simulation stream shares): stream (seed, 0, 0) gives u, stream (seed, 1 + i, 0) z_i.
isoinit::RowMatrixXd nearly_degenerate(Eigen::Index n, Eigen::Index d, double noise, std::uint64_t seed) {
  const auto len = static_cast<std::size_t>(d);
  Eigen::RowVectorXd u(d);
  isoinit::Stream::derive(seed, 0, 0, isoinit::Purpose::user).fill_normal(u.data(), len);
  isoinit::RowMatrixXd x(n, d);
  for (Eigen::Index i = 0; i < n; ++i) {
    Eigen::RowVectorXd z(d);
    isoinit::Stream::derive(seed, static_cast<std::uint64_t>(1 + i), 0, isoinit::Purpose::user)
        .fill_normal(z.data(), len);
    x.row(i) = u + noise * z;
  }
  return x;
}

/// Per layer: the isometry gap and the isometry I(G^l), averaged over the runs.
void print_table(isoinit::Result& res) {
  std::printf("%5s  %12s  %12s\n", "layer", "mean_gap", "mean_isometry");
  for (Eigen::Index l = 0; l < res.layers; ++l) {
    double gap = 0.0, isometry = 0.0;
    for (Eigen::Index r = 0; r < res.runs; ++r) {
      const double* m = res.metric_ptr(r, l, 0);  // stage 0: the block output
      gap += m[isoinit::m_gap];
      isometry += m[isoinit::m_isometry];
    }
    std::printf("%5ld  %12.6g  %12.6g\n", static_cast<long>(l), gap / static_cast<double>(res.runs),
                isometry / static_cast<double>(res.runs));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t runs = argc > 1 ? std::atoll(argv[1]) : 10;
  const auto seed = static_cast<std::uint64_t>(argc > 2 ? std::atoll(argv[2]) : 0);
  const int threads = argc > 3 ? std::atoi(argv[3]) : 0;
  const Eigen::Index depth = 30, width = 1000, n = 10;

  isoinit::Config cfg;
  cfg.act = isoinit::Activation::from_name("relu", 0.0, {});
  cfg.center = isoinit::Center::layer;  // layer norm = layer centering + layer scaling
  cfg.scale = isoinit::Scale::layer;
  cfg.order = isoinit::Order::act_norm;
  cfg.sampler = isoinit::Sampler::gram;
  cfg.widths.assign(static_cast<std::size_t>(depth), width);

  const isoinit::RowMatrixXd x = nearly_degenerate(n, width, 0.03, seed);
  try {
    isoinit::Result res = isoinit::simulate(cfg, x, seed, 0, runs, threads);
    std::printf("# relu, layer norm, act-norm, depth %ld, width %ld, n = %ld, %ld runs, seed %llu, %d thread(s)\n",
                static_cast<long>(depth), static_cast<long>(width), static_cast<long>(n), static_cast<long>(runs),
                static_cast<unsigned long long>(seed), isoinit::resolve_threads(threads));
    print_table(res);
  } catch (const std::exception& e) {  // an invalid configuration (std::invalid_argument) or a failed run
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
