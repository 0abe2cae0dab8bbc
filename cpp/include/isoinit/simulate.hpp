// The fused simulation kernel: many random MLPs at initialization on one batch, recording
// Gram metrics at every layer (and optionally every stage), in parallel over runs.
//
// One block (theory.md section 2), on the n x d_in batch X of unit-mean-square rows:
//   linear      H = gain * X W + 1 b^T                       (linear.hpp)
//   act-norm    A = sigma(H), X' = Scale(Center(A))          (activation.hpp, normalization.hpp)
//   norm-act    N = Scale(Center(H)), X' = sigma(N)
// Recorded stages, by name (mlp_stages, program.hpp): "linear" = H, "activation" = sigma(.)
// output, "normalization" = Norm(.) output; the block output is the last one executed. Layer 0 is the input after
// scaling its rows to mean square 1 (every stage of layer 0 is that input).
//
// Numerical trouble, the same whether or not stages are recorded: every value a block makes
// (H after the linear map, the activation's output, the normalization's output) is checked
// for finiteness where it is made, and the first layer holding a non-finite value is the
// run's `diverged_at` (its metrics are NaN from there on), as is the first layer whose block
// output's Gram overflows (the scale of its second moments, which the next block's
// pre-activations carry, has left float64's range). Mean squares that overflow or underflow
// for finite values, and Grams that underflow (or, for the recorded intermediate stages,
// overflow), are recomputed scale-safely (normalize(), kernels::gram_safe), so a normalized
// representation never breaks down because of its scale. A block output that is the
// zero matrix (every sample at 0: rank 0) is `collapsed_at`; its metrics are defined (see
// gram_metrics) and the run goes on.
//
// This header is the kernel's entry point and includes the rest: config.hpp (Config and its
// validation), result.hpp (Result), threads.hpp (thread count, the parallel loop,
// cancellation), memory.hpp (memory estimates), and the numerical headers they build on.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "activation.hpp"
#include "config.hpp"
#include "factor.hpp"
#include "kernels.hpp"
#include "linear.hpp"
#include "memory.hpp"
#include "metrics.hpp"
#include "normalization.hpp"
#include "program.hpp"
#include "random.hpp"
#include "result.hpp"
#include "threads.hpp"
#include "types.hpp"

namespace isoinit {

namespace detail {

/// Per-run working state: the current representation (float64 or float32) and its Gram.
template <class T>
struct RunState {
  const Config& cfg;
  Result& res;
  Eigen::Index r;  // row in the result
  RowMatrix<T> x, h;
  std::vector<T> buffer;  // one column block of normals
  MatrixXd g;
  GramFactor factor;                  // g's factorizations, each computed once, when needed (factor.hpp)
  const RowMatrix<T>* src = nullptr;  // the matrix whose Gram g is (gram_of)

  RunState(const Config& c, Result& rs, Eigen::Index row) : cfg(c), res(rs), r(row) { pin_backends(); }

  /// Gram X X^T / d of m into g (scale-safe, kernels::gram_safe), and the square root the
  /// Gram sampler draws the next map from if `need_factor` (the metrics then reuse its
  /// Cholesky); false if m holds a non-finite value or, for a block output (`output`), if its
  /// Gram overflows: the second moments that the next block's pre-activations scale with have
  /// left float64's range, and the run has diverged. An intermediate stage's overflowing
  /// Gram is recomputed on the prescaled values instead.
  bool gram_of(const RowMatrix<T>& m, bool need_factor, bool output = true) {
    double root_scale = 1.0;
    src = &m;
    if (!kernels::gram_safe(m, g, root_scale, !output)) return false;
    factor.reset(g, root_scale);
    if (!factor.finite) return false;
    if (need_factor) factor.square_root(g);
    return true;
  }

  void record(Eigen::Index l, int s) {
    // the spectrum of a Gram of rank <= d < n (which also makes it singular) from the d x d
    // dual, where that is cheaper than the n x n Gram's
    if ((cfg.metrics & (spectral_metrics | determinant_metrics)) && factor.finite && src &&
        GramFactor::dual_pays(src->rows(), src->cols()))
      factor.dual_eigenvalues(*src);
    gram_metrics(g, factor, cfg.metrics, res.metric_ptr(r, l, s));
    if (cfg.grams) {
      Eigen::Map<MatrixXd> out(res.gram_ptr(r, l, s), g.rows(), g.cols());
      out = g;
      if (factor.root_scale != 1.0) out = (out * factor.root_scale) * factor.root_scale;  // may leave float64's range
    }
  }

