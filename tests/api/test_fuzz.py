"""Property-based tests of the public API: random small configurations through
isoinit.simulate and isoinit.metrics (the compiled boundary's own fuzz, with invalid input:
tests/core/test_core_boundary.py).

* every MLP option: metrics in range, NaN only after a reported breakdown, the documented
  shapes, and bit-identical results for 1 and 2 threads;
* bounded activations in normalized networks (no overflow possible): recorded Grams symmetric
  positive semi-definite, metrics in range and no NaN; the scale of the input batch does not
  matter, nor does the scale of a Gram for its metrics.

Deterministic: ``derandomize=True`` draws the same examples on every run (CI is
reproducible); ``max_examples`` keeps the file under ~30 s on 2 cores.
"""

from __future__ import annotations

import warnings
from typing import Any, get_args

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import isoinit
from isoinit.activations import BUILTIN
from isoinit.networks.mlp import NORM_PRESETS, Centering, Order, Scaling, Weights
from tolerances import (
    GAP_LOG_REL,
    INPUT_SCALE_REL,
    METRIC_RANGE_SLACK,
    PSD_SLACK,
    RANK_RANGE_SLACK,
    SCALE_INVARIANCE_REL,
)

# --- every option: ranges, breakdowns, threads ------------------------------------------------

_PARAMS = {"leaky_relu": st.floats(0.0, 0.5), "elu": st.floats(0.1, 2.0), "celu": st.floats(0.1, 2.0)}
_NAMES = [n for n in isoinit.activations.available() if n != "heK"]


@st.composite
def activation(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from([*_NAMES, "heK"]))
    if name == "heK":
        return f"he{draw(st.integers(1, 4))}"  # he0 is constant: refused with centering (below)
    if name in _PARAMS and draw(st.booleans()):
        return f"{name}({draw(_PARAMS[name]):.4g})"
    assert name in BUILTIN
    return name


@st.composite
def config(draw: st.DrawFn) -> tuple[isoinit.MLP, np.ndarray, dict[str, Any]]:
    depth = draw(st.integers(1, 4))
    per_block = draw(st.booleans())
    width: int | tuple[int, ...] = (
        tuple(draw(st.lists(st.integers(2, 12), min_size=depth, max_size=depth)))
        if per_block
        else draw(st.integers(2, 12))
    )
    kwargs = dict(
        activation=draw(activation()),
        norm=draw(st.sampled_from(list(NORM_PRESETS))),
        center=draw(st.none() | st.sampled_from(get_args(Centering))),
        scale=draw(st.none() | st.sampled_from(get_args(Scaling))),
        order=draw(st.sampled_from(get_args(Order))),
        gain=draw(st.sampled_from([0.25, 0.5, 1.0, 2.0, 8.0])),  # gain 0 without bias: refused (below)
        bias=draw(st.sampled_from([0.0, 0.1, 1.0])),
        weights=draw(st.sampled_from(get_args(Weights))),
        eps=draw(st.sampled_from([0.0, 1e-5, 1.0])),
    )
    mlp = isoinit.MLP(depth, width, **kwargs)  # type: ignore[arg-type]
    n = draw(st.integers(2, 6))
    d = draw(st.integers(1, 10))
    x = isoinit.inputs.gaussian(n, d, seed=draw(st.integers(0, 3)))
    sampler = draw(st.sampled_from(["weights", "gram"] if mlp.weights == "gaussian" else ["weights"]))
    run = dict(
        runs=draw(st.integers(1, 3)), seed=draw(st.integers(0, 2**32)), stages=draw(st.booleans()), sampler=sampler
    )
    return mlp, x, run


