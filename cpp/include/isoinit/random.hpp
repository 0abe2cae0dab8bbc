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
// side stream addressed by i, so normal i depends on i alone: the SIMD paths (AVX2, four
// draws at once; AVX-512, eight, chosen at run time when the CPU has AVX512F and AVX512DQ)
// give bit-identical numbers to the scalar one, on any split of the draws into calls.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
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

  /// The stream's key, and the counter of its last draw (0 before the first).
  std::uint64_t key() const { return key_; }
  std::uint64_t counter() const { return counter_; }

  /// Fill out[0..count) with standard normals (normals counter+1 .. counter+count); the
  /// float overload writes the same normals rounded to float32 (no float64 pass in between).
  inline void fill_normal(double* out, std::size_t count) { fill(out, count); }
  inline void fill_normal(float* out, std::size_t count) { fill(out, count); }

 private:
  template <class T>
  inline void fill(T* out, std::size_t count);

  std::uint64_t key_;
  std::uint64_t counter_;
};

namespace detail {

struct Ziggurat {
  static constexpr int N = 256;
  static constexpr double R = 3.6541528853610088;  // right edge of the base layer
  double x[N + 1];                                 // layer abscissas, x[0] = V / f(R) (virtual width of the base strip)
  double f[N + 1];                                 // f(x[i]) = exp(-x[i]^2 / 2)
  // {x[i] * 2^-52, x[i + 1]} side by side: the AVX-512 path reads both with one 16-byte load
  // and multiplies the 52-bit integer abscissa by the first (exact: a power-of-two scaling)
  alignas(64) double pair[2 * N];

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
    for (int i = 0; i < N; ++i) {
      pair[2 * i] = std::ldexp(x[i], -52);
      pair[2 * i + 1] = x[i + 1];
    }
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

namespace detail {
/// Salt of the side streams of the ziggurat's slow path.
constexpr std::uint64_t SIDE = 0x3c6ef372fe94f82bULL;
}  // namespace detail

/// Normal number `index` of the stream with this key when its draw u missed the inner
/// rectangle of its layer: the ziggurat's wedge and tail tests, continued with the side
/// stream (mix64(key ^ SIDE), index << 24), which no other normal shares.
ISOINIT_NOINLINE inline double normal_slow(std::uint64_t key, std::uint64_t index, std::uint64_t u) {
  const detail::Ziggurat& z = detail::ziggurat();
  Stream side(mix64(key ^ detail::SIDE), index << 24);
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

/// Normals index+1 .. index+count of the stream `key`, one at a time (T = double, or float:
/// the same normals rounded to nearest, as every path below writes them).
template <class T>
inline void fill_normal_scalar(std::uint64_t key, std::uint64_t index, T* out, std::size_t count) {
  const double* xs = ziggurat().x;
  for (std::size_t k = 0; k < count; ++k) {
    const std::uint64_t idx = index + 1 + k;
    const std::uint64_t u = mix64(key + idx * GAMMA);
    const int i = static_cast<int>(u & 0xff);
    const double x = uniform52(u) * xs[i];
    out[k] = static_cast<T>(ISOINIT_LIKELY(x < xs[i + 1]) ? signed_by(x, u) : normal_slow(key, idx, u));
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

/// Four doubles stored as they are, or rounded to float32 (cvtpd2ps rounds to nearest, as
/// static_cast<float> does).
__attribute__((target("avx2"))) inline void store4(double* p, __m256d v) { _mm256_storeu_pd(p, v); }
__attribute__((target("avx2"))) inline void store4(float* p, __m256d v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }

/// The same numbers as fill_normal_scalar, four draws at a time (the mixer and the
/// arithmetic in AVX2 registers; the table lookups as scalar loads, which are faster than
/// gathers on the CPUs measured).
template <class T>
__attribute__((target("avx2"))) inline void fill_normal_avx2(std::uint64_t key, std::uint64_t index, T* out,
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
      store4(out + k, _mm256_or_pd(x, sign));
      const int inside = _mm256_movemask_pd(_mm256_cmp_pd(x, xnext, _CMP_LT_OQ));
      if (ISOINIT_LIKELY(inside == 0xf)) continue;
      for (int l = 0; l < 4; ++l)
        if (!(inside & (1 << l))) out[k + l] = static_cast<T>(normal_slow(key, index + 1 + k + l, lanes[l]));
    }
  }
  fill_normal_scalar(key, index + k, out + k, count - k);
}

#define ISOINIT_TARGET_AVX512 __attribute__((target("avx512f,avx512dq")))
// GCC 12's AVX-512 headers set the unused lanes of their results from a self-initialized
// variable, which -W(maybe-)uninitialized reports where the intrinsics are inlined (GCC bug
// 105593, fixed in GCC 13); AVX-512 functions of other files that inline them need the same
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

ISOINIT_TARGET_AVX512 inline __m512i splat(std::uint64_t v) { return _mm512_set1_epi64(static_cast<long long>(v)); }

/// mix64 on eight lanes (AVX512DQ has the 64-bit multiply).
ISOINIT_TARGET_AVX512 inline __m512i mix64x8(__m512i z) {
  z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), splat(0xbf58476d1ce4e5b9ULL));
  z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), splat(0x94d049bb133111ebULL));
  return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

