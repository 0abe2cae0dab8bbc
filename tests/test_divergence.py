"""Overflow is reported: a run stops at the layer where it diverged, later metrics are NaN,
and the call warns once with isoinit.DivergenceWarning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import isoinit

X = isoinit.inputs.degenerate(5, 64, 5.0, seed=0)


def test_exp_without_normalization_diverges() -> None:
    mlp = isoinit.MLP(12, 64, "exp", "none")
    with pytest.warns(isoinit.DivergenceWarning, match=r"runs broke down numerically \(first at layer \d+") as rec:
        t = isoinit.simulate(mlp, X, runs=4, seed=0, stages=True)
    assert len(rec) == 1
    assert np.all(t.diverged_at >= 1)
    for r, at in enumerate(t.diverged_at):
        assert np.all(np.isfinite(t.isometry[r, :at]))
        assert np.all(np.isnan(t.isometry[r, at:]))
        assert np.all(np.isnan(t.norm_bias[r, at:]))


def test_divergence_with_weights_sampler_and_grams() -> None:
    mlp = isoinit.MLP(12, 64, "exp", "none", gain=2.0)
    with pytest.warns(isoinit.DivergenceWarning):
        t = isoinit.simulate(mlp, X, runs=2, seed=0, sampler="weights", grams=True)
    assert t.grams is not None
    at = int(t.diverged_at[0])
    assert np.all(np.isnan(t.grams[0, at:]))
    assert np.all(np.isfinite(t.grams[0, :at]))


def test_no_warning_without_divergence() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = isoinit.simulate(isoinit.MLP(12, 64, "exp", "layer"), X, runs=3, seed=0)
    assert np.all(t.diverged_at == -1)
    assert np.all(np.isfinite(t.gap))


def test_summary_skips_diverged_runs() -> None:
    with pytest.warns(isoinit.DivergenceWarning):
        t = isoinit.simulate(isoinit.MLP(12, 64, "exp", "none"), X, runs=3, seed=1)
    s = t.summary("gap")
    first = int(t.diverged_at.min())
    assert s["runs"].iloc[first] < 3
