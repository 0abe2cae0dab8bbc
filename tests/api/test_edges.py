"""The public API at its edges: inputs beyond the examples get a documented value or a message
naming the parameter (docs/errors.md), never a silent NaN or a silently wrong number.

- ``inputs.degenerate`` at every finite degeneracy, against a NumPy route in scaled form;
- ``metrics.normalization_bias``: the checks of the other metrics, 0 for a collapsed layer,
  no overflow, against exact rational arithmetic;
- the Gram checks at the precision of the input's dtype, and the guess between a Gram and a
  representation (refused, naming ``gram=``, when it cannot be made);
- ``activations.register`` and ``from_hermite``: real numbers only, named parameters;
- an activation that returns NaN is reported as such (where, at which layer), not as an overflow.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import isoinit
import tolerances as tol
from isoinit import activations, hermite, meanfield, metrics
from isoinit.activations import from_hermite, register

FLOAT_MAX = float(np.finfo(np.float64).max)


@pytest.fixture
def names() -> Iterator[list[str]]:
    """Names a test registers, unregistered afterwards (the registry is process-wide)."""
    registered: list[str] = []
    yield registered
    for name in registered:
        activations._USER.pop(name, None)


# --------------------------------------------------------------------------- inputs.degenerate


def _reference_degenerate(n: int, d: int, k: float, seed: int) -> tuple[np.ndarray, float]:
    """The batch by NumPy's SVD, in the scaled form ``X0 / k + (1 - 1/k) P X0`` that cannot overflow,
    and ``lambda_1 / (lambda_1 - lambda_2)`` of ``X0 X0^T`` (how well its top direction is defined)."""
    x0 = np.random.default_rng(seed).standard_normal((n, d))
    u, s, vt = np.linalg.svd(x0, full_matrices=False)
    y = x0 / k + (1.0 - 1.0 / k) * np.outer(u[:, 0] * s[0], vt[0])
    lam = s**2
    spread = lam[0] / (lam[0] - lam[1]) if lam.size > 1 else 1.0
    return y / np.sqrt(np.mean(y * y)), float(spread)


def _check_degenerate(n: int, d: int, k: float, seed: int) -> None:
    x = isoinit.inputs.degenerate(n, d, k, seed=seed)
    assert x.shape == (n, d) and np.all(np.isfinite(x))
    assert abs(np.mean(x * x) - 1.0) <= tol.ROUNDING
    ref, spread = _reference_degenerate(n, d, k, seed)
    assert np.max(np.abs(x - ref)) <= tol.DEGENERATE_BATCH_REL * spread * np.max(np.abs(ref))


@pytest.mark.parametrize(
    "k", [1.0, 1.0 + 2**-52, 5.0, 100.0, 1e16, 1e30, 1e31, 1e154, 1e160, 1e200, 1e307, 1e308, FLOAT_MAX]
)
def test_degenerate_is_finite_and_right_up_to_the_largest_float(k: float) -> None:
    for n, d, seed in ((4, 5, 0), (10, 1000, 3), (7, 3, 1), (2, 1, 2)):
        _check_degenerate(n, d, k, seed)


@given(
    n=st.integers(2, 12),
    d=st.integers(1, 16),
    k=st.floats(1.0, FLOAT_MAX, allow_nan=False, allow_infinity=False),
    seed=st.integers(0, 2**32),
)
def test_degenerate_matches_the_scaled_numpy_route(n: int, d: int, k: float, seed: int) -> None:
    _check_degenerate(n, d, k, seed)


def test_degenerate_beyond_1e30_is_the_batch_of_1e30() -> None:
    """Documented: rank one to float64 precision there, computed at 1e30."""
    at = isoinit.inputs.degenerate(6, 9, 1e30, seed=4)
    for k in (1e31, 1e154, 1e200, FLOAT_MAX):
        np.testing.assert_array_equal(isoinit.inputs.degenerate(6, 9, k, seed=4), at)


@pytest.mark.parametrize(
    ("k", "error", "match"),
    [
        (float("inf"), ValueError, r"degeneracy must be a finite number >= 1; got inf"),
        (float("nan"), ValueError, r"degeneracy must be a finite number >= 1; got nan"),
        (0.5, ValueError, r"degeneracy must be >= 1; got 0\.5"),
        (1j, TypeError, r"degeneracy must be a finite number >= 1"),
    ],
)
def test_degenerate_refuses_what_is_not_a_degeneracy(k: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        isoinit.inputs.degenerate(4, 5, k)


# --------------------------------------------------------------------------- normalization bias


def _exact_bias(a: np.ndarray, ddof: int) -> float:
    """``Var / mean^2`` in exact rational arithmetic (every float64 is a fraction)."""
    q = [Fraction(float(v)) for v in a]
    mean = sum(q, Fraction(0)) / len(q)
    if mean == 0:
        return 0.0
    var = sum(((v - mean) ** 2 for v in q), Fraction(0)) / (len(q) - ddof)
    return float(var / mean**2)


@given(
    mantissas=arrays(np.float64, st.integers(2, 24), elements=st.floats(0.0, 1.0)),
    exponent=st.integers(-1074, 1023),
    ddof=st.integers(0, 1),
)
def test_normalization_bias_is_exact_rational_arithmetic_at_every_scale(
    mantissas: np.ndarray, exponent: int, ddof: int
) -> None:
    """Norms from 0 to the largest float64: no overflow in the squares, no NaN, the exact value
    to float64 rounding (all equal or all 0: exactly 0)."""
    a = np.ldexp(mantissas, exponent)
    got = metrics.normalization_bias(a, ddof=ddof)
    exact = _exact_bias(a, ddof)
    assert np.isfinite(got) and got >= 0.0
    assert abs(got - exact) <= tol.ROUNDING * (1.0 + exact)


@given(exponent=st.integers(-900, 900), seed=st.integers(0, 2**32), kind=st.sampled_from(["rows", "columns"]))
def test_normalization_bias_of_a_representation_ignores_its_scale(exponent: int, seed: int, kind: str) -> None:
    """A representation scaled by 2^e has the same bias, to the bit, also where its squares would
    overflow (e > 511) or underflow; and it is the bias of its root mean squares."""
    x = np.random.default_rng(seed).standard_normal((5, 7))
    base = metrics.normalization_bias(x, kind=kind)
    assert metrics.normalization_bias(np.ldexp(x, exponent), kind=kind) == base
    rms = np.sqrt(np.mean(x * x, axis=1 if kind == "rows" else 0))
    assert base == metrics.normalization_bias(rms)
    assert abs(base - _exact_bias(rms, 0)) <= tol.ROUNDING * (1.0 + base)


def test_normalization_bias_keeps_the_bits_of_the_plain_formula() -> None:
    """On ordinary norms the power-of-2 scaling is exact: the same number as Var / mean^2."""
    a = np.random.default_rng(0).uniform(0.1, 10.0, size=(6, 11))
    for ddof in (0, 1):
        np.testing.assert_array_equal(
            metrics.normalization_bias(a, ddof=ddof), a.var(axis=-1, ddof=ddof) / a.mean(axis=-1) ** 2
        )


def test_collapsed_layers_have_normalization_bias_zero() -> None:
    """Documented: a collapsed layer (every norm 0) has normalization bias 0, whatever form it is given in."""
    for ddof in (0, 1):
        assert metrics.normalization_bias(np.zeros(5), ddof=ddof) == 0.0
        assert metrics.normalization_bias(np.zeros((4, 4)), kind="gram", ddof=ddof) == 0.0
        assert metrics.normalization_bias(np.zeros((3, 6)), kind="rows", ddof=ddof) == 0.0
        assert metrics.normalization_bias(np.zeros((3, 6)), kind="columns", ddof=ddof) == 0.0
    stack = metrics.normalization_bias(np.stack([np.zeros((3, 3)), np.diag([1.0, 4.0, 9.0])]), kind="gram")
    assert stack[0] == 0.0 and stack[1] == pytest.approx(_exact_bias(np.array([1.0, 2.0, 3.0]), 0), rel=tol.ROUNDING)
    assert metrics.normalization_bias(np.zeros((0, 3))).shape == (0,)
    assert metrics.normalization_bias(np.zeros((0, 3, 3)), kind="gram").shape == (0,)


@pytest.mark.parametrize(
    ("x", "kwargs", "error", "match"),
    [
        (np.zeros(0), {}, ValueError, r"x must hold k >= 2 norms along axis -1; got shape \(0,\)"),
        ([1.0], {"ddof": 1}, ValueError, r"k >= 2 norms"),
        (3.0, {}, ValueError, r"at least 1-D"),
        ([1.0, np.nan], {}, ValueError, r"x must be finite; got nan at x\[1\]"),
        ([[1.0, 2.0], [np.inf, 1.0]], {}, ValueError, r"x must be finite; got inf at x\[1, 0\]"),
        ([2.0, -1.0], {}, ValueError, r"x must be norms \(>= 0\) with kind='norms'; got -1\.0 at x\[1\]"),
        ([1.0, 1j], {}, TypeError, r"x must be an array of real numbers"),
        (["a", "b"], {}, TypeError, r"x must be an array of real numbers"),
        ([True, False], {}, TypeError, r"x must be an array of real numbers"),
        (np.ones((2, 3)), {"axis": 2}, ValueError, r"axis must be an integer in \[-2, 1\]; got 2"),
        (np.ones(3), {"axis": 0.0}, TypeError, r"axis must be an integer"),
        (np.ones(3), {"ddof": 2}, ValueError, r"ddof must be an integer in \[0, 1\]; got 2"),
        (np.ones(3), {"kind": "grams"}, ValueError, r"kind must be one of norms, gram, rows, columns"),
        (np.ones((2, 3)), {"kind": "gram"}, ValueError, r"x must be square when gram=True"),
        (np.ones((1, 1)), {"kind": "gram"}, ValueError, r"n >= 2"),
        ([[1.0, 2.0], [2.0, 1.0]], {"kind": "gram"}, ValueError, r"x must be positive semi-definite"),
        ([[1.0, 0.5], [0.0, 1.0]], {"kind": "gram"}, ValueError, r"x must be a symmetric Gram matrix"),
        ([[np.nan, 0.0], [0.0, 1.0]], {"kind": "gram"}, ValueError, r"x must be finite; got nan at x\[0, 0\]"),
        (np.ones(3), {"kind": "rows"}, ValueError, r"x must be a representation \(\.\.\., n, d\) with kind='rows'"),
        (np.ones((1, 3)), {"kind": "rows"}, ValueError, r"n >= 2 rows"),
        (np.ones((3, 0)), {"kind": "rows"}, ValueError, r"d >= 1 features"),
        (np.ones((3, 1)), {"kind": "columns"}, ValueError, r"d >= 2 columns"),
        (np.ones((0, 3)), {"kind": "columns"}, ValueError, r"n >= 1 rows"),
    ],
)
def test_normalization_bias_refuses_what_the_other_metrics_refuse(
    x: Any, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused, not measured with a NumPy warning
        with pytest.raises(error, match=match):
            metrics.normalization_bias(x, **kwargs)


@given(
    a=arrays(
        np.float64,
        st.tuples(st.integers(1, 3), st.integers(2, 9)),
        elements=st.floats(0.0, FLOAT_MAX, allow_nan=False, allow_infinity=False),
    ),
    ddof=st.integers(0, 1),
)
def test_normalization_bias_has_no_nan_on_valid_norms(a: np.ndarray, ddof: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or 0/0 inside either
        got = metrics.normalization_bias(a, ddof=ddof)
    assert got.shape == (a.shape[0],) and np.all(np.isfinite(got)) and np.all(got >= 0.0)


# --------------------------------------------------------------------------- Grams at their precision


def _low_precision_gram(dtype: type, n: int, d: int, ulps: int, seed: int) -> np.ndarray:
    """A Gram computed in ``dtype`` whose upper triangle is ``ulps`` units of ``dtype`` off its lower."""
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(dtype)
    g = (x @ x.T / dtype(d)).astype(dtype)
    g = np.tril(g) + np.tril(g, -1).T  # exactly symmetric, then the rounding of another summation order
    upper = np.triu_indices(n, 1)
    g[upper] += (ulps * np.spacing(np.abs(g[upper]))).astype(dtype)
    return g


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@given(n=st.integers(2, 8), d=st.integers(2, 40), ulps=st.integers(1, 16), seed=st.integers(0, 2**32))
def test_a_low_precision_gram_is_taken_as_a_gram(dtype: type, n: int, d: int, ulps: int, seed: int) -> None:
    """Asymmetric in its last bits, as a Gram computed in that precision is: a Gram by default and
    with gram=True (the kernel uses its symmetric part), never silently a representation."""
    g = _low_precision_gram(dtype, n, d, ulps, seed)
    g64 = g.astype(np.float64)
    sym = 0.5 * (g64 + g64.T)
    want = metrics._measure(sym)  # the kernel's metrics of its symmetric part, unchecked
    for got in (metrics.gram_metrics(g), metrics.gram_metrics(g, gram=True)):
        for name in metrics.METRICS:
            np.testing.assert_array_equal(got[name], want[name])
    # the same numbers in float64 claim float64 precision: asymmetric beyond it, so not guessed
    if np.max(np.abs(g64 - g64.T)) > tol.GRAM_SYMMETRY_RTOL * np.max(np.abs(g64)):
        with pytest.raises(ValueError, match=r"nearly symmetric.*pass gram=False .* or gram=True .*float32"):
            metrics.gram_metrics(g64)
        with pytest.raises(ValueError, match=r"symmetric Gram matrix .*float64 input.*x\.astype\(np\.float32\)"):
            metrics.gram_metrics(g64, gram=True)
    assert np.isfinite(metrics.isometry(g64, gram=False))


def test_a_float32_gram_agrees_with_its_representation() -> None:
    x = np.random.default_rng(2).standard_normal((6, 200))
    g = _low_precision_gram(np.float32, 6, 200, 3, 2)
    g_rep = (x.astype(np.float32) @ x.astype(np.float32).T / np.float32(200)).astype(np.float32)
    assert np.max(np.abs(g - g_rep)) > 0  # the test Gram really is asymmetric
    assert metrics.isometry_gap(g) == pytest.approx(metrics.isometry_gap(x), rel=tol.FLOAT32_GAP_REL)


def test_psd_tolerance_follows_the_precision() -> None:
    """An eigenvalue of -1e-6 of the largest is float32 rounding (singular), but not float64's."""
    g = np.diag([1.0, 1.0, 1.0, -1e-6])
    assert metrics.isometry_gap(g.astype(np.float32)) == np.inf
    assert metrics.normalization_bias(g.astype(np.float32), kind="gram") >= 0.0
    with pytest.raises(ValueError, match=r"positive semi-definite \(smallest eigenvalue >= -n \* 1e-12"):
        metrics.isometry_gap(g)
    # integers are exact: float64's tolerances
    with pytest.raises(ValueError, match=r"symmetric Gram matrix \(\|x - x\^T\| <= 1e-12 max\|x\| for int64 input\)"):
        metrics.isometry(np.array([[2, 1], [0, 2]]), gram=True)


