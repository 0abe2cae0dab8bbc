#include <algorithm>
#include <iterator>

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

/// The ziggurat implementations by name, fastest first.
constexpr std::pair<const char*, detail::NormalPath> normal_paths[] = {
    {"avx512", detail::NormalPath::avx512}, {"avx2", detail::NormalPath::avx2}, {"scalar", detail::NormalPath::scalar}};

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
  // one implementation of fill_normal by name, for the tests and bench/bench_normals.py
  m.def(
      "_normal_paths",
      [] {
        std::vector<std::string> names;
        for (const auto& [name, path] : normal_paths)
          if (detail::normal_path_supported(path)) names.emplace_back(name);
        return names;
      },
      "Names of the normal sampler's implementations that this CPU runs, the one fill_normal uses first.");
  m.def(
      "_fill_normal_path",
      [](py::array_t<double, py::array::c_style> out, std::uint64_t seed, std::uint64_t run, std::uint64_t layer,
         const std::string& name, std::uint64_t start) {
        const auto* found = std::find_if(std::begin(normal_paths), std::end(normal_paths),
                                         [&](const auto& entry) { return name == entry.first; });
        if (found == std::end(normal_paths)) throw std::invalid_argument("unknown normal path '" + name + "'");
        const detail::NormalPath path = found->second;
        if (!detail::normal_path_supported(path))
          throw std::invalid_argument("this CPU does not run the normal path '" + name + "'");
        if (out.ndim() != 1) throw std::invalid_argument("out must be 1-D");
        double* data = out.mutable_data();
        const auto count = static_cast<std::size_t>(out.size());
        const std::uint64_t key = Stream::derive(seed, run, layer, Purpose::user).key();
        py::gil_scoped_release release;
        detail::fill_normal_by(path, key, start, data, count);
      },
      py::arg("out").noconvert(), py::arg("seed"), py::arg("run"), py::arg("layer"), py::arg("path"),
      py::arg("start") = 0,
      "Fill the float64 array out with normals start+1 .. start+out.size of the stream (seed, run, layer) by one "
      "implementation ('scalar', 'avx2', 'avx512'): the numbers of standard_normal, in place.");
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
