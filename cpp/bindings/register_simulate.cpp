#include <algorithm>
#include <optional>

#include "bindings.hpp"
#include "options.hpp"

namespace isoinit::bind {
namespace {

Config make_config(const std::string& activation, double act_param, const std::vector<double>& coeffs,
                   const std::string& center, const std::string& scale, const std::string& order,
                   const std::string& weights, const std::string& sampler, double gain, double bias, double eps,
                   const std::vector<std::int64_t>& widths, const std::vector<double>& mf_center,
                   const std::vector<double>& mf_scale, bool stages, bool grams, const std::vector<BlockSpec>& blocks,
                   const std::string& init, const std::string& dtype,
                   const std::optional<std::vector<std::string>>& metrics, bool input_rows, double position_std,
                   double shared_std, std::int64_t max_positions, const std::string& input_center,
                   const std::string& input_scale, double input_eps) {
  Config c;
  c.input_rows = input_rows;
  c.embedding = Embedding{position_std, shared_std, static_cast<Eigen::Index>(max_positions)};
  c.input_norm = NormSpec{center_options.parse(input_center), scale_options.parse(input_scale), input_eps};
  c.act = Activation::from_name(activation, act_param, coeffs);
  c.center = center_options.parse(center);
  c.scale = scale_options.parse(scale);
  c.order = order_options.parse(order);
  c.weights = weight_options.parse(weights);
  c.sampler = sampler_options.parse(sampler);
  c.gain = gain;
  c.bias = bias;
  c.eps = eps;
  c.widths.assign(widths.begin(), widths.end());
  c.mf_center = mf_center;
  c.mf_scale = mf_scale;
  c.stages = stages;
  c.grams = grams;
  c.blocks = blocks;
  c.init = init_options.parse(init);
  c.precision = dtype_options.parse(dtype);
  if (metrics) {
    c.metrics = 0;
    std::string allowed;
    for (int k = 0; k < n_metrics; ++k) allowed += std::string(k ? ", " : "") + metric_names()[k];
    for (const auto& name : *metrics) {
      const auto* names = metric_names();
      const auto* hit = std::find_if(names, names + n_metrics, [&](const char* m) { return name == m; });
      if (hit == names + n_metrics)
        throw std::invalid_argument("metrics must be names among " + allowed + "; got '" + name + "'");
      c.metrics |= metric_bit(static_cast<Metric>(hit - names));
    }
    if (!c.metrics) throw std::invalid_argument("metrics must name at least one metric (or be None for all)");
  }
  return c;
}

BlockSpec make_block(const std::string& kind, const std::string& position, const std::string& center,
                     const std::string& scale, double eps, bool residual, double alpha, double ratio, bool one_layer,
                     int heads, bool causal, bool final_norm, double skip, double qk_gain, bool out_proj, bool centred,
                     const std::string& score, double rope_base, bool gated, double bias_qk, double bias_v,
                     double bias_out, double bias_mlp) {
  BlockSpec b;
  b.skip = skip;
  b.qk_gain = qk_gain;
  b.out_proj = out_proj;
  b.centred = centred;
  b.score = score_options.parse(score);
  b.rope_base = rope_base;
  b.gated = gated;
  b.bias_qk = bias_qk;
  b.bias_v = bias_v;
  b.bias_out = bias_out;
  b.bias_mlp = bias_mlp;
  b.kind = kind_options.parse(kind);
  b.position = position_options.parse(position);
  b.norm.center = center_options.parse(center);
  b.norm.scale = scale_options.parse(scale);
  b.norm.eps = eps;
  b.residual = residual;
  b.alpha = alpha;
  b.ratio = ratio;
  b.one_layer = one_layer;
  b.heads = heads;
  b.causal = causal;
  b.final_norm = final_norm;
  return b;
}

/// Raise MemoryError if a simulate() call of this size would not fit, naming the parameter
/// whose part of the need is largest.
void check_memory(const Config& cfg, Eigen::Index n, Eigen::Index d0, std::int64_t runs, int threads,
                  double extra = 0) {
  const MemoryNeed m = memory_need(cfg, n, d0, runs, threads);
  const double total = m.total + extra, working = m.threads * m.per_run;
  const std::string R = "runs=" + std::to_string(runs), N = std::to_string(n);
  const std::string per = m.threads > 1 ? " per run, on " + std::to_string(m.threads) + " threads" : " per run";
  std::string what;
  if (m.grams >= m.results && m.grams >= working && m.grams >= extra) {
    what = "grams=True with " + R + " (n=" + N + ", " + std::to_string(cfg.depth() + 1) + " layers" +
           (cfg.stages ? " x " + std::to_string(cfg.recorded_stages()) + " stages" : "") + ") needs " +
           format_bytes(m.grams) + " for the Gram matrices; use grams=False or fewer runs";
  } else if (m.results >= working && m.results >= extra) {
    what = R + " (" + std::to_string(cfg.depth() + 1) + " layers) needs " + format_bytes(m.results) +
           " for the metric arrays; use fewer runs";
  } else if (working >= extra) {
    if (m.per_run_gram >= m.per_run_weights)
      what = "X with n=" + N + " rows needs " + format_bytes(m.per_run_gram) + per +
             " for its n x n Gram matrices and their factorizations; use a smaller batch";
    else
      what = "width (sampler='weights', or orthogonal weights) needs " + format_bytes(m.per_run_weights) + per +
             " for the weight matrix of the widest block; use narrower layers";
  } else {
    what = "weights (explicit, one copy per block) need " + format_bytes(extra);
  }
  require_memory(total, what);
}

/// Whether a call is small enough to run on the calling thread, on one thread
/// (bind::interruptible's `small`): an estimated 10^6 floating-point operations or fewer, work
/// short enough that the hand-over to a worker is a noticeable part of the call
/// (docs/performance.md).
bool small_call(const Config& cfg, Eigen::Index n, Eigen::Index d0, std::int64_t runs) {
  double flops = 0;
  const double N = static_cast<double>(n);
  for (const MapShape& m : cfg.maps(d0)) {
    const double d_in = static_cast<double>(m.d_in), d_out = static_cast<double>(m.d_out);
    flops += cfg.sampler == Sampler::gram ? N * N * (N + d_in + d_out) : N * d_in * d_out;
  }
  return flops * static_cast<double>(runs) <= 1e6;
}

py::dict pack(Result&& res) {
  py::dict d;
  const py::ssize_t R = res.runs, L = res.layers, S = res.stages, n = res.n;
  d["metrics"] = to_array(std::move(res.metrics), {R, L, S, static_cast<py::ssize_t>(n_metrics)});
  d["norm_bias"] = to_array(std::move(res.norm_bias), {R, L});
  d["diverged_at"] = to_array(std::move(res.diverged_at), {R});
  d["collapsed_at"] = to_array(std::move(res.collapsed_at), {R});
  if (!res.grams.empty())
    d["grams"] = to_array(std::move(res.grams), {R, L, S, n, n});
  else
    d["grams"] = py::none();
  return d;
}

#define ISOINIT_CONFIG_ARGS                                                                                         \
  py::arg("activation"),                                                                                            \
      py::arg("act_param") = 0.0, py::arg("coeffs") = std::vector<double>{}, py::arg("center") = "layer",           \
      py::arg("scale") = "layer", py::arg("order") = "act-norm", py::arg("weights") = "gaussian",                   \
      py::arg("sampler") = "gram", py::arg("gain") = 1.0, py::arg("bias") = 0.0, py::arg("eps") = 0.0,              \
      py::arg("widths"), py::arg("mf_center") = std::vector<double>{}, py::arg("mf_scale") = std::vector<double>{}, \
      py::arg("stages") = false, py::arg("grams") = false, py::arg("blocks") = std::vector<BlockSpec>{},            \
      py::arg("init") = "gaussian", py::arg("dtype") = "float64", py::arg("metrics") = py::none(),                  \
      py::arg("input_rows") = true, py::arg("position_std") = 0.0, py::arg("shared_std") = 0.0,                     \
      py::arg("max_positions") = 0, py::arg("input_center") = "none", py::arg("input_scale") = "none",              \
      py::arg("input_eps") = 0.0

}  // namespace

void register_simulate(py::module_& m) {
  // The configuration crosses the boundary once: built as one Config object (its option names
  // parsed), then passed to every entry point; simulate and forward validate it against their
  // batch (Config::validate), once per call.
  py::class_<BlockSpec>(m, "BlockSpec", "One block of a network (private: see isoinit.blocks).")
      .def(py::init(&make_block), py::arg("kind"), py::arg("position") = "pre", py::arg("center") = "layer",
           py::arg("scale") = "layer", py::arg("eps") = 0.0, py::arg("residual") = true, py::arg("alpha") = 1.0,
           py::arg("ratio") = 4.0, py::arg("one_layer") = false, py::arg("heads") = 1, py::arg("causal") = false,
           py::arg("final_norm") = false, py::arg("skip") = 1.0, py::arg("qk_gain") = 1.0, py::arg("out_proj") = true,
           py::arg("centred") = false, py::arg("score") = "sqrt", py::arg("rope_base") = 0.0, py::arg("gated") = false,
           py::arg("bias_qk") = -1.0, py::arg("bias_v") = -1.0, py::arg("bias_out") = -1.0, py::arg("bias_mlp") = -1.0);
  py::class_<Config>(m, "Config", "One network configuration of the kernel (private: see isoinit.MLP).")
      .def(py::init(&make_config), ISOINIT_CONFIG_ARGS)
      .def_property_readonly("depth", &Config::depth)
      .def_property_readonly("stage_names", &Config::stage_names)
      .def_property_readonly("maps", [](const Config& c) { return c.program().maps; })
      .def_property_readonly("block_stages",
                             [](const Config& c) {
                               // per block, the stage indices it records, in order; the last is its output
                               std::vector<std::vector<int>> out;
                               for (const Block& b : c.program().blocks) {
                                 out.emplace_back();
                                 for (const Op& op : b.ops)
                                   if (op.kind == OpKind::record || op.kind == OpKind::output)
                                     out.back().push_back(op.stage);
                               }
                               return out;
                             })
      .def(
          "map_shapes",
          [](const Config& c, std::int64_t d0) {
            std::vector<std::pair<std::int64_t, std::int64_t>> out;
            for (const MapShape& m : c.maps(d0)) out.emplace_back(m.d_in, m.d_out);
            return out;
          },
          py::arg("d0"), "(d_in, d_out) of every explicit matrix (the embedding's, then the linear maps'), in order.")
      .def(
          "map_names",
          [](const Config& c, std::int64_t d0) {
            std::vector<std::pair<std::int64_t, std::string>> out;
            for (const MapShape& m : c.maps(d0)) out.emplace_back(static_cast<std::int64_t>(m.block), m.name);
            return out;
          },
          py::arg("d0"), "(block, name) of every explicit matrix (block 0: the embedding's), in order.")
      .def_property(
          "sampler", [](const Config& c) { return std::string(sampler_options.name(c.sampler)); },
          [](Config& c, const std::string& name) { c.sampler = sampler_options.parse(name); },
          "The sampler the entry points run ('gram' or 'weights'); set once the network's shapes chose it.")
      .def(
          "gram_refusal",
          [](const Config& c, std::int64_t n, std::int64_t d0) {
            std::string why = c.gram_refusal(n, d0);
            return why.empty() ? py::object(py::none()) : py::object(py::str(why));
          },
          py::arg("n"), py::arg("d0"), "Why sampler 'gram' cannot run this configuration on an n x d0 batch, or None.")
      .def_readonly("stages", &Config::stages)
      .def_readonly("grams", &Config::grams)
      .def_property_readonly("metrics", [](const Config& c) {
        std::vector<std::string> names;
        for (int k = 0; k < n_metrics; ++k)
          if (c.metrics & metric_bit(static_cast<Metric>(k))) names.emplace_back(metric_names()[k]);
        return names;
      });

  m.def(
      "simulate",
      [](const DoubleArray& x, std::uint64_t seed, std::int64_t run_offset, std::int64_t runs, int threads,
         const Config& cfg) {
        const RowMatrixXd x0 = to_matrix(x, "X");
        // the one validation of the call: before the memory check, which reads the configuration
        cfg.validate(x0.rows(), x0.cols());
        if (run_offset < 0) throw std::invalid_argument("run_offset must be >= 0; got " + std::to_string(run_offset));
        detail::check_runs(runs);
        check_memory(cfg, x0.rows(), x0.cols(), runs, threads);
        const bool small = small_call(cfg, x0.rows(), x0.cols(), runs);
        Result res = interruptible(
            [&](const std::atomic<bool>& cancel) {
              return simulate_validated(cfg, x0, seed, run_offset, runs, small ? 1 : threads, &cancel);
            },
            small);
        return pack(std::move(res));
      },
      py::arg("x"), py::arg("seed"), py::arg("run_offset"), py::arg("runs"), py::arg("threads"), py::arg("config"),
      "Simulate runs [run_offset, run_offset + runs); returns a dict of arrays.");

  m.def(
      "check_memory",
      [](const Config& cfg, std::int64_t n, std::int64_t d0, std::int64_t runs, int threads) {
        if (n < 1 || d0 < 1 || runs < 1) throw std::invalid_argument("n, d0 and runs must be >= 1");
        check_memory(cfg, n, d0, runs, threads);
      },
      py::arg("config"), py::arg("n"), py::arg("d0"), py::arg("runs"), py::arg("threads"),
      "Raise MemoryError if simulating `runs` runs on an n x d0 batch would not fit in memory.");

  m.def(
      "forward",
      [](const DoubleArray& x, const std::vector<DoubleArray>& w_list, const std::vector<DoubleArray>& b_list,
         const Config& config) {
        Config cfg = config;
        cfg.sampler = Sampler::weights;
        const RowMatrixXd x0 = to_matrix(x, "X");
        cfg.validate(x0.rows(), x0.cols());
        if (!x0.allFinite()) throw std::invalid_argument("X must be finite");
        const Program prog = cfg.program();
        const std::vector<MapShape> shapes = cfg.maps(prog, x0.cols());
        const std::size_t L = shapes.size();
        if (w_list.size() != L || b_list.size() != L)
          throw std::invalid_argument("weights must have one (W, b) per linear map (" + std::to_string(L) + ")");
        std::vector<RowMatrixXd> ws;
        std::vector<Eigen::RowVectorXd> bs;
        for (std::size_t k = 0; k < L; ++k) {
          const Eigen::Index d_in = shapes[k].d_in, d_out = shapes[k].d_out;
          ws.push_back(to_matrix(w_list[k], "weights[k]"));
          if (ws.back().rows() != d_in || ws.back().cols() != d_out)
            throw std::invalid_argument("weights[" + std::to_string(k) + "] must have shape (" + std::to_string(d_in) +
                                        ", " + std::to_string(d_out) + ")");
          if (!ws.back().allFinite())
            throw std::invalid_argument("weights must be finite; weights[" + std::to_string(k) + "] is not");
          const DoubleArray& b = b_list[k];
          Eigen::RowVectorXd bv;
          if (b.size() > 0) {
            if (b.ndim() != 1 || b.shape(0) != d_out)
              throw std::invalid_argument("biases[" + std::to_string(k) + "] must be empty or have shape (" +
                                          std::to_string(d_out) + ",)");
            bv = Eigen::Map<const Eigen::RowVectorXd>(b.data(), b.shape(0));
            if (!bv.allFinite())
              throw std::invalid_argument("biases must be finite; biases[" + std::to_string(k) + "] is not");
          }
          bs.push_back(bv);
        }
        check_memory(cfg, x0.rows(), x0.cols(), 1, 1);
        Result res = interruptible(
            [&](const std::atomic<bool>& cancel) {  // one run: no OpenMP team
              Result r(cfg, 1, x0.rows());
              simulate_run(cfg, prog, x0, 0, 0, r, 0, &ws, &bs, &cancel);
              return r;
            },
            small_call(cfg, x0.rows(), x0.cols(), 1));
        return pack(std::move(res));
      },
      py::arg("x"), py::arg("w_list"), py::arg("b_list"), py::arg("config"),
      "Run one fixed network (explicit weights and biases) on a batch.");

  m.def(
      "network_weights",
      [](std::int64_t d0, std::uint64_t seed, std::uint64_t run, const Config& cfg) {
        if (d0 < 1) throw std::invalid_argument("d0 must be >= 1; got " + std::to_string(d0));
        double doubles = 0;
        Eigen::Index widest = 0;
        for (const MapShape& m : cfg.maps(d0)) {
          doubles += static_cast<double>(m.d_in) * static_cast<double>(m.d_out) + static_cast<double>(m.d_out);
          widest = std::max(widest, m.d_out);
        }
        // the weights are drawn in Eigen and copied into NumPy arrays: twice their size
        require_memory(2 * doubles * sizeof(double), "network_weights with d_in=" + std::to_string(d0) +
                                                         " and widths up to " + std::to_string(widest) + " needs " +
                                                         format_bytes(doubles * sizeof(double)) +
                                                         " for the weight matrices, held twice while copied");
        using Weights = std::pair<std::vector<RowMatrixXd>, std::vector<Eigen::RowVectorXd>>;
        Weights drawn = interruptible(
            [&](const std::atomic<bool>& cancel) {  // one network: no OpenMP team
              Weights out;
              network_weights(cfg, d0, seed, run, out.first, out.second, &cancel);
              return out;
            },
            doubles <= 1e6);
        std::vector<RowMatrixXd>& ws = drawn.first;
        std::vector<Eigen::RowVectorXd>& bs = drawn.second;
        py::list out;
        for (std::size_t k = 0; k < ws.size(); ++k) {
          py::array_t<double> w({ws[k].rows(), ws[k].cols()});
          std::copy(ws[k].data(), ws[k].data() + ws[k].size(), w.mutable_data());
          py::array_t<double> b(std::vector<py::ssize_t>{bs[k].size()});
          std::copy(bs[k].data(), bs[k].data() + bs[k].size(), b.mutable_data());
          out.append(py::make_tuple(w, b));
        }
        return out;
      },
      py::arg("d0"), py::arg("seed"), py::arg("run"), py::arg("config"),
      "The (W, b) of every block of one run, exactly as sampler 'weights' draws them.");
}

}  // namespace isoinit::bind
