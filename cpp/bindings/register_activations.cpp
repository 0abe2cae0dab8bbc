#include "bindings.hpp"

namespace isoinit::bind {

void register_activations(py::module_& m) {
  m.def("activation_names", [] {
    std::vector<std::string> names;
    for (const auto& e : activation_table()) names.emplace_back(e.name);
    return names;
  });
  m.def(
      "exact_activations",
      [] {
        std::vector<std::string> names;
        for (const auto& e : activation_table())
          if (e.exact) names.emplace_back(e.name);
        return names;
      },
      "The activations whose values are the same bits on every CPU (IEEE-754 basic operations only).");
  m.def(
      "activation_apply",
      [](const std::string& name, double param, const std::vector<double>& coeffs, const DoubleArray& x) {
        const Activation act = Activation::from_name(name, param, coeffs);
        std::vector<double> out(x.data(), x.data() + x.size());
        {
          py::gil_scoped_release release;
          act.apply(out.data(), out.size());
        }
        std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
        return to_array(std::move(out), shape);
      },
      py::arg("name"), py::arg("param"), py::arg("coeffs"), py::arg("x"),
      "Apply a compiled activation elementwise (for tests against the NumPy table).");
}

}  // namespace isoinit::bind