  /// Record m, a stage of layer l, if stages are recorded; false if m then shows a non-finite
  /// value. (Without stages the finiteness of every stage is checked by the pass that reads
  /// it next: the activation, the normalization's reductions, the block output's Gram.)
  bool stage(const RowMatrix<T>& m, Eigen::Index l, int s) {
    if (cfg.stages) {
      if (!gram_of(m, false, false)) return false;
      record(l, s);
    }
    return true;
  }

  void diverge(Eigen::Index l) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    res.diverged_at[static_cast<std::size_t>(r)] = l;
    for (Eigen::Index k = l; k < res.layers; ++k) {
      for (int s = 0; s < res.stages; ++s) {
        std::fill(res.metric_ptr(r, k, s), res.metric_ptr(r, k, s) + n_metrics, nan);
        if (cfg.grams) std::fill(res.gram_ptr(r, k, s), res.gram_ptr(r, k, s) + res.n * res.n, nan);
      }
      res.norm_bias[static_cast<std::size_t>(r * res.layers + k)] = nan;
    }
  }
};

/// An embedding matrix (rows x d, N(0, std^2)) of run `run`: map `map` of block 0's streams.
inline RowMatrixXd draw_embedding(Eigen::Index rows, Eigen::Index d, double std, std::uint64_t seed, std::uint64_t run,
                                  std::uint64_t map) {
  RowMatrixXd e(rows, d);
  Stream s = Stream::derive(seed, run, map_key(0, map), Purpose::linear);
  fill_normal(e, s);
  e *= std;
  return e;
}

/// Layer 0, in float64 then rounded to the representation's precision: the input with its
/// rows scaled to mean square 1 (cfg.input_rows: layer scaling without centering) or as
/// given, plus the embedding (learned positions of the first n positions, the shared row;
/// `fixed` holds them first when given), then cfg.input_norm. False if a value overflows.
template <class T>
inline bool input_layer(const Config& cfg, const RowMatrixXd& x0, std::uint64_t seed, std::uint64_t run,
                        const std::vector<RowMatrixXd>* fixed, RowMatrix<T>& x, double& bias) {
  RowMatrixXd y = x0;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  bias = nan;
  if (cfg.input_rows) bias = normalize(y, Center::none, Scale::layer, 0.0, 1.0, 0.0);
  const Embedding& e = cfg.embedding;
  const Eigen::Index n = y.rows(), d = y.cols();
  std::size_t slot = 0;
  if (e.position_std > 0) {
    if (fixed)
      y += (*fixed)[slot].topRows(n);
    else
      y += draw_embedding(n, d, e.position_std, seed, run, 0);
    ++slot;
  }
  if (e.shared_std > 0) {
    const RowMatrixXd shared = fixed ? (*fixed)[slot] : draw_embedding(1, d, e.shared_std, seed, run, 1);
    y.rowwise() += shared.row(0);
  }
  if (cfg.input_norm.any()) {
    bool finite = true;
    bias = normalize(y, cfg.input_norm.center, cfg.input_norm.scale, 0.0, 1.0, cfg.input_norm.eps, finite);
    if (!finite) return false;
  }
  if constexpr (std::is_same_v<T, double>)
    x.swap(y);
  else
    x = y.cast<T>();
  return x.allFinite();
}

/// The gain of a linear map whose input has d_in columns: gaussian init multiplies
/// W ~ N(0, 1/d_in) by op.gain; gpt2 wants weights of standard deviation op.gain (0.02, or
/// 0.02 / sqrt(2 L) for a projection into the residual stream), i.e. op.gain * sqrt(d_in).
inline double map_gain(const Config& cfg, double gain, Eigen::Index d_in) {
  return cfg.init != Init::gaussian ? gain * std::sqrt(static_cast<double>(d_in)) : gain;
}

}  // namespace detail

