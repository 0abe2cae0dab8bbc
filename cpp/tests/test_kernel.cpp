// Tests of the header-only kernel from C++ alone (no Python): streams, normals, samplers,
// determinism across thread counts, metrics. Exit code 0 when every check passes.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "isoinit/simulate.hpp"

using namespace isoinit;

static int failures = 0;
#define CHECK(cond)                                                 \
  do {                                                              \
    if (!(cond)) {                                                  \
      std::printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                   \
    }                                                               \
  } while (0)

static RowMatrixXd batch(Eigen::Index n, Eigen::Index d) {
  RowMatrixXd x(n, d);
  Stream s = Stream::derive(99, 0, 0, Purpose::user);
  s.fill_normal(x.data(), static_cast<std::size_t>(x.size()));
  for (Eigen::Index i = 1; i < n; ++i) x.row(i) += 3.0 * x.row(0);  // nearly parallel rows
  return x;
}

static void test_normals() {
  const std::size_t count = 2000000;
  std::vector<double> z(count);
  Stream s = Stream::derive(1, 2, 3, Purpose::user);
  s.fill_normal(z.data(), count);
  double m1 = 0, m2 = 0, m4 = 0;
  for (double v : z) {
    m1 += v;
    m2 += v * v;
    m4 += v * v * v * v;
  }
  m1 /= count;
  m2 /= count;
  m4 /= count;
  const double n = static_cast<double>(count);
  CHECK(std::fabs(m1) < 6 / std::sqrt(n));  // standard errors: 1, sqrt(2), sqrt(96)
  CHECK(std::fabs(m2 - 1) < 6 * std::sqrt(2 / n));
  CHECK(std::fabs(m4 - 3) < 6 * std::sqrt(96 / n));
  // same stream, same numbers; the counter does not depend on how the draws are split
  Stream a = Stream::derive(1, 2, 3, Purpose::user);
  std::vector<double> first(10), second(10);
  a.fill_normal(first.data(), 4);
  a.fill_normal(first.data() + 4, 6);
  Stream b = Stream::derive(1, 2, 3, Purpose::user);
  b.fill_normal(second.data(), 10);
  CHECK(first == second);
}

/// Every path the CPU runs gives exactly the scalar path's numbers: 10^6 normals (about 15000
/// slow-path draws, among them tail draws and wedge rejections), from counters that are not
/// a multiple of the vector width, and near 2^40, where the side streams' counters wrap.
static void test_normal_paths_agree() {
  const detail::NormalPath simd[] = {detail::NormalPath::avx2, detail::NormalPath::avx512};
  const std::uint64_t starts[] = {0, 5, (std::uint64_t{1} << 40) - 3};
  std::vector<double> scalar(1000003), vector(1000003);
  int ran = 0;
  for (const std::uint64_t start : starts) {
    const std::uint64_t key = Stream::derive(7, start, 1, Purpose::user).next_u64();
    detail::fill_normal_by(detail::NormalPath::scalar, key, start, scalar.data(), scalar.size());
    for (const detail::NormalPath path : simd) {
      if (!detail::normal_path_supported(path)) continue;
      std::fill(vector.begin(), vector.end(), 0.0);
      detail::fill_normal_by(path, key, start, vector.data(), vector.size());
      CHECK(scalar == vector);
      ++ran;
    }
  }
  std::printf("normal paths compared with the scalar one: %d (best path %d)\n", ran,
              static_cast<int>(detail::best_normal_path()));
}

