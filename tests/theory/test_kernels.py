"""Dual, centered and RMS kernels and the NNGP step: closed forms, series, Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest

from isoinit import activations
from isoinit.theory import hermite
from reference import user_copy
from tolerances import (
    FEW_ULPS,
    FINITE_DIFFERENCE_ABS,
    KERNEL_ABS,
    KERNEL_DERIV_EDGE,
    KERNEL_DERIV_INNER,
    MC_SAMPLES,
    MC_SIGMAS,
    MEHLER_ABS,
    SAME_FORMULA,
)

EDGE = 1.0 - np.logspace(-14, -1, 14)
RHO = np.concatenate([np.linspace(-1.0, 1.0, 401), EDGE, -EDGE])


def _has_closed_kernel(b: activations.Builtin) -> bool:
    return b.closed is not None and b.closed.has_kernel


# every built-in whose kernel comes from the tabulated 2-D quadrature, and celu off its default
GENERIC = [name for name, b in activations.BUILTIN.items() if not _has_closed_kernel(b)] + ["celu(0.5)"]


def _arccos_relu(rho: np.ndarray) -> np.ndarray:
    theta = np.arccos(rho)  # Cho and Saul (2009), degree 1
    return (np.sin(theta) + (math.pi - theta) * np.cos(theta)) / (2 * math.pi)


@pytest.mark.parametrize("gain", [0.5, 1.0, 3.0])
def test_relu_is_the_arccos_kernel(gain: float) -> None:
    np.testing.assert_allclose(
        hermite.dual_kernel("relu", RHO, gain=gain),
        gain**2 * _arccos_relu(RHO),
        rtol=0,
        atol=SAME_FORMULA * max(1, gain**2),
    )
    tab = hermite.dual_kernel(user_copy("relu"), RHO, gain=gain)
    np.testing.assert_allclose(tab, gain**2 * _arccos_relu(RHO), rtol=0, atol=KERNEL_ABS * max(1, gain**2))


# every built-in whose closed-form family has a kernel (gelu's family gives coefficients only)
_CLOSED_KERNELS = [
    name if b.param is None else f"{name}(0.2)" for name, b in activations.BUILTIN.items() if _has_closed_kernel(b)
]


# exp(2 x) grows too fast for the fixed radial rule (r <= 10), so exp is checked at gain <= 1 only
@pytest.mark.parametrize(
    ("spec", "gain"),
    [(s, g) for s in _CLOSED_KERNELS for g in (0.7, 1.0, 2.0) if not (s == "exp" and g > 1)],
)
def test_tabulated_kernel_matches_closed_form(spec: str, gain: float) -> None:
    scale = max(1.0, hermite.moments(spec, gain).m2)
    closed = hermite.dual_kernel(spec, RHO, gain=gain)
    tab = hermite.dual_kernel(user_copy(spec), RHO, gain=gain)
    np.testing.assert_allclose(tab, closed, rtol=0, atol=KERNEL_ABS * scale)
    if spec in ("step", "sign"):
        return  # kappa' is infinite at |rho| = 1
    inner = RHO[np.abs(RHO) <= 0.99]
    edge = RHO[(np.abs(RHO) > 0.99) & (np.abs(RHO) < 1)]
    for r, tol in ((inner, KERNEL_DERIV_INNER), (edge, KERNEL_DERIV_EDGE)):
        np.testing.assert_allclose(
            hermite.dual_kernel_derivative(user_copy(spec), r, gain=gain),
            hermite.dual_kernel_derivative(spec, r, gain=gain),
            rtol=0,
            atol=tol * scale,
        )


@pytest.mark.parametrize("spec", GENERIC)
def test_table_matches_mehler_series(spec: str) -> None:
    rho = np.linspace(-0.8, 0.8, 81)
    c = hermite.coefficients(spec, 200)
    series = np.polynomial.polynomial.polyval(rho, c**2)
    np.testing.assert_allclose(hermite.dual_kernel(spec, rho), series, rtol=0, atol=MEHLER_ABS)
    dseries = np.polynomial.polynomial.polyval(rho, np.arange(1, 201) * c[1:] ** 2)
    np.testing.assert_allclose(hermite.dual_kernel_derivative(spec, rho), dseries, rtol=0, atol=KERNEL_DERIV_INNER)


@pytest.mark.parametrize("spec", GENERIC)
def test_kernel_endpoints(spec: str) -> None:
    act = activations.resolve(spec)
    m = hermite.moments(spec)
    k = hermite.dual_kernel(spec, [1.0, -1.0])
    # E sigma(z) sigma(-z) by a fine composite Gauss-Legendre rule (panels of 0.25, edge at 0)
    x, wgl = np.polynomial.legendre.leggauss(64)
    edges = np.linspace(-14, 14, 113)
    mid, half = (edges[1:] + edges[:-1]) / 2, np.diff(edges) / 2
    z = (mid[:, None] + half[:, None] * x).ravel()
    wz = (half[:, None] * wgl).ravel()
    minus = float(np.sum(act(z) * act(-z) * np.exp(-z * z / 2) * wz))
    assert k[0] == pytest.approx(m.m2, abs=KERNEL_ABS)
    assert k[1] == pytest.approx(minus / math.sqrt(2 * math.pi), abs=KERNEL_ABS)
    kb = hermite.centered_kernel(spec, [0.0, 1.0])
    assert kb[0] == pytest.approx(0.0, abs=KERNEL_ABS) and kb[1] == pytest.approx(1, abs=KERNEL_ABS)
    assert float(hermite.centered_kernel_derivative(spec, 0.0)) == pytest.approx(
        hermite.beta0(spec), abs=KERNEL_DERIV_INNER
    )
    assert float(hermite.rms_kernel(spec, 1.0)) == pytest.approx(1.0, abs=KERNEL_ABS)


def test_derivative_matches_finite_differences() -> None:
    rho = np.linspace(-0.95, 0.95, 39)
    h = 1e-5
    for spec in ("tanh", "selu", "relu", "erf"):
        for fn, dfn in (
            (hermite.dual_kernel, hermite.dual_kernel_derivative),
            (hermite.centered_kernel, hermite.centered_kernel_derivative),
            (hermite.rms_kernel, hermite.rms_kernel_derivative),
        ):
            fd = (fn(spec, rho + h, gain=1.3) - fn(spec, rho - h, gain=1.3)) / (2 * h)
            np.testing.assert_allclose(dfn(spec, rho, gain=1.3), fd, rtol=0, atol=FINITE_DIFFERENCE_ABS)


# Monte Carlo: MC_SAMPLES pairs per value, tolerance MC_SIGMAS standard errors (false-failure
# rate ~2e-9 per checked value; 48 values here).
@pytest.mark.parametrize("spec", ["tanh", "relu", "selu", "gelu", "sin", "step"])
def test_kernel_matches_monte_carlo(spec: str) -> None:
    rng = np.random.default_rng(12345)
    act = activations.resolve(spec)
    u = rng.standard_normal(MC_SAMPLES)
    w = rng.standard_normal(MC_SAMPLES)
    for rho in (-0.9, -0.3, 0.5, 0.95):
        for gain in (1.0, 1.7):
            v = rho * u + math.sqrt(1 - rho * rho) * w
            prod = act(gain * u) * act(gain * v)
            se = prod.std() / math.sqrt(MC_SAMPLES)
            got = float(hermite.dual_kernel(spec, rho, gain=gain))
            assert abs(got - prod.mean()) <= MC_SIGMAS * se, (spec, rho, gain)


def test_nngp_kernel_unequal_variances() -> None:
    qi = np.array([0.5, 2.0, 1.0, 3.0])
    qj = np.array([1.5, 0.3, 1.0, 3.0])
    rho = np.array([0.3, -0.7, 0.999, 1.0])
    relu = hermite.nngp_kernel("relu", qi, qj, rho)
    np.testing.assert_allclose(relu, np.sqrt(qi * qj) * _arccos_relu(rho), atol=FEW_ULPS)
    np.testing.assert_allclose(hermite.nngp_kernel(user_copy("relu"), qi, qj, rho), relu, atol=KERNEL_ABS * 3)
    np.testing.assert_allclose(
        hermite.nngp_kernel(user_copy("erf"), qi, qj, rho),
        hermite.nngp_kernel("erf", qi, qj, rho),
        atol=KERNEL_ABS,
    )
    # equal variances go through the dual kernel at gain sqrt(q)
    assert hermite.nngp_kernel("tanh", 2.0, 2.0, 0.4) == pytest.approx(
        float(hermite.dual_kernel("tanh", 0.4, gain=math.sqrt(2.0))), abs=FEW_ULPS
    )
    # Monte Carlo for a generic activation (6 standard errors)
    rng = np.random.default_rng(7)
    u, w = rng.standard_normal((2, MC_SAMPLES))
    a, b, r = 0.6, 1.8, 0.4
    prod = np.tanh(a * u) * np.tanh(b * (r * u + math.sqrt(1 - r * r) * w))
    got = float(hermite.nngp_kernel("tanh", a * a, b * b, r))
    assert abs(got - prod.mean()) <= MC_SIGMAS * prod.std() / math.sqrt(MC_SAMPLES)


def test_hermite_activation_kernel_is_its_series() -> None:
    act = activations.from_hermite([0.2, 0.7, -0.4, 0.3])
    rho = np.linspace(-1, 1, 21)
    c = hermite.coefficients(act, 3, gain=1.4)
    np.testing.assert_allclose(
        hermite.dual_kernel(act, rho, gain=1.4),
        np.polynomial.polynomial.polyval(rho, c**2),
        atol=SAME_FORMULA,
    )


def test_shapes_and_bad_input() -> None:
    rho = np.linspace(-1, 1, 12).reshape(3, 4)
    for spec in ("relu", "tanh"):
        assert hermite.dual_kernel(spec, rho).shape == (3, 4)
        assert hermite.centered_kernel(spec, rho).shape == (3, 4)
    with pytest.raises(ValueError, match="rho"):
        hermite.dual_kernel("tanh", 1.5)
    with pytest.raises(ValueError, match="rho"):
        hermite.dual_kernel("tanh", float("nan"))
    with pytest.raises(ValueError, match="q_i"):
        hermite.nngp_kernel("tanh", -1.0, 1.0, 0.2)
    with pytest.raises(ValueError, match="constant"):
        hermite.centered_kernel("tanh", 0.3, gain=0.0)