/// Simulate one run (global index `run`) of the program `prog` (cfg.program()) into row
/// `row` of `res`. If `fixed_w` is non-null the explicit (W, b) of every linear map (in
/// program order; attention's Q, K, V are three) are used instead of drawing them. If
/// `cancel` is non-null and becomes true, throws Cancelled before the next operation.
template <class T>
inline void simulate_run_as(const Config& cfg, const Program& prog, const RowMatrixXd& x0, std::uint64_t seed,
                            std::uint64_t run, Result& res, Eigen::Index row, const std::vector<RowMatrixXd>* fixed_w,
                            const std::vector<Eigen::RowVectorXd>* fixed_b, const std::atomic<bool>* cancel) {
  detail::RunState<T> st(cfg, res, row);
  const auto L = static_cast<Eigen::Index>(prog.blocks.size());
  const int S = cfg.recorded_stages();
  const bool sample_gram = cfg.sampler == Sampler::gram && !fixed_w;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  bool factored = false;  // st.factor holds the square root of the current x's Gram
  RowMatrix<T> skip, qm, km, vm, aside;
  // explicit weights: the embedding's matrices come first (Config::maps)
  const std::size_t embedded = (cfg.embedding.position_std > 0 ? 1 : 0) + (cfg.embedding.shared_std > 0 ? 1 : 0);

  if (!detail::input_layer(cfg, x0, seed, run, fixed_w, st.x,
                           res.norm_bias[static_cast<std::size_t>(row * res.layers)]))
    return st.diverge(0);
  const bool first_samples =
      !prog.blocks.empty() && !prog.blocks[0].ops.empty() &&
      (prog.blocks[0].ops[0].kind == OpKind::linear || prog.blocks[0].ops[0].kind == OpKind::attention);
  if (!st.gram_of(st.x, sample_gram && first_samples)) return st.diverge(0);
  factored = sample_gram && first_samples;
  for (int s = 0; s < S; ++s) st.record(0, s);

  // x <- gain * x W + b for map (op.map + offset, op.slot + offset) of block l, with the
  // map's gain (times `factor`: attention's qk_gain) and bias std
  const auto linear = [&](Eigen::Index l, const Op& op, std::uint64_t offset, Eigen::Index d_out, RowMatrix<T>& out,
                          double factor = 1.0, double bias = -1.0) {
    const Eigen::Index d_in = st.x.cols();
    const double gain = detail::map_gain(cfg, factor == 1.0 ? op.gain : op.gain * factor, d_in);
    if (fixed_w) {  // the weights as drawn: their gain is in W
      const std::size_t slot = op.slot + offset + embedded;
      if constexpr (std::is_same_v<T, double>)
        linear_weights(st.x, (*fixed_w)[slot], 1.0, (*fixed_b)[slot], out);
      else
        linear_weights(st.x, RowMatrix<T>((*fixed_w)[slot].template cast<T>()), 1.0, (*fixed_b)[slot], out);
      return true;
    }
    const std::uint64_t key = map_key(l, op.map + offset);
    Stream sb = Stream::derive(seed, run, key, Purpose::bias);
    const Eigen::RowVectorXd b = draw_bias(d_out, bias < 0 ? op.bias : bias, sb);
    Stream sw = Stream::derive(seed, run, key, Purpose::linear);
    if (cfg.sampler == Sampler::weights) {  // W drawn with its gain, as network_weights gives it
      if constexpr (std::is_same_v<T, double>) {
        const RowMatrixXd w = draw_weights(d_in, d_out, cfg.weights, sw, gain);
        linear_weights(st.x, w, 1.0, b, out);
      } else {
        linear_weights(st.x, draw_weights_as<T>(d_in, d_out, cfg.weights, sw, gain), 1.0, b, out);
      }
    } else {
      if (!factored) {
        if (!st.gram_of(st.x, true, false)) return false;
        factored = true;
      }
      linear_gram(st.factor, d_in, d_out, cfg.weights, gain, b, sw, st.buffer, out);
    }
    return true;
  };

  for (Eigen::Index l = 1; l <= L; ++l) {
    detail::check_cancel(cancel);
    const Block& block = prog.blocks[static_cast<std::size_t>(l - 1)];
    const auto k = static_cast<std::size_t>(l - 1);
    double& nb = res.norm_bias[static_cast<std::size_t>(row * res.layers + l)];
    if (!block.has_norm) nb = nan;
    if (cfg.stages && S > 0) {
      // stages this block does not have stay NaN
      for (int s = 0; s < S; ++s) {
        std::fill(res.metric_ptr(row, l, s), res.metric_ptr(row, l, s) + n_metrics, nan);
        if (cfg.grams) std::fill(res.gram_ptr(row, l, s), res.gram_ptr(row, l, s) + res.n * res.n, nan);
      }
    }
    for (const Op& op : block.ops) {
      detail::check_cancel(cancel);  // between operations: a block of a large network takes long
      switch (op.kind) {
        case OpKind::linear:
          if (!linear(l, op, 0, op.d_out, st.h)) return st.diverge(l);
          st.x.swap(st.h);
          factored = false;
          break;
        case OpKind::activation:
          // a non-finite input: relu(NaN) = 0 and tanh(inf) = 1 would hide it
          if (!cfg.act.apply(st.x.data(), static_cast<std::size_t>(st.x.size())) && op.check) return st.diverge(l);
          factored = false;
          break;
        case OpKind::normalize: {
          const double c_mf = op.mf && cfg.center == Center::mf ? cfg.mf_center[k] : 0.0;
          const double s_mf = op.mf && cfg.scale == Scale::mf ? cfg.mf_scale[k] : 1.0;
          bool finite = true;
          nb = normalize(st.x, op.norm.center, op.norm.scale, c_mf, s_mf, op.norm.eps, finite);
          if (!finite) return st.diverge(l);
          factored = false;
          break;
        }
        case OpKind::save:
          skip = st.x;
          break;
        case OpKind::add:
          if (op.alpha != 1.0) st.x *= static_cast<T>(op.alpha);
          if (op.skip != 1.0)
            st.x += static_cast<T>(op.skip) * skip;
          else
            st.x += skip;
          factored = false;
          break;
        case OpKind::attention: {
          const Eigen::Index d = st.x.cols();
          if (!linear(l, op, 0, d, qm, op.qk_gain, op.bias_qk) || !linear(l, op, 1, d, km, op.qk_gain, op.bias_qk) ||
              !linear(l, op, 2, d, vm))
            return st.diverge(l);
          if (op.rope_base > 0) {
            rotary(qm, op.heads, op.rope_base);
            rotary(km, op.heads, op.rope_base);
          }
          if (!attend(qm, km, vm, AttendSpec{op.heads, op.causal, op.centred, op.score}, st.h)) return st.diverge(l);
          st.x.swap(st.h);
          factored = false;
          break;
        }
        case OpKind::aside:  // a second map of the same x, which stays (and keeps its factor)
          if (!linear(l, op, 0, op.d_out, aside)) return st.diverge(l);
          break;
        case OpKind::gate:
          st.x.array() *= aside.array();
          factored = false;
          break;
        case OpKind::record:
          if (cfg.stages) {
            const bool keep = sample_gram && op.factor_next;
            if (!st.gram_of(st.x, keep, false)) return st.diverge(l);
            st.record(l, op.stage);
            factored = keep;
          }
          break;
        case OpKind::output: {
          // the block output: its Gram's diagonal sees every value
          const bool keep = sample_gram && op.factor_next;
          if (!st.gram_of(st.x, keep)) return st.diverge(l);
          st.record(l, cfg.stages ? op.stage : 0);
          factored = keep;
          if (res.collapsed_at[static_cast<std::size_t>(row)] < 0 && !(st.g.trace() > 0))
            res.collapsed_at[static_cast<std::size_t>(row)] = l;
          break;
        }
      }
    }
  }
}

