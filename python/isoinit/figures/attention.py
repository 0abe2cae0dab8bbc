"""Figures of attention's two failure modes at initialization (Giorlandino and Goldt, ICLR 2026).

Their encoder (:func:`isoinit.presets.gg_encoder`: post-norm, no attention output projection,
a ReLU MLP of width ``d``, value and MLP weights ``N(0, 0.2 / d)``, query and key weights at
the scale ``beta``) on ``T`` tokens of equal correlation 0.2 (:func:`isoinit.inputs.correlated`),
the mean cosine between tokens after every layer from three routes: the simulation (a band
over networks), isoinit's infinite-width mean field (:func:`isoinit.meanfield.trajectory`,
exact at finite ``T``) and their Random Energy Model recursion (:func:`isoinit.bounds.predict`,
the large-``T`` limit).

``attention-collapse``
    Their Figure 1 at their size (width 720, one head, ``T = 512``, 50 layers): ``beta = 0.5``,
    below the critical scale (attention averages the tokens: rank collapse), and ``beta = 3``,
    above it (attention freezes on a few tokens: entropy collapse).
``attention-variants``
    The same for post-norm, pre-norm and gain-controlled (centred, post-norm) attention, at
    width 512 and ``T = 128``.
``attention-phase``
    The trainability diagram over ``beta`` and the attention's skip strength ``alpha_SA``
    (width 256, ``T = 64``, 50 layers): the last layer's mean cosine from the REM recursion
    (fine grid), the mean field and the simulation (coarse grid), with the REM's regions of
    rank collapse and entropy collapse marked.

The widths scale with ``size`` (and ``T`` with it, below the width); the ``protocol`` option
does not apply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .. import presets
from ..inputs import correlated
from ..metrics import _mean_correlation as mean_cosine
from ..networks.blocks import Network
from ..theory import bounds
from ..theory import meanfield as mean_field
from ..theory._attention import classify, rem_run
from ._draw import layout, nan_band, new_axes, save_png
from ._measure import Context, Measurement, quiet_breakdowns
from ._registry import register
from .blocks import _run, _tidy

_F = NDArray[np.float64]

#: The input tokens' correlation.
RHO0 = 0.2
#: Layers of every encoder.
DEPTH = 50
#: The query-key scales of ``attention-collapse`` and ``attention-variants``: below and above
#: the critical ``beta_c = sqrt(2 / (1 - 0.2)) = 1.58`` of the input.
BETAS = (0.5, 3.0)
#: Draws of the scores per attention block in the mean field (its Monte Carlo error is reported).
MF_SAMPLES = 256
_COSINE = "mean cosine between tokens"
_STAGE = "layer output (after the MLP's norm)"


def _sizes(ctx: Context, width: int, tokens: int) -> tuple[int, int]:
    """The width scaled by ``size``, and the tokens with it (``T <= d - 2`` for :func:`~isoinit.inputs.correlated`)."""
    d = ctx.width(width)
    return d, max(8, min(round(tokens * ctx.size), d - 2))


@dataclass
class _Curves:
    """One encoder's mean token cosine per layer (``0..L``) from the three routes."""

    label: str
    beta: float
    sim: _F  # (runs, L + 1)
    meanfield: _F  # (L + 1,)
    mc_stderr: _F  # (L + 1,): the mean field's Monte Carlo standard error
    rem: _F  # (L + 1,)
    participation: _F  # (L,): the REM's Y_2 = sum_j A_ij^2 of every layer's attention
    regime: str  # the REM's, from RHO0


