"""The mean-field recursion of an MLP: one block on the state ``(q, rho)``, and its iteration.

Every Gram along an MLP's trajectory has a constant diagonal ``q`` (the input rows are scaled
to mean square 1), so the state is ``q`` and the off-diagonal correlations ``rho``, and one
kernel table per block suffices.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from .. import _validate as check
from ..networks.mlp import MLP
from ._breakdown import _ENDS, _TINY, _moments, _overflow, _underflow
from ._mf_constants import mf_constants
from .hermite import dual_kernel

_F = NDArray[np.float64]


def _check_supported(mlp: MLP) -> None:
    """Refuse what is not an MLP, and batch normalization (no entrywise map)."""
    check.instance("network", mlp, MLP, "an isoinit.MLP")
    if mlp.centering == "batch" or mlp.scaling == "batch":
        raise ValueError(
            f"batch normalization (center={mlp.centering!r}, scale={mlp.scaling!r}) has no "
            "entrywise infinite-width map: every Gram entry depends on the whole batch Gram "
            "(Theory §4). Use isoinit.simulate(network, X, runs=...) at a large "
            "width as its infinite-width limit."
        )


#: A diagonal ``E (sigma - c)^2`` computed as ``E sigma^2 + c^2 - 2 c E sigma`` keeps about
#: ``-log10(x / scale)`` fewer digits than float64 has (cancellation): below ``sqrt(eps)`` of
#: the terms it is computed from, half the digits are gone and the correlations built on it
#: carry absolute errors above ``sqrt(eps)``, so the diagonal counts as 0 (underflowed).
_RESOLVED = math.sqrt(float(np.finfo(np.float64).eps))


def _step(mlp: MLP, layer: int, q: float, rho: _F) -> tuple[float, _F]:
    """One block on the state ``(q, rho)``.

    The state is the common diagonal and the off-diagonal correlations (any shape). Returns
    the output's ``(q', rho')``; see ``meanfield.block_map``.

    Raises :class:`_Breakdown` when the output's diagonal is not a finite positive float64
    (overflow, or underflow to 0 which leaves the correlations undefined).
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            q_out, rho_out = _step_raw(mlp, layer, q, rho)
        except OverflowError as err:
            raise _overflow("a kernel value") from err
        if not np.all(np.isfinite(rho_out)):
            raise _overflow("a correlation")
    return q_out, rho_out


def _scale_denominator(mlp: MLP, layer: int, mean_square: float) -> float:
    """Return what block ``layer``'s scaling divides the squared entries by, at infinite width.

    The mean square (plus ``eps``) for layer scaling, the squared mean-field constant for
    ``mf``, 1 for none.
    """
    if mlp.scaling == "layer":
        return mean_square + mlp.eps
    if mlp.scaling == "mf":
        return mf_constants(mlp)[1][layer - 1] ** 2
    return 1.0


def _step_raw(mlp: MLP, layer: int, q: float, rho: _F) -> tuple[float, _F]:
    gain2, bias2 = mlp.gain**2, mlp.bias**2
    s2 = gain2 * q + bias2
    if not math.isfinite(s2):
        raise _overflow("the pre-activation variance gain^2 q + bias^2")
    r = np.clip((gain2 * q * rho + bias2) / s2, -1.0, 1.0) if s2 > 0 else np.ones_like(rho)
    act = mlp.act
    if mlp.order == "norm-act":
        # the row mean of H over features is 0 at infinite width: centering is a no-op
        denom = _scale_denominator(mlp, layer, s2)
        p = math.sqrt(s2 / denom) if denom > 0 else 0.0
        k_diag = float(_moments(act, p).m2)
        if not math.isfinite(k_diag):
            raise _overflow("E sigma(p z)^2", k_diag)
        if not k_diag >= _TINY:
            raise _underflow("E sigma(p z)^2", k_diag)
        k = dual_kernel(act, r, gain=p)
        return k_diag, k / k_diag
    s = math.sqrt(s2)
    m = _moments(act, s)
    m2, c0 = float(m.m2), float(m.c0)
    if not (math.isfinite(m2) and math.isfinite(c0)):
        raise _overflow("E sigma(s z)^2", m2)
    if mlp.centering == "layer":
        center = c0  # the infinite-width row mean E sigma(h_i)
    elif mlp.centering == "mf":
        center = mf_constants(mlp)[0][layer - 1]
    else:
        center = 0.0
    shift = center * center - 2.0 * center * c0
    c_diag = m2 + shift  # E (sigma - center)^2, by cancellation when center != 0
    if not math.isfinite(c_diag):
        raise _overflow("E (sigma(s z) - c)^2", c_diag)
    scale = m2 + center * center + 2.0 * abs(center * c0)
    if not (c_diag >= _TINY and c_diag > _RESOLVED * scale):
        raise _underflow("E (sigma(s z) - c)^2", c_diag, scale)
    q_out = c_diag / _scale_denominator(mlp, layer, c_diag)
    if not math.isfinite(q_out):
        raise _overflow("the diagonal q", q_out)
    if not q_out >= _TINY:
        raise _underflow("the diagonal q", q_out)
    c = dual_kernel(act, r, gain=s) + shift
    return q_out, np.clip(c / c_diag, -1.0, 1.0)


def _assemble(q: float, rho: _F, n: int, out: _F | None = None) -> _F:
    """The Gram ``q * R`` from the strict upper triangle ``rho`` of the correlations ``R``."""
    g = np.empty((n, n)) if out is None else out
    flat = g.reshape(-1)
    upper, lower = _triangle(n)
    v = q * rho
    flat[upper] = v
    flat[lower] = v
    flat[:: n + 1] = q
    return g


@lru_cache(maxsize=8)
def _triangle(n: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    i, j = np.triu_indices(n, 1)
    return i * n + j, j * n + i


def _mlp_grams(mlp: MLP, g0: _F) -> tuple[_F, int, str]:
    """``G^1..G^L`` after ``g0`` by iterating :func:`_step` on the off-diagonal correlations.

    Returns ``G^0..G^L``, NaN from the layer where the recursion broke down, with that layer
    and the reason (-1 and "" if never).
    """
    n = g0.shape[0]
    grams = np.full((mlp.depth + 1, n, n), np.nan)
    grams[0] = g0
    q = float(np.mean(np.diag(g0)))  # 1 for the paper's rows of mean square 1
    rho = g0.reshape(-1)[_triangle(n)[0]] / q
    for layer in range(1, mlp.depth + 1):
        try:
            q, rho = _step(mlp, layer, q, rho)
        except _ENDS as err:
            return grams, layer, str(err)
        _assemble(q, rho, n, out=grams[layer])
    return grams, -1, ""
