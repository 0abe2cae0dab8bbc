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
#pragma once

#include <Eigen/Dense>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef ISOINIT_HAVE_OPENMP
#include <omp.h>
#endif

#include "activation.hpp"
#include "kernels.hpp"
#include "linear.hpp"
#include "metrics.hpp"
#include "normalization.hpp"
#include "random.hpp"

namespace isoinit {

enum class Order { act_norm, norm_act };
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

  Eigen::Index depth() const { return static_cast<Eigen::Index>(widths.size()); }
  int recorded_stages() const { return stages ? n_stages : 1; }

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
  }
};

/// Results for runs [0, runs): arrays in C order.
struct Result {
  Eigen::Index runs = 0, layers = 0, stages = 1, n = 0;
  std::vector<double> metrics;            // runs x layers x stages x n_metrics
  std::vector<double> norm_bias;          // runs x layers
  std::vector<double> grams;              // runs x layers x stages x n x n (when requested)
  std::vector<std::int64_t> diverged_at;  // runs; -1 when the run never overflowed

  Result(const Config& cfg, Eigen::Index runs_, Eigen::Index n_)
      : runs(runs_), layers(cfg.depth() + 1), stages(cfg.recorded_stages()), n(n_) {
    metrics.assign(static_cast<std::size_t>(runs * layers * stages * n_metrics), 0.0);
    norm_bias.assign(static_cast<std::size_t>(runs * layers), 0.0);
    if (cfg.grams) grams.assign(static_cast<std::size_t>(runs * layers * stages * n * n), 0.0);
    diverged_at.assign(static_cast<std::size_t>(runs), -1);
  }
  double* metric_ptr(Eigen::Index r, Eigen::Index l, int s) {
    return metrics.data() + ((r * layers + l) * stages + s) * n_metrics;
  }
  double* gram_ptr(Eigen::Index r, Eigen::Index l, int s) {
    return grams.data() + ((r * layers + l) * stages + s) * n * n;
  }
};

namespace detail {

/// Per-run working state: the current representation and its Gram.
struct RunState {
  const Config& cfg;
  Result& res;
  Eigen::Index r;  // row in the result
  RowMatrixXd x, h;
  std::vector<double> buffer;  // one column block of normals
  MatrixXd g;
  GramEigen eig;

  RunState(const Config& c, Result& rs, Eigen::Index row) : cfg(c), res(rs), r(row) {}

  /// Gram X X^T / d of m into g, and its eigendecomposition (vectors if needed later).
  void gram_of(const RowMatrixXd& m, bool vectors) {
    kernels::gram(m, g);
    eig.compute(g, vectors);
  }

  void record(Eigen::Index l, int s) {
    gram_metrics(g, eig, res.metric_ptr(r, l, s));
    if (cfg.grams) Eigen::Map<MatrixXd>(res.gram_ptr(r, l, s), g.rows(), g.cols()) = g;
  }