/// (u >> 12) as a double (exact: 52 bits).
ISOINIT_TARGET_AVX512 inline __m512d top52(__m512i u) { return _mm512_cvtepu64_pd(_mm512_srli_epi64(u, 12)); }

/// x with its sign bit set from bit 8 of u, on eight lanes (signed_by).
ISOINIT_TARGET_AVX512 inline __m512d signed_by8(__m512d x, __m512i u) {
  // x | (u << 55 & sign bit): ternary-logic table 0xf8 is a | (b & c)
  return _mm512_castsi512_pd(
      _mm512_ternarylogic_epi64(_mm512_castpd_si512(x), _mm512_slli_epi64(u, 55), splat(0x8000000000000000ULL), 0xf8));
}

/// exp(v) for v in [-7, 0] within 1e-15 (absolute), against the margin of wedge_margin: only
/// ever used to decide a wedge test that is clear by more than that margin.
ISOINIT_TARGET_AVX512 inline __m512d exp_near(__m512d v) {
  // v = k ln2 + r, |r| <= ln2 / 2; ln2 in two parts, the first with zero low bits so that
  // k * LN2_HI is exact; exp(r) by its Taylor polynomial of degree 13 (truncation < 1e-17)
  const __m512d k = _mm512_roundscale_pd(_mm512_mul_pd(v, _mm512_set1_pd(1.4426950408889634)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_sub_pd(v, _mm512_mul_pd(k, _mm512_set1_pd(0x1.62e42fefa3800p-1)));
  r = _mm512_sub_pd(r, _mm512_mul_pd(k, _mm512_set1_pd(0x1.ef35793c76730p-45)));
  double c = 1.0;
  for (int n = 2; n <= 13; ++n) c /= n;  // 1 / 13!
  __m512d p = _mm512_set1_pd(c);
  for (int n = 13; n >= 1; --n) {
    c *= n;  // 1 / (n - 1)!
    p = _mm512_add_pd(_mm512_mul_pd(p, r), _mm512_set1_pd(c));
  }
  return _mm512_scalef_pd(p, k);
}

/// The wedge tests of the AVX-512 path are taken as decided when the height y is farther than
/// this from the vector exp_near(-x^2 / 2), else the draw goes to normal_slow. Both
/// exp_near and std::exp are within 1e-15 of the density (std::exp within an ulp), and y may
/// differ from normal_slow's by an ulp (a compiler may fuse its multiply and add), so a
/// decision taken here is the one normal_slow takes, and the numbers stay bit-identical.
constexpr double wedge_margin = 0x1.0p-40;  // about 1e-12

/// out[j] for the draws listed in slow[0..n) (j: normal index + 1 + j) that missed their
/// layer's rectangle in fill_normal_avx512: eight at a time, normal_slow's first wedge
/// test and, after a rejection, its second draw's rectangle test; the rest (tail draws, the
/// second draw missing too, or a wedge test too close to call) by normal_slow itself.
template <class T>
ISOINIT_TARGET_AVX512 ISOINIT_NOINLINE inline void finish_slow_avx512(std::uint64_t key, std::uint64_t index, T* out,
                                                                      const std::uint64_t* slow, std::size_t n) {
  const Ziggurat& zt = ziggurat();
  const __m512i side_key = splat(mix64(key ^ SIDE));
  const __m512i gamma = splat(GAMMA);
  const __m512i ff = splat(0xff);
  for (std::size_t s = 0; s < n; s += 8) {
    const std::size_t lanes = n - s < 8 ? n - s : 8;
    const __mmask8 live = static_cast<__mmask8>((1u << lanes) - 1);
    const __m512i idx = _mm512_add_epi64(_mm512_maskz_loadu_epi64(live, slow + s), splat(index + 1));
    const __m512i u = mix64x8(_mm512_add_epi64(splat(key), _mm512_mullo_epi64(idx, gamma)));
    const __m512i i = _mm512_and_si512(u, ff);
    const __m512d x = _mm512_mul_pd(top52(u), _mm512_i64gather_pd(_mm512_slli_epi64(i, 1), zt.pair, 8));
    // the side stream (mix64(key ^ SIDE), idx << 24): its draws 1 (wedge height) and 2 (next u)
    const __m512i c0 = _mm512_add_epi64(side_key, _mm512_mullo_epi64(_mm512_slli_epi64(idx, 24), gamma));
    const __m512i w = mix64x8(_mm512_add_epi64(c0, gamma));
    const __m512i u2 = mix64x8(_mm512_add_epi64(c0, _mm512_add_epi64(gamma, gamma)));
    const __m512d f0 = _mm512_i64gather_pd(i, zt.f, 8);
    const __m512d f1 = _mm512_i64gather_pd(i, zt.f + 1, 8);
    const __m512d y =
        _mm512_add_pd(f0, _mm512_mul_pd(_mm512_mul_pd(top52(w), _mm512_set1_pd(0x1.0p-52)), _mm512_sub_pd(f1, f0)));
    const __m512d e = exp_near(_mm512_mul_pd(_mm512_mul_pd(_mm512_set1_pd(-0.5), x), x));
    const __m512d margin = _mm512_set1_pd(wedge_margin);
    const __mmask8 wedge = _mm512_mask_cmpneq_epi64_mask(live, i, _mm512_setzero_si512());
    const __mmask8 accept = _mm512_mask_cmp_pd_mask(wedge, y, _mm512_sub_pd(e, margin), _CMP_LT_OQ);
    const __mmask8 reject = _mm512_mask_cmp_pd_mask(wedge, y, _mm512_add_pd(e, margin), _CMP_GE_OQ);
    // after a rejection: u2's layer and its rectangle test
    const __m512i i2 = _mm512_slli_epi64(_mm512_and_si512(u2, ff), 1);
    const __m512d x2 = _mm512_mul_pd(top52(u2), _mm512_i64gather_pd(i2, zt.pair, 8));
    const __m512d next2 = _mm512_i64gather_pd(i2, zt.pair + 1, 8);
    const __mmask8 accept2 = _mm512_mask_cmp_pd_mask(reject, x2, next2, _CMP_LT_OQ);
    const __m512d r = _mm512_mask_blend_pd(accept2, signed_by8(x, u), signed_by8(x2, u2));
    const unsigned done = static_cast<unsigned>(accept | accept2);
    alignas(64) double value[8];
    alignas(64) std::uint64_t draw[8];
    _mm512_store_pd(value, r);
    _mm512_store_si512(draw, u);
    for (std::size_t l = 0; l < lanes; ++l) {
      const std::uint64_t j = slow[s + l];
      out[j] = static_cast<T>(ISOINIT_LIKELY(done >> l & 1u) ? value[l] : normal_slow(key, index + 1 + j, draw[l]));
    }
  }
}

/// The same numbers as fill_normal_scalar, eight draws at a time. The fast path (the draw
/// inside its layer's rectangle, 98.5%) is branch-free: each layer index goes through a
/// general-purpose register to one 16-byte load of Ziggurat::pair (faster than gathers on the
/// CPUs measured). The offsets of the other draws are compressed into a list and finished,
/// a block at a time, by finish_slow_avx512 (no mispredicted branch per draw).
ISOINIT_TARGET_AVX512 inline void store8(double* p, __m512d v) { _mm512_storeu_pd(p, v); }
ISOINIT_TARGET_AVX512 inline void store8(float* p, __m512d v) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)); }

