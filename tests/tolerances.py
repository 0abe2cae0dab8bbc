"""Tolerances of every test: one table (rounding first, then the kernel, the theory, the
package's faces and the tools; tests/core/, theory/, api/ and tools/ all import from here).

Each entry states what it bounds and why it has that size. Statistical tests use fixed
seeds; the false-failure rate each would have for a fresh seed is stated beside it. A test
writes no literal tolerance: a new one is named here, or an entry whose reason is the same
is reused.
"""

from __future__ import annotations

# --- rounding: one number computed two ways -------------------------------------------------

#: A few float64 ulps (eps = 2.2e-16) of a value of order 1: the same short formula evaluated
#: twice, an exact identity (residual_kernel at r = 0 or 1), or two values each computed far
#: beyond float64 precision (the 30-digit references). Relative, or absolute on O(1) values.
FEW_ULPS = 1e-15
#: An exact identity or closed form reached by a few dozen float64 operations on each side (a
#: kernel's closed form and its series, a moment and its defining sum, a Gram scaled by a
#: known factor): ~50 ulps. Relative, or absolute on values of order 1.
SAME_FORMULA = 1e-14
#: Two float64 routes to the same number: another summation order over up to ~10^4 terms, a
#: factorization instead of a formula, a map iterated by another code path, a value written
#: to a text file and read back: ~n eps for n <= 10^4. Relative, or absolute on values of
#: order 1 to 10.
ROUNDING = 1e-12

# --- the kernel -----------------------------------------------------------------------------

#: Compiled activation vs the NumPy table, relative to max(1, |value|): both evaluate the same
#: formula with libm functions that are correct to ~1 ulp; Hermite polynomials of order 30
#: at |x| <= 8 lose a few more digits to cancellation in the recurrence (measured 4e-15).
ACTIVATION_REL = 1e-12
#: sampler="weights" vs a plain NumPy forward pass with the same weights, on every Gram
#: entry relative to the Gram's largest entry. The two differ only by the summation order of
#: float64 products (~1e-16 per layer, amplified at most ~10x per layer by the normalization
#: over the shallow depths used).
FORWARD_REL = 1e-12
#: A user callable's table (isoinit.activations.tabulate) vs the callable: max_error is
#: measured on 8 points per cell, where a smooth function's interpolation error peaks, and a
#: smooth function (or one whose kinks are declared) reaches the rounding floor of the
#: Horner scheme: measured <= 2.4e-14 for every built-in tabulated as a callable.
TABLE_SMOOTH_MAX_ERROR = 1e-13
#: Between the check points the error can exceed max_error a little (a finer sampling of the
#: same error curve): random points may reach this multiple of it, plus rounding.
TABLE_BETWEEN_CHECKS = 2.0
#: Amplification of an activation error through a block, relative to the Gram's largest
#: entry. A table error eps * max(1, |sigma|) in each activation value changes a Gram entry
#: mean_k a_ik a_jk by at most 2 eps * mean_k max(1, |a|)^2 <= 2 eps (1 + G_max), so by
#: 2 eps (1 + 1/G_max) relative to G_max; the later blocks then amplify that as they amplify
#: rounding (FORWARD_REL: at most ~10x per layer). Relative to each Gram's largest entry:
#: tol = FORWARD_REL + TABLE_PER_ACT * max_error * (1 + 1/G_max) * TABLE_PER_LAYER**depth.
TABLE_PER_ACT = 2.0
TABLE_PER_LAYER = 10.0
#: Metrics of cG vs G for c in [1e-3, 1e3]: eigenvalues scale exactly up to rounding.
SCALE_INVARIANCE_REL = 1e-10
#: Same batch scaled by c: the row scaling of layer 0 removes c up to rounding; the
#: network then amplifies that rounding mildly over the 1-4 layers used.
INPUT_SCALE_REL = 1e-9
#: Eigenvalues of a recorded Gram may dip below 0 by the eigensolver's backward error.
PSD_SLACK = 1e-12
#: Two-sample KS tests of the Gram sampler vs explicit weights: per-test level. With 42 tests
#: in test_gram_sampler.py (14 configurations x 3 layers) and 12 in test_factorizations.py
#: (collapsed batches: 2 configurations x 3 metrics x 2 layers) the family-wise
#: false-failure rate for a fresh seed is at most 54 * 1e-4 = 5.4e-3 (Bonferroni).
KS_ALPHA = 1e-4
#: Normal sampler: KS one-sample test on 1e6 draws at this level (false-failure 1e-6); the
#: moments of 4e6 draws within 6 standard errors (false-failure ~2e-9 each).
NORMAL_KS_ALPHA = 1e-6
MOMENT_SIGMAS = 6.0
#: Mean-field constants c0 and sqrt(Var) used by center/scale="mf" vs 30-digit mpmath
#: integration: the package's moments are accurate as its Hermite coefficients (COEF_ABS).
MF_CONSTANT_ABS = 1e-12
#: The kernel's Gram product vs NumPy's a @ a.T / d: the same sums in another order over
#: d <= 51 terms, a few ulps of each entry (rtol and atol).
GRAM_PRODUCT_REL = 1e-13
#: Gram sampler vs weights sampler, mean gap per layer over 300 runs each: 5 standard errors
#: of the difference of the means (false-failure rate ~6e-7 per layer).
SAMPLER_MEAN_SIGMAS = 5.0
#: Correlation of 1000 normals of two streams that differ in seed, run or layer: standard
#: error 1/sqrt(1000) = 0.032, so 0.2 is 6.3 standard errors (measured <= 0.037).
STREAM_CORR_ABS = 0.2
#: Sample standard deviation of n i.i.d. normal weights (times sqrt(d_in)) vs its expected
#: value: relative standard error 1/sqrt(2 n) <= 0.003 for n >= 65536 (the blocks' maps,
#: the training MLP's 400 x 300), so >= 7 standard errors (measured 0.0056).
WEIGHT_STD_REL = 0.02

