"""Mean field of block networks: residual MLPs against width-4000 simulation, closed forms, refusals."""

from __future__ import annotations

import functools
import itertools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import isoinit
from isoinit import MLP
from isoinit._warnings import DivergenceWarning
from isoinit.inputs import degenerate
from isoinit.metrics import METRICS
from isoinit.networks import blocks
from isoinit.networks.blocks import Feedforward, Transformer, TransformerBlock
from isoinit.results import CONFIG_FIELDS
from isoinit.theory import hermite, meanfield
from tolerances import FEW_ULPS, IDENTITY_REL, MEANFIELD_NUMPY, MEANFIELD_WIDTH_4000, ROUNDING, SAME_FORMULA

# The networks here start from the paper's input rows of mean square 1, the MLP's layer 0, so
# that their mean fields can be compared with the MLP's and with meanfield.input_gram.
ResidualMLP = functools.partial(blocks.ResidualMLP, input_norm="rows")
Network = functools.partial(blocks.Network, input_norm="rows")

N, WIDTH, DEPTH, RUNS = 6, 4000, 10, 8
#: The paper's nearly rank-one input (rows of mean about 0 over features) ...
X = degenerate(N, WIDTH, 5.0, seed=1)
#: ... and the same rows shifted by different means: layer centering removes them, so the
#: mean field must track each row's mean over features besides the Gram.
X_SHIFTED = X / np.sqrt(np.mean(X * X, axis=1, keepdims=True)) + np.linspace(-0.8, 0.8, N)[:, None]
OFF = ~np.eye(N, dtype=bool)


def _corr(g: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.einsum("...ii->...i", g))
    return np.asarray(g / (d[..., :, None] * d[..., None, :]))


def _errors(net: blocks.ResidualMLP | blocks.Network, x: np.ndarray, seed: int = 3) -> tuple[float, float, float]:
    """Mean field vs the mean of RUNS simulated networks: the mean absolute off-diagonal
    correlation error (the worst layer), the largest one, and the largest relative error of
    the diagonal (the scale of the residual stream)."""
    pred = meanfield.trajectory(net, x).grams
    sim = isoinit.simulate(net, x, runs=RUNS, seed=seed, grams=True, sampler="gram", progress=False).grams
    assert sim is not None and sim.shape == (RUNS, net.depth + 1, N, N)
    err = np.abs(_corr(sim).mean(axis=0) - _corr(pred))[:, OFF]
    diag = np.einsum("lii->li", sim.mean(axis=0)) / np.einsum("lii->li", pred) - 1.0
    return float(err.mean(axis=1).max()), float(err.max()), float(np.abs(diag).max())


# ---------------------------------------------------------------------------------------
# against simulation at width 4000
# ---------------------------------------------------------------------------------------

CASES = list(itertools.product(["pre", "post"], [1.0, "1/sqrt(L)"], ["relu", "tanh"], [4.0, None]))


@pytest.mark.parametrize(("position", "alpha", "act", "ratio"), CASES, ids=lambda v: str(v).replace("/", ""))
def test_residual_mlp_matches_simulation_at_width_4000(
    position: str, alpha: float | str, act: str, ratio: float | None
) -> None:
    """Mean absolute off-diagonal correlation error within 0.03 at every layer (measured
    <= 0.014 over the 32 cases and seeds 0-4; the largest single entry <= 0.031, the
    diagonal's relative error <= 0.028)."""
    net = ResidualMLP(DEPTH, WIDTH, act, "layer", norm_position=position, ratio=ratio, alpha=alpha)  # type: ignore[arg-type]
    for x in (X, X_SHIFTED):
        mean_err, _, diag_err = _errors(net, x)
        assert mean_err <= MEANFIELD_WIDTH_4000, (mean_err, x is X)
        assert diag_err <= MEANFIELD_NUMPY, (diag_err, x is X)


