// The fused simulation kernel: many random MLPs at initialization on one batch, recording
// Gram metrics at every layer (and optionally every stage), in parallel over runs.
//
// One block (theory.md section 2), on the n x d_in batch X of unit-mean-square rows:
//   linear      H = gain * X W + 1 b^T                       (linear.hpp)
//   act-norm    A = sigma(H), X' = Scale(Center(A))          (activation.hpp, normalization.hpp)
//   norm-act    N = Scale(Center(H)), X' = sigma(N)
// Recorded stages, by name: "linear" = H, "activation" = sigma(.) output, "normalization" =
// Norm(.) output; the block output is the last one executed. Layer 0 is the input after
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
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#ifdef ISOINIT_HAVE_OPENMP
#include <omp.h>
#endif

#include "activation.hpp"
#include "kernels.hpp"
#include "linear.hpp"
#include "metrics.hpp"
#include "normalization.hpp"
#include "program.hpp"
#include "random.hpp"

namespace isoinit {

/// The arithmetic of the representations (float32 mode: see Config::precision).
enum class Precision { f64, f32 };

/// The stages of the plain MLP block, in the order of Program::stages.
enum Stage : int { stage_linear = 0, stage_activation = 1, stage_normalization = 2, n_stages = 3 };

struct Config {
  Activation act;
  Center center = Center::layer;
  Scale scale = Scale::layer;
  Order order = Order::act_norm;
  WeightKind weights = WeightKind::gaussian;
  Sampler sampler = Sampler::gram;
  double gain = 1.0;
  double bias = 0.0;
  double eps = 0.0;
  std::vector<Eigen::Index> widths;  // d_1..d_L
  std::vector<double> mf_center;     // per block, used when center == mf
  std::vector<double> mf_scale;      // per block, used when scale == mf
  bool stages = false;
  bool grams = false;
  MetricMask metrics = all_metrics;  // the metrics to compute (metric_bit(m_...) | ...); the others are NaN
  /// The blocks (program.hpp); empty for the plain MLP (one `mlp` block per width).
  std::vector<BlockSpec> blocks;
  Init init = Init::gaussian;
  /// float32: representations, linear maps and normals in float32; Grams and metrics in float64.
  Precision precision = Precision::f64;

  Eigen::Index depth() const { return static_cast<Eigen::Index>(widths.size()); }
  bool plain_mlp() const {
    for (const auto& b : blocks)
      if (b.kind != BlockKind::mlp) return false;
    return true;
  }
  /// The block program this configuration runs.
  Program program() const {
    std::vector<BlockSpec> specs = blocks;
    if (specs.empty()) {
      BlockSpec mlp;
      mlp.kind = BlockKind::mlp;
      specs.assign(widths.size(), mlp);
    }
    const double two_l = 2.0 * static_cast<double>(widths.size());
    const Gains g = init == Init::gpt2 ? Gains{0.02, 0.02 / std::sqrt(two_l)} : Gains{gain, gain};
    return compile(specs, widths, order, NormSpec{center, scale, eps}, center == Center::mf || scale == Scale::mf, g);
  }
  std::vector<std::string> stage_names() const { return program().stages; }
  int recorded_stages() const { return stages ? static_cast<int>(stage_names().size()) : 1; }

