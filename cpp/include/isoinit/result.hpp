// The arrays a simulation returns (Result), one row per run.
#pragma once

#include <Eigen/Dense>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "config.hpp"
#include "metrics.hpp"

namespace isoinit {

/// Results for runs [0, runs): arrays in C order.
struct Result {
  Eigen::Index runs = 0, layers = 0, stages = 1, n = 0;
  std::vector<double> metrics;             // runs x layers x stages x n_metrics
  std::vector<double> norm_bias;           // runs x layers
  std::vector<double> grams;               // runs x layers x stages x n x n (when requested)
  std::vector<std::int64_t> diverged_at;   // runs; -1 when the run never overflowed
  std::vector<std::int64_t> collapsed_at;  // runs; first layer whose output is the zero matrix, -1 if none

  Result(const Config& cfg, Eigen::Index runs_, Eigen::Index n_)
      : runs(runs_), layers(cfg.depth() + 1), stages(cfg.recorded_stages()), n(n_) {
    metrics.assign(static_cast<std::size_t>(runs * layers * stages * n_metrics), 0.0);
    norm_bias.assign(static_cast<std::size_t>(runs * layers), 0.0);
    if (cfg.grams) grams.assign(static_cast<std::size_t>(runs * layers * stages * n * n), 0.0);
    diverged_at.assign(static_cast<std::size_t>(runs), -1);
    collapsed_at.assign(static_cast<std::size_t>(runs), -1);
  }
  double* metric_ptr(Eigen::Index r, Eigen::Index l, int s) {
    return metrics.data() + ((r * layers + l) * stages + s) * n_metrics;
  }
  double* gram_ptr(Eigen::Index r, Eigen::Index l, int s) {
    return grams.data() + ((r * layers + l) * stages + s) * n * n;
  }
};

}  // namespace isoinit