def _encoder(
    ctx: Context, panel: str, label: str, net: Network, x: _F, tokens: int, runs: int, samples: int
) -> tuple[_Curves, list[str], list[pd.DataFrame]]:
    """Simulate, the mean field and the REM recursion of one encoder; layer ``l`` is block ``2 l``."""
    traj, notes = _run(ctx, net, x, runs, grams=True, metrics=["mean_abs_corr"])
    assert traj.grams is not None
    sim = mean_cosine(traj.grams)[:, ::2]
    with quiet_breakdowns():
        mf = mean_field.trajectory(net, x, samples=samples, seed=ctx.seed)
    assert mf.metric_stderr is not None
    meanfield = mean_cosine(mf.grams)[::2]
    # the correlations stay positive, so the Monte Carlo error of the mean |correlation| is the mean cosine's
    se = mf.metric_stderr["mean_abs_corr"][::2]
    rhos, y2s, _ = rem_run(net, tokens, RHO0)
    rem, y2 = rhos[::2], y2s[::2]
    regime = classify(float(rem[-1]), float(np.nanmax(y2)))
    beta = bounds.rem_beta(net, tokens)
    layers = np.arange(sim.shape[1])
    div = traj.diverged_at
    none = np.array([-1])
    frames = [
        _tidy(ctx, net, panel, label, "mean_cosine", _STAGE, "layer", sim, div),
        _tidy(ctx, net, panel, label, "mean_cosine", _STAGE, "layer", meanfield[None], none, source="mean-field"),
        _tidy(ctx, net, panel, label, "mc_stderr", _STAGE, "layer", se[None], none, source="mean-field"),
        _tidy(ctx, net, panel, label, "mean_cosine", _STAGE, "layer", rem[None], none, source="rem"),
        _tidy(
            ctx, net, panel, label, "participation", "attention", "layer", y2[None], none, x=layers[1:], source="rem"
        ),
    ]
    return _Curves(label, beta, sim, meanfield, se, rem, y2, regime), notes, frames


def _legend(fig: Any, runs: int) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color="0.3", label=f"simulation: mean of {runs} networks, 10-90% band"),
        Line2D([], [], color="0.3", linestyle="--", label="isoinit mean field (infinite width, this T)"),
        Line2D([], [], color="0.3", linestyle=":", linewidth=1.8, label="REM recursion (large T)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncols=3, fontsize=7, frameon=False, bbox_to_anchor=(0.5, 0.0))


def _draw_curves(ax: Any, c: _Curves, color: str, label: str) -> None:
    layers = np.arange(c.sim.shape[1])
    mean, lo, hi = nan_band(c.sim)
    ax.plot(layers, mean, color=color, linewidth=1.4, label=label)
    if c.sim.shape[0] > 1:
        ax.fill_between(layers, lo, hi, color=color, alpha=0.2, linewidth=0)
    ax.plot(layers, c.meanfield, color=color, linestyle="--", linewidth=1.2)
    ax.plot(layers, c.rem, color=color, linestyle=":", linewidth=1.8)


def _style(ax: Any) -> None:
    ax.set_xlabel("layer l")
    ax.set_ylabel(_COSINE, fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)


# --------------------------------------------------------------------------------------
# attention-collapse
# --------------------------------------------------------------------------------------


@dataclass
class AttentionCurves(Measurement):
    """The measurement of ``attention-collapse`` and ``attention-variants``.

    Attributes
    ----------
    width, heads, tokens, runs : int
        The encoders' width and heads, the tokens and the networks per curve.
    panels : list
        ``(title, curves)``: per panel, one :class:`_Curves` per ``beta``.
    """

    width: int
    heads: int
    tokens: int
    runs: int
    panels: list[tuple[str, list[_Curves]]]


def _draw_participation(ax: Any, m: AttentionCurves) -> None:
    """The REM's ``Y_2`` of every layer's attention, one curve per panel of ``m``."""
    for i, (title, curves) in enumerate(m.panels):
        for c in curves:
            layers = np.arange(1, c.participation.size + 1)
            ax.plot(layers, c.participation, color=f"C{i}", linestyle=":", linewidth=1.8, label=title)
    ax.set_xlabel("layer l")
    ax.set_ylabel("sum_j A_ij^2 (REM limit)", fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    ax.set_title("attention's participation: 0 spread over the tokens, > 0 frozen on a few", fontsize=9)


def _draw_collapse(ctx: Context, m: AttentionCurves, png: Path) -> None:
    single = all(len(curves) == 1 for _, curves in m.panels)  # attention-collapse: one beta per panel
    fig, axes = new_axes(len(m.panels) + single, width=4.6, height=3.4)
    if single:
        _draw_participation(axes[-1], m)
    for k, (ax, (title, curves)) in enumerate(zip(axes, m.panels, strict=False)):
        for i, c in enumerate(curves):
            color = f"C{k}" if single else f"C{i}"
            _draw_curves(ax, c, color, f"beta = {c.beta:g}: {c.regime} (REM)")
        _style(ax)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="best")
    layout(
        fig,
        f"{ctx.name}: {ctx.description}\n"
        f"Giorlandino-Goldt encoder (isoinit.presets.gg_encoder): {DEPTH} layers, d={m.width}, {m.heads} head(s), "
        f"no output projection, ReLU MLP of width d, weights N(0, 0.2/d); T={m.tokens} tokens of correlation "
        f"{RHO0:g}, seed {ctx.seed}; beta_c = sqrt(2/(1-rho)) = {bounds.rem_beta_c(RHO0):.3g} at the input",
    )
    _legend(fig, m.runs)
    save_png(fig, png)


@register(
    "attention-collapse",
    "the two failure modes of attention: mean token cosine of a post-norm encoder at beta = 0.5 and 3, "
    "simulation vs mean field vs REM",
    position=23,
    published="Giorlandino and Goldt 2026, Figure 1: below beta_c the tokens' cosine climbs to 1 (rank "
    "collapse); at beta = 3 it stays low while attention freezes on a few tokens (entropy collapse); their REM "
    "recursion follows the simulation",
    draw=_draw_collapse,
)
def attention_collapse(ctx: Context) -> AttentionCurves:
    """Figure ``attention-collapse``: Giorlandino and Goldt's Figure 1 at their size.

    Their post-norm encoder (:func:`isoinit.presets.gg_encoder`) with width 720, one head and
    50 layers on ``T = 512`` tokens of correlation 0.2, ``beta`` 0.5 and 3, 4 networks by
    default: the mean token cosine per layer, simulated, from the mean field (256 score draws
    per block) and from the REM recursion.
    """
    d, tokens = _sizes(ctx, 720, 512)
    runs = ctx.nruns(4)
    x = correlated(tokens, d, RHO0, seed=ctx.seed)
    frames: list[pd.DataFrame] = []
    notes: list[str] = []
    panels = []
    for beta in BETAS:
        net = presets.gg_encoder(DEPTH, d, tokens, beta)
        panel = f"beta = {beta:g}"
        c, n, f = _encoder(ctx, panel, "post-norm", net, x, tokens, runs, MF_SAMPLES)
        notes += n
        frames += f
        panels.append((f"{panel}, post-norm, T = {tokens}", [c]))
    return AttentionCurves(pd.concat(frames, ignore_index=True), notes, d, 1, tokens, runs, panels)


# --------------------------------------------------------------------------------------
# attention-variants
# --------------------------------------------------------------------------------------

#: The variants of ``attention-variants``: title and the encoder's keywords.
VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("post-norm", {"norm_position": "post"}),
    ("pre-norm", {"norm_position": "pre"}),
    ("gain-controlled (centred), post-norm", {"norm_position": "post", "centred": True}),
)