template <class T>
ISOINIT_TARGET_AVX512 inline void fill_normal_avx512(std::uint64_t key, std::uint64_t index, T* out,
                                                     std::size_t count) {
  const double* pair = ziggurat().pair;
  constexpr std::size_t block = 1024;
  alignas(64) std::uint64_t slow[block + 8];  // + 8: each step stores a whole vector of offsets
  std::size_t k = 0;
  if (count >= 8) {
    const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    // z_j = key + (index + 1 + j) * GAMMA, stepping by 8 * GAMMA
    __m512i z = _mm512_add_epi64(splat(key + (index + 1) * GAMMA), _mm512_mullo_epi64(lane, splat(GAMMA)));
    __m512i offset = lane;
    const __m512i step = splat(8 * GAMMA);
    const __m512i eight = splat(8);
    while (count - k >= 8) {
      const std::size_t end = k + (count - k < block ? (count - k) & ~std::size_t{7} : block);
      std::size_t n_slow = 0;
      for (; k < end; k += 8) {
        const __m512i u = mix64x8(z);
        z = _mm512_add_epi64(z, step);
        // the eight layer indices (low bytes of u) as the bytes of one 64-bit integer
        const auto b = static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm512_cvtepi64_epi8(u)));
        const auto at = [&](int l) { return _mm_load_pd(pair + 2 * ((b >> (8 * l)) & 0xff)); };
        // a holds the pairs of lanes 0, 2, 4, 6 and c those of 1, 3, 5, 7: the unpacks put
        // the lanes back in order
        const __m512d a =
            _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_insertf128_pd(_mm256_castpd128_pd256(at(0)), at(2), 1)),
                               _mm256_insertf128_pd(_mm256_castpd128_pd256(at(4)), at(6), 1), 1);
        const __m512d c =
            _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_insertf128_pd(_mm256_castpd128_pd256(at(1)), at(3), 1)),
                               _mm256_insertf128_pd(_mm256_castpd128_pd256(at(5)), at(7), 1), 1);
        const __m512d x = _mm512_mul_pd(top52(u), _mm512_unpacklo_pd(a, c));
        store8(out + k, signed_by8(x, u));
        const __mmask8 outside = _mm512_cmp_pd_mask(x, _mm512_unpackhi_pd(a, c), _CMP_NLT_UQ);
        _mm512_storeu_si512(slow + n_slow, _mm512_maskz_compress_epi64(outside, offset));
        n_slow += static_cast<std::size_t>(__builtin_popcount(outside));
        offset = _mm512_add_epi64(offset, eight);
      }
      finish_slow_avx512(key, index, out, slow, n_slow);
    }
  }
  fill_normal_scalar(key, index + k, out + k, count - k);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// Whether the environment variable ISOINIT_SIMD asks for the baseline (scalar) loops only:
