// AVX2 versions of the hot loops of kernels.hpp whose compiled form matters: reductions over
// several rows at once (independent partial sums keep both adders busy, where one row's
// reduction waits on its own additions) and loops that keep their result in registers.
//
// Each gives bit for bit the result of its generic version in kernels.hpp: the same partial
// sums in the same order (term k in lane k % 8, the lanes combined as kernels::reduce does),
// separate multiplies and adds (AVX2 without FMA: nothing is fused), and the same order of the
// terms of every sum. tests: cpp/tests/test_kernel.cpp compares every pair on random data,
// every length 0..70, and non-finite inputs. The CPU is asked once (random.hpp's have_avx2).
#pragma once

#include <cstddef>

#include "random.hpp"  // ISOINIT_X86_DISPATCH, <immintrin.h>, detail::have_avx2

namespace isoinit::kernels {

/// The one order in which the eight partial sums c[0..7] of a reduction are combined (term k
/// in c[k % 8]): kernels::reduce and every loop here use it, which is what makes them agree
/// bit for bit.
template <class T>
inline T fold_lanes(const T* c) {
  return ((c[0] + c[4]) + (c[1] + c[5])) + ((c[2] + c[6]) + (c[3] + c[7]));
}

}  // namespace isoinit::kernels

namespace isoinit::kernels::simd {

/// Whether this CPU runs the AVX2 loops (and this build has them).
inline bool available() {
#ifdef ISOINIT_X86_DISPATCH
  return detail::have_avx2();
#else
  return false;
#endif
}

#ifdef ISOINIT_X86_DISPATCH

#define ISOINIT_AVX2 __attribute__((target("avx2")))

/// The partial sums of lanes 0..3 (lo) and 4..7 (hi) into c[0..7].
ISOINIT_AVX2 inline void store_lanes(double* c, __m256d lo, __m256d hi) {
  _mm256_storeu_pd(c, lo);
  _mm256_storeu_pd(c + 4, hi);
}

/// kernels::dot4: out[m] = sum_k a_m[k] b_m[k] in reduce()'s lanes, for four pairs of rows
/// (a_m = a[shared ? 0 : m]: one row against four, read once, or four pairs).
ISOINIT_AVX2 inline void dot4(const double* const* a, bool shared, const double* const* b, std::size_t len,
                              double* out) {
  const double* as[4] = {a[0], a[shared ? 0 : 1], a[shared ? 0 : 2], a[shared ? 0 : 3]};
  __m256d lo[4], hi[4];
  for (int m = 0; m < 4; ++m) lo[m] = hi[m] = _mm256_setzero_pd();
  std::size_t k = 0;
  if (shared) {
    for (; k + 8 <= len; k += 8) {
      const __m256d al = _mm256_loadu_pd(as[0] + k), ah = _mm256_loadu_pd(as[0] + k + 4);
      for (int m = 0; m < 4; ++m) {
        lo[m] = _mm256_add_pd(lo[m], _mm256_mul_pd(al, _mm256_loadu_pd(b[m] + k)));
        hi[m] = _mm256_add_pd(hi[m], _mm256_mul_pd(ah, _mm256_loadu_pd(b[m] + k + 4)));
      }
    }
  } else {
    for (; k + 8 <= len; k += 8)
      for (int m = 0; m < 4; ++m) {
        lo[m] = _mm256_add_pd(lo[m], _mm256_mul_pd(_mm256_loadu_pd(as[m] + k), _mm256_loadu_pd(b[m] + k)));
        hi[m] = _mm256_add_pd(hi[m], _mm256_mul_pd(_mm256_loadu_pd(as[m] + k + 4), _mm256_loadu_pd(b[m] + k + 4)));
      }
  }
  for (int m = 0; m < 4; ++m) {
    double c[8];
    store_lanes(c, lo[m], hi[m]);
    for (std::size_t j = k, l = 0; j < len; ++j, ++l) c[l] += as[m][j] * b[m][j];
    out[m] = fold_lanes(c);
  }
}
ISOINIT_AVX2 inline void dot4(const float* const* a, bool shared, const float* const* b, std::size_t len, float* out) {
  const float* as[4] = {a[0], a[shared ? 0 : 1], a[shared ? 0 : 2], a[shared ? 0 : 3]};
  __m256 acc[4];
  for (int m = 0; m < 4; ++m) acc[m] = _mm256_setzero_ps();
  std::size_t k = 0;
  for (; k + 8 <= len; k += 8)
    for (int m = 0; m < 4; ++m)
      acc[m] = _mm256_add_ps(acc[m], _mm256_mul_ps(_mm256_loadu_ps(as[m] + k), _mm256_loadu_ps(b[m] + k)));
  for (int m = 0; m < 4; ++m) {
    float c[8];
    _mm256_storeu_ps(c, acc[m]);
    for (std::size_t j = k, l = 0; j < len; ++j, ++l) c[l] += as[m][j] * b[m][j];
    out[m] = fold_lanes(c);
  }
}

/// kernels::sum of the four rows r[0..3] (float64, or float32 summed in float64).
ISOINIT_AVX2 inline void sum4(const double* const* r, std::size_t len, double* out) {
  __m256d lo[4], hi[4];
  for (int m = 0; m < 4; ++m) lo[m] = hi[m] = _mm256_setzero_pd();
  std::size_t k = 0;
  for (; k + 8 <= len; k += 8)
    for (int m = 0; m < 4; ++m) {
      lo[m] = _mm256_add_pd(lo[m], _mm256_loadu_pd(r[m] + k));
      hi[m] = _mm256_add_pd(hi[m], _mm256_loadu_pd(r[m] + k + 4));
    }
  for (int m = 0; m < 4; ++m) {
    double c[8];
    store_lanes(c, lo[m], hi[m]);
    for (std::size_t j = k, l = 0; j < len; ++j, ++l) c[l] += r[m][j];
    out[m] = fold_lanes(c);
  }
}
ISOINIT_AVX2 inline void sum4(const float* const* r, std::size_t len, double* out) {
  __m256d lo[4], hi[4];
  for (int m = 0; m < 4; ++m) lo[m] = hi[m] = _mm256_setzero_pd();
  std::size_t k = 0;
  for (; k + 8 <= len; k += 8)
    for (int m = 0; m < 4; ++m) {
      lo[m] = _mm256_add_pd(lo[m], _mm256_cvtps_pd(_mm_loadu_ps(r[m] + k)));
      hi[m] = _mm256_add_pd(hi[m], _mm256_cvtps_pd(_mm_loadu_ps(r[m] + k + 4)));
    }
  for (int m = 0; m < 4; ++m) {
    double c[8];
    store_lanes(c, lo[m], hi[m]);
    for (std::size_t j = k, l = 0; j < len; ++j, ++l) c[l] += static_cast<double>(r[m][j]);
    out[m] = fold_lanes(c);
  }
}

/// kernels::shift_sumsq of the four rows r[0..3] with their shifts: r_m[k] -= shift[m], and
/// out[m] = sum_k r_m[k]^2 of the result.
ISOINIT_AVX2 inline void shift_sumsq4(double* const* r, std::size_t len, const double* shift, double* out) {
  __m256d lo[4], hi[4], sh[4];
  for (int m = 0; m < 4; ++m) {
    lo[m] = hi[m] = _mm256_setzero_pd();
    sh[m] = _mm256_set1_pd(shift[m]);
  }
  std::size_t k = 0;
  for (; k + 8 <= len; k += 8)
    for (int m = 0; m < 4; ++m) {
      const __m256d vl = _mm256_sub_pd(_mm256_loadu_pd(r[m] + k), sh[m]);
      const __m256d vh = _mm256_sub_pd(_mm256_loadu_pd(r[m] + k + 4), sh[m]);
      _mm256_storeu_pd(r[m] + k, vl);
      _mm256_storeu_pd(r[m] + k + 4, vh);
      lo[m] = _mm256_add_pd(lo[m], _mm256_mul_pd(vl, vl));
      hi[m] = _mm256_add_pd(hi[m], _mm256_mul_pd(vh, vh));
    }
  for (int m = 0; m < 4; ++m) {
    double c[8];
    store_lanes(c, lo[m], hi[m]);
    for (std::size_t j = k, l = 0; j < len; ++j, ++l) {
      r[m][j] -= shift[m];
      c[l] += r[m][j] * r[m][j];
    }
    out[m] = fold_lanes(c);
  }
}
ISOINIT_AVX2 inline void shift_sumsq4(float* const* r, std::size_t len, const double* shift, double* out) {
  __m256d lo[4], hi[4];
  __m256 sh[4];
  for (int m = 0; m < 4; ++m) {
    lo[m] = hi[m] = _mm256_setzero_pd();
    sh[m] = _mm256_set1_ps(static_cast<float>(shift[m]));
  }
  std::size_t k = 0;
  for (; k + 8 <= len; k += 8)
    for (int m = 0; m < 4; ++m) {
      const __m256 v = _mm256_sub_ps(_mm256_loadu_ps(r[m] + k), sh[m]);
      _mm256_storeu_ps(r[m] + k, v);
      const __m256d vl = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), vh = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
      lo[m] = _mm256_add_pd(lo[m], _mm256_mul_pd(vl, vl));
      hi[m] = _mm256_add_pd(hi[m], _mm256_mul_pd(vh, vh));
    }
  for (int m = 0; m < 4; ++m) {
    double c[8];
    store_lanes(c, lo[m], hi[m]);
    const auto s = static_cast<float>(shift[m]);
    for (std::size_t j = k, l = 0; j < len; ++j, ++l) {
      r[m][j] -= s;
      c[l] += static_cast<double>(r[m][j]) * static_cast<double>(r[m][j]);
    }
    out[m] = fold_lanes(c);
  }
}

