"""Chebyshev tables of a dual kernel in ``theta = arccos rho``.

A kernel without a closed form is integrated by ``_quadrature._polar_kernel`` once
per ``(activation, gain)`` at nested Chebyshev-Lobatto points in ``theta``, where the kernel of
a kinked activation is analytic (relu: ``(sin theta + (pi - theta) cos theta) / (2 pi)``), so
the series is accurate up to ``|rho| = 1``; every later call sums the series.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.polynomial import chebyshev as _cheb
from numpy.typing import NDArray
from scipy import fft as _fft

from ._quadrature import _BY_KEY, _polar_kernel

_F = NDArray[np.float64]


@dataclass(frozen=True)
class _Table:
    coef: _F  # Chebyshev coefficients of kappa(cos theta), x = 2 theta / pi - 1
    dcoef: _F  # Chebyshev coefficients of kappa'(cos theta)


#: The series stops when its last coefficients are below this, relative to ``E sigma^2``.
_TABLE_TOL = 1e-14
#: ... or when its degree reaches this.
_TABLE_MAX_DEG = 256


def _adaptive_cheb(fun: Callable[[_F], _F], scale: float) -> _F:
    """Chebyshev interpolant on ``[-1, 1]`` at nested Chebyshev-Lobatto points.

    The degree is doubled (reusing earlier values) until the last coefficients are negligible.
    """
    deg = 32
    x = np.cos(np.pi * np.arange(deg + 1) / deg)
    vals = np.asarray(fun(x), dtype=np.float64)
    while True:
        c = _fft.dct(vals, type=1) / deg
        c[0] *= 0.5
        c[-1] *= 0.5
        if np.max(np.abs(c[-6:])) <= _TABLE_TOL * scale or deg >= _TABLE_MAX_DEG:
            return np.asarray(_cheb.chebtrim(c, 0.01 * _TABLE_TOL * scale))
        deg *= 2
        new = np.cos(np.pi * np.arange(1, deg, 2) / deg)
        merged = np.empty(deg + 1)
        merged[0::2] = vals
        merged[1::2] = np.asarray(fun(new), dtype=np.float64)
        vals = merged


@lru_cache(maxsize=128)
def _table(key: tuple[Any, ...], s: float, m2: float) -> _Table:
    """The table of the activation of ``key`` at gain ``s``; ``m2 = E sigma(s z)^2`` sets its tolerance."""
    act = _BY_KEY[key]
    scale = max(m2, 1e-300)

    def kap(x: _F) -> _F:
        return _polar_kernel(act, s, s, 0.5 * math.pi * (np.asarray(x) + 1.0))

    coef = _adaptive_cheb(kap, scale)
    dtheta = _cheb.chebder(coef) * (2.0 / math.pi)

    def dk(x: _F) -> _F:
        th = 0.5 * math.pi * (np.asarray(x) + 1.0)
        return np.asarray(-_cheb.chebval(x, dtheta) / np.sin(th))

    # h(theta) = -kappa_theta / sin(theta) is as smooth as kappa; same degree, no endpoints
    dcoef = np.asarray(_cheb.chebinterpolate(dk, coef.size + 7))  # type: ignore[type-var]
    return _Table(coef, dcoef)


def _evaluate(tab: _Table, r: _F, deriv: bool) -> _F:
    """The tabulated kernel (``deriv``: its derivative in ``rho``) at the correlations ``r``."""
    x = np.arccos(r)
    x *= 2.0 / math.pi
    x -= 1.0
    return _clenshaw(x, tab.dcoef if deriv else tab.coef)


def _clenshaw(x: _F, coef: _F) -> _F:
    """``sum_k coef[k] T_k(x)`` by Clenshaw's recurrence, in place (fewer temporaries)."""
    if coef.size == 1:
        return np.full(x.shape, coef[0])
    x2 = 2.0 * x
    b1 = np.full(x.shape, coef[-1])
    b2 = np.zeros(x.shape)
    for c in coef[-2:0:-1]:
        b2 *= -1.0
        b2 += c
        b2 += x2 * b1  # b2 <- c + 2x b1 - b2 (the new b1)
        b1, b2 = b2, b1
    out: _F = x * b1
    out -= b2
    out += coef[0]
    return out
