"""The result classes' shared view (isoinit.results): typed metric properties, summaries
with explicit infinite and NaN values, array-aware equality, pickling."""

from __future__ import annotations

import copy
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import isoinit
from isoinit.activations import Activation, from_hermite, resolve
from isoinit.metrics import METRICS
from isoinit.results import MetricsView, summarize
from isoinit.theory import meanfield
from isoinit.theory.meanfield import MeanFieldTrajectory
from tolerances import FEW_ULPS, ROUNDING

X = isoinit.inputs.gaussian(4, 8, seed=0)
COLUMNS = ["layer", "mean", "std", "median", "q10", "q90", "runs", "inf_runs"]


def _diverging(runs: int = 6) -> isoinit.Trajectory:
    """exp without normalization at gain 3 overflows at layer 2 or 3 in every run; at layer 2
    some runs are singular (gap +inf) and the others already NaN."""
    with pytest.warns(isoinit.DivergenceWarning):
        return isoinit.simulate(isoinit.MLP(6, 8, "exp", "none", gain=3.0), X, runs=runs, seed=0)


# ---------------------------------------------------------------------------------------
# typed metric properties
# ---------------------------------------------------------------------------------------


def test_every_metric_is_a_documented_property() -> None:
    for name in METRICS:
        prop = getattr(MetricsView, name, None)
        assert isinstance(prop, property), name
        assert prop.__doc__ and "Shape" in prop.__doc__, name
    # no attribute magic left: an unknown name is an ordinary AttributeError
    for cls in (isoinit.Trajectory, MeanFieldTrajectory):
        assert "__getattr__" not in vars(cls) and issubclass(cls, MetricsView)


@pytest.mark.parametrize("stages", [False, True])
def test_properties_are_the_metric_arrays(stages: bool) -> None:
    mlp = isoinit.MLP(3, 16, "tanh", "layer")
    results = [isoinit.simulate(mlp, X, runs=2, stages=stages), meanfield.trajectory(mlp, X)]
    for r in results:
        for name in METRICS:
            assert getattr(r, name) is r.metrics[name]
        assert r.depth == 3
        with pytest.raises(AttributeError, match="no_such_metric"):
            r.no_such_metric  # type: ignore[union-attr]  # noqa: B018


# ---------------------------------------------------------------------------------------
# summaries: finite values only, +inf counted, NaN left out
# ---------------------------------------------------------------------------------------


def test_summarize_rule_on_a_table() -> None:
    inf, nan = np.inf, np.nan
    a = np.array(
        [
            [1.0, 1.0, inf, nan],
            [2.0, inf, inf, nan],
            [3.0, nan, nan, nan],
            [4.0, 3.0, inf, 5.0],
        ]
    )
    s = summarize(a)
    assert list(s.columns) == COLUMNS
    assert list(s["runs"]) == [4, 2, 0, 1]
    assert list(s["inf_runs"]) == [0, 1, 3, 0]
    np.testing.assert_allclose(s["mean"][:2], [2.5, 2.0])
    np.testing.assert_allclose(s["std"][:2], [np.std([1, 2, 3, 4]), 1.0])
    np.testing.assert_allclose(s["median"][:2], [2.5, 2.0])
    np.testing.assert_allclose(s["q10"][:2], [1.3, 1.2])
    np.testing.assert_allclose(s["q90"][:2], [3.7, 2.8])
    # a layer with only +inf and NaN has no statistics, never inf
    assert s.loc[2, ["mean", "std", "median", "q10", "q90"]].isna().all()
    assert s.loc[3, "mean"] == 5.0 and s.loc[3, "std"] == 0.0
    assert not np.isinf(s[["mean", "std", "median", "q10", "q90"]].to_numpy()).any()
    with pytest.raises(ValueError, match=r"values must be 2-D"):
        summarize(np.ones(3))


