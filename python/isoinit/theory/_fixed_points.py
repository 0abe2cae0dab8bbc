"""Attracting fixed points of normalized kernel maps ``rho -> f(rho)`` with ``f(1) = 1``.

Joudaki and Hofmann (AISTATS 2025), as summarized in Theory §5: the map's value and slopes
at 0 and 1 classify the fixed point (isometry, collapse at a geometric or polynomial rate,
or an interior point) and give the per-layer rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

__all__ = ["FixedPoint", "kernel_fixed_point"]

_F = NDArray[np.float64]


@dataclass(frozen=True)
class FixedPoint:
    """Attracting fixed point of a kernel map ``rho -> f(rho)`` with ``f(1) = 1``.

    Attributes
    ----------
    kind : {"isometry", "collapse", "collapse-polynomial", "interior"}
        ``f(0) = 0``: ``rho* = 0``; ``f(0) > 0`` and ``f'(1) < 1``: ``rho* = 1`` at a geometric
        rate; ``f'(1) = 1``: ``rho* = 1`` at a polynomial rate; ``f'(1) > 1``: a unique
        ``rho*`` in ``(0, 1)``.
    rho_star : float
    rate : float
        Per-layer factor of ``|rho_l - rho*|``: ``1 / (2 - f'(0))`` (isometry), ``f'(1)``
        (collapse), ``f'(rho*)`` (interior), 1 for the polynomial case (see ``a``).
    f0, slope0, slope1 : float
        ``f(0)``, ``f'(0)``, ``f'(1)``.
    a : float
        ``1 - f(0) - f'(0)``, the constant of the polynomial rate
        ``|rho_l - 1| <= |rho_0 - 1| / (l a |rho_0 - 1| + 1)``.
    """

    kind: str
    rho_star: float
    rate: float
    f0: float
    slope0: float
    slope1: float
    a: float


_SLOPE_TOL = 1e-9


def kernel_fixed_point(f: Callable[[_F], _F], df: Callable[[_F], _F], *, slope_tol: float = _SLOPE_TOL) -> FixedPoint:
    """Classify the attracting fixed point of a normalized kernel map (``f(1) = 1``).

    Joudaki and Hofmann (AISTATS 2025), as summarized in Theory §5.

    Parameters
    ----------
    f, df : callable
        The map and its derivative on arrays of ``rho`` in ``[-1, 1]``.
    slope_tol : float
        ``|f'(1) - 1| <= slope_tol`` counts as ``f'(1) = 1``.
    """
    f0 = float(f(np.array([0.0]))[0])
    s0, s1 = (float(v) for v in df(np.array([0.0, 1.0])))
    a = 1.0 - f0 - s0
    if abs(f0) <= 1e-13:
        return FixedPoint("isometry", 0.0, 1.0 / (2.0 - s0), f0, s0, s1, a)
    if abs(s1 - 1.0) <= slope_tol:
        return FixedPoint("collapse-polynomial", 1.0, 1.0, f0, s0, s1, a)
    if s1 < 1.0:
        return FixedPoint("collapse", 1.0, s1, f0, s0, s1, a)

    def g(r: float) -> float:
        return float(f(np.array([r]))[0]) - r

    hi = 1.0 - 1e-3  # f(r) - r < 0 just below 1 when f'(1) > 1, and f(0) > 0
    while g(hi) >= 0.0 and hi < 1.0 - 1e-12:
        hi = 1.0 - (1.0 - hi) / 10.0
    star = float(optimize.brentq(g, 0.0, hi, xtol=1e-15, rtol=1e-15))
    return FixedPoint("interior", star, float(df(np.array([star]))[0]), f0, s0, s1, a)