  void validate(Eigen::Index n, Eigen::Index d0) const {
    if (n < 2) throw std::invalid_argument("X must have n >= 2 rows; got n=" + std::to_string(n));
    if (d0 < 1) throw std::invalid_argument("X must have at least one column");
    if (widths.empty()) throw std::invalid_argument("depth must be >= 1");
    for (auto w : widths)
      if (w < 1) throw std::invalid_argument("width must be >= 1; got " + std::to_string(w));
    if (!(gain >= 0) || !std::isfinite(gain)) throw std::invalid_argument("gain must be finite and >= 0");
    if (!(bias >= 0) || !std::isfinite(bias)) throw std::invalid_argument("bias must be finite and >= 0");
    if (!(eps >= 0) || !std::isfinite(eps)) throw std::invalid_argument("eps must be finite and >= 0");
    const auto L = static_cast<std::size_t>(depth());
    if (center == Center::mf && mf_center.size() != L)
      throw std::invalid_argument("mf centering needs one constant per block");
    if (scale == Scale::mf) {
      if (mf_scale.size() != L) throw std::invalid_argument("mf scaling needs one constant per block");
      for (double c : mf_scale)
        if (!(c > 0) || !std::isfinite(c)) throw std::invalid_argument("mf scaling constants must be finite and > 0");
    }
    if (sampler == Sampler::gram && weights == WeightKind::orthogonal) {
      Eigen::Index d_in = d0;
      for (auto w : widths) {
        if (n > std::max(d_in, w))
          throw std::invalid_argument(
              "sampler 'gram' with orthogonal weights needs n <= max(d_in, d_out) at every block; use "
              "sampler='weights'");
        d_in = w;
      }
    }
    act.validate();
    if (!blocks.empty()) validate_blocks(n, d0);
    // configurations whose every run is degenerate by construction
    if (init == Init::gaussian && gain == 0 && bias == 0)
      throw std::invalid_argument(
          "gain must be > 0 when bias is 0; got gain=0 and bias=0: every pre-activation is 0, so no layer carries any "
          "information about the batch");
    if (center == Center::layer)
      for (std::size_t k = 0; k < widths.size(); ++k)
        if (widths[k] == 1)
          throw std::invalid_argument(
              "width must be >= 2 with layer centering (centering a single feature makes it 0); "
              "got width 1 at block " +
              std::to_string(k + 1));
    if (blocks.empty() && order == Order::act_norm && center != Center::none && act.is_constant())
      throw std::invalid_argument(
          "activation must not be constant with centering (center=layer, batch or mf subtracts the constant and "
          "leaves 0 at every block); got a constant activation (he0, or Hermite coefficients c_1.. all 0)");
  }

  /// The checks of a block network (blocks non-empty), naming the parameter.
  void validate_blocks(Eigen::Index n, Eigen::Index d0) const {
    if (blocks.size() != widths.size())
      throw std::invalid_argument("blocks must have one entry per width; got " + std::to_string(blocks.size()) +
                                  " blocks and " + std::to_string(widths.size()) + " widths");
    if (!plain_mlp() && (center == Center::mf || scale == Scale::mf))
      throw std::invalid_argument("norm 'mf' (mean-field constants) is only defined for a plain MLP");
    Eigen::Index d_in = d0;
    for (std::size_t k = 0; k < blocks.size(); ++k) {
      const BlockSpec& b = blocks[k];
      const std::string at = " (block " + std::to_string(k + 1) + ")";
      if (b.kind != BlockKind::mlp && widths[k] != d_in)
        throw std::invalid_argument(
            "width must equal the width of the block's input for residual and attention "
            "blocks (the residual stream keeps its width); got width " +
            std::to_string(widths[k]) + " after width " + std::to_string(d_in) + at);
      if (!std::isfinite(b.alpha)) throw std::invalid_argument("alpha must be finite" + at);
      if (b.kind == BlockKind::feedforward || b.kind == BlockKind::transformer)
        if (!b.one_layer &&
            (!(b.ratio > 0) || !std::isfinite(b.ratio) || std::llround(b.ratio * double(widths[k])) < 1))
          throw std::invalid_argument("ratio must be > 0 (hidden width ratio * width >= 1); got " +
                                      std::to_string(b.ratio) + at);
      if (b.kind == BlockKind::attention || b.kind == BlockKind::transformer) {
        if (b.heads < 1 || widths[k] % b.heads != 0)
          throw std::invalid_argument("heads must be >= 1 and divide the width; got heads=" + std::to_string(b.heads) +
                                      " and width=" + std::to_string(widths[k]) + at);
      } else if (b.causal) {
        throw std::invalid_argument("causal applies to attention and transformer blocks only" + at);
      }
      if (b.kind != BlockKind::mlp) {
        if (b.norm.center == Center::mf || b.norm.scale == Scale::mf)
          throw std::invalid_argument("norm 'mf' is only defined for plain MLP blocks" + at);
        if (!(b.norm.eps >= 0) || !std::isfinite(b.norm.eps))
          throw std::invalid_argument("eps must be finite and >= 0" + at);
        if (b.norm.center == Center::layer && widths[k] == 1)
          throw std::invalid_argument("width must be >= 2 with layer centering" + at);
      }
      d_in = widths[k];
    }
    if (sampler == Sampler::gram && weights == WeightKind::orthogonal) {
      const Program prog = program();
      Eigen::Index cur = d0;
      for (const Block& block : prog.blocks)
        for (const Op& op : block.ops) {
          if (op.kind == OpKind::linear) {
            if (n > std::max(cur, op.d_out))
              throw std::invalid_argument(
                  "sampler 'gram' with orthogonal weights needs n <= max(d_in, d_out) at every linear map; got n=" +
                  std::to_string(n) + " for a map of width " + std::to_string(cur) + " -> " + std::to_string(op.d_out) +
                  "; use sampler='weights'");
            cur = op.d_out;
          } else if (op.kind == OpKind::attention && n > cur) {
            throw std::invalid_argument(
                "sampler 'gram' with orthogonal weights needs n <= the width at attention maps; use sampler='weights'");
          }
        }
    }
  }
};

/// Thrown by the kernel when its cancellation flag is set (the caller asked it to stop).
struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("isoinit: computation cancelled") {}
};

