"""The one drawing layer (matplotlib, headless Agg backend): the figures' axes, bands,
legends, header and palette PNGs, and the quick plots of ``isoinit simulate --plot``.

Nothing here measures: the figures draw what :mod:`isoinit.figures._measure` returned.
Means and bands over runs come from :func:`isoinit.results.band`.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..networks.mlp import MLP
from ..results import band, new_figure, plot_runs
from ._measure import BATCH, Context, Measured, Trajectories

__all__ = [
    "draw_panel",
    "draw_trajectories",
    "header",
    "layout",
    "nan_band",
    "new_axes",
    "new_figure",
    "plot_runs",
    "save",
    "save_png",
    "style_legend",
]

_F = NDArray[np.float64]


# --------------------------------------------------------------------------------------
# quick plots (isoinit simulate --plot)
# --------------------------------------------------------------------------------------


def save(fig: Any, path: str) -> None:
    """Write the figure (PNG at 110 dpi unless the suffix says otherwise) and close it."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------
# the paper's figures
# --------------------------------------------------------------------------------------


def nan_band(values: _F) -> tuple[_F, _F, _F]:
    """:func:`isoinit.results.band` with every non-finite entry (and every column whose
    mean is not finite) set to NaN, so that lines and bands stop there."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, lo, hi = band(values)
    bad = ~np.isfinite(mean)
    for a in (mean, lo, hi):
        a[bad | ~np.isfinite(a)] = np.nan
    return mean, lo, hi


def new_axes(n: int, *, width: float, height: float) -> tuple[Any, list[Any]]:
    """``n`` axes of ``width x height`` inches on the Agg backend, two to a row at most (so that
    a figure keeps its text readable in the documentation's column, about 900 pixels wide; an
    odd ``n`` leaves the last cell empty), laid out later by :func:`layout` (a fixed layout:
    constrained layout would double the drawing time)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ncols = min(n, 2)
    nrows = -(-n // ncols)
    fig = plt.figure(figsize=(width * ncols, height * nrows))
    axes = list(fig.subplots(nrows, ncols, squeeze=False).flat)
    for ax in axes[n:]:
        fig.delaxes(ax)
    return fig, axes[:n]


def layout(fig: Any, header: str, *, legend: bool = True) -> None:
    """Margins in inches: the header lines on top, the x label and style legend below."""
    import textwrap

    from matplotlib.ticker import MaxNLocator

    w, h = fig.get_size_inches()
    # wrap each header line to the figure's width (8-point text: about 15 characters per inch)
    header = "\n".join(textwrap.fill(line, width=int(w * 15)) for line in header.split("\n"))
    top = 0.2 + 0.16 * (header.count("\n") + 1) + 0.2
    bottom = 0.5 + (0.3 if legend else 0.0)
    # rows of a grid (new_axes): 0.85 in between them for the x label above and the title below
    nrows = fig.axes[0].get_subplotspec().get_gridspec().nrows if fig.axes else 1
    axes_height = (h - top - bottom - 0.85 * (nrows - 1)) / nrows
    fig.subplots_adjust(
        left=0.75 / w,
        right=1.0 - 0.15 / w,
        top=1.0 - top / h,
        bottom=bottom / h,
        wspace=0.28,
        hspace=0.85 / axes_height,
    )
    fig.suptitle(header, fontsize=8, y=1.0 - 0.12 / h, va="top")
    for ax in fig.axes:
        if ax.get_xscale() == "linear" and ax.get_xlabel().startswith("layer"):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def save_png(fig: Any, path: Path) -> None:
    """Save at 110 dpi as a palette PNG (a few tens of KB)."""
    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    buf.seek(0)
    with Image.open(buf) as im:
        im.convert("RGB").quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def header(ctx: Context, extra: str, *, norm_act: bool = False, blocks: bool = False) -> str:
    """The title lines of a figure of metrics against the layer: name, description, which
    Gram the protocol measures, then ``extra``.

    ``blocks``: the figure's networks are block networks, measured at their block outputs
    (the residual stream) under either protocol.
    """
    after = "after normalization; after the activation for norm-act" if norm_act else "after normalization"
    proto = (
        f"faithful: block output ({after})"
        if ctx.protocol == "faithful"
        else "authors' protocol: mean of after-activation and after-normalization gaps (l >= 1)"
    )
    if blocks:
        proto = "block output: the residual stream after each block (after the norm for post-norm; any protocol)"
    return f"{ctx.name}: {ctx.description}\n{proto}; {extra}"


def style_legend(fig: Any, *, meanfield: bool, bound: bool, broke: bool, singular: bool, runs: int) -> None:
    """The figure-wide legend of line styles and markers, below the axes."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="0.3", label=f"simulation: mean of {runs} runs, 10-90% band")]
    if meanfield:
        handles.append(Line2D([], [], color="0.3", linestyle="--", label="mean field (infinite width)"))
    if bound:
        handles.append(Line2D([], [], color="0.3", linestyle=":", label="potential bound"))
    if broke:
        handles.append(
            Line2D([], [], color="0.3", marker="x", linestyle="none", label="runs overflowed here (mean over the rest)")
        )
    if singular:
        handles.append(
            Line2D(
                [],
                [],
                color="0.3",
                marker="^",
                linestyle="none",
                label="Gram singular in float64 (gap = +inf) from here",
            )
        )
    ncols = len(handles) if fig.get_size_inches()[0] > 8 else min(len(handles), 2)
    fig.legend(handles=handles, loc="lower center", ncols=ncols, fontsize=7, frameon=False, bbox_to_anchor=(0.5, 0.0))


def draw_panel(ax: Any, measured: Sequence[Measured]) -> tuple[float, float]:
    """Draw the curves of one panel (band, mean field dashed, bound dotted, markers) and
    return the positive range of what was drawn."""
    lo_all, hi_all = math.inf, 0.0
    for i, m in enumerate(measured):
        color = f"C{i}"
        layers = np.arange(m.values.shape[1])
        mean, lo, hi = nan_band(m.values)
        ax.plot(layers, mean, color=color, label=m.curve.label, linewidth=1.4)
        if m.values.shape[0] > 1:
            ok = np.isfinite(lo) & np.isfinite(hi)
            ax.fill_between(
                layers, np.where(ok, lo, np.nan), np.where(ok, hi, np.nan), color=color, alpha=0.2, linewidth=0
            )
        finite = mean[np.isfinite(mean) & (mean > 0)]
        if finite.size:
            lo_all = min(lo_all, float(np.nanmin(np.where(lo > 0, lo, np.nan)) if np.any(lo > 0) else finite.min()))
            hi_all = max(hi_all, float(np.nanmax(hi)) if np.any(np.isfinite(hi)) else finite.max())
        last = np.flatnonzero(np.isfinite(mean))
        if (m.diverged_at >= 0).any() and last.size:
            k = int(m.diverged_at[m.diverged_at >= 0].min())
            j = min(max(k - 1, 0), int(last[-1]))
            ax.plot([j], [mean[j]], marker="x", color=color, markersize=7, linestyle="none")
            ax.annotate(
                f"{int((m.diverged_at >= 0).sum())}/{m.diverged_at.size} overflow",
                (j, mean[j]),
                textcoords="offset points",
                xytext=(3, 4),
                fontsize=6,
                color=color,
            )
        if np.isinf(m.values).any() and last.size:
            j = int(last[-1])
            ax.plot([j], [mean[j]], marker="^", color=color, markersize=6, linestyle="none")
        if m.meanfield is not None:
            mf = np.where(m.meanfield > 0, m.meanfield, np.nan)
            ax.plot(layers, mf, color=color, linestyle="--", linewidth=1.0)
        if m.bound is not None:
            ax.plot(layers, m.bound, color=color, linestyle=":", linewidth=1.2)
            hi_all = max(hi_all, float(np.nanmax(m.bound)))
    return lo_all, hi_all


def draw_trajectories(ctx: Context, t: Trajectories, png: Path) -> None:
    """Draw a figure of metrics against the layer: one log-scale panel per panel of the spec,
    a shared y range, the header and the style legend."""
    spec, measured = t.spec, t.measured
    ncols = len(spec.panels)
    fig, axes = new_axes(ncols, width={1: 6.0, 2: 4.6}.get(ncols, 4.0), height=3.6)
    ranges = [draw_panel(ax, ms) for ax, ms in zip(axes, measured, strict=True)]
    lo = min(r[0] for r in ranges)
    hi = max(r[1] for r in ranges)
    all_m = [m for ms in measured for m in ms]
    for ax, p in zip(axes, spec.panels, strict=True):
        ax.set_yscale("log")
        if math.isfinite(lo) and hi > 0:
            ax.set_ylim(lo / 3.0, hi * 3.0)
        ax.set_xlabel("layer l")
        ax.set_title(p.title, fontsize=9)
        ax.legend(fontsize=7, loc="best")
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes:
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel(spec.ylabel, fontsize=8)
    c0 = all_m[0].curve
    widths = sorted({m.curve.network.widths()[0] for m in all_m})
    degs = sorted({m.curve.degeneracy for m in all_m})
    info = (
        f"n={BATCH}, d={'/'.join(map(str, widths))}, L={c0.network.depth}, degeneracy "
        f"{'/'.join(f'{g:g}' for g in degs)}, seed {ctx.seed}"
    )
    if spec.caption:
        info += "\n" + spec.caption
    blocks = all(not isinstance(m.curve.network, MLP) for m in all_m)
    if blocks:  # plain tick labels: block networks' gaps move within a decade or two
        from matplotlib.ticker import FuncFormatter

        for ax in axes:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(
                FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}".lstrip("0.")[:1] in ("2", "5") else "")
            )
    layout(
        fig,
        header(
            ctx,
            info,
            norm_act=any(isinstance(m.curve.network, MLP) and m.curve.network.order == "norm-act" for m in all_m),
            blocks=blocks,
        ),
    )
    style_legend(
        fig,
        meanfield=any(m.meanfield is not None for m in all_m),
        bound=any(m.bound is not None for m in all_m),
        broke=any((m.diverged_at >= 0).any() for m in all_m),
        singular=any(np.isinf(m.values).any() for m in all_m),
        runs=c0.runs,
    )
    save_png(fig, png)
