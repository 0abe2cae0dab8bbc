// Elementwise activations: the kernel's half of the one activation table.
//
// The names here are those the kernel knows the activations of
// python/isoinit/activations/__init__.py by; a test checks that both sides list the same
// ones and agree to 1e-12 on every value. The constants below reach Python through
// _core.constants().
#pragma once

#include <cmath>
#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.hpp"

namespace isoinit {

constexpr double SELU_ALPHA = 1.6732632423543772848170429916717;
constexpr double SELU_LAMBDA = 1.0507009873554804934193349852946;
constexpr int HE_MAX = 30;
/// A tabulated activation (`table`): header [lo, hi, cells / (hi - lo), cells, f(lo), f'(lo),
/// f(hi), f'(hi)], then per cell the TABLE_DEGREE + 1 monomial coefficients in u in [-1, 1].
constexpr std::size_t TABLE_HEADER = 8;
constexpr std::size_t TABLE_DEGREE = 5;  // detail::table_eval's Horner scheme is written for 5

// The one activation list. Each entry is X(name, requirement, exactness, formula):
//   name         the kernel's name and the ActKind enumerator;
//   requirement  ISOINIT_ANY, or ISOINIT_REQUIRES(condition, "what is allowed", shown value):
//                a condition on the scalar parameter `a` (and, for hermite, the coefficients
//                `c`) that Activation::validate() checks;
//   exactness    ISOINIT_EXACT if the formula uses only IEEE-754's correctly rounded
//                operations (+ - * /, sqrt, comparisons, floor), so its values are the same
//                bits on every CPU; ISOINIT_LIBM if it calls the C library's transcendental
//                functions, whose last bits can depend on the CPU (glibc picks FMA or
//                non-FMA versions at load time);
//   formula      the value at the input `x` (double), an expression of x, a and c.
// The enum, the name table, the validation and the dispatch of Activation::apply are all
// generated from it: adding an activation on the C++ side is adding one entry here (the
// Python side adds its record in python/isoinit/activations/__init__.py). `he` stands for the family
// he0..he30 (a = K), `hermite` for the series sum_k c_k He_k(x) / sqrt(k!), `table` for a
// piecewise polynomial on a uniform grid with linear tails (a Python callable tabulated by
// python/isoinit/activations/__init__.py; layout at TABLE_HEADER).
#define ISOINIT_ACTIVATIONS(X)                                                                                        \
  X(identity, ISOINIT_ANY, ISOINIT_EXACT, x)                                                                          \
  X(relu, ISOINIT_ANY, ISOINIT_EXACT, x > 0 ? x : 0.0)                                                                \
  X(leaky_relu, ISOINIT_ANY, ISOINIT_EXACT, x >= 0 ? x : a * x)                                                       \
  X(tanh, ISOINIT_ANY, ISOINIT_LIBM, std::tanh(x))                                                                    \
  X(sigmoid, ISOINIT_ANY, ISOINIT_LIBM, detail::sigmoid(x))                                                           \
  X(sin, ISOINIT_ANY, ISOINIT_LIBM, std::sin(x))                                                                      \
  X(cos, ISOINIT_ANY, ISOINIT_LIBM, std::cos(x))                                                                      \
  X(exp, ISOINIT_ANY, ISOINIT_LIBM, std::exp(x))                                                                      \
  X(erf, ISOINIT_ANY, ISOINIT_LIBM, std::erf(x))                                                                      \
  X(gelu, ISOINIT_ANY, ISOINIT_LIBM, 0.5 * x * (1.0 + std::erf(x * M_SQRT1_2)))                                       \
  X(gelu_tanh, ISOINIT_ANY, ISOINIT_LIBM,                                                                             \
    0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))))                                  \
  X(silu, ISOINIT_ANY, ISOINIT_LIBM, (x * detail::sigmoid(x)))                                                        \
  X(quick_gelu, ISOINIT_ANY, ISOINIT_LIBM, (x * detail::sigmoid(1.702 * x)))                                          \
  X(selu, ISOINIT_ANY, ISOINIT_LIBM, (SELU_LAMBDA * (x > 0 ? x : SELU_ALPHA * std::expm1(x))))                        \
  X(elu, ISOINIT_REQUIRES(a > 0, "alpha > 0", a), ISOINIT_LIBM, x > 0 ? x : a * std::expm1(x))                        \
  X(celu, ISOINIT_REQUIRES(a > 0, "alpha > 0", a), ISOINIT_LIBM, x > 0 ? x : a * std::expm1(x / a))                   \
  X(softplus, ISOINIT_ANY, ISOINIT_LIBM, detail::softplus(x))                                                         \
  X(step, ISOINIT_ANY, ISOINIT_EXACT, x > 0 ? 1.0 : 0.0)                                                              \
  X(sign, ISOINIT_ANY, ISOINIT_EXACT, x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0))                                             \
  X(abs, ISOINIT_ANY, ISOINIT_EXACT, std::fabs(x))                                                                    \
  X(softsign, ISOINIT_ANY, ISOINIT_EXACT, x / (1.0 + std::fabs(x)))                                                   \
  X(hardtanh, ISOINIT_ANY, ISOINIT_EXACT, x < -1.0 ? -1.0 : (x > 1.0 ? 1.0 : x))                                      \
  X(mish, ISOINIT_ANY, ISOINIT_LIBM, (x * std::tanh(detail::softplus(x))))                                            \
  X(he, ISOINIT_REQUIRES(a >= 0 && a <= HE_MAX && a == std::floor(a), "an integer 0 <= K <= 30", a), ISOINIT_EXACT,   \
    detail::hermite_he(static_cast<int>(a), x))                                                                       \
  X(hermite, ISOINIT_REQUIRES(!c.empty() && c.size() <= HE_MAX + 1, "1 to 31 coefficients", c.size()), ISOINIT_EXACT, \
    detail::hermite_series(c, x))                                                                                     \
  X(table, ISOINIT_REQUIRES(detail::table_ok(c), "a packed table (see TABLE_HEADER)", c.size()), ISOINIT_EXACT,       \
    detail::table_eval(c, x))