#: A network run at gain 1e300 (or on a batch scaled by 1e+-300) vs the same at scale 1, for a
#: positively homogeneous activation (relu) under layer scaling: the scale-safe mean square
#: (prescaled by the row's largest entry) differs from the plain one by rounding only.
EXTREME_SCALE_REL = 1e-9

# float32 mode vs float64, same seed and weights (the normals are the float64 stream's,
# rounded): a well-conditioned Gram's metrics carry float32 rounding, relative ~1e-7 per
# operation, accumulated over a few layers of width <= 1000 -> 1e-4 relative on the gap,
# absolute 5e-5 on correlations (measured 1.3e-5 through two GPT-2-initialized blocks)
FLOAT32_GAP_REL = 1e-4
FLOAT32_CORR_ABS = 5e-5
#: float32 vs float64 gap over the first 10 layers of the paper's float32 breakdown network
#: (relu, mf centering, no scaling, width 1000), before its Grams degenerate: measured 2.4e-6;
#: the bound asks for agreement before the breakdown, not for float32's accuracy.
FLOAT32_BREAKDOWN_REL = 1e-3

# --- block networks (tests/core/test_blocks.py, tests/tools/test_blocks_torch.py) ----------

#: Two-sample KS tests of block networks (sampler "gram" vs "weights" per block kind and stage
#: of the last block; isoinit vs plain PyTorch per block output): the family-wise
#: false-failure rate for fresh seeds is at most BLOCK_KS_FAMILY (Bonferroni over all the
#: tests of both files; each file asserts its count).
BLOCK_KS_FAMILY = 1e-3
BLOCK_KS_TESTS_ENGINE = 46
BLOCK_KS_TESTS_TORCH = 8
BLOCK_KS_ALPHA = BLOCK_KS_FAMILY / (BLOCK_KS_TESTS_ENGINE + BLOCK_KS_TESTS_TORCH)
#: 10 attention-only blocks (no residual) make the tokens parallel: their mean |correlation|
#: is 1 to float64 resolution (measured exactly 1); this leaves room for a slower collapse.
ATTENTION_COLLAPSE_CORR = 1e-6

# --- golden numbers -----------------------------------------------------------------------

#: Golden numbers on another CPU kernel (tests/core/test_golden.py), relative per value where
#: both are finite. Batches of n >= 16 rows go through OpenBLAS, whose kernels sum in another
#: order on another CPU, and the C library's transcendental functions may differ by an ulp.
#: Measured with `python tests/core/test_golden.py --cross-kernel`: float64 metrics and Grams
#: at most 7.7e-14 (potential; 6e-15 for the others), so this bound leaves 13x of room.
GOLDEN_CROSS_CPU_REL = 1e-12
#: `condition` divides the largest eigenvalue by the smallest, which carries the
#: eigensolver's absolute error (about n eps lambda_max): it moves by about kappa n eps
#: relatively. Measured 2.0e-13 in float64.
GOLDEN_CROSS_CPU_REL_CONDITION = 1e-9
#: float32 cases: the products round to float32 (eps 6e-8) in another order; a few ulp of
#: float32 per layer over the 3-4 layers of the golden cases. Measured at most 5.7e-6.
GOLDEN_CROSS_CPU_REL_FLOAT32 = 1e-4
#: float32 `condition`: kappa n eps32, about 2e-3 at kappa = 1e3 and n = 40. Measured 2.1e-5.
GOLDEN_CROSS_CPU_REL_FLOAT32_CONDITION = 1e-2

# --- theory: hermite, kernels, mean field, bounds ---------------------------------------

