"""The statistics behind :func:`isoinit.training.trainability` and :func:`~isoinit.training.dose_response`.

Pure NumPy functions, vectorized over bootstrap resamples (one row per resample):

* :func:`two_level_means`: the two-level (hierarchical) bootstrap of per-condition means.
  A condition is an activation (or an activation at one gain) and its samples are the
  reruns. Each resample draws the conditions with replacement and then, inside every drawn
  condition, its reruns with replacement, and returns the drawn conditions and their
  rerun means. With ``outer=False`` only the reruns are redrawn (the conditions are kept):
  the one-level bootstrap, which measures seed noise alone.
* :func:`spearman_rows` and :func:`least_squares_rows`: Spearman's rank correlation (ties get
  their average rank) and the least-squares line, row by row.
* :func:`slope_interval`: the least-squares slope with its Student-t interval.
* :func:`percentile_interval`: the percentile interval of the finite resampled values.

What the two-level interval means: if the conditions were a random sample from a
population of conditions and the reruns a random sample of seeds, it approximates a
confidence interval for the population's statistic; it counts both sources of variation, so
a statistic carried by one or two conditions gets a wide interval. The one-level interval
counts the seeds only: it says how well the reruns pin down the statistic of *these*
conditions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _validate as check

__all__ = ["least_squares_rows", "percentile_interval", "slope_interval", "spearman_rows", "two_level_means"]

_F = NDArray[np.float64]


def two_level_means(
    samples: Sequence[ArrayLike], *, boots: int, seed: int, outer: bool = True
) -> tuple[NDArray[np.intp], _F]:
    """Bootstrap resamples of per-condition means, conditions and reruns redrawn.

    Parameters
    ----------
    samples : sequence of array_like
        One array per condition ``c = 0..C-1``, shape ``(m_c,)`` or ``(m_c, k)``: its reruns
        (rows), each with ``k`` measurements drawn together (e.g. a rerun's loss and gap).
        ``m_c >= 1`` may differ between conditions; ``k`` may not.
    boots : int
        Number of resamples ``B >= 1``.
    seed : int
        Seed of the :func:`numpy.random.default_rng` that draws them: the same seed and the
        same sizes give the same draws, whatever the values.
    outer : bool
        ``True`` (default): draw ``C`` conditions with replacement, then ``m_c`` reruns with
        replacement inside each drawn condition ``c``. ``False``: keep the conditions
        (row ``b`` holds ``0..C-1``) and redraw the reruns only.

    Returns
    -------
    drawn : ndarray of intp, shape (B, C)
        The conditions of each resample.
    means : ndarray, shape (B, C, k)
        The mean of each drawn condition's redrawn reruns (``k = 1`` for 1-D samples).

    Raises
    ------
    ValueError
        For no conditions, a condition without reruns, or conditions with different ``k``.
    """
    boots = check.integer("boots", boots, 1)
    seed = check.integer("seed", seed, 0)
    arrays = [np.asarray(s, dtype=np.float64) for s in samples]
    if not arrays:
        raise ValueError("samples must hold at least one condition; got none")
    arrays = [a.reshape(-1, 1) if a.ndim == 1 else a for a in arrays]
    k = arrays[0].shape[1]
    for c, a in enumerate(arrays):
        if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] != k:
            raise ValueError(
                f"samples[{c}] must have shape (m >= 1,) or (m >= 1, {k}) like samples[0]; got shape {a.shape}"
            )
    n_cond = len(arrays)
    sizes = np.array([a.shape[0] for a in arrays], dtype=np.intp)
    m_max = int(sizes.max())
    padded = np.zeros((n_cond, m_max, k))
    for c, a in enumerate(arrays):
        padded[c, : a.shape[0]] = a
    rng = np.random.default_rng(seed)
    if outer:
        drawn = rng.integers(0, n_cond, (boots, n_cond)).astype(np.intp)
    else:
        drawn = np.broadcast_to(np.arange(n_cond, dtype=np.intp), (boots, n_cond)).copy()
    m = sizes[drawn]  # (B, C): reruns of each drawn condition
    # a uniform index in [0, m) per rerun slot; slots at or beyond m are masked out
    rerun = np.floor(rng.random((boots, n_cond, m_max)) * m[..., None]).astype(np.intp)
    used = np.arange(m_max) < m[..., None]
    values = padded[drawn[..., None], rerun]  # (B, C, m_max, k)
    means = (values * used[..., None]).sum(axis=2) / m[..., None]
    return drawn, means


def _ranks(x: _F) -> _F:
    """Ranks along the last axis, ties at their average rank (as Spearman's rho needs)."""
    from scipy.stats import rankdata

    out: _F = np.asarray(rankdata(x, axis=-1), dtype=np.float64)
    return out


def _pearson_rows(x: _F, y: _F) -> _F:
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((xc * xc).sum(axis=-1) * (yc * yc).sum(axis=-1))
    num = (xc * yc).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return np.clip(r, -1.0, 1.0)


def _paired_rows(x: ArrayLike, y: ArrayLike) -> tuple[_F, _F]:
    """``x`` and ``y`` as float arrays broadcast against each other, at least 2 points along the last axis."""
    xa, ya = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    if xa.ndim < 1 or xa.shape[-1] < 2:
        raise ValueError(f"x and y must hold at least 2 points along the last axis; got shape {xa.shape}")
    return xa, ya


def spearman_rows(x: ArrayLike, y: ArrayLike) -> _F:
    """Spearman's rank correlation of ``x`` and ``y`` along the last axis.

    The Pearson correlation of the ranks, tied values taking the average of their ranks
    (as :func:`scipy.stats.spearmanr`).

    Parameters
    ----------
    x, y : array_like, shape (..., n)
        Broadcast against each other; ``n >= 2``.

    Returns
    -------
    ndarray, shape (...)
        ``rho`` in ``[-1, 1]``; NaN where ``x`` or ``y`` is constant along the row.
    """
    xa, ya = _paired_rows(x, y)
    return _pearson_rows(_ranks(xa), _ranks(ya))


def least_squares_rows(x: ArrayLike, y: ArrayLike) -> tuple[_F, _F]:
    """The least-squares line ``y = intercept + slope x`` along the last axis.

    Parameters
    ----------
    x, y : array_like, shape (..., n)
        Broadcast against each other; ``n >= 2``.

    Returns
    -------
    slope, intercept : ndarray, shape (...)
        NaN where ``x`` is constant along the row.
    """
    xa, ya = _paired_rows(x, y)
    xm, ym = xa.mean(axis=-1, keepdims=True), ya.mean(axis=-1, keepdims=True)
    sxx = ((xa - xm) ** 2).sum(axis=-1)
    sxy = ((xa - xm) * (ya - ym)).sum(axis=-1)
    # a row whose x values are all equal up to rounding has no slope
    flat = sxx <= (1e-12 * np.abs(xa).max(axis=-1)) ** 2 * xa.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(flat, np.nan, sxy / np.where(flat, 1.0, sxx))
    intercept = ym[..., 0] - slope * xm[..., 0]
    return slope, intercept


def slope_interval(x: ArrayLike, y: ArrayLike, confidence: float) -> tuple[float, float, float, float]:
    """The least-squares slope of ``y`` on ``x`` with its Student-t interval.

    ``slope +- t_{n-2} * se`` with ``se = sqrt(sum r^2 / (n - 2) / sum (x - mean x)^2)``, the
    residuals ``r`` of the line: exact when the points scatter independently and normally
    with one variance about a straight line.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        ``n >= 3`` points, ``x`` not constant.
    confidence : float
        Level of the interval, in ``(0, 1)``.

    Returns
    -------
    slope, se, low, high : float
    """
    from scipy.stats import t as student_t

    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xa.ndim != 1 or xa.shape != ya.shape or xa.size < 3:
        raise ValueError(f"x and y must be 1-D with the same n >= 3 points; got shapes {xa.shape} and {ya.shape}")
    confidence = _level(confidence)
    slope, intercept = (float(v) for v in least_squares_rows(xa, ya))
    if not np.isfinite(slope):
        raise ValueError("x must not be constant (the slope is undefined)")
    resid = ya - intercept - slope * xa
    se = float(np.sqrt((resid**2).sum() / (xa.size - 2) / ((xa - xa.mean()) ** 2).sum()))
    half = float(student_t.ppf(0.5 + confidence / 2, xa.size - 2)) * se
    return slope, se, slope - half, slope + half


def percentile_interval(values: ArrayLike, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` percentile interval of the finite ``values``.

    Parameters
    ----------
    values : array_like
        Bootstrap resamples of a statistic; NaN (an undefined resample, e.g. a rank
        correlation of one repeated condition) is left out.
    confidence : float
        In ``(0, 1)``.

    Returns
    -------
    low, high : float
        NaN if no value is finite.
    """
    confidence = _level(confidence)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if not v.size:
        return float("nan"), float("nan")
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(v, [tail, 100 - tail])
    return float(low), float(high)


def _level(confidence: float) -> float:
    c = check.real("confidence", confidence, 0.0, 1.0, low_open=True)
    if c >= 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    return c