def test_summary_of_singular_grams_counts_them() -> None:
    # batch centering of 4 samples: every Gram after a block has rank <= 3, gap +inf
    t = isoinit.simulate(isoinit.MLP(3, 8, "relu", "batch"), X, runs=5, seed=0)
    assert np.all(np.isposinf(t.gap[:, 1:]))
    s = t.summary("gap")
    assert list(s.columns) == COLUMNS
    assert list(s["runs"]) == [5, 0, 0, 0] and list(s["inf_runs"]) == [0, 5, 5, 5]
    assert s["mean"][1:].isna().all() and not np.isinf(s["mean"]).any()
    np.testing.assert_allclose(s["mean"][0], t.gap[0, 0])
    # the isometry of a singular Gram is 0, finite: it enters the statistics
    iso = t.summary("isometry")
    assert list(iso["runs"]) == [5, 5, 5, 5] and list(iso["inf_runs"]) == [0, 0, 0, 0]
    np.testing.assert_array_equal(iso["mean"][1:], 0.0)


def test_summary_mixes_finite_and_singular_runs() -> None:
    # relu at width 4 = n without normalization: some runs lose a feature (singular Gram);
    # with these runs of the weights sampler none collapses to the zero Gram
    t = isoinit.simulate(isoinit.MLP(3, 4, "relu", "none"), X, runs=20, seed=0, sampler="weights")
    s = t.summary("gap")
    inf_runs = np.isinf(t.gap).sum(axis=0)
    assert np.any((inf_runs > 0) & (inf_runs < 20)), "the configuration should mix singular and regular runs"
    for layer in range(4):
        col = t.gap[:, layer]
        fin = col[np.isfinite(col)]
        assert s["runs"][layer] == fin.size and s["inf_runs"][layer] == inf_runs[layer]
        assert s["mean"][layer] == pytest.approx(fin.mean(), rel=ROUNDING)
        assert s["std"][layer] == pytest.approx(fin.std(), rel=ROUNDING, abs=FEW_ULPS)
        assert s["median"][layer] == pytest.approx(np.median(fin), rel=ROUNDING)
        assert s["q90"][layer] == pytest.approx(np.quantile(fin, 0.9), rel=ROUNDING)


def test_summary_with_singular_and_diverged_runs() -> None:
    t = _diverging()
    s = t.summary("gap")
    nan_runs = np.isnan(t.gap).sum(axis=0)
    inf_runs = np.isinf(t.gap).sum(axis=0)
    assert np.any((inf_runs > 0) & (nan_runs > 0)), "a layer should hold both singular and diverged runs"
    np.testing.assert_array_equal(s["runs"] + s["inf_runs"] + nan_runs, t.runs)
    np.testing.assert_array_equal(s["inf_runs"], inf_runs)
    assert not np.isinf(s[["mean", "std", "median", "q10", "q90"]].to_numpy()).any()
    np.testing.assert_allclose(s["mean"][:2], t.gap[:, :2].mean(axis=0))


def test_meanfield_summary_is_one_run() -> None:
    mf = meanfield.trajectory(isoinit.MLP(4, 16, "tanh", "layer"), X)
    s = mf.summary("gap")
    assert list(s.columns) == COLUMNS
    for col in ("mean", "median", "q10", "q90"):
        np.testing.assert_array_equal(s[col], mf.gap)
    np.testing.assert_array_equal(s["std"], 0.0)
    assert list(s["runs"]) == [1] * 5 and list(s["inf_runs"]) == [0] * 5
    with pytest.warns(isoinit.DivergenceWarning):
        broken = meanfield.trajectory(isoinit.MLP(8, 16, "exp", "none", gain=3.0), X)
    s = broken.summary("potential")
    k = broken.diverged_at
    assert k > 0 and list(s["runs"][k:]) == [0] * (9 - k) and s["mean"][k:].isna().all()


# ---------------------------------------------------------------------------------------
# equality
# ---------------------------------------------------------------------------------------


def test_equal_simulations_compare_equal() -> None:
    mlp = isoinit.MLP(3, 16, "tanh", "layer")
    a = isoinit.simulate(mlp, X, runs=3, seed=4, grams=True)
    b = isoinit.simulate(mlp, X, runs=3, seed=4, grams=True)
    assert a == b and not (a != b)
    assert a != isoinit.simulate(mlp, X, runs=3, seed=5, grams=True)
    assert a != isoinit.simulate(mlp, X, runs=3, seed=4)  # no grams
    assert a != isoinit.simulate(isoinit.MLP(3, 16, "relu", "layer"), X, runs=3, seed=4, grams=True)
    assert a != "a trajectory" and a != meanfield.trajectory(mlp, X)
    with pytest.raises(TypeError, match="unhashable"):
        hash(a)


