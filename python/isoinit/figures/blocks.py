"""Figures of block networks at initialization: transformers, attention stacks, residual MLPs.

Beyond the paper's MLPs (:mod:`isoinit.blocks`; Theory §7 of the documentation):

``transformer-ln``
    The isometry gap of the token Gram just before and just after every layer norm of a
    GPT-2-small-shaped pre-norm transformer at GPT-2's initialization.
``rank-collapse``
    The token-Gram gap and effective rank against depth for attention-only, attention with
    residual and pre-norm transformer stacks (Dong, Cordonnier and Loukas 2021's comparison).
``residual``
    The gap of residual MLPs against depth: pre- vs post-norm, residual scale 1 vs
    ``1/sqrt(L)``, relu and tanh, with the mean field dashed where
    :func:`isoinit.meanfield.trajectory` covers residual MLPs.

``transformer-ln`` and ``rank-collapse`` have their own measuring and drawing functions
(registered with :func:`~isoinit.figures._registry.register`); ``residual`` is a
:class:`~isoinit.figures._measure.Spec` of the common layer figures. The ``protocol``
option does not apply: a block network is measured at the named stages (its block outputs,
or the stages around its norms).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .. import presets
from ..inputs import gaussian, repeated_tokens
from ..networks.blocks import Attention, BlockNetwork, Network, ResidualMLP, Transformer
from ..simulate import Trajectory, simulate
from ._draw import layout, nan_band, new_axes, save_png, style_legend
from ._measure import CSV_COLUMNS, Context, Curve, Measurement, Panel, Spec, quiet_breakdowns
from ._registry import register, register_layers

_F = NDArray[np.float64]

_GAP = "isometry gap  -log I(G^l)"

#: Where a numerically singular token Gram (gap ``+inf``) is drawn in ``rank-collapse``:
#: above any finite gap of a 32 x 32 float64 Gram (about 31 at most).
GAP_CEILING = 40.0


def _heads_width(ctx: Context, d: int, heads: int) -> int:
    """The width ``d`` scaled by ``size``, rounded to a multiple of ``heads``."""
    return heads * max(1, round(ctx.width(d) / heads))


def _run(
    ctx: Context,
    net: BlockNetwork,
    x: _F,
    runs: int,
    *,
    stages: bool = False,
    grams: bool = False,
    metrics: Sequence[str] | None = None,
) -> tuple[Trajectory, list[str]]:
    """Simulate ``net`` on ``x``; breakdowns and collapses become notes, not warnings."""
    with quiet_breakdowns():
        traj = simulate(net, x, runs=runs, seed=ctx.seed, stages=stages, grams=grams, metrics=metrics, progress=False)
    notes = []
    where = f"{ctx.name}, {net.label()}"
    div, col = traj.diverged_at, traj.collapsed_at
    if (div >= 0).any():
        notes.append(f"{where}: {int((div >= 0).sum())}/{div.size} runs overflowed (first at layer {int(div.min())})")
    if (col >= 0).any():
        first = int(col[col >= 0].min())
        notes.append(f"{where}: {int((col >= 0).sum())}/{col.size} runs collapsed to 0 (first at layer {first})")
    return traj, notes


def _tidy(
    ctx: Context,
    net: BlockNetwork,
    panel: str,
    curve: str,
    quantity: str,
    stage: str,
    x_name: str,
    values: _F,
    diverged_at: NDArray[np.int64],
    *,
    x: Any = None,
    degeneracy: float = np.nan,
    source: str = "simulation",
) -> pd.DataFrame:
    """The tidy rows (:data:`~isoinit.figures._measure.CSV_COLUMNS`) of ``values`` (runs x points).

    A theory curve (``source`` other than ``"simulation"``) is one row of values, with run ``-1``.
    """
    runs, k = values.shape
    xs = np.arange(k) if x is None else np.asarray(x)
    frame = pd.DataFrame(
        {
            "figure": ctx.name,
            "panel": panel,
            "curve": curve,
            "source": source,
            "quantity": quantity,
            "stage": stage,
            "protocol": ctx.protocol,
            "activation": net.act.name,
            "center": net.centering,
            "scale": net.scaling,
            "order": None,
            "norm_position": net.norm_position,
            "gain": net.gain,
            "width": net.width,
            "degeneracy": degeneracy,
            "run": np.repeat(np.arange(runs) if source == "simulation" else -np.ones(runs, dtype=int), k),
            "x_name": x_name,
            "x": np.tile(xs, runs),
            "value": values.reshape(-1),
            "diverged_at": np.repeat(diverged_at, k),
        }
    )
    out: pd.DataFrame = frame[CSV_COLUMNS]
    return out


# --------------------------------------------------------------------------------------
# transformer-ln
# --------------------------------------------------------------------------------------

LN_TOKENS = 64  # tokens of transformer-ln


@dataclass
class _NormGaps:
    input: str
    before: _F  # (runs, norms): the gap of the norm's input
    after: _F  # (runs, norms): the gap of its output


@dataclass
class TransformerLN(Measurement):
    """The measurement of figure ``transformer-ln``.

    Attributes
    ----------
    norms : tuple of str
        The layer norms in order: ``ln1.l`` and ``ln2.l`` of block ``l``, then ``ln_f``.
    depth, width, heads, tokens, runs : int
        The transformer's shape, the tokens and the networks per input.
    curves : list
        Per input: the gaps before and after every norm (``runs x norms``).
    """

    norms: tuple[str, ...]
    depth: int
    width: int
    heads: int
    tokens: int
    runs: int
    curves: list[_NormGaps]


def norm_gaps(traj: Trajectory, metric: str = "gap") -> tuple[_F, _F]:
    """``metric`` just before and just after every layer norm of a pre-norm transformer.

    ``traj`` must come from ``simulate(Transformer(..., norm_position="pre"), X,
    stages=True)``. Before ``ln1`` of block ``l`` is the previous block's output (the input
    at ``l = 1``), before ``ln2`` the first residual sum ``resid1``, before the final
    ``ln_f`` the last block's ``resid2``.

    Returns
    -------
    before, after : ndarray, shape (runs, 2 * depth + 1)
        In the order ``ln1.1, ln2.1, ..., ln1.L, ln2.L, ln_f``.
    """
    assert traj.stages is not None, "simulate with stages=True"
    m = traj.metrics[metric]
    s = traj.stages.index
    depth = m.shape[1] - 1
    before, after = [], []
    for layer in range(1, depth + 1):
        before += [m[:, layer - 1, s("resid2")], m[:, layer, s("resid1")]]
        after += [m[:, layer, s("ln1")], m[:, layer, s("ln2")]]
    before.append(m[:, depth, s("resid2")])
    after.append(m[:, depth, s("ln_f")])
    return np.stack(before, axis=1), np.stack(after, axis=1)


def _relative_change(c: _NormGaps) -> _F:
    with np.errstate(all="ignore"):
        change: _F = 100.0 * (c.after - c.before) / c.before
    return change


def _draw_transformer_ln(ctx: Context, m: TransformerLN, png: Path) -> None:
    fig, axes = new_axes(3, width=3.9, height=3.6)
    k = np.arange(1, len(m.norms) + 1)
    ticks = [1, *range(5, len(m.norms) + 1, 4), len(m.norms)]
    for ax, c in zip(axes, m.curves, strict=False):
        for i, (label, values, marker) in enumerate(
            (("just before the norm", c.before, "o"), ("just after the norm", c.after, "v"))
        ):
            mean, lo, hi = nan_band(values)
            ax.plot(k, mean, color=f"C{i}", marker=marker, markersize=3, linewidth=1.2, label=label)
            if values.shape[0] > 1:
                ax.fill_between(k, lo, hi, color=f"C{i}", alpha=0.2, linewidth=0)
        ax.set_title(f"{c.input}", fontsize=9)
        ax.set_ylabel(_GAP, fontsize=8)
    ax = axes[2]
    for i, c in enumerate(m.curves):
        mean, lo, hi = nan_band(_relative_change(c))
        ax.plot(k, mean, color=f"C{i + 2}", marker="s", markersize=3, linewidth=1.2, label=c.input)
        if c.before.shape[0] > 1:
            ax.fill_between(k, lo, hi, color=f"C{i + 2}", alpha=0.2, linewidth=0)
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    ax.set_title("change of the gap at each norm", fontsize=9)
    ax.set_ylabel("100 (after - before) / before  [%]", fontsize=8)
    for ax in axes:
        ax.set_xticks(ticks)
        ax.set_xticklabels([m.norms[t - 1] for t in ticks], fontsize=7)
        ax.set_xlabel("norm: ln1.l, ln2.l of block l, then ln_f", fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    layout(
        fig,
        f"{ctx.name}: {ctx.description}\n"
        f"GPT2Model's block: causal, L={m.depth}, d={m.width}, {m.heads} heads, gelu_new, GPT-2's init, "
        f"n={m.tokens} tokens N(0, 0.02^2) + positions, seed {ctx.seed}; before ln1.l: the output of block l-1 "
        "(the embeddings for l = 1); before ln2.l: resid1; before ln_f: the last resid2",
    )
    style_legend(fig, meanfield=False, bound=False, broke=False, singular=False, runs=m.runs)
    save_png(fig, png)


#: GPT-2's token embeddings' standard deviation (its initializer range): the scale of the
#: residual stream's input.
EMBEDDING_STD = 0.02


@register(
    "transformer-ln",
    "GPT-2 small (the gpt2 preset) at initialization: the gap just before and after every layer norm",
    position=18,
    published="the authors' GPT-2 measurement: the isometry gap drops at every layer norm",
    draw=_draw_transformer_ln,
)
def transformer_ln(ctx: Context) -> TransformerLN:
    """Figure ``transformer-ln``: the gap around every layer norm of GPT-2 small at initialization.

    GPT-2 small as ``GPT2Model`` builds it (:func:`isoinit.presets.gpt2`: 12 causal pre-norm
    blocks, width 768, 12 heads, ``gelu_new``, GPT-2's initialization, learned positions,
    ``ln_f``), on 64 token embeddings at GPT-2's scale (rows ``N(0, 0.02^2)``: 0.02 times
    :func:`isoinit.inputs.gaussian`) and on 64 repeated tokens at the same scale
    (:func:`isoinit.inputs.repeated_tokens`), 10 runs by default: the gap just before and
    just after each of the 25 layer norms, and its relative change.
    """
    depth, heads = 12, 12
    d = _heads_width(ctx, 768, heads)
    net = presets.gpt2(depth, d, heads)
    runs = ctx.nruns(10)
    labels = (*(f"ln{j}.{layer}" for layer in range(1, depth + 1) for j in (1, 2)), "ln_f")
    frames, notes, curves = [], [], []
    for name, x in (
        ("Gaussian tokens", EMBEDDING_STD * gaussian(LN_TOKENS, d, seed=ctx.seed)),
        ("repeated tokens", EMBEDDING_STD * repeated_tokens(LN_TOKENS, d, seed=ctx.seed)),
    ):
        traj, n = _run(ctx, net, x, runs, stages=True)
        notes += n
        before, after = norm_gaps(traj)
        curves.append(_NormGaps(name, before, after))
        for where, values in (("before", before), ("after", after)):
            frames.append(
                _tidy(
                    ctx,
                    net,
                    name,
                    f"just {where} the norm",
                    "gap",
                    f"{where} the norm (ln1.l, ln2.l, ln_f in order)",
                    "norm",
                    values,
                    traj.diverged_at,
                    x=np.arange(1, len(labels) + 1),
                )
            )
    return TransformerLN(pd.concat(frames, ignore_index=True), notes, labels, depth, d, heads, LN_TOKENS, runs, curves)


# --------------------------------------------------------------------------------------
# rank-collapse
# --------------------------------------------------------------------------------------

COLLAPSE_TOKENS = 32  # tokens of rank-collapse


@dataclass
class _Stack:
    label: str
    gap: _F  # (runs, L + 1), +inf where the Gram is numerically singular
    effective_rank: _F  # (runs, L + 1)
    diverged_at: NDArray[np.int64]


@dataclass
class RankCollapse(Measurement):
    """The measurement of figure ``rank-collapse``.

    Attributes
    ----------
    depth, width, heads, tokens, runs : int
        The stacks' shape, the tokens and the networks per stack.
    stacks : list
        Per stack: the gap (``+inf`` where singular) and the effective rank, ``runs x (L + 1)``.
    """

    depth: int
    width: int
    heads: int
    tokens: int
    runs: int
    stacks: list[_Stack]


def _collapse_stacks(depth: int, d: int, heads: int) -> list[tuple[str, BlockNetwork]]:
    return [
        ("attention only", Network(d, (Attention(heads=heads, residual=False, norm_position="none"),) * depth)),
        ("attention + residual", Network(d, (Attention(heads=heads, residual=True, norm_position="none"),) * depth)),
        ("pre-norm transformer", Transformer(depth, d, heads=heads)),
    ]


def _draw_rank_collapse(ctx: Context, m: RankCollapse, png: Path) -> None:
    fig, axes = new_axes(2, width=4.6, height=3.6)
    layers = np.arange(m.depth + 1)
    singular = False
    for i, s in enumerate(m.stacks):
        color = f"C{i}"
        for ax, values in ((axes[0], np.minimum(s.gap, GAP_CEILING)), (axes[1], s.effective_rank)):
            mean, lo, hi = nan_band(values)
            ax.plot(layers, mean, color=color, linewidth=1.4, label=s.label)
            if values.shape[0] > 1:
                ax.fill_between(layers, lo, hi, color=color, alpha=0.2, linewidth=0)
        inf = np.isinf(s.gap).any(axis=0)
        if inf.any():
            singular = True
            j = int(np.argmax(inf))
            axes[0].plot([j], [GAP_CEILING], marker="^", color=color, markersize=6, linestyle="none")
    axes[0].axhline(GAP_CEILING, color="0.5", linestyle=":", linewidth=0.8)
    axes[0].set_yscale("log")
    axes[0].set_ylabel(f"{_GAP}, +inf drawn at {GAP_CEILING:g}", fontsize=8)
    axes[0].set_title("isometry gap (clipped)", fontsize=9)
    axes[1].set_yscale("log")
    axes[1].set_ylim(0.8, m.tokens * 1.25)
    axes[1].set_ylabel("effective rank exp(entropy of eigenvalues)", fontsize=8)
    axes[1].set_title(f"effective rank of the token Gram (1 to n = {m.tokens})", fontsize=9)
    for ax in axes:
        ax.set_xlabel("layer l (block)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    layout(
        fig,
        f"{ctx.name}: {ctx.description}\n"
        f"L={m.depth} blocks, d={m.width}, {m.heads} heads, init=gaussian, no norm except the transformer's "
        f"(layer norm, pre-norm, final norm, gelu feedforward, ratio 4); n={m.tokens} Gaussian tokens, "
        f"seed {ctx.seed}; a numerically singular Gram (gap = +inf) is drawn at {GAP_CEILING:g}",
    )
    style_legend(fig, meanfield=False, bound=False, broke=False, singular=singular, runs=m.runs)
    save_png(fig, png)


@register(
    "rank-collapse",
    "token-Gram gap and effective rank against depth: attention only, attention + residual, pre-norm transformer",
    position=19,
    published="Dong, Cordonnier and Loukas 2021: pure attention loses rank doubly exponentially fast; "
    "skip connections (and MLPs) slow the collapse",
    draw=_draw_rank_collapse,
)
def rank_collapse(ctx: Context) -> RankCollapse:
    """Figure ``rank-collapse``: rank collapse of attention stacks on the same input.

    Depth 24, width 256, 4 heads, Gaussian initialization, 32 Gaussian tokens
    (:func:`isoinit.inputs.gaussian`), 10 runs by default: an attention-only stack, attention
    with residual (no norm), and a pre-norm transformer. The gap (``+inf`` once the token
    Gram is numerically singular, drawn at :data:`GAP_CEILING`) and the effective rank.
    """
    depth, heads = 24, 4
    d = _heads_width(ctx, 256, heads)
    runs = ctx.nruns(10)
    x = gaussian(COLLAPSE_TOKENS, d, seed=ctx.seed)
    frames, notes, stacks = [], [], []
    for label, net in _collapse_stacks(depth, d, heads):
        traj, n = _run(ctx, net, x, runs)
        notes += n
        gap, rank = traj.output("gap"), traj.output("effective_rank")
        inf = np.isinf(gap)
        if inf.any():
            notes.append(
                f"{ctx.name}, {label}: Gram singular in float64 (gap = +inf) in {int(inf.any(axis=1).sum())}/{runs} "
                f"runs, first at layer {int(np.argmax(inf.any(axis=0)))}"
            )
        stacks.append(_Stack(label, gap, rank, traj.diverged_at))
        stage = "block output"
        frames.append(_tidy(ctx, net, "gap", label, "gap", stage, "layer", gap, traj.diverged_at))
        frames.append(
            _tidy(ctx, net, "effective rank", label, "effective_rank", stage, "layer", rank, traj.diverged_at)
        )
    return RankCollapse(pd.concat(frames, ignore_index=True), notes, depth, d, heads, COLLAPSE_TOKENS, runs, stacks)


# --------------------------------------------------------------------------------------
# residual
# --------------------------------------------------------------------------------------

_RESIDUAL_VARIANTS: Sequence[tuple[str, dict[str, Any]]] = (
    ("pre-norm, alpha=1", {"norm_position": "pre", "alpha": 1.0}),
    ("pre-norm, alpha=1/sqrt(L)", {"norm_position": "pre", "alpha": "1/sqrt(L)"}),
    ("post-norm, alpha=1", {"norm_position": "post", "alpha": 1.0}),
    ("post-norm, alpha=1/sqrt(L)", {"norm_position": "post", "alpha": "1/sqrt(L)"}),
)


@register_layers(
    "residual",
    "residual MLPs with layer norm: pre- vs post-norm, alpha = 1 vs 1/sqrt(L), relu and tanh",
    position=20,
    published="beyond the paper (its follow-up on residual networks): the residual scale and the norm's "
    "position decide how fast the gap moves",
)
def residual(ctx: Context) -> Spec:
    """Figure ``residual``: the gap of residual MLPs against depth.

    Depth 30, width 1000, ratio 4, layer norm, on the paper's input of degeneracy 5,
    10 runs by default: pre- and post-norm, residual scale 1 and ``1/sqrt(L)``, one panel per
    activation (relu, tanh). The mean field is dashed where
    :func:`isoinit.meanfield.trajectory` covers residual MLPs (it is left out while that raises
    :class:`ValueError`).
    """
    r = ctx.nruns(10)
    return Spec(
        tuple(
            Panel(
                act,
                tuple(
                    Curve(label, ResidualMLP(30, ctx.width(1000), act, input_norm="rows", **kw), 5.0, r)
                    for label, kw in _RESIDUAL_VARIANTS
                ),
            )
            for act in ("relu", "tanh")
        ),
        _GAP,
        "residual MLP blocks X + alpha f(LN(X)) (pre) or LN(X + alpha f(X)) (post), f = Lin2 sigma Lin1 "
        "with hidden width 4d; the two alpha = 1/sqrt(L) curves nearly coincide",
    )
