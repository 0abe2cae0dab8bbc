// The configuration of a simulation (Config) and its validation (Config::validate).
//
// Where validation happens: Config::validate(n, d0) is the one check of a configuration
// against an n x d0 batch. isoinit::simulate() (simulate.hpp) calls it before any work, so a
// Config built by hand is checked; a caller that has validated the Config itself (the Python
// bindings, which check it before estimating the call's memory) enters through
// simulate_validated() instead, so that every call validates once. simulate_run() and
// network_weights() leave validation to their caller.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "activation.hpp"
#include "linear.hpp"
#include "metrics.hpp"
#include "normalization.hpp"
#include "program.hpp"

namespace isoinit {

/// The arithmetic of the representations (float32 mode: see Config::precision).
enum class Precision { f64, f32 };

/// One network configuration: the activation, the normalization, the weights and their
/// sampler, the widths (or blocks), and what a simulation records.
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
  /// Layer 0: the input's rows scaled to mean square 1 first (the paper's protocol, the MLP's
  /// default), or the input as given (block networks: the residual stream carries its scale).
  bool input_rows = true;
  /// Layer 0: then the embedding added, then this norm (BERT's embedding layer norm; eps too).
  Embedding embedding;
  NormSpec input_norm{Center::none, Scale::none, 0.0};

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
    const Gains g = init == Init::gpt2     ? Gains{0.02, 0.02 / std::sqrt(two_l), bias}
                    : init == Init::normal ? Gains{0.02, 0.02, bias}
                                           : Gains{gain, gain, bias};
    return compile(specs, widths, order, NormSpec{center, scale, eps}, center == Center::mf || scale == Scale::mf, g);
  }
  std::vector<std::string> stage_names() const { return program().stages; }
  /// The blocks' kinds (every block `mlp` for the plain MLP).
  std::vector<BlockKind> kinds() const {
    std::vector<BlockKind> out;
    for (const auto& b : blocks) out.push_back(b.kind);
    return out;
  }
  /// The explicit matrices of the network for input width d0: the embedding's, then every
  /// linear map's, in program order (program.hpp, map_shapes).
  std::vector<MapShape> maps(Eigen::Index d0) const { return map_shapes(program(), d0, embedding, kinds()); }
  std::vector<MapShape> maps(const Program& prog, Eigen::Index d0) const {
    return map_shapes(prog, d0, embedding, kinds());
  }
  int recorded_stages() const { return stages ? static_cast<int>(stage_names().size()) : 1; }

  /// Throw std::invalid_argument, naming the parameter, if this configuration cannot run on an
  /// n x d0 batch, or if every run of it would be degenerate by construction.
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
    act.validate();
    if (!blocks.empty()) validate_blocks(d0);
    for (double v : {embedding.position_std, embedding.shared_std, input_norm.eps})
      if (!(v >= 0) || !std::isfinite(v))
        throw std::invalid_argument(
            "position and shared embedding stds and the input norm's eps must be finite and >= 0");
    if (embedding.position_std > 0 && n > embedding.positions)
      throw std::invalid_argument("X must have at most max_positions=" + std::to_string(embedding.positions) +
                                  " rows (tokens) with learned positions; got n=" + std::to_string(n));
    if (input_norm.center == Center::mf || input_norm.scale == Scale::mf || input_norm.center == Center::batch ||
        input_norm.scale == Scale::batch)
      throw std::invalid_argument("input_norm must be 'layer', 'rms', 'center' or 'none'");
    if (sampler == Sampler::gram) {
      const std::string why = gram_refusal(n, d0);
      if (!why.empty()) throw std::invalid_argument(why);
    }
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
  void validate_blocks(Eigen::Index d0) const {
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
      for (double v : {b.skip, b.qk_gain})
        if (!std::isfinite(v)) throw std::invalid_argument("skip and qk_gain must be finite" + at);
      if (!(b.qk_gain >= 0)) throw std::invalid_argument("qk_gain must be >= 0" + at);
      if (!std::isfinite(b.rope_base) || b.rope_base < 0 || (b.rope_base > 0 && b.rope_base <= 1))
        throw std::invalid_argument("rope_base must be 0 (no rotary embeddings) or > 1" + at);
      for (double v : {b.bias_qk, b.bias_v, b.bias_out, b.bias_mlp})
        if (!std::isfinite(v)) throw std::invalid_argument("biases must be finite" + at);
      if (b.gated && (b.one_layer || (b.kind != BlockKind::feedforward && b.kind != BlockKind::transformer)))
        throw std::invalid_argument("gated applies to two-layer feedforward and transformer blocks only" + at);
      if (b.kind == BlockKind::attention || b.kind == BlockKind::transformer) {
        if (b.heads < 1 || widths[k] % b.heads != 0)
          throw std::invalid_argument("heads must be >= 1 and divide the width; got heads=" + std::to_string(b.heads) +
                                      " and width=" + std::to_string(widths[k]) + at);
        if (b.rope_base > 0 && (widths[k] / b.heads) % 2 != 0)
          throw std::invalid_argument("rotary embeddings need an even head width (width / heads); got " +
                                      std::to_string(widths[k] / b.heads) + at);
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
  }

  /// Why sampler 'gram' cannot run this configuration on a batch of n rows and d0 columns,
  /// or "" if it can: with orthogonal weights its Haar frame needs n <= max(d_in, d_out) at
  /// every linear map, and n <= the width at attention maps.
  std::string gram_refusal(Eigen::Index n, Eigen::Index d0) const {
    if (weights != WeightKind::orthogonal) return "";
    Eigen::Index cur = d0;
    for (const Block& block : program().blocks)
      for (const Op& op : block.ops) {
        if (op.kind == OpKind::linear) {
          if (n > std::max(cur, op.d_out))
            return "sampler 'gram' with orthogonal weights needs n <= max(d_in, d_out) at every linear map; got n=" +
                   std::to_string(n) + " for a map of width " + std::to_string(cur) + " -> " +
                   std::to_string(op.d_out) + "; use sampler='weights'";
          cur = op.d_out;
        } else if (op.kind == OpKind::attention && n > cur) {
          return "sampler 'gram' with orthogonal weights needs n <= the width at attention maps; use "
                 "sampler='weights'";
        }
      }
    return "";
  }
};

}  // namespace isoinit