#: Hermite coefficients and moments vs 30-digit integration: float64 rounding of the
#: quadrature's sums is ~1e-15; the bound leaves room for the rule's truncation error.
COEF_ABS = 1e-12
#: heK / Hermite-defined activations: exact formulas, so only float rounding of terms
#: of size sqrt(K!) (up to 5e15 for K = 30) remains; relative to sqrt(E sigma^2). Also a
#: Hermite-defined activation's values, by NumPy and by the kernel, vs its series (rtol, atol).
HERMITE_REL = 1e-13
#: Parseval sum_k c_k^2 vs E sigma^2 for smooth activations truncated at k = 120: the tail
#: of tanh-like coefficients is below 1e-13 there.
PARSEVAL_SMOOTH = 1e-12
#: Same for kinked activations at k = 400: the tail decays like k^(-3/2) (relu: ~2e-5).
PARSEVAL_KINKED = 5e-4
#: Tabulated (2-D quadrature) kernel vs closed form on all of [-1, 1]: measured 3e-13.
KERNEL_ABS = 1e-11
#: Tabulated kernel derivative vs closed form for |rho| <= 0.99 (measured 2e-12) and
#: near |rho| = 1 (differentiating the table amplifies rounding: measured 1e-10).
KERNEL_DERIV_INNER = 1e-9
KERNEL_DERIV_EDGE = 1e-7
#: The NNGP kernel by quadrature (uniform or graded polar rule) vs a closed form or nested
#: adaptive Gauss-Kronrod integration (QUADPACK, relative tolerance 1e-13), relative to
#: sqrt(E sigma(h_i)^2 E sigma(h_j)^2), for variances 1e-2 to 1e4 and |rho| up to 1: the
#: accuracy isoinit.hermite states (1e-12); measured <= 2e-14, the references' own accuracy.
NNGP_REL = 1e-12
#: Activation values the graded rule spends on one NNGP kernel at variance 1e4 over those at
#: variance 1e2: its panels grow in number like log(variance) (measured 1.8); uniform panels
#: would spend 100 times more.
GRADED_COST_RATIO = 3.0
#: Mehler series (coefficients to k = 200) vs the table for |rho| <= 0.8: rho^200 < 1e-19,
#: so only coefficient and table errors (<= 1e-12 each) remain.
MEHLER_ABS = 1e-11
#: Monte Carlo checks, in standard errors: 6 -> false-failure rate ~2e-9 per checked value.
#: The kernel check draws 2e6 antithetic-free samples (standard error below
#: 1e-3 * sd(sigma(u) sigma(v))); the Gram sampler's mean Gram, 400 runs.
MC_SIGMAS = 6.0
MC_SAMPLES = 2_000_000
#: beta0 reference values of theory.md are printed to 4 decimals.
BETA0_REF = 6e-5
#: Mean field vs width-4000 simulation (mean Gram of 20 runs, 12 layers), max off-diagonal
#: error. Measured 0.009 (relu) to 0.02 (tanh) with seed 3; the finite-width bias is O(1/d)
#: per layer and the run-to-run noise of the mean is ~0.2 / sqrt(20 * 4000) per entry, so a
#: failure for another seed is unlikely (< 1e-3).
MEANFIELD_WIDTH_4000 = 0.03
#: Mean field vs simulation, max entry error relative to max |G|: simulation at width 3000 with
#: 20 runs, 4 layers, or explicit-weights NumPy at width 1000 with 4 runs, 5 layers.
#: Measured <= 0.03; the O(1/d) bias and sampling noise of the mean are ~0.01 each.
MEANFIELD_NUMPY = 0.05
#: Mean field of attention vs simulation (tests/theory/test_meanfield_attention.py): the mean
#: token cosine of Giorlandino and Goldt's encoder, T = 16, width 2048, 4 heads, 8 blocks, mean
#: of 16 networks, at every block. Measured at most 0.0053 over the 12 configurations, with the
#: simulation's standard error at most 0.0041 and the mean field's Monte Carlo error below
#: 0.001; the finite-width bias (d_h = 512) is below the noise. A false failure needs a
#: fluctuation of (0.02 - 0.005) / 0.0041 = 3.7 standard errors at some block: below 2e-4
#: per block, below 2% for the 96 blocks by the union bound (the blocks share their runs, so
#: far less). At the issue's size (T = 64, width 4096, 8 heads, 16 blocks) the difference is
#: at most 0.003 (bench/bench_attention.py; docs/theory.md §6).
ATTENTION_MF_ABS = 0.02
#: The same at the issue's size, T = 64, width 4096, 8 heads, 16 blocks, 16 networks: the
#: issue's 0.01. Measured at most 0.0028 over the 12 configurations (docs/theory.md §6), where
#: the 16-network mean's standard error is at most 0.0030 and the finite-width bias below it:
#: a false failure needs 0.01 / 0.003 = 3.3 standard errors at some block, 1e-3 per block,
#: about 3% over the 192 blocks by the union bound (they share their runs: far less).
ATTENTION_MF_ISSUE_ABS = 0.01
#: Mean field of attention vs a plain PyTorch model (tests/theory/test_attention_torch.py): the
#: mean token cosine of Giorlandino and Goldt's encoder, T = 16, width 1024, 4 heads, 8 layers,
#: mean of 24 PyTorch networks. The difference may be this much (the finite-width and
#: finite-head shift at d_h = 256: below 0.0053 at d_h = 512 in the test against isoinit's
#: simulation) plus ATTENTION_TORCH_SIGMAS standard errors of the 24-network mean (estimated
#: from the runs): a false failure needs a 4-sigma fluctuation at some layer, below 7e-5 per
#: layer (t with 23 degrees of freedom: 6e-4), below 0.02 over the 32 layers of the 4 cases.
ATTENTION_TORCH_BIAS_ABS = 0.01
ATTENTION_TORCH_SIGMAS = 4.0
#: The closed-form metrics of an exchangeable Gram vs the compiled metrics of the n x n matrix
#: (an eigensolver's backward error, n eps lambda_max, relative to the smallest eigenvalue,
#: which the closed form keeps exactly): measured 1e-11 relative for condition numbers up to
#: 1e6 at n <= 300; absolute on the gap, which is 0 to rounding for the identity.
EXCHANGEABLE_METRICS_REL = 1e-8
#: Two Monte Carlo mean fields (seeds 3 and 4) differ by N(0, se_a^2 + se_b^2) per entry if the
#: reported standard errors are right; each se is estimated from 8 replicas (relative error
#: ~25%), and the entries are correlated, so the RMS of the standardized differences over
#: ~300 entries lies well inside this range unless the errors are wrong by a factor of 2.
STDERR_CALIBRATION = (0.5, 2.0)
#: The potential bound gamma_l <= gamma_0 (2 - beta0)^-l: relative slack for rounding.
BOUND_REL = 1e-9
#: Exact identities (isometry ratio, fixed point values) in float64.
IDENTITY_REL = 1e-10
#: The spectrum of an n x n Gram of rank d < n from its d x d dual X^T X against the direct
#: eigenvalues: two backward-stable eigensolvers on the same matrix differ by O(n eps) of the
#: largest eigenvalue, and the n - d rounding-noise eigenvalues of the direct route (~eps
#: lambda_max each, exact zeros in the dual) change the entropy of the spectrum by ~n eps log
#: eps; measured <= 5.3e-15 relative for n <= 64.
DUAL_SPECTRUM_REL = 1e-12
#: Two backward-stable eigensolvers (the kernel's LAPACK and NumPy's) on the same symmetric
#: matrix: every eigenvalue within O(n eps) of the largest |eigenvalue| (n = 40 in the test).
EIGENSOLVER_REL = 1e-12
#: Hermite coefficients for k_max = 1000 vs the same integral on panels of half the width:
#: a converged Gauss-Legendre rule changes by rounding only (~1e-15 per coefficient).
QUAD_REFINE_ABS = 1e-14
#: A moment or coefficients of a user callable by the package's quadrature (a widened rule
#: for fast growth) vs the closed form of the same function: relative, as COEF_ABS.
QUADRATURE_REL = 1e-12
#: beta0 of tanh at gain 200 vs the step function's 2/pi: converges like 0.5 / gain
#: (measured 2.54e-3 at gain 200).
BETA0_LARGE_GAIN_ABS = 3e-3
#: A kernel's derivative vs central differences with h = 1e-5 for |rho| <= 0.95: truncation
#: h^2 / 6 times the third derivative, plus rounding eps |kappa| / h (measured 2.4e-10).
FINITE_DIFFERENCE_ABS = 1e-8
#: A mean-field trajectory vs the test's own iteration of the same kernel functions (or two
#: presets with the same map): the maps agree to rounding, a few ulps per layer over <= 6.
MEANFIELD_MAP_ABS = 1e-13
#: isometry(G2) / isometry(G) from two eigendecompositions vs the closed ratio of the row
#: norms: each isometry carries ~n eps times the Gram's condition (measured 7e-16).
ISOMETRY_RATIO_REL = 1e-9
#: Absolute floor where a potential and its bound have both underflowed towards 0 (deep
#: mean-field layers of a fast contraction): below it both are rounding residue of 0.
UNDERFLOW_ABS = 1e-300
#: An interior fixed point f(rho*) = rho*: brentq finds rho* to 1e-15 (xtol and rtol), so the
#: residual is ~(1 + |f'|) 1e-15 plus the kernel's rounding (measured 3e-17).
FIXED_POINT_ABS = 1e-12
#: 200 iterations of the map from any start vs rho*: the map contracts by its slope there
#: (0.10), so only rounding remains (measured 3e-17).
FIXED_POINT_ITER_ABS = 1e-9
#: The ratio (1 - rho_l) / (1 - rho_{l-1}) after 12 layers vs the asymptotic collapse rate
#: kappa'(1): the ratio converges geometrically to it (measured 2.4e-6).
FIXED_POINT_RATE_REL = 1e-3
#: bounds.predict: after 300 layers the distance to the predicted fixed point has fallen by
#: this factor (geometric rates below 0.9 give far more), or is at rounding level.
PREDICTION_CONVERGED_FACTOR = 1e-3
PREDICTION_CONVERGED_ABS = 1e-10
#: relu with RMS normalization collapses polynomially: after 300 layers the distance to
#: rho* = 1 (falling like 1 / l^2) is below this (measured 4.6e-4).
PREDICTION_POLYNOMIAL_ABS = 0.05
#: The median ratio of successive distances to the fixed point (where they are between 1e-9
#: and 1e-3) vs the predicted local slope: the higher-order terms of the map are ~1e-3 there.
LOCAL_RATE_REL = 1e-2