  /// Record m (a stage of layer l) if stages are recorded; returns false if m overflowed.
  /// Without stages overflow shows in the Gram of the block output: inf or NaN propagates
  /// through every normalization, and H itself cannot overflow when its input's Gram is finite.
  bool stage(const RowMatrixXd& m, Eigen::Index l, int s) {
    if (cfg.stages) {
      gram_of(m, false);
      if (!eig.finite) return false;
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

/// Layer 0: the input with rows scaled to mean square 1 (layer scaling without centering).
inline void scale_input_rows(const RowMatrixXd& x0, RowMatrixXd& x, double& bias) {
  x = x0;
  bias = normalize(x, Center::none, Scale::layer, 0.0, 1.0, 0.0);
}

}  // namespace detail

/// Simulate one run (global index `run`) into row `row` of `res`. If `weights` is
/// non-null the explicit per-block (W, b) are used instead of drawing them.
inline void simulate_run(const Config& cfg, const RowMatrixXd& x0, std::uint64_t seed, std::uint64_t run, Result& res,
                         Eigen::Index row, const std::vector<RowMatrixXd>* fixed_w = nullptr,
                         const std::vector<Eigen::RowVectorXd>* fixed_b = nullptr) {
  detail::RunState st(cfg, res, row);
  const Eigen::Index L = cfg.depth();
  const int S = cfg.recorded_stages();
  const int out_stage = !cfg.stages ? 0 : (cfg.order == Order::act_norm ? stage_normalization : stage_activation);
  const bool want_vectors = cfg.sampler == Sampler::gram && !fixed_w;

  detail::scale_input_rows(x0, st.x, res.norm_bias[static_cast<std::size_t>(row * res.layers)]);
  st.gram_of(st.x, want_vectors);
  for (int s = 0; s < S; ++s) st.record(0, s);

  for (Eigen::Index l = 1; l <= L; ++l) {
    const Eigen::Index d_in = st.x.cols(), d_out = cfg.widths[static_cast<std::size_t>(l - 1)];
    const auto k = static_cast<std::size_t>(l - 1);
    // linear
    if (fixed_w) {
      linear_weights(st.x, (*fixed_w)[k], cfg.gain, (*fixed_b)[k], st.h);
    } else {
      Stream sb = Stream::derive(seed, run, static_cast<std::uint64_t>(l), Purpose::bias);
      const Eigen::RowVectorXd b = draw_bias(d_out, cfg.bias, sb);
      Stream sw = Stream::derive(seed, run, static_cast<std::uint64_t>(l), Purpose::linear);
      if (cfg.sampler == Sampler::weights) {
        const RowMatrixXd w = draw_weights(d_in, d_out, cfg.weights, sw);
        linear_weights(st.x, w, cfg.gain, b, st.h);
      } else {
        linear_gram(st.eig, d_in, d_out, cfg.weights, cfg.gain, b, sw, st.buffer, st.h);
      }
    }
    if (!st.stage(st.h, l, stage_linear)) return st.diverge(l);
    const double c_mf = cfg.center == Center::mf ? cfg.mf_center[k] : 0.0;
    const double s_mf = cfg.scale == Scale::mf ? cfg.mf_scale[k] : 1.0;
    double& nb = res.norm_bias[static_cast<std::size_t>(row * res.layers + l)];
    if (cfg.order == Order::act_norm) {
      cfg.act.apply(st.h.data(), static_cast<std::size_t>(st.h.size()));
      if (!st.stage(st.h, l, stage_activation)) return st.diverge(l);
      nb = normalize(st.h, cfg.center, cfg.scale, c_mf, s_mf, cfg.eps);
    } else {
      nb = normalize(st.h, cfg.center, cfg.scale, c_mf, s_mf, cfg.eps);
      if (!st.stage(st.h, l, stage_normalization)) return st.diverge(l);
      cfg.act.apply(st.h.data(), static_cast<std::size_t>(st.h.size()));
    }
    st.x.swap(st.h);
    st.gram_of(st.x, want_vectors && l < L);
    if (!st.eig.finite) return st.diverge(l);
    st.record(l, out_stage);
  }
}

/// Number of threads the kernel would use for `requested` (<= 0: the OpenMP default).
inline int resolve_threads(int requested) {
#ifdef ISOINIT_HAVE_OPENMP
  return requested > 0 ? requested : omp_get_max_threads();
#else
  (void)requested;
  return 1;
#endif
}

/// Runs [run_offset, run_offset + runs) of the simulation with this seed, in parallel.
inline Result simulate(const Config& cfg, const RowMatrixXd& x0, std::uint64_t seed, std::int64_t run_offset,
                       std::int64_t runs, int threads) {
  cfg.validate(x0.rows(), x0.cols());
  if (runs < 1) throw std::invalid_argument("runs must be >= 1; got " + std::to_string(runs));
  if (!x0.allFinite()) throw std::invalid_argument("X must be finite");
  Result res(cfg, runs, x0.rows());
  std::string error;
  bool failed = false;
  const int nt = resolve_threads(threads);
  (void)nt;
#ifdef ISOINIT_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
#endif
  for (std::int64_t r = 0; r < runs; ++r) {
    try {
      simulate_run(cfg, x0, seed, static_cast<std::uint64_t>(run_offset + r), res, r);
    } catch (const std::exception& ex) {
#ifdef ISOINIT_HAVE_OPENMP
#pragma omp critical(isoinit_error)
#endif
      {
        if (!failed) error = ex.what();
        failed = true;
      }
    } catch (...) {
#ifdef ISOINIT_HAVE_OPENMP
#pragma omp critical(isoinit_error)
#endif
      {
        if (!failed) error = "unknown error in the simulation kernel";
        failed = true;
      }
    }
  }
  if (failed) throw std::runtime_error(error);
  return res;
}

/// The explicit (W, b) of every block of run `run`, exactly as sampler 'weights' draws them.
inline void network_weights(const Config& cfg, Eigen::Index d0, std::uint64_t seed, std::uint64_t run,
                            std::vector<RowMatrixXd>& ws, std::vector<Eigen::RowVectorXd>& bs) {
  Eigen::Index d_in = d0;
  for (Eigen::Index l = 1; l <= cfg.depth(); ++l) {
    const Eigen::Index d_out = cfg.widths[static_cast<std::size_t>(l - 1)];
    Stream sb = Stream::derive(seed, run, static_cast<std::uint64_t>(l), Purpose::bias);
    bs.push_back(draw_bias(d_out, cfg.bias, sb));
    Stream sw = Stream::derive(seed, run, static_cast<std::uint64_t>(l), Purpose::linear);
    ws.push_back(draw_weights(d_in, d_out, cfg.weights, sw));
    d_in = d_out;
  }
}

}  // namespace isoinit
