// Counter-based random streams and a fast normal sampler.
//
// Where seeds become streams: every random number of a simulation is a pure function of
// (seed, run, layer, purpose, index). A stream's key is a hash of (seed, run, layer,
// purpose); its i-th 64-bit output is SplitMix64's finalizer applied to key + i * GAMMA
// (the SplitMix64 generator read as a counter-based generator). Nothing depends on which
// thread draws it, so results are bit-identical on any thread count.
//
// Normals come from a 256-layer ziggurat (Marsaglia and Tsang 2000). The i-th normal of a
// stream uses the i-th 64-bit output: 8 bits pick the layer, 1 bit the sign, 52 bits the
// abscissa. The rare draws that miss the layer's inner rectangle (1.5%) continue with a
// side stream addressed by i, so normal i depends on i alone: the AVX2 path, which tests
// four draws at once, gives bit-identical numbers to the scalar one.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__GNUC__) || defined(__clang__)
#define ISOINIT_LIKELY(x) __builtin_expect(!!(x), 1)
#define ISOINIT_NOINLINE __attribute__((noinline))
#else
#define ISOINIT_LIKELY(x) (x)
#define ISOINIT_NOINLINE
#endif

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define ISOINIT_X86_DISPATCH 1
#include <immintrin.h>
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

constexpr std::uint64_t GAMMA = 0x9e3779b97f4a7c15ULL;

/// Uniform on [0, 1) from the top 52 bits of u (exact in a double).
inline double uniform52(std::uint64_t u) { return static_cast<double>(static_cast<std::int64_t>(u >> 12)) * 0x1.0p-52; }

class Stream {
 public:
  static constexpr std::uint64_t GAMMA = isoinit::GAMMA;

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
  /// Uniform on [0, 1) with 52 random bits.
  double next_uniform() { return uniform52(next_u64()); }
  /// Uniform on (0, 1].
  double next_uniform_pos() { return uniform52(next_u64()) + 0x1.0p-52; }

  /// Fill out[0..count) with standard normals (normals counter+1 .. counter+count).
  inline void fill_normal(double* out, std::size_t count);

 private:
  std::uint64_t key_;
  std::uint64_t counter_;
};

namespace detail {

struct Ziggurat {
  static constexpr int N = 256;
  static constexpr double R = 3.6541528853610088;  // right edge of the base layer
  double x[N + 1];                                 // layer abscissas, x[0] = V / f(R) (virtual width of the base strip)
  double f[N + 1];                                 // f(x[i]) = exp(-x[i]^2 / 2)

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

/// Normal number `index` of the stream with this key when its draw u missed the inner
/// rectangle of its layer: the ziggurat's wedge and tail tests, continued with the side
/// stream (mix64(key ^ SIDE), index << 24), which no other normal shares.
ISOINIT_NOINLINE inline double normal_slow(std::uint64_t key, std::uint64_t index, std::uint64_t u) {
  const detail::Ziggurat& z = detail::ziggurat();
  Stream side(mix64(key ^ 0x3c6ef372fe94f82bULL), index << 24);
  for (;;) {
    const int i = static_cast<int>(u & 0xff);
    const double x = uniform52(u) * z.x[i];
    if (x < z.x[i + 1]) return signed_by(x, u);
    if (i == 0) {  // tail beyond R (Marsaglia 1964)
      double a, b;
      do {
        a = -std::log(side.next_uniform_pos()) / detail::Ziggurat::R;
        b = -std::log(side.next_uniform_pos());
      } while (b + b < a * a);
      return signed_by(detail::Ziggurat::R + a, u);
    }
    // wedge: uniform height in [f(x_i), f(x_{i+1})], accept under the density
    const double y = z.f[i] + side.next_uniform() * (z.f[i + 1] - z.f[i]);
    if (y < std::exp(-0.5 * x * x)) return signed_by(x, u);
    u = side.next_u64();
  }
}

namespace detail {

/// Normals index+1 .. index+count of the stream `key`, one at a time.
inline void fill_normal_scalar(std::uint64_t key, std::uint64_t index, double* out, std::size_t count) {
  const double* xs = ziggurat().x;
  for (std::size_t k = 0; k < count; ++k) {
    const std::uint64_t idx = index + 1 + k;
    const std::uint64_t u = mix64(key + idx * GAMMA);
    const int i = static_cast<int>(u & 0xff);
    const double x = uniform52(u) * xs[i];
    out[k] = ISOINIT_LIKELY(x < xs[i + 1]) ? signed_by(x, u) : normal_slow(key, idx, u);
  }
}

#ifdef ISOINIT_X86_DISPATCH
/// Low 64 bits of a * c for four lanes (AVX2 has no 64-bit multiply): three 32 x 32 -> 64
/// products.
__attribute__((target("avx2"))) inline __m256i mul64(__m256i a, std::uint64_t c) {
  const __m256i c_lo = _mm256_set1_epi64x(static_cast<long long>(c & 0xffffffffULL));
  const __m256i c_hi = _mm256_set1_epi64x(static_cast<long long>(c >> 32));
  const __m256i lo = _mm256_mul_epu32(a, c_lo);
  const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), c_lo), _mm256_mul_epu32(a, c_hi));
  return _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32));
}