/// Simulate one run (global index `run`) of the program `prog` (cfg.program()) into row
/// `row` of `res`, in cfg.precision (see simulate_run_as).
inline void simulate_run(const Config& cfg, const Program& prog, const RowMatrixXd& x0, std::uint64_t seed,
                         std::uint64_t run, Result& res, Eigen::Index row,
                         const std::vector<RowMatrixXd>* fixed_w = nullptr,
                         const std::vector<Eigen::RowVectorXd>* fixed_b = nullptr,
                         const std::atomic<bool>* cancel = nullptr) {
  if (cfg.precision == Precision::f32)
    simulate_run_as<float>(cfg, prog, x0, seed, run, res, row, fixed_w, fixed_b, cancel);
  else
    simulate_run_as<double>(cfg, prog, x0, seed, run, res, row, fixed_w, fixed_b, cancel);
}

/// simulate_run of cfg's own program.
inline void simulate_run(const Config& cfg, const RowMatrixXd& x0, std::uint64_t seed, std::uint64_t run, Result& res,
                         Eigen::Index row, const std::vector<RowMatrixXd>* fixed_w = nullptr,
                         const std::vector<Eigen::RowVectorXd>* fixed_b = nullptr,
                         const std::atomic<bool>* cancel = nullptr) {
  simulate_run(cfg, cfg.program(), x0, seed, run, res, row, fixed_w, fixed_b, cancel);
}

