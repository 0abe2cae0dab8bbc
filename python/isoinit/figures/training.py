"""The trainability figures: layer-normalized MLPs trained with SGD (:mod:`isoinit.training`).

Beyond the paper's figures of networks at initialization: the paper's CIFAR-10 experiment
(an MLP trained with SGD; activations with smaller ``beta_0`` train faster), here on
scikit-learn's digits, offline. The three figures share one training run (cached by its
arguments), so making all three costs one experiment; they need PyTorch and scikit-learn
(``pip install "isoinit[torch]"``) and are not part of ``isoinit figure all`` (they take
about two minutes on two cores, over its budget): make them by name, or with
``isoinit train``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..training import train, trainability
from ._draw import layout, nan_band, new_axes, save_png
from ._measure import CSV_COLUMNS, Context, Measurement
from ._registry import register

__all__ = ["TrainingFigure", "from_result", "shared_run"]

#: Epochs, reruns and widths of the figures' run (``ctx.nruns`` and ``ctx.width`` apply).
EPOCHS, RERUNS, WIDTH, DEPTH = 10, 3, 256, 10

_CACHE: dict[tuple[Any, ...], Any] = {}


def shared_run(ctx: Context) -> Any:
    """The training run behind the three figures (cached by runs, seed, protocol and size).

    Returns
    -------
    isoinit.training.TrainingResult
    """
    key = (ctx.nruns(RERUNS), ctx.seed, ctx.protocol, ctx.width(WIDTH))
    if key not in _CACHE:
        _CACHE.clear()  # keep one run: the figures of one call share it
        _CACHE[key] = train(
            hidden=(key[3],) * DEPTH,
            epochs=EPOCHS,
            reruns=key[0],
            seed=ctx.seed,
            protocol="authors" if ctx.protocol == "authors" else "faithful",
        )
    return _CACHE[key]


@dataclass
class TrainingFigure(Measurement):
    """The measurement of the figures ``training-loss``, ``training-beta`` and ``training-isogap``.

    Attributes
    ----------
    result : isoinit.training.TrainingResult
        The shared training run.
    trainability : isoinit.training.Trainability
        Its rank correlations at the last epoch.
    """

    result: Any
    trainability: Any


def _rows(ctx: Context, result: Any, sel: pd.DataFrame, panel: str, x_name: str, x: Any) -> pd.DataFrame:
    s = result.settings
    hidden = s["hidden"]
    source = np.where(sel.split == "mean-field", "mean-field", "training")
    stage = np.where(
        sel.metric == "gap",
        "after layer norm",
        np.where(sel.metric == "gap_act", "after activation", sel.split + " set"),
    )
    frame = pd.DataFrame(
        {
            "figure": ctx.name,
            "panel": panel,
            "curve": sel.activation.to_numpy(),
            "source": source,
            "quantity": sel.metric.to_numpy(),
            "stage": stage,
            "protocol": s["protocol"],
            "activation": sel.activation.to_numpy(),
            "center": "layer",
            "scale": "layer",
            "order": "norm-linear-act",
            "norm_position": None,
            "gain": 1.0,
            "width": hidden[0] if len(set(hidden)) == 1 else -1,
            "degeneracy": np.nan,
            "run": sel.rerun.to_numpy(),
            "x_name": x_name,
            "x": np.asarray(x, dtype=np.float64),
            "value": sel.value.to_numpy(),
            "diverged_at": -1,
        }
    )
    out: pd.DataFrame = frame[CSV_COLUMNS]
    return out


def from_result(ctx: Context, result: Any) -> TrainingFigure:
    """The measurement of figure ``ctx.name`` from a training run (``isoinit train`` uses it)."""
    df = result.frame
    tr = trainability(result)
    if ctx.name == "training-loss":
        sel = df[df.metric.isin(["loss", "accuracy"])]
        frame = _rows(ctx, result, sel, "loss", "epoch", sel.epoch)
    elif ctx.name == "training-beta":
        sel = df[(df.metric == "loss") & (df.split == "train") & (df.epoch == tr.k)]
        frame = _rows(ctx, result, sel, f"loss at epoch {tr.k}", "beta0", sel.beta0)
    else:
        last = int(df.epoch.max())
        sel = df[df.metric.isin(["gap", "gap_act"]) & df.epoch.isin([0, last])]
        panel = np.where(sel.epoch == 0, "initialization", f"epoch {last}")
        frame = _rows(ctx, result, sel, "", "layer", sel.layer)
        frame["panel"] = panel
    return TrainingFigure(frame.reset_index(drop=True), [], result, tr)


def _order(m: TrainingFigure) -> list[tuple[str, float]]:
    """Activations sorted by ``beta_0`` (the legends' order), with ``beta_0``."""
    t = m.trainability.table
    return list(zip(t.activation, t.beta0, strict=True))


def _matrix(df: pd.DataFrame, x: str = "epoch") -> tuple[Any, Any]:
    wide = df.pivot_table(index="rerun", columns=x, values="value", aggfunc="mean")
    return wide.columns.to_numpy(), wide.to_numpy(dtype=np.float64)


def _settings(m: TrainingFigure) -> str:
    s = m.result.settings
    h = s["hidden"]
    return (
        f"{s['data']}: {len(h)} blocks LayerNorm -> Linear -> act of width {h[0]}, SGD lr {s['lr']:g}, "
        f"batch {s['batch_size']}, {s['reruns']} reruns, protocol {s['protocol']}"
    )


def _draw_loss(ctx: Context, m: TrainingFigure, png: Path) -> None:
    fig, axes = new_axes(2, width=4.6, height=4.0)
    df = m.result.frame
    for i, (act, b0) in enumerate(_order(m)):
        for ax, split in zip(axes, ("train", "test"), strict=True):
            sel = df[(df.activation == act) & (df.metric == "loss") & (df.split == split)]
            x, v = _matrix(sel)
            mean, lo, hi = nan_band(v)
            ax.plot(x, mean, color=f"C{i}", label=f"{act} (beta_0 = {b0:.3f})")
            if v.shape[0] > 1:
                ax.fill_between(x, lo, hi, color=f"C{i}", alpha=0.15, linewidth=0)
    for ax, split in zip(axes, ("training", "test"), strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("epoch (0 = initialization)")
        ax.set_ylabel(f"{split} loss (cross-entropy)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower left")
    layout(fig, f"{ctx.name}: {ctx.description}\n{_settings(m)}; mean and 10-90% band over reruns", legend=False)
    save_png(fig, png)


def _draw_beta(ctx: Context, m: TrainingFigure, png: Path) -> None:
    fig, axes = new_axes(2, width=4.6, height=4.0)
    tr = m.trainability
    t = tr.table
    df = m.result.frame
    loss = df[(df.metric == "loss") & (df.split == "train") & (df.epoch == tr.k)]
    for ax in axes:
        ax.set_yscale("log")
    for i, (act, b0) in enumerate(_order(m)):
        row = t[t.activation == act].iloc[0]
        vals = loss[loss.activation == act].value.to_numpy()
        for ax, x in zip(axes, (b0, row.gap_init), strict=True):
            ax.scatter(np.full(vals.size, x), vals, color=f"C{i}", s=10, alpha=0.4)
            ax.plot([x], [row.loss], "o", color=f"C{i}", markersize=7, label=f"{act} (beta_0 = {b0:.3f})")
    for ax, c, label in zip(
        axes,
        (tr.beta, tr.gap),
        ("beta_0 (non-linearity strength)", "isometry gap after the last layer norm at initialization"),
        strict=True,
    ):
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel(f"training loss at epoch {tr.k}")
        ax.grid(True, which="both", alpha=0.3)
        ax.text(
            0.03,
            0.97,
            f"Spearman rho = {c.rho:.2f}\n{100 * tr.confidence:.0f}% bootstrap interval [{c.low:.2f}, {c.high:.2f}]",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.7"},
        )
    axes[1].legend(fontsize=7, loc="lower right")
    layout(
        fig,
        f"{ctx.name}: {ctx.description}\n{_settings(m)}; small dots: reruns, large: their mean; "
        f"interval: reruns resampled per activation ({tr.boots} resamples)",
        legend=False,
    )
    save_png(fig, png)


def _draw_isogap(ctx: Context, m: TrainingFigure, png: Path) -> None:
    df = m.result.frame
    last = int(df.epoch.max())
    fig, axes = new_axes(2, width=4.6, height=4.0)
    for i, (act, b0) in enumerate(_order(m)):
        for ax, epoch in zip(axes, (0, last), strict=True):
            sel = df[(df.activation == act) & (df.metric == "gap") & (df.split == "eval") & (df.epoch == epoch)]
            x, v = _matrix(sel, "layer")
            mean, lo, hi = nan_band(v)
            ax.plot(x, mean, color=f"C{i}", marker="o", markersize=3, label=f"{act} (beta_0 = {b0:.3f})")
            if v.shape[0] > 1:
                ax.fill_between(x, lo, hi, color=f"C{i}", alpha=0.15, linewidth=0)
            if epoch == 0:
                mf = df[(df.activation == act) & (df.split == "mean-field") & (df.metric == "gap")]
                ax.plot(mf.layer, mf.value, color=f"C{i}", linestyle="--", linewidth=1.0)
    for ax, title in zip(axes, ("at initialization (dashed: mean field)", f"after {last} epochs"), strict=True):
        ax.set_yscale("log")
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("layer norm of block l")
        ax.set_ylabel("isometry gap -log I(G) after the layer norm")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=6, loc="lower left")
    n = m.result.settings["eval_batch"]
    layout(
        fig,
        f"{ctx.name}: {ctx.description}\n{_settings(m)}; gaps of a fixed batch of {n} training images "
        "(hooks), mean and 10-90% band over reruns",
        legend=False,
    )
    save_png(fig, png)


@register(
    "training-loss",
    "training and test loss of layer-normalized MLPs trained with SGD, per activation (digits)",
    position=15,
    published="CIFAR-10 notebook: activations with smaller beta_0 (relu-like) reach a lower training "
    "loss faster than sigmoid-like ones and identity",
    draw=_draw_loss,
    in_all=False,
)
def training_loss(ctx: Context) -> TrainingFigure:
    """Figure ``training-loss``: loss curves per activation, mean and band over reruns."""
    return from_result(ctx, shared_run(ctx))


@register(
    "training-beta",
    "training loss after k epochs against beta_0 and against the isometry gap at initialization",
    position=16,
    published="the loss after training increases with beta_0 (a stronger non-linearity trains faster)",
    draw=_draw_beta,
    in_all=False,
)
def training_beta(ctx: Context) -> TrainingFigure:
    """Figure ``training-beta``: loss at the last epoch against ``beta_0`` and the gap, with Spearman's rho."""
    return from_result(ctx, shared_run(ctx))


@register(
    "training-isogap",
    "isometry gap after each layer norm at initialization and after training, per activation",
    position=17,
    published="training keeps the ordering of the isometry gaps across activations",
    draw=_draw_isogap,
    in_all=False,
)
def training_isogap(ctx: Context) -> TrainingFigure:
    """Figure ``training-isogap``: gaps after every layer norm, at initialization and after training."""
    return from_result(ctx, shared_run(ctx))
