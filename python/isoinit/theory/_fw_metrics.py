"""Mean and standard deviation of a Gram metric when the Gram is ``N(m, C)``-distributed.

The finite-width Gram of a layer fluctuates around its mean ``m`` with covariance ``C`` of
order ``1/d``; to that order its law is Gaussian (a sum of many small independent column
contributions, propagated linearly). With ``C = B B^T`` (``B``: the principal axes scaled by
the root of their variances) write ``G = m + sum_k t_k B_k`` with ``t ~ N(0, I)``.

- Smooth metrics (:data:`SMOOTH`: isometry, gap, effective rank, spectral trace functions
  that are smooth even where eigenvalues coincide): second-order delta method,
  ``E f = f(m) + tr(H) / 2`` and ``Var f = |g|^2 + ||H||_F^2 / 2`` with ``g`` and ``H`` the
  gradient and Hessian in ``t``, by central differences of step :data:`DELTA_STEP` (in
  standard deviations) on the package's own metrics.
- The others (potential, stable rank, condition number, mean and maximal ``|rho|``: maxima,
  absolute values and extreme eigenvalues, not differentiable where the fluctuations
  matter) by sampling the same Gaussian: :data:`CLOSURE_SAMPLES` antithetic draws with a
  fixed seed.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..metrics import METRICS, _measure
from ._fw_block import to_matrix

_F = NDArray[np.float64]

#: Metrics taken by the second-order delta method; the rest by sampling the Gaussian closure.
SMOOTH: tuple[str, ...] = ("isometry", "gap", "effective_rank")
#: Step of the central differences along the principal axes of ``C``, in standard deviations:
#: small enough that the fourth-order terms of a metric enter at ~1e-3 relative, large enough
#: that the rounding of ``log det`` (1e-16 times the condition number) stays below 1e-8.
DELTA_STEP = 0.05
#: Draws of the Gaussian closure for the non-smooth metrics (antithetic pairs): the mean's
#: Monte Carlo error is sd / 64 and the sd's about 1.1 % of itself.
CLOSURE_SAMPLES = 4096


def _axes(cov: _F, n: int) -> _F:
    """Principal axes of ``cov`` (``(P, P)``) scaled by their standard deviations, as ``(r, n, n)`` matrices."""
    w, u = np.linalg.eigh(0.5 * (cov + cov.T))
    keep = w > 1e-13 * max(float(w.max(initial=0.0)), 1e-300)
    b = u[:, keep] * np.sqrt(w[keep])
    return to_matrix(b.T, n)


def delta_moments(mean: _F, cov: _F, names: tuple[str, ...] = SMOOTH) -> tuple[dict[str, float], dict[str, float]]:
    """Second-order delta-method mean and standard deviation of the metrics ``names``.

    Parameters
    ----------
    mean : ndarray, shape (n, n)
        The Gram's mean.
    cov : ndarray, shape (P, P)
        Covariance of its ``P = n (n + 1) / 2`` entries ``i <= j``.
    names : tuple of str
        Metrics of :data:`isoinit.metrics.METRICS`.

    Returns
    -------
    mean, sd : dict of str to float
    """
    n = mean.shape[0]
    axes = _axes(cov, n)
    r = axes.shape[0]
    e = DELTA_STEP
    grams = [mean[None]]
    if r:
        grams += [mean + e * axes, mean - e * axes]
        if r > 1:
            k, l = np.triu_indices(r, 1)
            for sk, sl in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                grams.append(mean + e * (sk * axes[k] + sl * axes[l]))
    stack = np.concatenate(grams, axis=0)
    vals = _measure(stack)
    out_mean: dict[str, float] = {}
    out_sd: dict[str, float] = {}
    for name in names:
        v = vals[name]
        f0 = float(v[0])
        if r == 0:
            out_mean[name], out_sd[name] = f0, 0.0
            continue
        fp, fm = v[1 : 1 + r], v[1 + r : 1 + 2 * r]
        grad = (fp - fm) / (2 * e)
        hdiag = (fp - 2 * f0 + fm) / (e * e)
        hoff_sq = 0.0
        if r > 1:
            m = r * (r - 1) // 2
            base = 1 + 2 * r
            fpp, fpm, fmp, fmm = (v[base + q * m : base + (q + 1) * m] for q in range(4))
            hoff = (fpp - fpm - fmp + fmm) / (4 * e * e)
            hoff_sq = float(np.sum(hoff * hoff))
        out_mean[name] = f0 + 0.5 * float(np.sum(hdiag))
        var = float(np.sum(grad * grad)) + 0.5 * (float(np.sum(hdiag * hdiag)) + 2.0 * hoff_sq)
        out_sd[name] = float(np.sqrt(max(var, 0.0)))
    return out_mean, out_sd


def closure_moments(
    mean: _F, cov: _F, names: tuple[str, ...], samples: int = CLOSURE_SAMPLES, seed: int = 0
) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and standard deviation of the metrics ``names`` over ``N(mean, cov)`` Grams, by sampling.

    ``samples`` antithetic draws (``t`` and ``-t``) from a generator seeded with ``seed``;
    arguments otherwise as :func:`delta_moments`. A draw that is not positive semi-definite
    (possible only when ``C`` is not small against the smallest eigenvalue of ``m``: nearly
    collinear samples, whose correlations sit within a standard deviation of 1) is measured as
    it is (singular: gap and potential ``+inf``); :func:`metric_moments` then falls back to the
    delta method.
    """
    n = mean.shape[0]
    axes = _axes(cov, n)
    r = axes.shape[0]
    if r == 0:
        vals = _measure(mean[None])
        return {k: float(vals[k][0]) for k in names}, dict.fromkeys(names, 0.0)
    rng = np.random.default_rng(seed)
    t = rng.standard_normal((samples // 2, r))
    t = np.concatenate([t, -t], axis=0)
    stack = mean[None] + np.einsum("sk,kij->sij", t, axes)
    stack = 0.5 * (stack + np.swapaxes(stack, -1, -2))
    vals = _measure(stack)
    with np.errstate(invalid="ignore"):
        return (
            {k: float(np.mean(vals[k])) for k in names},
            {k: float(np.std(vals[k])) for k in names},
        )


def metric_moments(
    mean: _F, cov: _F, *, closure_samples: int = CLOSURE_SAMPLES, seed: int = 0
) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sd of every metric of :data:`isoinit.metrics.METRICS`.

    The smooth metrics by the delta method; the others by sampling the Gaussian closure,
    unless a draw has an infinite value (a non-positive-definite draw, or a correlation
    beyond 1: nearly collinear samples), in which case by the delta method too (there the
    maximum is over well-separated values and the delta method is the better approximation).
    """
    smooth = tuple(m for m in METRICS if m in SMOOTH)
    rough = tuple(m for m in METRICS if m not in SMOOTH)
    mu, sd = delta_moments(mean, cov, smooth)
    if rough:
        mu2, sd2 = closure_moments(mean, cov, rough, closure_samples, seed)
        bad = tuple(m for m in rough if not (np.isfinite(mu2[m]) and np.isfinite(sd2[m])))
        if bad:
            mu3, sd3 = delta_moments(mean, cov, bad)
            mu2.update(mu3)
            sd2.update(sd3)
        mu.update(mu2)
        sd.update(sd2)
    return mu, sd