@register(
    "attention-variants",
    "post-norm, pre-norm and gain-controlled attention at beta = 0.5 and 3: mean token cosine, "
    "simulation vs mean field vs REM",
    position=24,
    published="Giorlandino and Goldt 2026: pre-norm slows rank collapse (the residual stream keeps the "
    "tokens); gain-controlled attention, which removes the uniform average, avoids it",
    draw=_draw_collapse,
)
def attention_variants(ctx: Context) -> AttentionCurves:
    """Figure ``attention-variants``: the encoder's variants.

    Post-norm, pre-norm and gain-controlled (``centred``, post-norm) encoders
    (:func:`isoinit.presets.gg_encoder`), width 512, one head, 50 layers, ``T = 128`` tokens of
    correlation 0.2, ``beta`` 0.5 and 3, 4 networks by default.
    """
    d, tokens = _sizes(ctx, 512, 128)
    runs = ctx.nruns(4)
    x = correlated(tokens, d, RHO0, seed=ctx.seed)
    frames: list[pd.DataFrame] = []
    notes: list[str] = []
    panels = []
    for title, kw in VARIANTS:
        curves = []
        for beta in BETAS:
            net = presets.gg_encoder(DEPTH, d, tokens, beta, **kw)
            c, n, f = _encoder(ctx, title, f"beta = {beta:g}", net, x, tokens, runs, MF_SAMPLES)
            curves.append(c)
            notes += n
            frames += f
        panels.append((f"{title}, T = {tokens}", curves))
    return AttentionCurves(pd.concat(frames, ignore_index=True), notes, d, 1, tokens, runs, panels)


