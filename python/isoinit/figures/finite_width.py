"""The finite-width figure: how wide is wide enough (docs/finite-width.md).

``finite-width``
    Left: the isometry gap against depth at widths 64 to 4000 (simulation, mean field, and
    the leading ``1/d`` prediction of :func:`isoinit.theory.finite_width.finite_width` with its
    spread over networks). Right: the plateau the gap settles at against the width, on log
    axes: measured, the closed form ``(n - 1) / (2 d (1 - beta_0^2))``
    (:func:`isoinit.theory.finite_width.plateau`) and the prediction's (the ensemble closure).

The headline network: relu, layer normalization after the activation, ``n = 10`` inputs of
degeneracy 100, one input batch of width 1000 for every width (so one mean field).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..networks.mlp import MLP
from ..simulate import simulate
from ..theory import meanfield as mean_field
from ..theory.finite_width import FiniteWidthTrajectory, finite_width, plateau
from ._draw import layout, nan_band, new_axes, save_png
from ._measure import BATCH, CSV_COLUMNS, Context, Curve, Measured, Measurement, rows
from ._registry import register

_F = NDArray[np.float64]

ACTIVATION = "relu"
DEPTH = 50
DEGENERACY = 100.0
#: The widths of the left panel (with a prediction each) and of the right panel (measured).
PREDICTED_WIDTHS = (64, 256, 1000, 4000)
MEASURED_WIDTHS = (64, 128, 256, 512, 1000, 2000, 4000)
#: The plateau: the mean gap over these layers (the mean field is below 1e-4 of it from 40 on).
PLATEAU_LAYERS = slice(40, DEPTH + 1)
#: Monte Carlo columns of the prediction (``Sigma``'s relative error ~2 %, the sd's ~1 %), times
#: ``size^2`` below ``size = 1`` (quick runs and tests; at least 2048); the figure draws the
#: gap only, a smooth metric, so the closure of the non-smooth metrics is left at its minimum.
SAMPLES = 1 << 13
CLOSURE_SAMPLES = 2
#: Gaussian equivalent of a 10 %-90 % band: mean -/+ Z90 sd.
Z90 = 1.2815515655446004


@dataclass
class _Width:
    width: int
    values: _F  # (runs, L + 1) measured gap
    fw: FiniteWidthTrajectory | None  # the prediction (PREDICTED_WIDTHS only)


@dataclass
class FiniteWidthFigure(Measurement):
    """The measurement of figure ``finite-width``.

    Attributes
    ----------
    widths : list
        Per measured width: the simulated gap (``runs x (L + 1)``) and, for
        :data:`PREDICTED_WIDTHS`, the finite-width prediction.
    meanfield : ndarray, shape (L + 1,)
        The infinite-width gap.
    runs : int
        Networks per width.
    """

    widths: list[_Width]
    meanfield: _F
    runs: int


def _base(ctx: Context, panel: str, curve: str, width: int) -> dict[str, Any]:
    return dict(
        figure=ctx.name,
        panel=panel,
        curve=curve,
        protocol=ctx.protocol,
        activation=ACTIVATION,
        center="layer",
        scale="layer",
        order="act-norm",
        norm_position=None,
        gain=1.0,
        width=width,
        degeneracy=DEGENERACY,
        diverged_at=-1,
    )


_LEFT = "gap against depth"
_RIGHT = "plateau against width"
_STAGE = "block output (after normalization)"


def _plateau_of(gap: _F) -> float:
    """The mean of ``gap`` over :data:`PLATEAU_LAYERS`; NaN if the prediction broke down before them."""
    tail = gap[PLATEAU_LAYERS]
    return float(np.mean(tail)) if np.all(np.isfinite(tail)) else float("nan")


def _theory_rows(
    ctx: Context, panel: str, curve: str, quantity: str, x_name: str, x: _F, value: _F, width: int
) -> pd.DataFrame:
    frame: pd.DataFrame = pd.DataFrame(
        {
            **_base(ctx, panel, curve, width),
            "source": "theory",
            "quantity": quantity,
            "stage": "theory",
            "run": -1,
            "x_name": x_name,
            "x": x,
            "value": value,
        }
    )
    return frame


def _predict(mlp: MLP, x: _F, seed: int, notes: list[str], ctx: Context) -> FiniteWidthTrajectory:
    samples = max(2048, round(SAMPLES * min(ctx.size, 1.0) ** 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # the default closure, the ensemble for this network (docs/finite-width.md)
        fw = finite_width(mlp, x, samples=samples, closure_samples=CLOSURE_SAMPLES, seed=seed)
    notes += [f"{ctx.name}, d={mlp.widths()[0]}: {w.message}" for w in caught]
    return fw


def _draw(ctx: Context, m: FiniteWidthFigure, png: Path) -> None:
    fig, axes = new_axes(2, width=5.0, height=4.2)
    left, right = axes
    layers = np.arange(DEPTH + 1)
    k = 0
    for w in m.widths:
        if w.fw is None:
            continue
        color = f"C{k}"
        k += 1
        mean, lo, hi = nan_band(w.values)
        left.plot(layers, mean, color=color, linewidth=1.4, label=f"d = {w.width}")
        left.fill_between(layers, lo, hi, color=color, alpha=0.2, linewidth=0)
        pm, psd = w.fw.mean("gap"), w.fw.sd("gap")
        left.plot(layers, pm, color=color, linestyle="-.", linewidth=1.1)
        low = np.where(pm - Z90 * psd > 0, pm - Z90 * psd, np.nan)
        left.fill_between(
            layers, low, pm + Z90 * psd, facecolor="none", edgecolor=color, hatch="////", linewidth=0.0, alpha=0.5
        )
    left.plot(
        layers,
        np.where(m.meanfield > 0, m.meanfield, np.nan),
        color="0.2",
        linestyle="--",
        linewidth=1.0,
        label="mean field",
    )
    left.set_yscale("log")
    left.set_ylim(1e-3, 10.0)
    left.set_xlabel("layer l")
    left.set_ylabel("isometry gap  -log I(G^l)", fontsize=8)
    left.set_title(_LEFT, fontsize=9)
    left.grid(True, which="major", alpha=0.3)
    left.legend(fontsize=7, loc="lower left")

    d = np.array([w.width for w in m.widths], dtype=np.float64)
    per_run = [w.values[:, PLATEAU_LAYERS].mean(axis=1) for w in m.widths]
    mean = np.array([np.mean(v) for v in per_run])
    lo = np.array([np.quantile(v, 0.1) for v in per_run])
    hi = np.array([np.quantile(v, 0.9) for v in per_run])
    right.errorbar(
        d,
        mean,
        yerr=[mean - lo, hi - mean],
        fmt="o",
        color="C0",
        markersize=4,
        capsize=2,
        label=f"measured: mean gap over layers 40-50, 10-90% of {m.runs} runs",
    )
    grid = np.geomspace(d[0], d[-1], 60)
    right.plot(
        grid,
        [plateau(ACTIVATION, BATCH, float(g)) for g in grid],
        color="0.2",
        linewidth=1.0,
        label="closed form (n - 1) / (2 d (1 - beta_0^2))",
    )
    rec = [(w.width, _plateau_of(w.fw.mean("gap"))) for w in m.widths if w.fw is not None]
    rec = [(a, b) for a, b in rec if np.isfinite(b)]
    if rec:
        right.plot(
            *zip(*rec, strict=True),
            linestyle="none",
            marker="D",
            markerfacecolor="none",
            color="C3",
            markersize=7,
            label="1/d prediction (finite_width)",
        )
    mf_plateau = float(np.mean(m.meanfield[PLATEAU_LAYERS]))
    right.set_ylim(float(np.nanmin(lo)) / 3.0, float(np.nanmax(hi)) * 3.0)
    right.text(
        0.97,
        0.04,
        f"mean field: {mf_plateau:.1g} (below the axis)",
        transform=right.transAxes,
        ha="right",
        fontsize=7,
        color="0.2",
    )
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("width d")
    right.set_ylabel("plateau of the gap", fontsize=8)
    right.set_title(_RIGHT, fontsize=9)
    right.grid(True, which="major", alpha=0.3)
    right.legend(fontsize=7, loc="upper right")
    layout(
        fig,
        f"{ctx.name}: {ctx.description}\nrelu, layer norm after the activation, n={BATCH}, L={DEPTH}, "
        f"degeneracy {DEGENERACY:g}, one input of width {ctx.width(1000)}, seed {ctx.seed}; solid: simulation "
        f"(mean, 10-90% band of {m.runs} runs); dash-dot, hatched: the 1/d prediction (mean -/+ 1.28 sd); "
        "dashed: mean field",
        legend=False,
    )
    save_png(fig, png)


@register(
    "finite-width",
    "the finite-width plateau: relu with layer norm at widths 64 to 4000, simulation vs the 1/d prediction",
    position=22,
    published="beyond the paper: the mean field's gap falls to 0, the simulated gap stalls at a plateau "
    "(n - 1) / (2 d (1 - beta_0^2)) = 0.0097 at d = 1000 that falls like 1/d",
    draw=_draw,
)
def finite_width_figure(ctx: Context) -> FiniteWidthFigure:
    """Figure ``finite-width``: the gap against depth and the plateau against width.

    Relu, layer norm after the activation, depth 50, ``n = 10`` inputs of degeneracy 100 and
    width 1000 (one batch for every width), 30 runs per width by default. The prediction at
    widths 64, 256, 1000 and 4000 (``2^13`` Monte Carlo columns), the measured plateau (the
    mean gap over layers 40-50) at seven widths from 64 to 4000, the closed form on a grid.
    """
    runs = ctx.nruns(30)
    x = ctx.x(ctx.width(1000), DEGENERACY)
    predicted = {ctx.width(d) for d in PREDICTED_WIDTHS}
    widths = sorted({ctx.width(d) for d in MEASURED_WIDTHS} | predicted)
    mf = mean_field.trajectory(MLP(DEPTH, widths[0], ACTIVATION, "layer"), x).gap
    frames: list[pd.DataFrame] = []
    notes: list[str] = []
    measured: list[_Width] = []
    layers = np.arange(DEPTH + 1, dtype=np.float64)
    mf_plateau = float(np.mean(mf[PLATEAU_LAYERS]))
    for d in widths:
        mlp = MLP(DEPTH, d, ACTIVATION, "layer")
        traj = simulate(mlp, x, runs=runs, seed=ctx.seed, progress=False)
        values = np.asarray(traj.output("gap"), dtype=np.float64)
        fw = _predict(mlp, x, ctx.seed, notes, ctx) if d in predicted else None
        measured.append(_Width(d, values, fw))
        label = f"d={d}"
        if fw is not None:  # the left panel: simulation, mean field and prediction against the layer
            m = Measured(Curve(label, mlp, DEGENERACY, runs), values, _STAGE, traj.diverged_at, mf, None, [])
            frames.append(rows(ctx, _LEFT, m))
            frames.append(_theory_rows(ctx, _LEFT, label, "gap", "layer", layers, fw.mean("gap"), d))
            frames.append(_theory_rows(ctx, _LEFT, label, "gap_sd", "layer", layers, fw.sd("gap"), d))
        # the right panel: one value per run, the mean over the plateau's layers
        per_run = values[:, PLATEAU_LAYERS].mean(axis=1)
        right = _base(ctx, _RIGHT, "measured", d)
        frames.append(
            pd.DataFrame(
                {
                    **right,
                    "source": "simulation",
                    "quantity": "plateau",
                    "stage": _STAGE,
                    "run": np.arange(runs),
                    "x_name": "width",
                    "x": float(d),
                    "value": per_run,
                    "diverged_at": traj.diverged_at,
                }
            )
        )
        frames.append(
            pd.DataFrame(
                {
                    **right,
                    "source": "mean-field",
                    "quantity": "plateau",
                    "stage": _STAGE,
                    "run": [-1],
                    "x_name": "width",
                    "x": [float(d)],
                    "value": [mf_plateau],
                }
            )
        )
        if fw is not None:
            frames.append(
                _theory_rows(
                    ctx,
                    _RIGHT,
                    "1/d prediction",
                    "plateau",
                    "width",
                    np.array([float(d)]),
                    np.array([_plateau_of(fw.mean("gap"))]),
                    d,
                )
            )
    grid = np.geomspace(widths[0], widths[-1], 60)
    closed = np.array([plateau(ACTIVATION, BATCH, float(g)) for g in grid])
    frames.append(_theory_rows(ctx, _RIGHT, "closed form", "plateau", "width", grid, closed, 0))
    frame = pd.concat(frames, ignore_index=True)[CSV_COLUMNS]
    return FiniteWidthFigure(frame, notes, measured, np.asarray(mf, dtype=np.float64), runs)
