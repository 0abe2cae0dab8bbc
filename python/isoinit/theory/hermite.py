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
:data:`isoinit.activations.BUILTIN` names a family of ``isoinit.activations._closed_forms``
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
table accurate up to ``|rho| = 1``. Its panels are at most ``1 / s`` wide for standard
deviations up to ``s = 3``; beyond (and at every scale for structure finer than 2 or kinks
off the origin, such as celu(0.05) or hardtanh), for an activation that polynomials resolve
on geometric panels ``[y, 2.4 y]`` (every built-in without a closed-form kernel), they
shrink geometrically towards the origin and the sector boundaries instead, so the cost
grows like ``log s`` rather than ``s^2`` (``sin``-like callables keep uniform panels). Measured
accuracy: coefficients and moments within 1e-12 absolute of 30-digit integration for every
built-in activation and ``k <= 30``; tabulated kernels within 1e-12 of the closed forms on
all of ``[-1, 1]``; the NNGP kernel within 1e-12 of ``sqrt(E sigma(h_i)^2 E sigma(h_j)^2)``
of closed forms and nested adaptive integration for variances 1e-2 to 1e4 (tests).
The quadrature rules live in ``_quadrature.py``, the Chebyshev tables in ``_chebyshev.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _validate as check
from ..activations import BUILTIN, Activation, ActivationSpec, resolve
from ..activations._closed_forms import HermiteSeries
from ._chebyshev import _evaluate, _table
from ._fixed_points import FixedPoint, kernel_fixed_point
from ._quadrature import _BY_KEY, _Overflow, _polar_kernel, _quad_coefficients, _quad_m2, _remember

# the rule's pieces, which the tests check for convergence at high orders
from ._quadrature import _GL_W as _GL_W
from ._quadrature import _GL_X as _GL_X
from ._quadrature import _composite as _composite
from ._quadrature import _half_width as _half_width
from ._quadrature import _he_table as _he_table
from ._quadrature import _raw_rule as _raw_rule

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

#: Built-in activations (by ``Activation.base``) whose coefficients, moments and kernels have
#: closed forms (their record names a family of ``isoinit.activations._closed_forms``); ``heK`` and
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


# --------------------------------------------------------------------------------------
# closed forms
# --------------------------------------------------------------------------------------


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


def _closed_kernel(act: Activation, a: _F, b: _F, r: _F, deriv: bool) -> _F | None:
    """``E[sigma(a u) sigma(b v)]`` (or its ``rho``-derivative), ``a, b >= 0``, corr ``r``."""
    if act.closed is None:
        return None
    return act.closed.kernel(a, b, r, deriv, _param(act))


def _param(act: Activation) -> float:
    return 0.0 if act.param is None else float(act.param)


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

    Parameters
    ----------
    activation : str or Activation
    gain : float
        Pre-activation gain: ``beta_0`` of ``x -> sigma(gain x)``.

    Returns
    -------
    float
        ``beta_0``, in ``[0, 1]``.

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

    Parameters
    ----------
    activation : str or Activation
    gain : float
        Pre-activation gain.
    norm : {"layer", "mf", "rms"}
        The normalization after the activation.

    Returns
    -------
    float

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
# kernels: closed forms or a Chebyshev table
# --------------------------------------------------------------------------------------


