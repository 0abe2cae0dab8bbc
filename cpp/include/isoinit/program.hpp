// Networks as block programs: what the kernel executes, one run at a time.
//
// A network is a sequence of blocks (BlockSpec: the plain MLP block, a residual MLP block, a
// self-attention block, a transformer block), each compiled to a short list of operations
// (Op) over one working matrix `x` (n x width) and one saved copy of the residual stream:
//   linear      x <- gain * x W + 1 b^T   (W drawn explicitly, or x W drawn from x's Gram)
//   activation  x <- sigma(x)
//   normalize   x <- Scale(Center(x))
//   save        stream <- x
//   add         x <- stream + alpha * x
//   attention   x <- [softmax(Q_h K_h^T / sqrt(d_h)) V_h]_h  (Q, K, V three linear maps of x)
//   record      the Gram metrics of x at a named stage
//   output      the block output: its Gram metrics, the divergence and collapse checks
// Every linear map has its own streams: map m of block l draws from (seed, run, l + m 2^40);
// the plain MLP block has one map (m = 0), so its streams are those of the MLP kernel.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "normalization.hpp"
#include "types.hpp"

namespace isoinit {

enum class Order { act_norm, norm_act };
/// Weight initialization: "gaussian" (every weight N(0, gain^2 / d_in)) or GPT-2's (every
/// weight N(0, 0.02^2), the projections into the residual stream scaled by 1/sqrt(2 L)).
enum class Init { gaussian, gpt2 };
/// Where a block's normalization sits: before its branch (pre-norm), after the residual sum
/// (post-norm), or nowhere.
enum class Position { pre, post, none };
enum class BlockKind { mlp, feedforward, attention, transformer };

struct NormSpec {
  Center center = Center::layer;
  Scale scale = Scale::layer;
  double eps = 0.0;
  bool any() const { return center != Center::none || scale != Scale::none; }
};

/// One block as declared. `mlp` is the plain MLP block (Config's center, scale, order, gain,
/// bias, weights); the others keep the width of their input (the residual stream).
struct BlockSpec {
  BlockKind kind = BlockKind::feedforward;
  Position position = Position::pre;
  NormSpec norm;
  bool residual = true;     // X + alpha * f(...) (feedforward, attention; transformer: both halves)
  double alpha = 1.0;       // residual scale
  double ratio = 4.0;       // hidden width / width (feedforward, transformer)
  bool one_layer = false;   // feedforward: f(U) = sigma(Lin(U)) instead of Lin2(sigma(Lin1(U)))
  int heads = 1;            // attention, transformer
  bool causal = false;      // attention, transformer: token i attends to tokens j <= i
  bool final_norm = false;  // apply the block's norm once more at its end (GPT-2's ln_f)
};

enum class OpKind { linear, activation, normalize, save, add, attention, record, output };

struct Op {
  OpKind kind = OpKind::record;
  // linear: output width and gain (gaussian init: x W with W ~ N(0, 1/d_in) times `gain`;
  // gpt2: `gain` is the multiple of 0.02 of the weights' standard deviation); `map` the map's
  // index in its block (its streams); `slot` its index among the network's maps (explicit
  // weights). attention: maps map, map + 1, map + 2 and slots slot.. are Q, K, V, each with `gain`.
  Eigen::Index d_out = 0;
  double gain = 1.0;
  std::uint64_t map = 0;
  std::size_t slot = 0;
  NormSpec norm;             // normalize
  bool mf = false;           // normalize: with the MLP's mean-field constants of this block
  double alpha = 1.0;        // add
  int heads = 1;             // attention
  bool causal = false;       // attention
  int stage = 0;             // record, output: index in Program::stages
  bool check = true;         // activation: a non-finite input diverges the run
  bool factor_next = false;  // record, output: the next op samples from this Gram
};

struct Block {
  std::vector<Op> ops;
  bool has_norm = false;
};

struct Program {
  std::vector<Block> blocks;
  std::vector<std::string> stages;  // the union of the blocks' stage names, in order of appearance
  std::size_t maps = 0;             // linear maps in the network (attention counts 3)
};

/// The explicit shape of linear map `slot`: (d_in, d_out) for input width d0.
struct MapShape {
  Eigen::Index d_in = 0, d_out = 0;
  std::size_t block = 0;
  std::uint64_t map = 0;
  double gain = 1.0;
};

/// Key of map m of block l in the stream derivation (Stream::derive's layer argument).
inline std::uint64_t map_key(Eigen::Index l, std::uint64_t m) { return static_cast<std::uint64_t>(l) + (m << 40); }

namespace detail {

/// Builds one block's ops; `mark` names the point just made, and the last mark of a block
/// becomes its output.
struct BlockBuilder {
  Program& prog;
  Block block;
  std::vector<Op>& ops = block.ops;

