"""Mean-field trajectories: the recursion itself, and against finite-width simulation."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
import pytest

import isoinit
from isoinit import MLP
from isoinit.inputs import degenerate
from isoinit.metrics import METRICS
from isoinit.results import CONFIG_FIELDS
from isoinit.theory import hermite, meanfield
from tolerances import IDENTITY_REL, MEANFIELD_MAP_ABS, MEANFIELD_NUMPY, MEANFIELD_WIDTH_4000, SAME_FORMULA

X = degenerate(8, 64, 5.0, seed=1)


def _offdiag_err(a: np.ndarray, b: np.ndarray) -> float:
    d = np.abs(a - b)
    np.fill_diagonal(d, 0.0)
    return float(d.max())


def test_layer_norm_iterates_the_centered_kernel() -> None:
    mlp = MLP(depth=6, width=100, activation="tanh", norm="layer")
    traj = meanfield.trajectory(mlp, X)
    rho = meanfield.input_gram(X)
    for layer in range(1, 7):
        rho = hermite.centered_kernel("tanh", rho)
        np.fill_diagonal(rho, 1.0)
        np.testing.assert_allclose(traj.grams[layer], rho, atol=MEANFIELD_MAP_ABS)
    assert traj.grams.shape == (7, 8, 8)
    for m in METRICS:
        assert getattr(traj, m).shape == (7,)


def test_no_normalization_is_the_nngp_recursion() -> None:
    mlp = MLP(depth=3, width=100, activation="tanh", norm="none", gain=1.5, bias=0.4)
    traj = meanfield.trajectory(mlp, X)
    g = meanfield.input_gram(X)
    for layer in range(1, 4):
        sigma = 1.5**2 * g + 0.4**2
        q = np.diag(sigma)
        rho = np.clip(sigma / np.sqrt(np.outer(q, q)), -1, 1)
        g = hermite.nngp_kernel("tanh", q[:, None], q[None, :], rho)
        np.testing.assert_allclose(traj.grams[layer], g, atol=MEANFIELD_MAP_ABS)
    # the diagonal evolves by q' = E sigma(sqrt(gain^2 q + bias^2) z)^2
    q1 = hermite.moments("tanh", math.sqrt(1.5**2 + 0.4**2)).m2
    assert traj.grams[1, 0, 0] == pytest.approx(q1, rel=SAME_FORMULA)


def test_rms_and_mf_maps() -> None:
    rho = meanfield.input_gram(X)
    rms = meanfield.trajectory(MLP(depth=1, width=10, activation="gelu", norm="rms"), X)
    expected = hermite.rms_kernel("gelu", rho)
    np.fill_diagonal(expected, 1.0)
    np.testing.assert_allclose(rms.grams[1], expected, atol=MEANFIELD_MAP_ABS)
    lay = meanfield.trajectory(MLP(depth=4, width=10, activation="gelu", norm="layer"), X)
    mf = meanfield.trajectory(MLP(depth=4, width=10, activation="gelu", norm="mf"), X)
    np.testing.assert_allclose(mf.grams, lay.grams, atol=MEANFIELD_MAP_ABS)  # same map at unit diagonal


def test_widths_and_weights_do_not_matter() -> None:
    a = meanfield.trajectory(MLP(depth=3, width=50, activation="selu"), X)
    b = meanfield.trajectory(MLP(depth=3, width=(7, 3000, 20), activation="selu", weights="orthogonal"), X)
    np.testing.assert_array_equal(a.grams, b.grams)


def test_to_frame_and_metrics() -> None:
    traj = meanfield.trajectory(MLP(depth=5, width=10, activation="relu"), X)
    df = traj.to_frame()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["layer", *METRICS, "source", *CONFIG_FIELDS]  # + the configuration
    assert (df["source"] == "meanfield").all() and df["layer"].tolist() == list(range(6))
    rho = traj.correlations
    off = ~np.eye(8, dtype=bool)
    pot = np.array([np.max(np.abs(r[off]) / (1 - np.abs(r[off]))) for r in rho])
    np.testing.assert_allclose(traj.potential, pot, rtol=IDENTITY_REL)
    assert np.all(np.diff(traj.gap) < 0)  # layer norm + relu: isometry improves


def test_batch_norm_is_refused() -> None:
    for kw in ({"norm": "batch"}, {"center": "batch", "scale": "layer"}):
        with pytest.raises(ValueError, match=r"no entrywise infinite-width map.*simulate"):
            meanfield.trajectory(MLP(depth=2, width=10, **kw), X)  # type: ignore[arg-type]


def test_sigmoid_mf_centering_without_scaling_underflows() -> None:
    """sigmoid centered at 1/2 and not scaled: the diagonal shrinks ~16-fold per block and
    is computed as E sigma^2 + c^2 - 2 c E sigma; once it is below sqrt(eps) of those terms
    it is 0 to rounding and the correlations are undefined: NaN and a warning, not an error."""
    xd = degenerate(10, 1000, 10, seed=0)
    mlp = MLP(30, 1000, "sigmoid", "mf", scale="none")
    with pytest.warns(isoinit.DivergenceWarning, match=r"layer 7 .*underflowed to 0.*correlations undefined"):
        traj = meanfield.trajectory(mlp, xd)
    assert traj.diverged_at == 7
    assert np.all(np.isnan(traj.grams[7:]))
    assert np.all(np.isfinite(traj.grams[:7]))
    for m in METRICS:
        assert np.all(np.isnan(traj.metrics[m][7:])) and np.all(np.isfinite(traj.metrics[m][:7])), m
    q = np.einsum("lii->l", traj.grams[:7]) / 10
    assert np.all(np.diff(np.log(q)) < -2.5)  # q' ~ q / 16 before the breakdown
    assert traj.to_frame()["gap"].isna().sum() == 24
    # block_map reports the same breakdown (NaN output) instead of refusing its own output
    with pytest.warns(isoinit.DivergenceWarning, match=r"block_map .*layer 7.*underflowed"):
        g = meanfield.block_map(mlp, traj.grams[6], layer=7)
    assert np.all(np.isnan(g))


def test_true_underflow_below_the_smallest_normal() -> None:
    mlp = MLP(160, 10, "tanh", "none", gain=0.1)
    with pytest.warns(isoinit.DivergenceWarning, match=r"layer 154 .*below the smallest normal"):
        traj = meanfield.trajectory(mlp, X)
    assert traj.diverged_at == 154
    assert np.all(np.isfinite(traj.gap[:154])) and np.all(np.isnan(traj.gap[154:]))


@pytest.mark.parametrize("order", ["act-norm", "norm-act"])
def test_exp_without_scaling_overflows(order: Literal["act-norm", "norm-act"]) -> None:
    xd = degenerate(10, 1000, 10, seed=0)
    mlp = MLP(30, 1000, "exp", "mf", scale="none", order=order)
    with pytest.warns(isoinit.DivergenceWarning, match=r"layer 3 .*variance overflowed"):
        traj = meanfield.trajectory(mlp, xd)
    assert traj.diverged_at == 3
    assert np.all(np.isnan(traj.grams[3:])) and np.all(np.isnan(traj.gap[3:]))
    assert np.all(np.isfinite(traj.gap[:3]))


def test_no_breakdown_no_warning() -> None:
    traj = meanfield.trajectory(MLP(depth=50, width=10, activation="sigmoid", norm="layer"), X)
    assert traj.diverged_at == -1 and np.all(np.isfinite(traj.grams))


def test_bad_input() -> None:
    bad = X.copy()
    bad[2] = 0.0
    with pytest.raises(ValueError, match="X"):
        meanfield.trajectory(MLP(depth=2, width=10), bad)
    with pytest.raises(TypeError, match=r"network must be an isoinit\.MLP; got str"):
        meanfield.trajectory("relu", X)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("relu", np.eye(3)), TypeError, r"network must be an isoinit\.MLP; got str"),
        ((MLP(2, 8), [["a", "b"], ["c", "d"]]), TypeError, r"G must be an array of real numbers"),
        ((MLP(2, 8), np.eye(3), 1.0), TypeError, r"layer must be an integer in \[1, 2\]; got 1\.0"),
        ((MLP(2, 8), np.ones(3)), ValueError, r"G must be 2-D; got ndim=1"),
        (
            (MLP(2, 8), np.ones((2, 3))),
            ValueError,
            r"G must be a square \(n, n\) matrix with n >= 2; got shape \(2, 3\)",
        ),
        ((MLP(2, 8), np.ones((1, 1))), ValueError, r"G must be a square .*got shape \(1, 1\)"),
        ((MLP(2, 8), np.diag([1.0, np.nan])), ValueError, r"G must be finite; got nan at G\[1, 1\]"),
        ((MLP(2, 8), np.diag([1.0, 2.0])), ValueError, r"G must have a constant positive diagonal"),
        ((MLP(2, 8), np.eye(3), 0), ValueError, r"layer must be an integer in \[1, 2\]; got 0"),
        ((MLP(2, 8), np.eye(3), 3), ValueError, r"layer must be an integer in \[1, 2\]; got 3"),
        ((MLP(2, 8, norm="batch"), np.eye(3)), ValueError, r"no entrywise infinite-width map"),
    ],
)
def test_block_map_bad_arguments(args: tuple, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        meanfield.block_map(*args)


# ---------------------------------------------------------------------------------------
# against simulation
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("act", ["relu", "tanh", "sin"])
def test_matches_simulation_at_width_4000(act: str) -> None:
    """The mean Gram of 20 runs at width 4000 after 12 layers: off-diagonal entries within
    MEANFIELD_WIDTH_4000 of the mean field's."""
    mlp = MLP(depth=12, width=4000, activation=act, norm="layer")
    pred = meanfield.trajectory(mlp, X).grams
    sim = isoinit.simulate(mlp, X, runs=20, seed=3, grams=True).grams
    assert sim is not None and sim.shape == (20, 13, 8, 8)
    assert _offdiag_err(sim.mean(axis=0)[-1], pred[-1]) <= MEANFIELD_WIDTH_4000