# --- the package's faces: metrics, inputs, simulate ---------------------------------------

#: isoinit.metrics vs direct NumPy formulas (numpy.linalg.eigvalsh) on a degenerate batch
#: (n = 7, condition 620): two eigensolvers agree to O(n eps) of the largest eigenvalue, so a
#: metric of the small eigenvalues to ~kappa n eps. Measured <= 3e-14 (condition); every
#: metric, the condition number (lambda_max / lambda_min) included, within the _ALL bound.
METRIC_NUMPY_REL = 1e-12
METRIC_NUMPY_REL_ALL = 1e-10
#: Metrics may exceed their exact ranges by rounding (isometry above 1 by an ulp or so, ranks
#: outside [1, n] by n eps): random configurations of every option (tests/api/test_fuzz.py).
METRIC_RANGE_SLACK = 1e-9
#: |gap + log(isometry)| where both are finite, relative to max(1, gap): the kernel computes
#: both from the same eigenvalues, so only rounding of log/exp remains.
GAP_LOG_REL = 1e-9
#: Effective rank within [1, n] of bounded activations in normalized networks (n <= 6):
#: exp of an entropy of n eigenvalues, off by ~n eps.
RANK_RANGE_SLACK = 1e-12
#: theory.md's gaps of degenerate inputs at n = 10 ("about 1.0, 2.0 and 6.1" for degeneracy
#: 5, 10, 100) vs the mean over 10 seeds: measured 1.03, 2.09, 6.16 with standard errors
#: ~0.007; the printed values are approximations, and the gap grows with the degeneracy.
PAPER_DEGENERATE_GAP_ABS = 0.15
PAPER_DEGENERATE_GAP_ABS_100 = 0.2
#: A diagonal entry of one network's Gram at finite width vs its infinite-width value: a mean
#: over d features (E relu(z)^2 = 1/2 at d = 400: standard error sqrt(1.25 / 400) = 0.056;
#: mf scaling at d = 2000). Fixed seeds: measured 0.079 and 0.092, so a fresh seed may fail.
FINITE_WIDTH_DIAG_ABS = 0.1
#: isoinit.metrics' checks on a user's Gram (documented in its module docstring):
#: symmetric within this times max|G|, and smallest eigenvalue >= -n * this * |lambda|_max.
GRAM_SYMMETRY_RTOL = 1e-12
GRAM_PSD_RTOL = 1e-12
#: A square input asymmetric beyond its dtype's tolerance but within this of its largest entry
#: is refused by isoinit.metrics when gram= is not given (documented in its module docstring).
GRAM_NEAR_SYMMETRY_RTOL = 1e-2
#: isoinit.inputs.degenerate vs a NumPy route (the SVD of X0 and the update in the scaled form
#: X0 / k + (1 - 1/k) P X0, which cannot overflow): the two top singular vectors agree to about
#: n eps lambda_1 / (lambda_1 - lambda_2) (Davis-Kahan), and the batch inherits that error.
#: Largest entry difference over the largest entry, per unit of lambda_1 / (lambda_1 - lambda_2);
#: measured <= 3.6e-15 over 3000 draws (n < 20, d < 30, degeneracy 1 to 1e308).
DEGENERATE_BATCH_REL = 1e-13

