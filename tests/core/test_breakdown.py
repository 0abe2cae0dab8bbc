"""Numerical breakdown is reported, never silent.

* configurations that cannot work are refused up front with a ValueError naming the
  parameter;
* a representation that collapses to the zero matrix is ``Trajectory.collapsed_at`` and a
  :class:`isoinit.CollapseWarning`, with defined (non-NaN) metrics;
* a value that is not finite anywhere in a block (after the linear map, the activation or the
  normalization) is ``diverged_at`` and a :class:`isoinit.DivergenceWarning`, the same layer
  whether or not stages are recorded: the run stops there, its later metrics (and recorded
  Grams) are NaN, the call warns once, and summaries leave the diverged runs out;
* scale alone (gain 1e300, a batch of size 1e-300) does not break a normalized network down.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import isoinit
from isoinit import MLP
from tolerances import EXTREME_SCALE_REL

X = isoinit.inputs.degenerate(5, 32, 5.0, seed=0)
X64 = isoinit.inputs.degenerate(5, 64, 5.0, seed=0)


def _sim(mlp: MLP, x: np.ndarray = X, **kw: Any) -> isoinit.Trajectory:
    """simulate, recording (not raising) the package's warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", isoinit.DivergenceWarning)
        warnings.simplefilter("ignore", isoinit.CollapseWarning)
        return isoinit.simulate(mlp, x, **kw)


# --- refused up front ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mlp", "match"),
    [
        (MLP(3, 32, gain=0.0), r"gain must be > 0 when bias is 0"),
        (MLP(2, 8, "tanh", "rms", gain=0.0), r"gain must be > 0 when bias is 0"),
        (MLP(2, 8, "step", "batch", gain=0.0), r"gain must be > 0 when bias is 0"),
        (MLP(2, 8, "sigmoid", "none", gain=0.0, order="norm-act"), r"gain must be > 0 when bias is 0"),
        (MLP(1, 1), r"width must be >= 2 with layer centering.*block 1"),
        (MLP(3, (4, 1, 4), "tanh", "center"), r"width must be >= 2 with layer centering.*block 2"),
        (MLP(2, 1, "relu", "layer", order="norm-act"), r"width must be >= 2 with layer centering"),
        (MLP(2, 8, "he0", "layer"), r"activation must not be constant with centering"),
        (MLP(2, 8, "he0", "batch"), r"activation must not be constant with centering"),
        (MLP(2, 8, "he0", "mf"), r"activation .*constant"),
        (
            MLP(2, 8, isoinit.activations.from_hermite([0.7, 0.0, 0.0]), "layer"),
            r"activation must not be constant with centering",
        ),
    ],
)
def test_configurations_that_cannot_work_are_refused(mlp: MLP, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        isoinit.simulate(mlp, X)
    with pytest.raises(ValueError, match=match):
        isoinit.forward(mlp, X, isoinit.network_weights(mlp, X.shape[1]))


@pytest.mark.parametrize(
    "mlp",
    [
        MLP(3, 8, gain=0.0, bias=0.5),  # the bias alone still separates features
        MLP(3, 1, "tanh", "rms"),  # width 1 without centering
        MLP(3, 1, "tanh", "batch"),  # batch centering works across samples
        MLP(3, 8, "he0", "rms"),  # a constant, scaled but not centered
        MLP(3, 8, "he0", "layer", order="norm-act"),  # centered before the constant
    ],
)
def test_near_misses_are_accepted_and_nan_free(mlp: MLP) -> None:
    t = _sim(mlp, runs=3)
    assert np.all(t.diverged_at == -1)
    for name, a in t.metrics.items():
        assert not np.isnan(a).any(), name
    assert not np.isnan(t.norm_bias).any()


# --- collapse -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mlp", "kw"),
    [
        (MLP(20, 2, "relu", "none"), dict(runs=6, seed=3)),  # dead narrow ReLU nets
        (MLP(20, 2, "relu", "rms"), dict(runs=6, seed=3)),
        (MLP(20, 2, "relu", "none"), dict(runs=6, seed=3, sampler="weights", stages=True, grams=True)),
        (MLP(3, 32, "relu", "none", gain=1e-200), dict(runs=2)),  # values underflow to exactly 0
        # sigmoid of values below 1e-17 rounds to exactly 1/2, which layer centering removes exactly
        (MLP(40, 16, "sigmoid", "center"), dict(runs=3)),
    ],
)
def test_collapse_is_reported_with_defined_metrics(mlp: MLP, kw: dict[str, Any]) -> None:
    with pytest.warns(isoinit.CollapseWarning, match=r"runs collapsed \(first at layer \d+") as rec:
        t = isoinit.simulate(mlp, X, **kw)
    assert len([w for w in rec if w.category is isoinit.CollapseWarning]) == 1
    assert (t.collapsed_at >= 1).any()
    assert np.all(t.diverged_at == -1)
    for name, a in t.metrics.items():
        assert not np.isnan(a).any(), name
    assert not np.isnan(t.norm_bias).any()
    for r, at in enumerate(t.collapsed_at):
        if at < 0:
            continue
        assert np.all(t.output("gap")[r, :at][np.isfinite(t.output("gap")[r, :at])] >= 0)
        zero = dict(isometry=0.0, gap=np.inf, effective_rank=0.0, stable_rank=0.0, condition=np.inf)
        for name, want in zero.items():
            assert t.output(name)[r, at] == want, name
        assert t.output("max_abs_corr")[r, at] == 1.0
        assert t.norm_bias[r, at] == 0.0
        if t.grams is not None:
            g = t.grams[r, at] if t.stages is None else t.grams[r, at, 2]
            assert np.all(g == 0)


