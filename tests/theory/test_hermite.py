"""Hermite coefficients, moments and beta0 against 30-digit integration (mpmath)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache

import mpmath as mp
import numpy as np
import pytest

import isoinit
from isoinit import activations
from isoinit.theory import hermite
from reference import user_copy
from tolerances import (
    BETA0_LARGE_GAIN_ABS,
    BETA0_REF,
    COEF_ABS,
    FEW_ULPS,
    HERMITE_REL,
    PARSEVAL_KINKED,
    PARSEVAL_SMOOTH,
    QUAD_REFINE_ABS,
    QUADRATURE_REL,
    ROUNDING,
    SAME_FORMULA,
)

K_MAX = 30
_MP_DPS = 30


def _mp_elu(x: mp.mpf, a: float) -> mp.mpf:
    return x if x > 0 else a * mp.expm1(x)


# Independent high-precision definitions of every built-in activation.
_MP = {
    "identity": lambda x, a: x,
    "relu": lambda x, a: max(x, 0),
    "leaky_relu": lambda x, a: x if x >= 0 else a * x,
    "tanh": lambda x, a: mp.tanh(x),
    "sigmoid": lambda x, a: 1 / (1 + mp.exp(-x)),
    "sin": lambda x, a: mp.sin(x),
    "cos": lambda x, a: mp.cos(x),
    "exp": lambda x, a: mp.exp(x),
    "erf": lambda x, a: mp.erf(x),
    "gelu": lambda x, a: x * (1 + mp.erf(x / mp.sqrt(2))) / 2,
    "gelu_tanh": lambda x, a: x * (1 + mp.tanh(mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x**3))) / 2,
    "silu": lambda x, a: x / (1 + mp.exp(-x)),
    "quick_gelu": lambda x, a: x / (1 + mp.exp(-mp.mpf("1.702") * x)),
    "selu": lambda x, a: mp.mpf(activations.SELU_LAMBDA) * _mp_elu(x, activations.SELU_ALPHA),
    "elu": lambda x, a: _mp_elu(x, a),
    "celu": lambda x, a: max(x, 0) + min(0, a * mp.expm1(x / a)),
    "softplus": lambda x, a: mp.log1p(mp.exp(x)),
    "step": lambda x, a: mp.mpf(1) if x > 0 else mp.mpf(0),
    "sign": lambda x, a: mp.sign(x),
    "abs": lambda x, a: abs(x),
    "softsign": lambda x, a: x / (1 + abs(x)),
    "hardtanh": lambda x, a: min(max(x, -1), 1),
    "mish": lambda x, a: x * mp.tanh(mp.log1p(mp.exp(x))),
}
# every built-in (at its default parameter), plus other parameters where there is one
SPECS = [*activations.BUILTIN, "leaky_relu(0.2)", "elu(0.5)", "celu(2)"]


def test_every_builtin_has_a_reference() -> None:
    assert set(_MP) == set(activations.BUILTIN)


@lru_cache(maxsize=8)
def _mp_rule(gain: float) -> tuple[list[mp.mpf], np.ndarray, np.ndarray]:
    """Composite 24-point Gauss-Legendre rule on [-16, 16] computed in 30 digits, panels of
    width 0.5/max(1, gain) with edges at 0 and at +-1/gain (the kinks of the built-ins at the
    gains tested: 0 for most, +-1 for hardtanh): nodes (mp),
    and in extended precision the weights times phi(z) and the table he_k(z), k <= 30."""
    with mp.workdps(_MP_DPS):
        base = mp.calculus.quadrature.GaussLegendre(mp.mp).calc_nodes(4, mp.mp.prec)
        width = mp.mpf(1) / 2 / max(1, mp.mpf(gain))
        panels = int(mp.ceil(16 / width))
        nodes, weights = [], []
        for side in (-1, 1):
            for p in range(panels):
                lo, hi = side * p * width, side * (p + 1) * width
                mid, half = (lo + hi) / 2, abs(hi - lo) / 2
                for x, w in base:
                    nodes.append(mid + half * x)
                    weights.append(half * w * mp.npdf(mid + half * x))
        roots = [mp.sqrt(k) for k in range(K_MAX + 2)]
        table = np.empty((K_MAX + 1, len(nodes)), dtype=np.longdouble)
        for i, z in enumerate(nodes):
            h_prev, h = mp.mpf(1), z
            table[0, i], table[1, i] = 1, np.longdouble(mp.nstr(z, 25))
            for k in range(1, K_MAX):
                h_prev, h = h, (z * h - roots[k] * h_prev) / roots[k + 1]
                table[k + 1, i] = np.longdouble(mp.nstr(h, 25))
        w = np.array([np.longdouble(mp.nstr(v, 25)) for v in weights])
        return nodes, w, table


@lru_cache(maxsize=256)
def _mp_reference(spec: str, gain: float) -> tuple[np.ndarray, float]:
    """(c_0..c_30, E sigma(gain z)^2): activation values in 30 digits, sums in extended
    precision (relative rounding 1e-19 per term)."""
    act = activations.resolve(spec)
    if act.base.startswith("he"):
        kk = int(act.base[2:])

        def fn(x: mp.mpf, a: float) -> mp.mpf:
            h0, h1 = mp.mpf(1), x
            if kk == 0:
                return h0
            for j in range(1, kk):
                h0, h1 = h1, x * h1 - j * h0
            return h1
    else:
        fn = _MP[act.base]
    param = act.param if act.param is not None else 0.0
    with mp.workdps(_MP_DPS):
        nodes, w, table = _mp_rule(gain)
        g = mp.mpf(gain)
        f = np.array([np.longdouble(mp.nstr(fn(g * z, param), 25)) for z in nodes])
    fw = f * w
    return np.asarray(table @ fw, dtype=np.float64), float(np.dot(f, fw))


def test_mp_reference_matches_adaptive_mpmath_quad() -> None:
    # the fixed reference rule itself agrees with mpmath's adaptive tanh-sinh quadrature
    ref, _ = _mp_reference("tanh", 1.0)
    with mp.workdps(20):
        he5 = lambda z: (z**5 - 10 * z**3 + 15 * z) / mp.sqrt(120)  # noqa: E731
        direct = mp.quad(lambda z: mp.tanh(z) * he5(z) * mp.npdf(z), [-mp.inf, 0, mp.inf])
    assert abs(ref[5] - float(direct)) < FEW_ULPS


@pytest.mark.parametrize("gain", [1.0, 2.5])
@pytest.mark.parametrize("spec", SPECS)
def test_coefficients_match_mpmath(spec: str, gain: float) -> None:
    ref, _ = _mp_reference(spec, gain)
    got = hermite.coefficients(spec, K_MAX, gain=gain)
    assert got.shape == (K_MAX + 1,)
    np.testing.assert_allclose(got, ref, rtol=0, atol=COEF_ABS)


@pytest.mark.parametrize("gain", [0.5, 1.0, 2.5])
@pytest.mark.parametrize("spec", SPECS)
def test_moments_match_mpmath(spec: str, gain: float) -> None:
    ref, m2 = _mp_reference(spec, gain)
    m = hermite.moments(spec, gain=gain)
    assert abs(m.c0 - ref[0]) <= COEF_ABS
    assert abs(m.c1 - ref[1]) <= COEF_ABS
    assert abs(m.m2 - m2) <= COEF_ABS * max(1.0, m2)
    assert m.variance == pytest.approx(m2 - ref[0] ** 2, abs=2 * COEF_ABS * max(1.0, m2))


@pytest.mark.parametrize("k", [1, 2, 3, 7, 12, 20, 30])
@pytest.mark.parametrize("gain", [1.0, 0.7])
def test_hermite_polynomials_match_mpmath(k: int, gain: float) -> None:
    spec = f"he{k}"
    ref, m2 = _mp_reference(spec, gain)
    scale = math.sqrt(m2)
    got = hermite.coefficients(spec, K_MAX, gain=gain)
    np.testing.assert_allclose(got, ref, rtol=0, atol=HERMITE_REL * scale)
    assert abs(hermite.moments(spec, gain).m2 - m2) <= HERMITE_REL * m2
    if gain == 1.0:
        expected = np.zeros(K_MAX + 1)
        expected[k] = math.sqrt(math.factorial(k))  # he_K is He_K / sqrt(K!)
        np.testing.assert_array_equal(got, expected)


def test_every_builtin_hermite_order_resolves() -> None:
    for k in range(1, activations.HE_MAX + 1):
        c = hermite.coefficients(f"he{k}", K_MAX)
        assert np.count_nonzero(c) == 1 and c[k] > 0


_SMOOTH = [name for name, b in activations.BUILTIN.items() if not b.kinks]
_DISCONTINUOUS = {"step", "sign"}  # their coefficients decay too slowly for a Parseval check
_KINKED = [name for name, b in activations.BUILTIN.items() if b.kinks and name not in _DISCONTINUOUS]


@pytest.mark.parametrize("spec", _SMOOTH)
def test_parseval_smooth(spec: str) -> None:
    c = hermite.coefficients(spec, 120)
    assert np.sum(c**2) == pytest.approx(hermite.moments(spec).m2, abs=PARSEVAL_SMOOTH)


@pytest.mark.parametrize("spec", [*_KINKED, "leaky_relu(0.2)"])
def test_parseval_kinked(spec: str) -> None:
    c = hermite.coefficients(spec, 400)
    m2 = hermite.moments(spec).m2
    assert 0 <= m2 - np.sum(c**2) <= PARSEVAL_KINKED


# every built-in whose record names a closed-form family (at a non-default parameter if any)
_CLOSED = [
    name if b.param is None else f"{name}(0.3)" for name, b in activations.BUILTIN.items() if b.closed is not None
]


@pytest.mark.parametrize("gain", [0.6, 1.0, 2.0])
@pytest.mark.parametrize("spec", _CLOSED)
def test_closed_forms_match_quadrature(spec: str, gain: float) -> None:
    act = activations.resolve(spec)
    user = user_copy(spec)  # the same function as a user activation goes through kink-split quadrature
    closed = hermite.coefficients(act, K_MAX, gain=gain)
    quad = hermite.coefficients(user, K_MAX, gain=gain)
    scale = max(1.0, math.sqrt(hermite.moments(act, gain).m2))
    np.testing.assert_allclose(closed, quad, rtol=0, atol=COEF_ABS * scale)
    mc, mq = hermite.moments(act, gain), hermite.moments(user, gain)
    assert (mc.c0, mc.c1) == pytest.approx((mq.c0, mq.c1), abs=COEF_ABS * scale)
    assert mc.m2 == pytest.approx(mq.m2, abs=COEF_ABS * scale**2)


def test_from_hermite_activation() -> None:
    coeffs = [0.1, 0.5, -0.3, 0.0, 0.2]
    act = activations.from_hermite(coeffs)
    np.testing.assert_allclose(hermite.coefficients(act, 6), [*coeffs, 0, 0], atol=FEW_ULPS)
    m = hermite.moments(act)
    assert m.m2 == pytest.approx(sum(c * c for c in coeffs), rel=SAME_FORMULA)
    user = activations.Activation(name="user_h", base="user_h", param=None, fn=act.fn)
    for gain in (0.5, 1.7):
        np.testing.assert_allclose(
            hermite.coefficients(act, 8, gain=gain),
            hermite.coefficients(user, 8, gain=gain),
            atol=COEF_ABS,
        )


def test_registered_user_activation() -> None:
    activations.register("test_hermite_cube", lambda x: x**3, overwrite=True)
    c = hermite.coefficients("test_hermite_cube", 4)  # x^3 = He_3 + 3 He_1
    np.testing.assert_allclose(c, [0, 3, 0, math.sqrt(6), 0], atol=COEF_ABS)


@pytest.mark.parametrize("spec", ["relu", "tanh", "exp", "selu", "gelu", "he3"])
def test_negative_gain_flips_odd_coefficients(spec: str) -> None:
    pos = hermite.coefficients(spec, 12, gain=1.3)
    neg = hermite.coefficients(spec, 12, gain=-1.3)
    scale = max(1.0, float(np.abs(pos).max()))
    np.testing.assert_allclose(neg, pos * (-1.0) ** np.arange(13), atol=COEF_ABS * scale)


# theory.md section 4, printed to 4 decimals
BETA0_REFERENCE = {
    "relu": 0.7335,
    "tanh": 0.9305,
    "sigmoid": 0.9842,
    "sin": 0.8509,
    "exp": 1 / (math.e - 1),
    "gelu": 0.7233,
    "silu": 0.7985,
    "selu": 0.9707,
    "elu": 0.9367,
    "step": 2 / math.pi,
    "identity": 1.0,
    "he2": 0.0,
}


@pytest.mark.parametrize(("spec", "value"), BETA0_REFERENCE.items())
def test_beta0_reference_values(spec: str, value: float) -> None:
    b = hermite.beta0(spec)
    assert b == pytest.approx(value, abs=BETA0_REF)
    assert hermite.contraction_factor(spec) == pytest.approx(1 / (2 - b), rel=FEW_ULPS)


def test_contraction_factor_extremes() -> None:
    assert hermite.contraction_factor("identity") == 1.0
    assert hermite.contraction_factor("he2") == 0.5
    assert hermite.contraction_factor("relu", gain=3.0) == pytest.approx(
        hermite.contraction_factor("relu"), rel=SAME_FORMULA
    )  # relu is homogeneous
    # tanh tends to the step function's 2/pi as the gain grows (theory.md section 4)
    betas = [hermite.beta0("tanh", gain=g) for g in (1.0, 5.0, 20.0, 200.0)]
    assert betas == sorted(betas, reverse=True)
    assert betas[-1] == pytest.approx(2 / math.pi, abs=BETA0_LARGE_GAIN_ABS)  # converges like 0.5 / gain


def test_moments_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    first = hermite.moments("tanh", gain=1.234)

    def recomputed(*args: object) -> None:
        raise AssertionError(f"moments recomputed: {args}")

    # a repeated call is a cache lookup (its speed: bench/bench_meanfield.py): no formula, no quadrature
    for name in ("_closed_moments", "_quad_coefficients", "_quad_m2"):
        monkeypatch.setattr(hermite, name, recomputed)
    assert hermite.moments("tanh", gain=1.234) is first
    assert hermite.moments(activations.resolve("tanh"), gain=1.234) is first  # the same key


def test_wrong_types_raise_type_error() -> None:
    with pytest.raises(TypeError, match=r"k_max must be an integer in \[0, 1000\]; got 2.5"):
        hermite.coefficients("relu", 2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="gain must be a finite number; got '1'"):
        hermite.moments("tanh", gain="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="rho must be an array of real numbers"):
        hermite.dual_kernel("relu", "0.5")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: hermite.coefficients("relu", -1), "k_max"),
        (lambda: hermite.coefficients("rleu", 3), "activation"),
        (lambda: hermite.moments("tanh", gain=float("nan")), "gain"),
        (lambda: hermite.beta0("relu", gain=0.0), "constant"),
        (lambda: hermite.beta0("he0"), "constant"),
    ],
)
def test_bad_inputs(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]


# ------------------------------------- edges: the largest k_max, overflow, infinite moments


@pytest.mark.parametrize(
    ("name", "gain"),
    [("tanh", 1.0), ("relu", 1.0), ("gelu", 2.0), ("softplus", 4.0), ("sin", 0.5), ("selu", 1.0), ("hardtanh", 3.0)],
)
def test_k_max_1000_is_computed(name: str, gain: float) -> None:
    """The documented maximum works: no overflow in the Hermite table at the rule's edge."""
    c = hermite.coefficients(name, 1000, gain=gain)
    assert c.shape == (1001,) and np.all(np.isfinite(c))
    np.testing.assert_allclose(c[:31], hermite.coefficients(name, 30, gain=gain), rtol=0, atol=COEF_ABS)
    m2 = hermite.moments(name, gain).m2
    assert np.sum(c**2) <= m2 * (1 + ROUNDING)  # Bessel: partial sums never exceed E sigma^2
    if name not in ("relu", "selu", "hardtanh"):  # smooth: the series has converged
        assert np.sum(c**2) == pytest.approx(m2, rel=PARSEVAL_SMOOTH)