namespace detail {

inline double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

/// log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|).
inline double softplus(double x) { return (x > 0 ? x : 0.0) + std::log1p(std::exp(-std::fabs(x))); }

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

/// Whether `c` is a well-formed table: the header, `cells` whole cells of coefficients, finite
/// numbers, lo < hi and the stored inverse cell width consistent with them.
inline bool table_ok(const std::vector<double>& c) {
  constexpr std::size_t per_cell = TABLE_DEGREE + 1;
  if (c.size() < TABLE_HEADER + per_cell || (c.size() - TABLE_HEADER) % per_cell != 0) return false;
  for (const double v : c)
    if (!std::isfinite(v)) return false;
  const double cells = static_cast<double>((c.size() - TABLE_HEADER) / per_cell);
  return c[3] == cells && c[0] < c[1] && c[2] > 0 && std::fabs(c[2] * (c[1] - c[0]) - cells) <= 1e-9 * cells;
}

/// The table's value at x: the cell's polynomial (Horner in u = 2 t - 1, t the position in the
/// cell) on [lo, hi], the tangent line at the nearer end outside it (a zero slope gives the end
/// value even at +-inf), NaN for NaN. No allocation, one branch per tail.
inline double table_eval(const std::vector<double>& c, double x) {
  const double lo = c[0], hi = c[1];
  if (x < lo) return c[4] + (c[5] == 0.0 ? 0.0 : c[5] * (x - lo));
  if (x > hi) return c[6] + (c[7] == 0.0 ? 0.0 : c[7] * (x - hi));
  if (std::isnan(x)) return x;
  const double s = (x - lo) * c[2];                          // >= 0 since x >= lo
  const double cell = std::fmin(std::floor(s), c[3] - 1.0);  // x == hi belongs to the last cell
  const double u = 2.0 * (s - cell) - 1.0;
  const double* p = c.data() + TABLE_HEADER + (TABLE_DEGREE + 1) * static_cast<std::size_t>(cell);
  return p[0] + u * (p[1] + u * (p[2] + u * (p[3] + u * (p[4] + u * p[5]))));
}

/// "activation elu needs alpha > 0; got -1"
template <class T>
std::string requirement_error(const char* name, const char* allowed, T got) {
  std::ostringstream msg;
  msg << "activation " << name << " needs " << allowed << "; got " << got;
  return msg.str();
}

/// d[i] = f(d[i]); returns true if every input was finite. The check rides on the same pass:
/// x * 0 is 0 for a finite x and NaN otherwise, summed in kernels::reduce's independent lanes
/// so that the loop still vectorizes. A float32 value is mapped in float64 and rounded back.
template <class T, class F>
inline bool map(T* d, std::size_t count, F f) {
  return kernels::reduce(count, [d, &f](std::size_t i) {
           const double x = static_cast<double>(d[i]);
           d[i] = static_cast<T>(f(x));
           return x * 0.0;
         }) == 0.0;
}

}  // namespace detail

