"""The trainability figures: layer-normalized MLPs trained with SGD (:mod:`isoinit.training`).

Beyond the paper's figures of networks at initialization: the paper's CIFAR-10 experiment
(an MLP trained with SGD; activations with smaller ``beta_0`` train faster), here on
scikit-learn's digits, offline. ``training-loss``, ``training-beta`` and ``training-isogap``
share one training run of eight activations (cached by its arguments), so making all three
costs one experiment; ``training-gain`` trains one activation at several pre-activation
gains (the dose-response of :func:`isoinit.training.dose_response`). They need PyTorch and
scikit-learn (``pip install "isoinit[torch]"``) and are not part of ``isoinit figure all``
(each run takes a minute or two on two cores, over its budget): make them by name, or with
``isoinit train``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..training import DOSE_ACTIVATION, DOSE_GAINS, dose_response, train, trainability
from ._draw import layout, nan_band, new_axes, save_png
from ._measure import CSV_COLUMNS, Context, Measurement
from ._registry import register

__all__ = ["DoseFigure", "TrainingFigure", "dose_run", "from_result", "shared_run"]

#: Epochs, reruns and widths of the figures' run (``ctx.nruns`` and ``ctx.width`` apply).
EPOCHS, RERUNS, WIDTH, DEPTH = 10, 3, 256, 10

_CACHE: dict[tuple[Any, ...], Any] = {}
_DOSE_CACHE: dict[tuple[Any, ...], Any] = {}


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


def dose_run(ctx: Context) -> Any:
    """The training run behind ``training-gain`` (cached as :func:`shared_run`).

    :data:`~isoinit.training.DOSE_ACTIVATION` at :data:`~isoinit.training.DOSE_GAINS`.

    Returns
    -------
    isoinit.training.TrainingResult
    """
    key = (ctx.nruns(RERUNS), ctx.seed, ctx.protocol, ctx.width(WIDTH))
    if key not in _DOSE_CACHE:
        _DOSE_CACHE.clear()
        _DOSE_CACHE[key] = train(
            [DOSE_ACTIVATION],
            hidden=(key[3],) * DEPTH,
            epochs=EPOCHS,
            reruns=key[0],
            seed=ctx.seed,
            protocol="authors" if ctx.protocol == "authors" else "faithful",
            gains=DOSE_GAINS,
        )
    return _DOSE_CACHE[key]


@dataclass
class TrainingFigure(Measurement):
    """The measurement of the figures ``training-loss``, ``training-beta`` and ``training-isogap``.

    Attributes
    ----------
    result : isoinit.training.TrainingResult
        The shared training run.
    trainability : isoinit.training.Trainability or None
        Its rank correlations at the last epoch (``None`` for a run of one activation).
    """

    result: Any
    trainability: Any


@dataclass
class DoseFigure(Measurement):
    """The measurement of the figure ``training-gain``.

    Attributes
    ----------
    result : isoinit.training.TrainingResult
        One activation trained at several gains.
    dose : isoinit.training.DoseResponse
        Its slope of the training loss against ``beta_0`` at the last epoch.
    """

    result: Any
    dose: Any


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
            "gain": sel.gain.to_numpy(dtype=np.float64),
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


def from_result(ctx: Context, result: Any) -> TrainingFigure | DoseFigure:
    """The measurement of figure ``ctx.name`` from a training run (``isoinit train`` uses it).

    For ``training-gain`` a run of one activation at several gains, else of several activations.
    """
    return _dose(ctx, result) if ctx.name == "training-gain" else _comparison(ctx, result)


def _dose(ctx: Context, result: Any) -> DoseFigure:
    df = result.frame
    dose = dose_response(result)
    sel = df[(df.metric == "loss") & (df.split == "train")]
    at_k = sel[sel.epoch == dose.k]
    frame = pd.concat(
        [
            _rows(ctx, result, sel, "loss", "epoch", sel.epoch),
            _rows(ctx, result, at_k, f"loss at epoch {dose.k}", "beta0", at_k.beta0),
        ],
        ignore_index=True,
    )
    return DoseFigure(frame, [], result, dose)


def _comparison(ctx: Context, result: Any) -> TrainingFigure:
    df = result.frame
    several = df.activation.nunique() >= 2
    if ctx.name == "training-beta" and not several:
        raise ValueError(
            f"figure training-beta needs a run of at least 2 activations; got {sorted(set(df.activation))}"
        )
    tr = trainability(result) if several else None  # one activation: nothing to correlate
    last = int(df.epoch.max())  # the epoch trainability reads
    if ctx.name == "training-loss":
        sel = df[df.metric.isin(["loss", "accuracy"])]
        frame = _rows(ctx, result, sel, "loss", "epoch", sel.epoch)
    elif ctx.name == "training-beta":
        sel = df[(df.metric == "loss") & (df.split == "train") & (df.epoch == last)]
        frame = _rows(ctx, result, sel, f"loss at epoch {last}", "beta0", sel.beta0)
    else:
        sel = df[df.metric.isin(["gap", "gap_act"]) & df.epoch.isin([0, last])]
        panel = np.where(sel.epoch == 0, "initialization", f"epoch {last}")
        frame = _rows(ctx, result, sel, "", "layer", sel.layer)
        frame["panel"] = panel
    return TrainingFigure(frame.reset_index(drop=True), [], result, tr)


def _order(m: TrainingFigure) -> list[tuple[str, float]]:
    """Activations sorted by ``beta_0`` (the legends' order), with ``beta_0``."""
    t = m.result.frame[["activation", "beta0"]].drop_duplicates("activation")
    t = t.sort_values(["beta0", "activation"], kind="stable")
    return list(zip(t.activation, t.beta0, strict=True))


def _matrix(df: pd.DataFrame, x: str = "epoch") -> tuple[Any, Any]:
    wide = df.pivot_table(index="rerun", columns=x, values="value", aggfunc="mean")
    return wide.columns.to_numpy(), wide.to_numpy(dtype=np.float64)


def _settings(m: TrainingFigure | DoseFigure) -> str:
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
        near = b0 >= tr.near_linear  # hollow: left out of the second correlation
        for ax, x in zip(axes, (b0, row.gap_init), strict=True):
            ax.scatter(np.full(vals.size, x), vals, color=f"C{i}", s=10, alpha=0.4)
            ax.plot(
                [x],
                [row.loss],
                "o",
                color=f"C{i}",
                markerfacecolor="white" if near else f"C{i}",
                markersize=7,
                label=f"{act} (beta_0 = {b0:.3f})",
            )
    level = f"{100 * tr.confidence:.0f}%"
    for ax, (c, cn), label in zip(
        axes,
        ((tr.beta, tr.beta_nonlinear), (tr.gap, tr.gap_nonlinear)),
        ("beta_0 (non-linearity strength)", "isometry gap after the last layer norm at initialization"),
        strict=True,
    ):
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel(f"training loss at epoch {tr.k}")
        ax.grid(True, which="both", alpha=0.3)
        # the numbers as the panel's title: a box inside the axes would hide points
        ax.set_title(
            f"Spearman rho, {level} two-level intervals: all {len(c.activations)}: {c.rho:.2f} "
            f"[{c.low:.2f}, {c.high:.2f}]\n(reruns only [{c.low_reruns:.2f}, {c.high_reruns:.2f}]); "
            f"filled only ({len(cn.activations)}): {cn.rho:.2f} [{cn.low:.2f}, {cn.high:.2f}]",
            fontsize=7,
        )
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7, frameon=False)  # below: no point hidden
    layout(
        fig,
        f"{ctx.name}: {ctx.description}\n{_settings(m)}; small dots: reruns, large: their mean (hollow: "
        f"beta_0 >= {tr.near_linear:g}); two-level: activations, then their reruns, redrawn ({tr.boots} times)",
        legend=True,
    )
    save_png(fig, png)


