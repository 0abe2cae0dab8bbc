// Elementwise activations: the compiled half of the one activation table.
//
// The names here are the `engine` names of python/isoinit/activations.py; a test checks
// that both sides list the same ones and agree to 1e-12 on every value.
#pragma once

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace isoinit {

enum class ActKind {
  identity,
  relu,
  leaky_relu,
  tanh,
  sigmoid,
  sin,
  cos,
  exp,
  erf,
  gelu,
  gelu_tanh,
  silu,
  selu,
  elu,
  celu,
  softplus,
  step,
  sign,
  abs,
  he,
  hermite
};

struct ActName {
  const char* name;
  ActKind kind;
};

/// Every named activation (`he` stands for the family he0..he30, `hermite` for a series).
inline const std::vector<ActName>& activation_table() {
  static const std::vector<ActName> table = {{"identity", ActKind::identity},
                                             {"relu", ActKind::relu},
                                             {"leaky_relu", ActKind::leaky_relu},
                                             {"tanh", ActKind::tanh},
                                             {"sigmoid", ActKind::sigmoid},
                                             {"sin", ActKind::sin},
                                             {"cos", ActKind::cos},
                                             {"exp", ActKind::exp},
                                             {"erf", ActKind::erf},
                                             {"gelu", ActKind::gelu},
                                             {"gelu_tanh", ActKind::gelu_tanh},
                                             {"silu", ActKind::silu},
                                             {"selu", ActKind::selu},
                                             {"elu", ActKind::elu},
                                             {"celu", ActKind::celu},
                                             {"softplus", ActKind::softplus},
                                             {"step", ActKind::step},
                                             {"sign", ActKind::sign},
                                             {"abs", ActKind::abs},
                                             {"he", ActKind::he},
                                             {"hermite", ActKind::hermite}};
  return table;
}

constexpr double SELU_ALPHA = 1.6732632423543772848170429916717;
constexpr double SELU_LAMBDA = 1.0507009873554804934193349852946;
constexpr int HE_MAX = 30;

/// A resolved activation: kind, one scalar parameter (slope, alpha, or the order K of
/// He_K) and, for `hermite`, normalized coefficients c_0..c_K.
struct Activation {
  ActKind kind = ActKind::relu;
  double param = 0.0;
  std::vector<double> coeffs;

  static Activation from_name(const std::string& name, double param, const std::vector<double>& coeffs) {
    std::string base = name;
    if (name.size() > 2 && name.rfind("he", 0) == 0 && name.find_first_not_of("0123456789", 2) == std::string::npos) {
      base = "he";
      param = std::stod(name.substr(2));
    }
    for (const auto& e : activation_table()) {
      if (base == e.name) {
        Activation a{e.kind, param, coeffs};
        a.validate();
        return a;
      }
    }
    std::string names;
    for (const auto& e : activation_table()) names += std::string(names.empty() ? "" : ", ") + e.name;
    throw std::invalid_argument("activation must be one of " + names + " (he as heK); got '" + name + "'");
  }

  void validate() const {
    if (kind == ActKind::he && !(param >= 0 && param <= HE_MAX && param == std::floor(param)))
      throw std::invalid_argument("activation heK needs 0 <= K <= 30");
    if ((kind == ActKind::elu || kind == ActKind::celu) && !(param > 0))
      throw std::invalid_argument("activation elu/celu needs alpha > 0; got " + std::to_string(param));
    if (kind == ActKind::hermite && (coeffs.empty() || coeffs.size() > HE_MAX + 1))
      throw std::invalid_argument("activation hermite needs 1 to 31 coefficients");
    if (!std::isfinite(param)) throw std::invalid_argument("activation parameter must be finite");
  }

  /// Apply in place to data[0..count).
  void apply(double* data, std::size_t count) const;
};

namespace detail {

inline double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

/// Unnormalized probabilists' Hermite polynomial He_k(x) by its three-term recurrence.
inline double hermite_he(int k, double x) {
  if (k == 0) return 1.0;
  double h0 = 1.0, h1 = x;
  for (int j = 1; j < k; ++j) {
    const double h2 = x * h1 - j * h0;
    h0 = h1;
    h1 = h2;
  }
  return h1;
}

/// sum_k c_k He_k(x) / sqrt(k!)
inline double hermite_series(const std::vector<double>& c, double x) {
  double out = c[0];
  if (c.size() == 1) return out;
  double h0 = 1.0, h1 = x, inv_sqrt_fact = 1.0;
  out += c[1] * h1;
  for (std::size_t k = 2; k < c.size(); ++k) {
    const double h2 = x * h1 - static_cast<double>(k - 1) * h0;
    h0 = h1;
    h1 = h2;
    inv_sqrt_fact /= std::sqrt(static_cast<double>(k));
    out += c[k] * inv_sqrt_fact * h1;
  }
  return out;
}

template <class F>
inline void map(double* d, std::size_t count, F f) {
  for (std::size_t i = 0; i < count; ++i) d[i] = f(d[i]);
}

}  // namespace detail

inline void Activation::apply(double* d, std::size_t count) const {
  const double a = param;
  switch (kind) {
    case ActKind::identity:
      return;
    case ActKind::relu:
      return detail::map(d, count, [](double x) { return x > 0 ? x : 0.0; });
    case ActKind::leaky_relu:
      return detail::map(d, count, [a](double x) { return x >= 0 ? x : a * x; });
    case ActKind::tanh:
      return detail::map(d, count, [](double x) { return std::tanh(x); });
    case ActKind::sigmoid:
      return detail::map(d, count, detail::sigmoid);
    case ActKind::sin:
      return detail::map(d, count, [](double x) { return std::sin(x); });
    case ActKind::cos:
      return detail::map(d, count, [](double x) { return std::cos(x); });
    case ActKind::exp:
      return detail::map(d, count, [](double x) { return std::exp(x); });
    case ActKind::erf:
      return detail::map(d, count, [](double x) { return std::erf(x); });
    case ActKind::gelu:
      return detail::map(d, count, [](double x) { return 0.5 * x * (1.0 + std::erf(x * M_SQRT1_2)); });
    case ActKind::gelu_tanh: {
      const double c = std::sqrt(2.0 / M_PI);
      return detail::map(d, count,
                         [c](double x) { return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x))); });
    }
    case ActKind::silu:
      return detail::map(d, count, [](double x) { return x * detail::sigmoid(x); });
    case ActKind::selu:
      return detail::map(d, count, [](double x) { return SELU_LAMBDA * (x > 0 ? x : SELU_ALPHA * std::expm1(x)); });
    case ActKind::elu:
      return detail::map(d, count, [a](double x) { return x > 0 ? x : a * std::expm1(x); });
    case ActKind::celu:
      return detail::map(d, count, [a](double x) { return x > 0 ? x : a * std::expm1(x / a); });
    case ActKind::softplus:
      return detail::map(d, count, [](double x) { return (x > 0 ? x : 0.0) + std::log1p(std::exp(-std::fabs(x))); });
    case ActKind::step:
      return detail::map(d, count, [](double x) { return x > 0 ? 1.0 : 0.0; });
    case ActKind::sign:
      return detail::map(d, count, [](double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); });
    case ActKind::abs:
      return detail::map(d, count, [](double x) { return std::fabs(x); });
    case ActKind::he: {
      const int k = static_cast<int>(param);
      return detail::map(d, count, [k](double x) { return detail::hermite_he(k, x); });
    }
    case ActKind::hermite: {
      const std::vector<double>& c = coeffs;
      return detail::map(d, count, [&c](double x) { return detail::hermite_series(c, x); });
    }
  }
}

}  // namespace isoinit
