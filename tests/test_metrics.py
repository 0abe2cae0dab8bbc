"""isoinit.metrics against direct NumPy formulas (theory.md section 1)."""

from __future__ import annotations

import numpy as np
import pytest

import isoinit
from isoinit import metrics


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
        assert got[name] == pytest.approx(value, rel=1e-10), name
    # representation and Gram give the same numbers; the one-metric functions agree
    assert metrics.isometry(x) == pytest.approx(ref["isometry"], rel=1e-12)
    assert metrics.isometry_gap(g) == pytest.approx(ref["gap"], rel=1e-12)
    assert metrics.potential(g) == pytest.approx(ref["potential"], rel=1e-12)
    assert metrics.effective_rank(x) == pytest.approx(ref["effective_rank"], rel=1e-12)


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
    assert gaps[5] == pytest.approx(1.0, abs=0.15)
    assert gaps[10] == pytest.approx(2.0, abs=0.15)
    assert gaps[100] == pytest.approx(6.1, abs=0.2)


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
    assert metrics.normalization_bias(x, kind="rows") == pytest.approx(expected, rel=1e-12)
    assert metrics.normalization_bias(metrics.gram(x), kind="gram") == pytest.approx(expected, rel=1e-12)
    cols = np.sqrt(np.mean(x**2, axis=0))
    assert metrics.normalization_bias(x, kind="columns") == pytest.approx(np.var(cols) / np.mean(cols) ** 2)
    with pytest.raises(ValueError, match="kind must be one of norms, gram, rows, columns; got 'row'"):
        metrics.normalization_bias(x, kind="row")


def test_simulator_norm_bias_is_the_population_bias_of_the_row_norms() -> None:
    x = isoinit.inputs.gaussian(5, 20, seed=1)
    t = isoinit.simulate(isoinit.MLP(1, 10), x)
    assert t.norm_bias[0, 0] == pytest.approx(metrics.normalization_bias(np.sqrt(np.mean(x**2, axis=1))), rel=1e-12)


def test_bad_metric_inputs() -> None:
    with pytest.raises(ValueError, match="n >= 2"):
        metrics.isometry(np.ones((1, 1)))
    with pytest.raises(ValueError, match="got shape"):
        metrics.isometry(np.ones(3))
