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
//   attention   x <- [softmax(c Q_h K_h^T) V_h]_h  (Q, K, V three linear maps of x; c = 1/sqrt(d_h)
//               or 1/d_h; rotary embeddings on Q and K; "centred": softmax minus the uniform average)
//   aside       aside <- x W (a second map of the same x: the gated feedforward's "up" map)
//   gate        x <- x * aside, entrywise
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
/// Weight initialization: "gaussian" (every weight N(0, gain^2 / d_in)), GPT-2's (every
/// weight N(0, 0.02^2), the projections into the residual stream scaled by 1/sqrt(2 L)), or
/// "normal" (every weight N(0, 0.02^2): BERT's and LLaMA's).
enum class Init { gaussian, gpt2, normal };
/// Where a block's normalization sits: before its branch (pre-norm), after the residual sum
/// (post-norm), or nowhere.
enum class Position { pre, post, none };
enum class BlockKind { mlp, feedforward, attention, transformer };
/// The attention scores' scale: 1/sqrt(d_h) (the transformer's) or 1/d_h (the mean-field one,
/// under which the scores vanish at infinite width).
enum class ScoreScale { sqrt, linear };

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
  double skip = 1.0;        // scale of the residual path: skip * X + alpha * f(...)
  double qk_gain = 1.0;     // attention: multiplies the query and key weights' standard deviation
  bool out_proj = true;     // attention: the output map Wo
  bool centred = false;     // attention: softmax minus the uniform average of its row (gain-controlled)
  ScoreScale score = ScoreScale::sqrt;
  double rope_base = 0.0;  // attention: rotary embeddings of queries and keys with this base (0: none)
  bool gated = false;      // feedforward: Lin2(sigma(Lin1 U) * Lin3 U) (SwiGLU with silu, GeGLU with gelu)
  // biases' standard deviations per map kind; negative: the network's `bias`
  double bias_qk = -1.0, bias_v = -1.0, bias_out = -1.0, bias_mlp = -1.0;
};

enum class OpKind { linear, activation, normalize, save, add, attention, aside, gate, record, output };

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
  double bias = 0.0;     // linear, aside: the bias's standard deviation; attention: of V
  double bias_qk = 0.0;  // attention: of Q and K
  double qk_gain = 1.0;  // attention: Q's and K's gain over `gain`
  double skip = 1.0;     // add: the residual path's scale
  bool centred = false;  // attention
  ScoreScale score = ScoreScale::sqrt;
  double rope_base = 0.0;    // attention: rotary embeddings (0: none)
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

/// What is added to the input before the first block (layer 0): learned position embeddings,
/// one N(0, position_std^2) row per token position, and one N(0, shared_std^2) row shared by
/// every token (BERT's token-type embedding); 0 for none. `positions` rows are drawn (the
/// explicit weights' matrix), of which a batch of n tokens uses the first n.
struct Embedding {
  double position_std = 0.0, shared_std = 0.0;
  Eigen::Index positions = 0;
};

