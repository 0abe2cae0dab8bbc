"""The paper's figures of theory against an input correlation or a gain.

The centered kernel ``kbar(rho)`` (with measured points) and the non-linearity strength
``beta_0`` against the gain. Each figure is a measuring function registered with
:func:`~isoinit.figures._registry.register` and the drawing function beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..networks.mlp import MLP
from ..simulate import simulate
from ..theory.hermite import beta0, centered_kernel
from ._draw import layout, nan_band, new_axes, save_png
from ._measure import Context, Measurement, theory_frame
from ._registry import register

_F = NDArray[np.float64]


# --------------------------------------------------------------------------------------
# dual-kernel
# --------------------------------------------------------------------------------------


@dataclass
class _KernelCurve:
    act: str
    kbar: _F  # at DualKernel.rho
    beta0: float
    measured: _F  # (runs, points): output correlation at input correlation DualKernel.points


@dataclass
class DualKernel(Measurement):
    """The measurement of figure ``dual-kernel``.

    Attributes
    ----------
    rho : ndarray
        Input correlations at which the kernels are evaluated.
    points : ndarray
        Input correlations at which the correlation after one block is measured.
    width : int
        Width of the measured networks.
    runs : int
        Networks measured per point.
    curves : list
        Per activation: ``kbar`` at :attr:`rho`, ``beta_0``, and the measured correlations
        (``runs x points``).
    """

    rho: _F
    points: _F
    width: int
    runs: int
    curves: list[_KernelCurve]


def _pair(rho: float, d: int, seed: int) -> _F:
    """Two rows of mean square 1 with correlation exactly ``rho``."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, 2)))
    e1, e2 = q[:, 0], q[:, 1]
    pair: _F = np.sqrt(d) * np.stack([e1, rho * e1 + math.sqrt(max(1.0 - rho * rho, 0.0)) * e2])
    return pair


def _draw_dual_kernel(ctx: Context, m: DualKernel, png: Path) -> None:
    fig, axes = new_axes(1, width=5.6, height=4.4)
    ax = axes[0]
    rho, pts = m.rho, m.points
    for i, c in enumerate(m.curves):
        color = f"C{i}"
        ax.plot(rho, c.kbar, color=color, label=f"{c.act}: kbar(rho), beta_0 = {c.beta0:.4f}")
        ax.plot(rho[:40], c.beta0 * rho[:40], color=color, linestyle=":", linewidth=1.0)
        mean, lo, hi = nan_band(c.measured)
        ax.errorbar(
            pts,
            mean,
            yerr=[mean - lo, hi - mean],
            fmt="o",
            color=color,
            markersize=4,
            capsize=2,
            label=f"{c.act}: one layer-norm block, d={m.width}, {m.runs} runs",
        )
    ax.set_xlabel("input correlation rho")
    ax.set_ylabel("output correlation kbar(rho)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    layout(
        fig,
        f"{ctx.name}: {ctx.description}\ndotted: slope beta_0 at 0; dots: measured "
        "correlation after\none act-norm block (mean, 10-90% of runs)",
        legend=False,
    )
    save_png(fig, png)