@given(
    n=st.integers(2, 7),
    rel=st.floats(3 * tol.GRAM_SYMMETRY_RTOL, 0.3 * tol.GRAM_NEAR_SYMMETRY_RTOL),
    seed=st.integers(0, 2**32),
)
def test_a_nearly_symmetric_square_input_is_refused_not_guessed(n: int, rel: float, seed: int) -> None:
    """Too asymmetric for a float64 Gram, too symmetric for a typical representation: gram= decides."""
    x = np.random.default_rng(seed).standard_normal((n, n + 3))
    g = x @ x.T / (n + 3)
    g[0, 1] += rel * np.max(np.abs(g))
    with pytest.raises(ValueError, match=r"x is square and nearly symmetric.*pass gram=False"):
        metrics.gram_metrics(g)
    rep = metrics.gram_metrics(g, gram=False)
    np.testing.assert_array_equal(rep["gap"], metrics.gram_metrics(metrics.gram(g), gram=True)["gap"])
    with pytest.raises(ValueError, match=r"x is square and nearly symmetric at x\[1\]"):
        metrics.gram_metrics(np.stack([g + g.T, g]))


@given(n=st.integers(4, 10), seed=st.integers(0, 2**32))
def test_a_clearly_asymmetric_square_input_is_still_a_representation(n: int, seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal((n, n))
    auto, rep = metrics.gram_metrics(x), metrics.gram_metrics(x, gram=False)
    for name in metrics.METRICS:
        np.testing.assert_array_equal(auto[name], rep[name])


# --------------------------------------------------------------------------- user activations


def test_register_refuses_complex_values(names: list[str]) -> None:
    names.append("c_edge")
    with pytest.raises(TypeError, match=r"fn must be .* real array .*returned dtype complex128"):
        register("c_edge", lambda x: x + 1j)
    assert activations.registered("c_edge") is None


def test_complex_values_beyond_the_probe_are_refused_where_they_appear(names: list[str]) -> None:
    """The probe sees [-1, 1]; a callable that turns complex beyond it is refused when evaluated
    there (a TypeError naming the activation), never cast with its imaginary part dropped."""
    names.append("c_late")

    def late(x: np.ndarray) -> np.ndarray:
        return x.astype(complex) * 1j if np.max(np.abs(x)) > 2 else x

    act = register("c_late", late)
    np.testing.assert_array_equal(act(np.array([0.5, -1.0])), [0.5, -1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for call in (lambda: act(np.array([3.0])), lambda: hermite.moments(act), lambda: activations.tabulate(act)):
            with pytest.raises(TypeError, match=r"activation 'c_late' must return real numbers; got dtype complex128"):
                call()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kinks": ["a"]}, TypeError, r"kinks must be an array of real numbers"),
        ({"kinks": "0"}, TypeError, r"kinks must be a sequence of numbers"),
        ({"kinks": [0.0, np.nan]}, ValueError, r"kinks must be finite; got nan at kinks\[1\]"),
        ({"kinks": [[0.0]]}, ValueError, r"kinks must be 1-D"),
        ({"overwrite": "yes"}, TypeError, r"overwrite must be True or False; got 'yes'"),
    ],
)
def test_register_checks_its_other_arguments(
    names: list[str], kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    names.append("k_edge")
    with pytest.raises(error, match=match):
        register("k_edge", np.tanh, **kwargs)
    assert activations.registered("k_edge") is None


@pytest.mark.parametrize(
    ("coefficients", "error", "match"),
    [
        (["a", "b"], TypeError, r"coefficients must be an array of real numbers; got list of dtype <U1"),
        ([1.0, 1j], TypeError, r"coefficients must be an array of real numbers; got list of dtype complex128"),
        ("ab", TypeError, r"coefficients must be a sequence of real numbers; got 'ab'"),
        ([True, False], TypeError, r"coefficients must be an array of real numbers"),
        ([[0.5, 1.0], 2.0], TypeError, r"coefficients must be an array of real numbers"),
        ([1.0, np.nan], ValueError, r"coefficients must be finite; got nan at coefficients\[1\]"),
        ([1.0, -np.inf], ValueError, r"coefficients must be finite; got -inf at coefficients\[1\]"),
        ([[1.0, 2.0]], ValueError, r"coefficients must be a 1-D sequence of 1 to 31 numbers; got shape \(1, 2\)"),
        (1.0, ValueError, r"coefficients must be a 1-D sequence"),
        ([], ValueError, r"coefficients must be a 1-D sequence of 1 to 31 numbers; got shape \(0,\)"),
        ([0.1] * 32, ValueError, r"got shape \(32,\)"),
        ([0.0, 0.0], ValueError, r"coefficients must not be all zero"),
    ],
)
def test_from_hermite_names_coefficients(coefficients: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        from_hermite(coefficients)


@given(c=arrays(st.sampled_from([np.int64, np.float32, np.float64]), st.integers(1, 8), elements=st.integers(-3, 3)))
def test_from_hermite_accepts_real_numbers_of_any_dtype(c: np.ndarray) -> None:
    if not np.any(c):
        with pytest.raises(ValueError, match="all zero"):
            from_hermite(c)
        return
    act = from_hermite(c)
    assert act.hermite == tuple(float(v) for v in c)
    z = np.linspace(-2.0, 2.0, 9)
    ref = from_hermite([float(v) for v in c])(z)
    np.testing.assert_array_equal(act(z), ref)


# --------------------------------------------------------------------------- NaN from an activation


def test_nan_of_an_activation_is_reported_as_nan_with_its_inputs(names: list[str]) -> None:
    names.append("nan_log")
    act = register("nan_log", np.log)
    for call in (lambda: hermite.moments(act), lambda: hermite.coefficients(act, 6), lambda: hermite.beta0(act)):
        with pytest.raises(
            ValueError, match=r"activation 'nan_log' returned NaN for inputs in \[-\d.*, -0\.0\d+\]"
        ) as info:
            call()
        assert "overflow" not in str(info.value) and "smaller gain" not in str(info.value)
    with pytest.raises(ValueError, match=r"activation 'nan_log' must be finite .*returned NaN for inputs in \[-15\.99"):
        activations.tabulate(act)


def test_mean_field_names_the_layer_where_the_activation_returned_nan(names: list[str]) -> None:
    """NaN only beyond |x| = 1000, reached at a later layer as the variance grows (gain 2, no
    normalization): the breakdown is at that layer, and says NaN, not overflow."""
    names.append("nan_far")
    act = register("nan_far", lambda x: np.where(np.abs(x) <= 1000.0, x, np.nan))
    x = isoinit.inputs.degenerate(4, 20, 5.0, seed=0)
    with pytest.warns(isoinit.DivergenceWarning, match=r"at layer (\d+) .*returned NaN for inputs in") as record:
        traj = meanfield.trajectory(isoinit.MLP(12, 20, act, "none", gain=2.0), x)
    message = str(record[0].message)
    assert traj.diverged_at > 1 and f"at layer {traj.diverged_at} " in message
    assert "overflow" not in message
    assert np.all(np.isfinite(traj.gap[: traj.diverged_at])) and np.all(np.isnan(traj.gap[traj.diverged_at :]))
    # a true overflow is still an overflow
    with pytest.warns(isoinit.DivergenceWarning, match="overflowed"):
        meanfield.trajectory(isoinit.MLP(12, 20, "exp", "none", gain=3.0), x)