@pytest.mark.parametrize(
    "net",
    [
        ResidualMLP(6, WIDTH, "gelu", "rms", gain=1.3, bias=0.3),
        ResidualMLP(6, WIDTH, "relu", "center", norm_position="post", ratio=None, alpha=0.5),
        ResidualMLP(6, WIDTH, "tanh", "layer", norm_position="post", eps=0.5),
        ResidualMLP(6, WIDTH, "relu", "none", norm_position="none", ratio=None, bias=0.5, gain=0.8),
        ResidualMLP(6, WIDTH, "relu", "layer", weights="orthogonal"),
        Network(
            WIDTH,
            [
                Feedforward(norm="rms", norm_position="post", alpha=0.7),
                Feedforward(one_layer=True, residual=False, norm_position="none"),
                Feedforward(ratio=2, norm_position="pre", alpha="1/sqrt(L)"),
                Feedforward(one_layer=True, norm="center", norm_position="post"),
            ],
            activation="elu",
            bias=0.2,
        ),
    ],
    ids=["rms-gain-bias", "center-post-one-layer", "eps-post", "no-norm-one-layer-bias", "orthogonal", "network"],
)
def test_other_residual_configurations_match_simulation(net: blocks.ResidualMLP | blocks.Network) -> None:
    mean_err, _, diag_err = _errors(net, X_SHIFTED)
    assert mean_err <= MEANFIELD_WIDTH_4000
    assert diag_err <= MEANFIELD_NUMPY


# ---------------------------------------------------------------------------------------
# closed forms
# ---------------------------------------------------------------------------------------

XS = degenerate(5, 40, 5.0, seed=2) + 0.3


@pytest.mark.parametrize("act", ["relu", "tanh", "gelu"])
def test_alpha_zero_is_the_identity(act: str) -> None:
    g0 = meanfield.input_gram(XS)
    for ratio in (4.0, None):
        pre = meanfield.trajectory(ResidualMLP(4, 40, act, "layer", ratio=ratio, alpha=0.0), XS)
        np.testing.assert_allclose(pre.grams, np.broadcast_to(g0, pre.grams.shape), rtol=IDENTITY_REL, atol=FEW_ULPS)
        # post RMS norm of rows that already have mean square 1: the identity to rounding
        post = meanfield.trajectory(ResidualMLP(4, 40, act, "rms", norm_position="post", ratio=ratio, alpha=0.0), XS)
        np.testing.assert_allclose(post.grams, np.broadcast_to(g0, post.grams.shape), rtol=IDENTITY_REL)


@pytest.mark.parametrize("one_layer", [False, True])
def test_linear_branch_without_norm_scales_the_gram(one_layer: bool) -> None:
    """Identity activation, no norm: ``K' = (1 + alpha^2 gain^4) K`` (two linear maps) or
    ``(1 + alpha^2 gain^2) K`` (one); the simulation's mean agrees at width 4000."""
    alpha, gain = 0.7, 1.2
    net = ResidualMLP(
        5, WIDTH, "identity", "none", norm_position="none", ratio=None if one_layer else 4.0, alpha=alpha, gain=gain
    )
    pred = meanfield.trajectory(net, X_SHIFTED).grams
    factor = 1.0 + alpha**2 * gain ** (2 if one_layer else 4)
    g0 = meanfield.input_gram(X_SHIFTED)
    for layer in range(6):
        np.testing.assert_allclose(
            pred[layer], factor**layer * g0, rtol=IDENTITY_REL, atol=SAME_FORMULA * factor**layer
        )
    sim = isoinit.simulate(net, X_SHIFTED, runs=RUNS, seed=1, grams=True, sampler="gram", progress=False).grams
    assert sim is not None
    assert np.abs(sim.mean(axis=0) - pred).max() / np.abs(pred).max() <= MEANFIELD_NUMPY


