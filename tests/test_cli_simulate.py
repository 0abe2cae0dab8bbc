"""The isoinit simulate command: table, CSV, plot, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import isoinit
from isoinit.cli import main

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
    np.testing.assert_allclose([float(r[1]) for r in rows], t.gap.mean(0), rtol=1e-3)
    frame = pd.read_csv(csv)
    assert len(frame) == 4 * 7 and {"run", "layer", "gap", "isometry", "activation"} <= set(frame.columns)
    np.testing.assert_allclose(frame.sort_values(["run", "layer"]).gap.to_numpy(), t.gap.reshape(-1), rtol=1e-12)
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