def test_no_collapse_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = isoinit.simulate(MLP(10, 16, "relu", "layer"), X, runs=4)
    assert np.all(t.collapsed_at == -1)


def test_zero_gram_metrics_are_defined() -> None:
    out = isoinit._core.gram_metrics(np.zeros((2, 4, 4)))
    names = isoinit._core.metric_names()
    row = dict(zip(names, out[0], strict=True))
    assert row["effective_rank"] == 0.0 and row["stable_rank"] == 0.0
    assert row["isometry"] == 0.0 and row["gap"] == np.inf
    assert not np.isnan(out).any()


# --- divergence: checked where values are made, independent of stages ---------------------


@pytest.mark.parametrize(
    ("mlp", "sampler"),
    [
        (MLP(3, 32, gain=1e308), "gram"),  # H overflows at block 1
        (MLP(3, 32, "tanh", "layer", gain=1e308), "gram"),  # ... and tanh would hide it
        (MLP(3, 32, "relu", "rms", gain=1e308, order="norm-act"), "weights"),
        (MLP(12, 64, "exp", "none"), "gram"),
        (MLP(12, 64, "exp", "none", gain=2.0), "weights"),
        (MLP(8, 16, "exp", "rms", gain=400.0), "gram"),  # exp overflows, the normalization sees inf
        (MLP(8, 16, "exp", "batch", gain=400.0), "weights"),
        (MLP(8, 16, "sigmoid", "layer", gain=1e308), "gram"),  # sigmoid(inf) = 1 would hide it
        (MLP(6, 8, "exp", "none", gain=3.0), "gram"),  # the golden diverging case
    ],
)
def test_diverged_at_does_not_depend_on_stages(mlp: MLP, sampler: str) -> None:
    plain = _sim(mlp, runs=4, seed=1, sampler=sampler)
    staged = _sim(mlp, runs=4, seed=1, sampler=sampler, stages=True)
    assert (plain.diverged_at >= 0).any()
    np.testing.assert_array_equal(plain.diverged_at, staged.diverged_at)
    for r, at in enumerate(plain.diverged_at):
        if at >= 0:
            assert np.all(np.isnan(plain.gap[r, at:]))
            assert np.all(np.isnan(staged.gap[r, at:]))
            assert not np.isnan(plain.gap[r, :at]).any()


def test_divergence_warns_without_stages() -> None:
    with pytest.warns(isoinit.DivergenceWarning, match="first at layer 1"):
        isoinit.simulate(MLP(3, 32, "tanh", "layer", gain=1e308), X)


def test_exp_without_normalization_diverges() -> None:
    mlp = MLP(12, 64, "exp", "none")
    with pytest.warns(isoinit.DivergenceWarning, match=r"runs broke down numerically \(first at layer \d+") as rec:
        t = isoinit.simulate(mlp, X64, runs=4, seed=0, stages=True)
    assert len(rec) == 1
    assert np.all(t.diverged_at >= 1)
    for r, at in enumerate(t.diverged_at):
        assert np.all(np.isfinite(t.isometry[r, :at]))
        assert np.all(np.isnan(t.isometry[r, at:]))
        assert np.all(np.isnan(t.norm_bias[r, at:]))


