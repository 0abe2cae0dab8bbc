"""The isoinit simulate command: table, CSV, plot, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import isoinit
from isoinit.cli import main
from tolerances import PRINTED_SIGNIFICANT_4_REL, ROUNDING

ARGS = [
    "simulate",
    "--activation",
    "relu",
    "--norm",
    "layer",
    "--depth",
    "6",
    "--width",
    "200",
    "--batch",
    "5",
    "--degeneracy",
    "10",
    "--runs",
    "4",
    "--seed",
    "3",
    "--quiet",
]


def test_table_csv_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv, png = tmp_path / "t.csv", tmp_path / "t.png"
    assert main([*ARGS, "--csv", str(csv), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line and not line.startswith("#")][1:]
    assert [int(r[0]) for r in rows] == list(range(7))
    # the printed means are the simulator's own numbers
    x = isoinit.inputs.degenerate(5, 200, 10.0, seed=0)
    t = isoinit.simulate(isoinit.MLP(6, 200, "relu", "layer"), x, runs=4, seed=3)
    np.testing.assert_allclose([float(r[1]) for r in rows], t.gap.mean(0), rtol=PRINTED_SIGNIFICANT_4_REL)
    frame = pd.read_csv(csv)
    assert len(frame) == 4 * 7 and {"run", "layer", "gap", "isometry", "activation"} <= set(frame.columns)
    np.testing.assert_allclose(frame.sort_values(["run", "layer"]).gap.to_numpy(), t.gap.reshape(-1), rtol=ROUNDING)
    assert png.stat().st_size > 5000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_option_exits_with_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--activation", "rleu", "--depth", "2", "--width", "10", "--quiet"]) == 2
    assert "activation must be one of" in capsys.readouterr().err
    assert main(["simulate", "--runs", "0", "--depth", "2", "--width", "10", "--quiet"]) == 2
    assert "runs must be" in capsys.readouterr().err


def test_info(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "openmp:" in out and "kernels:" in out


def test_option_choices_come_from_the_library() -> None:
    """The choices of the network options are the configuration's Literal types."""
    from typing import get_args

    from isoinit.cli import build_parser
    from isoinit.networks.blocks import Architecture, Init, Position
    from isoinit.networks.mlp import Centering, Norm, Order, Scaling, Weights
    from isoinit.simulate import Dtype, Sampler

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    simulate = sub.choices["simulate"]  # type: ignore[index]
    choices = {a.dest: a.choices for a in simulate._actions if a.choices is not None}
    assert choices == {
        "norm": get_args(Norm),
        "center": get_args(Centering),
        "scale": get_args(Scaling),
        "order": get_args(Order),
        "weights": get_args(Weights),
        "sampler": get_args(Sampler),
        "architecture": get_args(Architecture),
        "norm_position": get_args(Position),
        "init": get_args(Init),
        "dtype": get_args(Dtype),
        "preset": sorted(isoinit.presets.PRESETS),
    }
    help_text = simulate.format_help()
    assert all(name in help_text for name in isoinit.activations.available())


def test_singular_layers_are_counted_not_averaged(capsys: pytest.CaptureFixture[str]) -> None:
    # batch centering makes every batch Gram exactly singular: the gap is +inf in every run
    assert main(["simulate", "--norm", "batch", "--depth", "2", "--width", "30", "--runs", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "singular" in out
    rows = [line.split() for line in out.splitlines() if line and not line.startswith(("#", "layer"))]
    assert [r[1] for r in rows[1:]] == ["inf", "inf"]
    assert [r[-1] for r in rows] == ["0", "3", "3"]


def test_several_values_per_network_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv, png = tmp_path / "m.csv", tmp_path / "m.png"
    args = ["simulate", "--depth", "3", "--width", "30", "--batch", "4", "--runs", "2", "--quiet"]
    multi = ["--activation", "relu", "tanh", "--norm", "layer", "batch"]
    assert main([*args, *multi, "--csv", str(csv), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    heads = [line for line in out.splitlines() if line.startswith("# ") and "runs, seed" in line]
    assert [h.split(";")[0] for h in heads] == [
        "# relu, layer norm, act-norm",
        "# relu, batch norm, act-norm",
        "# tanh, layer norm, act-norm",
        "# tanh, batch norm, act-norm",
    ]
    frame = pd.read_csv(csv)
    assert len(frame) == 4 * 2 * 4 and sorted(set(frame["config"])) == [0, 1, 2, 3]
    assert {
        "activation",
        "norm",
        "center",
        "scale",
        "order",
        "norm_position",
        "depth",
        "width",
        "gain",
        "bias",
        "weights",
        "eps",
    } <= set(frame.columns)
    tanh_batch = frame[(frame.activation == "tanh") & (frame["norm"] == "batch")]
    x = isoinit.inputs.degenerate(4, 30, 100.0, seed=0)
    t = isoinit.simulate(isoinit.MLP(3, 30, "tanh", "batch"), x, runs=2)
    np.testing.assert_array_equal(tanh_batch.sort_values(["run", "layer"]).gap.to_numpy(), t.gap.reshape(-1))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a bad value among several is named like a single one
    assert main([*args, "--activation", "relu", "rleu"]) == 2
    assert "activation must be one of" in capsys.readouterr().err
