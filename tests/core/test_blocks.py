"""Block networks (isoinit.blocks): residual MLPs, attention, transformer blocks.

1. sampler="weights" equals an explicit NumPy forward pass (written here from the blocks'
   documented definitions, not from the kernel) at every named stage of every block kind;
   simulate at run r equals forward with network_weights(run=r) bit for bit;
2. sampler="gram" equals sampler="weights" in distribution (two-sample KS tests per block
   kind and stage), with a power check;
3. results do not depend on the thread count nor on the number of runs asked for;
4. bad block configurations raise errors naming the parameter.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

import isoinit
from isoinit import _core
from isoinit.networks.blocks import (
    Attention,
    Block,
    BlockNetwork,
    Feedforward,
    Network,
    ResidualMLP,
    Transformer,
    TransformerBlock,
)
from isoinit.networks.mlp import NORM_PRESETS
from reference import gram, normalize
from tolerances import ATTENTION_COLLAPSE_CORR, BLOCK_KS_ALPHA, BLOCK_KS_TESTS_ENGINE, FORWARD_REL, WEIGHT_STD_REL

Array = NDArray[np.float64]

# --- the NumPy reference ------------------------------------------------------------------


def _softmax_rows(s: Array) -> Array:
    e = np.exp(s - s.max(axis=1, keepdims=True))
    out: Array = e / e.sum(axis=1, keepdims=True)
    return out


def _rotary(m: Array, heads: int, base: float) -> Array:
    """LLaMA's rotary embeddings, written from their definition: per head, the pair of columns
    (j, j + d_h/2) of token i rotated by the angle i base^(-2j/d_h)."""
    n, d = m.shape
    dh = d // heads
    half = dh // 2
    angle = np.arange(n)[:, None] * base ** (-np.arange(0, dh, 2) / dh)[None, :]
    cos, sin = np.cos(angle), np.sin(angle)
    out = m.copy()
    for h in range(heads):
        a, b = m[:, h * dh : h * dh + half], m[:, h * dh + half : (h + 1) * dh]
        out[:, h * dh : h * dh + half] = a * cos - b * sin
        out[:, h * dh + half : (h + 1) * dh] = b * cos + a * sin
    return out


def _block(
    blk: Block, x: Array, depth: int, eps: float, lin: Callable[[Array], Array], act: Callable[[Array], Array]
) -> tuple[Array, dict[str, Array]]:
    """One block on x: its output and its named stages, in order."""
    center, scale = NORM_PRESETS[blk.norm]
    has_norm = (center, scale) != ("none", "none")
    alpha = 1 / math.sqrt(depth) if blk.alpha == "1/sqrt(L)" else float(blk.alpha)
    rec: dict[str, Array] = {}

    def norm(m: Array) -> Array:
        return normalize(m, center, scale, eps)

    def half(x: Array, names: tuple[str, str, str], branch: Callable[[Array], Array]) -> Array:
        skip = x
        if blk.norm_position == "pre" and has_norm:
            x = rec[names[0]] = norm(x)
        x = rec[names[1]] = branch(x)
        if blk.residual:
            x = rec[names[2]] = blk.skip * skip + alpha * x
        if blk.norm_position == "post" and has_norm:
            x = rec[names[0]] = norm(x)
        return x

    def ffn(x: Array, ratio: float, one_layer: bool, gated: bool) -> Array:
        if one_layer:
            return act(lin(x))
        up = lin(x) if gated else None  # the gated feedforward's second map of x comes first
        hidden = act(lin(x))
        if up is not None:
            hidden = hidden * up
        assert hidden.shape[1] == max(1, math.floor(ratio * x.shape[1] + 0.5))  # llround
        rec["hidden"] = hidden
        return lin(hidden)

    def attn(x: Array, b: Attention | TransformerBlock) -> Array:
        n, d = x.shape
        dh = d // b.heads
        q, k, v = lin(x), lin(x), lin(x)
        if b.rope_base:
            q, k = _rotary(q, b.heads, b.rope_base), _rotary(k, b.heads, b.rope_base)
        o = np.empty((n, d))
        mask = np.tril(np.ones((n, n), dtype=bool)) if b.causal else np.ones((n, n), dtype=bool)
        c = 1 / math.sqrt(dh) if b.score == "sqrt" else 1 / dh
        for h in range(b.heads):
            cols = slice(h * dh, (h + 1) * dh)
            a = _softmax_rows(np.where(mask, c * (q[:, cols] @ k[:, cols].T), -np.inf))
            if b.centred:
                a = a - mask / mask.sum(axis=1, keepdims=True)
            o[:, cols] = a @ v[:, cols]
        return lin(o) if b.out_proj else o

    if isinstance(blk, Feedforward):
        x = half(x, ("norm", "mlp", "residual"), lambda u: ffn(u, blk.ratio, blk.one_layer, blk.gated))
    elif isinstance(blk, Attention):
        x = half(x, ("norm", "attn", "residual"), lambda u: attn(u, blk))
    else:
        x = half(x, ("ln1", "attn", "resid1"), lambda u: attn(u, blk))
        x = half(x, ("ln2", "mlp", "resid2"), lambda u: ffn(u, blk.ratio, False, blk.gated))
        if blk.final_norm and has_norm:
            x = rec["ln_f"] = norm(x)
    return x, rec


def reference_stages(net: BlockNetwork, x0: Array, weights: list[tuple[Array, Array]]) -> list[dict[str, Array]]:
    """The representation at every named stage of every block (in order), from explicit weights.

    Element 0 is layer 0: the input as given (or with rows of mean square 1 for
    ``input_norm="rows"``), plus the embedding's matrices (the first entries of ``weights``),
    then the input norm; element l the stages of block l. Every linear map is ``x W + b``
    with ``W`` as drawn (its gain inside).
    """
    depth = len(net.block_list())
    fn = net.act.fn
    maps = iter(weights)

    def lin(x: Array) -> Array:
        w, b = next(maps)
        assert w.shape[0] == x.shape[1]
        h = x @ w
        return h + b if b.size else h

    def act(x: Array) -> Array:
        return np.asarray(fn(x), dtype=np.float64)

    x = x0 / np.sqrt(np.mean(x0**2, axis=1, keepdims=True)) if net.input_norm == "rows" else x0.copy()
    if net.positions == "learned":
        x = x + next(maps)[0][: len(x)]
    if net.token_type:
        x = x + next(maps)[0]
    if net.input_norm in ("layer", "rms"):
        x = normalize(x, *NORM_PRESETS[net.input_norm], net.eps)
    out: list[dict[str, Array]] = [{"input": x}]
    for blk in net.block_list():
        x, rec = _block(blk, x, depth, net.eps, lin, act)
        out.append(rec)
    assert next(maps, None) is None, "more weights than maps"
    return out


# --- 1. sampler="weights" vs NumPy ----------------------------------------------------------

D = 16
NETWORKS: dict[str, BlockNetwork] = {
    "rmlp-pre": ResidualMLP(3, D),
    "rmlp-post": ResidualMLP(3, D, norm_position="post"),
    "rmlp-none": ResidualMLP(3, D, norm_position="none", alpha=0.5),
    "rmlp-one-layer": ResidualMLP(3, D, ratio=None, activation="tanh"),
    "rmlp-one-layer-post": ResidualMLP(2, D, ratio=None, norm_position="post"),
    "rmlp-ratio-2.53": ResidualMLP(2, D, ratio=2.53),  # hidden llround(40.48) = 40
    "rmlp-ratio-0.5": ResidualMLP(2, D, ratio=0.5, activation="gelu"),
    "rmlp-alpha-0.3": ResidualMLP(3, D, alpha=0.3),
    "rmlp-alpha-1/sqrt(L)": ResidualMLP(4, D, alpha="1/sqrt(L)"),
    "rmlp-rms": ResidualMLP(2, D, norm="rms"),
    "rmlp-batch": ResidualMLP(2, D, norm="batch", norm_position="post"),
    "rmlp-center": ResidualMLP(2, D, norm="center"),
    "rmlp-bias-gain": ResidualMLP(3, D, bias=0.3, gain=1.3, activation="tanh"),
    "rmlp-eps": ResidualMLP(2, D, eps=0.5),
    "rmlp-gpt2": ResidualMLP(3, D, init="gpt2"),
    "rmlp-orthogonal": ResidualMLP(2, D, weights="orthogonal"),
    "attn": Network(D, [Attention(heads=4)] * 2),
    "attn-causal": Network(D, [Attention(heads=2, causal=True)] * 2),
    "attn-post-alpha": Network(D, [Attention(heads=1, norm_position="post", alpha=0.7)] * 2, gain=1.4),
    "attn-no-residual": Network(D, [Attention(heads=4, residual=False, causal=True)] * 2),
    "attention-only": Network(D, [Attention(heads=4, residual=False, norm_position="none")] * 3),
    "mlp-only": Network(D, [Feedforward(residual=False, norm_position="none")] * 3),
    "tf-pre": Transformer(2, D, heads=4),
    "tf-pre-no-final": Transformer(2, D, heads=4, final_norm=False),
    "tf-post": Transformer(2, D, heads=4, norm_position="post", causal=True),
    "tf-gpt2": Transformer(3, D, heads=4, init="gpt2", causal=True),
    "tf-gpt2-bias-rms": Transformer(2, D, heads=2, init="gpt2", bias=0.1, norm="rms"),
    "tf-batch-gain": Transformer(2, D, heads=4, norm="batch", gain=1.2, ratio=2),
    "tf-alpha-1/sqrt(L)": Transformer(3, D, heads=8, alpha="1/sqrt(L)", eps=1e-5, activation="relu"),
    "tf-orthogonal": Transformer(2, D, heads=2, weights="orthogonal"),
    "mixed": Network(
        D,
        [
            Attention(heads=2, causal=True),
            Feedforward(ratio=2, norm="rms", alpha=0.5),
            TransformerBlock(heads=4, norm_position="post"),
            Feedforward(one_layer=True, norm_position="post"),
            TransformerBlock(heads=2, final_norm=True),
        ],
        activation="tanh",
        init="gpt2",
        bias=0.05,
    ),
    "attn-study": Network(  # Giorlandino and Goldt's knobs
        D, [Attention(heads=2, qk_gain=2.0, out_proj=False, centred=True, score="linear", skip=0.5)] * 2, gain=1.1
    ),
    "attn-causal-centred": Network(D, [Attention(heads=4, causal=True, centred=True, norm_position="post")] * 2),
    "ffn-gated-rows": Network(D, [Feedforward(gated=True, skip=0.7, ratio=1.5)] * 2, input_norm="rows"),
    "tf-llama-like": Transformer(
        2, D, heads=2, rope_base=10000.0, gated=True, activation="silu", causal=True, norm="rms", eps=1e-6, ratio=2
    ),
    "tf-bert-like": Transformer(
        2,
        D,
        heads=4,
        norm_position="post",
        positions="learned",
        token_type=True,
        max_positions=9,
        position_std=0.3,
        input_norm="layer",
        eps=1e-12,
        biases={"qk": 0.0, "value": 0.02, "mlp": 0.05, "out": 0.1},
        activation="gelu",
    ),
    "tf-positions-rms": Transformer(2, D, heads=2, positions="learned", input_norm="rms", max_positions=6, init="gpt2"),
}


def _batch(n: int = 6, d: int = D, seed: int = 0) -> Array:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) * rng.uniform(0.2, 5.0, size=(n, 1))  # rows of different scales


@pytest.mark.parametrize("name", list(NETWORKS))
def test_weights_sampler_equals_numpy_at_every_stage(name: str) -> None:
    net = NETWORKS[name]
    x = _batch()
    weights = isoinit.network_weights(net, D, seed=7, run=2)
    traj = isoinit.forward(net, x, weights, stages=True, grams=True)
    ref = reference_stages(net, x, weights)
    assert traj.stages is not None and traj.block_stages is not None and traj.grams is not None
    assert len(traj.block_stages) == net.depth == len(ref) - 1
    for s in range(len(traj.stages)):  # layer 0: the scaled input at every stage
        np.testing.assert_allclose(traj.grams[0, 0, s], gram(ref[0]["input"]), rtol=0, atol=FORWARD_REL)
    for layer, rec in enumerate(ref[1:], start=1):
        names = [traj.stages[i] for i in traj.block_stages[layer - 1]]
        assert names == list(rec), f"block {layer}: stages {names}, reference {list(rec)}"
        for stage, y in rec.items():
            want = gram(y)
            got = traj.grams[0, layer, traj.stages.index(stage)]
            err = np.max(np.abs(got - want)) / np.max(np.abs(want))
            assert err < FORWARD_REL, f"block {layer} stage {stage}: relative error {err:.2e}"


EXPECTED_STAGES = {
    "rmlp-pre": ("norm", "hidden", "mlp", "residual"),
    "rmlp-post": ("hidden", "mlp", "residual", "norm"),
    "rmlp-none": ("hidden", "mlp", "residual"),
    "rmlp-one-layer": ("norm", "mlp", "residual"),
    "attn": ("norm", "attn", "residual"),
    "attention-only": ("attn",),
    "mlp-only": ("hidden", "mlp"),
    "tf-post": ("attn", "resid1", "ln1", "hidden", "mlp", "resid2", "ln2"),
}


@pytest.mark.parametrize("name", list(EXPECTED_STAGES))
def test_stage_names_as_documented(name: str) -> None:
    traj = isoinit.simulate(NETWORKS[name], _batch(), stages=True, sampler="weights")
    assert traj.stages == EXPECTED_STAGES[name]
    assert traj.block_stages == ((tuple(range(len(EXPECTED_STAGES[name]))),) * NETWORKS[name].depth)


def test_transformer_stage_names_and_final_norm_on_the_last_block_only() -> None:
    traj = isoinit.simulate(NETWORKS["tf-gpt2"], _batch(), stages=True)
    assert traj.stages == ("ln1", "attn", "resid1", "ln2", "hidden", "mlp", "resid2", "ln_f")
    assert traj.block_stages == ((0, 1, 2, 3, 4, 5, 6), (0, 1, 2, 3, 4, 5, 6), (0, 1, 2, 3, 4, 5, 6, 7))


@pytest.mark.parametrize("sampler", ["weights", "gram"])
def test_absent_stages_are_nan_and_not_in_the_frame(sampler: str) -> None:
    net = NETWORKS["mixed"]
    traj = isoinit.simulate(net, _batch(), runs=2, seed=1, sampler=sampler, stages=True, grams=True)
    assert traj.stages is not None and traj.block_stages is not None and traj.grams is not None
    frame = traj.to_frame()
    for layer, present in enumerate(traj.block_stages, start=1):
        for s, stage in enumerate(traj.stages):
            values = traj.grams[:, layer, s]
            gaps = traj.metrics["gap"][:, layer, s]
            if s in present:
                assert np.isfinite(values).all() and not np.isnan(gaps).any(), (layer, stage)
            else:
                assert np.isnan(values).all() and np.isnan(gaps).all(), (layer, stage)
        rows = frame[(frame.run == 0) & (frame.layer == layer)]
        assert list(rows.stage) == [traj.stages[i] for i in sorted(present)]  # in the order of traj.stages
    assert list(frame[(frame.run == 0) & (frame.layer == 0)].stage) == list(traj.stages)  # the input: all
    # the block outputs are each block's last stage, and equal a run without stages
    plain = isoinit.simulate(net, _batch(), runs=2, seed=1, sampler=sampler)
    for metric in ("gap", "isometry", "stable_rank"):
        np.testing.assert_array_equal(traj.output(metric), plain.metrics[metric])
        last = [traj.metrics[metric][:, layer, present[-1]] for layer, present in enumerate(traj.block_stages, 1)]
        np.testing.assert_array_equal(traj.output(metric)[:, 1:], np.stack(last, axis=1))


@pytest.mark.parametrize("name", ["rmlp-pre", "rmlp-one-layer", "attn-causal", "tf-gpt2", "tf-batch-gain", "mixed"])
def test_simulate_at_run_r_equals_forward_of_network_weights(name: str) -> None:
    net = NETWORKS[name]
    x = _batch(seed=3)
    run = 2
    sim = isoinit.simulate(net, x, runs=run + 1, seed=11, sampler="weights", stages=True, grams=True)
    fixed = isoinit.forward(net, x, isoinit.network_weights(net, D, seed=11, run=run), stages=True, grams=True)
    assert sim.grams is not None and fixed.grams is not None
    np.testing.assert_array_equal(sim.grams[run], fixed.grams[0])
    for metric, values in sim.metrics.items():
        np.testing.assert_array_equal(values[run], fixed.metrics[metric][0], err_msg=metric)
    np.testing.assert_array_equal(sim.norm_bias[run], fixed.norm_bias[0])


def test_network_weights_shapes_and_init() -> None:
    # attention's Q, K, V (d x d) then its output map; the feedforward's two maps; W as drawn
    net = Network(D, [Attention(heads=2), Feedforward(ratio=2)], bias=0.5)
    weights = isoinit.network_weights(net, D, seed=0, run=0)
    shapes = [(w.shape, b.shape) for w, b in weights]
    assert shapes == [((D, D), (D,))] * 4 + [((D, 2 * D), (2 * D,)), ((2 * D, D), (D,))]
    assert weights.names == (
        "blocks.0.attn.q",
        "blocks.0.attn.k",
        "blocks.0.attn.v",
        "blocks.0.attn.out",
        "blocks.1.mlp.in",
        "blocks.1.mlp.out",
    )
    depth = 2
    big = Transformer(depth, 256, heads=4, init="gpt2", gain=3.0)  # gain is not gpt2's
    big_weights = isoinit.network_weights(big, 256, seed=0, run=0)
    for name, (w, b) in zip(big_weights.names, big_weights, strict=True):
        assert b.size == 0
        into_stream = name.endswith(("attn.out", "mlp.out"))  # GPT-2's scaled projections
        want = 0.02 / math.sqrt(2 * depth) if into_stream else 0.02
        assert abs(w.std() / want - 1) < WEIGHT_STD_REL, name
    gaussian = Network(256, [Attention(heads=4, qk_gain=3.0)], gain=0.5)
    drawn = isoinit.network_weights(gaussian, 256)
    for name, (w, _) in zip(drawn.names, drawn, strict=True):
        want = 0.5 * (3.0 if name.endswith((".q", ".k")) else 1.0) / math.sqrt(256)  # N(0, gain^2 qk_gain^2 / d)
        assert abs(w.std() / want - 1) < WEIGHT_STD_REL, name


# --- 2. sampler="gram" vs sampler="weights" in distribution ---------------------------------

KS_D, KS_N, KS_RUNS = 32, 6, 400
#: Each configuration with the stages of its last block, every one a KS test; their total is
#: tolerances.BLOCK_KS_TESTS_ENGINE (the Bonferroni count of BLOCK_KS_ALPHA).
KS_NETWORKS: dict[str, tuple[BlockNetwork, tuple[str, ...]]] = {
    "rmlp-pre": (ResidualMLP(3, KS_D), ("norm", "hidden", "mlp", "residual")),
    "rmlp-post-one-layer": (
        ResidualMLP(3, KS_D, norm_position="post", ratio=None, activation="tanh"),
        ("mlp", "residual", "norm"),
    ),
    "rmlp-none-alpha": (
        ResidualMLP(3, KS_D, norm_position="none", alpha="1/sqrt(L)", activation="tanh", bias=0.2),
        ("hidden", "mlp", "residual"),
    ),
    "attn-causal": (Network(KS_D, [Attention(heads=4, causal=True)] * 2), ("norm", "attn", "residual")),
    "attention-only": (Network(KS_D, [Attention(heads=4, residual=False, norm_position="none")] * 3), ("attn",)),
    "mlp-only": (Network(KS_D, [Feedforward(residual=False, norm_position="none", ratio=2)] * 2), ("hidden", "mlp")),
    "tf-pre-gpt2": (
        Transformer(2, KS_D, heads=4, init="gpt2"),
        ("ln1", "attn", "resid1", "ln2", "hidden", "mlp", "resid2", "ln_f"),
    ),
    "tf-post-batch-bias": (
        Transformer(2, KS_D, heads=4, norm_position="post", norm="batch", bias=0.2, causal=True),
        ("attn", "resid1", "ln1", "hidden", "mlp", "resid2", "ln2"),
    ),
    "tf-orthogonal": (
        Transformer(2, KS_D, heads=4, weights="orthogonal", eps=1e-3),
        ("ln1", "attn", "resid1", "ln2", "hidden", "mlp", "resid2", "ln_f"),
    ),
    "rmlp-orthogonal-narrow": (  # hidden width 8 >= n: the gram sampler's orthogonal frames
        ResidualMLP(2, KS_D, weights="orthogonal", ratio=0.25, norm="rms"),
        ("norm", "hidden", "mlp", "residual"),
    ),
    "attn-bias-gain": (Network(KS_D, [Attention(heads=2)] * 2, bias=0.5, gain=0.7), ("norm", "attn", "residual")),
}
assert sum(len(s) for _, s in KS_NETWORKS.values()) == BLOCK_KS_TESTS_ENGINE


def _ks_pvalues(a: isoinit.Trajectory, b: isoinit.Trajectory) -> dict[str, tuple[str, float]]:
    """Per stage of the last block: (metric, KS p-value) of the gap, or of mean |rho| where the
    gap is infinite in some run (a rank-deficient Gram: batch centering, collapsed attention)."""
    assert a.stages is not None and a.block_stages is not None
    layer = a.network.depth
    out = {}
    for s in a.block_stages[-1]:
        gaps = [t.metrics["gap"][:, layer, s] for t in (a, b)]
        metric = "gap" if all(np.isfinite(g).all() for g in gaps) else "mean_abs_corr"
        out[a.stages[s]] = (
            metric,
            float(stats.ks_2samp(a.metrics[metric][:, layer, s], b.metrics[metric][:, layer, s]).pvalue),
        )
    return out


@pytest.mark.parametrize("name", list(KS_NETWORKS))
def test_gram_sampler_matches_weights_in_distribution(name: str) -> None:
    net, stages = KS_NETWORKS[name]
    x = _batch(KS_N, KS_D, seed=5)
    # different seeds: the two samplers read the same streams for different draws
    gram_ = isoinit.simulate(net, x, runs=KS_RUNS, seed=1, sampler="gram", stages=True)
    weights = isoinit.simulate(net, x, runs=KS_RUNS, seed=2, sampler="weights", stages=True)
    pvalues = _ks_pvalues(gram_, weights)
    assert tuple(pvalues) == stages
    bad = {k: v for k, v in pvalues.items() if not v[1] > BLOCK_KS_ALPHA}
    assert not bad, f"KS p-values below {BLOCK_KS_ALPHA:.1e}: {bad}"


@pytest.mark.parametrize(
    ("wrong", "right", "stage"),
    [
        (ResidualMLP(3, KS_D, alpha=1.3), ResidualMLP(3, KS_D), "residual"),  # alpha off by 30%
        (Transformer(2, KS_D, heads=4, gain=1.2), Transformer(2, KS_D, heads=4), "ln_f"),  # gain 1.2 vs 1
        (  # attention's gain 1.2 vs 1
            Network(KS_D, [Attention(heads=4, causal=True)] * 2, gain=1.2),
            Network(KS_D, [Attention(heads=4, causal=True)] * 2),
            "residual",
        ),
    ],
    ids=["alpha", "transformer-gain", "attention-gain"],
)
def test_ks_test_has_power(wrong: BlockNetwork, right: BlockNetwork, stage: str) -> None:
    # the same test at the same level rejects a deliberately wrong sampler (measured p < 1e-18)
    x = _batch(KS_N, KS_D, seed=5)
    a = isoinit.simulate(wrong, x, runs=KS_RUNS, seed=1, sampler="gram", stages=True)
    b = isoinit.simulate(right, x, runs=KS_RUNS, seed=2, sampler="weights", stages=True)
    metric, p = _ks_pvalues(a, b)[stage]
    assert metric == "gap" and p < BLOCK_KS_ALPHA, p


def test_attention_only_stack_collapses_in_rank_and_residual_prevents_it() -> None:
    # Dong et al. 2021: without skip connections attention drives the tokens to one direction
    x = _batch(KS_N, KS_D, seed=5)
    only = isoinit.simulate(Network(KS_D, [Attention(heads=4, residual=False, norm_position="none")] * 10), x, runs=20)
    resid = isoinit.simulate(Network(KS_D, [Attention(heads=4)] * 10), x, runs=20)
    assert np.all(only.mean_abs_corr[:, -1] > 1 - ATTENTION_COLLAPSE_CORR)
    assert np.all(resid.mean_abs_corr[:, -1] < 0.999)


def test_norm_bias_is_nan_exactly_for_blocks_without_a_norm() -> None:
    net = Network(
        D, [Attention(heads=2, residual=False, norm_position="none"), Feedforward(), Feedforward(norm="none")]
    )
    traj = isoinit.simulate(net, _batch(), runs=3)
    assert np.isfinite(traj.norm_bias[:, 2]).all()
    assert np.isnan(traj.norm_bias[:, [0, 1, 3]]).all()  # layer 0: the input as given, no norm
    rows = isoinit.simulate(dataclasses.replace(net, input_norm="rows"), _batch(), runs=3)
    assert np.isfinite(rows.norm_bias[:, [0, 2]]).all()


@pytest.mark.parametrize("sampler", ["gram", "weights"])
def test_divergence_and_collapse_of_block_networks_are_reported(sampler: str) -> None:
    x = _batch(6, D, seed=2)
    net = ResidualMLP(40, D, norm_position="none", activation="exp")  # no norm: exp overflows
    with pytest.warns(isoinit.DivergenceWarning, match="residual-mlp"):
        traj = isoinit.simulate(net, x, runs=4, sampler=sampler)
    assert (traj.diverged_at >= 1).all()
    for r, l in enumerate(traj.diverged_at):
        # before the breakdown the metrics are defined (the gap may be +inf: a Gram singular at
        # float64 resolution as exp's outputs run away)
        assert np.isnan(traj.gap[r, l:]).all() and not np.isnan(traj.gap[r, :l]).any()
    # an MLP-only stack of width 2 with relu maps every token to 0 now and then, and stays there
    x2 = _batch(2, 2, seed=2)
    only = Network(2, [Feedforward(residual=False, norm_position="none", one_layer=True)] * 4)
    with pytest.warns(isoinit.CollapseWarning, match="collapsed"):
        traj = isoinit.simulate(only, x2, runs=50, sampler=sampler, stages=True)
    runs = np.flatnonzero(traj.collapsed_at >= 0)
    assert runs.size > 0 and (traj.diverged_at == -1).all()
    for r in runs:
        l = traj.collapsed_at[r]
        assert (traj.output("isometry")[r, l:] == 0).all() and np.isposinf(traj.output("gap")[r, l:]).all()


# --- 3. determinism ------------------------------------------------------------------------

DETERMINISM = {
    "transformer": Transformer(2, KS_D, heads=4, init="gpt2", causal=True, bias=0.1),
    "residual-mlp": ResidualMLP(3, KS_D, norm_position="post", alpha=0.5),
}


def _assert_same(a: isoinit.Trajectory, b: isoinit.Trajectory, runs: slice = slice(None)) -> None:
    assert a.grams is not None and b.grams is not None
    np.testing.assert_array_equal(a.grams[runs], b.grams)
    for metric in a.metrics:
        np.testing.assert_array_equal(a.metrics[metric][runs], b.metrics[metric], err_msg=metric)
    np.testing.assert_array_equal(a.norm_bias[runs], b.norm_bias)
    np.testing.assert_array_equal(a.diverged_at[runs], b.diverged_at)
    np.testing.assert_array_equal(a.collapsed_at[runs], b.collapsed_at)


@pytest.mark.parametrize("sampler", ["gram", "weights"])
@pytest.mark.parametrize("name", list(DETERMINISM))
def test_same_results_on_any_thread_count_and_for_any_number_of_runs(name: str, sampler: str) -> None:
    net = DETERMINISM[name]
    x = _batch(KS_N, KS_D, seed=9)

    def run(runs: int, threads: int) -> isoinit.Trajectory:
        return isoinit.simulate(net, x, runs=runs, seed=4, sampler=sampler, stages=True, grams=True, threads=threads)

    one = run(8, 1)
    _assert_same(one, run(8, 2))
    _assert_same(one, run(3, 2), slice(0, 3))
    _assert_same(one, run(5, 1), slice(0, 5))


# --- 4. errors naming the parameter ----------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: Network(30, [Attention(heads=4)]), ValueError, "heads"),
        (lambda: Transformer(2, 30, heads=4), ValueError, "heads"),
        (lambda: Network(32, [TransformerBlock(heads=5)]), ValueError, "heads"),
        (lambda: Attention(heads=0), ValueError, "heads"),
        (lambda: Feedforward(ratio=0), ValueError, "ratio"),
        (lambda: Feedforward(ratio=-1.5), ValueError, "ratio"),
        (lambda: ResidualMLP(2, 16, ratio=0), ValueError, "ratio"),
        (lambda: Transformer(2, 16, heads=2, ratio=-4), ValueError, "ratio"),
        (lambda: TransformerBlock(ratio=0.0), ValueError, "ratio"),
        (lambda: Feedforward(alpha="1/L"), ValueError, "alpha"),
        (lambda: ResidualMLP(2, 16, alpha="sqrt(L)"), ValueError, "alpha"),
        (lambda: Attention(alpha=[1.0]), (TypeError, ValueError), "alpha"),
        (lambda: Feedforward(alpha=float("nan")), ValueError, "alpha"),
        (lambda: TransformerBlock(norm_position="none"), ValueError, "position"),
        (lambda: Feedforward(norm_position="middle"), ValueError, "position"),
        (lambda: Feedforward(norm="mf"), ValueError, "norm"),
        (lambda: Attention(norm="mf"), ValueError, "norm"),
        (lambda: Transformer(2, 16, heads=2, norm="mf"), ValueError, "norm"),
        (lambda: ResidualMLP(2, 16, norm="mf"), ValueError, "norm"),
        (lambda: Network(16, []), ValueError, "blocks"),
        (lambda: Network(16, [isoinit.MLP(2, 16)]), TypeError, "blocks"),
        (lambda: Network(16, [Feedforward(), "attention"]), TypeError, "blocks"),
        (lambda: Network(16, Feedforward()), TypeError, "blocks"),
        (lambda: Transformer(2, 16, heads=2, norm_position="none"), ValueError, "norm_position"),
        (lambda: Transformer(2, 16, heads=2, init="xavier"), ValueError, "init"),
    ],
)
def test_bad_block_configuration_names_the_parameter(
    make: Callable[[], object], error: type[Exception] | tuple[type[Exception], ...], match: str
) -> None:
    with pytest.raises(error, match=match):
        make()


def test_width_mismatch_names_width() -> None:
    x = _batch(6, 12)
    for net in (ResidualMLP(2, 16), Transformer(1, 16, heads=2), Network(16, [Attention()])):
        with pytest.raises(ValueError, match="width"):
            isoinit.simulate(net, x)
        with pytest.raises(ValueError, match="width"):
            isoinit.forward(net, x, isoinit.network_weights(net, 16))


def test_orthogonal_gram_sampler_needs_n_at_most_the_width() -> None:
    x = _batch(12, 8)
    net = Network(8, [Attention(heads=2)], weights="orthogonal")
    with pytest.raises(ValueError, match="sampler"):
        isoinit.simulate(net, x, sampler="gram")
    with pytest.warns(isoinit.SingularInputWarning):  # n = 12 > d = 8
        assert isoinit.simulate(net, x, sampler="auto").sampler == "weights"  # auto falls back
    with pytest.warns(isoinit.SingularInputWarning):
        isoinit.simulate(net, x, sampler="weights")


def test_kernel_rejects_causal_on_a_feedforward_block() -> None:
    cfg = _core.Config("relu", widths=[8], blocks=[_core.BlockSpec(kind="feedforward", causal=True)])
    with pytest.raises(ValueError, match="causal"):
        _core.simulate(_batch(4, 8), 0, 0, 1, 1, cfg)