namespace detail {
/// The check of simulate()'s `runs` (shared with the bindings, which make it before their
/// memory check).
inline void check_runs(std::int64_t runs) {
  if (runs < 1) throw std::invalid_argument("runs must be >= 1; got " + std::to_string(runs));
}
}  // namespace detail

/// simulate() for a configuration its caller has validated against this batch
/// (cfg.validate(x0.rows(), x0.cols()), see config.hpp): checks runs and X's finiteness only.
inline Result simulate_validated(const Config& cfg, const RowMatrixXd& x0, std::uint64_t seed, std::int64_t run_offset,
                                 std::int64_t runs, int threads, const std::atomic<bool>* cancel = nullptr) {
  detail::check_runs(runs);
  if (!x0.allFinite()) throw std::invalid_argument("X must be finite");
  Result res(cfg, runs, x0.rows());
  const Program prog = cfg.program();
  const auto offset = static_cast<std::uint64_t>(run_offset);  // unsigned: wraps, never overflows
  detail::parallel_for(runs, resolve_threads(threads, runs), true, cancel, [&](std::int64_t r) {
    simulate_run(cfg, prog, x0, seed, offset + static_cast<std::uint64_t>(r), res, r, nullptr, nullptr, cancel);
  });
  return res;
}

/// Runs [run_offset, run_offset + runs) of the simulation with this seed, in parallel over
/// runs (run indices are taken modulo 2^64, the streams' key space), after validating cfg
/// against X (Config::validate). An exception inside a run is caught in the parallel region
/// and the first one is rethrown, as it was, after it. If `cancel` becomes true the remaining
/// runs are skipped and Cancelled is thrown.
inline Result simulate(const Config& cfg, const RowMatrixXd& x0, std::uint64_t seed, std::int64_t run_offset,
                       std::int64_t runs, int threads, const std::atomic<bool>* cancel = nullptr) {
  cfg.validate(x0.rows(), x0.cols());
  return simulate_validated(cfg, x0, seed, run_offset, runs, threads, cancel);
}

/// The explicit (W, b) of every matrix of run `run` (Config::maps: the embedding's, then every
/// linear map in program order; one per block for the plain MLP), exactly as sampler
/// 'weights' draws them: W with its gain (N(0, gain^2 / d_in), GPT-2's N(0, 0.02^2), ...),
/// so that x W + b is the map. The embedding's matrices have empty biases.
inline void network_weights(const Config& cfg, Eigen::Index d0, std::uint64_t seed, std::uint64_t run,
                            std::vector<RowMatrixXd>& ws, std::vector<Eigen::RowVectorXd>& bs,
                            const std::atomic<bool>* cancel = nullptr) {
  for (const MapShape& m : cfg.maps(d0)) {
    detail::check_cancel(cancel);
    const std::uint64_t key = map_key(static_cast<Eigen::Index>(m.block), m.map);
    if (m.block == 0) {  // an embedding matrix: m.bias is its standard deviation
      ws.push_back(detail::draw_embedding(m.d_in, m.d_out, m.bias, seed, run, m.map));
      bs.emplace_back();
      continue;
    }
    Stream sb = Stream::derive(seed, run, key, Purpose::bias);
    bs.push_back(draw_bias(m.d_out, m.bias, sb));
    Stream sw = Stream::derive(seed, run, key, Purpose::linear);
    ws.push_back(draw_weights(m.d_in, m.d_out, cfg.weights, sw, detail::map_gain(cfg, m.gain, m.d_in)));
  }
}

}  // namespace isoinit
