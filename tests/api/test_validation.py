"""Every bad input raises an error naming the parameter and the bad value: TypeError for a
wrong type, ValueError for a wrong value (one format, from isoinit._validate)."""

from __future__ import annotations

import numpy as np
import pytest

import isoinit

X = isoinit.inputs.gaussian(4, 8, seed=0)


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
    with pytest.raises(TypeError, match=r"mlp must be an isoinit\.MLP or a block network .*; got dict"):
        isoinit.simulate({"depth": 2}, X)  # type: ignore[arg-type]


def test_gram_sampler_with_orthogonal_weights_needs_room() -> None:
    mlp = isoinit.MLP(2, 3, "tanh", weights="orthogonal")
    x = isoinit.inputs.gaussian(6, 4, seed=0)
    with pytest.raises(ValueError, match="sampler 'gram' with orthogonal weights"):
        isoinit.simulate(mlp, x, sampler="gram")
    assert isoinit.simulate(mlp, x).sampler == "weights"  # auto falls back


def test_python_callable_activation_runs_in_the_engine_as_a_table() -> None:
    act = isoinit.activations.register("my_cube_test", lambda x: x**3, overwrite=True)
    traj = isoinit.simulate(isoinit.MLP(2, 8, act), X)  # tabulated (tests/test_tabulation.py)
    assert np.all(np.isfinite(traj.gap))


def test_core_rejects_bad_options_without_crashing() -> None:
    """The compiled layer validates on its own too: errors raised there (never inside the
    OpenMP region) come back as ValueError."""
    from isoinit import _core

    with pytest.raises(ValueError, match="sampler must be one of gram, weights; got 'x'"):
        _core.Config(activation="relu", widths=[4], sampler="x")
    with pytest.raises(ValueError, match="activation must be one of"):
        _core.Config(activation="nope", widths=[4])
    relu = _core.Config(activation="relu", widths=[4])
    with pytest.raises(ValueError, match="mf scaling needs one constant per block"):
        _core.simulate(X, 0, 0, 2, 0, _core.Config(activation="relu", widths=[4], scale="mf"))
    with pytest.raises(ValueError, match="runs must be >= 1"):
        _core.simulate(X, 0, 0, 0, 0, relu)
    with pytest.raises(ValueError, match="X must be finite"):
        bad = np.array([[np.nan, 1.0], [1.0, 1.0]])
        _core.simulate(bad, 0, 0, 1, 0, relu)


def test_state_is_not_corrupted_by_a_failed_call() -> None:
    good = isoinit.simulate(MLP, X, runs=3, seed=5)
    with pytest.raises(ValueError):
        isoinit.simulate(MLP, X, runs=3, seed=5, sampler="nope")  # type: ignore[arg-type]
    again = isoinit.simulate(MLP, X, runs=3, seed=5)
    np.testing.assert_array_equal(good.gap, again.gap)
