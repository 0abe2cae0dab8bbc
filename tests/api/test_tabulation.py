"""A user callable in the simulator: its table (isoinit.activations.tabulate) against the
callable, and the simulation against the NumPy forward pass of the callable itself."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import isoinit
from isoinit import activations
from isoinit.activations import TABLE_WARN, Tabulation, tabulate
from reference import simulated_and_reference
from tolerances import (
    FEW_ULPS,
    FORWARD_REL,
    ROUNDING,
    TABLE_BETWEEN_CHECKS,
    TABLE_PER_ACT,
    TABLE_PER_LAYER,
    TABLE_SMOOTH_MAX_ERROR,
)


def x_tanh(x: np.ndarray) -> np.ndarray:
    return x * np.tanh(x)


def abs_shifted(x: np.ndarray) -> np.ndarray:
    return np.abs(x) - 0.5


def relu_at_03(x: np.ndarray) -> np.ndarray:
    return np.maximum(x - 0.3, 0.0)


#: (name, function, declared kinks): smooth, kinked with its kink declared, and the same
#: kink undeclared (its table is inaccurate near 0.3, which must be reported).
CASES = {
    "tab_xtanh": (x_tanh, ()),
    "tab_abs": (abs_shifted, (0.0,)),
    "tab_relu03": (relu_at_03, (0.3,)),
    "tab_relu03_undeclared": (relu_at_03, ()),
}


def registered(name: str) -> activations.Activation:
    fn, kinks = CASES[name]
    return activations.register(name, fn, kinks=kinks, overwrite=True)  # a fresh table each time


@pytest.mark.parametrize("name", CASES)
def test_table_error_is_measured_and_honest(name: str) -> None:
    act = registered(name)
    tab = act.tabulation
    assert isinstance(tab, Tabulation) and tab is tabulate(act)  # cached
    assert tab.lo <= -16.0 and tab.hi >= 16.0 and tab.packed.size == 8 + 6 * tab.cells
    if name.endswith("undeclared"):
        assert tab.max_error > TABLE_WARN and abs(tab.worst_x - 0.3) <= tab.cell
        assert tab.kinks_on_knots == ()
    else:
        assert tab.max_error <= TABLE_SMOOTH_MAX_ERROR
        assert tab.kinks_on_knots == act.kinks
    # max_error bounds the error between its check points too (random points, exact kinks)
    x = np.concatenate([np.random.default_rng(1).uniform(tab.lo, tab.hi, 200_000), act.kinks])
    ref = act(x)
    err = np.abs(tab(x) - ref) / np.maximum(1.0, np.abs(ref))
    assert err.max() <= TABLE_BETWEEN_CHECKS * tab.max_error + FEW_ULPS
    # tails: the tangent lines of the ends, NaN through
    slope_hi = (tab([tab.hi + 2.0])[0] - tab([tab.hi + 1.0])[0]) / 1.0
    assert tab([tab.hi + 1.0])[0] == pytest.approx(act([tab.hi])[0] + slope_hi, abs=ROUNDING)
    assert np.isnan(tab([np.nan])[0])


@pytest.mark.parametrize("spec", [*activations.BUILTIN, "leaky_relu(0.2)", "elu(0.5)", "he3", "he5"])
def test_every_builtin_tabulates_to_rounding(spec: str) -> None:
    """The built-ins as if they were callables: smooth ones, kinked ones (declared) and the
    discontinuous step and sign (jump on a knot; the interpolation nodes are interior)."""
    tab = tabulate(spec)
    assert tab.max_error <= TABLE_SMOOTH_MAX_ERROR, (spec, tab.max_error, tab.worst_x)


def test_incommensurate_kinks_all_on_knots() -> None:
    act = activations.register(
        "tab_two_kinks", lambda x: np.maximum(x, 0) - 0.5 * np.maximum(x - 0.3, 0), kinks=[0, 0.3], overwrite=True
    )
    tab = tabulate(act)
    assert tab.kinks_on_knots == (0.0, 0.3) and tab.max_error <= TABLE_SMOOTH_MAX_ERROR


def _compare(mlp: isoinit.MLP, x: np.ndarray, tab_error: float, seed: int = 5, run: int = 1) -> None:
    """sampler="weights" (the table) vs the NumPy forward pass of the callable itself."""
    got, ref = simulated_and_reference(mlp, x, seed, run)  # ref: mlp.act.fn, the callable
    scale = np.max(np.abs(ref), axis=(-1, -2), keepdims=True)
    tol = FORWARD_REL + TABLE_PER_ACT * tab_error * (1.0 + 1.0 / scale.min()) * TABLE_PER_LAYER**mlp.depth
    rel = np.abs(got - ref) / scale
    assert rel.max() <= tol, (rel.max(), tol)


@pytest.mark.parametrize("order", ["act-norm", "norm-act"])
@pytest.mark.parametrize("norm", ["layer", "rms", "none"])
@pytest.mark.parametrize("name", ["tab_xtanh", "tab_abs", "tab_relu03"])
def test_simulation_equals_numpy_forward_of_the_callable(name: str, norm: str, order: str) -> None:
    act = registered(name)
    x = isoinit.inputs.degenerate(5, 24, 5.0, seed=11)
    depth = 2 if norm == "none" else 3
    mlp = isoinit.MLP(depth, 32, act, norm, order=order, bias=0.2 if norm == "layer" else 0.0)
    _compare(mlp, x, tabulate(act).max_error)


def test_undeclared_kink_warns_once_and_is_within_its_reported_error() -> None:
    act = registered("tab_relu03_undeclared")
    mlp = isoinit.MLP(3, 32, act, "layer")
    x = isoinit.inputs.gaussian(6, 20, seed=2)
    with pytest.warns(isoinit.IsoinitWarning, match=r"'tab_relu03_undeclared'.*deviates.*x = 0\.3.*kink"):
        isoinit.simulate(mlp, x)
    _compare(mlp, x, tabulate(act).max_error)  # no second warning (filterwarnings = error)


def test_tabulated_tanh_equals_builtin_tanh() -> None:
    """The Gram sampler with the table of tanh gives the built-in's numbers up to the table
    error (a well-conditioned batch: the sampler's eigenvectors are then continuous in the
    Gram, so a 1e-15 change of the activation does not switch the draw)."""
    act = activations.register("tab_tanh", np.tanh, overwrite=True)
    x = isoinit.inputs.gaussian(6, 40, seed=4)
    for norm in ("layer", "none"):
        a = isoinit.simulate(isoinit.MLP(4, 64, "tanh", norm), x, runs=6, seed=9, sampler="gram")
        b = isoinit.simulate(isoinit.MLP(4, 64, act, norm), x, runs=6, seed=9, sampler="gram")
        tol = FORWARD_REL + 2 * TABLE_PER_ACT * tabulate(act).max_error * TABLE_PER_LAYER**4
        for m in ("isometry", "gap", "stable_rank", "mean_abs_corr"):
            np.testing.assert_allclose(b.metrics[m], a.metrics[m], rtol=tol, atol=tol)


def test_thread_count_does_not_change_results() -> None:
    act = registered("tab_xtanh")
    mlp = isoinit.MLP(4, 48, act, "rms")
    x = isoinit.inputs.degenerate(8, 30, 10.0, seed=1)
    one = isoinit.simulate(mlp, x, runs=4, seed=3, threads=1, grams=True)
    two = isoinit.simulate(mlp, x, runs=4, seed=3, threads=2, grams=True)
    np.testing.assert_array_equal(one.grams, two.grams)


def test_pickled_activation_simulates_the_same() -> None:
    act = registered("tab_abs")
    back = pickle.loads(pickle.dumps(act))
    assert back == act and back.tabulation is not None
    np.testing.assert_array_equal(back.tabulation.packed, act.tabulation.packed)  # re-tabulated, same table
    x = isoinit.inputs.gaussian(5, 12, seed=0)
    a = isoinit.simulate(isoinit.MLP(2, 16, act), x, runs=2, grams=True)
    b = isoinit.simulate(pickle.loads(pickle.dumps(isoinit.MLP(2, 16, act))), x, runs=2, grams=True)
    np.testing.assert_array_equal(a.grams, b.grams)


def test_non_finite_callable_names_the_activation_and_the_first_bad_point() -> None:
    act = activations.register("tab_log", np.log, overwrite=True)
    with pytest.raises(
        ValueError, match=r"activation 'tab_log' must be finite on \[-16, 16\].*returned NaN for inputs in \[-15\.99"
    ):
        isoinit.simulate(isoinit.MLP(2, 8, act), isoinit.inputs.gaussian(3, 4, seed=0))
    with pytest.raises(ValueError, match="half_width"):
        tabulate(act, half_width=0.0)


def test_range_follows_the_preactivations() -> None:
    """gain 3: pre-activations of standard deviation 3 -> a table on [-64, 64]; unscaled growth
    beyond what a table can cover is named in a warning."""
    act = registered("tab_xtanh")
    x = isoinit.inputs.gaussian(4, 10, seed=0)
    isoinit.simulate(isoinit.MLP(2, 16, act, gain=3.0), x)
    assert 64.0 in act.__dict__["_tabulations"]
    grow = activations.register("tab_cube", lambda x: x**3, overwrite=True)
    with pytest.warns(isoinit.IsoinitWarning, match=r"'tab_cube'.*(overflow|leave the table)"):
        isoinit.simulate(isoinit.MLP(6, 16, grow, "none", gain=2.0), x)