def _draw_gain(ctx: Context, m: DoseFigure, png: Path) -> None:
    import matplotlib

    fig, axes = new_axes(2, width=4.6, height=4.0)
    d = m.dose
    df = m.result.frame
    cmap = matplotlib.colormaps["viridis"]
    t = d.table
    b_lo, b_hi = float(t.beta0.min()), float(t.beta0.max())
    for _, row in t.iterrows():
        color = cmap(0.9 * (row.beta0 - b_lo) / (b_hi - b_lo) if b_hi > b_lo else 0.5)
        sel = df[(df.gain == row.gain) & (df.metric == "loss") & (df.split == "train") & (df.rerun >= 0)]
        x, v = _matrix(sel)
        mean, lo, hi = nan_band(v)
        axes[0].plot(x, mean, color=color, label=f"gain {row.gain:g} (beta_0 = {row.beta0:.3f})")
        if v.shape[0] > 1:
            axes[0].fill_between(x, lo, hi, color=color, alpha=0.15, linewidth=0)
        at_k = sel[sel.epoch == d.k].value.to_numpy()
        axes[1].scatter(np.full(at_k.size, row.beta0), at_k, color=color, s=10, alpha=0.5)
        axes[1].plot([row.beta0], [row.loss], "o", color=color, markersize=7)
    if np.isfinite(d.slope):
        bb = np.linspace(b_lo, b_hi, 50)
        axes[1].plot(bb, 10 ** (d.intercept + d.slope * bb), "k--", linewidth=1)
    level = f"{100 * d.confidence:.0f}%"
    # the numbers as the panel's title: a box inside the axes would hide points
    axes[1].set_title(
        f"dashed: least-squares line, slope d log10(loss) / d beta_0 = {d.slope:.2f}\n"
        f"{level} two-level [{d.low:.2f}, {d.high:.2f}], t [{d.t_low:.2f}, {d.t_high:.2f}]; Spearman rho {d.rho:.2f}",
        fontsize=7,
    )
    for ax in axes:
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_xlabel("epoch (0 = initialization)")
    axes[0].set_ylabel("training loss (cross-entropy)")
    axes[0].legend(fontsize=7, loc="lower left")
    axes[1].set_xlabel(f"beta_0 of {d.activation}(gain x) (non-linearity strength)", fontsize=8)
    axes[1].set_ylabel(f"training loss at epoch {d.k}")
    layout(
        fig,
        f"{ctx.name}: {ctx.description}\n{_settings(m)}; blocks' weights N(0, gain^2/fan_in); small dots: reruns, "
        f"large: their geometric mean; two-level: gains and then their reruns redrawn ({d.boots} resamples)",
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
    return _comparison(ctx, shared_run(ctx))


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
    return _comparison(ctx, shared_run(ctx))


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
    return _comparison(ctx, shared_run(ctx))


@register(
    "training-gain",
    "one activation (tanh) trained at several pre-activation gains: training loss against beta_0",
    position=21,
    published="not in the paper; its claim predicts that the loss increases with beta_0 within one "
    "activation as across activations",
    draw=_draw_gain,
    in_all=False,
)
def training_gain(ctx: Context) -> DoseFigure:
    """Figure ``training-gain``: the dose-response of :func:`isoinit.training.dose_response`."""
    return _dose(ctx, dose_run(ctx))
