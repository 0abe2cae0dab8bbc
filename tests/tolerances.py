"""Tolerances of the engine tests (simulate, metrics, activations, random streams): one table.

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
#: Metrics of cG vs G for c in [1e-3, 1e3]: eigenvalues scale exactly up to rounding.
SCALE_INVARIANCE_REL = 1e-10
#: Same batch scaled by c: the row scaling of layer 0 removes c up to rounding; the
#: network then amplifies that rounding mildly over the 1-4 layers used.
INPUT_SCALE_REL = 1e-9
#: Eigenvalues of a recorded Gram may dip below 0 by the eigensolver's backward error.
PSD_SLACK = 1e-12
#: Two-sample KS tests of the Gram sampler vs explicit NumPy weights: per-test level. With
#: 42 tests (14 configurations x 3 layers) the family-wise false-failure rate for a fresh seed
#: is at most 42 * 1e-4 = 4.2e-3 (Bonferroni).
KS_ALPHA = 1e-4
#: Normal sampler: KS one-sample test on 1e6 draws at this level (false-failure 1e-6); the
#: moments of 4e6 draws within 6 standard errors (false-failure ~2e-9 each).
NORMAL_KS_ALPHA = 1e-6
MOMENT_SIGMAS = 6.0
#: Mean-field constants c0 and sqrt(Var) used by center/scale="mf": the issue's contract.
MF_CONSTANT_ABS = 1e-12
