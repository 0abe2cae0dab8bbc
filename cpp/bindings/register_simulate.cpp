#include "bindings.hpp"

namespace isoinit::bind {
namespace {

template <class E>
E parse(const std::string& param, const std::string& value, std::initializer_list<std::pair<const char*, E>> options) {
  std::string allowed;
  for (const auto& [name, e] : options) {
    if (value == name) return e;
    allowed += std::string(allowed.empty() ? "" : ", ") + name;
  }
  throw std::invalid_argument(param + " must be one of " + allowed + "; got '" + value + "'");
}

Config make_config(const std::string& activation, double act_param, const std::vector<double>& coeffs,
                   const std::string& center, const std::string& scale, const std::string& order,
                   const std::string& weights, const std::string& sampler, double gain, double bias, double eps,
                   const std::vector<std::int64_t>& widths, const std::vector<double>& mf_center,
                   const std::vector<double>& mf_scale, bool stages, bool grams) {
  Config c;
  c.act = Activation::from_name(activation, act_param, coeffs);
  c.center =
      parse<Center>("center", center,
                    {{"none", Center::none}, {"layer", Center::layer}, {"batch", Center::batch}, {"mf", Center::mf}});
  c.scale = parse<Scale>("scale", scale,
                         {{"none", Scale::none}, {"layer", Scale::layer}, {"batch", Scale::batch}, {"mf", Scale::mf}});
  c.order = parse<Order>("order", order, {{"act-norm", Order::act_norm}, {"norm-act", Order::norm_act}});
  c.weights = parse<WeightKind>("weights", weights,
                                {{"gaussian", WeightKind::gaussian}, {"orthogonal", WeightKind::orthogonal}});
  c.sampler = parse<Sampler>("sampler", sampler, {{"gram", Sampler::gram}, {"weights", Sampler::weights}});
  c.gain = gain;
  c.bias = bias;
  c.eps = eps;
  c.widths.assign(widths.begin(), widths.end());
  c.mf_center = mf_center;
  c.mf_scale = mf_scale;
  c.stages = stages;
  c.grams = grams;
  return c;
}

py::dict pack(Result&& res) {
  py::dict d;
  const py::ssize_t R = res.runs, L = res.layers, S = res.stages, n = res.n;
  d["metrics"] = to_array(std::move(res.metrics), {R, L, S, static_cast<py::ssize_t>(n_metrics)});
  d["norm_bias"] = to_array(std::move(res.norm_bias), {R, L});
  d["diverged_at"] = to_array(std::move(res.diverged_at), {R});
  if (!res.grams.empty())
    d["grams"] = to_array(std::move(res.grams), {R, L, S, n, n});
  else
    d["grams"] = py::none();
  return d;
}

#define ISOINIT_CONFIG_ARGS                                                                                         \
  py::arg("activation"), py::arg("act_param") = 0.0, py::arg("coeffs") = std::vector<double>{},                     \
                         py::arg("center") = "layer", py::arg("scale") = "layer", py::arg("order") = "act-norm",    \
                         py::arg("weights") = "gaussian", py::arg("sampler") = "gram", py::arg("gain") = 1.0,       \
                         py::arg("bias") = 0.0, py::arg("eps") = 0.0, py::arg("widths"),                            \
                         py::arg("mf_center") = std::vector<double>{}, py::arg("mf_scale") = std::vector<double>{}, \
                         py::arg("stages") = false, py::arg("grams") = false

}  // namespace

void register_simulate(py::module_& m) {
  // The configuration crosses the boundary once: built (and checked) as one Config object,
  // then passed to every entry point.
  py::class_<Config>(m, "Config", "One network configuration of the kernel (private: see isoinit.MLP).")
      .def(py::init(&make_config), ISOINIT_CONFIG_ARGS)
      .def_property_readonly("depth", &Config::depth)
      .def_readonly("stages", &Config::stages)
      .def_readonly("grams", &Config::grams);

  m.def(
      "simulate",
      [](const DoubleArray& x, std::uint64_t seed, std::int64_t run_offset, std::int64_t runs, int threads,
         const Config& cfg) {
        const RowMatrixXd x0 = to_matrix(x, "X");
        cfg.validate(x0.rows(), x0.cols());
        if (run_offset < 0) throw std::invalid_argument("run_offset must be >= 0");
        Result res = [&] {
          py::gil_scoped_release release;
          return isoinit::simulate(cfg, x0, seed, run_offset, runs, threads);
        }();
        return pack(std::move(res));
      },
      py::arg("x"), py::arg("seed"), py::arg("run_offset"), py::arg("runs"), py::arg("threads"), py::arg("config"),
      "Simulate runs [run_offset, run_offset + runs); returns a dict of arrays.");

  m.def(
      "forward",
      [](const DoubleArray& x, const std::vector<DoubleArray>& w_list, const std::vector<DoubleArray>& b_list,
         const Config& config) {
        Config cfg = config;
        cfg.sampler = Sampler::weights;
        const RowMatrixXd x0 = to_matrix(x, "X");
        cfg.validate(x0.rows(), x0.cols());
        if (!x0.allFinite()) throw std::invalid_argument("X must be finite");
        const auto L = static_cast<std::size_t>(cfg.depth());
        if (w_list.size() != L || b_list.size() != L)
          throw std::invalid_argument("weights and biases must have one entry per block (" + std::to_string(L) + ")");
        std::vector<RowMatrixXd> ws;
        std::vector<Eigen::RowVectorXd> bs;
        Eigen::Index d_in = x0.cols();
        for (std::size_t k = 0; k < L; ++k) {
          ws.push_back(to_matrix(w_list[k], "weights[k]"));
          if (ws.back().rows() != d_in || ws.back().cols() != cfg.widths[k])
            throw std::invalid_argument("weights[" + std::to_string(k) + "] must have shape (" + std::to_string(d_in) +
                                        ", " + std::to_string(cfg.widths[k]) + ")");
          if (!ws.back().allFinite()) throw std::invalid_argument("weights must be finite");
          const DoubleArray& b = b_list[k];
          Eigen::RowVectorXd bv;
          if (b.size() > 0) {
            if (b.ndim() != 1 || b.shape(0) != cfg.widths[k])
              throw std::invalid_argument("biases[" + std::to_string(k) + "] must be empty or have shape (" +
                                          std::to_string(cfg.widths[k]) + ",)");
            bv = Eigen::Map<const Eigen::RowVectorXd>(b.data(), b.shape(0));
          }
          bs.push_back(bv);
          d_in = cfg.widths[k];
        }
        Result res(cfg, 1, x0.rows());
        {
          py::gil_scoped_release release;
          simulate_run(cfg, x0, 0, 0, res, 0, &ws, &bs);
        }
        return pack(std::move(res));
      },
      py::arg("x"), py::arg("w_list"), py::arg("b_list"), py::arg("config"),
      "Run one fixed network (explicit weights and biases) on a batch.");

  m.def(
      "network_weights",
      [](std::int64_t d0, std::uint64_t seed, std::uint64_t run, const Config& cfg) {
        if (d0 < 1) throw std::invalid_argument("d0 must be >= 1");
        std::vector<RowMatrixXd> ws;
        std::vector<Eigen::RowVectorXd> bs;
        {
          py::gil_scoped_release release;
          network_weights(cfg, d0, seed, run, ws, bs);
        }
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
