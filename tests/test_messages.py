"""Messages name the parameter as the user spelled it, the bad value and what is allowed
(issue 10, cause 9): register, forward's weights, and the command line's option names."""

from __future__ import annotations

import math

import numpy as np
import pytest

import isoinit
from isoinit import activations
from isoinit.cli import main


@pytest.mark.parametrize(
    ("fn", "error", "match"),
    [
        (math.tanh, TypeError, r"fn must be an elementwise, vectorized function.*raised TypeError.*np\.vectorize"),
        (lambda x: float(x), TypeError, "fn must be an elementwise, vectorized function.*raised TypeError"),
        (lambda x: 1.0 if x > 0 else 0.0, TypeError, "raised ValueError: The truth value"),
        (lambda x: None, TypeError, "it returned NoneType"),
        (lambda x: "abc", TypeError, "it returned str"),
        (lambda x: np.sum(x), ValueError, r"elementwise.*returned shape \(\)"),
        (lambda x: np.stack([x, x]), ValueError, r"returned shape \(2, 5\)"),
        (5, TypeError, "fn must be a callable"),
    ],
)
def test_register_non_vectorized(fn: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        activations.register("msg_test", fn, overwrite=True)  # type: ignore[arg-type]


M = isoinit.MLP(2, 4)
X = np.random.default_rng(0).standard_normal((3, 4))
EYE = np.eye(4)


@pytest.mark.parametrize(
    ("weights", "error", "match"),
    [
        ([EYE, EYE], TypeError, r"weights\[0\] must be a \(W, b\) pair \(a tuple of 2\); got ndarray"),
        ([(EYE,), (EYE,)], TypeError, r"weights\[0\] must be a \(W, b\) pair .*tuple of length 1"),
        ([(EYE, None, None), (EYE, None)], TypeError, r"weights\[0\] .*tuple of length 3"),
        ([(EYE, None)], ValueError, r"weights must be a list of 2 \(W, b\) pairs; got 1 entries"),
        (5, TypeError, r"weights must be a list of 2 \(W, b\) pairs; got 5"),
        ("ab", TypeError, r"weights must be a list of 2"),
        ([(EYE, None), ("a", None)], TypeError, r"weights\[1\]\[0\] \(W\) must be an array of real numbers"),
        ([(EYE, None), ([[1, 2], [3]], None)], TypeError, r"weights\[1\]\[0\] \(W\) must be an array"),
        ([(EYE, None), (EYE * np.nan, None)], ValueError, r"weights\[1\]\[0\] \(W\) must be finite"),
        ([(EYE, None), (EYE, ["x"])], TypeError, r"weights\[1\]\[1\] \(b\) must be an array of real numbers"),
        ([(EYE, None), (EYE[0], None)], ValueError, r"weights\[1\]\[0\] \(W\) must be 2-D"),
    ],
)
def test_forward_weights_messages(weights: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        isoinit.forward(M, X, weights)  # type: ignore[arg-type]


def test_forward_still_accepts_lists_and_none_biases() -> None:
    w = isoinit.network_weights(M, 4, seed=1)
    a = isoinit.forward(M, X, w).gap
    b = isoinit.forward(M, X, [[np.asarray(W), None] for W, _ in w]).gap
    np.testing.assert_array_equal(a, b)


NET = ["--depth", "2", "--width", "10"]


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["simulate", *NET, "--batch", "1"], "--batch must be an integer in [2,"),
        (["simulate", *NET, "--input-dim", "0"], "--input-dim must be an integer in [1,"),
        (["simulate", *NET, "--degeneracy", "0.5"], "--degeneracy must be >= 1"),
        (["simulate", *NET, "--input-seed", "-3"], "--input-seed must be an integer in [0,"),
        (["simulate", "--depth", "0", "--width", "10"], "--depth must be an integer in [1,"),
        (["simulate", "--depth", "2", "--width", "0"], "--width must be an integer in [1,"),
        (["simulate", *NET, "--gain", "nan"], "--gain must be a finite number"),
        (["simulate", *NET, "--bias", "-1"], "--bias must be >= 0"),
        (["simulate", *NET, "--eps", "inf"], "--eps must be a finite number"),
        (["simulate", *NET, "--activation", "rleu"], "--activation must be one of"),
        (["simulate", *NET, "--runs", "0"], "--runs must be an integer in [1,"),
        (["simulate", *NET, "--seed", "-1"], "--seed must be an integer in [0,"),
        (["simulate", *NET, "--threads", "0"], "--threads must be an integer in [1,"),
        (["meanfield", *NET, "--batch", "1"], "--batch must be"),
        (["meanfield", *NET, "--compare-runs", "1", "--threads", "0"], "--threads must be"),
        (["figure", "order", "--out", "OUT", "--size", "0"], "--size must be in (0, 10]"),
        (["figure", "order", "--out", "OUT", "--runs", "0"], "--runs must be an integer >= 1"),
        (["figure", "order", "--out", "OUT", "--seed", "-2"], "--seed must be an integer >= 0"),
        (["hermite", "tanh", "--k", "1001"], "--k must be an integer in [0, 1000]"),
    ],
)
def test_cli_messages_use_option_names(
    argv: list[str], option: str, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(tmp_path) if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"isoinit {argv[0]}: error: {option}" in err, err


def test_cli_sweep_options(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    toml = Path(str(tmp_path)) / "s.toml"
    toml.write_text("[grid]\ndepth = 2\nwidth = 5\n")
    for flag, value in (("--runs", "0"), ("--seed", "-1"), ("--threads", "0")):
        assert main(["sweep", str(toml), "--out", str(toml.with_suffix(".csv")), flag, value]) == 2
        assert f"error: {flag} must be an integer" in capsys.readouterr().err