namespace detail {
inline void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
}

/// body(i) for i in [0, count), on `threads` OpenMP threads when `parallel` (dynamic, one
/// index at a time), after a cancellation check each. An exception of a body (or the
/// cancellation) is caught inside the parallel region, the remaining indices are skipped, and
/// the first exception is rethrown, as it was, after the region.
template <class F>
inline void parallel_for(std::int64_t count, int threads, bool parallel, const std::atomic<bool>* cancel, F&& body) {
  (void)threads;
  (void)parallel;
  std::exception_ptr error;
  std::atomic<bool> failed{false};
#ifdef ISOINIT_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) if (parallel) num_threads(threads)
#endif
  for (std::int64_t i = 0; i < count; ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    try {
      check_cancel(cancel);
      body(i);
    } catch (...) {
#ifdef ISOINIT_HAVE_OPENMP
#pragma omp critical(isoinit_error)
#endif
      {
        if (!error) error = std::current_exception();
      }
      failed.store(true, std::memory_order_relaxed);
    }
  }
  if (error) std::rethrow_exception(error);
}
}  // namespace detail

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

/// Layer 0: the input with rows scaled to mean square 1 (layer scaling without centering),
/// in float64, then rounded to the representation's precision.
template <class T>
inline void scale_input_rows(const RowMatrixXd& x0, RowMatrix<T>& x, double& bias) {
  if constexpr (std::is_same_v<T, double>) {
    x = x0;
    bias = normalize(x, Center::none, Scale::layer, 0.0, 1.0, 0.0);
  } else {
    RowMatrixXd y = x0;
    bias = normalize(y, Center::none, Scale::layer, 0.0, 1.0, 0.0);
    x = y.cast<T>();
  }
}

}  // namespace detail