def _simulate(mlp: isoinit.MLP, x: np.ndarray, threads: int, **run: Any) -> isoinit.Trajectory:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", isoinit.IsoinitWarning)  # breakdowns are checked below
        return isoinit.simulate(mlp, x, threads=threads, progress=False, **run)


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config())
def test_random_valid_configurations(case: tuple[isoinit.MLP, np.ndarray, dict[str, Any]]) -> None:
    mlp, x, run = case
    one = _simulate(mlp, x, 1, grams=True, **run)
    two = _simulate(mlp, x, 2, grams=True, **run)
    np.testing.assert_array_equal(one.grams, two.grams)
    assert one.grams is not None
    runs, n, layers = run["runs"], x.shape[0], mlp.depth + 1
    shape = (runs, layers, 3) if run["stages"] else (runs, layers)
    for name in isoinit.metrics.METRICS:
        a, b = getattr(one, name), getattr(two, name)
        assert a.shape == shape, (name, a.shape)
        np.testing.assert_array_equal(a, b, err_msg=f"{name}: threads=1 vs 2")  # bit-identical, NaN included
    np.testing.assert_array_equal(one.diverged_at, two.diverged_at)
    assert one.diverged_at.shape == (runs,)

    iso, gap = one.isometry, one.gap
    for r in range(runs):
        broke = int(one.diverged_at[r])
        assert -1 <= broke <= mlp.depth
        for layer in range(layers):
            values = {m: getattr(one, m)[r, layer] for m in isoinit.metrics.METRICS}
            nan = [m for m, v in values.items() if np.any(np.isnan(v))]
            if nan:  # NaN only where a breakdown is reported, at or before this layer
                explained = 0 <= broke <= layer or 0 <= int(one.collapsed_at[r]) <= layer
                assert explained, (mlp, r, layer, nan, broke)
                continue
            i, g = iso[r, layer], gap[r, layer]
            assert np.all((-METRIC_RANGE_SLACK <= i) & (i <= 1 + METRIC_RANGE_SLACK)), i
            assert np.all(g >= -METRIC_RANGE_SLACK), g
            with np.errstate(divide="ignore"):
                minus_log = -np.log(np.atleast_1d(i))
            g1 = np.atleast_1d(g)
            fin = np.isfinite(g1)
            assert np.array_equal(fin, np.isfinite(minus_log)), (g, i)  # gap +inf exactly where isometry 0
            np.testing.assert_allclose(g1[fin], minus_log[fin], rtol=GAP_LOG_REL, atol=GAP_LOG_REL)
            for rank in ("effective_rank", "stable_rank"):
                v = values[rank]
                ok = ((v >= 1 - METRIC_RANGE_SLACK) & (v <= n + METRIC_RANGE_SLACK)) | (v == 0)  # 0: the all-zero Gram
                assert np.all(ok), (rank, v)


@pytest.mark.parametrize(
    "mlp",
    [
        isoinit.MLP(2, 6, "identity", "layer", gain=0.0),
        isoinit.MLP(2, 6, "relu", "center", gain=0.0),
        isoinit.MLP(2, 6, "he0", "layer"),
    ],
)
def test_configurations_that_collapse_by_construction_are_refused(mlp: isoinit.MLP) -> None:
    # zero gain without bias, or a constant activation under centering, map every batch to 0:
    # refused before any work with the reason (a collapse that happens along the way is
    # reported through collapsed_at instead: tests/core/test_breakdown.py)
    with pytest.raises(ValueError, match=r"gain must be > 0|must not be constant"):
        isoinit.simulate(mlp, isoinit.inputs.gaussian(4, 6), runs=2)


# --- invariants --------------------------------------------------------------------------------

# bounded activations and normalized networks: no overflow is possible, so no NaN is allowed
SAFE_ACTS = ["relu", "tanh", "sin", "gelu", "silu", "selu", "sigmoid", "abs", "leaky_relu(0.1)", "he2", "erf"]
NORMS = ["layer", "rms", "batch", "center", "mf"]

safe_configs = st.builds(
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


@given(mlp=safe_configs, x=batches(), seed=st.integers(0, 2**32))
def test_recorded_grams_are_symmetric_psd_and_metrics_in_range(mlp: isoinit.MLP, x: np.ndarray, seed: int) -> None:
    with warnings.catch_warnings():
        # relu can map every sample of a narrow layer to 0: a collapse, reported (and tested in
        # tests/core/test_breakdown.py) with a warning; its Gram is 0, of rank 0
        warnings.simplefilter("ignore", isoinit.CollapseWarning)
        t = isoinit.simulate(mlp, x, runs=2, seed=seed, grams=True, stages=True, sampler="weights")
    assert t.grams is not None
    g = t.grams
    zero = ~np.any(g != 0, axis=(-2, -1))
    np.testing.assert_array_equal(g, np.swapaxes(g, -1, -2))
    lam = np.linalg.eigvalsh(g)
    assert np.all(lam >= -PSD_SLACK * np.maximum(lam[..., -1:], 1e-300))
    assert not np.isnan(t.isometry).any()
    assert np.all((t.isometry >= 0) & (t.isometry <= 1))
    assert np.all(t.gap >= 0)
    rank = t.effective_rank
    assert np.all(((rank >= 1 - RANK_RANGE_SLACK) & (rank <= x.shape[0] + RANK_RANGE_SLACK)) | (zero & (rank == 0)))
    assert np.all((t.metrics["max_abs_corr"] >= 0) & (t.metrics["max_abs_corr"] <= 1))
    assert np.all(t.potential >= 0)
    assert np.all(t.norm_bias >= 0)


@given(mlp=safe_configs, x=batches(), c=st.floats(1e-3, 1e3), seed=st.integers(0, 2**32))
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
