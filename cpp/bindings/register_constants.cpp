// _core.constants(): the kernel's constants and name lists that the Python side needs, each
// read from its one C++ definition, so that Python validates and documents from them instead
// of keeping copies.
#include <cstddef>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "options.hpp"

namespace isoinit::bind {

namespace {

py::tuple to_tuple(const std::vector<std::string>& names) { return py::tuple(py::cast(names)); }

/// The names of the metrics in `group`, in the order of metric_names().
py::tuple metric_group(MetricMask group) {
  std::vector<std::string> names;
  for (int k = 0; k < n_metrics; ++k)
    if (group & metric_bit(static_cast<Metric>(k))) names.emplace_back(metric_names()[k]);
  return to_tuple(names);
}

}  // namespace

void register_constants(py::module_& m) {
  m.def(
      "constants",
      [] {
        py::dict d;
        d["SELU_ALPHA"] = SELU_ALPHA;
        d["SELU_LAMBDA"] = SELU_LAMBDA;
        d["HE_MAX"] = HE_MAX;
        d["TABLE_HEADER"] = TABLE_HEADER;
        d["TABLE_DEGREE"] = TABLE_DEGREE;
        d["BLAS_MIN_ROWS"] = kernels::BLAS_MIN_ROWS;
        d["STAGES"] = to_tuple(std::vector<std::string>(std::begin(mlp_stages), std::end(mlp_stages)));
        py::dict groups;
        groups["determinant"] = metric_group(determinant_metrics);
        groups["spectral"] = metric_group(spectral_metrics);
        groups["correlation"] = metric_group(correlation_metrics);
        d["METRIC_GROUPS"] = groups;
        py::dict options;
        for_each_options([&](const auto& table) { options[table.param] = to_tuple(table.names()); });
        d["OPTIONS"] = options;
        return d;
      },
      "The kernel's constants by name: SELU_ALPHA, SELU_LAMBDA, HE_MAX, TABLE_HEADER, TABLE_DEGREE "
      "(activation.hpp), BLAS_MIN_ROWS (kernels.hpp), STAGES (the plain MLP's stage names), METRIC_GROUPS "
      "(the metrics that need the Cholesky log-determinant, the eigenvalues, or only the Gram's entries) and "
      "OPTIONS (per parameter of Config and BlockSpec, the names it accepts).");
}

}  // namespace isoinit::bind