/// The explicit shape of linear map `slot`: (d_in, d_out) for input width d0, its name in its
/// block ("attn.q", "mlp.in", ...; "linear" for the plain MLP's map) and its bias's
/// standard deviation. The embedding's matrices come first, as maps of block 0:
/// "positions" (positions x d0) and "shared" (1 x d0), whose "bias" is their own std.
struct MapShape {
  Eigen::Index d_in = 0, d_out = 0;
  std::size_t block = 0;
  std::uint64_t map = 0;
  double gain = 1.0;
  double bias = 0.0;
  std::string name;
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
  void linear(Eigen::Index d_out, double gain, std::uint64_t map, double bias, OpKind kind = OpKind::linear) {
    Op op;
    op.kind = kind;
    op.d_out = d_out;
    op.gain = gain;
    op.map = map;
    op.bias = bias;
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
  void simple(OpKind kind, double alpha = 1.0, double skip = 1.0) {
    Op op;
    op.kind = kind;
    op.alpha = alpha;
    op.skip = skip;
    ops.push_back(op);
  }
  void attention(const BlockSpec& s, double gain, double bias_qk, double bias_v, std::uint64_t map) {
    Op op;
    op.kind = OpKind::attention;
    op.gain = gain;  // of V; Q and K: gain * qk_gain
    op.qk_gain = s.qk_gain;
    op.heads = s.heads;
    op.causal = s.causal;
    op.centred = s.centred;
    op.score = s.score;
    op.rope_base = s.rope_base;
    op.bias = bias_v;
    op.bias_qk = bias_qk;
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
    b.simple(OpKind::add, s.alpha, s.skip);
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
  double bias = 0.0;  // the network's bias standard deviation (a block's per-kind biases override it)
};

/// Compile the blocks to a program. `mlp` describes the plain MLP blocks (order, norm, mf).
inline Program compile(const std::vector<BlockSpec>& specs, const std::vector<Eigen::Index>& widths, Order order,
                       const NormSpec& mlp_norm, bool mlp_mf, const Gains& gains) {
  Program prog;
  for (std::size_t k = 0; k < specs.size(); ++k) {
    const BlockSpec& s = specs[k];
    const Eigen::Index d = widths[k];
    const auto bias = [&](double v) { return v < 0 ? gains.bias : v; };
    detail::BlockBuilder b(prog);
    // map indices (their streams): attention Q, K, V 0-2, Wo 3; feedforward in, out at `map`,
    // `map + 1`, the gated one's up map at `map + 2`
    const auto ffn = [&](std::uint64_t map) {
      if (s.one_layer) {
        b.linear(d, gains.in, map, bias(s.bias_mlp));
        b.activation();
        return;
      }
      const auto hidden = std::max<Eigen::Index>(std::llround(s.ratio * static_cast<double>(d)), 1);
      if (s.gated) b.linear(hidden, gains.in, map + 2, bias(s.bias_mlp), OpKind::aside);
      b.linear(hidden, gains.in, map, bias(s.bias_mlp));
      b.activation();
      if (s.gated) b.simple(OpKind::gate);
      b.mark("hidden");
      b.linear(d, gains.out, map + 1, bias(s.bias_mlp));
    };
    const auto attn = [&](std::uint64_t map) {
      b.attention(s, gains.in, bias(s.bias_qk), bias(s.bias_v), map);
      if (s.out_proj) b.linear(d, gains.out, map + 3, bias(s.bias_out));
    };
    switch (s.kind) {
      case BlockKind::mlp: {
        const auto& [after_linear, after_activation, after_norm] = mlp_stages;
        for (const char* name : mlp_stages) b.stage_index(name);  // mlp_stages' order, whatever `order`
        b.linear(d, gains.in, 0, gains.bias);
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

/// The name of a block's linear map from its index in the block (the compile's numbering).
inline std::string map_name(BlockKind kind, std::uint64_t map) {
  if (kind == BlockKind::mlp) return "linear";
  static const char* attn[] = {"attn.q", "attn.k", "attn.v", "attn.out"};
  static const char* ffn[] = {"mlp.in", "mlp.out", "mlp.up"};
  if (kind == BlockKind::attention) return attn[map];
  if (kind == BlockKind::feedforward) return ffn[map];
  return map < 4 ? attn[map] : ffn[map - 4];
}

/// The shapes of the network's linear maps in program order (attention: Q, K, V each d x d),
/// after the embedding's matrices (Embedding); `kinds` are the blocks' kinds.
inline std::vector<MapShape> map_shapes(const Program& prog, Eigen::Index d0, const Embedding& emb,
                                        const std::vector<BlockKind>& kinds) {
  std::vector<MapShape> out;
  if (emb.position_std > 0) out.push_back({emb.positions, d0, 0, 0, 1.0, emb.position_std, "positions"});
  if (emb.shared_std > 0) out.push_back({1, d0, 0, 1, 1.0, emb.shared_std, "shared"});
  Eigen::Index cur = d0;
  for (std::size_t k = 0; k < prog.blocks.size(); ++k) {
    const BlockKind kind = k < kinds.size() ? kinds[k] : BlockKind::mlp;
    for (const Op& op : prog.blocks[k].ops) {
      if (op.kind == OpKind::linear || op.kind == OpKind::aside) {
        out.push_back({cur, op.d_out, k + 1, op.map, op.gain, op.bias, map_name(kind, op.map)});
        if (op.kind == OpKind::linear) cur = op.d_out;
      } else if (op.kind == OpKind::attention) {
        for (std::uint64_t m = 0; m < 3; ++m)
          out.push_back({cur, cur, k + 1, op.map + m, m < 2 && op.qk_gain != 1.0 ? op.gain * op.qk_gain : op.gain,
                         m < 2 ? op.bias_qk : op.bias, map_name(kind, op.map + m)});
      }
    }
  }
  return out;
}

/// Rotary position embeddings (Su et al. 2021, as LLaMA applies them): in every head of
/// `heads` (d_h = cols / heads, even), the pair of columns (j, j + d_h/2) of row i (token
/// position i) is rotated by the angle i * base^(-2j / d_h).
template <class T>
inline void rotary(RowMatrix<T>& m, int heads, double base) {
  const Eigen::Index n = m.rows(), dh = m.cols() / heads, half = dh / 2;
  std::vector<double> inv_freq(static_cast<std::size_t>(half));
  for (Eigen::Index j = 0; j < half; ++j)
    inv_freq[static_cast<std::size_t>(j)] = std::pow(base, -static_cast<double>(2 * j) / static_cast<double>(dh));
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < half; ++j) {
      const double angle = static_cast<double>(i) * inv_freq[static_cast<std::size_t>(j)];
      const double c = std::cos(angle), s = std::sin(angle);
      for (int h = 0; h < heads; ++h) {
        const Eigen::Index a = h * dh + j, b = a + half;
        const double x1 = static_cast<double>(m(i, a)), x2 = static_cast<double>(m(i, b));
        m(i, a) = static_cast<T>(x1 * c - x2 * s);
        m(i, b) = static_cast<T>(x2 * c + x1 * s);
      }
    }
}

/// How one attention op forms its weights from the scores.
struct AttendSpec {
  int heads = 1;
  bool causal = false;
  bool centred = false;  // subtract the uniform average of the row (1/len on its len allowed entries)
  ScoreScale score = ScoreScale::sqrt;
};

/// Softmax attention of every head: out (n x d) = [A_h V_h]_h with
/// A_h = softmax(c Q_h K_h^T) by rows (c = 1/sqrt(d_h), or 1/d_h), the softmax in float64
/// (max-subtracted; with `causal`, row i over j <= i; `centred`: minus 1/len). Returns false
/// if a score is not finite.
template <class T>
inline bool attend(const RowMatrix<T>& q, const RowMatrix<T>& k, const RowMatrix<T>& v, const AttendSpec& a,
                   RowMatrix<T>& out) {
  const int heads = a.heads;
  const Eigen::Index n = q.rows(), d = q.cols(), dh = d / heads;
  out.resize(n, d);
  const double c =
      a.score == ScoreScale::sqrt ? 1.0 / std::sqrt(static_cast<double>(dh)) : 1.0 / static_cast<double>(dh);
  RowMatrix<T> s(n, n);
  std::vector<double> row(static_cast<std::size_t>(n));
  for (int h = 0; h < heads; ++h) {
    const Eigen::Index c0 = h * dh;
    s.noalias() = q.middleCols(c0, dh) * k.middleCols(c0, dh).transpose();
    for (Eigen::Index i = 0; i < n; ++i) {
      const Eigen::Index len = a.causal ? i + 1 : n;
      double top = -std::numeric_limits<double>::infinity();
      for (Eigen::Index j = 0; j < len; ++j) {
        const double x = static_cast<double>(s(i, j)) * c;
        if (!std::isfinite(x)) return false;
        row[static_cast<std::size_t>(j)] = x;
        top = std::max(top, x);
      }
      double total = 0.0;
      for (Eigen::Index j = 0; j < len; ++j)
        total += (row[static_cast<std::size_t>(j)] = std::exp(row[static_cast<std::size_t>(j)] - top));
      const double inv = 1.0 / total, uniform = a.centred ? 1.0 / static_cast<double>(len) : 0.0;
      for (Eigen::Index j = 0; j < len; ++j) s(i, j) = static_cast<T>(row[static_cast<std::size_t>(j)] * inv - uniform);
      for (Eigen::Index j = len; j < n; ++j) s(i, j) = T(0);
    }
    out.middleCols(c0, dh).noalias() = s * v.middleCols(c0, dh);
  }
  return true;
}

}  // namespace isoinit
