"""compare() for block networks: the simulation, the mean field where one exists, and for
bidirectional attention the REM recursion, in one table and one plot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import isoinit
from isoinit.blocks import Attention, Network

X = isoinit.inputs.degenerate(8, 64, 5.0, seed=0)


def test_residual_mlp_has_simulation_and_mean_field_and_says_why_no_prediction() -> None:
    c = isoinit.compare(isoinit.ResidualMLP(4, 64), X, runs=3)
    frame = c.to_frame()
    assert set(frame["source"]) == {"simulation", "meanfield"}
    assert c.prediction is None and c.prediction_reason
    sim = frame[(frame.source == "simulation") & (frame.quantity == "gap")]["mean"].to_numpy()
    np.testing.assert_allclose(sim, c.simulation.output("gap").mean(axis=0))
    ax = c.plot()
    assert any(line.get_linestyle() == "--" for line in ax.get_lines())  # the mean field


def test_transformer_has_the_rem_recursion_beside_simulation_and_mean_field() -> None:
    net = isoinit.Transformer(3, 64, heads=4, norm_position="post", qk_gain=1.5)
    c = isoinit.compare(net, X, runs=3)
    frame = c.to_frame()
    assert {"simulation", "rem"} <= set(frame["source"])
    rem = frame[frame.source == "rem"]
    assert (rem["quantity"] == "mean_abs_corr").all() and len(rem) == net.depth + 1
    assert isinstance(c.prediction, isoinit.bounds.AttentionPrediction)
    np.testing.assert_allclose(rem["mean"].to_numpy(), c.prediction.rem(float(rem["mean"].iloc[0])))
    sim0 = c.simulation.output("mean_abs_corr")[:, 0].mean()
    assert rem["mean"].iloc[0] == pytest.approx(sim0)
    ax = c.plot(metric="mean_abs_corr")
    assert any("REM" in str(line.get_label()) for line in ax.get_lines())


def test_causal_attention_has_no_rem_and_says_why() -> None:
    net = Network(64, [Attention(heads=4, causal=True)] * 2)
    c = isoinit.compare(net, X, runs=2)
    assert c.rem is None and "causal" in c.prediction_reason
    assert "simulation" in set(c.to_frame()["source"])
