"""Hermite expansion, Gaussian moments and dual kernels of an activation.

Implements the quantities of Joudaki, Daneshmand and Bach, "On the impact of activation and
normalization in obtaining isometric embeddings at initialization" (NeurIPS 2023, section 4
and appendix; Theory §4 of the documentation):

* the normalized Hermite coefficients ``c_k = E[sigma(z) he_k(z)]``, ``he_k = He_k/sqrt(k!)``,
  ``z ~ N(0, 1)`` (:func:`coefficients`) and the exact moments ``c_0``, ``c_1``,
  ``E sigma(z)^2`` (:func:`moments`);
* the non-linearity strength ``beta_0 = c_1^2 / (E sigma^2 - c_0^2)`` (:func:`beta0`) and
  the per-layer contraction factor ``1 / (2 - beta_0)`` of the potential
  (:func:`contraction_factor`); ``2 - beta_0`` is *not* ``beta_0``, whatever the authors'
  code prints;
* the dual kernel ``kappa(rho) = E[sigma(u) sigma(v)] = sum_k c_k^2 rho^k`` (Mehler),
  the centered normalized kernel ``kbar`` that layer normalization after the activation
  applies to every correlation, the RMS kernel ``kappa / E sigma^2``, their derivatives,
  and the NNGP step for unequal variances (:func:`nngp_kernel`).

Every function takes an activation spec (see :func:`isoinit.activations.resolve`) and a
pre-activation ``gain``: the activation is then ``x -> sigma(gain * x)``.

Numerical methods. Closed forms are used for the built-ins whose record in
:data:`isoinit.activations.BUILTIN` names a family of :mod:`isoinit.activations._closed_forms`
(:data:`CLOSED_FORM`)
and the Hermite-defined activations (``heK``, ``from_hermite``): coefficients, moments and
kernels (gelu: coefficients and moments). Everything else uses quadrature that is split at
the activation's kinks: composite Gauss-Legendre on ``[-L, L]`` with panels of width
``min(1, 1/|gain|)`` for the one-dimensional integrals, and for the dual kernel a
two-dimensional rule in polar coordinates whose angular sectors are bounded by the lines
``u = 0`` and ``v = 0`` (so a kink at 0 never falls inside a cell; a kink off the origin,
such as hardtanh's at +-1, splits each ray's radial rule where it crosses), tabulated once per
``(activation, gain)`` as a Chebyshev series in ``theta = arccos(rho)``. In the variable
``theta`` the kernel of a kinked activation is analytic (for relu,
``kappa = (sin theta + (pi - theta) cos theta) / (2 pi)``), which is what makes the
table accurate up to ``|rho| = 1``. Measured accuracy: coefficients and moments within
1e-12 absolute of 30-digit integration for every built-in activation and ``k <= 30``;
tabulated kernels within 1e-12 of the closed forms on all of ``[-1, 1]`` (tests).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.polynomial import chebyshev as _cheb
from numpy.typing import ArrayLike, NDArray
from scipy import fft as _fft

from .. import _validate as check
from ..activations import BUILTIN, Activation, ActivationSpec, resolve
from ..activations._closed_forms import HermiteSeries
from ._fixed_points import FixedPoint, kernel_fixed_point

__all__ = [
    "CLOSED_FORM",
    "Moments",
    "beta0",
    "centered_kernel",
    "centered_kernel_derivative",
    "coefficients",
    "contraction_factor",
    "dual_kernel",
    "dual_kernel_derivative",
    "fixed_point",
    "moments",
    "nngp_kernel",
    "rms_kernel",
    "rms_kernel_derivative",
]


def __dir__() -> list[str]:
    return sorted(__all__)


_F = NDArray[np.float64]
_SQRT2PI = math.sqrt(2.0 * math.pi)

#: Built-in activations (by ``Activation.base``) whose coefficients, moments and kernels have
#: closed forms (their record names a family of :mod:`isoinit.activations._closed_forms`); ``heK`` and
#: Hermite-defined activations are exact too.
CLOSED_FORM: frozenset[str] = frozenset(name for name, b in BUILTIN.items() if b.closed is not None)


# --------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------


def _rho(rho: ArrayLike, name: str = "rho") -> _F:
    r = check.array(name, rho)
    if np.any(np.abs(r) > 1.0 + 1e-12):
        bad = r[np.abs(r) > 1.0 + 1e-12].ravel()[:3]
        raise ValueError(f"{name} must lie in [-1, 1]; got values such as {bad.tolist()}")
    return np.clip(r, -1.0, 1.0)


def _key(act: Activation) -> tuple[Any, ...]:
    """Cache key: builtins by name; user callables by function identity too."""
    user_fn = act.fn if act.engine is None else None
    return (act.name, act.base, act.param, act.kinks, act.hermite, user_fn)


_BY_KEY: dict[tuple[Any, ...], Activation] = {}


def _remember(act: Activation) -> tuple[Any, ...]:
    key = _key(act)
    _BY_KEY.setdefault(key, act)
    return key


# --------------------------------------------------------------------------------------
# Hermite polynomials and closed-form coefficient pieces
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


class _Overflow(ValueError, OverflowError):
    """Moments beyond float64.

    A :class:`ValueError` for users (a bad gain), and an :class:`OverflowError` for the mean
    field, which reports it as a breakdown at that layer.
    """


def _overflow(act: Activation, g: float) -> ValueError:
    return _Overflow(
        f"the Gaussian moments of activation {act.name!r} at gain {g:g} overflow float64 "
        "(they exceed 1.8e308); use a smaller gain"
    )


def _closed_coefficients(act: Activation, k_max: int, g: float) -> _F | None:
    """Closed-form ``c_0..c_kmax`` of ``x -> sigma(g x)``, or ``None`` if there is none."""
    if act.closed is None:
        return None
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            c = act.closed.coefficients(k_max, g, _param(act))
    except OverflowError:
        raise _overflow(act, g) from None
    if not np.all(np.isfinite(c)):
        raise _overflow(act, g)
    return c


def _closed_moments(act: Activation, g: float) -> tuple[float, float, float] | None:
    """Closed-form ``(c_0, c_1, E sigma(g z)^2)`` or ``None``."""
    if act.closed is None:
        return None
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            m = act.closed.moments(g, _param(act))
    except OverflowError:
        raise _overflow(act, g) from None
    if not all(math.isfinite(v) for v in m):
        raise _overflow(act, g)
    return m


def _param(act: Activation) -> float:
    return 0.0 if act.param is None else float(act.param)


# --------------------------------------------------------------------------------------
# one-dimensional kink-aware quadrature
# --------------------------------------------------------------------------------------

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


def _sigma_on(act: Activation, x: _F) -> _F:
    with np.errstate(over="ignore", invalid="ignore"):
        y = np.asarray(act.fn(x), dtype=np.float64)
    if y.shape != x.shape:
        raise ValueError(f"activation {act.name!r} must be elementwise; got shape {y.shape}")
    return y


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
# public: coefficients, moments, beta0
# --------------------------------------------------------------------------------------


def coefficients(activation: ActivationSpec, k_max: int, *, gain: float = 1.0) -> _F:
    """Normalized Hermite coefficients ``c_0..c_kmax`` of ``x -> sigma(gain x)``.

    ``c_k = E[sigma(gain z) he_k(z)]`` with ``he_k = He_k / sqrt(k!)`` and ``z ~ N(0, 1)``,
    so that ``sigma(gain x) = sum_k c_k he_k(x)`` and ``sum_k c_k^2 = E sigma(gain z)^2``
    (Parseval); Joudaki, Daneshmand and Bach (2023), section 4, the expansion behind
    ``beta_0``.

    Closed forms for :data:`CLOSED_FORM`, ``heK`` and Hermite-defined activations;
    composite Gauss-Legendre quadrature
    split at the kinks otherwise. Absolute error at most 1e-12 for ``k_max <= 30`` on every
    built-in activation and gains in ``[0.25, 4]`` (tested against 30-digit integration).
    Every order up to 1000 is computed (the quadrature uses the scaled polynomials
    ``he_k(z) exp(-z^2/4)``, bounded for every ``k``, so nothing overflows); at ``k_max = 1000``
    the tests check Parseval and agreement with a rule of half the panel width.

    The quadrature is widened until ``|sigma(gain z)|^2 phi(z)`` has decayed at its edge;
    an activation whose square grows like ``exp(a z^2)`` with ``a >= 1/2`` (e.g. a
    registered ``exp(x**2)`` at gain 1) has no finite Gaussian moments and is refused.

    Parameters
    ----------
    activation : str or Activation
        Activation spec (:func:`isoinit.activations.resolve`).
    k_max : int
        Highest order, ``0 <= k_max <= 1000``.
    gain : float
        Pre-activation gain (any finite real; ``c_k`` of ``-gain`` is ``(-1)^k c_k``).

    Returns
    -------
    ndarray, shape (k_max + 1,)

    Raises
    ------
    ValueError
        If the activation has no finite Gaussian moments at this gain, or they overflow
        float64 (e.g. ``exp`` at gain 40: ``E exp(2 gain z) = exp(2 gain^2)``); the message
        names the activation and the gain.
    """
    act = resolve(activation)
    k_max = check.integer("k_max", k_max, 0, 1000)
    g = check.real("gain", gain)
    closed = _closed_coefficients(act, k_max, g)
    if closed is not None:
        return closed
    return np.array(_quad_coefficients(_remember(act), k_max, g))


@dataclass(frozen=True)
class Moments:
    """Gaussian moments of ``x -> sigma(gain x)`` under ``z ~ N(0, 1)``.

    Attributes
    ----------
    c0 : float
        ``E sigma(gain z)``, the infinite-width row mean that layer centering removes.
    c1 : float
        ``E[z sigma(gain z)]``, the linear Hermite coefficient.
    m2 : float
        ``E sigma(gain z)^2`` (exact, not a truncated series).
    """

    c0: float
    c1: float
    m2: float

    @property
    def variance(self) -> float:
        """``E sigma^2 - c_0^2 = sum_{k>=1} c_k^2``, the squared ``mf`` scaling constant."""
        return max(self.m2 - self.c0 * self.c0, 0.0)


@lru_cache(maxsize=4096)
def _moments_cached(key: tuple[Any, ...], g: float) -> Moments:
    act = _BY_KEY[key]
    closed = _closed_moments(act, g)
    if closed is not None:
        return Moments(*closed)
    c = _quad_coefficients(key, 1, g)
    return Moments(float(c[0]), float(c[1]), _quad_m2(key, g))


def moments(activation: ActivationSpec, gain: float = 1.0) -> Moments:
    """Exact Gaussian moments ``c_0``, ``c_1`` and ``E sigma(gain z)^2``.

    These give the ``mf`` centering constant ``c_0`` and scaling constant
    ``sqrt(E sigma^2 - c_0^2)`` (Theory §2) and ``beta_0`` (Theory §4).
    Cached by (activation, gain); absolute error at most 1e-12.

    Parameters
    ----------
    activation : str or Activation
    gain : float
        Pre-activation gain.

    Returns
    -------
    Moments
    """
    act = resolve(activation)
    return _moments_cached(_remember(act), check.real("gain", gain))


def beta0(activation: ActivationSpec, gain: float = 1.0) -> float:
    """Non-linearity strength ``beta_0 = c_1^2 / (E sigma^2 - c_0^2)`` in ``[0, 1]``.

    Joudaki, Daneshmand and Bach (2023), section 4: 1 for linear activations, 0 when
    ``c_1 = 0`` (``he2``); relu 0.7335, tanh 0.9305. Also the slope ``kbar'(0)`` of the
    centered normalized kernel. Not to be confused with ``2 - beta_0``, which the
    authors' code labels "beta"; see :func:`contraction_factor`.

    Raises
    ------
    ValueError
        If ``sigma(gain z)`` is almost surely constant (zero variance).
    """
    m = moments(activation, gain)
    var = m.m2 - m.c0 * m.c0
    if not var > 1e-14 * max(m.m2, 1e-300):
        raise ValueError(
            f"beta0 is undefined: activation {resolve(activation).name!r} at gain {gain!r} is constant (zero variance)"
        )
    return min(1.0, m.c1 * m.c1 / var)


def contraction_factor(activation: ActivationSpec, gain: float = 1.0, *, norm: str = "layer") -> float:
    """Per-layer factor by which correlations approach their fixed point, for ``norm`` after the activation.

    ``norm="layer"`` (or ``"mf"``, the same map): ``1 / (2 - beta_0)``, the factor of the
    potential in ``gamma(G^l) <= gamma(G^0) (2 - beta_0)^(-l)`` (Joudaki, Daneshmand and Bach
    2023, the potential theorem; the fixed point is isometry); 1/2 for ``he2``, 1 (no
    contraction) for linear activations. ``norm="rms"``: the rate of the uncentered map
    ``kappa / E sigma^2`` towards *its* fixed point, which may be collapse or an interior
    point rather than isometry (:func:`isoinit.bounds.fixed_point` says which; Joudaki and
    Hofmann 2025). Batch normalization and no normalization have no such factor
    (:func:`isoinit.bounds.predict` explains, for any network).

    Raises
    ------
    ValueError
        For ``norm`` other than ``"layer"``, ``"mf"``, ``"rms"``.
    """
    check.choice("norm", norm, ("layer", "mf", "rms", "batch", "center", "none"))
    if norm == "rms":
        return fixed_point(activation, kernel="rms", gain=gain).rate
    if norm not in ("layer", "mf"):
        raise ValueError(
            f"norm must be one of layer, mf, rms for a contraction factor; got {norm!r}: batch normalization "
            "and blocks without scaling have no entrywise infinite-width map (see isoinit.bounds.predict)"
        )
    return 1.0 / (2.0 - beta0(activation, gain))


# --------------------------------------------------------------------------------------
# kernels: closed forms
# --------------------------------------------------------------------------------------


def _closed_kernel(act: Activation, a: _F, b: _F, r: _F, deriv: bool) -> _F | None:
    """``E[sigma(a u) sigma(b v)]`` (or its ``rho``-derivative), ``a, b >= 0``, corr ``r``."""
    if act.closed is None:
        return None
    return act.closed.kernel(a, b, r, deriv, _param(act))


# --------------------------------------------------------------------------------------
# kernels: polar quadrature and Chebyshev tables in theta
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
    ang_x, ang_w = (_ANG_X40, _ANG_W40) if off_zero else (_ANG_X, _ANG_W)  # (measured: 20 points leave 5e-10)
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


@dataclass(frozen=True)
class _Table:
    coef: _F  # Chebyshev coefficients of kappa(cos theta), x = 2 theta / pi - 1
    dcoef: _F  # Chebyshev coefficients of kappa'(cos theta)


_TABLE_TOL = 1e-14
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
def _table(key: tuple[Any, ...], s: float) -> _Table:
    act = _BY_KEY[key]
    m2 = _moments_cached(key, s).m2
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


def _table_eval(act: Activation, s: float, r: _F, deriv: bool) -> _F:
    tab = _table(_remember(act), s)
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


def _kernel(act: Activation, s: float, r: _F, deriv: bool) -> _F:
    s = abs(s)
    if s == 0.0 and not isinstance(act.closed, HermiteSeries):
        v = float(act.fn(np.zeros(1))[0])
        return np.full(r.shape, 0.0 if deriv else v * v)
    sa = np.asarray(s)
    closed = _closed_kernel(act, sa, sa, r, deriv)
    if closed is not None:
        return np.asarray(closed, dtype=np.float64)
    return _table_eval(act, s, r, deriv)


# --------------------------------------------------------------------------------------
# public kernel maps
# --------------------------------------------------------------------------------------


def dual_kernel(activation: ActivationSpec, rho: ArrayLike, *, gain: float = 1.0) -> _F:
    """Dual kernel ``kappa(rho) = E[sigma(gain u) sigma(gain v)]``, ``corr(u, v) = rho``.

    Mehler's formula gives ``kappa(rho) = sum_k c_k^2 rho^k`` (Joudaki, Daneshmand and Bach
    2023, section 4); it is the infinite-width map of one block without normalization for
    unit-variance inputs (the NNGP recursion). Closed forms where available (relu: the
    arc-cosine kernel ``(sqrt(1 - rho^2) + (pi - arccos rho) rho) / (2 pi)``), a cached
    Chebyshev table in ``arccos rho`` of kink-split 2-D quadrature otherwise; accurate on
    all of ``[-1, 1]``.

    Parameters
    ----------
    activation : str or Activation
    rho : array_like
        Correlations in ``[-1, 1]``, any shape.
    gain : float
        Pre-activation gain (the kernel depends on ``|gain|`` only).

    Returns
    -------
    ndarray, same shape as ``rho``
    """
    act = resolve(activation)
    return _kernel(act, check.real("gain", gain), _rho(rho), deriv=False)


def dual_kernel_derivative(activation: ActivationSpec, rho: ArrayLike, *, gain: float = 1.0) -> _F:
    """``kappa'(rho) = sum_k k c_k^2 rho^(k-1) = gain^2 E[sigma'(gain u) sigma'(gain v)]``.

    ``kappa'(1)`` decides collapse of uncentered kernels (Theory §5).
    ``+inf`` at ``rho = +-1`` for discontinuous activations (step, sign).
    """
    act = resolve(activation)
    return _kernel(act, check.real("gain", gain), _rho(rho), deriv=True)


def _variance(act: Activation, g: float) -> Moments:
    m = moments(act, g)
    if not m.m2 - m.c0 * m.c0 > 1e-14 * max(m.m2, 1e-300):
        raise ValueError(f"activation {act.name!r} at gain {g:g} is constant: the normalized kernel is undefined")
    return m


def centered_kernel(activation: ActivationSpec, rho: ArrayLike, *, gain: float = 1.0) -> _F:
    """Centered normalized kernel ``kbar(rho) = (kappa(rho) - c_0^2) / (E sigma^2 - c_0^2)``.

    The infinite-width map of every off-diagonal correlation under layer normalization (or
    ``mf`` centering and scaling) after the activation: ``rho' = kbar(rho)``, with
    ``kbar(0) = 0``, ``kbar(1) = 1`` and ``kbar'(0) = beta_0`` (Joudaki, Daneshmand and Bach
    2023, section 4 and the mean-field recursion of their appendix). Values are clipped to
    ``[-1, 1]``.
    """
    act = resolve(activation)
    g = check.real("gain", gain)
    m = _variance(act, g)
    k = _kernel(act, g, _rho(rho), deriv=False)
    return np.clip((k - m.c0 * m.c0) / (m.m2 - m.c0 * m.c0), -1.0, 1.0)


def centered_kernel_derivative(activation: ActivationSpec, rho: ArrayLike, *, gain: float = 1.0) -> _F:
    """``kbar'(rho) = kappa'(rho) / (E sigma^2 - c_0^2)``; ``kbar'(0) = beta_0``."""
    act = resolve(activation)
    g = check.real("gain", gain)
    m = _variance(act, g)
    return _kernel(act, g, _rho(rho), deriv=True) / (m.m2 - m.c0 * m.c0)