/// The float32 normals of every path are the float64 scalar normals rounded to nearest, on
/// 10^6 draws with their slow-path draws, and across a split at an odd count.
static void test_float_normals_are_rounded_doubles() {
  const detail::NormalPath paths[] = {detail::NormalPath::scalar, detail::NormalPath::avx2, detail::NormalPath::avx512};
  const std::size_t count = 1000003, cut = 4099;
  const std::uint64_t key = Stream::derive(11, 3, 2, Purpose::linear).next_u64();
  std::vector<double> reference(count);
  detail::fill_normal_by(detail::NormalPath::scalar, key, 5, reference.data(), count);
  std::vector<float> rounded(count), got(count);
  for (std::size_t k = 0; k < count; ++k) rounded[k] = static_cast<float>(reference[k]);
  int ran = 0;
  for (const detail::NormalPath path : paths) {
    if (!detail::normal_path_supported(path)) continue;
    std::fill(got.begin(), got.end(), 0.0f);
    detail::fill_normal_by(path, key, 5, got.data(), cut);
    detail::fill_normal_by(path, key, 5 + cut, got.data() + cut, count - cut);
    CHECK(std::memcmp(got.data(), rounded.data(), count * sizeof(float)) == 0);
    ++ran;
  }
  Stream s(key, 5);
  s.fill_normal(got.data(), count);
  CHECK(std::memcmp(got.data(), rounded.data(), count * sizeof(float)) == 0);
  std::printf("float32 normal paths compared with the rounded float64 ones: %d\n", ran);
}

/// Any split of the draws into calls gives the same numbers, across the SIMD paths' vector
/// width (8) and slow-path block (1024) boundaries, on every path.
static void test_normal_splits() {
  const std::size_t count = 5000;
  const std::size_t cuts[] = {1, 3, 7, 8, 9, 15, 16, 17, 1023, 1024, 1025, 1031, 2047, 2048, 2049, 4999};
  const detail::NormalPath paths[] = {detail::NormalPath::scalar, detail::NormalPath::avx2, detail::NormalPath::avx512};
  std::vector<double> whole(count), parts(count);
  Stream(123).fill_normal(whole.data(), count);
  for (const detail::NormalPath path : paths) {
    if (!detail::normal_path_supported(path)) continue;
    for (const std::size_t cut : cuts) {
      std::fill(parts.begin(), parts.end(), 0.0);
      detail::fill_normal_by(path, 123, 0, parts.data(), cut);
      detail::fill_normal_by(path, 123, cut, parts.data() + cut, count - cut);
      CHECK(parts == whole);
    }
    // many uneven pieces
    std::size_t done = 0, piece = 1;
    while (done < count) {
      const std::size_t n = std::min(piece, count - done);
      detail::fill_normal_by(path, 123, done, parts.data() + done, n);
      done += n;
      piece = piece * 7 % 1500 + 1;
    }
    CHECK(parts == whole);
  }
}