# --- PyTorch: the activations' torch half, training, hooks ---------------------------------

#: PyTorch activation (Builtin.torch) vs the NumPy table, relative to max(1, |value|): in
#: float64 both evaluate the same formula with correctly rounded libm-class functions; in
#: float32 the error is a few float32 ulps (6e-8) of the function, plus the ulp of the input.
TORCH_ACTIVATION_REL64 = 1e-12
TORCH_ACTIVATION_REL32 = 1e-6
#: Two-sample KS test of the training MLP's isometry gap at initialization (PyTorch, explicit
#: weights, hooks) vs isoinit.simulate of the same configuration, per test: with the 4 tests
#: of tests/tools/test_training.py the family-wise false-failure rate for a fresh seed is at
#: most 4 * 1e-3 = 4e-3 (Bonferroni).
TRAINING_KS_ALPHA = 1e-3
#: The two-level bootstrap's mean and variance of an average of condition means over B
#: resamples vs their closed forms: standard errors sqrt(var / B) and var sqrt(2 / B) (the
#: resampled average is near normal); 5 of them: false-failure rate ~6e-7 each.
BOOTSTRAP_MOMENT_SIGMAS = 5.0
#: Coverage of the two-level 90% percentile interval of a grand mean (20 conditions of 3
#: reruns, condition and rerun variance 1) over 400 simulated data sets: measured 0.903 on
#: 4000 data sets; the binomial standard deviation at 400 is 0.015, so +-0.06 is 4 of them
#: (two-sided false-failure rate ~6e-5). The reruns-only interval ignores the condition
#: variance and covers 0.49 (measured): it must stay below 0.7 (8 standard deviations).
BOOTSTRAP_COVERAGE_ABS = 0.06
ONE_LEVEL_COVERAGE_MAX = 0.7
#: Sample standard deviation of the training MLP's 300 uniform biases vs its expected value:
#: relative standard error sqrt(0.8 / (4 * 300)) = 0.026, so 0.15 is ~6 standard errors.
BIAS_STD_REL = 0.15
#: PyTorch's float64 forward pass (isoinit.hooks on nn.Linear, Tanh, LayerNorm) vs
#: isoinit.forward with the same weights: another summation order and LayerNorm's variance
#: formula over 5 layers, amplified by the gap's conditioning (measured 2e-15).
TORCH_FORWARD_REL = 1e-10
#: A gap measured by isoinit.hooks on a float32 tensor vs the same gap from float64 data (or
#: from the same float32 output computed another way): float32 rounding, ~6e-8 per entry,
#: amplified by the Gram's conditioning (measured 1.1e-8).
HOOKS_FLOAT32_REL = 1e-6

