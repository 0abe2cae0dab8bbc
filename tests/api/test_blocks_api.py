"""Block networks through the package's faces: tables, sweeps, files, the command line, inputs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import isoinit
from isoinit.cli import main
from isoinit.networks.blocks import Attention, Feedforward, Network, ResidualMLP, Transformer, TransformerBlock
from tolerances import ROUNDING

X = isoinit.inputs.gaussian(6, 32, seed=1)
NETWORKS = [
    ResidualMLP(3, 32, alpha="1/sqrt(L)"),
    ResidualMLP(2, 32, norm="rms", norm_position="post", ratio=None),
    Transformer(2, 32, heads=4, init="gpt2"),
    Transformer(2, 32, heads=2, norm_position="post", causal=True),
    Network(32, [Attention(2, causal=True), Feedforward(2.0, norm="rms"), TransformerBlock(4, final_norm=True)]),
]


@pytest.mark.parametrize("net", NETWORKS, ids=lambda n: n.label())
def test_frame_has_the_stages_each_block_records(net: isoinit.blocks.BlockNetwork) -> None:
    t = isoinit.simulate(net, X, runs=2, seed=0, stages=True)
    df = t.to_frame()
    assert t.stages is not None and t.block_stages is not None
    for layer, recorded in enumerate(t.block_stages, start=1):
        got = list(df[(df.run == 0) & (df.layer == layer)]["stage"])
        assert got == [t.stages[s] for s in sorted(recorded)]
        absent = [s for s in range(len(t.stages)) if s not in recorded]
        assert np.isnan(t.metrics["gap"][:, layer, absent]).all()
    # the block output is each block's last recorded stage, and equals the run without stages
    plain = isoinit.simulate(net, X, runs=2, seed=0)
    np.testing.assert_array_equal(t.output("gap"), plain.gap)
    assert set(df["architecture"]) == {net.architecture}


@pytest.mark.parametrize("net", NETWORKS, ids=lambda n: n.label())
def test_results_of_block_networks_save_and_load(net: isoinit.blocks.BlockNetwork, tmp_path: Path) -> None:
    t = isoinit.simulate(net, X, runs=2, seed=3, stages=True)
    t.save(tmp_path / "t.npz")
    back = isoinit.load(tmp_path / "t.npz")
    assert back == t and back.network == net and back.block_stages == t.block_stages


def test_sweep_mixes_mlps_and_block_networks() -> None:
    configs = [isoinit.MLP(2, 32), *NETWORKS[:3]]
    df = isoinit.sweep(configs, inputs={"kind": "gaussian", "n": 6}, runs=2, progress=False)
    assert list(df.groupby("config")["architecture"].first()) == [
        "mlp",
        "residual-mlp",
        "residual-mlp",
        "transformer",
    ]
    one = df[df.config == 3]
    t = isoinit.simulate(configs[3], isoinit.inputs.gaussian(6, 32, seed=0), runs=2, seed=0)
    np.testing.assert_array_equal(one.sort_values(["run", "layer"])["gap"].to_numpy(), t.gap.reshape(-1))


def test_command_line_runs_block_networks(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--depth", "2", "--width", "32", "--batch", "6", "--runs", "2", "--quiet"]
    assert main([*args, "--architecture", "transformer", "--heads", "4", "--init", "gpt2", "--causal"]) == 0
    assert "transformer" in capsys.readouterr().out
    assert main([*args, "--architecture", "residual-mlp", "--alpha", "1/sqrt(L)", "--one-layer"]) == 0
    assert "residual-mlp" in capsys.readouterr().out
    assert main([*args, "--architecture", "transformer", "--heads", "5"]) == 2
    assert "--heads must divide the width" in capsys.readouterr().err


def test_repeated_tokens_are_nearly_rank_one() -> None:
    x = isoinit.inputs.repeated_tokens(16, 256, noise=0.01, seed=2)
    corr = np.corrcoef(x)
    assert x.shape == (16, 256) and np.isclose(np.mean(x**2), 1.0)
    assert corr[np.triu_indices(16, 1)].min() > 0.99
    with pytest.raises(ValueError, match="noise must be > 0"):
        isoinit.inputs.repeated_tokens(4, 8, noise=0.0)


def test_correlated_tokens_have_the_exact_gram() -> None:
    x = isoinit.inputs.correlated(12, 40, 0.3, seed=4)
    expected = 0.7 * np.eye(12) + 0.3
    np.testing.assert_allclose(x @ x.T / 40, expected, rtol=0, atol=ROUNDING)
    np.testing.assert_allclose(x.mean(axis=1), 0.0, rtol=0, atol=ROUNDING)  # rows of mean 0, as layer norm leaves them
    assert not np.array_equal(x, isoinit.inputs.correlated(12, 40, 0.3, seed=5))
    np.testing.assert_allclose(isoinit.inputs.correlated(3, 5, 1.0) @ isoinit.inputs.correlated(3, 5, 1.0).T, 5.0)
    with pytest.raises(ValueError, match=r"d must be an integer in \[14,"):
        isoinit.inputs.correlated(12, 13, 0.3)  # n + 1 directions orthogonal to the ones vector
    with pytest.raises(ValueError, match="rho must be"):
        isoinit.inputs.correlated(4, 8, 1.5)


def test_mean_correlation_is_the_signed_mean_cosine() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 7))
    cos = np.array([[a @ b / np.linalg.norm(a) / np.linalg.norm(b) for a in m for b in m] for m in x]).reshape(3, 5, 5)
    expected = (cos.sum(axis=(1, 2)) - 5) / 20
    np.testing.assert_allclose(isoinit.metrics.mean_correlation(x), expected, rtol=ROUNDING)
    g = x[0] @ x[0].T
    assert isoinit.metrics.mean_correlation(g) == pytest.approx(expected[0], rel=ROUNDING)
    assert isoinit.metrics.mean_correlation(-g + 2 * np.diag(np.diag(g))) == pytest.approx(-expected[0], rel=ROUNDING)
    with pytest.raises(ValueError, match="n >= 2"):
        isoinit.metrics.mean_correlation(np.ones((1, 4)))
    with pytest.raises(ValueError, match="x must be finite"):
        isoinit.metrics.mean_correlation(np.full((2, 2), np.nan))


def test_gg_encoder() -> None:
    net = isoinit.presets.gg_encoder(3, 64, 128, 2.0, heads=4, skip=0.5)
    blocks = net.block_list()
    assert net.depth == 6 and net.preset == "gg_encoder" and net.gain == pytest.approx(math.sqrt(0.2))
    assert [type(b).__name__ for b in blocks] == ["Attention", "Feedforward"] * 3
    attn, ff = blocks[0], blocks[1]
    assert attn.skip == 0.5 and ff.skip == 1.0 and not attn.out_proj and attn.norm_position == "post"
    assert ff.ratio == 1.0 and net.act.name == "relu" and dict(net.biases) == {"value": 0.02, "mlp": 0.02}
    # query and key weights N(0, beta sqrt(log T) / d): qk_gain^2 gain^2 = beta sqrt(log T)
    assert attn.qk_gain**2 * net.gain**2 == pytest.approx(2.0 * math.sqrt(math.log(128)))
    assert isoinit.bounds.rem_beta(net, 128) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="tokens must be"):
        isoinit.presets.gg_encoder(tokens=1)
    with pytest.raises(ValueError, match="norm_position must be one of"):
        isoinit.presets.gg_encoder(norm_position="none")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="presets with a transformers model; got preset='gg_encoder'"):
        isoinit.presets.state_dict(net, isoinit.network_weights(net, 64))


def test_labels_and_defaults() -> None:
    gpt = Transformer(12, 768, heads=12, init="gpt2")
    assert gpt.final_norm is True and gpt.activation == "gelu" and gpt.depth == 12
    assert gpt.label() == "transformer, gelu, layer norm, pre-norm, init=gpt2"
    assert Transformer(2, 8, heads=2, norm_position="post").final_norm is False
    stack = Network(32, [Attention(4, residual=False, norm_position="none")] * 3)
    assert stack.depth == 3 and "no norm" in stack.label()
    assert ResidualMLP(2, 8, ratio=None).block_list()[0].one_layer
