"""The Gram sampler against explicit NumPy weights, by two-sample KS tests on the isometry.

The Gram sampler draws each block's pre-activations from the n x n Gram of its input
(theory.md section 3), which is exact in distribution; the reference draws explicit
weights with NumPy's generator and runs the independent forward pass of reference.py. For
each configuration the isometry at layers 1, 3 and 6 must have the same distribution.
Level and false-failure rate: tolerances.KS_ALPHA.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from scipy import stats

import isoinit
from reference import draw_weights, isometry
from reference import forward as np_forward
from tolerances import KS_ALPHA, SAMPLER_MEAN_SIGMAS

RUNS = 400
LAYERS = (1, 3, 6)
N, D = 6, 48


def _isometry_without_ones(g: np.ndarray) -> float:
    """Isometry on the complement of the all-ones vector: batch centering makes 1 an exact
    null vector of the Gram (rows sum to zero), so the plain isometry is 0 there."""
    lam = np.linalg.eigvalsh(g)[1:]
    return float(np.exp(np.mean(np.log(lam))) / np.mean(lam))


def _statistic(mlp: isoinit.MLP):  # type: ignore[no-untyped-def]
    return _isometry_without_ones if mlp.centering == "batch" else isometry


def _reference_isometry(mlp: isoinit.MLP, x: np.ndarray, runs: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    stat = _statistic(mlp)
    out = np.empty((runs, mlp.depth + 1))
    dims = [x.shape[1], *mlp.widths()]
    for r in range(runs):
        weights = [(draw_weights(rng, a, b, mlp.weights), None) for a, b in pairwise(dims)]
        grams, _ = np_forward(
            x, weights, mlp.act.fn, center=mlp.centering, scale=mlp.scaling, order=mlp.order, gain=mlp.gain
        )
        out[r] = [np.nan if (k == 0 and mlp.centering == "batch") else stat(g) for k, g in enumerate(grams)]
    return out


CONFIGS = [
    (act, norm, "gaussian") for act in ("relu", "tanh", "sin") for norm in ("layer", "rms", "center", "batch")
] + [("relu", "layer", "orthogonal"), ("tanh", "center", "orthogonal")]


@pytest.mark.parametrize(("activation", "norm", "weights"), CONFIGS)
def test_gram_sampler_matches_explicit_weights(activation: str, norm: str, weights: str) -> None:
    mlp = isoinit.MLP(6, D, activation, norm, weights=weights)
    x = isoinit.inputs.degenerate(N, D, 10.0, seed=5)
    if mlp.centering == "batch":
        grams = isoinit.simulate(mlp, x, runs=RUNS, seed=17, sampler="gram", grams=True).grams
        assert grams is not None
        fast = np.array([[np.nan] + [_isometry_without_ones(g) for g in run[1:]] for run in grams])
    else:
        fast = isoinit.simulate(mlp, x, runs=RUNS, seed=17, sampler="gram").isometry
    ref = _reference_isometry(mlp, x, RUNS, seed=23)
    for layer in LAYERS:
        p = stats.ks_2samp(fast[:, layer], ref[:, layer]).pvalue
        assert p > KS_ALPHA, f"layer {layer}: KS p-value {p:.2e}"


def test_ks_detects_a_wrong_gain() -> None:
    """The test above has power: a 25% gain error on tanh is rejected at the same level."""
    x = isoinit.inputs.degenerate(N, D, 10.0, seed=5)
    wrong = isoinit.simulate(isoinit.MLP(6, D, "tanh", "layer", gain=1.25), x, runs=RUNS, seed=17).isometry
    ref = _reference_isometry(isoinit.MLP(6, D, "tanh", "layer"), x, RUNS, seed=23)
    assert stats.ks_2samp(wrong[:, 6], ref[:, 6]).pvalue < KS_ALPHA


def test_gram_and_weights_samplers_agree_in_mean() -> None:
    """Both compiled samplers, same configuration: the mean gap per layer agrees within
    5 standard errors (false-failure rate ~6e-7 per layer)."""
    mlp = isoinit.MLP(5, 64, "relu", "layer")
    x = isoinit.inputs.degenerate(8, 64, 100.0, seed=1)
    a = isoinit.simulate(mlp, x, runs=300, seed=1, sampler="gram").gap
    b = isoinit.simulate(mlp, x, runs=300, seed=2, sampler="weights").gap
    se = np.sqrt(a.var(0) / len(a) + b.var(0) / len(b))
    assert np.all(np.abs(a.mean(0) - b.mean(0))[1:] < SAMPLER_MEAN_SIGMAS * se[1:])


def test_gram_sampler_handles_a_singular_gram() -> None:
    """A rank-one batch (parallel rows) has a singular Gram: the sampler still runs and
    reports a +inf gap and isometry 0, never NaN. Relu keeps the rank at most 3 here
    (relu(w), relu(-w) and, after centering, the constant row), below n = 4."""
    v = np.random.default_rng(0).standard_normal(50)
    x = np.outer([1.0, 2.0, -1.0, 0.5], v)
    t = isoinit.simulate(isoinit.MLP(3, 50, "relu", "layer"), x, runs=4, seed=0, sampler="gram")
    assert np.all(np.isinf(t.gap))
    assert np.all(t.isometry == 0)
    assert not np.isnan(t.gap).any()
    assert np.all(t.diverged_at == -1)
    t_id = isoinit.simulate(isoinit.MLP(3, 50, "identity", "rms"), x, runs=2, seed=0, sampler="gram")
    assert np.all(np.isinf(t_id.gap))