def test_k_max_1000_quadrature_converged() -> None:
    hermite._quad_coefficients.cache_clear()
    act = isoinit.activations.resolve("tanh")
    key = hermite._remember(act)
    c = np.array(hermite._quad_coefficients(key, 1000, 1.0))
    z, _ = hermite._raw_rule(act.kinks, 1.0, hermite._half_width(1000))
    # the same integral with panels of half the width (twice the nodes)
    zz, ww = hermite._composite(np.array([z.min(), z.max()]), 0.5, hermite._GL_X, hermite._GL_W)
    s = np.exp(-0.25 * zz * zz)
    fine = hermite._he_table(1000, zz, s) @ (np.tanh(zz) * ww * s / np.sqrt(2 * np.pi))
    assert np.max(np.abs(c - fine)) < QUAD_REFINE_ABS


@pytest.mark.parametrize(("name", "gain"), [("exp", 40.0), ("exp", 100.0), ("exp", -40.0), ("exp", 1e6)])
def test_overflowing_moments_are_value_errors(name: str, gain: float) -> None:
    for f in (
        lambda: hermite.coefficients(name, 5, gain=gain),
        lambda: hermite.moments(name, gain),
        lambda: hermite.beta0(name, gain),
    ):
        with pytest.raises(ValueError, match=re.escape(f"activation '{name}' at gain {gain:g} overflow")):
            f()


