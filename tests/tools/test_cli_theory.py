"""``isoinit hermite`` and ``isoinit meanfield``: what they print, their errors and help."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import isoinit
from isoinit.cli import main
from isoinit.theory import hermite, meanfield
from tolerances import (
    PRINTED_DECIMALS_4_ABS,
    PRINTED_DECIMALS_4_HALF_ABS,
    PRINTED_DECIMALS_6_ABS,
    PRINTED_SIGNIFICANT_4_REL,
)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def value(out: str, label: str) -> float:
    """The number at the end of the line that starts with ``label``."""
    line = next(line for line in out.splitlines() if line.startswith(label))
    return float(line.split()[-1])


def table(out: str, first: str) -> list[list[str]]:
    """The rows after the header line whose first word is ``first``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first])
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("#") or not line.strip():
            break
        rows.append(line.split())
    return rows


def test_hermite_relu_prints_beta0_and_the_contraction_factor(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["hermite", "relu"], capsys)
    assert code == 0
    assert re.search(r"^beta0 = .* 0\.7335$", out, re.M)
    assert re.search(r"^contraction factor 1 / \(2 - beta0\) +0\.7896$", out, re.M)
    assert value(out, "E sigma^2") == pytest.approx(0.5, abs=PRINTED_DECIMALS_4_ABS)
    assert value(out, "c_0 = E sigma") == pytest.approx(1 / np.sqrt(2 * np.pi), abs=PRINTED_DECIMALS_4_ABS)
    coeffs = table(out, "k")
    assert [int(r[0]) for r in coeffs] == list(range(11))
    np.testing.assert_allclose(
        [float(r[1]) for r in coeffs], hermite.coefficients("relu", 10), atol=PRINTED_DECIMALS_4_HALF_ABS
    )
    kernels = table(out, "rho")
    rho = [float(r[0]) for r in kernels]
    assert rho == [0.0, 0.25, 0.5, 0.75, 0.9, 0.99]
    np.testing.assert_allclose(
        [float(r[1]) for r in kernels], hermite.centered_kernel("relu", rho), atol=PRINTED_DECIMALS_4_HALF_ABS
    )
    np.testing.assert_allclose(
        [float(r[2]) for r in kernels], hermite.dual_kernel("relu", rho), atol=PRINTED_DECIMALS_4_HALF_ABS
    )
    np.testing.assert_allclose(
        [float(r[3]) for r in kernels], hermite.rms_kernel("relu", rho), atol=PRINTED_DECIMALS_4_HALF_ABS
    )


def test_hermite_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["hermite", "tanh", "--gain", "2", "--k", "3", "--rho", "0.5,1", "--digits", "6"], capsys)
    assert code == 0
    assert len(table(out, "k")) == 4
    assert value(out, "beta0") == pytest.approx(hermite.beta0("tanh", 2.0), abs=PRINTED_DECIMALS_6_ABS)
    assert value(out, "contraction factor") == pytest.approx(
        hermite.contraction_factor("tanh", 2.0), abs=PRINTED_DECIMALS_6_ABS
    )
    assert [r[0] for r in table(out, "rho")] == ["0.5", "1"]
    # he2 is maximally non-linear: beta0 = 0 and the potential halves per layer
    code, out, _ = run(["hermite", "he2", "--k", "4"], capsys)
    assert value(out, "beta0") == 0 and value(out, "contraction factor") == 0.5


def test_hermite_constant_activation_says_beta0_is_undefined(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["hermite", "he0", "--k", "2"], capsys)
    assert code == 0
    assert "beta0 and kbar are undefined" in out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["hermite", "rleu"], r"activation must be one of .*got 'rleu'"),
        (["hermite", "relu", "--k", "-1"], r"--k must be .*got -1"),
        (["hermite", "relu", "--rho", "0.5,2"], r"--rho must be .*got '0.5,2'"),
        (["hermite", "relu", "--gain", "nan"], r"--gain must be a finite number"),
        (["meanfield", "--norm", "batch", "--depth", "2"], r"batch normalization"),
        (["meanfield", "--activation", "rleu"], r"activation must be one of .*got 'rleu'"),
        (["meanfield", "--compare-runs", "-1"], r"--compare-runs must be >= 0"),
    ],
)
def test_bad_input_exits_2_naming_the_parameter(
    argv: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(argv, capsys)
    assert code == 2
    assert re.search(match, err), err
    assert err.startswith(f"isoinit {argv[0]}: error:")


def test_meanfield_prints_the_infinite_width_trajectory(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "--activation",
        "relu",
        "--norm",
        "layer",
        "--depth",
        "6",
        "--width",
        "200",
        "--batch",
        "8",
        "--degeneracy",
        "100",
    ]
    code, out, _ = run(["meanfield", *argv], capsys)
    assert code == 0
    assert "infinite-width" in out and "after normalization" in out
    rows = table(out, "layer")
    assert [int(r[0]) for r in rows] == list(range(7)) and all(len(r) == 4 for r in rows)
    x = isoinit.inputs.degenerate(8, 200, 100, seed=0)
    mf = meanfield.trajectory(isoinit.MLP(6, 200, "relu", "layer"), x)
    np.testing.assert_allclose([float(r[1]) for r in rows], mf.gap, rtol=PRINTED_SIGNIFICANT_4_REL)
    np.testing.assert_allclose([float(r[2]) for r in rows], mf.isometry, rtol=PRINTED_SIGNIFICANT_4_REL)
    np.testing.assert_allclose([float(r[3]) for r in rows], mf.potential, rtol=PRINTED_SIGNIFICANT_4_REL)


def test_meanfield_compare_runs_prints_the_simulated_gap(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    csv = tmp_path / "mf.csv"
    argv = [
        "meanfield",
        "--activation",
        "tanh",
        "--order",
        "norm-act",
        "--depth",
        "4",
        "--width",
        "100",
        "--batch",
        "6",
        "--compare-runs",
        "5",
        "--seed",
        "2",
        "--quiet",
        "--csv",
        str(csv),
    ]
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert "after the activation" in out and "5 runs, seed 2" in out
    rows = table(out, "layer")
    assert all(len(r) == 6 for r in rows)
    mlp = isoinit.MLP(4, 100, "tanh", order="norm-act")
    x = isoinit.inputs.degenerate(6, 100, 100, seed=0)
    sim = isoinit.simulate(mlp, x, runs=5, seed=2).summary("gap")
    np.testing.assert_allclose([float(r[4]) for r in rows], sim["mean"], rtol=PRINTED_SIGNIFICANT_4_REL)
    frame = pd.read_csv(csv)
    assert list(frame["layer"]) == list(range(5))
    np.testing.assert_allclose(frame["sim_gap_mean"], sim["mean"])
    np.testing.assert_allclose(frame["gap"], meanfield.trajectory(mlp, x).gap)


@pytest.mark.parametrize("command", ["hermite", "meanfield"])
def test_help_has_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"isoinit {command}" in out
    if command == "meanfield":
        assert "--compare-runs" in out and "--degeneracy" in out
    else:
        assert "1 / (2 - beta0)" in out or "1/(2 - beta0)" in out