# --- the command line's printed numbers ---------------------------------------------------

#: A table entry printed with 4 significant digits (isoinit simulate, meanfield): within half
#: a unit of the 4th digit, <= 5e-4 relative.
PRINTED_SIGNIFICANT_4_REL = 1e-3
#: A value printed with 4 decimals (isoinit hermite's default --digits 4): half a unit of the
#: last decimal is the rounding itself; one unit where the test allows for it twice.
PRINTED_DECIMALS_4_HALF_ABS = 5e-5
PRINTED_DECIMALS_4_ABS = 1e-4
#: One unit of the 6th decimal (--digits 6).
PRINTED_DECIMALS_6_ABS = 1e-6

# --- the paper's figures at a reduced size (tests/tools/test_figures.py) -------------------
# The simulated curves are means of RUNS = 5 networks at half the paper's width (500; the
# dual-kernel and potential-vs-theory figures at the paper's 1000).

#: The dual-kernel figure's theory curves vs exact facts: identity's curve is rho, relu's is
#: convex (second differences on the 0.01 grid >= 0); tables are within KERNEL_ABS.
FIGURE_KERNEL_ABS = 1e-9
#: Slope of relu's curve at 0 by a forward difference on the 0.01 grid vs beta0 = 0.7335:
#: truncation 0.005 |kappa''(0)| = 2.3e-3.
FIGURE_SLOPE_ABS = 0.01
#: The figure's measured relu kernel (5 networks at the paper's width 1000) vs the closed
#: form: sampling noise of a correlation, ~(1 - rho^2) / sqrt(1000) per network.
FIGURE_KERNEL_SIM_ABS = 0.03
#: He_2 (beta0 = 0) halves the potential per layer once correlations are near 1: the ratio
#: of the first two layers' potentials vs 1/2, simulated and mean field.
FIGURE_HE2_RATIO_ABS = 0.1
#: tanh is odd: with and without layer centering the same curve, up to run-to-run noise.
FIGURE_SAME_CURVE_REL = 0.15
#: relu under layer normalization at gains 0.5, 1, 2: the gain cancels exactly; the curves
#: differ by rounding amplified over the figure's 30 layers.
GAIN_INVARIANCE_REL = 1e-6
#: Effective rank of attention-only tokens after 5 or more blocks vs 1 (collapsed to one
#: direction up to rounding of the Gram).
RANK_ONE_ABS = 1e-3
#: A curve the paper calls flat (He_1 after the first layer, identity under layer norm):
#: within this of its starting value; the residual figure's alpha = 1/sqrt(L) curves drift more.
FIGURE_FLAT_REL = 0.1
FIGURE_FLAT_REL_RESIDUAL = 0.15
#: Measured mean potential vs the bound anchored on it at layer 1: the finite-width spread of
#: a max over pairs (sigmoid contracts by only 1.6% per layer), relative.
FIGURE_BOUND_SLACK = 0.1
#: A layer norm of GPT-2 at initialization changes the gap of nearly repeated tokens (rows of
#: nearly equal norm, nothing to equalize) by less than this, relative (measured: 0.33%).
FIGURE_LN_CHANGE_REL = 0.01
#: Centering (scaling) by the mean-field constants vs by the layer's own statistics: the same
#: curves within this factor (finite-width drift of fixed constants).
FIGURE_CENTER_MF_FACTOR = 2.0
FIGURE_SCALE_MF_FACTOR = 1.5
#: The finite-width figure at its test size (5 runs, widths halved): the measured plateau (mean
#: gap over layers 40-50) vs the closed form, the 1/d recursion's vs the closed form, and the
#: log-log slope vs -1, at widths >= 250. One run's plateau has a relative sd of ~10 % (the gap's
#: chi-square spread, 21 % per layer, over ~5 independent layers), 5 runs ~4.5 %; the closed form
#: is 1.7-7 % low at widths 1000-250 (its O(1/d^2) terms); the recursion's Monte Carlo error
#: with 2048 columns ~3 %: 20 % is >= 3 standard errors beyond the bias (false-failure rate ~1e-3
#: over the four widths).
FIGURE_PLATEAU_REL = 0.2