@register(
    "dual-kernel",
    "centered normalized kernel kbar(rho): relu vs identity",
    position=1,
    published="identity is the diagonal; centered ReLU kernel is convex, below the diagonal, slope beta_0 at 0",
    draw=_draw_dual_kernel,
)
def dual_kernel(ctx: Context) -> DualKernel:
    """Figure ``dual-kernel``: the centered normalized kernel ``kbar(rho)``, relu and identity.

    The theory on 101 correlations in ``[0, 1]``, and the output correlation of one layer-norm
    block (width 1000, 10 runs by default) on pairs of inputs with correlations 0, 0.2, 0.4,
    0.6, 0.8 and 0.95.
    """
    rho = np.linspace(0.0, 1.0, 101)
    pts = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 0.95])
    d, runs = ctx.width(1000), ctx.nruns(10)
    frames = []
    curves = []
    for act in ("relu", "identity"):
        k = centered_kernel(act, rho)
        frames.append(theory_frame(ctx, "kernel", act, "theory", "kbar", "rho", rho, k, activation=act))
        meas = np.empty((runs, pts.size))
        mlp = MLP(1, d, act, "layer")
        for j, r in enumerate(pts):
            t = simulate(mlp, _pair(float(r), d, ctx.seed), runs=runs, seed=ctx.seed, grams=True, progress=False)
            assert t.grams is not None
            g = t.grams[:, 1]
            meas[:, j] = g[:, 0, 1] / np.sqrt(g[:, 0, 0] * g[:, 1, 1])
        frames.append(
            theory_frame(
                ctx,
                "kernel",
                act,
                "simulation",
                "correlation",
                "rho",
                np.tile(pts, runs),
                meas.reshape(-1),
                activation=act,
                run=np.repeat(np.arange(runs), pts.size),
                width=d,
            )
        )
        curves.append(_KernelCurve(act, k, beta0(act), meas))
    return DualKernel(pd.concat(frames, ignore_index=True), [], rho, pts, d, runs, curves)


# --------------------------------------------------------------------------------------
# beta-vs-gain
# --------------------------------------------------------------------------------------


@dataclass
class BetaVsGain(Measurement):
    """The measurement of figure ``beta-vs-gain``.

    Attributes
    ----------
    alpha : ndarray
        The gains.
    beta0 : dict of str to ndarray
        Per activation, ``beta_0`` of ``sigma(alpha x)`` at each gain.
    step : float
        ``beta_0`` of the step function (``2/pi``, the same at every gain).
    """

    alpha: _F
    beta0: dict[str, _F]  # activation -> beta_0 of sigma(alpha x) at each alpha
    step: float  # beta_0 of the step function (2/pi, gain-free)


def _draw_beta_vs_gain(ctx: Context, m: BetaVsGain, png: Path) -> None:
    fig, axes = new_axes(1, width=6.0, height=4.2)
    ax = axes[0]
    for i, (act, b) in enumerate(m.beta0.items()):
        ax.plot(m.alpha, b, color=f"C{i}", label=act)
    ax.axhline(m.step, color="0.4", linestyle=":", linewidth=1.0, label=f"step: 2/pi = {m.step:.4f}")
    ax.axvline(2.5, color="0.6", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("gain alpha (activation x -> sigma(alpha x))")
    ax.set_ylabel("beta_0 = c_1^2 / (E sigma^2 - c_0^2)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    layout(
        fig,
        f"{ctx.name}: {ctx.description}\ntheory (Hermite coefficients); "
        "1 = linear, 0 = maximally non-linear; dashed: alpha = 2.5",
        legend=False,
    )
    save_png(fig, png)


@register(
    "beta-vs-gain",
    "non-linearity strength beta_0 of sigma(alpha x) against the gain alpha",
    position=12,
    published="sin and exp reach maximal non-linearity by alpha ~ 2.5; tanh, sigmoid, SELU saturate lower",
    draw=_draw_beta_vs_gain,
)
def beta_vs_gain(ctx: Context) -> BetaVsGain:
    """Figure ``beta-vs-gain``: the non-linearity strength ``beta_0`` of ``sigma(alpha x)``.

    Theory (Hermite coefficients) for sigmoid, tanh, sin, exp and SELU at 61 gains
    log-spaced in ``[0.1, 10]``.
    """
    alpha = np.geomspace(0.1, 10.0, 61)
    frames = []
    curves = {}
    for act in ("sigmoid", "tanh", "sin", "exp", "selu"):
        b = np.array([beta0(act, gain=float(a)) for a in alpha])
        curves[act] = b
        frames.append(theory_frame(ctx, "beta0", act, "theory", "beta0", "alpha", alpha, b, activation=act))
    return BetaVsGain(pd.concat(frames, ignore_index=True), [], alpha, curves, beta0("step"))