# --------------------------------------------------------------------------------------
# attention-phase
# --------------------------------------------------------------------------------------

#: The coarse grid of ``attention-phase`` (mean field and simulation) and its fine REM grid.
PHASE_BETAS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
PHASE_SKIPS = (0.0, 0.5, 1.0, 1.25, 1.5, 1.75, 2.0)
REM_BETAS = np.linspace(0.125, 4.5, 30)
REM_SKIPS = np.linspace(0.0, 2.125, 20)
PHASE_SAMPLES = 128


@dataclass
class Phase(Measurement):
    """The measurement of ``attention-phase``: the last layer's mean token cosine over ``(beta, skip)``.

    Attributes
    ----------
    width, tokens, runs : int
    rem, rem_participation, rem_freezing : ndarray
        On :data:`REM_SKIPS` x :data:`REM_BETAS`: the REM's last-layer cosine, the largest
        ``Y_2`` of any layer's attention (> 0: entropy collapse) and the largest
        ``beta_eff / sqrt(2)`` (> 1 where ``Y_2 > 0``; smooth, for the boundary's contour).
    meanfield, sim : ndarray
        On :data:`PHASE_SKIPS` x :data:`PHASE_BETAS`: the mean field's and the simulation's
        (mean over networks) last-layer cosine.
    """

    width: int
    tokens: int
    runs: int
    rem: _F
    rem_participation: _F
    rem_freezing: _F
    meanfield: _F
    sim: _F


def _edges(v: Any) -> _F:
    """Cell edges around the grid values ``v`` (midpoints, the ends mirrored)."""
    v = np.asarray(v, dtype=float)
    mid = 0.5 * (v[1:] + v[:-1])
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def _draw_phase(ctx: Context, m: Phase, png: Path) -> None:
    fig, axes = new_axes(3, width=4.2, height=3.4)
    panels = (
        ("REM recursion (T -> inf)", REM_BETAS, REM_SKIPS, m.rem),
        (f"isoinit mean field (T = {m.tokens})", PHASE_BETAS, PHASE_SKIPS, m.meanfield),
        (f"simulation (d = {m.width}, mean of {m.runs})", PHASE_BETAS, PHASE_SKIPS, m.sim),
    )
    image = None
    finite = np.concatenate([v[np.isfinite(v)] for *_, v in panels])
    low = min(0.5, math.floor(10 * float(finite.min())) / 10) if finite.size else 0.0
    for ax, (title, betas, skips, values) in zip(axes, panels, strict=True):
        image = ax.pcolormesh(_edges(betas), _edges(skips), values, vmin=low, vmax=1.0, cmap="viridis")
        ax.contour(REM_BETAS, REM_SKIPS, m.rem, levels=[0.99], colors="white", linewidths=1.4)
        ax.contour(REM_BETAS, REM_SKIPS, m.rem_freezing, levels=[1.0], colors="red", linewidths=1.4)
        ax.set_xlabel("query-key scale beta")
        ax.set_ylabel("attention skip alpha_SA")
        ax.set_title(title, fontsize=9)
        ax.set_xlim(REM_BETAS[0], REM_BETAS[-1])
        ax.set_ylim(REM_SKIPS[0], REM_SKIPS[-1])
    axes[0].text(0.3, 0.4, "rank collapse", color="black", fontsize=8)
    axes[0].text(0.3, 1.8, "signal\npreserved", color="white", fontsize=8)
    axes[0].text(2.9, 1.8, "entropy\ncollapse", color="red", fontsize=8)
    layout(
        fig,
        f"{ctx.name}: {ctx.description}\n"
        f"post-norm Giorlandino-Goldt encoder, {DEPTH} layers, d={m.width}, 1 head, T={m.tokens} tokens of "
        f"correlation {RHO0:g}, seed {ctx.seed}; white: the REM's last-layer cosine = 0.99 (rank collapse below "
        "it); red: the REM's freezing (entropy collapse to its right)",
        legend=False,
    )
    right, low = axes[1].get_position(), axes[2].get_position()  # the colour bar in the empty fourth cell
    cax = fig.add_axes((right.x0 + 0.1 * right.width, low.y0, 0.06 * right.width, low.height))
    fig.colorbar(image, cax=cax, label=f"{_COSINE}, layer {DEPTH}")
    save_png(fig, png)