#: attention-collapse and attention-variants at the test size (one head, widths 256-360, 5
#: networks, fixed seed): the mean field and the REM recursion against the simulation's mean
#: token cosine at every layer. Measured at most 0.025 (mean field: the one-head, finite-width
#: shift of later layers, docs/theory.md section 6) and 0.030 (REM: its 1/log T corrections);
#: the rest is the 5-run mean's standard error (at most 0.022 at the steepest layers).
FIGURE_ATTENTION_ABS = 0.06
#: attention-phase at the test size (width 128, T = 64, 5 networks): the mean field against the
#: simulation's last-layer cosine per cell; measured at most 0.058 where the runs' standard error
#: is 0.038 (cells near the rank-collapse boundary, where the cosine moves fastest).
FIGURE_PHASE_ABS = 0.12

# --- finite width (tests/theory/test_finite_width.py) ---------------------------------

#: Predicted mean gap vs simulation, relative, at every layer 1..depth (the issue's target).
#: The theory's own error (bench/bench_finite_width.py, 2048 particles) is <= 1.8 % at width
#: 1000 (relu; tanh 0.9 %) and <= 3.0 % at 256 (tanh; relu 2.7 %, gelu 2.2 %), the Gaussian
#: closure's (other normalizations, residual MLPs) <= 1.7 % at 1000; the simulated mean's
#: standard error is <= 0.7 % of it with 2000 runs (500 for tanh: <= 1.4 %) and the particles'
#: <= 0.5 %, so a fresh seed fails with probability < 1e-6.
FW_MEAN_REL = 0.10
#: Predicted sd of the gap vs the simulated sd, relative (the issue's target). The ensemble's
#: own error: <= 6.5 % at width 1000, <= 14 % at 256 (gelu on the plateau, relu 12.7 % at the
#: transition, layer 36; docs/finite-width.md "Where it fails"); the sd's sampling error with
#: 4000 runs is 1.2-2.5 % (the gap is skewed at the transition: kurtosis up to 3) and with
#: 4096 particles 1.1-1.8 %: at 256, 6 % of margin is >= 2.5 combined standard errors at the
#: few worst layers, ~1 % false-failure rate for a fresh seed over the correlated transition
#: layers; at 1000 (4000 runs, 2048 particles) >= 4 standard errors, ~1e-4 (tanh, 500 runs:
#: sd's SE 3.5 %, theory error <= 5 %: 4 SE).
FW_SD_REL = 0.20
#: The ensemble closure against the Gaussian closure at width 20000 (tests/theory/test_finite_width.py),
#: in the ensemble's own standard errors (2048 particles): the closures differ there by O(1/d^2),
#: far below them, so the difference is the particles' sampling error; 6 standard errors over
#: 3 metrics x 12 correlated layers x (mean, sd): false-failure rate ~1e-7.
FW_ENSEMBLE_SIGMAS = MC_SIGMAS
#: The summed variance of the correlations, the particles' sample covariance vs the Gaussian
#: recursion at width 20000: a variance's relative sampling error with 2048 particles is
#: sqrt(2 / 2048) = 3.1 %, and so is the sum's where the rows are nearly collinear (the 45
#: correlations move together; measured up to 5 % at layers 4 to 6); 4 of them: 13 %,
#: false-failure rate ~1e-4 over the 12 correlated layers.
FW_ENSEMBLE_GAUSSIAN_REL = 0.13
#: The plateau (mean gap over layers 40..50, width 1000) vs simulation and vs the closed form:
#: measured 0.2 % and 1.8 %; the simulated mean's standard error is 0.26 % with 2000 runs
#: (false-failure rate < 1e-9 for the recursion, ~1e-7 for the closed form, which omits the
#: O(1/d^2) terms: +1.5 % at 1000).
FW_PLATEAU_REL = 0.04
#: The recursion's stationary gap at n = 4, d = 2000 vs the closed form: they differ by the
#: O(1/d^2) terms the closed form drops (m* ~ 2/d in every correlation) and the Monte Carlo
#: error of Sigma (0.8 % with 2^14 columns): measured 0.2 % (mean) and 0.4 % (sd).
FW_CLOSED_FORM_REL = 0.02
#: The delta method by central differences (step 0.05 standard deviations) vs the analytic
#: gradient and Hessian of the gap: truncation ~ step^2 times the fourth-order terms, relative
#: to the correction itself (measured 2e-5).
FW_DELTA_REL = 1e-3
#: Direct von Mises bias of norm-act (two-dimensional Gauss-Hermite quadrature, 120 nodes a
#: side, analytic tanh derivatives) vs the package's Stein/heat-equation form (central
#: differences of the exact kernel, step 1e-3): truncation ~1e-6 of O(1) terms (measured 2e-7).
FW_BIAS_EXACT_ABS = 1e-5
#: Predicted covariance of the Gram entries vs the simulated one: trace over the off-diagonal
#: entries, relative. Measured 0.93 to 1.04 (layers 1..30, relu at width 1000, either closure;
#: the ensemble's 2048 particles add a sampling error like the simulation's); the simulated
#: trace's relative standard error (bootstrap) is 3 % at layers 1 and 5 (nearly collinear
#: rows: heavy tails), 0.6-1.2 % later: 4 standard errors, false-failure rate ~1e-4.
FW_GRAM_COV_REL = 0.12
#: Predicted mean Gram entries vs simulation, in standard errors of the difference (the
#: simulated mean's with 2000 runs, and the ensemble's particles'): measured <= 2.9 (Gaussian
#: closure) and <= 2.7 (ensemble) over 45 entries x 5 layers; 6 standard errors over 225
#: correlated values leaves a false-failure rate below 1e-6.
FW_GRAM_MEAN_SIGMAS = MC_SIGMAS
#: One residual block's mean and covariance of the augmented Gram vs 8000 draws of explicit
#: weights (n = 3, d = 24 or 60), in standard errors of the empirical moments: measured <= 1.9
#: (mean) and <= 3.3 (covariance) over four blocks and three seeds; 6 standard errors leave a
#: false-failure rate ~2e-9 per value, ~1e-7 over the 55 + 10 values of a block. The
#: pre-norm formula is exact at any width; FW_RES_BLOCK_REL of the predicted covariance covers
#: the Monte Carlo error of V (2^16 columns: 1-2 %, common to every draw of the check) and,
#: after a post-norm, the delta method's O(1/d).
FW_RES_BLOCK_SIGMAS = MC_SIGMAS
FW_RES_BLOCK_REL = 0.02
#: The summed variance of the augmented entries (the covariance's trace) vs the empirical one,
#: relative: measured <= 2.1 % (sampling error ~1 % with 8000 draws, plus V's Monte Carlo
#: error): 6 % leaves a false-failure rate ~1e-5.
FW_RES_BLOCK_TRACE_REL = 0.06
#: A residual MLP's predicted mean gap vs simulation, in standard errors of the simulated mean,
#: at every layer 1..depth: the theory's own error is below the simulations' resolution (measured
#: <= 2.6 with 500-4000 runs at widths 256 to 2048, 3.2 with 300 runs at 4000; 5.6 only at width
#: 64 with 2000 runs, not tested), while the mean field is 11 or more standard errors off at
#: width 256 with 1000 runs (the finite-width shift of the mean, +1.4 % there, resolved). 6:
#: false-failure rate ~1e-7 over 50 correlated layers. The sd's FW_SD_REL: measured <= 6.4 %
#: (1000 runs: the sd's sampling error ~2.2 %; 4.1 % with 300 runs at width 4000, 4.4 standard
#: errors of margin, ~1e-5).
FW_RES_MEAN_SIGMAS = MC_SIGMAS

