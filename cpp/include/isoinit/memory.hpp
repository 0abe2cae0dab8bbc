// Memory estimates: what a simulate() call will allocate, for a check before calling it.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cstdint>

#include "config.hpp"
#include "kernels.hpp"
#include "metrics.hpp"
#include "program.hpp"
#include "threads.hpp"

namespace isoinit {

/// What a simulate() call will allocate, in bytes (estimates, as doubles so that no product
/// overflows): the result arrays, the recorded Gram matrices, and the working set of one run
/// (its representation and pre-activations, Gram and its factorizations, and the weights or
/// frame of its largest block), of which `threads` are live at once.
struct MemoryNeed {
  double results = 0, grams = 0, per_run = 0, per_run_gram = 0, per_run_weights = 0, total = 0;
  int threads = 1;
};

inline MemoryNeed memory_need(const Config& cfg, Eigen::Index n, Eigen::Index d0, std::int64_t runs, int threads) {
  MemoryNeed m;
  const double b = sizeof(double), N = static_cast<double>(n), R = static_cast<double>(runs);
  const double layers = static_cast<double>(cfg.depth() + 1), S = cfg.recorded_stages();
  m.results = R * (layers * (S * n_metrics + 1) * b + 2 * sizeof(std::int64_t));
  if (cfg.grams) m.grams = R * layers * S * N * N * b;
  double dmax = static_cast<double>(d0), wmax = 0;
  for (const MapShape& map : cfg.maps(d0)) {
    const double d_in = static_cast<double>(map.d_in), d_out = static_cast<double>(map.d_out);
    dmax = std::max(dmax, d_out);
    double need = 0;
    if (cfg.sampler == Sampler::weights)
      need = d_in * d_out * (cfg.weights == WeightKind::orthogonal ? 3 : 1);
    else if (cfg.weights == WeightKind::orthogonal)
      need = 3 * std::max(d_in, d_out) * N;
    wmax = std::max(wmax, need);
  }
  // the Gram, its Cholesky (or semidefinite Cholesky) factor, one n x n workspace (eigenvalues, the
  // triangular inverse), the scaled square root of the sampler, and Eigen's eigensolver
  // storage (used without LAPACK)
  m.per_run_gram = 5 * N * N * b;
  m.per_run_weights = wmax * b;
  // x, h, the residual stream, attention's Q, K, V and scores, a block of normals
  m.per_run = m.per_run_gram + m.per_run_weights +
              ((cfg.plain_mlp() ? 3 : 7) * N * dmax + N * static_cast<double>(kernels::BLOCK)) * b;
  m.threads = resolve_threads(threads, runs);
  m.total = m.results + m.grams + m.threads * m.per_run + N * static_cast<double>(d0) * b;
  return m;
}

}  // namespace isoinit
