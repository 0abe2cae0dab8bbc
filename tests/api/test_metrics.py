"""isoinit.metrics against direct NumPy formulas (theory.md section 1)."""

from __future__ import annotations

import numpy as np
import pytest

import isoinit
import tolerances as tol
from isoinit import _core, metrics


def _numpy_metrics(g: np.ndarray) -> dict[str, float]:
    lam = np.linalg.eigvalsh(g)
    n = len(lam)
    iso = np.exp(np.mean(np.log(lam))) / (np.trace(g) / n)
    d = np.sqrt(np.diag(g))
    rho = np.abs(g / np.outer(d, d))[~np.eye(n, dtype=bool)]
    p = lam / lam.sum()
    return {
        "isometry": iso,
        "gap": -np.log(iso),
        "potential": np.max(rho / (1 - rho)),
        "effective_rank": np.exp(-np.sum(p * np.log(p))),
        "stable_rank": np.trace(g) / lam[-1],
        "mean_abs_corr": rho.mean(),
        "max_abs_corr": rho.max(),
        "condition": lam[-1] / lam[0],
    }


def test_metrics_match_numpy() -> None:
    x = isoinit.inputs.degenerate(7, 30, 10.0, seed=4)
    g = metrics.gram(x)
    ref = _numpy_metrics(g)
    got = metrics.gram_metrics(g)
    assert set(got) == set(metrics.METRICS) == set(ref)  # a new metric needs its NumPy reference here
    for name, value in ref.items():
        assert got[name] == pytest.approx(value, rel=tol.METRIC_NUMPY_REL_ALL), name
    # representation and Gram give the same numbers; the one-metric functions agree
    assert metrics.isometry(x) == pytest.approx(ref["isometry"], rel=tol.METRIC_NUMPY_REL)
    assert metrics.isometry_gap(g) == pytest.approx(ref["gap"], rel=tol.METRIC_NUMPY_REL)
    assert metrics.potential(g) == pytest.approx(ref["potential"], rel=tol.METRIC_NUMPY_REL)
    assert metrics.effective_rank(x) == pytest.approx(ref["effective_rank"], rel=tol.METRIC_NUMPY_REL)


def test_identity_and_singular_cases() -> None:
    eye = np.eye(4)
    assert metrics.isometry(eye) == 1.0
    assert metrics.isometry_gap(eye) == 0.0
    assert metrics.potential(eye) == 0.0
    assert metrics.effective_rank(eye) == pytest.approx(4.0)
    ones = np.ones((4, 4))
    assert metrics.isometry(ones) == 0.0
    assert metrics.isometry_gap(ones) == np.inf
    assert metrics.potential(ones) == np.inf
    assert metrics.condition_number(ones) == np.inf
    # three unit vectors at 120 degrees: gamma = 1 and I = 0 (theory.md section 4)
    v = np.array([[1.0, 0.0], [-0.5, np.sqrt(3) / 2], [-0.5, -np.sqrt(3) / 2]])
    g = v @ v.T
    assert metrics.potential(g) == pytest.approx(1.0)
    assert metrics.isometry(g) == 0.0


def test_gap_of_degenerate_inputs_matches_the_paper() -> None:
    """theory.md section 2: about 1.0, 2.0 and 6.1 at n = 10 for degeneracy 5, 10, 100."""
    gaps = {
        k: np.mean([metrics.isometry_gap(isoinit.inputs.degenerate(10, 1000, k, seed=s)) for s in range(10)])
        for k in (5, 10, 100)
    }
    assert gaps[5] == pytest.approx(1.0, abs=tol.PAPER_DEGENERATE_GAP_ABS)
    assert gaps[10] == pytest.approx(2.0, abs=tol.PAPER_DEGENERATE_GAP_ABS)
    assert gaps[100] == pytest.approx(6.1, abs=tol.PAPER_DEGENERATE_GAP_ABS_100)


def test_stacks_keep_leading_axes() -> None:
    x = np.random.default_rng(0).standard_normal((3, 2, 5, 9))
    out = metrics.gram_metrics(x, gram=False)
    assert out["isometry"].shape == (3, 2)
    assert out["isometry"][1, 0] == pytest.approx(metrics.isometry(x[1, 0]))


