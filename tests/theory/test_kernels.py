"""Dual, centered and RMS kernels and the NNGP step: closed forms, series, Monte Carlo,
nested adaptive integration at variances from 1e-2 to 1e4."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from scipy import integrate

from isoinit import activations
from isoinit.theory import hermite
from reference import user_copy
from tolerances import (
    FEW_ULPS,
    FINITE_DIFFERENCE_ABS,
    GRADED_COST_RATIO,
    KERNEL_ABS,
    KERNEL_DERIV_EDGE,
    KERNEL_DERIV_INNER,
    MC_SAMPLES,
    MC_SIGMAS,
    MEHLER_ABS,
    NNGP_REL,
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


# --- the NNGP kernel at every scale ----------------------------------------------------------
# Up to a standard deviation of 3 the 2-D rule has uniform panels; beyond, activations that
# polynomials resolve on geometric panels get a graded rule (panels shrinking towards the
# origin and the lines u = 0, v = 0), whose cost grows like log(q). Both are checked against
# closed forms and against nested adaptive Gauss-Kronrod integration, relative to the scale
# sqrt(E sigma(h_i)^2 E sigma(h_j)^2) of the kernel, near rho = +-1 too.

RHO_SCALE = np.array([-1.0, -1 + 1e-12, -1 + 1e-7, -0.99, -0.5, 0.0, 0.3, 0.7, 0.99, 1 - 1e-7, 1 - 1e-12, 1.0])
VARIANCES = [
    (1e-2, 1.3e-2),
    (1.0, 1.3),
    (1e2, 1.3e2),
    (1e3, 1.3e3),
    (3e3, 3.9e3),
    (1e4, 1.3e4),
    (1e-2, 1e4),
    (1e4, 1e4),
]


def _gelu_nngp(qi: float, qj: float, rho: np.ndarray) -> np.ndarray:
    """``E[gelu(h_i) gelu(h_j)]`` in closed form: neural-tangents' ``stax.Gelu`` kernel (Novak et
    al. 2020) with ``c = rho sqrt(qi qj)``, ``d = sqrt((1 + qi)(1 + qj) - c^2)``; checked below."""
    c = rho * math.sqrt(qi * qj)
    p1 = (1.0 + qi) * (1.0 + qj)
    d = np.sqrt(p1 - c * c)
    return ((c * c + qi * qj * d * d) / (p1 * d) + c * np.arctan2(c, d)) / (2.0 * math.pi) + c / 4.0


def _scale(spec: str, qi: float, qj: float) -> float:
    return math.sqrt(hermite.moments(spec, math.sqrt(qi)).m2 * hermite.moments(spec, math.sqrt(qj)).m2)


def _nested_quad(f: Callable[[float], float], kinks: tuple[float, ...], qi: float, qj: float, rho: float) -> float:
    """``E[f(h_i) f(h_j)]`` by nested adaptive Gauss-Kronrod (QUADPACK) on ``|u|, |w| <= 12``.

    ``h_i = a u``, ``h_j = b (rho u + s w)`` with ``u, w`` independent standard normals; both
    integrals are broken where the argument of ``f`` crosses a kink or one of
    ``0, +-1/2, ..., +-16`` (where smooth activations bend), the outer one also where the
    inner one's breaks enter ``|w| <= 10``, so that it sees the bends of the smoothed ``f``.
    """
    a, b, s = math.sqrt(qi), math.sqrt(qj), math.sqrt(max(0.0, 1.0 - rho * rho))
    marks = sorted({0.0, *kinks, *(sign * 2.0**k for sign in (1.0, -1.0) for k in range(-1, 5))})
    opts = {"epsabs": 0.0, "epsrel": 1e-13, "limit": 400}

    def inside(xs: list[float]) -> list[float] | None:
        return sorted({x for x in xs if -12.0 < x < 12.0}) or None

    def inner(u: float) -> float:
        if s == 0.0:
            return f(b * rho * u)
        ws = inside([(x / b - rho * u) / s for x in marks])
        g = integrate.quad(lambda w: f(b * (rho * u + s * w)) * math.exp(-0.5 * w * w), -12.0, 12.0, points=ws, **opts)
        return g[0] / math.sqrt(2.0 * math.pi)

    us = [x / a for x in marks]
    if rho != 0.0:
        us += [(x / b - s * w) / rho for x in marks for w in (0.0, -1.0, 1.0, -3.0, 3.0, -6.0, 6.0, -10.0, 10.0)]
    with warnings.catch_warnings():  # QUADPACK warns when rounding keeps it from 1e-13
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        outer = integrate.quad(
            lambda u: f(a * u) * math.exp(-0.5 * u * u) * inner(u), -12.0, 12.0, points=inside(us), **opts
        )
    return outer[0] / math.sqrt(2.0 * math.pi)


def _gelu_scalar(x: float) -> float:
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_gelu_closed_form_kernel_is_right() -> None:
    # the diagonal is E gelu(a z)^2 of the 1-D closed form; off it, nested adaptive quadrature
    for q in (1e-2, 0.7, 5.0, 1e3):
        m2 = hermite.moments("gelu", math.sqrt(q)).m2
        assert _gelu_nngp(q, q, np.array(1.0)) == pytest.approx(m2, rel=SAME_FORMULA)
    for qi, qj, rho in ((0.5, 1.9, -0.7), (2.0, 0.3, 0.4), (0.04, 3.0, 0.95)):
        ref = _nested_quad(_gelu_scalar, (), qi, qj, rho)
        assert float(_gelu_nngp(qi, qj, np.array(rho))) == pytest.approx(ref, abs=NNGP_REL * _scale("gelu", qi, qj))


# a user copy has no closed form, so the package integrates it; the reference is the closed form
_CLOSED_REFERENCES = ["gelu", "erf", "relu", "abs", "leaky_relu(0.2)", "step", "sign"]


@pytest.mark.parametrize("spec", _CLOSED_REFERENCES)
@pytest.mark.parametrize(("qi", "qj"), VARIANCES)
def test_nngp_kernel_matches_closed_forms_at_every_scale(spec: str, qi: float, qj: float) -> None:
    if spec == "gelu":  # the built-in: closed-form moments, quadrature for the kernel
        got = hermite.nngp_kernel("gelu", qi, qj, RHO_SCALE)
        ref = _gelu_nngp(qi, qj, RHO_SCALE)
    else:
        got = hermite.nngp_kernel(user_copy(spec), qi, qj, RHO_SCALE)
        ref = hermite.nngp_kernel(spec, qi, qj, RHO_SCALE)
    np.testing.assert_allclose(got, ref, rtol=0, atol=NNGP_REL * _scale(spec, qi, qj))


@pytest.mark.parametrize(
    ("spec", "variances"), [("sin", [(0.3, 0.5), (4.0, 9.0), (30.0, 39.0)]), ("exp", [(1e-2, 0.1), (0.5, 1.3)])]
)
def test_nngp_kernel_of_callables_no_graded_rule_resolves(spec: str, variances: list[tuple[float, float]]) -> None:
    # sin oscillates at every scale and exp grows too fast: they keep the uniform panels
    for qi, qj in variances:
        got = hermite.nngp_kernel(user_copy(spec), qi, qj, RHO_SCALE)
        ref = hermite.nngp_kernel(spec, qi, qj, RHO_SCALE)
        np.testing.assert_allclose(got, ref, rtol=0, atol=NNGP_REL * _scale(spec, qi, qj))


def test_nngp_kernel_of_a_polynomial_reaches_far_enough() -> None:
    # E[h_i^3 h_j^3] = (qi qj)^(3/2) (9 rho + 6 rho^3) (Isserlis); x^3 r e^(-r^2/2) needs r > 10
    cube = activations.Activation(name="cube", base="cube", param=None, fn=lambda x: x**3, kinks=(), kernel_name=None)
    for qi, qj in ((2.0, 3.0), (100.0, 130.0), (1e4, 2e4)):
        got = hermite.nngp_kernel(cube, qi, qj, RHO_SCALE)
        ref = (qi * qj) ** 1.5 * (9.0 * RHO_SCALE + 6.0 * RHO_SCALE**3)
        np.testing.assert_allclose(got, ref, rtol=0, atol=NNGP_REL * 15.0 * (qi * qj) ** 1.5)


_SELU = activations.SELU_LAMBDA, activations.SELU_ALPHA
# a user callable with its bend off the origin, and one given by a table of values (np.interp,
# linear between the knots and constant beyond, the knots declared as kinks)
_KNOTS = (-2.0, -1.0, -0.25, 0.0, 0.5, 1.5, 3.0)
_KNOT_VALUES = (-0.3, -0.5, 0.1, 0.0, 0.6, 0.9, 1.4)
_SCALAR: dict[str, tuple[Callable[[float], float], Callable[[np.ndarray], np.ndarray], tuple[float, ...]]] = {
    "tanh": (math.tanh, np.tanh, ()),
    "elu": (lambda x: x if x > 0 else math.expm1(x), activations.resolve("elu").fn, (0.0,)),
    "celu(0.05)": (lambda x: x if x > 0 else 0.05 * math.expm1(x / 0.05), activations.resolve("celu(0.05)").fn, (0.0,)),
    "softplus": (lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x))), activations.resolve("softplus").fn, ()),
    "hardtanh": (lambda x: min(max(x, -1.0), 1.0), activations.resolve("hardtanh").fn, (-1.0, 1.0)),
    "softsign": (lambda x: x / (1.0 + abs(x)), activations.resolve("softsign").fn, (0.0,)),
    "shifted": (lambda x: math.tanh(x - 0.5) + 0.1 * x, lambda x: np.tanh(x - 0.5) + 0.1 * x, ()),
    "table": (
        lambda x: float(np.interp(x, _KNOTS, _KNOT_VALUES)),
        lambda x: np.interp(x, _KNOTS, _KNOT_VALUES),
        _KNOTS,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(_SCALAR))
def test_nngp_kernel_matches_nested_quadrature(name: str) -> None:
    scalar, fn, kinks = _SCALAR[name]
    act = activations.Activation(
        name=f"user_{name}", base=f"user_{name}", param=None, fn=fn, kinks=kinks, kernel_name=None
    )
    odd = name in ("tanh", "hardtanh", "softsign")  # kappa(-rho) = -kappa(rho): one sign suffices
    rhos = [0.3, 1 - 1e-7] if odd else [-1 + 1e-7, 0.3, 1 - 1e-7]
    for qi, qj in ((1e-2, 1.7e-2), (1.0, 1.7), (1e2, 1.7e2), (1e4, 1.7e4), (1e-2, 1e4)):
        got = hermite.nngp_kernel(act, qi, qj, rhos)
        ref = [_nested_quad(scalar, kinks, qi, qj, r) for r in rhos]
        scale = math.sqrt(hermite.moments(act, math.sqrt(qi)).m2 * hermite.moments(act, math.sqrt(qj)).m2)
        np.testing.assert_allclose(got, ref, rtol=0, atol=NNGP_REL * scale, err_msg=f"{name} at {qi}, {qj}")


def test_nngp_kernel_cost_grows_like_log_variance() -> None:
    sizes: list[int] = []

    def counted(x: np.ndarray) -> np.ndarray:
        sizes.append(x.size)
        return np.tanh(x)

    act = activations.Activation(name="counted", base="counted", param=None, fn=counted, kinks=(), kernel_name=None)
    spent = []
    for q in (1e2, 1e4):
        hermite.nngp_kernel(act, q, 1.3 * q, 0.7)  # the first call also tests the activation's shape
        sizes.clear()
        hermite.nngp_kernel(act, q, 1.3 * q, 0.7)
        spent.append(sum(sizes))
    assert spent[1] <= GRADED_COST_RATIO * spent[0]
