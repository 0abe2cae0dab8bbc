"""Sweeps run every activation ``simulate`` runs: a registered Python callable as its table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import isoinit
from isoinit import activations, sweeps

INPUTS = dict(kind="degenerate", n=5, degeneracy=10, seed=0)


@pytest.fixture
def softsign() -> Iterator[str]:
    """A registered callable with a kink at 0 (unregistered afterwards: the registry is process-wide)."""
    activations.register("sweep_softsign", lambda x: x / (1.0 + np.abs(x)), kinks=[0.0], overwrite=True)
    yield "sweep_softsign"
    activations._USER.pop("sweep_softsign", None)


def test_sweep_runs_a_registered_callable_as_simulate_does(softsign: str) -> None:
    grid = {"activation": [softsign, "tanh"], "norm": ["layer", "none"], "depth": 3, "width": 16}
    df = sweeps.sweep(grid, inputs=INPUTS, runs=2, seed=4, progress=False)
    assert set(df["activation"]) == {softsign, "tanh"}
    x = sweeps.make_inputs(INPUTS, 16)
    for norm in ("layer", "none"):
        rows = df[(df["activation"] == softsign) & (df["norm"] == norm)].sort_values(["run", "layer"])
        traj = isoinit.simulate(isoinit.MLP(3, 16, softsign, norm), x, runs=2, seed=4)
        np.testing.assert_array_equal(rows["gap"].to_numpy(), traj.gap.reshape(-1))
        np.testing.assert_array_equal(rows["isometry"].to_numpy(), traj.isometry.reshape(-1))


def test_a_sweep_file_names_a_registered_callable(softsign: str, tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        f"[sweep]\nruns = 1\n[inputs]\nn = 5\n[grid]\ndepth = 2\nwidth = 12\nactivation = ['{softsign}', 'relu']\n"
    )
    configs, options = sweeps.from_toml(path)
    df = sweeps.sweep(configs, progress=False, **options)
    assert list(df.groupby("config")["activation"].first()) == [softsign, "relu"]
    assert np.all(np.isfinite(df["gap"].to_numpy()[df["layer"].to_numpy() > 0]))


def test_an_unknown_activation_is_still_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"activation must be one of .*; got 'no_such_activation'"):
        sweeps.sweep({"activation": "no_such_activation", "depth": 2, "width": 8}, inputs=INPUTS, progress=False)
