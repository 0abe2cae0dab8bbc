"""Tolerances of every test: one table (engine first, then theory).

Each entry states what it bounds and why it has that size. Statistical tests use fixed
seeds; the false-failure rate each would have for a fresh seed is stated beside it.
"""

from __future__ import annotations

#: Compiled activation vs the NumPy table, relative to max(1, |value|): both evaluate the same
#: formula with libm functions that are correct to ~1 ulp; Hermite polynomials of order 30
#: at |x| <= 8 lose a few more digits to cancellation in the recurrence (measured 4e-15).
ACTIVATION_REL = 1e-12
#: sampler="weights" vs a plain NumPy forward pass with the same weights, on every Gram
#: entry relative to the Gram's largest entry: the issue's contract. The two differ only by
#: the summation order of float64 products (~1e-16 per layer, amplified at most ~10x per
#: layer by the normalization over the shallow depths used).
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
#: Mean-field constants c0 and sqrt(Var) used by center/scale="mf": the issue's contract.
MF_CONSTANT_ABS = 1e-12

# --- theory: hermite, kernels, mean field, bounds ---------------------------------------

#: Hermite coefficients and moments vs 30-digit integration: the issue's contract.
COEF_ABS = 1e-12
#: heK / Hermite-defined activations: exact formulas, so only float rounding of terms
#: of size sqrt(K!) (up to 5e15 for K = 30) remains; relative to sqrt(E sigma^2).
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
#: Mehler series (coefficients to k = 200) vs the table for |rho| <= 0.8: rho^200 < 1e-19,
#: so only coefficient and table errors (<= 1e-12 each) remain.
MEHLER_ABS = 1e-11
#: Monte Carlo kernel check: 2e6 antithetic-free samples give a standard error below
#: 1e-3 * sd(sigma(u) sigma(v)); 6 standard errors -> false-failure rate ~2e-9 per value.
MC_SIGMAS = 6.0
MC_SAMPLES = 2_000_000
#: beta0 reference values of theory.md are printed to 4 decimals.
BETA0_REF = 6e-5
#: Mean field vs width-4000 simulation (mean Gram of 20 runs, 12 layers), max off-diagonal
#: error: the issue's contract. Measured 0.009 (relu) to 0.02 (tanh) with seed 3; the
#: finite-width bias is O(1/d) per layer and the run-to-run noise of the mean is
#: ~0.2 / sqrt(20 * 4000) per entry, so a failure for another seed is unlikely (< 1e-3).
MEANFIELD_WIDTH_4000 = 0.03
#: Mean field vs simulation, max entry error relative to max |G|: engine at width 3000 with
#: 20 runs, 4 layers, or explicit-weights NumPy at width 1000 with 4 runs, 5 layers.
#: Measured <= 0.03; the O(1/d) bias and sampling noise of the mean are ~0.01 each.
MEANFIELD_NUMPY = 0.05
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

# --- training (PyTorch) -------------------------------------------------------------------

#: PyTorch activation (Builtin.torch) vs the NumPy table, relative to max(1, |value|): in
#: float64 both evaluate the same formula with correctly rounded libm-class functions; in
#: float32 the error is a few float32 ulps (6e-8) of the function, plus the ulp of the input.
TORCH_ACTIVATION_REL64 = 1e-12
TORCH_ACTIVATION_REL32 = 1e-6
#: Two-sample KS test of the training MLP's isometry gap at initialization (PyTorch, explicit
#: weights, hooks) vs isoinit.simulate of the same configuration, per test: with the 3 tests
#: of tests/test_training.py the family-wise false-failure rate for a fresh seed is at most
#: 3 * 1e-3 = 3e-3 (Bonferroni).
TRAINING_KS_ALPHA = 1e-3

#: isoinit.metrics' checks on a user's Gram (documented in its module docstring):
#: symmetric within this times max|G|, and smallest eigenvalue >= -n * this * |lambda|_max.
GRAM_SYMMETRY_RTOL = 1e-12
GRAM_PSD_RTOL = 1e-12

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
# --- block networks (tests/test_blocks.py, tests/test_blocks_torch.py) --------------------

#: Two-sample KS tests of block networks (sampler "gram" vs "weights" per block kind and stage
#: of the last block; isoinit vs plain PyTorch per block output): the family-wise
#: false-failure rate for fresh seeds is at most BLOCK_KS_FAMILY (Bonferroni over all the
#: tests of both files; each file asserts its count).
BLOCK_KS_FAMILY = 1e-3
BLOCK_KS_TESTS_ENGINE = 46
BLOCK_KS_TESTS_TORCH = 8
BLOCK_KS_ALPHA = BLOCK_KS_FAMILY / (BLOCK_KS_TESTS_ENGINE + BLOCK_KS_TESTS_TORCH)
#: Golden numbers on another CPU kernel (tests/test_golden.py), relative per value where both
#: are finite. Batches of n >= 16 rows go through OpenBLAS, whose kernels sum in another order
#: on another CPU, and the C library's transcendental functions may differ by an ulp. Measured
#: with `python tests/test_golden.py --cross-kernel`: float64 metrics and Grams at most 7.7e-14
#: (potential; 6e-15 for the others), so this bound leaves 13x of room.
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