def _rem_grid(d: int, tokens: int) -> tuple[_F, _F, _F]:
    cos = np.empty((REM_SKIPS.size, REM_BETAS.size))
    y2, freezing = np.empty_like(cos), np.empty_like(cos)
    for i, skip in enumerate(REM_SKIPS):
        for j, beta in enumerate(REM_BETAS):
            rhos, y2s, frz = rem_run(presets.gg_encoder(DEPTH, d, tokens, float(beta), skip=float(skip)), tokens, RHO0)
            cos[i, j], y2[i, j], freezing[i, j] = rhos[-1], np.nanmax(y2s), np.nanmax(frz)
    return cos, y2, freezing


@register(
    "attention-phase",
    "the trainability diagram over (beta, alpha_SA): last-layer mean token cosine of a 50-layer post-norm "
    "encoder, REM vs mean field vs simulation",
    position=25,
    published="Giorlandino and Goldt 2026: rank collapse below beta_c unless the skip is strong enough; "
    "entropy collapse above beta_c; trainable between",
    draw=_draw_phase,
)
def attention_phase(ctx: Context) -> Phase:
    """Figure ``attention-phase``: the trainability diagram.

    The post-norm encoder (:func:`isoinit.presets.gg_encoder`, width 256, one head, 50 layers,
    ``T = 64`` tokens of correlation 0.2) over the query-key scale ``beta`` and the attention's
    skip ``alpha_SA`` (the MLP's skip 1): the REM recursion on a fine grid, the mean field
    (128 score draws per block) and the simulation (2 networks by default) on
    :data:`PHASE_BETAS` x :data:`PHASE_SKIPS`.
    """
    d = ctx.width(256)
    tokens = min(64, d - 2)
    runs = ctx.nruns(2)
    x = correlated(tokens, d, RHO0, seed=ctx.seed)
    rem, y2, freezing = _rem_grid(d, tokens)
    mf = np.empty((len(PHASE_SKIPS), len(PHASE_BETAS)))
    sim = np.empty_like(mf)
    frames: list[pd.DataFrame] = []
    notes: list[str] = []
    last = np.array([DEPTH])
    for i, skip in enumerate(PHASE_SKIPS):
        for j, beta in enumerate(PHASE_BETAS):
            net = presets.gg_encoder(DEPTH, d, tokens, beta, skip=skip)
            traj, n = _run(ctx, net, x, runs, grams=True, metrics=["mean_abs_corr"])
            notes += n
            assert traj.grams is not None
            s = mean_cosine(traj.grams[:, -1])[:, None]
            with quiet_breakdowns():
                g = mean_field.trajectory(net, x, samples=PHASE_SAMPLES, seed=ctx.seed).grams[-1]
            mf[i, j], sim[i, j] = float(mean_cosine(g)), float(np.nanmean(s))
            panel, curve = f"alpha_SA = {skip:g}", f"beta = {beta:g}"
            frames.append(_tidy(ctx, net, panel, curve, "mean_cosine", _STAGE, "layer", s, traj.diverged_at, x=last))
            frames.append(
                _tidy(
                    ctx,
                    net,
                    panel,
                    curve,
                    "mean_cosine",
                    _STAGE,
                    "layer",
                    mf[i, j : j + 1, None],
                    np.array([-1]),
                    x=last,
                    source="mean-field",
                )
            )
    for i, skip in enumerate(REM_SKIPS):
        net = presets.gg_encoder(DEPTH, d, tokens, 1.0, skip=float(skip))
        for quantity, values in (("mean_cosine", rem), ("participation", y2), ("freezing", freezing)):
            frame = _tidy(
                ctx,
                net,
                f"alpha_SA = {skip:g}",
                "REM grid",
                quantity,
                _STAGE,
                "beta",
                values[i][None],
                np.array([-1]),
                x=REM_BETAS,
                source="rem",
            )
            frames.append(frame)
    for skip, beta, value in (
        (s, b, v) for s, row in zip(PHASE_SKIPS, sim, strict=True) for b, v in zip(PHASE_BETAS, row, strict=True)
    ):
        if not math.isfinite(value):
            notes.append(f"{ctx.name}: beta = {beta:g}, alpha_SA = {skip:g}: every run broke down")
    return Phase(pd.concat(frames, ignore_index=True), notes, d, tokens, runs, rem, y2, freezing, mf, sim)
