#include <algorithm>

#include "bindings.hpp"
#include "isoinit/inputs.hpp"

namespace isoinit::bind {

void register_inputs(py::module_& m) {
  m.def(
      "degenerate_batch",
      [](const DoubleArray& x0, double degeneracy) {
        const RowMatrixXd a = to_matrix(x0, "x0");
        std::vector<double> out(static_cast<std::size_t>(a.size()));
        {
          py::gil_scoped_release release;
          const RowMatrixXd x = degenerate_batch(a, degeneracy);
          std::copy(x.data(), x.data() + x.size(), out.begin());
        }
        return to_array(std::move(out), {a.rows(), a.cols()});
      },
      py::arg("x0"), py::arg("degeneracy"),
      "x0 (n, d) with its largest singular value multiplied by degeneracy, rescaled to mean square 1.");
}

}  // namespace isoinit::bind
