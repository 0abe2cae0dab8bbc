"""The float32 mode (simulate(..., dtype="float32")): float32 representations, float64 Grams."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import isoinit
import tolerances as tol
from isoinit.networks.blocks import Attention, Network

X = isoinit.inputs.gaussian(16, 256, seed=3)  # a well-conditioned batch (gap ~ 0.06)
NETWORKS = [
    isoinit.MLP(6, 256, "tanh"),
    isoinit.MLP(6, (300, 200, 256, 256, 128, 256), "relu", "rms", order="norm-act", bias=0.1),
    isoinit.ResidualMLP(4, 256, norm_position="post"),
    isoinit.Transformer(2, 256, heads=4, init="gpt2"),
    Network(256, [Attention(2, causal=True)] * 2),
]


@pytest.mark.parametrize("rows", [8, 16])  # the hand-written loops, the BLAS products
@pytest.mark.parametrize("sampler", ["weights", "gram"])
@pytest.mark.parametrize("net", NETWORKS, ids=lambda n: n.label())
def test_float32_agrees_with_float64_where_the_gram_is_well_conditioned(
    net: isoinit.MLP, sampler: str, rows: int
) -> None:
    # both samplers draw the same network in both precisions (float32 rounds the float64
    # normals; the Gram sampler's Cholesky square root is continuous in the Gram), so the two
    # differ by float32 rounding only
    x = X[:rows]
    a = isoinit.simulate(net, x, runs=4, seed=5, sampler=sampler, stages=True)
    b = isoinit.simulate(net, x, runs=4, seed=5, sampler=sampler, stages=True, dtype="float32")
    assert b.provenance is not None and b.provenance.precision == "float32"
    finite = np.isfinite(a.metrics["gap"])
    assert finite.sum() > 0 and (np.isfinite(b.metrics["gap"]) == finite).all()
    np.testing.assert_allclose(b.metrics["gap"][finite], a.metrics["gap"][finite], rtol=tol.FLOAT32_GAP_REL)
    np.testing.assert_allclose(
        b.metrics["mean_abs_corr"][finite], a.metrics["mean_abs_corr"][finite], atol=tol.FLOAT32_CORR_ABS
    )
    # and the float32 results are not the float64 ones (the mode does change the arithmetic)
    assert not np.array_equal(a.metrics["gap"][finite], b.metrics["gap"][finite])


def test_float32_forward_equals_simulate_and_is_thread_independent() -> None:
    net = isoinit.Transformer(2, 256, heads=4)
    w = isoinit.network_weights(net, 256, seed=2, run=1)
    one = isoinit.forward(net, X, w, dtype="float32")
    sim = isoinit.simulate(net, X, runs=2, seed=2, sampler="weights", dtype="float32")
    np.testing.assert_array_equal(one.gap[0], sim.gap[1])
    for sampler in ("gram", "weights"):
        t1 = isoinit.simulate(net, X, runs=4, seed=1, sampler=sampler, dtype="float32", threads=1, grams=True)
        t2 = isoinit.simulate(net, X, runs=4, seed=1, sampler=sampler, dtype="float32", threads=2, grams=True)
        assert t1 == t2


def test_float32_breaks_down_where_the_paper_saw_it() -> None:
    # The paper's "normalization" figure (float32 PyTorch): ReLU with mean-field centering and
    # no scaling climbs, and its representation becomes numerically degenerate after about
    # 20 layers. Here the float32 Grams turn singular at float32 resolution (gap +inf) between
    # layers 15 and 28 in every run, while float64 stays finite over all 30 layers.
    # (the weights sampler draws the same networks in both precisions)
    mlp = isoinit.MLP(30, 1000, "relu", center="mf", scale="none")
    x = isoinit.inputs.degenerate(10, 1000, 10, seed=0)
    double = isoinit.simulate(mlp, x, runs=3, seed=0, sampler="weights")
    assert np.isfinite(double.gap).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", isoinit.DivergenceWarning)
        single = isoinit.simulate(mlp, x, runs=3, seed=0, sampler="weights", dtype="float32")
    first = np.argmax(np.isinf(single.gap), axis=1)
    assert np.isinf(single.gap[:, -1]).all()
    assert ((first >= 15) & (first <= 28)).all(), first
    # before the breakdown the two precisions agree
    np.testing.assert_allclose(single.gap[:, :10], double.gap[:, :10], rtol=tol.FLOAT32_BREAKDOWN_REL)


def test_dtype_is_checked() -> None:
    with pytest.raises(ValueError, match="dtype must be one of float64, float32; got 'float16'"):
        isoinit.simulate(isoinit.MLP(2, 16), X[:, :16], dtype="float16")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dtype must be one of"):
        isoinit.forward(isoinit.MLP(1, 16), X[:, :16], [(np.eye(16), [])], dtype=32)  # type: ignore[arg-type]
