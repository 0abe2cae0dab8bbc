#include "bindings.hpp"

namespace isoinit::bind {

namespace {

/// `count` draws of the stream (seed, run, layer, user) by `fill(stream, out)`, without the GIL.
template <class Fill>
py::array_t<double> draw(std::uint64_t seed, std::uint64_t run, std::uint64_t layer, py::ssize_t count, Fill fill) {
  if (count < 0) throw std::invalid_argument("count must be >= 0; got " + std::to_string(count));
  std::vector<double> out(static_cast<std::size_t>(count));
  {
    py::gil_scoped_release release;
    Stream s = Stream::derive(seed, run, layer, Purpose::user);
    fill(s, out);
  }
  return to_array(std::move(out), {count});
}

}  // namespace

void register_random(py::module_& m) {
  m.def(
      "standard_normal",
      [](std::uint64_t seed, std::uint64_t run, std::uint64_t layer, py::ssize_t count) {
        return draw(seed, run, layer, count,
                    [](Stream& s, std::vector<double>& out) { s.fill_normal(out.data(), out.size()); });
      },
      py::arg("seed"), py::arg("run"), py::arg("layer"), py::arg("count"),
      "Standard normals of the counter-based stream (seed, run, layer), as the kernel draws them.");
  m.def(
      "uniform",
      [](std::uint64_t seed, std::uint64_t run, std::uint64_t layer, py::ssize_t count) {
        return draw(seed, run, layer, count, [](Stream& s, std::vector<double>& out) {
          for (auto& v : out) v = s.next_uniform();
        });
      },
      py::arg("seed"), py::arg("run"), py::arg("layer"), py::arg("count"));
}

}  // namespace isoinit::bind
