#include "bindings.hpp"

namespace isoinit::bind {

void register_random(py::module_& m) {
  m.def(
      "standard_normal",
      [](std::uint64_t seed, std::uint64_t run, std::uint64_t layer, py::ssize_t count) {
        if (count < 0) throw std::invalid_argument("count must be >= 0; got " + std::to_string(count));
        std::vector<double> out(static_cast<std::size_t>(count));
        {
          py::gil_scoped_release release;
          Stream s = Stream::derive(seed, run, layer, Purpose::user);
          s.fill_normal(out.data(), out.size());
        }
        return to_array(std::move(out), {count});
      },
      py::arg("seed"), py::arg("run"), py::arg("layer"), py::arg("count"),
      "Standard normals of the counter-based stream (seed, run, layer), as the kernel draws them.");
  m.def(
      "uniform",
      [](std::uint64_t seed, std::uint64_t run, std::uint64_t layer, py::ssize_t count) {
        if (count < 0) throw std::invalid_argument("count must be >= 0; got " + std::to_string(count));
        std::vector<double> out(static_cast<std::size_t>(count));
        {
          py::gil_scoped_release release;
          Stream s = Stream::derive(seed, run, layer, Purpose::user);
          for (auto& v : out) v = s.next_uniform();
        }
        return to_array(std::move(out), {count});
      },
      py::arg("seed"), py::arg("run"), py::arg("layer"), py::arg("count"));
}

}  // namespace isoinit::bind
