// Hand-written hot loops on short-and-wide (n x d, n << d) matrices: the Gram, the sampler's
// L Z, and the product X W of a small batch.
//
// Eigen's general products pay packing overhead on these shapes; these loops are written
// so that the compiler vectorizes them: reductions (one helper, reduce()) keep eight
// independent partial sums whose final order is fixed in the source, so the result does not
// depend on the vector width. Each loop is compiled twice on x86-64 (AVX2 and baseline) and
// picked at run time (ISOINIT_SIMD=off forces the baseline); both give the same bits.
//
// With ISOINIT_HAVE_LAPACK (lapack.hpp) the products go to BLAS from BLAS_MIN_ROWS rows on.
// OpenBLAS picks its kernels per CPU at load time, so those products (and the LAPACK
// factorizations, factor.hpp) can differ in the last bits between CPUs; below BLAS_MIN_ROWS
// every step is the same on every x86-64 CPU. On one machine both are fixed, whatever the
// thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "lapack.hpp"
#include "random.hpp"
#include "simd.hpp"
#include "types.hpp"

namespace isoinit::kernels {

constexpr std::size_t LANES = 8;

#if defined(__GNUC__) || defined(__clang__)
#define ISOINIT_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ISOINIT_ALWAYS_INLINE inline
#endif

// ISOINIT_TWICE(ret, name, params, args): the function `name` over the always-inlined body
// name##_generic, compiled twice (AVX2 and baseline) and picked at each call by
// simd::available() (the CPU, or ISOINIT_SIMD=off for the baseline); both give the same bits.
#ifdef ISOINIT_X86_DISPATCH
#define ISOINIT_TWICE(ret, name, params, args)                               \
  ISOINIT_AVX2 inline ret name##_avx2 params { return name##_generic args; } \
  inline ret name params { return simd::available() ? name##_avx2 args : name##_generic args; }
#else
#define ISOINIT_TWICE(ret, name, params, args) \
  inline ret name params { return name##_generic args; }
#endif

/// The one reduction of the hot loops: sum_k term(k) for k < len, accumulated in LANES
/// independent partial sums (term k goes to lane k % LANES) that are combined in a fixed
/// order, so the compiler can keep the lanes in vector registers and the result does not
/// depend on the vector width. Always inlined, so that each caller's AVX2 and baseline
/// clones get their own copy; `term` may also write a[k] (see shift_sumsq).
template <class Acc = double, class Term>
ISOINIT_ALWAYS_INLINE Acc reduce(std::size_t len, Term term) {
  Acc acc[LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t k = 0;
  for (; k + LANES <= len; k += LANES)
    for (std::size_t l = 0; l < LANES; ++l) acc[l] += term(k + l);
  for (std::size_t l = 0; k < len; ++k, ++l) acc[l] += term(k);
  return fold_lanes(acc);
}

/// sum_k a[k] * b[k]; in float32 for float32 rows (the float32 mode's Gram, over one column block)
template <class T>
ISOINIT_ALWAYS_INLINE T dot_generic(const T* a, const T* b, std::size_t len) {
  return reduce<T>(len, [a, b](std::size_t k) { return a[k] * b[k]; });
}
ISOINIT_TWICE(double, dot, (const double* a, const double* b, std::size_t len), (a, b, len))
ISOINIT_TWICE(float, dot, (const float* a, const float* b, std::size_t len), (a, b, len))

/// Four dot products, out[m] = dot(a_m, b[m], len) bit for bit, with a_m = a[0] for all m if
/// `shared` (one row against four) and a[m] otherwise. The AVX2 version (simd.hpp) runs the
/// four at once, which keeps the adders busy where one dot product waits on its own additions.
template <class T>
inline void dot4(const T* const* a, bool shared, const T* const* b, std::size_t len, T* out) {
#ifdef ISOINIT_X86_DISPATCH
  if (simd::available()) return simd::dot4(a, shared, b, len, out);
#endif
  for (int m = 0; m < 4; ++m) out[m] = dot(a[shared ? 0 : m], b[m], len);
}

/// Columns per block in the blocked loops: a block of an n x d matrix (n <= 32) stays in L1.
constexpr Eigen::Index BLOCK = 256;

/// Batches of at least this many rows take BLAS and LAPACK (when ISOINIT_HAVE_LAPACK): the
/// Gram X X^T (dsyrk), the sampler's L Z (dtrmm), X W (dgemm) and the factorizations of n x n
/// matrices. Below it the hand-written loops and Eigen keep the results the same on every CPU
/// (docs/errors.md, "Reproducibility"); docs/performance.md has what each side costs.
constexpr Eigen::Index BLAS_MIN_ROWS = 16;

/// Whether the BLAS products are used for a batch of n rows.
inline bool use_blas([[maybe_unused]] Eigen::Index n) {
#ifdef ISOINIT_HAVE_LAPACK
  return n >= BLAS_MIN_ROWS;
#else
  return false;
#endif
}

/// Gram X X^T / d of a row-major n x d matrix, into the n x n matrix g (both triangles),
/// by the hand-written loop: accumulated over column blocks so that each block is read from L1.
template <class T>
inline void gram_loops(const RowMatrix<T>& x, MatrixXd& g) {
  const Eigen::Index n = x.rows(), d = x.cols();
  g.setZero(n, n);
  std::vector<std::pair<Eigen::Index, Eigen::Index>> rest;
  T part[4];
  for (Eigen::Index j0 = 0; j0 < d; j0 += BLOCK) {
    const auto w = static_cast<std::size_t>(std::min(BLOCK, d - j0));
    // row i against rows j..j+3 (one row read once), then the (i, j) left over from all rows,
    // four pairs at a time (the last group padded with its first pair)
    rest.clear();
    for (Eigen::Index i = 0; i < n; ++i) {
      const T* a[1] = {x.row(i).data() + j0};
      Eigen::Index j = 0;
      for (; j + 4 <= i + 1; j += 4) {
        const T* b[4] = {x.row(j).data() + j0, x.row(j + 1).data() + j0, x.row(j + 2).data() + j0,
                         x.row(j + 3).data() + j0};
        dot4(a, true, b, w, part);
        for (Eigen::Index m = 0; m < 4; ++m) g(i, j + m) += static_cast<double>(part[m]);
      }
      for (; j <= i; ++j) rest.emplace_back(i, j);
    }
    for (std::size_t p = 0; p < rest.size(); p += 4) {
      const T* a[4];
      const T* b[4];
      for (std::size_t m = 0; m < 4; ++m) {
        const auto [i, j] = rest[p + m < rest.size() ? p + m : p];
        a[m] = x.row(i).data() + j0;
        b[m] = x.row(j).data() + j0;
      }
      dot4(a, false, b, w, part);
      for (std::size_t m = 0; m < 4 && p + m < rest.size(); ++m)
        g(rest[p + m].first, rest[p + m].second) += static_cast<double>(part[m]);
    }
  }
  const double inv = 1.0 / static_cast<double>(d);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j <= i; ++j) g(j, i) = g(i, j) = g(i, j) * inv;
}

#ifdef ISOINIT_HAVE_LAPACK
/// gram_loops() by BLAS (dsyrk).
inline void gram_blas(const RowMatrixXd& x, MatrixXd& g) {
  blas::syrk_rows(x, 1.0 / static_cast<double>(x.cols()), g);
  g.triangularView<Eigen::StrictlyUpper>() = g.transpose();
}
#endif

/// Gram X X^T / d of a row-major n x d matrix into g (both triangles): the hand-written loop
/// for small n, BLAS for larger n (use_blas). A float32 matrix (the float32 mode) takes the
/// loop: float32 dot products within a column block, accumulated in float64 across blocks.
template <class T>
inline void gram(const RowMatrix<T>& x, MatrixXd& g) {
#ifdef ISOINIT_HAVE_LAPACK
  if (use_blas(x.rows())) {
    if constexpr (std::is_same_v<T, double>) {
      return gram_blas(x, g);
    } else {  // float32 products per column block (ssyrk), accumulated in float64
      const Eigen::Index n = x.rows(), d = x.cols();
      Matrix<float> part;
      g.setZero(n, n);
      for (Eigen::Index j0 = 0; j0 < d; j0 += BLOCK) {
        blas::syrk_rows_block(x, j0, std::min(BLOCK, d - j0), part);
        g.template triangularView<Eigen::Lower>() += part.template cast<double>();
      }
      g *= 1.0 / static_cast<double>(d);
      g.template triangularView<Eigen::StrictlyUpper>() = g.transpose();
      return;
    }
  }
#endif
  gram_loops(x, g);
}

/// out[k] += c0 a0[k] + c1 a1[k] + c2 a2[k] + c3 a3[k]
template <class T>
ISOINIT_ALWAYS_INLINE void axpy4_generic(const T* c, const T* a0, const T* a1, const T* a2, const T* a3, T* out,
                                         std::size_t len) {
  for (std::size_t k = 0; k < len; ++k) out[k] += ((c[0] * a0[k] + c[1] * a1[k]) + (c[2] * a2[k] + c[3] * a3[k]));
}
ISOINIT_TWICE(void, axpy4,
              (const double* c, const double* a0, const double* a1, const double* a2, const double* a3, double* out,
               std::size_t len),
              (c, a0, a1, a2, a3, out, len))
ISOINIT_TWICE(void, axpy4,
              (const float* c, const float* a0, const float* a1, const float* a2, const float* a3, float* out,
               std::size_t len),
              (c, a0, a1, a2, a3, out, len))

/// out[k] += c * a[k]
template <class T>
ISOINIT_ALWAYS_INLINE void axpy_generic(T c, const T* a, T* out, std::size_t len) {
  for (std::size_t k = 0; k < len; ++k) out[k] += c * a[k];
}
ISOINIT_TWICE(void, axpy, (double c, const double* a, double* out, std::size_t len), (c, a, out, len))
ISOINIT_TWICE(void, axpy, (float c, const float* a, float* out, std::size_t len), (c, a, out, len))

namespace generic {
/// simd::combine's sum by the generic loops: out = 0, then out += each group of four terms
/// (axpy4), then each single term (axpy); c_j = c[j * cstride].
template <class T>
inline void combine(const T* c, std::size_t cstride, std::size_t cols, const T* z, std::size_t stride, std::size_t w,
                    T* out) {
  std::fill(out, out + w, T(0));
  std::size_t k = 0;
  for (; k + 4 <= cols; k += 4) {
    const T ck[4] = {c[k * cstride], c[(k + 1) * cstride], c[(k + 2) * cstride], c[(k + 3) * cstride]};
    axpy4(ck, z + k * stride, z + (k + 1) * stride, z + (k + 2) * stride, z + (k + 3) * stride, out, w);
  }
  for (; k < cols; ++k) axpy(c[k * cstride], z + k * stride, out, w);
}
}  // namespace generic

/// out (w entries) = sum_{j < cols} c_j z_j for the coefficients c_j = c[j * cstride] and the
/// rows z_j (length w, stride `stride`) of a block: 0 plus the groups of four terms
/// ((c0 z0 + c1 z1) + (c2 z2 + c3 z3)), then the single terms, in this order (the AVX2
/// version, simd::combine, keeps the sum in registers).
template <class T>
inline void combine(const T* c, std::size_t cstride, std::size_t cols, const T* z, std::size_t stride, std::size_t w,
                    T* out) {
#ifdef ISOINIT_X86_DISPATCH
  if (simd::available()) return simd::combine(c, cstride, cols, z, stride, w, out);
#endif
  generic::combine(c, cstride, cols, z, stride, w, out);
}

/// combine() with the coefficients r(i, 0..cols) of a column-major r.
template <class T>
inline void combine_rows(const Matrix<T>& r, Eigen::Index i, Eigen::Index cols, const T* z, std::size_t stride,
                         std::size_t w, T* out) {
  combine(r.data() + i, static_cast<std::size_t>(r.rows()), static_cast<std::size_t>(cols), z, stride, w, out);
}

/// Rows of w per block of product_loops (a BLOCK-column block of KB rows stays in L2).
constexpr Eigen::Index PRODUCT_ROWS = 64;

/// h = x w for row-major x (n x k) and w (k x m) by the hand-written loops (the same bits on
/// every CPU): per block of BLOCK columns and PRODUCT_ROWS rows of w, each row of h adds the
/// block's combine(), blocks of rows in ascending order.
template <class T>
inline void product_loops(const RowMatrix<T>& x, const RowMatrix<T>& w, RowMatrix<T>& h) {
  const Eigen::Index n = x.rows(), k = x.cols(), m = w.cols();
  h.setZero(n, m);
  std::vector<T> part(static_cast<std::size_t>(std::min(BLOCK, m)));
  for (Eigen::Index j0 = 0; j0 < m; j0 += BLOCK) {
    const auto cols = static_cast<std::size_t>(std::min(BLOCK, m - j0));
    for (Eigen::Index k0 = 0; k0 < k; k0 += PRODUCT_ROWS) {
      const auto rows = static_cast<std::size_t>(std::min(PRODUCT_ROWS, k - k0));
      for (Eigen::Index i = 0; i < n; ++i) {
        combine(x.row(i).data() + k0, 1, rows, w.row(k0).data() + j0, static_cast<std::size_t>(m), cols, part.data());
        T* out = h.row(i).data() + j0;
        for (std::size_t t = 0; t < cols; ++t) out[t] += part[t];
      }
    }
  }
}

/// h = L Z for a lower-triangular n x n L and an n x d matrix Z of standard normals drawn
/// from s in column blocks of BLOCK columns (each block row-major n x w, the stream's
/// order), by the hand-written loop: each block is drawn into an L1-sized buffer and used at
/// once, so Z is never stored whole.
template <class T>
inline void lower_multiply_normals_loops(const Matrix<T>& l, Eigen::Index d, Stream& s, std::vector<T>& buffer,
                                         RowMatrix<T>& h) {
  const Eigen::Index n = l.rows();
  h.resize(n, d);
  buffer.resize(static_cast<std::size_t>(n * BLOCK));
  for (Eigen::Index j0 = 0; j0 < d; j0 += BLOCK) {
    const auto w = static_cast<std::size_t>(std::min(BLOCK, d - j0));
    s.fill_normal(buffer.data(), static_cast<std::size_t>(n) * w);
    for (Eigen::Index i = 0; i < n; ++i) combine_rows(l, i, i + 1, buffer.data(), w, w, h.row(i).data() + j0);
  }
}

#ifdef ISOINIT_HAVE_LAPACK
/// lower_multiply_normals_loops() by BLAS: Z is drawn into h, block by block in the same
/// order (the same numbers), and multiplied in place (dtrmm; strmm in float32).
template <class T>
inline void lower_multiply_normals_blas(const Matrix<T>& l, Eigen::Index d, Stream& s, RowMatrix<T>& h) {
  const Eigen::Index n = l.rows();
  h.resize(n, d);
  for (Eigen::Index j0 = 0; j0 < d; j0 += BLOCK) {
    const auto w = static_cast<std::size_t>(std::min(BLOCK, d - j0));
    for (Eigen::Index i = 0; i < n; ++i) s.fill_normal(h.row(i).data() + j0, w);
  }
  blas::trmm_lower_left(l, h);
}
#endif

/// h = L Z as above: the hand-written loop for small n, BLAS for larger n (use_blas; float64).
template <class T>
inline void lower_multiply_normals(const Matrix<T>& l, Eigen::Index d, Stream& s, std::vector<T>& buffer,
                                   RowMatrix<T>& h) {
#ifdef ISOINIT_HAVE_LAPACK
  if (use_blas(l.rows())) return lower_multiply_normals_blas(l, d, s, h);
#endif
  lower_multiply_normals_loops(l, d, s, buffer, h);
}

/// sum_k a[k], accumulated in float64 (float32 rows too)
template <class T>
ISOINIT_ALWAYS_INLINE double sum_generic(const T* a, std::size_t len) {
  return reduce(len, [a](std::size_t k) { return static_cast<double>(a[k]); });
}
ISOINIT_TWICE(double, sum, (const double* a, std::size_t len), (a, len))
ISOINIT_TWICE(double, sum, (const float* a, std::size_t len), (a, len))

/// a[k] -= shift (in the rows' precision), returning sum_k a[k]^2 of the result in float64.
template <class T>
ISOINIT_ALWAYS_INLINE double shift_sumsq_generic(T* a, std::size_t len, double shift) {
  const auto sh = static_cast<T>(shift);
  return reduce(len, [a, sh](std::size_t k) {
    a[k] -= sh;
    return static_cast<double>(a[k]) * static_cast<double>(a[k]);
  });
}
ISOINIT_TWICE(double, shift_sumsq, (double* a, std::size_t len, double shift), (a, len, shift))
ISOINIT_TWICE(double, shift_sumsq, (float* a, std::size_t len, double shift), (a, len, shift))

/// a[k] = (a[k] - shift) * factor (in the rows' precision)
template <class T>
ISOINIT_ALWAYS_INLINE void shift_scale_generic(T* a, std::size_t len, double shift, double factor) {
  const auto sh = static_cast<T>(shift), f = static_cast<T>(factor);
  for (std::size_t k = 0; k < len; ++k) a[k] = (a[k] - sh) * f;
}
ISOINIT_TWICE(void, shift_scale, (double* a, std::size_t len, double shift, double factor), (a, len, shift, factor))
ISOINIT_TWICE(void, shift_scale, (float* a, std::size_t len, double shift, double factor), (a, len, shift, factor))

/// sum() of the four rows r[0..3] into out[0..3] (the AVX2 version sums the four at once).
template <class T>
inline void sum4(const T* const* r, std::size_t len, double* out) {
#ifdef ISOINIT_X86_DISPATCH
  if (simd::available()) return simd::sum4(r, len, out);
#endif
  for (int m = 0; m < 4; ++m) out[m] = sum(r[m], len);
}

/// shift_sumsq() of the four rows r[0..3] with their shifts, into out[0..3].
template <class T>
inline void shift_sumsq4(T* const* r, std::size_t len, const double* shift, double* out) {
#ifdef ISOINIT_X86_DISPATCH
  if (simd::available()) return simd::shift_sumsq4(r, len, shift, out);
#endif
  for (int m = 0; m < 4; ++m) out[m] = shift_sumsq(r[m], len, shift[m]);
}

namespace generic {
/// relu in place, d[k] = d[k] > 0 ? d[k] : 0 (so NaN and -0 give 0); false if an input was
/// not finite.
template <class T>
inline bool relu(T* d, std::size_t len) {
  bool finite = true;
  for (std::size_t k = 0; k < len; ++k) {
    const T x = d[k];
    finite = finite && x * T(0) == T(0);
    d[k] = x > 0 ? x : T(0);
  }
  return finite;
}
}  // namespace generic

/// Activation::apply's relu: generic::relu, or its AVX2 version.
template <class T>
inline bool relu(T* d, std::size_t len) {
#ifdef ISOINIT_X86_DISPATCH
  if (simd::available()) return simd::relu(d, len);
#endif
  return generic::relu(d, len);
}

/// True if every a[k] is finite: a[k] * 0 is 0 for a finite a[k] and NaN for inf or NaN, so
/// the (vectorized) sum is 0 exactly when all are finite.
template <class T>
ISOINIT_ALWAYS_INLINE bool all_finite_generic(const T* a, std::size_t len) {
  return reduce<T>(len, [a](std::size_t k) { return a[k] * T(0); }) == T(0);
}
ISOINIT_TWICE(bool, all_finite, (const double* a, std::size_t len), (a, len))
ISOINIT_TWICE(bool, all_finite, (const float* a, std::size_t len), (a, len))

/// max_k |a[k]| with stride `stride`, or +inf if some a[k] is not finite (the scale-safe
/// fallbacks' prescaling factor; not on the hot path).
template <class T>
inline double max_abs(const T* a, std::size_t len, std::size_t stride = 1) {
  double m = 0.0;
  for (std::size_t k = 0; k < len; ++k) {
    const double v = std::fabs(static_cast<double>(a[k * stride]));
    if (!(v <= std::numeric_limits<double>::max())) return std::numeric_limits<double>::infinity();
    m = std::max(m, v);
  }
  return m;
}

/// sum_k (a[k * stride] / s)^2 for s > 0: the sum of squares of a prescaled by s, which
/// neither overflows nor underflows when s = max_abs(a).
template <class T>
inline double scaled_sumsq(const T* a, std::size_t len, double s, std::size_t stride = 1) {
  double acc = 0.0;
  for (std::size_t k = 0; k < len; ++k) {
    const double v = static_cast<double>(a[k * stride]) / s;
    acc += v * v;
  }
  return acc;
}

/// The Gram X X^T / d of gram(), scale-safe; returns false if x holds a non-finite value, or
/// if the Gram overflows and `rescue_overflow` is false. If the plain Gram's diagonal
/// underflowed for a non-zero row (or overflowed, with `rescue_overflow`), it is recomputed
/// from x / s with s = max|x| and `root_scale` = s, so that X X^T / d = root_scale^2 * g (the
/// metrics are scale-free); otherwise root_scale = 1 and g holds the plain Gram's exact bits.
template <class T>
inline bool gram_safe(const RowMatrix<T>& x, MatrixXd& g, double& root_scale, bool rescue_overflow);

/// A sum of squares below this has lost digits to underflow (subnormal range), and one
/// above DBL_MAX has overflowed: both send the scale-safe recomputation in.
constexpr double SUMSQ_TINY = std::numeric_limits<double>::min() / std::numeric_limits<double>::epsilon();

/// True if a mean square (or Gram diagonal entry) `ms` can be used as computed: finite and
/// not in the range where underflow cost digits (0 is fine for an all-zero vector; the
/// caller checks that).
inline bool sumsq_in_range(double ms) { return ms >= SUMSQ_TINY && ms <= std::numeric_limits<double>::max(); }

template <class T>
inline bool gram_safe(const RowMatrix<T>& x, MatrixXd& g, double& root_scale, bool rescue_overflow) {
  gram(x, g);
  root_scale = 1.0;
  const auto d = static_cast<std::size_t>(x.cols());
  bool rescue = false;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const double v = g(i, i);
    if (!(v <= std::numeric_limits<double>::max())) {
      if (!rescue_overflow) return false;  // inf or NaN: overflow, or a non-finite value
      rescue = true;
    } else if (!sumsq_in_range(v) && !(v == 0 && max_abs(x.row(i).data(), d) == 0)) {
      rescue = true;
    }
  }
  if (!rescue) return true;
  const double s = max_abs(x.data(), static_cast<std::size_t>(x.size()));
  if (!std::isfinite(s)) return false;
  if (s == 0) return true;
  const RowMatrix<T> y = x / static_cast<T>(s);
  gram(y, g);
  root_scale = s;
  return true;
}

}  // namespace isoinit::kernels