def test_diverged_results_equal_themselves() -> None:
    # NaN metrics compare equal (equal_nan)
    a, b = _diverging(), _diverging()
    assert np.isnan(a.gap).any() and a == b


def test_meanfield_equality() -> None:
    mlp = isoinit.MLP(3, 16, "tanh", "layer")
    a, b = meanfield.trajectory(mlp, X), meanfield.trajectory(mlp, X)
    assert a == b
    assert a != meanfield.trajectory(mlp, isoinit.inputs.gaussian(4, 8, seed=1))
    assert a != meanfield.trajectory(isoinit.MLP(3, 16, "tanh", "rms"), X)
    with pytest.raises(TypeError, match="unhashable"):
        hash(a)


# ---------------------------------------------------------------------------------------
# pickling
# ---------------------------------------------------------------------------------------

ACTIVATIONS = [
    "relu",
    "leaky_relu(0.2)",
    "leaky_relu(0.123456789012)",  # the exact slope, not its rounded display name
    "he3",
    resolve("leaky_relu(0.2)"),
    from_hermite([0.1, 1.0, 0.3]),
]


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: a if isinstance(a, str) else a.name)
def test_pickle_round_trip(activation: str | isoinit.activations.Activation) -> None:
    mlp = isoinit.MLP(3, 16, activation, "layer", gain=1.5)
    for result in (
        isoinit.simulate(mlp, X, runs=2, seed=3, stages=True, grams=True),
        meanfield.trajectory(mlp, X),
    ):
        back = pickle.loads(pickle.dumps(result))
        assert type(back) is type(result) and back == result
        assert back.network == result.network and back.network.act == result.network.act
        assert repr(back.network) == repr(result.network)
        for name in METRICS:
            np.testing.assert_array_equal(getattr(back, name), getattr(result, name))
        np.testing.assert_array_equal(back.grams, result.grams)  # type: ignore[arg-type]
        # the rebuilt activation computes the same function
        z = np.linspace(-3, 3, 13)
        np.testing.assert_array_equal(back.network.act(z), result.network.act(z))
        assert copy.deepcopy(result) == result


def test_pickle_keeps_divergence_and_simulation_fields() -> None:
    t = _diverging(runs=3)
    back = pickle.loads(pickle.dumps(t))
    assert back == t and back.seed == t.seed and back.sampler == t.sampler
    np.testing.assert_array_equal(back.diverged_at, t.diverged_at)
    # the rebuilt configuration simulates the same numbers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", isoinit.DivergenceWarning)
        again = isoinit.simulate(back.network, X, runs=3, seed=0)
    assert again == t
    assert isinstance(back.summary("gap"), pd.DataFrame)


def test_pickle_of_a_python_callable_activation() -> None:
    # a user activation runs only in the theory; it is pickled as is, which works when its
    # function pickles (a NumPy ufunc here) and fails loudly when it does not (a lambda)
    square = Activation(name="square", base="square", param=None, fn=np.square)
    mf = meanfield.trajectory(isoinit.MLP(3, 16, square, "layer"), X)
    back = pickle.loads(pickle.dumps(mf))
    assert back == mf and back.network.act == square
    cube = Activation(name="cube", base="cube", param=None, fn=lambda x: x**3)
    with pytest.raises((pickle.PicklingError, AttributeError), match="lambda"):
        pickle.dumps(meanfield.trajectory(isoinit.MLP(3, 16, cube, "layer"), X))


def test_plot_refuses_what_is_not_axes(tmp_path: Path) -> None:
    """A file name where the axes go (``plot("out.png")``) is named in a TypeError, not an
    AttributeError from inside Matplotlib's caller."""
    traj = isoinit.simulate(isoinit.MLP(2, 8), isoinit.inputs.gaussian(3, 8), runs=2)
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        traj.plot("gap", ax=str(tmp_path / "out.png"))
    comparison = isoinit.compare(isoinit.MLP(2, 8), isoinit.inputs.gaussian(3, 8), runs=2)
    with pytest.raises(TypeError, match=r"ax must be a matplotlib Axes.*got str"):
        comparison.plot(str(tmp_path / "out.png"))