def test_normalization_bias() -> None:
    a = np.array([1.0, 2.0, 3.0])
    assert metrics.normalization_bias(a) == pytest.approx(np.var(a) / 4.0)
    assert metrics.normalization_bias(a, ddof=1) == pytest.approx(np.var(a, ddof=1) / 4.0)
    with pytest.raises(ValueError, match=r"ddof must be an integer in \[0, 1\]; got 2"):
        metrics.normalization_bias(a, ddof=2)
    # the same norms from a representation (per-sample RMS), its Gram, or per feature
    x = np.random.default_rng(3).standard_normal((6, 40)) * np.arange(1, 7)[:, None]
    rms = np.sqrt(np.mean(x**2, axis=1))
    expected = np.var(rms) / np.mean(rms) ** 2
    assert metrics.normalization_bias(x, kind="rows") == pytest.approx(expected, rel=tol.ROUNDING)
    assert metrics.normalization_bias(metrics.gram(x), kind="gram") == pytest.approx(expected, rel=tol.ROUNDING)
    cols = np.sqrt(np.mean(x**2, axis=0))
    assert metrics.normalization_bias(x, kind="columns") == pytest.approx(np.var(cols) / np.mean(cols) ** 2)
    with pytest.raises(ValueError, match="kind must be one of norms, gram, rows, columns; got 'row'"):
        metrics.normalization_bias(x, kind="row")


def test_simulator_norm_bias_is_the_population_bias_of_the_row_norms() -> None:
    x = isoinit.inputs.gaussian(5, 20, seed=1)
    t = isoinit.simulate(isoinit.MLP(1, 10), x)
    assert t.norm_bias[0, 0] == pytest.approx(
        metrics.normalization_bias(np.sqrt(np.mean(x**2, axis=1))), rel=tol.ROUNDING
    )


def test_bad_metric_inputs() -> None:
    with pytest.raises(ValueError, match="n >= 2"):
        metrics.isometry(np.ones((1, 1)))
    with pytest.raises(ValueError, match="got shape"):
        metrics.isometry(np.ones(3))


# ---------------------------------------------------------------- checks of user input


def test_check_tolerances_are_the_documented_ones() -> None:
    assert metrics.SYMMETRY_RTOL == tol.GRAM_SYMMETRY_RTOL and metrics.PSD_RTOL == tol.GRAM_PSD_RTOL


@pytest.mark.parametrize(
    ("g", "smallest", "largest"),
    [
        ([[1.0, 2.0], [2.0, 1.0]], -1.0, 3.0),
        ([[0.0, 1.0], [1.0, 0.0]], -1.0, 1.0),
        ([[-1.0, 0.0], [0.0, 0.0]], -1.0, 1.0),
        (np.diag([3.0, 2.0, -1e-6]), -1e-6, 3.0),
        (-np.eye(3), -1.0, 1.0),
    ],
)
def test_not_psd_is_refused(g: list[list[float]], smallest: float, largest: float) -> None:
    for f in (metrics.gram_metrics, metrics.isometry, metrics.potential, metrics.effective_rank):
        with pytest.raises(ValueError, match="x must be positive semi-definite") as info:
            f(g)
        assert f"smallest eigenvalue is {smallest:.6g} (largest {largest:.6g})" in str(info.value)
    with pytest.raises(ValueError, match=r"smallest eigenvalue is .* at x\[1\]"):  # stacks name the matrix
        metrics.gram_metrics(np.stack([np.eye(len(g)), np.asarray(g)]))
    # the same numbers as a representation are fine
    assert np.isfinite(metrics.isometry(g, gram=False))


def test_within_tolerance_is_accepted() -> None:
    n = 4
    g = np.diag([1.0, 1.0, 1.0, 0.0])
    ok = g - np.diag([0, 0, 0, 0.5 * n * tol.GRAM_PSD_RTOL])
    assert metrics.isometry(ok) == 0.0 and metrics.isometry_gap(ok) == np.inf
    bad = g - np.diag([0, 0, 0, 2 * n * tol.GRAM_PSD_RTOL])
    with pytest.raises(ValueError, match="positive semi-definite"):
        metrics.isometry(bad)
    x = np.random.default_rng(0).standard_normal((6, 3))
    g = x @ x.T / 3  # rank 3 of 6: eigenvalues at rounding level, on both sides of 0
    assert metrics.isometry_gap(g) == np.inf
    asym = np.eye(3)
    asym[0, 1] = 0.5 * tol.GRAM_SYMMETRY_RTOL
    assert metrics.isometry(asym, gram=True) == pytest.approx(1.0)
    asym[0, 1] = 0.1
    with pytest.raises(ValueError, match=r"symmetric Gram matrix.*largest asymmetry is 0\.1"):
        metrics.isometry(asym, gram=True)