def test_divergence_with_weights_sampler_and_grams() -> None:
    mlp = MLP(12, 64, "exp", "none", gain=2.0)
    with pytest.warns(isoinit.DivergenceWarning):
        t = isoinit.simulate(mlp, X64, runs=2, seed=0, sampler="weights", grams=True)
    assert t.grams is not None
    at = int(t.diverged_at[0])
    assert np.all(np.isnan(t.grams[0, at:]))
    assert np.all(np.isfinite(t.grams[0, :at]))


def test_no_warning_without_divergence() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = isoinit.simulate(MLP(12, 64, "exp", "layer"), X64, runs=3, seed=0)
    assert np.all(t.diverged_at == -1)
    assert np.all(np.isfinite(t.gap))


def test_summary_skips_diverged_runs() -> None:
    with pytest.warns(isoinit.DivergenceWarning):
        t = isoinit.simulate(MLP(12, 64, "exp", "none"), X64, runs=3, seed=1)
    s = t.summary("gap")
    first = int(t.diverged_at.min())
    assert s["runs"].iloc[first] < 3


@pytest.mark.parametrize(
    ("which", "value"),
    [("bias", np.nan), ("bias", np.inf), ("weight", np.nan), ("weight", -np.inf)],
)
def test_forward_refuses_non_finite_weights_and_biases(which: str, value: float) -> None:
    mlp = MLP(2, 8, "relu", bias=0.1)
    ws = isoinit.network_weights(mlp, X.shape[1])
    w, b = ws[1]
    w, b = w.copy(), b.copy()
    if which == "bias":
        b[3] = value
    else:
        w[2, 5] = value
    ws[1] = (w, b)
    part = r"\[1\] \(b\)" if which == "bias" else r"\[0\] \(W\)"
    with pytest.raises(ValueError, match=rf"weights\[1\]{part} must be finite; got"):
        isoinit.forward(mlp, X, ws)


# --- scale safety -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mlp", "x"),
    [
        (MLP(3, 32, gain=1e300), X),
        (MLP(3, 32, "relu", "rms", gain=1e300), X),
        (MLP(3, 32, "relu", "layer", gain=1e300, order="norm-act"), X),
        (MLP(3, 32, "relu", "layer", gain=1e-300), X),
        (MLP(3, 32), X * 1e300),
        (MLP(3, 32), X * 1e-300),
        (MLP(3, 32), X * 1e-305),  # squares underflow
    ],
)
def test_scale_alone_does_not_break_a_normalized_network(mlp: MLP, x: np.ndarray) -> None:
    # relu is positively homogeneous and layer scaling removes the scale: same geometry as
    # at scale 1, up to rounding, with stages or without
    ref = isoinit.simulate(MLP(3, 32, "relu", mlp.norm, order=mlp.order), X, runs=3, seed=2, stages=True)
    for stages in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            t = isoinit.simulate(mlp, x, runs=3, seed=2, stages=stages)
        assert np.all(t.diverged_at == -1) and np.all(t.collapsed_at == -1)
        for name in ("isometry", "effective_rank", "stable_rank", "mean_abs_corr"):
            np.testing.assert_allclose(t.output(name), ref.output(name), rtol=EXTREME_SCALE_REL, err_msg=name)
        np.testing.assert_allclose(t.norm_bias[:, 1:], ref.norm_bias[:, 1:], rtol=EXTREME_SCALE_REL)


def test_batch_scaling_is_scale_safe() -> None:
    ref = isoinit.simulate(MLP(3, 32, "relu", "batch"), X, runs=2, seed=4)
    for gain in (1e300, 1e-300):
        t = isoinit.simulate(MLP(3, 32, "relu", "batch", gain=gain), X, runs=2, seed=4)
        assert np.all(t.diverged_at == -1)
        np.testing.assert_allclose(t.effective_rank, ref.effective_rank, rtol=EXTREME_SCALE_REL)


def test_unnormalized_tiny_representation_keeps_its_geometry() -> None:
    # no normalization, values ~1e-170: their squares underflow, the prescaled Gram does not
    ref = isoinit.simulate(MLP(2, 32, "identity", "none"), X, runs=2, seed=5, sampler="weights")
    t = isoinit.simulate(MLP(2, 32, "identity", "none", gain=1e-85), X, runs=2, seed=5, sampler="weights")
    assert np.all(t.collapsed_at == -1)
    np.testing.assert_allclose(t.effective_rank, ref.effective_rank, rtol=EXTREME_SCALE_REL)