/// relu in place (x > 0 ? x : 0, so NaN and -0 give 0); false if an input was not finite.
ISOINIT_AVX2 inline bool relu(double* d, std::size_t len) {
  const __m256d zero = _mm256_setzero_pd();
  __m256d bad = zero;
  std::size_t k = 0;
  for (; k + 4 <= len; k += 4) {
    const __m256d x = _mm256_loadu_pd(d + k);
    const __m256d z = _mm256_mul_pd(x, zero);  // 0, or NaN for inf and NaN
    bad = _mm256_or_pd(bad, _mm256_cmp_pd(z, z, _CMP_UNORD_Q));
    _mm256_storeu_pd(d + k, _mm256_max_pd(x, zero));  // max(x, 0) = x > 0 ? x : 0
  }
  bool finite = _mm256_movemask_pd(bad) == 0;
  for (; k < len; ++k) {
    const double x = d[k];
    finite = finite && x * 0.0 == 0.0;
    d[k] = x > 0 ? x : 0.0;
  }
  return finite;
}
ISOINIT_AVX2 inline bool relu(float* d, std::size_t len) {
  const __m256 zero = _mm256_setzero_ps();
  __m256 bad = zero;
  std::size_t k = 0;
  for (; k + 8 <= len; k += 8) {
    const __m256 x = _mm256_loadu_ps(d + k);
    const __m256 z = _mm256_mul_ps(x, zero);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(z, z, _CMP_UNORD_Q));
    _mm256_storeu_ps(d + k, _mm256_max_ps(x, zero));
  }
  bool finite = _mm256_movemask_ps(bad) == 0;
  for (; k < len; ++k) {
    const float x = d[k];
    finite = finite && x * 0.0f == 0.0f;
    d[k] = x > 0 ? x : 0.0f;
  }
  return finite;
}

