"""Property-based fuzz of the public simulation API (issue 10): random small valid
configurations of every MLP option give metrics in range, NaN only after a reported
breakdown, the documented shapes, and bit-identical results for 1 and 2 threads.

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

import isoinit
from isoinit.activations import BUILTIN
from isoinit.networks.mlp import NORM_PRESETS, Centering, Order, Scaling, Weights

#: |gap + log(isometry)| where both are finite: the kernel computes them from the same
#: eigenvalues, so only rounding of log/exp remains (relative to max(1, gap)).
GAP_LOG_REL = 1e-9
#: Metrics may exceed their exact ranges by rounding: isometry by 1 ulp-ish, ranks by n eps.
RANGE_SLACK = 1e-9

_PARAMS = {"leaky_relu": st.floats(0.0, 0.5), "elu": st.floats(0.1, 2.0), "celu": st.floats(0.1, 2.0)}
_NAMES = [n for n in isoinit.activations.available() if n != "heK"]


@st.composite
def activation(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from([*_NAMES, "heK"]))
    if name == "heK":
        return f"he{draw(st.integers(1, 4))}"  # he0 is constant: see test_collapse_to_zero
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
        gain=draw(st.sampled_from([0.25, 0.5, 1.0, 2.0, 8.0])),  # gain 0: see test_collapse_to_zero
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
    zero = ~np.any(one.grams != 0, axis=(-2, -1))  # collapsed to exactly 0 (see test_collapse_to_zero)
    runs, n, layers = run["runs"], x.shape[0], mlp.depth + 1
    shape = (runs, layers, 3) if run["stages"] else (runs, layers)
    for name in isoinit.metrics.METRICS:
        a, b = getattr(one, name), getattr(two, name)
        assert a.shape == shape, (name, a.shape)
        np.testing.assert_array_equal(a, b, err_msg=f"{name}: threads=1 vs 2")  # bit-identical, NaN included
    np.testing.assert_array_equal(one.diverged_at, two.diverged_at)
    assert one.diverged_at.shape == (runs,)
    collapsed = getattr(one, "collapsed_at", None)  # a field the engine half may add

    iso, gap = one.isometry, one.gap
    for r in range(runs):
        broke = int(one.diverged_at[r])
        assert -1 <= broke <= mlp.depth
        for layer in range(layers):
            values = {m: getattr(one, m)[r, layer] for m in isoinit.metrics.METRICS}
            # until the engine reports a collapse to 0, the ranks of an all-zero Gram are NaN
            known = zero[r, layer]
            for rank in ("effective_rank", "stable_rank"):
                values[rank] = np.where(known, 0.0, values[rank])
            nan = [m for m, v in values.items() if np.any(np.isnan(v))]
            if nan:  # NaN only where a breakdown is reported, at or before this layer
                explained = 0 <= broke <= layer
                if collapsed is not None:
                    explained |= 0 <= int(collapsed[r]) <= layer
                assert explained, (mlp, r, layer, nan, broke)
                continue
            i, g = iso[r, layer], gap[r, layer]
            assert np.all((-RANGE_SLACK <= i) & (i <= 1 + RANGE_SLACK)), i
            assert np.all(g >= -RANGE_SLACK), g
            with np.errstate(divide="ignore"):
                minus_log = -np.log(np.atleast_1d(i))
            g1 = np.atleast_1d(g)
            fin = np.isfinite(g1)
            assert np.array_equal(fin, np.isfinite(minus_log)), (g, i)  # gap +inf exactly where isometry 0
            np.testing.assert_allclose(g1[fin], minus_log[fin], rtol=GAP_LOG_REL, atol=GAP_LOG_REL)
            for rank in ("effective_rank", "stable_rank"):
                v = values[rank]
                ok = ((v >= 1 - RANGE_SLACK) & (v <= n + RANGE_SLACK)) | (v == 0)  # 0: the all-zero Gram
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
    # reported through collapsed_at instead: tests/test_breakdown.py)
    with pytest.raises(ValueError, match=r"gain must be > 0|must not be constant"):
        isoinit.simulate(mlp, isoinit.inputs.gaussian(4, 6), runs=2)