__attribute__((target("avx2"))) inline __m256i mix64x4(__m256i z) {
  z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), 0xbf58476d1ce4e5b9ULL);
  z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), 0x94d049bb133111ebULL);
  return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}

/// The same numbers as fill_normal_scalar, four draws at a time (the mixer and the
/// arithmetic in AVX2 registers; the table lookups as scalar loads, which are faster than
/// gathers on the CPUs measured).
__attribute__((target("avx2"))) inline void fill_normal_avx2(std::uint64_t key, std::uint64_t index, double* out,
                                                             std::size_t count) {
  const double* xs = ziggurat().x;
  std::size_t k = 0;
  if (count >= 4) {
    // z_j = key + (index + 1 + j) * GAMMA, stepping by 4 * GAMMA
    __m256i z = _mm256_set_epi64x(
        static_cast<long long>(key + (index + 4) * GAMMA), static_cast<long long>(key + (index + 3) * GAMMA),
        static_cast<long long>(key + (index + 2) * GAMMA), static_cast<long long>(key + (index + 1) * GAMMA));
    const __m256i step = _mm256_set1_epi64x(static_cast<long long>(4 * GAMMA));
    const __m256i sign_bit = _mm256_set1_epi64x(0x100);
    const __m256i exponent = _mm256_set1_epi64x(0x4330000000000000LL);  // 2^52 as a double
    const __m256d two52 = _mm256_set1_pd(0x1.0p52);
    const __m256d scale = _mm256_set1_pd(0x1.0p-52);
    for (; k + 4 <= count; k += 4) {
      const __m256i u = mix64x4(z);
      z = _mm256_add_epi64(z, step);
      alignas(32) std::uint64_t lanes[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), u);
      const std::size_t i0 = lanes[0] & 0xff, i1 = lanes[1] & 0xff, i2 = lanes[2] & 0xff, i3 = lanes[3] & 0xff;
      const __m256d xi = _mm256_set_pd(xs[i3], xs[i2], xs[i1], xs[i0]);
      const __m256d xnext = _mm256_set_pd(xs[i3 + 1], xs[i2 + 1], xs[i1 + 1], xs[i0 + 1]);
      // (u >> 12) as a double: or the 52 bits into the mantissa of 2^52, subtract 2^52
      const __m256d top =
          _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(u, 12), exponent)), two52);
      const __m256d x = _mm256_mul_pd(_mm256_mul_pd(top, scale), xi);
      const __m256d sign = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_and_si256(u, sign_bit), 55));
      _mm256_storeu_pd(out + k, _mm256_or_pd(x, sign));
      const int inside = _mm256_movemask_pd(_mm256_cmp_pd(x, xnext, _CMP_LT_OQ));
      if (ISOINIT_LIKELY(inside == 0xf)) continue;
      for (int l = 0; l < 4; ++l)
        if (!(inside & (1 << l))) out[k + l] = normal_slow(key, index + 1 + k + l, lanes[l]);
    }
  }
  fill_normal_scalar(key, index + k, out + k, count - k);
}

inline bool have_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#endif

}  // namespace detail

inline void Stream::fill_normal(double* out, std::size_t count) {
#ifdef ISOINIT_X86_DISPATCH
  if (detail::have_avx2())
    detail::fill_normal_avx2(key_, counter_, out, count);
  else
#endif
    detail::fill_normal_scalar(key_, counter_, out, count);
  counter_ += count;
}

}  // namespace isoinit