/// kernels::generic::combine: out[k] = sum over the groups of four coefficients c_g..c_g+3
/// (c_j = cm[j * cstride]) of ((c_g z_g[k] + c_g+1 z_g+1[k]) + (c_g+2 z_g+2[k] + c_g+3 z_g+3[k])),
/// then the single terms c_j z_j[k] of the last (cols % 4) rows, added in this order to 0
/// (z_j = z + j * stride). The sum stays in registers across the groups.
ISOINIT_AVX2 inline void combine(const double* cm, std::size_t cstride, std::size_t cols, const double* z,
                                 std::size_t stride, std::size_t w, double* out) {
  const auto c = [cm, cstride](std::size_t j) { return cm[j * cstride]; };
  const std::size_t groups = cols / 4 * 4;
  std::size_t k = 0;
  for (; k + 8 <= w; k += 8) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    std::size_t j = 0;
    for (; j < groups; j += 4) {
      const double* z0 = z + j * stride + k;
      const double* z1 = z0 + stride;
      const double* z2 = z1 + stride;
      const double* z3 = z2 + stride;
      const __m256d c0 = _mm256_set1_pd(c(j)), c1 = _mm256_set1_pd(c(j + 1));
      const __m256d c2 = _mm256_set1_pd(c(j + 2)), c3 = _mm256_set1_pd(c(j + 3));
      lo = _mm256_add_pd(
          lo,
          _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(c0, _mm256_loadu_pd(z0)), _mm256_mul_pd(c1, _mm256_loadu_pd(z1))),
                        _mm256_add_pd(_mm256_mul_pd(c2, _mm256_loadu_pd(z2)), _mm256_mul_pd(c3, _mm256_loadu_pd(z3)))));
      hi = _mm256_add_pd(
          hi,
          _mm256_add_pd(
              _mm256_add_pd(_mm256_mul_pd(c0, _mm256_loadu_pd(z0 + 4)), _mm256_mul_pd(c1, _mm256_loadu_pd(z1 + 4))),
              _mm256_add_pd(_mm256_mul_pd(c2, _mm256_loadu_pd(z2 + 4)), _mm256_mul_pd(c3, _mm256_loadu_pd(z3 + 4)))));
    }
    for (; j < cols; ++j) {
      const __m256d cj = _mm256_set1_pd(c(j));
      lo = _mm256_add_pd(lo, _mm256_mul_pd(cj, _mm256_loadu_pd(z + j * stride + k)));
      hi = _mm256_add_pd(hi, _mm256_mul_pd(cj, _mm256_loadu_pd(z + j * stride + k + 4)));
    }
    _mm256_storeu_pd(out + k, lo);
    _mm256_storeu_pd(out + k + 4, hi);
  }
  for (; k < w; ++k) {
    double v = 0.0;
    std::size_t j = 0;
    for (; j < groups; j += 4) {
      const double* zk = z + j * stride + k;
      v += ((c(j) * zk[0] + c(j + 1) * zk[stride]) + (c(j + 2) * zk[2 * stride] + c(j + 3) * zk[3 * stride]));
    }
    for (; j < cols; ++j) v += c(j) * z[j * stride + k];
    out[k] = v;
  }
}
/// combine's float32 columns [0, 8 V) of z and out (both offset to the first column): V
/// independent sums of eight columns in flight.
template <int V>
ISOINIT_AVX2 inline void combine_columns(const float* cm, std::size_t cstride, std::size_t cols, const float* z,
                                         std::size_t stride, float* out) {
  const auto c = [cm, cstride](std::size_t j) { return cm[j * cstride]; };
  __m256 v[V];
  for (int s = 0; s < V; ++s) v[s] = _mm256_setzero_ps();
  std::size_t j = 0;
  for (; j + 4 <= cols; j += 4) {
    const float* z0 = z + j * stride;
    const __m256 c0 = _mm256_set1_ps(c(j)), c1 = _mm256_set1_ps(c(j + 1));
    const __m256 c2 = _mm256_set1_ps(c(j + 2)), c3 = _mm256_set1_ps(c(j + 3));
    for (int s = 0; s < V; ++s) {
      const float* zs = z0 + 8 * s;
      v[s] = _mm256_add_ps(v[s], _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(c0, _mm256_loadu_ps(zs)),
                                                             _mm256_mul_ps(c1, _mm256_loadu_ps(zs + stride))),
                                               _mm256_add_ps(_mm256_mul_ps(c2, _mm256_loadu_ps(zs + 2 * stride)),
                                                             _mm256_mul_ps(c3, _mm256_loadu_ps(zs + 3 * stride)))));
    }
  }
  for (; j < cols; ++j) {
    const __m256 cj = _mm256_set1_ps(c(j));
    for (int s = 0; s < V; ++s) v[s] = _mm256_add_ps(v[s], _mm256_mul_ps(cj, _mm256_loadu_ps(z + j * stride + 8 * s)));
  }
  for (int s = 0; s < V; ++s) _mm256_storeu_ps(out + 8 * s, v[s]);
}