  explicit BlockBuilder(Program& p) : prog(p) {}

  int stage_index(const std::string& name) {
    for (std::size_t k = 0; k < prog.stages.size(); ++k)
      if (prog.stages[k] == name) return static_cast<int>(k);
    prog.stages.push_back(name);
    return static_cast<int>(prog.stages.size() - 1);
  }
  void mark(const std::string& name) {
    Op op;
    op.kind = OpKind::record;
    op.stage = stage_index(name);
    ops.push_back(op);
  }
  void linear(Eigen::Index d_out, double gain, std::uint64_t map) {
    Op op;
    op.kind = OpKind::linear;
    op.d_out = d_out;
    op.gain = gain;
    op.map = map;
    op.slot = prog.maps++;
    ops.push_back(op);
  }
  void activation(bool check = true) {
    Op op;
    op.kind = OpKind::activation;
    op.check = check;
    ops.push_back(op);
  }
  void normalize(const NormSpec& norm, bool mf = false) {
    Op op;
    op.kind = OpKind::normalize;
    op.norm = norm;
    op.mf = mf;
    ops.push_back(op);
    block.has_norm = true;
  }
  void simple(OpKind kind, double alpha = 1.0) {
    Op op;
    op.kind = kind;
    op.alpha = alpha;
    ops.push_back(op);
  }
  void attention(int heads, bool causal, double gain, std::uint64_t map) {
    Op op;
    op.kind = OpKind::attention;
    op.gain = gain;  // of each of Q, K, V
    op.heads = heads;
    op.causal = causal;
    op.map = map;
    op.slot = prog.maps;
    prog.maps += 3;
    ops.push_back(op);
  }
  /// The last record becomes the block's output.
  Block finish() {
    for (auto it = ops.rbegin(); it != ops.rend(); ++it)
      if (it->kind == OpKind::record) {
        it->kind = OpKind::output;
        break;
      }
    return std::move(block);
  }
};

struct Names {
  const char* norm;
  const char* branch;
  const char* resid;
};

/// One residual half-block: [save] [pre-norm] branch [add] [post-norm]; `branch` emits the
/// branch's ops and marks.
template <class Branch>
void residual_half(BlockBuilder& b, const BlockSpec& s, const Names& names, Branch branch) {
  if (s.residual) b.simple(OpKind::save);
  if (s.position == Position::pre && s.norm.any()) {
    b.normalize(s.norm);
    b.mark(names.norm);
  }
  branch();
  b.mark(names.branch);
  if (s.residual) {
    b.simple(OpKind::add, s.alpha);
    b.mark(names.resid);
  }
  if (s.position == Position::post && s.norm.any()) {
    b.normalize(s.norm);
    b.mark(names.norm);
  }
}

}  // namespace detail

/// The stages of the plain MLP block, in the order of Program::stages (a Result's stage axis
/// for a plain MLP): after the linear map, after the activation, after the normalization.
inline constexpr const char* mlp_stages[] = {"linear", "activation", "normalization"};

/// The gains of one block's maps: gaussian: `gain` (W ~ N(0, 1/d_in) times gain); gpt2:
/// multiples of 0.02 (the projections into the residual stream, `out`, by 1/sqrt(2 L)).
struct Gains {
  double in = 1.0, out = 1.0;
};

/// Compile the blocks to a program. `mlp` describes the plain MLP blocks (order, norm, mf).
inline Program compile(const std::vector<BlockSpec>& specs, const std::vector<Eigen::Index>& widths, Order order,
                       const NormSpec& mlp_norm, bool mlp_mf, const Gains& gains) {
  Program prog;
  for (std::size_t k = 0; k < specs.size(); ++k) {
    const BlockSpec& s = specs[k];
    const Eigen::Index d = widths[k];
    detail::BlockBuilder b(prog);
    const auto ffn = [&](std::uint64_t map) {
      if (s.one_layer) {
        b.linear(d, gains.in, map);
        b.activation();
        return;
      }
      const auto hidden = static_cast<Eigen::Index>(std::llround(s.ratio * static_cast<double>(d)));
      b.linear(std::max<Eigen::Index>(hidden, 1), gains.in, map);
      b.activation();
      b.mark("hidden");
      b.linear(d, gains.out, map + 1);
    };
    const auto attn = [&](std::uint64_t map) {
      b.attention(s.heads, s.causal, gains.in, map);
      b.linear(d, gains.out, map + 3);
    };
    switch (s.kind) {
      case BlockKind::mlp: {
        const auto& [after_linear, after_activation, after_norm] = mlp_stages;
        for (const char* name : mlp_stages) b.stage_index(name);  // mlp_stages' order, whatever `order`
        b.linear(d, gains.in, 0);
        b.mark(after_linear);
        if (order == Order::act_norm) {
          b.activation();
          b.mark(after_activation);
          b.normalize(mlp_norm, mlp_mf);
          b.mark(after_norm);
        } else {
          b.normalize(mlp_norm, mlp_mf);
          b.mark(after_norm);
          b.activation(false);  // its input was checked by the normalization
          b.mark(after_activation);
        }
        break;
      }
      case BlockKind::feedforward:
        detail::residual_half(b, s, {"norm", "mlp", "residual"}, [&] { ffn(0); });
        break;
      case BlockKind::attention:
        detail::residual_half(b, s, {"norm", "attn", "residual"}, [&] { attn(0); });
        break;
      case BlockKind::transformer: {
        detail::residual_half(b, s, {"ln1", "attn", "resid1"}, [&] { attn(0); });
        detail::residual_half(b, s, {"ln2", "mlp", "resid2"}, [&] { ffn(4); });
        break;
      }
    }
    if (s.final_norm && s.kind != BlockKind::mlp && s.norm.any()) {
      b.normalize(s.norm);
      b.mark("ln_f");
    }
    prog.blocks.push_back(b.finish());
  }
  // a record or output whose next op samples from its Gram keeps the factorization
  std::vector<Op*> flat;
  for (auto& block : prog.blocks)
    for (auto& op : block.ops) flat.push_back(&op);
  for (std::size_t i = 0; i + 1 < flat.size(); ++i) {
    const OpKind next = flat[i + 1]->kind;
    if (flat[i]->kind == OpKind::record || flat[i]->kind == OpKind::output)
      flat[i]->factor_next = next == OpKind::linear || next == OpKind::attention;
  }
  return prog;
}

/// The shapes of the network's linear maps in program order (attention: Q, K, V each d x d).
inline std::vector<MapShape> map_shapes(const Program& prog, Eigen::Index d0) {
  std::vector<MapShape> out;
  Eigen::Index cur = d0;
  for (std::size_t k = 0; k < prog.blocks.size(); ++k)
    for (const Op& op : prog.blocks[k].ops) {
      if (op.kind == OpKind::linear) {
        out.push_back({cur, op.d_out, k, op.map, op.gain});
        cur = op.d_out;
      } else if (op.kind == OpKind::attention) {
        for (std::uint64_t m = 0; m < 3; ++m) out.push_back({cur, cur, k, op.map + m, op.gain});
      }
    }
  return out;
}

/// Softmax attention of every head: out (n x d) = [A_h V_h]_h with
/// A_h = softmax(Q_h K_h^T / sqrt(d_h)) by rows, the softmax in float64 (max-subtracted; with
/// `causal`, row i over j <= i). Returns false if a score is not finite.
template <class T>
inline bool attend(const RowMatrix<T>& q, const RowMatrix<T>& k, const RowMatrix<T>& v, int heads, bool causal,
                   RowMatrix<T>& out) {
  const Eigen::Index n = q.rows(), d = q.cols(), dh = d / heads;
  out.resize(n, d);
  const double inv_root = 1.0 / std::sqrt(static_cast<double>(dh));
  RowMatrix<T> s(n, n);
  std::vector<double> row(static_cast<std::size_t>(n));
  for (int h = 0; h < heads; ++h) {
    const Eigen::Index c0 = h * dh;
    s.noalias() = q.middleCols(c0, dh) * k.middleCols(c0, dh).transpose();
    for (Eigen::Index i = 0; i < n; ++i) {
      const Eigen::Index len = causal ? i + 1 : n;
      double top = -std::numeric_limits<double>::infinity();
      for (Eigen::Index j = 0; j < len; ++j) {
        const double x = static_cast<double>(s(i, j)) * inv_root;
        if (!std::isfinite(x)) return false;
        row[static_cast<std::size_t>(j)] = x;
        top = std::max(top, x);
      }
      double total = 0.0;
      for (Eigen::Index j = 0; j < len; ++j)
        total += (row[static_cast<std::size_t>(j)] = std::exp(row[static_cast<std::size_t>(j)] - top));
      const double inv = 1.0 / total;
      for (Eigen::Index j = 0; j < len; ++j) s(i, j) = static_cast<T>(row[static_cast<std::size_t>(j)] * inv);
      for (Eigen::Index j = len; j < n; ++j) s(i, j) = T(0);
    }
    out.middleCols(c0, dh).noalias() = s * v.middleCols(c0, dh);
  }
  return true;
}

}  // namespace isoinit
