"""Closed forms of the Gaussian integrals of an activation, by family.

An activation record of :mod:`isoinit.activations` names the family that gives its
closed forms, with the numbers that place it in the family (``relu`` is the
positively homogeneous ``0 x + 1 relu(x)``, ``sign`` the step-like ``-1 + 2 step(x)``).
:mod:`isoinit.hermite` asks the family, through three methods, for

* ``coefficients(k_max, g, a)``: normalized Hermite coefficients ``c_0..c_kmax`` of
  ``x -> sigma(g x)`` (``a`` is the activation's parameter, 0 if it has none);
* ``moments(g, a)``: ``(c_0, c_1, E sigma(g z)^2)``;
* ``kernel(s, t, r, deriv, a)``: ``E[sigma(s u) sigma(t v)]`` for standard normals of
  correlation ``r`` and scales ``s, t >= 0`` (its ``r``-derivative with ``deriv``), or
  ``None`` where the family has no closed-form kernel.

Activations without a family (``closed=None``) use the quadrature of
:mod:`isoinit.hermite`. Every closed form is tested against that quadrature and against
30-digit integration (``tests/theory/test_hermite.py``, ``tests/theory/test_kernels.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ClosedForm",
    "Erf",
    "Exponential",
    "Gelu",
    "HermiteSeries",
    "Homogeneous",
    "StepLike",
    "arccos_kernel",
    "rescale_hermite",
]

_F = NDArray[np.float64]
_SQRT2PI = math.sqrt(2.0 * math.pi)
_PHI0 = 1.0 / _SQRT2PI


# --------------------------------------------------------------------------------------
# shared pieces
# --------------------------------------------------------------------------------------


def _he0_over_fact(m: int, k: int) -> float:
    """``He_m(0) / sqrt(k!)`` computed in logs (no overflow for large ``k``)."""
    if m < 0 or m % 2:
        return 0.0
    log = math.lgamma(m + 1) - (m // 2) * math.log(2.0) - math.lgamma(m // 2 + 1)
    return (-1.0) ** (m // 2) * math.exp(log - 0.5 * math.lgamma(k + 1))


def _phi_he_moment(a: float, k: int, norm_k: int) -> float:
    """``E[Phi(a z) He_k(z)] / sqrt(norm_k!)`` for ``z ~ N(0,1)`` (Stein's lemma).

    ``T_0 = 1/2``; ``T_k = 0`` for even ``k >= 2``; for odd ``k``,
    ``T_k = a^k (-1)^((k-1)/2) (k-2)!! / (sqrt(2 pi) (1 + a^2)^(k/2))``."""
    if k == 0:
        return 0.5 / math.exp(0.5 * math.lgamma(norm_k + 1))
    if k % 2 == 0 or a == 0.0:
        return 0.0
    m = k - 1  # even; (m - 1)!! = (k - 2)!!
    log_dfact = math.lgamma(m + 1) - (m // 2) * math.log(2.0) - math.lgamma(m // 2 + 1)
    log = k * math.log(abs(a)) + log_dfact - 0.5 * k * math.log1p(a * a) - 0.5 * math.lgamma(norm_k + 1)
    sign = (1.0 if a > 0 else -1.0) * (-1.0) ** (m // 2)
    return sign * math.exp(log) / _SQRT2PI


def rescale_hermite(c: _F, g: float) -> _F:
    """Coefficients of ``x -> sum_n c_n he_n(g x)`` in the basis ``he_m``.

    Uses ``he_n(g x) = sum_i g^(n-2i) ((g^2-1)/2)^i sqrt(n!/(n-2i)!) / i! he_(n-2i)(x)``."""
    out = np.zeros_like(c)
    t = (g * g - 1.0) / 2.0
    for n, cn in enumerate(c):
        if cn == 0.0:
            continue
        for i in range(n // 2 + 1):
            m = n - 2 * i
            log_ratio = 0.5 * (math.lgamma(n + 1) - math.lgamma(m + 1)) - math.lgamma(i + 1)
            out[m] += cn * g**m * t**i * math.exp(log_ratio)
    return out


def arccos_kernel(r: _F) -> _F:
    """Arc-cosine kernel of degree 1 (Cho and Saul 2009) for relu: ``E relu(u) relu(v)``."""
    return (np.sqrt(np.maximum(1.0 - r * r, 0.0)) + (math.pi - np.arccos(r)) * r) / (2.0 * math.pi)


def _arccos_kernel_d(r: _F) -> _F:
    return (math.pi - np.arccos(r)) / (2.0 * math.pi)


def _power_series(coef: _F, r: _F) -> _F:
    """``sum_k coef[..., k] r^k`` by Horner (coefficients may vary per element)."""
    out = np.zeros(r.shape)
    for k in range(coef.shape[-1] - 1, -1, -1):
        out = out * r + coef[..., k]
    return out


def _sign_flips(k_max: int, g: float) -> _F:
    """``(-1)^k`` for a negative gain (``sigma(g x)`` with ``g < 0`` flips the odd terms)."""
    return np.array([(-1.0) ** k if g < 0 else 1.0 for k in range(k_max + 1)])


# --------------------------------------------------------------------------------------
# families
# --------------------------------------------------------------------------------------


class ClosedForm:
    """The interface of a closed-form family (see the module docstring)."""

    #: Whether :meth:`kernel` gives a closed form (else the kernel is tabulated by quadrature).
    has_kernel: bool = True

    def coefficients(self, k_max: int, g: float, a: float) -> _F:
        raise NotImplementedError

    def moments(self, g: float, a: float) -> tuple[float, float, float]:
        raise NotImplementedError

    def kernel(self, s: _F, t: _F, r: _F, deriv: bool, a: float) -> _F | None:
        return None


@dataclass(frozen=True)
class Homogeneous(ClosedForm):
    """``sigma(x) = p x + q relu(x)``, positively homogeneous, kink at 0.

    ``weights(a) -> (p, q)`` places the activation in the family, ``m2(a)`` is
    ``E sigma(z)^2 = p^2 + p q + q^2 / 2`` written as the activation's own closed form,
    ``kernel_weights(a) -> (p^2 + p q, q^2)`` the weights of ``rho`` and of the arc-cosine
    kernel in ``E sigma(u) sigma(v)``.
    """

    weights: Callable[[float], tuple[float, float]]
    m2: Callable[[float], float]
    kernel_weights: Callable[[float], tuple[float, float]]

    def coefficients(self, k_max: int, g: float, a: float) -> _F:
        c = np.zeros(k_max + 1)
        if g == 0.0:
            return c
        ks = range(k_max + 1)
        relu = np.array([_PHI0 if k == 0 else 0.5 if k == 1 else _PHI0 * _he0_over_fact(k - 2, k) for k in ks])
        lin = np.zeros(k_max + 1)
        if k_max >= 1:
            lin[1] = 1.0
        p, q = self.weights(a)
        c = p * lin + q * relu
        return abs(g) * c * _sign_flips(k_max, g)

    def moments(self, g: float, a: float) -> tuple[float, float, float]:
        c = self.coefficients(1, g, a)
        m2 = 0.0 if g == 0.0 else self.m2(a) * (g * g)
        return float(c[0]), float(c[1]), m2

    def kernel(self, s: _F, t: _F, r: _F, deriv: bool, a: float) -> _F:
        k1 = _arccos_kernel_d(r) if deriv else arccos_kernel(r)
        lin = np.ones_like(r) if deriv else r
        w_lin, w_relu = self.kernel_weights(a)
        return s * t * (w_lin * lin + w_relu * k1)


@dataclass(frozen=True)
class StepLike(ClosedForm):
    """``sigma(x) = p + q 1{x > 0}`` for ``x != 0`` (and ``sigma(0) = 0``): step, sign."""

    p: float
    q: float

    def coefficients(self, k_max: int, g: float, a: float) -> _F:
        c = np.zeros(k_max + 1)
        if g == 0.0:
            return c
        # E[1{z>0} He_k] = phi(0) He_(k-1)(0) for k >= 1 (scale invariant).
        step = np.array([0.5 if k == 0 else _PHI0 * _he0_over_fact(k - 1, k) for k in range(k_max + 1)])
        c = self.q * step
        c[0] += self.p
        return c * _sign_flips(k_max, g)

    def moments(self, g: float, a: float) -> tuple[float, float, float]:
        c = self.coefficients(1, g, a)
        m2 = 0.0 if g == 0.0 else self.p * self.p + (2.0 * self.p * self.q + self.q * self.q) / 2.0
        return float(c[0]), float(c[1]), m2

    def kernel(self, s: _F, t: _F, r: _F, deriv: bool, a: float) -> _F:
        # E[(p + q 1{u>0})(p + q 1{v>0})] = p^2 + p q + q^2 (1/4 + asin(r) / (2 pi))
        scale = self.q * self.q / (2.0 * math.pi)
        pos = (s > 0) & (t > 0)
        if deriv:
            with np.errstate(divide="ignore"):
                val = scale / np.sqrt(np.maximum(1.0 - r * r, 0.0))
        else:
            val = scale * np.arcsin(r) + (self.p * self.p + self.p * self.q + self.q * self.q / 4.0)
        return np.where(pos, val, 0.0)


@dataclass(frozen=True)
class Exponential(ClosedForm):
    """``exp(x)``, ``sin(x)``, ``cos(x)``: ``E[e^(t z) He_k(z)] = t^k e^(t^2/2)`` with
    ``t = g`` (exp) or ``t = i g`` (sin, cos)."""

    kind: Literal["exp", "sin", "cos"]

    def coefficients(self, k_max: int, g: float, a: float) -> _F:
        c = np.zeros(k_max + 1)
        for k in range(k_max + 1):
            mag = math.exp(k * math.log(abs(g)) - 0.5 * math.lgamma(k + 1)) if g else float(k == 0)
            sign_k = (1.0 if g >= 0 else -1.0) ** k
            if self.kind == "exp":
                c[k] = sign_k * mag * math.exp(0.5 * g * g)
            else:
                re_i = (1.0, 0.0, -1.0, 0.0)[k % 4]  # Re(i^k)
                im_i = (0.0, 1.0, 0.0, -1.0)[k % 4]  # Im(i^k)
                c[k] = sign_k * mag * math.exp(-0.5 * g * g) * (im_i if self.kind == "sin" else re_i)
        return c

    def moments(self, g: float, a: float) -> tuple[float, float, float]:
        c = self.coefficients(1, g, a)
        g2 = g * g
        if self.kind == "exp":
            m2 = math.exp(2.0 * g2)
        elif self.kind == "sin":
            m2 = -0.5 * math.expm1(-2.0 * g2)
        else:
            m2 = 0.5 * (1.0 + math.exp(-2.0 * g2))
        return float(c[0]), float(c[1]), m2

    def kernel(self, s: _F, t: _F, r: _F, deriv: bool, a: float) -> _F:
        st = s * t
        if self.kind == "exp":
            e = np.exp(0.5 * (s * s + t * t) + st * r)
            return st * e if deriv else e
        damp = np.exp(-0.5 * (s * s + t * t))
        sinh, cosh = np.sinh(st * r), np.cosh(st * r)
        if self.kind == "sin":
            return damp * (st * cosh if deriv else sinh)
        return damp * (st * sinh if deriv else cosh)


@dataclass(frozen=True)
class Erf(ClosedForm):
    """``erf(x) = 2 Phi(sqrt(2) x) - 1``; ``E erf(a z) erf(b z) = (2/pi) asin(2ab / sqrt((1+2a^2)(1+2b^2)))``."""

    def coefficients(self, k_max: int, g: float, a: float) -> _F:
        c = np.zeros(k_max + 1)
        s = math.sqrt(2.0) * g
        for k in range(k_max + 1):
            c[k] = 0.0 if k == 0 else 2.0 * _phi_he_moment(s, k, k)
        return c

    def moments(self, g: float, a: float) -> tuple[float, float, float]:
        c = self.coefficients(1, g, a)
        g2 = g * g
        m2 = 2.0 / math.pi * math.asin(2.0 * g2 / (1.0 + 2.0 * g2))
        return float(c[0]), float(c[1]), m2

    def kernel(self, s: _F, t: _F, r: _F, deriv: bool, a: float) -> _F:
        c = 2.0 * (s * t) / np.sqrt((1.0 + 2.0 * s * s) * (1.0 + 2.0 * t * t))
        if deriv:
            return 2.0 / math.pi * c / np.sqrt(np.maximum(1.0 - (c * r) ** 2, 0.0))
        return 2.0 / math.pi * np.arcsin(c * r)


@dataclass(frozen=True)
class Gelu(ClosedForm):
    """``x Phi(x)``: ``E[z Phi(g z) He_k] = T_(k+1) + k T_(k-1)``; no closed-form kernel here."""

    has_kernel = False

    def coefficients(self, k_max: int, g: float, a: float) -> _F:
        c = np.zeros(k_max + 1)
        for k in range(k_max + 1):
            low = k * _phi_he_moment(g, k - 1, k) if k >= 1 else 0.0
            c[k] = g * (_phi_he_moment(g, k + 1, k) + low)
        return c

    def moments(self, g: float, a: float) -> tuple[float, float, float]:
        c = self.coefficients(1, g, a)
        g2 = g * g
        m2 = g2 * (
            0.25
            + math.asin(g2 / (1.0 + g2)) / (2.0 * math.pi)
            + g2 / (math.pi * (1.0 + g2) * math.sqrt(1.0 + 2.0 * g2))
        )
        return float(c[0]), float(c[1]), m2


@dataclass(frozen=True)
class HermiteSeries(ClosedForm):
    """``sigma(x) = sum_k h_k he_k(x)``: the polynomials ``He_K`` and activations defined by
    their normalized Hermite coefficients. Everything is exact (Mehler's formula)."""

    h: tuple[float, ...]

    def coefficients(self, k_max: int, g: float, a: float) -> _F:
        c = np.zeros(k_max + 1)
        full = rescale_hermite(np.asarray(self.h, dtype=np.float64), g)
        n = min(k_max + 1, full.size)
        c[:n] = full[:n]
        return c

    def moments(self, g: float, a: float) -> tuple[float, float, float]:
        h = rescale_hermite(np.asarray(self.h, dtype=np.float64), g)
        h = np.concatenate([h, [0.0, 0.0]])
        return float(h[0]), float(h[1]), float(np.sum(h * h))

    def kernel(self, s: _F, t: _F, r: _F, deriv: bool, a: float) -> _F:
        h = np.asarray(self.h, dtype=np.float64)
        out = np.zeros(np.broadcast(s, t, r).shape)
        us, us_inv = np.unique(np.broadcast_to(s, out.shape), return_inverse=True)
        ut, ut_inv = np.unique(np.broadcast_to(t, out.shape), return_inverse=True)
        cs = np.array([rescale_hermite(h, float(v)) for v in us])[us_inv.reshape(out.shape)]
        ct = np.array([rescale_hermite(h, float(v)) for v in ut])[ut_inv.reshape(out.shape)]
        prod = cs * ct  # (..., K)
        rb = np.broadcast_to(r, out.shape)
        if deriv:
            ks = np.arange(prod.shape[-1], dtype=np.float64)
            return np.asarray(_power_series(prod[..., 1:] * ks[1:], rb))
        return np.asarray(_power_series(prod, rb))
