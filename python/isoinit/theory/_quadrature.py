"""Gaussian integrals of an activation by quadrature split at its kinks.

The numerical machinery of :mod:`isoinit.theory.hermite` for what has no closed form:

* one dimension (Hermite coefficients, ``E sigma^2``): composite Gauss-Legendre on
  ``[-L, L]``, broken where ``gain z`` hits a kink, panels at most ``min(1, 1/|gain|)`` wide,
  widened until ``|sigma(gain z)|^2 phi(z)`` has decayed at the edge;
* two dimensions (the dual kernel ``E[sigma(a u) sigma(b v)]``): a polar rule whose angular
  sectors are bounded by the lines ``u = 0`` and ``v = 0``, its radial rule split where a
  ray crosses a kink off the origin. Up to ``max(a, b) = 3`` the panels are uniform (at
  most ``1 / max(a, b)`` wide, so the cost grows like ``a b``); beyond, and at every scale
  for activations with finer structure or kinks off the origin, an activation that is
  resolved on geometric panels ``[y, 2.4 y]`` (every built-in but ``sin``, ``cos`` and
  ``exp``) gets a graded rule whose panels shrink geometrically towards the origin and the
  lines ``u = 0``, ``v = 0``, so that its size grows like ``log(a b)`` only.

The cached results are keyed by :func:`_remember`, which also keeps the activation for the key.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import fft as _fft

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


class _NotANumber(ValueError):
    """The activation returned NaN at quadrature points: its Gaussian integrals are undefined.

    A :class:`ValueError` for users; the mean field reports it as a breakdown at that layer,
    as what it is (the activation's NaN, not an overflow of the variance).
    """


def _sigma_on(act: Activation, x: _F, *, probe: bool = False) -> _F:
    """``sigma(x)``; NaN is :class:`_NotANumber` on the nodes of an integral, left to a ``probe``
    (a test of the activation's shape, which treats non-finite values as failing)."""
    with np.errstate(over="ignore", invalid="ignore"):
        y = np.asarray(act.fn(x), dtype=np.float64)
    if y.shape != x.shape:
        raise ValueError(f"activation {act.name!r} must be elementwise; got shape {y.shape}")
    if not probe:
        _refuse_nan(act, x, y)
    return y


def _refuse_nan(act: Activation, x: _F, y: _F) -> None:
    """:class:`_NotANumber` naming the inputs where ``y = sigma(x)`` is NaN, if any."""
    nan = np.isnan(y)
    if nan.any():
        xs = x[nan]
        raise _NotANumber(
            f"activation {act.name!r} returned NaN for inputs in [{xs.min():.6g}, {xs.max():.6g}] "
            f"({int(nan.sum())} of {y.size} quadrature points, e.g. x = {xs[np.argmin(np.abs(xs))]:.6g}), "
            "so its Gaussian integrals are undefined: an activation must be a number at every input"
        )


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
        f = _sigma_on(act, g * z, probe=True)  # NaN after the growth test: exp(-x^2) exp(2 x^2) is inf * 0
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
    _refuse_nan(act, g * z, f)
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
    theta + pi/2``). The graded rule of :func:`_graded_kernel` where :func:`_graded_plan`
    takes it; otherwise (up to ``max(a, b) = 3`` for activations smooth on the scale 2 and
    without kinks off the origin, or an activation no graded rule resolves, such as ``sin``
    beyond ``max(a, b) = 1.6``) each sector is split into ``m`` Gauss-Legendre
    panels and the radial integral uses composite Gauss-Legendre on ``[0, 10]`` with weight
    ``r exp(-r^2/2) / (2 pi)``, panels at most ``1 / max(a, b)`` wide. Kinks off the origin
    (hardtanh) split each ray's radial rule where the ray crosses them, and the angles at
    which that crossing leaves ``[0, 10]`` bound the angular panels too.
    """
    plan = _graded_plan(act, max(a, b))
    if plan is not None:
        return _graded_kernel(act, a, b, theta, *plan)
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


# --------------------------------------------------------------------------------------
# two dimensions at large scales: a graded polar rule
# --------------------------------------------------------------------------------------
#
# sigma(a r cos t) varies on the scale 1 / a only near the origin and near the lines u = 0,
# v = 0 if sigma itself is resolved by polynomials on geometric panels [y, 2.4 y] (its
# structure sits near x = 0 and it is smooth relative to |x| beyond): then panels that
# shrink geometrically towards r = 0 and towards those lines resolve the integrand at every
# scale, and the rule needs O(log(a b)) panels where uniform ones need O(a b).

#: The uniform rule is kept up to ``max(a, b) = _UNIFORM_UP_TO`` (where its radial Gauss rule
#: applies and it is the cheaper) for activations resolved on ``[-x0, 0]`` and ``[0, x0]`` with
#: ``x0 >= _UNIFORM_X0`` and without kinks off the origin: its panels, up to 1 wide in ``x``,
#: resolve those. It leaves errors of 1e-10 on celu(0.05) (structure on the scale 0.05) and
#: 5e-10 on hardtanh at unequal variances (where the crossings of its kinks by u and by v
#: meet, the integrand is only finitely smooth in the angle; the graded rule breaks there).
_UNIFORM_UP_TO = 3.0
_UNIFORM_X0 = 2.0
#: Resolution test of a panel: the Chebyshev coefficients of the interpolant at
#: ``_RES_POINTS`` points of the first kind, from degree ``_RES_DEGREE`` on, are below
#: ``_RES_TOL`` times ``max(1, max |sigma|)`` on the panel. The graded rule's 16-point radial
#: and 12-point angular panels then integrate products of two such functions to rounding.
_RES_POINTS = 64
_RES_DEGREE = 32
_RES_TOL = 1e-14
_RES_X = np.cos(np.pi * (np.arange(_RES_POINTS) + 0.5) / _RES_POINTS)
#: Test panels ``[y, _RES_RATIO y]`` on the lattice ``y = x0 2^(m/4)``: any panel ``[y, 2 y]``
#: of the rule lies inside one of them.
_RES_RATIO = 2.0**1.25
_RES_STEPS = 4
#: The inner scale ``x0`` (``sigma`` resolved on ``[-x0, 0]`` and ``[0, x0]``) is a power of 2
#: at most this, and at least the last.
_X0_MAX_EXP = 4
_X0_MIN_EXP = -40
#: Gauss-Legendre points per radial and per angular panel (8 angular points leave errors of
#: 2e-12, 12 reach rounding), and the ratio by which panels grow away from the origin and
#: from the lines u = 0, v = 0.
_GR_RAD_X, _GR_RAD_W = np.polynomial.legendre.leggauss(16)
_GR_ANG_X, _GR_ANG_W = np.polynomial.legendre.leggauss(12)
_GR_RATIO = 2.0
#: Radial breaks where the Gaussian weight, not sigma, sets the panel width (then every 2).
_GR_GAUSS_BREAKS = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0)
#: The radial rule ends where ``sigma^2 r exp(-r^2/2)`` has fallen below this fraction of its
#: integral; a rule that would need to reach beyond ``_GR_REACH_MAX`` is not graded.
_GR_TAIL = 1e-17
_GR_REACH_MAX = 40.0
#: Kinks off the origin add ``K^2`` angular breaks (where two crossings meet); more than this
#: many are left to the uniform rule.
_GR_MAX_KINKS = 8


def _resolved(act: Activation, lo: float, hi: float) -> bool:
    """Whether ``sigma`` is a polynomial of degree ``< _RES_DEGREE`` on ``[lo, hi]`` (to ``_RES_TOL``).

    Tested piecewise between the declared kinks inside; non-finite values fail.
    """
    edges = [lo, *(k for k in act.kinks if lo < k < hi), hi]
    for p, q in itertools.pairwise(edges):
        f = _sigma_on(act, 0.5 * (p + q) + 0.5 * (q - p) * _RES_X, probe=True)
        if not np.all(np.isfinite(f)):
            return False
        c = _fft.dct(f, type=2) / _RES_POINTS
        if float(np.max(np.abs(c[_RES_DEGREE:]))) > _RES_TOL * max(1.0, float(np.max(np.abs(f)))):
            return False
    return True


@lru_cache(maxsize=256)
def _inner_scale(key: tuple[Any, ...]) -> float | None:
    """Largest ``x0 = 2^j`` (``j <= 4``) with ``sigma`` resolved on ``[-x0, 0]`` and ``[0, x0]``.

    ``None`` if no ``x0 >= 2^-40`` qualifies (e.g. ``sqrt|x|``).
    """
    act = _BY_KEY[key]
    for j in range(_X0_MAX_EXP, _X0_MIN_EXP - 1, -1):
        x0 = 2.0**j
        if _resolved(act, 0.0, x0) and _resolved(act, -x0, 0.0):
            return x0
    return None


#: Per activation key: the last lattice index checked (sigma resolved on every test panel up
#: to it) and whether a test panel failed there.
_TAME: dict[tuple[Any, ...], tuple[int, bool]] = {}


def _tame(key: tuple[Any, ...], x0: float, x_max: float) -> bool:
    """Whether ``sigma`` is resolved on every test panel ``[y, 2.4 y]``, ``+-``, with ``x0 / 2 <= y < x_max``."""
    act = _BY_KEY[key]
    m, failed = _TAME.get(key, (-_RES_STEPS - 1, False))
    while not failed and x0 * 2.0 ** (m / _RES_STEPS) < x_max:
        m += 1
        y = x0 * 2.0 ** (m / _RES_STEPS)
        failed = not (_resolved(act, y, _RES_RATIO * y) and _resolved(act, -_RES_RATIO * y, -y))
    _TAME[key] = (m, failed)
    return not failed or x0 * 2.0 ** (m / _RES_STEPS) >= x_max


def _reach(act: Activation, s: float) -> float:
    """Radius (10, 12, ...) beyond which ``sigma(+-s r)^2 r exp(-r^2/2)`` stays below ``_GR_TAIL`` of its integral.

    ``inf`` if that takes more than ``_GR_REACH_MAX`` or the integral overflows.
    """
    r, w = _composite(np.array([0.0, _GR_REACH_MAX + 2.0]), 1.0, _GR_RAD_X, _GR_RAD_W)
    weight = r * np.exp(-0.5 * r * r)
    last = 0.0  # the outermost node where the integrand is not negligible
    for sign in (1.0, -1.0):
        with np.errstate(over="ignore", invalid="ignore"):
            g = _sigma_on(act, sign * s * r, probe=True) ** 2 * weight
        total = float(np.dot(g, w))
        if not math.isfinite(total):
            return math.inf
        big = np.nonzero(g > _GR_TAIL * total)[0]
        last = max(last, float(r[big[-1]]) if big.size else 0.0)
    reach = _GR_GAUSS_BREAKS[-1] + 2.0 * max(0, math.ceil((last - _GR_GAUSS_BREAKS[-1]) / 2.0))
    return reach if reach <= _GR_REACH_MAX else math.inf


def _graded_plan(act: Activation, s: float) -> tuple[float, float] | None:
    """``(x0, reach)`` of the graded rule for ``max(a, b) = s``, or ``None`` if it does not apply.

    It applies when ``sigma`` has an inner scale ``x0`` (lowered to a power of 2 below the
    smallest non-zero ``|kink|``, so that no kink crosses the first panels), at most
    ``_GR_MAX_KINKS`` kinks off the origin, a radial reach within ``_GR_REACH_MAX``, and is
    resolved on every test panel out to ``s`` times the reach (the largest ``|x|`` a ray
    meets); not where the uniform rule is kept (``s <= _UNIFORM_UP_TO``, ``x0 >= _UNIFORM_X0``,
    no kinks off the origin).
    """
    off_zero = [abs(k) for k in act.kinks if k != 0.0]
    if len(off_zero) > _GR_MAX_KINKS:
        return None
    key = _remember(act)
    x0 = _inner_scale(key)
    if x0 is None or (s <= _UNIFORM_UP_TO and x0 >= _UNIFORM_X0 and not off_zero):
        return None
    if off_zero:
        x0 = min(x0, 2.0 ** math.floor(math.log2(min(off_zero))))
    reach = _reach(act, s)
    if reach > _GR_REACH_MAX or not _tame(key, x0, s * reach):
        return None
    return x0, reach


def _geometric(start: float, stop: float, ratio: float) -> _F:
    """``start, ratio start, ratio^2 start, ...`` below ``stop`` (empty if ``start >= stop``)."""
    if not start < stop:
        return np.empty(0)
    steps = np.arange(math.ceil(math.log(stop / start, ratio) - 1e-12), dtype=np.float64)
    return np.asarray(start * ratio**steps, dtype=np.float64)


def _graded_angles(a: float, b: float, theta: float, x0: float, reach: float, kinks: tuple[float, ...]) -> _F:
    """Angular breaks of the graded rule on ``[-pi/2, 3pi/2]`` for the correlation angle ``theta``.

    The four lines (``cos t = 0``: ``u = 0``; ``cos(t - theta) = 0``: ``v = 0``), which bound
    the sectors, and on both sides of each line breaks ``tau, 2 tau, ...`` away from it up to
    ``pi/2``, with ``tau = x0 / (scale reach)`` (``scale`` ``a`` or ``b``: the first panel
    keeps ``|x| = scale |cos| r <= x0`` on the whole ray), so that along every panel the
    distance to the nearest line of either kind changes by at most the ratio; for kinks off
    the origin also the angles where a ray's crossings of a kink by ``u`` and by ``v`` meet
    (the integrand is only finitely smooth in ``t`` there).
    """
    half = 0.5 * math.pi
    parts = []
    for line, scale in ((-half, a), (theta - half, b), (half, a), (theta + half, b)):
        tau = _geometric(x0 / (scale * reach), half, _GR_RATIO)
        for base in (line - 2.0 * math.pi, line, line + 2.0 * math.pi):  # the circle wraps
            parts += [np.array([base]), base - tau, base + tau]
    if kinks and theta > 0.0:
        # k / (a cos t) = k' / (b cos(t - theta)): tan t = (k' a - k b cos theta) / (k b sin theta)
        for k, kp in itertools.product(kinks, kinks):
            t0 = math.atan2(kp * a - k * b * math.cos(theta), k * b * math.sin(theta))
            t = t0 + math.pi * np.arange(-1.0, 3.0)
            with np.errstate(divide="ignore"):
                radius = k / (a * np.cos(t))
            parts.append(t[(radius > 0.0) & (radius < reach)])
    br = np.concatenate(parts)
    return np.unique(br[(br >= -half) & (br <= 3.0 * half)])


def _panels(edges: _F, x: _F, w: _F) -> tuple[_F, _F]:
    """Gauss nodes and weights on the panels between consecutive ``edges`` (along the last axis)."""
    half = 0.5 * (edges[..., 1:] - edges[..., :-1])
    mid = 0.5 * (edges[..., 1:] + edges[..., :-1])
    nodes = (mid[..., None] + half[..., None] * x).reshape(*edges.shape[:-1], -1)
    weights = (half[..., None] * w).reshape(*edges.shape[:-1], -1)
    return nodes, weights


def _graded_kernel(act: Activation, a: float, b: float, theta: _F, x0: float, reach: float) -> _F:
    """``E[sigma(a u) sigma(b v)]``, ``corr = cos theta``, by the graded polar rule.

    Radial breaks ``1/2, 1/4, ...`` down to ``x0 / max(a, b)`` or below, then from 1
    ``_GR_GAUSS_BREAKS`` and every 2 up to ``reach`` (plus, per ray, the crossings of kinks
    off the origin); angular breaks from :func:`_graded_angles`. ``sigma`` is resolved on
    every panel a ray meets (:func:`_graded_plan` checked it), so 16 radial and 12 angular
    points per panel reach rounding whatever ``a`` and ``b``.
    """
    gauss = np.concatenate([_GR_GAUSS_BREAKS, np.arange(_GR_GAUSS_BREAKS[-1] + 2.0, reach + 1.0, 2.0)])
    inner = 0.5 ** np.arange(1, max(1, math.ceil(math.log2(max(a, b) / x0))) + 1)  # the first <= x0 / max(a, b)
    r_edges = np.unique(np.concatenate([[0.0], inner, gauss]))
    off_zero = tuple(k for k in act.kinks if k != 0.0)
    out = np.empty(theta.size)
    for i, th in enumerate(theta):
        t, wt = _panels(_graded_angles(a, b, float(th), x0, reach, off_zero), _GR_ANG_X, _GR_ANG_W)
        cu, cv = np.cos(t), np.cos(t - th)
        if off_zero:  # each ray's radial rule split where it crosses a kink
            with np.errstate(divide="ignore", invalid="ignore"):
                cross = np.concatenate([np.divide.outer(off_zero, a * cu), np.divide.outer(off_zero, b * cv)]).T
                cross = np.where((cross > 0.0) & (cross < reach), cross, reach)
            edges = np.sort(np.concatenate([np.broadcast_to(r_edges, (t.size, r_edges.size)), cross], axis=1), axis=1)
            r, wr = _panels(edges, _GR_RAD_X, _GR_RAD_W)
        else:
            r, wr = _panels(r_edges, _GR_RAD_X, _GR_RAD_W)
            r, wr = r[None, :], wr[None, :]
        wr = wr * r * np.exp(-0.5 * r * r) / (2.0 * math.pi)
        fu = _sigma_on(act, a * cu[:, None] * r)
        fv = _sigma_on(act, b * cv[:, None] * r)
        out[i] = wt @ np.sum(fu * fv * wr, axis=1)
    return out