def rms_kernel(activation: ActivationSpec, rho: ArrayLike, *, gain: float = 1.0) -> _F:
    """RMS kernel ``kappa(rho) / E sigma^2``: RMS normalization after the activation.

    Uncentered, so ``kappa(0) > 0`` pulls correlations towards 1 (Theory §4
    and §5). Values are clipped to ``[-1, 1]``.
    """
    act = resolve(activation)
    g = check.real("gain", gain)
    m2 = moments(act, g).m2
    if not m2 > 0.0:
        raise ValueError(f"activation {act.name!r} at gain {g:g} has E sigma^2 = 0")
    return np.clip(_kernel(act, g, _rho(rho), deriv=False) / m2, -1.0, 1.0)


def rms_kernel_derivative(activation: ActivationSpec, rho: ArrayLike, *, gain: float = 1.0) -> _F:
    """Derivative ``kappa'(rho) / E sigma^2`` of :func:`rms_kernel`."""
    act = resolve(activation)
    g = check.real("gain", gain)
    m2 = moments(act, g).m2
    if not m2 > 0.0:
        raise ValueError(f"activation {act.name!r} at gain {g:g} has E sigma^2 = 0")
    return _kernel(act, g, _rho(rho), deriv=True) / m2


def nngp_kernel(activation: ActivationSpec, q_i: ArrayLike, q_j: ArrayLike, rho: ArrayLike) -> _F:
    """General NNGP step ``E[sigma(h_i) sigma(h_j)]`` for unequal variances.

    ``(h_i, h_j)`` is centered Gaussian with variances ``q_i``, ``q_j`` and correlation
    ``rho`` (Theory §4, the two-dimensional rule for a general pair; the
    infinite-width covariance of one block without normalization). Closed forms where
    available; otherwise the kink-split 2-D polar quadrature, through a cached table when
    ``q_i == q_j`` and directly (about 40k activation calls per distinct pair) when not.

    Parameters
    ----------
    activation : str or Activation
    q_i, q_j : array_like
        Variances ``>= 0``, broadcast against ``rho``.
    rho : array_like
        Correlations in ``[-1, 1]``.

    Returns
    -------
    ndarray, the broadcast shape
    """
    act = resolve(activation)
    qi = np.asarray(q_i, dtype=np.float64)
    qj = np.asarray(q_j, dtype=np.float64)
    for name, q in (("q_i", qi), ("q_j", qj)):
        if not np.all(np.isfinite(q)) or np.any(q < 0):
            raise ValueError(f"{name} must be finite and >= 0; got {q.ravel()[:3].tolist()}")
    r = _rho(rho)
    qi, qj, r = np.broadcast_arrays(qi, qj, r)
    a, b = np.sqrt(qi), np.sqrt(qj)
    closed = _closed_kernel(act, a, b, r, deriv=False)
    if closed is not None:
        return np.asarray(closed, dtype=np.float64)
    out = np.empty(r.shape)
    zero = (a == 0.0) | (b == 0.0)
    if np.any(zero):
        f0 = float(act.fn(np.zeros(1))[0])
        other = np.where(a == 0.0, b, a)
        out[zero] = [f0 * (f0 if s == 0.0 else moments(act, float(s)).c0) for s in other[zero]]
    pairs = np.stack([a[~zero], b[~zero]], axis=-1)
    rr = r[~zero]
    vals = np.empty(rr.shape)
    uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
    inv = inv.ravel()
    for p, (sa, sb) in enumerate(uniq):
        sel = inv == p
        if sa == sb:
            vals[sel] = _table_eval(act, float(sa), rr[sel], deriv=False)
        else:
            vals[sel] = _polar_kernel(act, float(sa), float(sb), np.arccos(rr[sel]))
    out[~zero] = vals
    return out


Kernel = Literal["centered", "rms"]


def fixed_point(activation: ActivationSpec, *, kernel: Kernel = "rms", gain: float = 1.0) -> FixedPoint:
    """Fixed point and rate of the normalized kernel of an activation.

    ``kernel="rms"``: ``kappa / E sigma^2`` (RMS normalization after the activation, the
    uncentered case of Joudaki and Hofmann 2025); ``"centered"``: ``kbar`` (layer
    normalization), whose fixed point is always ``rho* = 0`` at rate ``1 / (2 - beta_0)``.
    """
    if kernel == "rms":
        return kernel_fixed_point(
            lambda r: rms_kernel(activation, r, gain=gain),
            lambda r: rms_kernel_derivative(activation, r, gain=gain),
        )
    if kernel == "centered":
        return kernel_fixed_point(
            lambda r: centered_kernel(activation, r, gain=gain),
            lambda r: centered_kernel_derivative(activation, r, gain=gain),
        )
    raise ValueError(f"kernel must be one of centered, rms; got {kernel!r}")
