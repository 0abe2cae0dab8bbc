"""Gaussian integrals of an activation by quadrature split at its kinks.

The numerical machinery of :mod:`isoinit.theory.hermite` for what has no closed form:

* one dimension (Hermite coefficients, ``E sigma^2``): composite Gauss-Legendre on
  ``[-L, L]``, broken where ``gain z`` hits a kink, panels at most ``min(1, 1/|gain|)`` wide,
  widened until ``|sigma(gain z)|^2 phi(z)`` has decayed at the edge;
* two dimensions (the dual kernel ``E[sigma(a u) sigma(b v)]``): a polar rule whose angular
  sectors are bounded by the lines ``u = 0`` and ``v = 0``, its radial rule split where a
  ray crosses a kink off the origin.

The cached results are keyed by :func:`_remember`, which also keeps the activation for the key.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..activations import Activation

_F = NDArray[np.float64]
_SQRT2PI = math.sqrt(2.0 * math.pi)


# --------------------------------------------------------------------------------------
# cache keys
# --------------------------------------------------------------------------------------


def _key(act: Activation) -> tuple[Any, ...]:
    """Cache key: builtins by name; user callables by function identity too."""
    user_fn = act.fn if act.kernel_name is None else None
    return (act.name, act.base, act.param, act.kinks, act.hermite, user_fn)


_BY_KEY: dict[tuple[Any, ...], Activation] = {}


def _remember(act: Activation) -> tuple[Any, ...]:
    key = _key(act)
    _BY_KEY.setdefault(key, act)
    return key


# --------------------------------------------------------------------------------------
# the activation on the nodes, and moments beyond float64
# --------------------------------------------------------------------------------------


class _Overflow(ValueError, OverflowError):
    """Moments beyond float64.

    A :class:`ValueError` for users (a bad gain), and an :class:`OverflowError` for the mean
    field, which reports it as a breakdown at that layer.
    """


def _sigma_on(act: Activation, x: _F) -> _F:
    with np.errstate(over="ignore", invalid="ignore"):
        y = np.asarray(act.fn(x), dtype=np.float64)
    if y.shape != x.shape:
        raise ValueError(f"activation {act.name!r} must be elementwise; got shape {y.shape}")
    return y


# --------------------------------------------------------------------------------------
# one dimension: Hermite coefficients and E sigma^2
# --------------------------------------------------------------------------------------


def _he_table(k_max: int, z: _F, scale: _F | float = 1.0) -> _F:
    """Normalized Hermite polynomials ``he_0..he_kmax`` at ``z`` times ``scale``.

    Shape ``(k_max+1, *z)``. Recurrence ``he_{k+1} = (z he_k - sqrt(k) he_{k-1}) / sqrt(k+1)`` (stable; linear, so a
    scale on the first two rows scales every row).
    """
    out = np.empty((k_max + 1, *z.shape))
    out[0] = scale
    if k_max >= 1:
        out[1] = z * scale
    for k in range(1, k_max):
        out[k + 1] = (z * out[k] - math.sqrt(k) * out[k - 1]) / math.sqrt(k + 1)
    return out


_GL_1D = 24
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_GL_1D)


def _composite(breaks: _F, width: float, x: _F, w: _F) -> tuple[_F, _F]:
    """Composite Gauss rule on the intervals between ``breaks``, panels at most ``width``."""
    nodes, weights = [], []
    for lo, hi in itertools.pairwise(breaks):
        if hi <= lo:
            continue
        m = max(1, math.ceil((hi - lo) / width - 1e-9))
        edges = np.linspace(lo, hi, m + 1)
        half = 0.5 * np.diff(edges)
        mid = 0.5 * (edges[:-1] + edges[1:])
        nodes.append((mid[:, None] + half[:, None] * x[None, :]).ravel())
        weights.append((half[:, None] * w[None, :]).ravel())
    return np.concatenate(nodes), np.concatenate(weights)


@lru_cache(maxsize=256)
def _raw_rule(kinks: tuple[float, ...], gain: float, half_width: float) -> tuple[_F, _F]:
    """Composite Gauss-Legendre nodes and weights on ``[-half_width, half_width]``.

    Split where ``gain z`` hits a kink.
    """
    inner = [k / gain for k in kinks if gain != 0.0 and abs(k / gain) < half_width]
    breaks = np.unique(np.array([-half_width, *inner, half_width]))
    width = min(1.0, 1.0 / abs(gain)) if gain != 0.0 else 1.0
    z, w = _composite(breaks, width, _GL_X, _GL_W)
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


#: A quadrature's tail is negligible when ``|sigma(g z)|^2 phi(z)`` times the last panel's
#: width at the edge of the rule is below this fraction of ``E sigma^2`` (1 plus it).
_TAIL_REL = 1e-15
#: The rule is widened (doubled) at most this many times before giving up.
_WIDEN = 3


def _tail(z: _F, f: _F, m2: float) -> float:
    """``|sigma|^2 phi`` at the two outermost nodes, relative to ``1 + E sigma^2``."""
    edge = np.array([np.argmin(z), np.argmax(z)])
    with np.errstate(over="ignore", invalid="ignore"):
        t = f[edge] ** 2 * np.exp(-0.5 * z[edge] ** 2) / _SQRT2PI
    return float(np.max(t)) / (1.0 + abs(m2)) if np.all(np.isfinite(t)) else math.inf


def _log_growth(z: _F, f: _F) -> float:
    """Coefficient ``a`` of ``z^2`` in ``log sigma(g z)^2`` at the outermost usable nodes.

    A second difference on either side (the larger), where ``sigma`` is finite and non-zero:
    the moments are infinite when ``a >= 1/2``, since ``phi(z)`` decays like ``exp(-z^2 / 2)``.
    """
    growth = -math.inf
    for side in (z > 0, z < 0):
        ok = side & np.isfinite(f) & (f != 0)
        if ok.sum() < 3:
            continue
        zs = z[ok]
        ls = 2.0 * np.log(np.abs(f[ok]))
        far = np.argsort(np.abs(zs))[-1]
        picks = [int(np.argmin(np.abs(np.abs(zs) - abs(zs[far]) * t))) for t in (0.5, 0.75, 1.0)]
        (z1, z2, z3), (l1, l2, l3) = np.abs(zs[picks]), ls[picks]
        if not z1 < z2 < z3:
            continue
        slope1, slope2 = (l2 - l1) / (z2 - z1), (l3 - l2) / (z3 - z2)
        growth = max(growth, float((slope2 - slope1) / (z3 - z1)))  # d2/dz2 of a z^2 is 2a: /2 * 2
    return growth


def _sampled(act: Activation, g: float, half_width: float) -> tuple[_F, _F, _F, float]:
    """Nodes ``z``, raw weights, ``sigma(g z)`` and ``E sigma(g z)^2`` on a wide enough rule.

    Wide enough: ``|sigma(g z)|^2 phi(z)`` has decayed at its edge (the rule is widened up to
    ``2^_WIDEN`` times); otherwise ValueError with the true reason: no finite Gaussian
    moments, or moments beyond float64.
    """
    for step in range(_WIDEN + 1):
        h = half_width * 2**step
        z, w = _raw_rule(act.kinks, g, h)
        f = _sigma_on(act, g * z)
        if not np.all(np.isfinite(f)):
            break
        with np.errstate(over="ignore", invalid="ignore"):
            m2 = float(np.dot(f * f, w * np.exp(-0.5 * z * z) / _SQRT2PI))
        if not math.isfinite(m2):
            break
        if _tail(z, f, m2) <= _TAIL_REL:
            return z, w, f, m2
    if _log_growth(z, f) >= 0.5 * (1.0 - 1e-3):
        raise ValueError(
            f"activation {act.name!r} has no finite Gaussian moments at gain {g:g}: |sigma(g z)|^2 grows "
            "like exp(a z^2) with a >= 1/2, faster than the Gaussian density phi(z) decays"
        )
    raise _Overflow(
        f"the Gaussian moments of activation {act.name!r} at gain {g:g} cannot be computed in float64: "
        f"sigma(g z) or |sigma(g z)|^2 phi(z) overflows, or has not decayed at |z| = {h:g}; use a smaller gain"
    )


def _half_width(k_max: int) -> float:
    # he_k(z)^2 phi(z) is below e^-60 beyond 2 sqrt(k) + 11.
    return 11.0 + 2.0 * math.sqrt(k_max + 1.0)


@lru_cache(maxsize=512)
def _quad_coefficients(key: tuple[Any, ...], k_max: int, g: float) -> _F:
    act = _BY_KEY[key]
    z, w, f, _ = _sampled(act, g, _half_width(k_max))
    # he_k(z) e^{-z^2/4} is bounded by 1.09 for every k (Cramer's inequality), so the table
    # of scaled polynomials and the scaled weights never overflow, even for k_max = 1000
    # where he_k alone would at the edge of the rule
    scale = np.exp(-0.25 * z * z)
    c = _he_table(k_max, z, scale) @ (f * w * scale / _SQRT2PI)
    if not np.all(np.isfinite(c)):  # pragma: no cover - _sampled refuses what could get here
        raise ValueError(f"activation {act.name!r} at gain {g:g} has no finite Gaussian moments")
    c.setflags(write=False)
    return c


@lru_cache(maxsize=1024)
def _quad_m2(key: tuple[Any, ...], g: float) -> float:
    return _sampled(_BY_KEY[key], g, _half_width(2))[3]  # finite: _sampled refuses the rest


# --------------------------------------------------------------------------------------
# two dimensions: the dual kernel in polar coordinates
# --------------------------------------------------------------------------------------

_R_MAX = 10.0
_RAD_X, _RAD_W = np.polynomial.legendre.leggauss(16)
_ANG_X, _ANG_W = np.polynomial.legendre.leggauss(20)
_ANG_X40, _ANG_W40 = np.polynomial.legendre.leggauss(40)
_RAD_GAUSS_N = 48


@lru_cache(maxsize=1)
def _radial_gauss() -> tuple[_F, _F]:
    """48-point Gauss rule for ``int_0^inf f(r) r exp(-r^2/2) dr / (2 pi)``.

    Recurrence coefficients by the discretized Stieltjes procedure on a fine composite
    Gauss-Legendre rule over ``[0, 12]``, nodes and weights by Golub-Welsch. Integrates
    ``tanh(a r) tanh(b r)`` and similar products to 1e-15 for ``|a|, |b| <= 3``.
    """
    x, w = np.polynomial.legendre.leggauss(40)
    edges = np.linspace(0.0, 12.0, 121)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[:-1] + edges[1:])
    r = (mid[:, None] + half[:, None] * x).ravel()
    wr = (half[:, None] * w).ravel() * r * np.exp(-0.5 * r * r)
    n = _RAD_GAUSS_N
    alpha, beta = np.zeros(n), np.zeros(n)
    p_prev, p = np.zeros_like(r), np.full_like(r, 1.0 / math.sqrt(wr.sum()))
    for k in range(n):
        alpha[k] = np.sum(wr * r * p * p)
        q = (r - alpha[k]) * p - (beta[k - 1] if k else 0.0) * p_prev
        beta[k] = math.sqrt(np.sum(wr * q * q))
        p_prev, p = p, q / beta[k]
    jac = np.diag(alpha) + np.diag(beta[:-1], 1) + np.diag(beta[:-1], -1)
    nodes, vecs = np.linalg.eigh(jac)
    return nodes, wr.sum() * vecs[0] ** 2 / (2.0 * math.pi)


def _radial_rule(scale: float) -> tuple[_F, _F]:
    if scale <= 3.0:
        return _radial_gauss()
    r, w = _composite(np.array([0.0, _R_MAX]), 1.0 / scale, _RAD_X, _RAD_W)
    return r, w * r * np.exp(-0.5 * r * r) / (2.0 * math.pi)


def _polar_kernel(act: Activation, a: float, b: float, theta: _F) -> _F:
    """``E[sigma(a u) sigma(b v)]`` with ``corr(u, v) = cos theta`` by 2-D polar quadrature.

    ``(u, v) = r (cos t, cos(t - theta))``; the angular range is cut into the four sectors
    where ``u`` and ``v`` keep their signs (boundaries ``t = -pi/2, theta - pi/2, pi/2,
    theta + pi/2``), each split into ``m`` Gauss-Legendre panels; the radial integral uses
    composite Gauss-Legendre on ``[0, 10]`` with weight ``r exp(-r^2/2) / (2 pi)``. Kinks
    off the origin (hardtanh) split each ray's radial rule where the ray crosses them, and
    the angles at which that crossing leaves ``[0, 10]`` bound the angular panels too.
    """
    s = max(a, b, 1.0)
    r, wr = _radial_rule(s)
    m = max(2, math.ceil(2.0 * s))
    bounds = np.stack(
        [
            -0.5 * math.pi + 0 * theta,
            theta - 0.5 * math.pi,
            0.5 * math.pi + 0 * theta,
            theta + 0.5 * math.pi,
            1.5 * math.pi + 0 * theta,
        ],
        axis=-1,
    )  # (T, 5)
    off_zero = tuple(k for k in act.kinks if k != 0.0)
    if off_zero:
        # a kink k off the origin crosses the ray t at r = k / (a cos t); where that radius
        # leaves [0, R_MAX] the integrand of t is smooth but not analytic: break there too
        extra = []
        for k in off_zero:
            for scale, shift in ((a, 0.0 * theta), (b, theta)):
                c = k / (scale * _R_MAX)
                if abs(c) < 1.0:
                    extra += [shift + math.acos(c), shift - math.acos(c)]
        more = (np.stack(extra, axis=-1) + 0.5 * math.pi) % (2.0 * math.pi) - 0.5 * math.pi
        bounds = np.sort(np.concatenate([bounds, more], axis=-1), axis=-1)
    sub = np.linspace(0.0, 1.0, m + 1)
    lo = bounds[:, :-1, None] + (bounds[:, 1:, None] - bounds[:, :-1, None]) * sub[None, None, :-1]
    hi = bounds[:, :-1, None] + (bounds[:, 1:, None] - bounds[:, :-1, None]) * sub[None, None, 1:]
    half = 0.5 * (hi - lo)
    mid = 0.5 * (hi + lo)
    ang_x, ang_w = (_ANG_X40, _ANG_W40) if off_zero else (_ANG_X, _ANG_W)  # 20 points leave errors of 5e-10
    t = (mid[..., None] + half[..., None] * ang_x).reshape(theta.size, -1)  # (T, A)
    wt = (half[..., None] * ang_w).reshape(theta.size, -1)
    out = np.empty(theta.size)
    cu, cv = np.cos(t), np.cos(t - theta[:, None])
    for i in range(theta.size):
        if off_zero:  # kinks off the origin cross each ray at its own radius: split there
            rr, ww = _radial_split(
                np.concatenate([np.divide.outer(off_zero, a * cu[i]), np.divide.outer(off_zero, b * cv[i])]).T, s
            )
            fu = _sigma_on(act, a * cu[i][:, None] * rr)
            fv = _sigma_on(act, b * cv[i][:, None] * rr)
            out[i] = wt[i] @ np.sum(fu * fv * ww, axis=1)
            continue
        fu = _sigma_on(act, a * cu[i][:, None] * r[None, :])
        fv = _sigma_on(act, b * cv[i][:, None] * r[None, :])
        out[i] = wt[i] @ ((fu * fv) @ wr)
    return out


def _radial_split(crossings: _F, scale: float) -> tuple[_F, _F]:
    """Radial rule per ray, split where the ray crosses a kink.

    ``crossings`` is ``(A, K)``: the radii at which ray ``j`` meets the kinks (negative,
    infinite or beyond ``_R_MAX`` ones are ignored). Each of the ``K + 1`` pieces of
    ``[0, _R_MAX]`` gets a composite Gauss-Legendre rule with panels of width at most
    ``1/scale``; returns nodes and weights (with ``r exp(-r^2/2) / (2 pi)``), ``(A, N)``.
    """
    with np.errstate(invalid="ignore"):
        inside = np.where((crossings > 0.0) & (crossings < _R_MAX), crossings, _R_MAX)
    zero = np.zeros((inside.shape[0], 1))
    edges = np.sort(np.concatenate([zero, inside, zero + _R_MAX], axis=1), axis=1)  # (A, K + 2)
    panels = max(1, math.ceil(_R_MAX * scale))
    sub = np.linspace(0.0, 1.0, panels + 1)
    lo = edges[:, :-1, None] + (edges[:, 1:, None] - edges[:, :-1, None]) * sub[None, None, :-1]
    hi = edges[:, :-1, None] + (edges[:, 1:, None] - edges[:, :-1, None]) * sub[None, None, 1:]
    half, mid = 0.5 * (hi - lo), 0.5 * (hi + lo)
    r = (mid[..., None] + half[..., None] * _RAD_X).reshape(edges.shape[0], -1)
    w = (half[..., None] * _RAD_W).reshape(edges.shape[0], -1)
    return r, w * r * np.exp(-0.5 * r * r) / (2.0 * math.pi)