def test_simulation_error_shrinks_with_width() -> None:
    """The mean absolute off-diagonal error of the mean Gram falls with width. (The maximum
    over the 28 entries is dominated by run-to-run noise at these sizes and is not monotone
    for every seed; the mean is: measured 0.013, 0.010, 0.006 for this seed and similar
    ratios for seeds 0-3.)"""
    errs = []
    for width in (100, 400, 1600):
        mlp = MLP(depth=6, width=width, activation="tanh", norm="layer")
        pred = meanfield.trajectory(mlp, X).grams[-1]
        sim = isoinit.simulate(mlp, X, runs=100, seed=11, grams=True).grams
        assert sim is not None
        off = ~np.eye(pred.shape[0], dtype=bool)
        errs.append(float(np.mean(np.abs(sim.mean(axis=0)[-1] - pred)[off])))
    assert errs[0] > errs[1] > errs[2]


CONFIGS = [
    {"norm": "none"},
    {"norm": "rms"},
    {"norm": "center"},
    {"norm": "mf"},
    {"norm": "layer", "order": "norm-act"},
    {"norm": "mf", "order": "norm-act"},
    {"norm": "layer", "gain": 1.5, "bias": 0.3},
    {"norm": "none", "gain": 1.2, "bias": 0.2},
    {"norm": "layer", "eps": 0.1},
    {"center": "mf", "scale": "none"},
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_every_configuration_matches_simulation(cfg: dict[str, object]) -> None:
    for act in ("tanh", "elu"):
        mlp = MLP(depth=4, width=3000, activation=act, **cfg)  # type: ignore[arg-type]
        pred = meanfield.trajectory(mlp, X).grams
        sim = isoinit.simulate(mlp, X, runs=20, seed=3, grams=True).grams
        assert sim is not None
        rel = np.abs(sim.mean(axis=0) - pred).max() / np.abs(pred).max()
        assert rel <= MEANFIELD_NUMPY, (act, rel)


def _numpy_simulation(mlp: MLP, x: np.ndarray, runs: int, seed: int) -> np.ndarray:
    """Independent explicit-weights simulation (act-norm / norm-act, layer/none/rms)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((mlp.depth + 1, x.shape[0], x.shape[0]))
    for _ in range(runs):
        h = x / np.sqrt(np.mean(x * x, axis=1, keepdims=True))
        out[0] += h @ h.T / h.shape[1]
        for layer, d_out in enumerate(mlp.widths(), start=1):
            w = rng.standard_normal((h.shape[1], d_out)) / math.sqrt(h.shape[1])
            pre = mlp.gain * h @ w + mlp.bias * rng.standard_normal(d_out)
            if mlp.order == "act-norm":
                h = mlp.act(pre)
            else:
                h = pre
            if mlp.centering == "layer":
                h = h - h.mean(axis=1, keepdims=True)
            if mlp.scaling == "layer":
                h = h / np.sqrt(np.mean(h * h, axis=1, keepdims=True) + mlp.eps)
            if mlp.order == "norm-act":
                h = mlp.act(h)
            out[layer] += h @ h.T / h.shape[1]
    return out / runs


@pytest.mark.parametrize(
    "cfg",
    [
        {"activation": "tanh", "norm": "layer"},
        {"activation": "relu", "norm": "none"},
        {"activation": "selu", "norm": "rms", "gain": 1.3},
        {"activation": "sin", "norm": "layer", "order": "norm-act", "bias": 0.3},
    ],
    ids=lambda c: "-".join(str(v) for v in c.values()),
)
def test_matches_numpy_explicit_weights(cfg: dict[str, object]) -> None:
    mlp = MLP(depth=5, width=1000, **cfg)  # type: ignore[arg-type]
    pred = meanfield.trajectory(mlp, X).grams
    sim = _numpy_simulation(mlp, X, runs=4, seed=5)
    rel = np.abs(sim - pred).max() / np.abs(pred).max()
    assert rel <= MEANFIELD_NUMPY


# ---------------------------------------------------------------------------------------
# where the mean-field constants live
# ---------------------------------------------------------------------------------------


def test_mf_constants_live_in_the_theory_which_does_not_import_the_simulator() -> None:
    import ast
    import inspect

    assert meanfield.mf_constants.__module__ == "isoinit.theory._mf_constants"  # in the theory, not the simulator
    assert "mf_constants" in meanfield.__all__
    # the theory does not import the simulator (the simulator imports the theory constants):
    # no "import isoinit.simulate", "from .simulate import ..." or "from . import simulate"
    tree = ast.parse(inspect.getsource(meanfield))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom) for alias in node.names
    }
    assert not sorted(name for name in imported if name and name.split(".")[-1] == "simulate")
