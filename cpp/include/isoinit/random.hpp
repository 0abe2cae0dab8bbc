// Counter-based random streams and a fast normal sampler.
//
// Where seeds become streams: every random number of a simulation is a pure function of
// (seed, run, layer, purpose, index). A stream's key is a hash of (seed, run, layer,
// purpose); its i-th 64-bit output is SplitMix64's finalizer applied to key + i * GAMMA
// (the SplitMix64 generator read as a counter-based generator). Nothing depends on which
// thread draws it, so results are bit-identical on any thread count.
//
// Normals come from a 256-layer ziggurat (Marsaglia and Tsang 2000) driven by one 64-bit
// output per draw: 8 bits pick the layer, 1 bit the sign, 53 bits the abscissa.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__GNUC__) || defined(__clang__)
#define ISOINIT_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define ISOINIT_LIKELY(x) (x)
#endif

namespace isoinit {

/// SplitMix64 output function (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// What a stream is used for; part of the stream key so that uses never share numbers.
enum class Purpose : std::uint64_t { linear = 1, bias = 2, frame = 3, user = 4 };

class Stream {
 public:
  static constexpr std::uint64_t GAMMA = 0x9e3779b97f4a7c15ULL;

  explicit Stream(std::uint64_t key, std::uint64_t start = 0) : key_(key), counter_(start) {}

  /// The stream of (seed, run, layer, purpose).
  static Stream derive(std::uint64_t seed, std::uint64_t run, std::uint64_t layer, Purpose purpose) {
    std::uint64_t k = mix64(seed ^ 0x243f6a8885a308d3ULL);
    k = mix64(k + mix64(run + 0x13198a2e03707344ULL));
    k = mix64(k + mix64(layer + 0xa4093822299f31d0ULL));
    k = mix64(k + mix64(static_cast<std::uint64_t>(purpose) + 0x082efa98ec4e6c89ULL));
    return Stream(k);
  }

  std::uint64_t next_u64() {
    counter_ += 1;
    return mix64(key_ + counter_ * GAMMA);
  }
  /// Uniform on [0, 1) with 53 random bits.
  double next_uniform() { return static_cast<double>(static_cast<std::int64_t>(next_u64() >> 11)) * 0x1.0p-53; }
  /// Uniform on (0, 1].
  double next_uniform_pos() {
    return (static_cast<double>(static_cast<std::int64_t>(next_u64() >> 11)) + 1.0) * 0x1.0p-53;
  }

  inline double next_normal();
  /// Fill out[0..count) with standard normals.
  inline void fill_normal(double* out, std::size_t count);

 private:
  std::uint64_t key_;
  std::uint64_t counter_;
};

namespace detail {

struct Ziggurat {
  static constexpr int N = 256;
  static constexpr double R = 3.6541528853610088;  // right edge of the base layer
  double x[N + 1];  // layer abscissas, x[0] = V / f(R) (virtual width of the base strip)
  double f[N + 1];  // f(x[i]) = exp(-x[i]^2 / 2)

  Ziggurat() {
    const double fr = std::exp(-0.5 * R * R);
    // Area of each layer: the base strip holds the rectangle [0, R] x [0, f(R)] and the tail.
    const double v = R * fr + std::sqrt(M_PI / 2.0) * std::erfc(R / std::sqrt(2.0));
    x[0] = v / fr;
    x[1] = R;
    for (int i = 1; i < N - 1; ++i) x[i + 1] = std::sqrt(-2.0 * std::log(v / x[i] + std::exp(-0.5 * x[i] * x[i])));
    x[N] = 0.0;
    for (int i = 0; i <= N; ++i) f[i] = std::exp(-0.5 * x[i] * x[i]);
    f[0] = fr;  // the base strip's upper edge is at f(R)
  }
};

inline const Ziggurat& ziggurat() {
  static const Ziggurat table;
  return table;
}

}  // namespace detail

/// x with its sign bit set from bit 8 of u (branch-free: the sign is a coin flip, which a
/// branch would mispredict half of the time).
inline double signed_by(double x, std::uint64_t u) {
  std::uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits |= (u & 0x100) << 55;
  std::memcpy(&x, &bits, sizeof bits);
  return x;
}

#if defined(__GNUC__) || defined(__clang__)
#define ISOINIT_NOINLINE __attribute__((noinline))
#else
#define ISOINIT_NOINLINE
#endif

/// The ziggurat's rare branches (about 1.5% of draws), for a draw u that missed the inner
/// rectangle of its layer; kept out of line so that the fast path stays small.
ISOINIT_NOINLINE inline double normal_slow(Stream& s, std::uint64_t u) {
  const detail::Ziggurat& z = detail::ziggurat();
  for (;;) {
    const int i = static_cast<int>(u & 0xff);
    const double x = static_cast<double>(static_cast<std::int64_t>(u >> 11)) * 0x1.0p-53 * z.x[i];
    if (x < z.x[i + 1]) return signed_by(x, u);
    if (i == 0) {  // tail beyond R (Marsaglia 1964)
      double a, b;
      do {
        a = -std::log(s.next_uniform_pos()) / detail::Ziggurat::R;
        b = -std::log(s.next_uniform_pos());
      } while (b + b < a * a);
      return signed_by(detail::Ziggurat::R + a, u);
    }
    // wedge: uniform height in [f(x_i), f(x_{i+1})], accept under the density
    const double y = z.f[i] + s.next_uniform() * (z.f[i + 1] - z.f[i]);
    if (y < std::exp(-0.5 * x * x)) return signed_by(x, u);
    u = s.next_u64();
  }
}

inline double Stream::next_normal() {
  double out;
  fill_normal(&out, 1);
  return out;
}

inline void Stream::fill_normal(double* out, std::size_t count) {
  const detail::Ziggurat& z = detail::ziggurat();
  const double* xs = z.x;
  // The counter lives in a register for the loop; the slow path gets it back through the
  // object (keeping it in the object would put a store-to-load chain on every draw).
  std::uint64_t ctr = counter_;
  for (std::size_t k = 0; k < count; ++k) {
    ctr += 1;
    const std::uint64_t u = mix64(key_ + ctr * GAMMA);
    const int i = static_cast<int>(u & 0xff);
    // u >> 11 < 2^53: the signed conversion is exact and much cheaper than the unsigned one
    const double x = static_cast<double>(static_cast<std::int64_t>(u >> 11)) * 0x1.0p-53 * xs[i];
    if (ISOINIT_LIKELY(x < xs[i + 1])) {
      out[k] = signed_by(x, u);
    } else {
      counter_ = ctr;
      out[k] = normal_slow(*this, u);
      ctr = counter_;
    }
  }
  counter_ = ctr;
}

}  // namespace isoinit