/// "off" does; unset, empty or "auto" lets the CPU decide (read once per process).
inline bool simd_disabled() {
  static const bool off = [] {
    const char* v = std::getenv("ISOINIT_SIMD");
    return v != nullptr && std::strcmp(v, "off") == 0;
  }();
  return off;
}

inline bool have_avx2() {
  static const bool yes = !simd_disabled() && __builtin_cpu_supports("avx2");
  return yes;
}

inline bool have_avx512() {
  static const bool yes = !simd_disabled() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  return yes;
}
#endif

/// The implementations of Stream::fill_normal; all give the same numbers.
enum class NormalPath { scalar, avx2, avx512 };

/// Whether this CPU runs `path`.
inline bool normal_path_supported(NormalPath path) {
  switch (path) {
    case NormalPath::scalar:
      return true;
#ifdef ISOINIT_X86_DISPATCH
    case NormalPath::avx2:
      return have_avx2();
    case NormalPath::avx512:
      return have_avx512();
#else
    default:
      return false;
#endif
  }
  return false;
}

/// The fastest path this CPU runs (Stream::fill_normal's choice).
inline NormalPath best_normal_path() {
#ifdef ISOINIT_X86_DISPATCH
  if (have_avx512()) return NormalPath::avx512;
  if (have_avx2()) return NormalPath::avx2;
#endif
  return NormalPath::scalar;
}

/// Normals index+1 .. index+count of the stream `key` by `path`, which the CPU must support
/// (normal_path_supported); T = double, or float (the same normals, rounded).
template <class T>
inline void fill_normal_by(NormalPath path, std::uint64_t key, std::uint64_t index, T* out, std::size_t count) {
#ifdef ISOINIT_X86_DISPATCH
  if (path == NormalPath::avx512) return fill_normal_avx512(key, index, out, count);
  if (path == NormalPath::avx2) return fill_normal_avx2(key, index, out, count);
#endif
  (void)path;
  fill_normal_scalar(key, index, out, count);
}

}  // namespace detail

template <class T>
inline void Stream::fill(T* out, std::size_t count) {
  static const detail::NormalPath path = detail::best_normal_path();
  detail::fill_normal_by(path, key_, counter_, out, count);
  counter_ += count;
}

}  // namespace isoinit