ISOINIT_AVX2 inline void combine(const float* cm, std::size_t cstride, std::size_t cols, const float* z,
                                 std::size_t stride, std::size_t w, float* out) {
  const auto c = [cm, cstride](std::size_t j) { return cm[j * cstride]; };
  const std::size_t groups = cols / 4 * 4;
  std::size_t k = 0;
  // sixteen columns at a time: two independent sums in flight (one would wait on its own
  // additions); each column's terms are added in the same order in every branch
  for (; k + 16 <= w; k += 16) combine_columns<2>(cm, cstride, cols, z + k, stride, out + k);
  for (; k + 8 <= w; k += 8) combine_columns<1>(cm, cstride, cols, z + k, stride, out + k);
  for (; k < w; ++k) {
    float v = 0.0f;
    std::size_t j = 0;
    for (; j < groups; j += 4) {
      const float* zk = z + j * stride + k;
      v += ((c(j) * zk[0] + c(j + 1) * zk[stride]) + (c(j + 2) * zk[2 * stride] + c(j + 3) * zk[3 * stride]));
    }
    for (; j < cols; ++j) v += c(j) * z[j * stride + k];
    out[k] = v;
  }
}

#endif  // ISOINIT_X86_DISPATCH

}  // namespace isoinit::kernels::simd