#ifdef ISOINIT_X86_DISPATCH
/// The AVX-512 path's exp, which decides the wedge tests that are clear by
/// detail::wedge_margin, is far closer than that margin to std::exp on [-7, 0].
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push  // GCC 12's AVX-512 headers, as in random.hpp
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
ISOINIT_TARGET_AVX512 static double exp_near_error() {
  double worst = 0;
  for (int t = 0; t <= 700000; ++t) {
    const double v = -7.0 * t / 700000.0;
    alignas(64) double e[8];
    _mm512_store_pd(e, detail::exp_near(_mm512_set1_pd(v)));
    worst = std::max(worst, std::fabs(e[0] - std::exp(v)));
  }
  return worst;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static void test_exp_near() {
  if (!detail::have_avx512()) return;
  CHECK(exp_near_error() < detail::wedge_margin / 1000);
}
#endif

/// The factorizations behind the metrics and the sampler (factor.hpp): the Cholesky-based
/// metrics agree with the eigenvalue-based ones, a selection computes only what it asks for,
/// the square root reproduces a singular Gram, and (with LAPACK) the eigenvalues agree with
/// Eigen's solver.
static void test_factorizations() {
  for (Eigen::Index n : {4, 24, 40, 130}) {
    const RowMatrixXd x = batch(n, 3 * n);
    MatrixXd g;
    kernels::gram(x, g);
    GramFactor f;
    f.reset(g);
    double full[n_metrics], sel[n_metrics], ref[n_metrics];
    gram_metrics(g, f, full);
    GramEigen e;
    e.compute(g, false);
    gram_metrics(g, e, ref);
    for (int k = 0; k < n_metrics; ++k) CHECK(std::fabs(full[k] - ref[k]) <= 1e-10 * std::fabs(ref[k]) + 1e-13);
    // a selection: the asked metrics are the full computation's, the others NaN, no eigenvalues
    GramFactor h;
    h.reset(g);
    gram_metrics(g, h, metric_bit(m_gap) | metric_bit(m_potential), sel);
    CHECK(!h.has_eigenvalues());
    for (int k = 0; k < n_metrics; ++k) CHECK(k == m_gap || k == m_potential ? sel[k] == full[k] : std::isnan(sel[k]));
    // eigenvalues (LAPACK's dsyevd with it, Eigen's solver without) vs Eigen's solver
    CHECK((f.eigenvalues(g) - e.values).cwiseAbs().maxCoeff() <= 1e-10 * e.values.cwiseAbs().maxCoeff());
    // the sampler's square root
    f.square_root(g);
    CHECK((f.lower() * f.lower().transpose() - g).cwiseAbs().maxCoeff() <= 1e-12 * g.cwiseAbs().maxCoeff());
  }
  // a centered batch: rank n - 1, the Cholesky fails or meets a rounding-level pivot; the
  // semidefinite factor still reproduces G, and the Gram is singular
  for (Eigen::Index n : {5, 40, 100}) {
    RowMatrixXd x = batch(n, 2 * n);
    x.rowwise() -= x.colwise().mean();
    MatrixXd g;
    kernels::gram(x, g);
    GramFactor f;
    f.reset(g);
    f.square_root(g);
    CHECK((f.lower() * f.lower().transpose() - g).cwiseAbs().maxCoeff() <= 1e-12 * g.cwiseAbs().maxCoeff());
    double out[n_metrics];
    gram_metrics(g, f, out);
    CHECK(out[m_isometry] == 0.0 && std::isinf(out[m_gap]) && std::isinf(out[m_condition]));
  }
  // n > d: the spectrum from the d x d dual X^T X (n - d exact zeros), in float64 and from
  // float32 rows, against the n x n Gram's own eigenvalues
  for (const auto& [n, d] : {std::pair<Eigen::Index, Eigen::Index>{20, 8}, {64, 40}, {130, 100}}) {
    const RowMatrixXd x = batch(n, d);
    MatrixXd g;
    kernels::gram(x, g);
    CHECK(GramFactor::dual_pays(n, d));
    GramEigen e;
    e.compute(g, false);
    const double top = e.values.cwiseAbs().maxCoeff();
    GramFactor f;
    f.reset(g);
    f.dual_eigenvalues(x);
    const VectorXd& w = f.eigenvalues(g);  // the dual's, computed once
    CHECK(w.size() == n && (w.head(n - d).array() == 0.0).all());
    CHECK((w - e.values).cwiseAbs().maxCoeff() <= 1e-12 * top);
    double out[n_metrics];
    gram_metrics(g, f, out);
    CHECK(out[m_isometry] == 0.0 && std::isinf(out[m_gap]) && out[m_effective_rank] <= static_cast<double>(d));
    GramFactor f32;
    f32.reset(g);
    f32.dual_eigenvalues(RowMatrix<float>(x.cast<float>()));
    CHECK((f32.eigenvalues(g) - e.values).cwiseAbs().maxCoeff() <= 1e-5 * top);
  }
  CHECK(!GramFactor::dual_pays(100, 90) && !GramFactor::dual_pays(10, 10) && !GramFactor::dual_pays(10, 20));
}

static void test_metrics() {
  MatrixXd eye = MatrixXd::Identity(4, 4);
  GramEigen e;
  e.compute(eye, false);
  double out[n_metrics];
  gram_metrics(eye, e, out);
  CHECK(out[m_isometry] == 1.0);
  CHECK(out[m_gap] == 0.0);
  CHECK(out[m_potential] == 0.0);
  MatrixXd ones = MatrixXd::Ones(4, 4);
  e.compute(ones, false);
  gram_metrics(ones, e, out);
  CHECK(out[m_isometry] == 0.0);
  CHECK(std::isinf(out[m_gap]));
  CHECK(std::isinf(out[m_potential]));
}

/// Activations of ISOINIT_ACTIVATIONS against reference values:
/// softsign and hardtanh exact fractions, mish to 20 digits (mpmath, 30-digit arithmetic).
static void test_activation_reference_values() {
  const double xs[5] = {-3.0, -0.5, 0.0, 0.7, 2.5};
  const struct {
    const char* name;
    double expected[5];
  } cases[] = {
      {"softsign", {-0.75, -1.0 / 3.0, 0.0, 7.0 / 17.0, 5.0 / 7.0}},
      {"hardtanh", {-1.0, -0.5, 0.0, 0.7, 1.0}},
      {"mish", {-0.14564746127562458731, -0.22074377465172999682, 0.0, 0.56114837764385190172, 2.4713923045578811069}},
  };
  for (const auto& c : cases) {
    const Activation act = Activation::from_name(c.name, 0.0, {});
    double y[5];
    std::copy(xs, xs + 5, y);
    act.apply(y, 5);
    for (int i = 0; i < 5; ++i) {
      const bool ok = std::fabs(y[i] - c.expected[i]) <= 1e-14;
      if (!ok) std::printf("  %s(%g) = %.17g, expected %.17g\n", c.name, xs[i], y[i], c.expected[i]);
      CHECK(ok);
    }
  }
  // hardtanh passes NaN through, like torch.nn.Hardtanh and np.clip
  double nan = std::nan("");
  Activation::from_name("hardtanh", 0.0, {}).apply(&nan, 1);
  CHECK(std::isnan(nan));
}

/// Every name of the table resolves to its own kind; parameters are checked by the entry.
static void test_activation_table() {
  const auto& table = activation_table();
  CHECK(table.size() == static_cast<std::size_t>(ActKind::table) + 1);
  for (std::size_t i = 0; i < table.size(); ++i) {
    const ActName& e = table[i];
    CHECK(static_cast<std::size_t>(e.kind) == i);
    const std::vector<double> coeffs = e.kind == ActKind::hermite ? std::vector<double>{0.0, 1.0}
                                       : e.kind == ActKind::table
                                           ? std::vector<double>{-1, 1, 0.5, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0}
                                           : std::vector<double>{};
    const double param = e.kind == ActKind::elu || e.kind == ActKind::celu ? 1.0 : 0.0;
    CHECK(Activation::from_name(e.name, param, coeffs).kind == e.kind);
  }
  CHECK(Activation::from_name("he7", 0.0, {}).kind == ActKind::he);
  CHECK(Activation::from_name("he7", 0.0, {}).param == 7.0);
  const auto throws = [](const char* name, double param, const std::vector<double>& coeffs) {
    try {
      Activation::from_name(name, param, coeffs);
    } catch (const std::invalid_argument&) {
      return true;
    }
    return false;
  };
  CHECK(throws("elu", 0.0, {}));
  CHECK(throws("celu", -1.0, {}));
  CHECK(throws("he31", 0.0, {}));
  CHECK(throws("he", 2.5, {}));
  CHECK(throws("hermite", 0.0, {}));
  CHECK(throws("hermite", 0.0, std::vector<double>(32, 0.1)));
  CHECK(throws("leaky_relu", std::nan(""), {}));
  CHECK(throws("rleu", 0.0, {}));
  CHECK(!throws("leaky_relu", 0.2, {}));
}

/// The table of x^3 on [-2, 2] in `cells` cells: x = m + a u on a cell of midpoint m and
/// half-width a, so x^3 = m^3 + 3 m^2 a u + 3 m a^2 u^2 + a^3 u^3; tails are its tangents.
static std::vector<double> cubic_table(int cells) {
  const double lo = -2.0, hi = 2.0, a = (hi - lo) / cells / 2.0;
  std::vector<double> c = {lo,           hi,          cells / (hi - lo), static_cast<double>(cells),
                           lo * lo * lo, 3 * lo * lo, hi * hi * hi,      3 * hi * hi};
  for (int i = 0; i < cells; ++i) {
    const double m = lo + (2 * i + 1) * a;
    for (const double v : {m * m * m, 3 * m * m * a, 3 * m * a * a, a * a * a, 0.0, 0.0}) c.push_back(v);
  }
  return c;
}

/// `table`: exact on a polynomial of degree <= 5 inside, tangent lines outside, NaN through,
/// malformed tables refused.
static void test_table_activation() {
  const Activation act = Activation::from_name("table", 0.0, cubic_table(8));
  std::vector<double> xs;
  for (int i = 0; i <= 400; ++i) xs.push_back(-2.0 + 0.01 * i);
  std::vector<double> y = xs;
  act.apply(y.data(), y.size());
  for (std::size_t i = 0; i < xs.size(); ++i) CHECK(std::fabs(y[i] - xs[i] * xs[i] * xs[i]) <= 1e-14);
  double out[6] = {-3.0, 2.5, std::nan(""), -INFINITY, INFINITY, -2.0};
  act.apply(out, 6);
  CHECK(out[0] == -8.0 + 12.0 * -1.0);  // f(lo) + f'(lo) (x - lo)
  CHECK(out[1] == 8.0 + 12.0 * 0.5);
  CHECK(std::isnan(out[2]));
  CHECK(out[3] == -INFINITY && out[4] == INFINITY);
  CHECK(out[5] == -8.0);
  // a zero slope keeps the end value even at infinity (no 0 * inf)
  std::vector<double> flat = cubic_table(2);
  flat[5] = 0.0;
  double inf = -INFINITY;
  Activation::from_name("table", 0.0, flat).apply(&inf, 1);
  CHECK(inf == -8.0);
  const auto refused = [](std::vector<double> c) {
    try {
      Activation::from_name("table", 0.0, c);
    } catch (const std::invalid_argument&) {
      return true;
    }
    return false;
  };
  std::vector<double> bad = cubic_table(4);
  CHECK(!refused(bad));
  bad.pop_back();
  CHECK(refused(bad));  // not whole cells
  bad = cubic_table(4);
  bad[3] = 5.0;
  CHECK(refused(bad));  // cell count
  bad = cubic_table(4);
  bad[2] = 2.0;
  CHECK(refused(bad));  // inverse width
  bad = cubic_table(4);
  bad[12] = std::nan("");
  CHECK(refused(bad));
  CHECK(refused({}));
}

static Config relu_layer_norm(Sampler sampler, Eigen::Index depth, Eigen::Index width) {
  Config c;
  c.act = Activation::from_name("relu", 0.0, {});
  c.sampler = sampler;
  c.widths.assign(static_cast<std::size_t>(depth), width);
  return c;
}

static void test_determinism_across_threads() {
  const RowMatrixXd x = batch(6, 40);
  for (Sampler sampler : {Sampler::gram, Sampler::weights}) {
    Config c = relu_layer_norm(sampler, 5, 40);
    c.stages = true;
    c.grams = true;
    const Result one = simulate(c, x, 7, 0, 9, 1);
    const Result two = simulate(c, x, 7, 0, 9, 2);
    const Result four = simulate(c, x, 7, 0, 9, 4);
    CHECK(one.metrics == two.metrics && one.metrics == four.metrics);
    CHECK(one.grams == two.grams && one.grams == four.grams);
    // runs 3..8 of the call equal a call that starts at run 3
    const Result tail = simulate(c, x, 7, 3, 6, 2);
    CHECK(std::equal(tail.grams.begin(), tail.grams.end(),
                     one.grams.begin() + static_cast<std::ptrdiff_t>(3 * one.grams.size() / 9)));
  }
}

static void test_layer_norm_reduces_gap() {
  const RowMatrixXd x = batch(8, 400);
  const Config c = relu_layer_norm(Sampler::gram, 20, 400);
  const Result r = simulate(c, x, 1, 0, 8, 0);
  double first = 0, last = 0;
  for (Eigen::Index k = 0; k < r.runs; ++k) {
    first += r.metrics[static_cast<std::size_t>(((k * r.layers + 0) * r.stages) * n_metrics + m_gap)];
    last += r.metrics[static_cast<std::size_t>(((k * r.layers + 20) * r.stages) * n_metrics + m_gap)];
  }
  CHECK(last < first / 10);
}

static void test_errors_are_exceptions() {
  const RowMatrixXd x = batch(3, 5);
  Config c = relu_layer_norm(Sampler::gram, 2, 5);
  bool thrown = false;
  try {
    simulate(c, x, 0, 0, 0, 1);
  } catch (const std::invalid_argument&) {
    thrown = true;
  }
  CHECK(thrown);
  // a validated configuration: simulate_validated is simulate without the validation
  const Result checked = simulate(c, x, 4, 2, 3, 1);
  const Result trusted = simulate_validated(c, x, 4, 2, 3, 1);
  CHECK(checked.metrics == trusted.metrics && checked.norm_bias == trusted.norm_bias);
  c.scale = Scale::mf;  // without its constants
  thrown = false;
  try {
    simulate(c, x, 0, 0, 1, 1);
  } catch (const std::invalid_argument&) {
    thrown = true;
  }
  CHECK(thrown);
}

// Run offsets near the end of int64 (run_offset + r must not overflow), threads capped,
// cancellation, collapse and scale safety, from C++ alone
static void test_reliability() {
  const RowMatrixXd x = batch(4, 12);
  Config c = relu_layer_norm(Sampler::weights, 3, 12);
  const std::int64_t top = std::numeric_limits<std::int64_t>::max();
  const Result edge = simulate(c, x, 5, top - 1, 3, 2);  // runs 2^63 - 2 .. 2^63
  const Result one = simulate(c, x, 5, top - 1, 1, 1);
  CHECK(std::equal(one.metrics.begin(), one.metrics.end(), edge.metrics.begin()));
  CHECK(resolve_threads(1000, 2) <= 2 && resolve_threads(1000, 2) >= 1);
  CHECK(resolve_threads(0, 1) == 1);

  std::atomic<bool> cancel{true};
  bool cancelled = false;
  try {
    simulate(c, x, 5, 0, 4, 1, &cancel);
  } catch (const Cancelled&) {
    cancelled = true;
  }
  CHECK(cancelled);

  // a dead narrow relu net without normalization collapses: defined metrics, no NaN
  Config dead = relu_layer_norm(Sampler::gram, 20, 2);
  dead.center = Center::none;
  dead.scale = Scale::none;
  const Result r = simulate(dead, x, 3, 0, 6, 1);
  bool collapsed = false, nan = false;
  for (auto v : r.metrics) nan = nan || std::isnan(v);
  for (auto v : r.norm_bias) nan = nan || std::isnan(v);
  for (auto at : r.collapsed_at) collapsed = collapsed || at > 0;
  CHECK(collapsed && !nan);

  // gain 1e300 under layer norm: the same geometry as gain 1 (relu is homogeneous)
  Config big = relu_layer_norm(Sampler::gram, 3, 12);
  const Result ref = simulate(big, x, 8, 0, 2, 1);
  big.gain = 1e300;
  const Result huge = simulate(big, x, 8, 0, 2, 1);
  for (std::size_t i = 0; i < ref.metrics.size(); ++i)
    if (std::isfinite(ref.metrics[i]))
      CHECK(std::fabs(huge.metrics[i] - ref.metrics[i]) <= 1e-9 * std::fabs(ref.metrics[i]) + 1e-12);
  CHECK(huge.diverged_at[0] == -1 && huge.diverged_at[1] == -1);

  // configurations that cannot work are refused
  Config zero = relu_layer_norm(Sampler::gram, 2, 5);
  zero.gain = 0;
  bool refused = false;
  try {
    simulate(zero, x, 0, 0, 1, 1);
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  CHECK(refused);
}

/// The AVX2 loops (simd.hpp) give the generic loops' numbers bit for bit: every length 0..70
/// (the 8-wide main loop and every tail), random values with zeros, -0, inf and NaN mixed in.
static void test_simd_kernels_agree() {
#ifdef ISOINIT_X86_DISPATCH
  if (!kernels::simd::available()) {
    std::printf("simd kernels: AVX2 not available, skipped\n");
    return;
  }
  Stream s = Stream::derive(5, 0, 0, Purpose::user);
  const auto same = [](const auto& a, const auto& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0;
  };
  int compared = 0;
  const auto run = [&](auto zero, bool special) {
    using T = decltype(zero);
    const std::size_t rows = 11, maxlen = 71;
    std::vector<double> raw(rows * maxlen);
    s.fill_normal(raw.data(), raw.size());
    std::vector<T> data(raw.begin(), raw.end());
    if (special) {
      data[3] = T(0);
      data[maxlen + 5] = -T(0);
      data[2 * maxlen + 9] = std::numeric_limits<T>::infinity();
      data[3 * maxlen + 2] = std::numeric_limits<T>::quiet_NaN();
      data[5 * maxlen + 64] = -std::numeric_limits<T>::infinity();
    }
    for (std::size_t len = 0; len < maxlen; ++len) {
      const T* b[4] = {&data[maxlen], &data[2 * maxlen], &data[3 * maxlen], &data[4 * maxlen]};
      const T* a[4] = {data.data(), &data[7 * maxlen], &data[3 * maxlen], &data[8 * maxlen]};
      std::vector<T> d1(4), d2(4);
      for (const bool shared : {true, false}) {
        kernels::simd::dot4(a, shared, b, len, d1.data());
        for (int m = 0; m < 4; ++m) d2[static_cast<std::size_t>(m)] = kernels::dot(a[shared ? 0 : m], b[m], len);
        CHECK(same(d1, d2));
      }
      std::vector<double> s1(4), s2(4);
      kernels::simd::sum4(b, len, s1.data());
      for (int m = 0; m < 4; ++m) s2[static_cast<std::size_t>(m)] = kernels::sum(b[m], len);
      CHECK(same(s1, s2));
      std::vector<T> x1 = data, x2 = data;
      T* r1[4] = {&x1[0], &x1[maxlen], &x1[2 * maxlen], &x1[5 * maxlen]};
      T* r2[4] = {&x2[0], &x2[maxlen], &x2[2 * maxlen], &x2[5 * maxlen]};
      const double shift[4] = {0.25, -1.5, 0.0, 3.0};
      kernels::simd::shift_sumsq4(r1, len, shift, s1.data());
      for (int m = 0; m < 4; ++m) s2[static_cast<std::size_t>(m)] = kernels::shift_sumsq(r2[m], len, shift[m]);
      CHECK(same(s1, s2) && same(x1, x2));
      x1 = data;
      x2 = data;
      for (std::size_t row : {std::size_t{0}, std::size_t{2}, std::size_t{5}})
        CHECK(kernels::simd::relu(&x1[row * maxlen], len) == kernels::generic::relu(&x2[row * maxlen], len));
      CHECK(same(x1, x2));
      for (std::size_t cols = 1; cols <= rows; ++cols) {
        std::vector<T> o1(len + 1, T(7)), o2(len + 1, T(7));
        const T* coef = &data[6 * maxlen + 3];  // coefficient j at coef[j * 2]
        kernels::simd::combine(coef, 2, cols, data.data(), maxlen, len, o1.data());
        kernels::generic::combine(coef, 2, cols, data.data(), maxlen, len, o2.data());
        CHECK(same(o1, o2));
      }
      ++compared;
    }
  };
  for (const bool special : {false, true}) {
    run(0.0, special);
    run(0.0f, special);
  }
  std::printf("simd kernels compared with the generic ones: %d cases\n", compared);
#endif
}

int main() {
  test_normals();
  test_normal_paths_agree();
  test_normal_splits();
  test_float_normals_are_rounded_doubles();
  test_simd_kernels_agree();
#ifdef ISOINIT_X86_DISPATCH
  test_exp_near();
#endif
  test_metrics();
  test_factorizations();
  test_activation_reference_values();
  test_activation_table();
  test_table_activation();
  test_determinism_across_threads();
  test_layer_norm_reduces_gap();
  test_errors_are_exceptions();
  test_reliability();
  std::printf("%s (%d failure%s)\n", failures ? "FAILED" : "OK", failures, failures == 1 ? "" : "s");
  return failures ? 1 : 0;
}
