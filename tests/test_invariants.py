"""Property-based invariants: Gram symmetric PSD, metrics in range, scale invariance, no NaN."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import isoinit
from tolerances import INPUT_SCALE_REL, PSD_SLACK, SCALE_INVARIANCE_REL

# bounded activations and normalized networks: no overflow is possible, so no NaN is allowed
SAFE_ACTS = ["relu", "tanh", "sin", "gelu", "silu", "selu", "sigmoid", "abs", "leaky_relu(0.1)", "he2", "erf"]
NORMS = ["layer", "rms", "batch", "center", "mf"]

configs = st.builds(
    isoinit.MLP,
    depth=st.integers(1, 4),
    width=st.integers(2, 24),
    activation=st.sampled_from(SAFE_ACTS),
    norm=st.sampled_from(NORMS),
    order=st.sampled_from(["act-norm", "norm-act"]),
    gain=st.floats(0.25, 3.0),
    bias=st.sampled_from([0.0, 0.5]),
    weights=st.sampled_from(["gaussian", "orthogonal"]),
)


@st.composite
def batches(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(2, 6))
    d = draw(st.integers(n, 16))
    x = draw(arrays(np.float64, (n, d), elements=st.floats(-10, 10, allow_subnormal=False)))
    x[:, 0] += 1.0 + np.arange(n)  # no zero rows, distinct rows
    x[np.arange(n), 1 + np.arange(n) % (d - 1)] += 3.0
    return x


@given(mlp=configs, x=batches(), seed=st.integers(0, 2**32))
def test_recorded_grams_are_symmetric_psd_and_metrics_in_range(mlp: isoinit.MLP, x: np.ndarray, seed: int) -> None:
    t = isoinit.simulate(mlp, x, runs=2, seed=seed, grams=True, stages=True, sampler="weights")
    assert t.grams is not None
    g = t.grams
    np.testing.assert_array_equal(g, np.swapaxes(g, -1, -2))
    lam = np.linalg.eigvalsh(g)
    assert np.all(lam >= -PSD_SLACK * np.maximum(lam[..., -1:], 1e-300))
    assert not np.isnan(t.isometry).any()
    assert np.all((t.isometry >= 0) & (t.isometry <= 1))
    assert np.all(t.gap >= 0)
    assert np.all((t.effective_rank >= 1 - 1e-12) & (t.effective_rank <= x.shape[0] + 1e-12))
    assert np.all((t.metrics["max_abs_corr"] >= 0) & (t.metrics["max_abs_corr"] <= 1))
    assert np.all(t.potential >= 0)
    assert np.all(t.norm_bias >= 0)


@given(mlp=configs, x=batches(), c=st.floats(1e-3, 1e3), seed=st.integers(0, 2**32))
def test_input_scale_does_not_matter(mlp: isoinit.MLP, x: np.ndarray, c: float, seed: int) -> None:
    a = isoinit.simulate(mlp, x, runs=1, seed=seed, grams=True, sampler="weights").grams
    b = isoinit.simulate(mlp, c * x, runs=1, seed=seed, grams=True, sampler="weights").grams
    assert a is not None and b is not None
    scale = np.max(np.abs(a), axis=(-1, -2), keepdims=True)
    assert np.all(np.abs(a - b) <= INPUT_SCALE_REL * scale)


@given(x=batches(), c=st.floats(1e-3, 1e3))
def test_metrics_are_scale_invariant(x: np.ndarray, c: float) -> None:
    g = isoinit.metrics.gram(x)
    m1 = isoinit.metrics.gram_metrics(g)
    m2 = isoinit.metrics.gram_metrics(c * g)
    for name in ("isometry", "gap", "potential", "effective_rank", "stable_rank", "mean_abs_corr"):
        a, b = m1[name], m2[name]
        if np.isinf(a):
            assert np.isinf(b)
        else:
            assert abs(a - b) <= SCALE_INVARIANCE_REL * max(1.0, abs(a)), name