# --- presets against the transformers package (tests/tools/test_presets.py) ---------------
#: LLaMA as the transformers package computes it: its RMS norm and rotary angles in float32
#: whatever the model's dtype, so the unpatched model agrees with the float64 kernel to float32
#: rounding (~6e-8 per operation) amplified over a few blocks: 1e-4 of the Gram's largest entry.
FLOAT32_MODEL_REL = 1e-4
#: The family-wise false-failure rate of the presets' KS tests (isoinit's Gram sampler against
#: the models' own random initialization), Bonferroni-split over PRESET_KS_TESTS tests (3 presets
#: x 3 blocks), each with fixed seeds.
PRESET_KS_FAMILY = 1e-3
PRESET_KS_TESTS = 9
PRESET_KS_ALPHA = PRESET_KS_FAMILY

# --- the gallery's quoted numbers (tests/tools/test_figure_headlines.py) ------------------
#: A fresh run of a figure at the gallery's seed reproduces the stored numbers exactly on the
#: machine that made them; on another CPU the kernel agrees to GOLDEN_CROSS_CPU_REL per value
#: and a libm activation to a few ulps, which a figure's means over 10 runs and its singular
#: Grams' gaps (log of a small eigenvalue) can amplify: 1e-6 relative.
HEADLINE_REL = 1e-6