@pytest.mark.parametrize(
    ("fn", "gain"),
    [
        (lambda x: np.exp(x**2), 1.0),
        (lambda x: np.exp(x**2), 0.6),
        (lambda x: np.exp(0.4 * x**2), 1.2),
        (lambda x: np.cosh(x) ** 2 * np.exp(x**2), 1.0),
        (lambda x: np.exp(-(x**2)) * np.exp(2 * x**2), 1.0),
    ],
)
def test_no_finite_moments_detected(fn: Callable[[np.ndarray], np.ndarray], gain: float) -> None:
    isoinit.activations.register("grows", fn, overwrite=True)
    for f in (lambda: hermite.coefficients("grows", 4, gain=gain), lambda: hermite.moments("grows", gain)):
        with pytest.raises(ValueError, match=rf"activation 'grows' has no finite Gaussian moments at gain {gain:g}"):
            f()


def test_heavy_but_finite_moments_still_work() -> None:
    isoinit.activations.register("gauss_growth", lambda x: np.exp(x**2), overwrite=True)
    # E exp(2 (0.4 z)^2) = 1 / sqrt(1 - 4 * 0.16)
    assert hermite.moments("gauss_growth", 0.4).m2 == pytest.approx(1 / np.sqrt(1 - 0.64), rel=QUADRATURE_REL)
    isoinit.activations.register("myexp", lambda x: np.exp(x), overwrite=True)
    # a user exp at gain 3 needs a wider rule than the default: widened, equal to the closed form
    np.testing.assert_allclose(
        hermite.coefficients("myexp", 6, gain=3.0), hermite.coefficients("exp", 6, gain=3.0), rtol=QUADRATURE_REL
    )