enum class ActKind {
#define ISOINIT_ACT_ENUM(name, requirement, exactness, formula) name,
  ISOINIT_ACTIVATIONS(ISOINIT_ACT_ENUM)
#undef ISOINIT_ACT_ENUM
};

struct ActName {
  const char* name;
  ActKind kind;
  bool exact;  // the entry's exactness: the same bits on every CPU
};

/// Every named activation, in the order of ISOINIT_ACTIVATIONS.
inline const std::vector<ActName>& activation_table() {
  static const std::vector<ActName> table = {
#define ISOINIT_ACT_NAME(name, requirement, exactness, formula) {#name, ActKind::name, exactness},
#define ISOINIT_EXACT true
#define ISOINIT_LIBM false
      ISOINIT_ACTIVATIONS(ISOINIT_ACT_NAME)
#undef ISOINIT_LIBM
#undef ISOINIT_EXACT
#undef ISOINIT_ACT_NAME
  };
  return table;
}

/// A resolved activation: kind, one scalar parameter (slope, alpha, or the order K of
/// He_K) and, for `hermite`, normalized coefficients c_0..c_K (for `table`, the packed table).
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

  /// Check the entry's requirement on the parameter (and coefficients), then finiteness.
  void validate() const {
    const double a = param;
    const std::vector<double>& c = coeffs;
    (void)a;
    (void)c;
    switch (kind) {
#define ISOINIT_ANY
#define ISOINIT_REQUIRES(condition, allowed, got) \
  if (!(condition)) throw std::invalid_argument(detail::requirement_error(act_name, allowed, got));
#define ISOINIT_ACT_CHECK(name, requirement, exactness, formula) \
  case ActKind::name: {                                          \
    const char* act_name = #name;                                \
    (void)act_name;                                              \
    requirement break;                                           \
  }
      ISOINIT_ACTIVATIONS(ISOINIT_ACT_CHECK)
#undef ISOINIT_ACT_CHECK
#undef ISOINIT_REQUIRES
#undef ISOINIT_ANY
    }
    if (!std::isfinite(param)) throw std::invalid_argument("activation parameter must be finite");
  }

  /// True if the activation is a constant function: he0, or a Hermite series whose
  /// coefficients c_1, c_2, ... are all 0.
  bool is_constant() const {
    if (kind == ActKind::he) return param == 0;
    if (kind == ActKind::hermite) {
      for (std::size_t k = 1; k < coeffs.size(); ++k)
        if (coeffs[k] != 0) return false;
      return true;
    }
    return false;
  }

  /// Apply in place to data[0..count). Returns false if an input was not finite (inf or NaN),
  /// which the output may not show (relu(NaN) = 0, tanh(inf) = 1); the identity returns true
  /// (its output is its input).
  template <class T>
  bool apply(T* data, std::size_t count) const;
};

template <class T>
inline bool Activation::apply(T* d, std::size_t count) const {
  if (kind == ActKind::identity) return true;
  if (kind == ActKind::relu) return kernels::relu(d, count);  // the same values, in SIMD registers
  const double a = param;
  const std::vector<double>& c = coeffs;
  switch (kind) {
#define ISOINIT_ACT_APPLY(name, requirement, exactness, formula) \
  case ActKind::name:                                            \
    return detail::map(d, count, [&](double x) {                 \
      (void)a;                                                   \
      (void)c;                                                   \
      return formula;                                            \
    });
    ISOINIT_ACTIVATIONS(ISOINIT_ACT_APPLY)
#undef ISOINIT_ACT_APPLY
  }
  return true;
}

}  // namespace isoinit
