// The option names the bindings accept for the kernel's enums, one table per parameter: read
// by parse() (Config, BlockSpec) and by _core.constants()["OPTIONS"], from which the Python
// side validates and documents them.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "isoinit/config.hpp"

namespace isoinit::bind {

template <class E>
struct Option {
  const char* name;
  E value;
};

/// The names of parameter `param`, in the order messages list them.
template <class E, std::size_t N>
struct Options {
  const char* param;
  Option<E> options[N];

  E parse(const std::string& value) const {
    std::string allowed;
    for (const auto& [name, e] : options) {
      if (value == name) return e;
      allowed += std::string(allowed.empty() ? "" : ", ") + name;
    }
    throw std::invalid_argument(std::string(param) + " must be one of " + allowed + "; got '" + value + "'");
  }
  /// The name of `value` (the inverse of parse).
  const char* name(E value) const {
    for (const auto& option : options)
      if (option.value == value) return option.name;
    return "?";
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& option : options) out.emplace_back(option.name);
    return out;
  }
};

inline constexpr Options<Center, 4> center_options{
    "center", {{"none", Center::none}, {"layer", Center::layer}, {"batch", Center::batch}, {"mf", Center::mf}}};
inline constexpr Options<Scale, 4> scale_options{
    "scale", {{"none", Scale::none}, {"layer", Scale::layer}, {"batch", Scale::batch}, {"mf", Scale::mf}}};
inline constexpr Options<Order, 2> order_options{"order",
                                                 {{"act-norm", Order::act_norm}, {"norm-act", Order::norm_act}}};
inline constexpr Options<WeightKind, 2> weight_options{
    "weights", {{"gaussian", WeightKind::gaussian}, {"orthogonal", WeightKind::orthogonal}}};
inline constexpr Options<Sampler, 2> sampler_options{"sampler",
                                                     {{"gram", Sampler::gram}, {"weights", Sampler::weights}}};
inline constexpr Options<Init, 3> init_options{
    "init", {{"gaussian", Init::gaussian}, {"gpt2", Init::gpt2}, {"normal", Init::normal}}};
inline constexpr Options<Precision, 2> dtype_options{"dtype",
                                                     {{"float64", Precision::f64}, {"float32", Precision::f32}}};
inline constexpr Options<BlockKind, 4> kind_options{"kind",
                                                    {{"mlp", BlockKind::mlp},
                                                     {"feedforward", BlockKind::feedforward},
                                                     {"attention", BlockKind::attention},
                                                     {"transformer", BlockKind::transformer}}};
inline constexpr Options<Position, 3> position_options{
    "position", {{"pre", Position::pre}, {"post", Position::post}, {"none", Position::none}}};

inline constexpr Options<ScoreScale, 2> score_options{"score",
                                                      {{"sqrt", ScoreScale::sqrt}, {"linear", ScoreScale::linear}}};

/// f(options) for every table above (what _core.constants() lists).
template <class F>
void for_each_options(F&& f) {
  f(center_options);
  f(scale_options);
  f(order_options);
  f(weight_options);
  f(sampler_options);
  f(init_options);
  f(dtype_options);
  f(kind_options);
  f(position_options);
  f(score_options);
}

}  // namespace isoinit::bind