@pytest.mark.parametrize(("norm", "act"), [("none", "tanh"), ("layer", "relu"), ("rms", "gelu"), ("layer", "sin")])
def test_plain_blocks_are_the_mlp(norm: str, act: str) -> None:
    """``sigma(Lin(X))`` without residual is the MLP block: post-norm is ``act-norm``.

    The one-layer branch's features have mean ``E sigma`` over features, which layer
    centering removes: the block network's map must reproduce the MLP's ``kbar``.
    """
    block = Feedforward(one_layer=True, residual=False, norm=norm, norm_position="post" if norm != "none" else "none")  # type: ignore[arg-type]
    net = Network(40, [block] * 4, activation=act, gain=1.3, bias=0.2)
    mlp = MLP(4, 40, act, norm, gain=1.3, bias=0.2)
    x = degenerate(5, 40, 5.0, seed=2)
    np.testing.assert_allclose(meanfield.trajectory(net, x).grams, meanfield.trajectory(mlp, x).grams, atol=ROUNDING)


def test_two_layer_branch_is_the_nngp_of_its_hidden_layer() -> None:
    """No residual, no norm: ``K' = gain^2 E[sigma(u) sigma(u)^T] + bias^2``, ``u ~ N(0, gain^2 K + bias^2)``."""
    gain, bias = 1.1, 0.3
    net = Network(40, [Feedforward(residual=False, norm_position="none")] * 2, activation="tanh", gain=gain, bias=bias)
    traj = meanfield.trajectory(net, XS)
    k = meanfield.input_gram(XS)
    for layer in (1, 2):
        s = gain**2 * k + bias**2
        q = np.diag(s)
        rho = np.clip(s / np.sqrt(np.outer(q, q)), -1.0, 1.0)
        k = gain**2 * hermite.nngp_kernel("tanh", q[:, None], q[None, :], rho) + bias**2
        np.testing.assert_allclose(traj.grams[layer], k, rtol=ROUNDING)


def test_a_row_that_centering_zeroes_stays_zero() -> None:
    """A constant input row: layer norm makes it exactly 0, relu(0) = 0, so the stream keeps
    the row as it is (the mean field tracks the centered Gram, so no cancellation revives
    it); the simulation with explicit weights agrees."""
    x = degenerate(4, 1000, 5.0, seed=0)
    x[1] = 2.0
    net = ResidualMLP(3, 1000, "relu", "layer", ratio=None)
    pred = meanfield.trajectory(net, x).grams
    np.testing.assert_array_equal(pred[:, 1, 1], 1.0)
    sim = isoinit.simulate(net, x, runs=RUNS, seed=0, grams=True, sampler="weights", progress=False).grams
    assert sim is not None
    assert np.abs(sim.mean(axis=0) - pred).max() / np.abs(pred).max() <= MEANFIELD_NUMPY


def test_hidden_ratio_and_weights_do_not_matter() -> None:
    a = meanfield.trajectory(ResidualMLP(5, 40, "selu", ratio=4.0), XS).grams
    b = meanfield.trajectory(ResidualMLP(5, 4000, "selu", ratio=0.5, weights="orthogonal"), XS).grams
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------
# the result, breakdown, refusals
# ---------------------------------------------------------------------------------------


def test_result_tables_and_plot() -> None:
    net = ResidualMLP(5, 40, "relu", alpha="1/sqrt(L)", ratio=None)
    traj = meanfield.trajectory(net, XS)
    assert traj.grams.shape == (6, 5, 5) and traj.depth == 5 and traj.diverged_at == -1
    for m in METRICS:
        assert getattr(traj, m).shape == (6,)
    df = traj.to_frame()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns)[: len(METRICS) + 2] == ["layer", *METRICS, "source"]
    assert set(CONFIG_FIELDS) <= set(df.columns)
    assert (df["source"] == "meanfield").all() and (df["architecture"] == "residual-mlp").all()
    assert df["order"].isna().all() and (df["norm_position"] == "pre").all()
    assert traj.summary("gap")["runs"].tolist() == [1] * 6
    assert traj.provenance is not None and traj.provenance.sampler == "meanfield"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = traj.plot("gap")
    assert len(ax.get_lines()) >= 1
    plt.close(ax.figure)


def test_overflow_is_a_breakdown() -> None:
    net = ResidualMLP(40, 40, "exp", "none", norm_position="none", ratio=None, gain=1.5)
    with pytest.warns(DivergenceWarning, match=r"broke down numerically at layer \d+"):
        traj = meanfield.trajectory(net, XS)
    assert traj.diverged_at > 0
    assert np.isnan(traj.grams[traj.diverged_at :]).all() and np.isfinite(traj.grams[: traj.diverged_at]).all()