namespace detail {

/// The gain of a linear map whose input has d_in columns: gaussian init multiplies
/// W ~ N(0, 1/d_in) by op.gain; gpt2 wants weights of standard deviation op.gain (0.02, or
/// 0.02 / sqrt(2 L) for a projection into the residual stream), i.e. op.gain * sqrt(d_in).
inline double map_gain(const Config& cfg, const Op& op, Eigen::Index d_in) {
  return cfg.init == Init::gpt2 ? op.gain * std::sqrt(static_cast<double>(d_in)) : op.gain;
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
  RowMatrix<T> skip, qm, km, vm;

  detail::scale_input_rows(x0, st.x, res.norm_bias[static_cast<std::size_t>(row * res.layers)]);
  const bool first_samples =
      !prog.blocks.empty() && !prog.blocks[0].ops.empty() &&
      (prog.blocks[0].ops[0].kind == OpKind::linear || prog.blocks[0].ops[0].kind == OpKind::attention);
  if (!st.gram_of(st.x, sample_gram && first_samples)) return st.diverge(0);
  factored = sample_gram && first_samples;
  for (int s = 0; s < S; ++s) st.record(0, s);

  // x <- gain * x W + b for map (op.map + offset, op.slot + offset) of block l
  const auto linear = [&](Eigen::Index l, const Op& op, std::uint64_t offset, Eigen::Index d_out, RowMatrix<T>& out) {
    const Eigen::Index d_in = st.x.cols();
    const double gain = detail::map_gain(cfg, op, d_in);
    if (fixed_w) {
      const std::size_t slot = op.slot + offset;
      if constexpr (std::is_same_v<T, double>)
        linear_weights(st.x, (*fixed_w)[slot], gain, (*fixed_b)[slot], out);
      else
        linear_weights(st.x, RowMatrix<T>((*fixed_w)[slot].template cast<T>()), gain, (*fixed_b)[slot], out);
      return true;
    }
    const std::uint64_t key = map_key(l, op.map + offset);
    Stream sb = Stream::derive(seed, run, key, Purpose::bias);
    const Eigen::RowVectorXd b = draw_bias(d_out, cfg.bias, sb);
    Stream sw = Stream::derive(seed, run, key, Purpose::linear);
    if (cfg.sampler == Sampler::weights) {
      if constexpr (std::is_same_v<T, double>) {
        const RowMatrixXd w = draw_weights(d_in, d_out, cfg.weights, sw);
        linear_weights(st.x, w, gain, b, out);
      } else {
        linear_weights(st.x, draw_weights_as<T>(d_in, d_out, cfg.weights, sw), gain, b, out);
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
          st.x += skip;
          factored = false;
          break;
        case OpKind::attention: {
          const Eigen::Index d = st.x.cols();
          if (!linear(l, op, 0, d, qm) || !linear(l, op, 1, d, km) || !linear(l, op, 2, d, vm)) return st.diverge(l);
          if (!attend(qm, km, vm, op.heads, op.causal, st.h)) return st.diverge(l);
          st.x.swap(st.h);
          factored = false;
          break;
        }
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

/// Number of threads the kernel uses for `requested` threads (<= 0: the OpenMP default) and
/// `tasks` independent tasks (runs): never more than the tasks, nor than the processors
/// OpenMP sees (omp_get_num_procs), nor less than 1. Without OpenMP, 1.
inline int resolve_threads(int requested, std::int64_t tasks = std::numeric_limits<std::int64_t>::max()) {
#ifdef ISOINIT_HAVE_OPENMP
  const int procs = std::max(1, omp_get_num_procs());
  std::int64_t t = requested > 0 ? requested : omp_get_max_threads();
  t = std::min<std::int64_t>({t, procs, std::max<std::int64_t>(tasks, 1)});
  return static_cast<int>(std::max<std::int64_t>(t, 1));
#else
  (void)requested;
  (void)tasks;
  return 1;
#endif
}

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
  for (const MapShape& map : map_shapes(cfg.program(), d0)) {
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

/// Runs [run_offset, run_offset + runs) of the simulation with this seed, in parallel over
/// runs (run indices are taken modulo 2^64, the streams' key space). An exception inside a
/// run is caught in the parallel region and the first one is rethrown, as it was, after it.
/// If `cancel` becomes true the remaining runs are skipped and Cancelled is thrown.
inline Result simulate(const Config& cfg, const RowMatrixXd& x0, std::uint64_t seed, std::int64_t run_offset,
                       std::int64_t runs, int threads, const std::atomic<bool>* cancel = nullptr) {
  cfg.validate(x0.rows(), x0.cols());
  if (runs < 1) throw std::invalid_argument("runs must be >= 1; got " + std::to_string(runs));
  if (!x0.allFinite()) throw std::invalid_argument("X must be finite");
  Result res(cfg, runs, x0.rows());
  const Program prog = cfg.program();
  const auto offset = static_cast<std::uint64_t>(run_offset);  // unsigned: wraps, never overflows
  detail::parallel_for(runs, resolve_threads(threads, runs), true, cancel, [&](std::int64_t r) {
    simulate_run(cfg, prog, x0, seed, offset + static_cast<std::uint64_t>(r), res, r, nullptr, nullptr, cancel);
  });
  return res;
}

/// The explicit (W, b) of every linear map of run `run` (program order; one per block for the
/// plain MLP), exactly as sampler 'weights' draws them. W is drawn as N(0, 1/d_in) or
/// orthogonal, without the map's gain, which the forward pass applies (as sampler 'weights').
inline void network_weights(const Config& cfg, Eigen::Index d0, std::uint64_t seed, std::uint64_t run,
                            std::vector<RowMatrixXd>& ws, std::vector<Eigen::RowVectorXd>& bs,
                            const std::atomic<bool>* cancel = nullptr) {
  for (const MapShape& m : map_shapes(cfg.program(), d0)) {
    detail::check_cancel(cancel);
    const std::uint64_t key = map_key(static_cast<Eigen::Index>(m.block + 1), m.map);
    Stream sb = Stream::derive(seed, run, key, Purpose::bias);
    bs.push_back(draw_bias(m.d_out, cfg.bias, sb));
    Stream sw = Stream::derive(seed, run, key, Purpose::linear);
    ws.push_back(draw_weights(m.d_in, m.d_out, cfg.weights, sw));
  }
}

}  // namespace isoinit