@pytest.mark.parametrize(
    "bad",
    [
        [[1.0, np.nan], [np.nan, 1.0]],
        [[np.inf, 0.0], [0.0, 1.0]],
        [[1.0, 0.0, -np.inf], [0.0, 1.0, 0.0]],
        np.full((2, 3, 3), np.nan),
    ],
)
def test_non_finite_is_refused(bad: object) -> None:
    for f in (metrics.gram_metrics, metrics.isometry, metrics.gram):
        with pytest.raises(ValueError, match=r"x must be finite; got .* at x\["):
            f(bad)  # type: ignore[operator]


@pytest.mark.parametrize(
    "bad",
    [
        np.eye(2) * (1 + 0j),
        np.eye(3, dtype=np.complex64),
        [[1 + 1j, 0], [0, 1]],
        [["1", "0"], ["0", "1"]],
        [[1.0, 0.0], [0.0]],
        [[True, False], [False, True]],
    ],
)
def test_non_real_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="x must be an array of real numbers"):
        metrics.gram_metrics(bad)  # type: ignore[arg-type]


def test_zero_gram_and_empty_inputs() -> None:
    for zero in (np.zeros((2, 2)), np.zeros((5, 5)), np.zeros((3, 7))):
        m = metrics.gram_metrics(zero)
        got = {k: float(v) for k, v in m.items()}
        assert got == {
            "isometry": 0.0,
            "gap": np.inf,
            "potential": np.inf,
            "effective_rank": 0.0,
            "stable_rank": 0.0,
            "mean_abs_corr": 1.0,
            "max_abs_corr": 1.0,
            "condition": np.inf,
        }
    stack = metrics.gram_metrics(np.stack([np.eye(3), np.zeros((3, 3))]))
    assert stack["effective_rank"].tolist() == [pytest.approx(3.0), 0.0]
    for shape, match in (
        ((0, 0), "n >= 2"),
        ((1, 1), "n >= 2"),
        ((1, 5), "n >= 2"),
        ((3, 0), "d >= 1"),
        ((2, 4, 0), "d >= 1"),
        ((0,), "got shape"),
    ):
        with pytest.raises(ValueError, match=match):
            metrics.gram_metrics(np.ones(shape))
    empty = metrics.gram_metrics(np.zeros((0, 3, 3)))
    assert all(v.shape == (0,) for v in empty.values())


def test_psd_check_uses_the_metrics_eigenvalues() -> None:
    """A caller's Gram is checked with the eigenvalues its metrics come from: the extremes the
    kernel returns are NumPy's (an independent LAPACK) to EIGENSOLVER_REL of the largest, and
    one bad Gram in a stack is found and named."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 40, 30))
    g = x @ np.swapaxes(x, 1, 2) / 30  # rank 30 of 40: eigenvalues at rounding level, both signs
    g[1] += np.eye(40)  # full rank
    metrics_, extremes = _core.gram_metrics_extremes(np.ascontiguousarray(g))
    assert np.array_equal(metrics_, _core.gram_metrics(np.ascontiguousarray(g)), equal_nan=True)
    ev = np.linalg.eigvalsh(g)
    top = np.max(np.abs(ev), axis=1)
    assert np.allclose(extremes[:, 0], ev[:, 0], rtol=0, atol=tol.EIGENSOLVER_REL * top.max())
    assert np.allclose(extremes[:, 1], top, rtol=tol.EIGENSOLVER_REL, atol=0)
    assert np.all(metrics.isometry_gap(g)[[0, 2, 3]] == np.inf) and np.isfinite(metrics.isometry_gap(g)[1])
    bad = g.copy()
    bad[2] -= 0.01 * np.eye(40)  # smallest eigenvalue about -0.01
    with pytest.raises(ValueError, match=r"positive semi-definite.*smallest eigenvalue is -0\.01.* at x\[2\]"):
        metrics.gram_metrics(bad)