def test_no_warning_for_a_normal_network() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        meanfield.trajectory(ResidualMLP(50, 40, "tanh", "layer"), XS)


@pytest.mark.parametrize(
    ("net", "match"),
    [
        (Transformer(2, 40, heads=4, rope_base=1e4), r"rotary embeddings \(block 0.*isoinit\.simulate"),
        (Network(40, [Feedforward(), TransformerBlock(heads=2, rope_base=500.0)]), r"\(block 1: rope_base=500\)"),
        (ResidualMLP(2, 40, init="gpt2"), r"init='gaussian'.*0\.02\^2 d_in grows without bound"),
        (ResidualMLP(2, 40, norm="batch"), r"batch normalization \(block 0\) has no entrywise infinite-width map"),
        (ResidualMLP(2, 40, norm="batch", norm_position="post"), r"batch normalization.*isoinit\.simulate"),
    ],
    ids=["rope", "rope-block", "gpt2", "batch-pre", "batch-post"],
)
def test_refusals_name_the_reason(net: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        meanfield.trajectory(net, XS)  # type: ignore[arg-type]


def test_batch_norm_that_is_never_applied_is_fine() -> None:
    """``norm_position="none"`` applies no norm, so its name does not matter."""
    a = meanfield.trajectory(ResidualMLP(3, 40, "relu", "batch", norm_position="none"), XS).grams
    b = meanfield.trajectory(ResidualMLP(3, 40, "relu", "none", norm_position="none"), XS).grams
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------


def test_cli_meanfield_of_a_residual_mlp(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from isoinit.cli import main

    csv = tmp_path / "mf.csv"
    argv = ["meanfield", "--architecture", "residual-mlp", "--norm-position", "post", "--alpha", "1/sqrt(L)"]
    argv += ["--one-layer", "--depth", "5", "--width", "50", "--batch", "4", "--csv", str(csv)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "residual-mlp" in out and "residual stream" in out
    x = degenerate(4, 50, 100.0, seed=0)
    # the command line's network takes the input as given, the API's default
    net = blocks.ResidualMLP(5, 50, "relu", norm_position="post", ratio=None, alpha="1/sqrt(L)")
    frame = pd.read_csv(csv)
    np.testing.assert_allclose(frame["gap"], meanfield.trajectory(net, x).gap, rtol=ROUNDING)
    # attention's mean field is a Monte Carlo expectation: the command prints it like any other
    assert main(["meanfield", "--architecture", "transformer", "--depth", "2", "--width", "8", "--heads", "2"]) == 0
    assert "transformer" in capsys.readouterr().out


def test_cli_simulate_plot_draws_the_mean_field_of_a_residual_mlp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The dashed mean-field curves of the residual MLP and of the transformer."""
    from isoinit.cli import main
    from isoinit.figures import _draw

    figures: list[object] = []
    real_save = _draw.save

    def keep(fig: object, path: str) -> None:
        figures.append(fig)
        real_save(fig, path)

    monkeypatch.setattr(_draw, "save", keep)
    argv = ["simulate", "--architecture", "residual-mlp", "transformer", "--depth", "3", "--width", "32"]
    argv += ["--heads", "2", "--batch", "4", "--runs", "2", "--quiet", "--plot", str(tmp_path / "gap.png")]
    assert main(argv) == 0
    capsys.readouterr()
    (fig,) = figures
    (ax,) = fig.axes  # type: ignore[attr-defined]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 2 and "dashed: mean field" in ax.get_title()
    x = degenerate(4, 32, 100.0, seed=0)
    cli_net = blocks.ResidualMLP(3, 32, "relu")  # the command line's: the input as given
    np.testing.assert_allclose(dashed[0].get_ydata(), meanfield.trajectory(cli_net, x).gap)
    assert len(dashed[1].get_ydata()) == 4 and np.isfinite(dashed[1].get_ydata()).all()  # the transformer's