def _table_eval(act: Activation, s: float, r: _F, deriv: bool) -> _F:
    key = _remember(act)
    return _evaluate(_table(key, s, _moments_cached(key, s).m2), r, deriv)


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
        The activation, by spec or record (:func:`isoinit.activations.resolve`).
    rho : array_like
        Correlations in ``[-1, 1]``, any shape.
    gain : float
        Pre-activation gain (the kernel depends on ``|gain|`` only).

    Returns
    -------
    ndarray
        The same shape as ``rho``.
    """
    act = resolve(activation)
    return _kernel(act, check.real("gain", gain), _rho(rho), deriv=False)


def dual_kernel_derivative(activation: ActivationSpec, rho: ArrayLike, *, gain: float = 1.0) -> _F:
    """``kappa'(rho) = sum_k k c_k^2 rho^(k-1) = gain^2 E[sigma'(gain u) sigma'(gain v)]``.

    ``kappa'(1)`` decides collapse of uncentered kernels (Theory §5).
    ``+inf`` at ``rho = +-1`` for discontinuous activations (step, sign).

    Parameters
    ----------
    activation : str or Activation
        The activation, by spec or record (:func:`isoinit.activations.resolve`).
    rho : array_like
        Correlations in ``[-1, 1]``, any shape.
    gain : float
        Pre-activation gain (the kernel depends on ``|gain|`` only).

    Returns
    -------
    ndarray
        The same shape as ``rho``.
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

    Parameters
    ----------
    activation : str or Activation
        The activation, by spec or record (:func:`isoinit.activations.resolve`).
    rho : array_like
        Correlations in ``[-1, 1]``, any shape.
    gain : float
        Pre-activation gain (the kernel depends on ``|gain|`` only).

    Returns
    -------
    ndarray
        The same shape as ``rho``.

    Raises
    ------
    ValueError
        If ``sigma(gain z)`` is constant (the kernel is undefined).
    """
    act = resolve(activation)
    g = check.real("gain", gain)
    m = _variance(act, g)
    k = _kernel(act, g, _rho(rho), deriv=False)
    return np.clip((k - m.c0 * m.c0) / (m.m2 - m.c0 * m.c0), -1.0, 1.0)


def centered_kernel_derivative(activation: ActivationSpec, rho: ArrayLike, *, gain: float = 1.0) -> _F:
    """``kbar'(rho) = kappa'(rho) / (E sigma^2 - c_0^2)``; ``kbar'(0) = beta_0``.

    Parameters
    ----------
    activation : str or Activation
        The activation, by spec or record (:func:`isoinit.activations.resolve`).
    rho : array_like
        Correlations in ``[-1, 1]``, any shape.
    gain : float
        Pre-activation gain (the kernel depends on ``|gain|`` only).

    Returns
    -------
    ndarray
        The same shape as ``rho``.
    """
    act = resolve(activation)
    g = check.real("gain", gain)
    m = _variance(act, g)
    return _kernel(act, g, _rho(rho), deriv=True) / (m.m2 - m.c0 * m.c0)


def rms_kernel(activation: ActivationSpec, rho: ArrayLike, *, gain: float = 1.0) -> _F:
    """RMS kernel ``kappa(rho) / E sigma^2``: RMS normalization after the activation.

    Uncentered, so ``kappa(0) > 0`` pulls correlations towards 1 (Theory §4
    and §5). Values are clipped to ``[-1, 1]``.

    Parameters
    ----------
    activation : str or Activation
        The activation, by spec or record (:func:`isoinit.activations.resolve`).
    rho : array_like
        Correlations in ``[-1, 1]``, any shape.
    gain : float
        Pre-activation gain (the kernel depends on ``|gain|`` only).

    Returns
    -------
    ndarray
        The same shape as ``rho``.

    Raises
    ------
    ValueError
        If ``E sigma(gain z)^2 = 0``.
    """
    act = resolve(activation)
    g = check.real("gain", gain)
    m2 = moments(act, g).m2
    if not m2 > 0.0:
        raise ValueError(f"activation {act.name!r} at gain {g:g} has E sigma^2 = 0")
    return np.clip(_kernel(act, g, _rho(rho), deriv=False) / m2, -1.0, 1.0)


def rms_kernel_derivative(activation: ActivationSpec, rho: ArrayLike, *, gain: float = 1.0) -> _F:
    """Derivative ``kappa'(rho) / E sigma^2`` of :func:`rms_kernel`.

    Parameters
    ----------
    activation : str or Activation
        The activation, by spec or record (:func:`isoinit.activations.resolve`).
    rho : array_like
        Correlations in ``[-1, 1]``, any shape.
    gain : float
        Pre-activation gain (the kernel depends on ``|gain|`` only).

    Returns
    -------
    ndarray
        The same shape as ``rho``.
    """
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
    ``q_i == q_j`` and directly when not: 2e4 to 5e4 activation values per distinct pair
    up to ``max(q_i, q_j) = 9``, and beyond, graded towards the origin, 1.4e5 at 10, 3.3e5
    at 1e3, 4.2e5 at 1e4 (growing like ``log q``; ``sin``-like callables, which no graded
    rule resolves, keep uniform panels whose count grows like ``q``).

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

    Parameters
    ----------
    activation : str or Activation
    kernel : {"rms", "centered"}
    gain : float
        Pre-activation gain.

    Returns
    -------
    FixedPoint

    Raises
    ------
    ValueError
        For another ``kernel``.
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
