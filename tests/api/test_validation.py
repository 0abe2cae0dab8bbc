"""Every bad input raises an error naming the parameter as the user spelled it, the bad value
and what is allowed: TypeError for a wrong type, ValueError for a wrong value (one format, from
isoinit._validate). Covered: MLP, simulate, forward's weights, activations.register and the
command line's option names; a failed call leaves no state behind. (The compiled entry points'
own checks: tests/core/test_core_boundary.py.)"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import isoinit
from isoinit import activations
from isoinit.cli import main

X = isoinit.inputs.gaussian(4, 8, seed=0)


# --- MLP and simulate --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(depth=0), r"depth must be .*got 0"),
        (dict(depth=10**9), r"depth must be .*got 1000000000"),
        (dict(width=0), r"width must be .*got 0"),
        (dict(width=-3), r"width must be .*got -3"),
        (dict(width=(4, 5)), r"width must be .*depth=3.*got 2 widths"),
        (dict(width=(4, 0, 5)), r"width must be .*got 0"),
        (dict(activation="rleu"), r"activation must be one of .*relu.*got 'rleu'"),
        (dict(activation="relu(2)"), r"activation 'relu' takes no parameter"),
        (dict(activation="elu(-1)"), r"alpha must be finite and > 0; got 'elu\(-1\)'"),
        (dict(activation="he31"), r"heK.*got 'he31'"),
        (dict(norm="lyaer"), r"norm must be one of layer, rms, batch, center, mf, none; got 'lyaer'"),
        (dict(center="row"), r"center must be one of none, layer, batch, mf; got 'row'"),
        (dict(scale="std"), r"scale must be one of none, layer, batch, mf; got 'std'"),
        (dict(order="norm-then-act"), r"order must be one of act-norm, norm-act; got 'norm-then-act'"),
        (dict(weights="uniform"), r"weights must be one of gaussian, orthogonal; got 'uniform'"),
        (dict(gain=-1.0), r"gain must be >= 0; got -1.0"),
        (dict(gain=float("nan")), r"gain must be a finite number >= 0; got nan"),
        (dict(bias=-0.1), r"bias must be >= 0; got -0.1"),
        (dict(eps=-1e-5), r"eps must be >= 0; got -1e-05"),
    ],
)
def test_bad_mlp(kwargs: dict, match: str) -> None:
    args = {"depth": 3, "width": 8} | kwargs
    with pytest.raises(ValueError, match=match):
        isoinit.MLP(**args)


MLP = isoinit.MLP(2, 8)


@pytest.mark.parametrize(
    ("x", "kwargs", "match"),
    [
        (np.array([[1.0, np.nan], [1.0, 2.0]]), {}, r"X must be finite; got nan at X\[0, 1\]"),
        (np.array([[1.0, 2.0], [np.inf, 2.0]]), {}, r"X must be finite; got inf at X\[1, 0\]"),
        (np.ones(5), {}, r"X must be 2-D.*got ndim=1"),
        (np.ones((2, 3, 4)), {}, r"X must be 2-D.*got ndim=3"),
        (np.ones((1, 5)), {}, r"n >= 2 .*got n=1"),
        (np.array([[1.0, 2.0], [0.0, 0.0]]), {}, r"no all-zero row.*row 1"),
        (X, dict(runs=0), r"runs must be an integer in \[1, .*got 0"),
        (X, dict(seed=-1), r"seed must be .*got -1"),
        (X, dict(sampler="fast"), r"sampler must be one of auto, gram, weights; got 'fast'"),
        (X, dict(threads=0), r"threads must be .*got 0"),
    ],
)
def test_bad_simulate_args(x: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        isoinit.simulate(MLP, x, **kwargs)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: isoinit.MLP(2.5, 8), r"depth must be an integer in \[1, 100000\]; got 2.5"),
        (lambda: isoinit.MLP(3, "8"), r"width must be an integer .*; got '8'"),
        (lambda: isoinit.MLP(3, 8, norm=1), r"norm must be one of layer, .*; got 1"),
        (lambda: isoinit.MLP(3, 8, gain="1"), r"gain must be a finite number >= 0; got '1'"),
        (lambda: isoinit.MLP(3, 8, gain=True), r"gain must be a finite number >= 0; got True"),
        (lambda: isoinit.simulate(MLP, np.array([["a", "b"], ["c", "d"]])), r"X must be an array of real numbers"),
        (lambda: isoinit.simulate(MLP, [[1.0, 2.0], [3.0]]), r"X must be an array of real numbers; got list"),
        (lambda: isoinit.simulate(MLP, X, runs=2.0), r"runs must be an integer .*; got 2.0"),
        (lambda: isoinit.simulate(MLP, X, seed="0"), r"seed must be an integer .*; got '0'"),
        (lambda: isoinit.simulate(MLP, X, stages="yes"), r"stages must be True or False; got 'yes'"),
        (lambda: isoinit.simulate(MLP, X, grams=1), r"grams must be True or False; got 1"),
        (lambda: isoinit.simulate(MLP, X, sampler=None), r"sampler must be one of auto, gram, weights; got None"),
        (lambda: isoinit.inputs.degenerate(4, 8, "100"), r"degeneracy must be a finite number >= 1; got '100'"),
    ],
)
def test_wrong_types_raise_type_error(call: object, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        call()  # type: ignore[operator]


def test_bad_mlp_argument() -> None:
    with pytest.raises(TypeError, match=r"network must be an isoinit\.MLP or a block network .*; got dict"):
        isoinit.simulate({"depth": 2}, X)  # type: ignore[arg-type]


def test_gram_sampler_with_orthogonal_weights_needs_room() -> None:
    mlp = isoinit.MLP(2, 3, "tanh", weights="orthogonal")
    x = isoinit.inputs.gaussian(6, 4, seed=0)
    with pytest.raises(ValueError, match="sampler 'gram' with orthogonal weights"):
        isoinit.simulate(mlp, x, sampler="gram")
    with pytest.warns(isoinit.SingularInputWarning):  # n = 6 > d = 4
        assert isoinit.simulate(mlp, x).sampler == "weights"  # auto falls back


def test_python_callable_activation_runs_in_the_kernel_as_a_table() -> None:
    act = isoinit.activations.register("my_cube_test", lambda x: x**3, overwrite=True)
    traj = isoinit.simulate(isoinit.MLP(2, 8, act), X)  # tabulated (tests/api/test_tabulation.py)
    assert np.all(np.isfinite(traj.gap))


# --- activations.register ------------------------------------------------------------------


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


# --- forward's weights ---------------------------------------------------------------------

FWD_MLP = isoinit.MLP(2, 4)
FWD_X = np.random.default_rng(0).standard_normal((3, 4))
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
        isoinit.forward(FWD_MLP, FWD_X, weights)  # type: ignore[arg-type]


def test_forward_still_accepts_lists_and_none_biases() -> None:
    w = isoinit.network_weights(FWD_MLP, 4, seed=1)
    a = isoinit.forward(FWD_MLP, FWD_X, w).gap
    b = isoinit.forward(FWD_MLP, FWD_X, [[np.asarray(W), None] for W, _ in w]).gap
    np.testing.assert_array_equal(a, b)


# --- the command line: option names ---------------------------------------------------------

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
    toml = Path(str(tmp_path)) / "s.toml"
    toml.write_text("[grid]\ndepth = 2\nwidth = 5\n")
    for flag, value in (("--runs", "0"), ("--seed", "-1"), ("--threads", "0")):
        assert main(["sweep", str(toml), "--out", str(toml.with_suffix(".csv")), flag, value]) == 2
        assert f"error: {flag} must be an integer" in capsys.readouterr().err


# --- after a failed call --------------------------------------------------------------------


def test_state_is_not_corrupted_by_a_failed_call() -> None:
    good = isoinit.simulate(MLP, X, runs=3, seed=5)
    with pytest.raises(ValueError):
        isoinit.simulate(MLP, X, runs=3, seed=5, sampler="nope")  # type: ignore[arg-type]
    again = isoinit.simulate(MLP, X, runs=3, seed=5)
    np.testing.assert_array_equal(good.gap, again.gap)
