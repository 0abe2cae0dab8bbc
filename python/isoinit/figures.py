"""The paper's figures, one call (or one command) each.

Every figure of Joudaki, Daneshmand and Bach (NeurIPS 2023) listed in
``spec/experiments.md`` is rebuilt here from :func:`isoinit.simulate` (the measurement),
:mod:`isoinit.meanfield` (the infinite-width trajectory, dashed) and :mod:`isoinit.bounds`
(the potential bound, dotted). :func:`make` writes ``DIR/NAME.png`` and the tidy data
behind it, ``DIR/NAME.csv``; :func:`make_all` does all :data:`NAMES`; the command line is
``isoinit figure NAME|all --out DIR``.

Two measurement protocols (experiments.md):

``"faithful"`` (default)
    The Gram of the block output: after the normalization for ``act-norm`` blocks (after
    the activation for ``norm-act`` blocks, whose output it is).
``"authors"``
    What the authors' plotting code drew: for every layer ``l >= 1`` the mean of the gap
    right after the activation (uncentered, before normalization) and the gap after the
    normalization. It reproduces the published pictures, which sit well above the block
    output's gap. Potential figures always use the block output (the bound is about it).

Batch centering makes the rows of the representation sum to zero, so the batch Gram is
exactly singular (gap ``+inf``) after any batch-centered block. The ``layernorm-vs-
batchnorm`` figure therefore measures every network by the isometry gap on the
complement of the all-ones vector (``Q^T G Q`` with ``Q`` an orthonormal basis of
``1^perp``, which drops the zero eigenvalue), and shows batch scaling without centering
(``center="none", scale="batch"``) with the ordinary gap beside it.
"""

from __future__ import annotations

import io
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ._warnings import DivergenceWarning
from .config import MLP
from .inputs import degenerate
from .metrics import gram_metrics
from .simulate import STAGES, simulate

__all__ = [
    "DESCRIPTIONS",
    "NAMES",
    "FigureResult",
    "Protocol",
    "complement_gap",
    "compute",
    "make",
    "make_all",
]

_F = NDArray[np.float64]
Protocol = Literal["faithful", "authors"]

#: The 14 figures of spec/experiments.md, in its order.
NAMES: tuple[str, ...] = (
    "dual-kernel",
    "hermite-poly",
    "order",
    "self-normalize",
    "centering",
    "centering-mf",
    "normalization",
    "normalization-mf",
    "mf-vs-finite",
    "potential-vs-theory",
    "gain",
    "beta-vs-gain",
    "mf-vs-xavier",
    "layernorm-vs-batchnorm",
)

#: One line per figure: what it shows (used in titles, ``--help`` and the gallery).
DESCRIPTIONS: dict[str, str] = {
    "dual-kernel": "centered normalized kernel kbar(rho): relu vs identity",
    "hermite-poly": "Hermite polynomial activations He_1, He_2, He_3 with layer norm",
    "order": "relu with layer norm: act-norm vs norm-act",
    "self-normalize": "layer centering without scaling: relu, tanh, SELU",
    "centering": "layer scaling, centering none vs layer",
    "centering-mf": "layer scaling, centering layer vs mean-field constant (mf)",
    "normalization": "mf centering, scaling none vs layer",
    "normalization-mf": "mf centering, scaling layer vs mean-field constant (mf)",
    "mf-vs-finite": "relu, mf centering, scaling mf vs layer at widths 100, 500, 1000",
    "potential-vs-theory": "potential gamma(G^l) with layer norm against the bound",
    "gain": "pre-activation gain 0.5, 1, 2 with layer norm",
    "beta-vs-gain": "non-linearity strength beta_0 of sigma(alpha x) against the gain alpha",
    "mf-vs-xavier": "mf centering + scaling at gain 1 vs no normalization at Xavier gain",
    "layernorm-vs-batchnorm": "layer norm vs batch norm, relu and identity",
}

_N = 10  # batch size of every experiment
_CSV_COLUMNS = [
    "figure",
    "panel",
    "curve",
    "source",
    "quantity",
    "stage",
    "protocol",
    "activation",
    "centering",
    "scaling",
    "order",
    "gain",
    "width",
    "degeneracy",
    "run",
    "x_name",
    "x",
    "value",
    "diverged_at",
]

# PyTorch's torch.nn.init.calculate_gain, the "Xavier gain" of experiments.md
_XAVIER_GAIN = {
    "selu": 0.75,
    "leaky_relu(0.01)": math.sqrt(2.0 / (1.0 + 0.01**2)),
    "relu": math.sqrt(2.0),
    "tanh": 5.0 / 3.0,
}


@dataclass(frozen=True)
class FigureResult:
    """What :func:`make` wrote.

    Attributes
    ----------
    name : str
        One of :data:`NAMES`.
    png, csv : Path
        The image and its data.
    data : pandas.DataFrame
        The tidy data (the CSV): one row per (panel, curve, source, run, x), with columns
        ``figure, panel, curve, source`` (``simulation``, ``mean-field``, ``bound`` or
        ``theory``), ``quantity`` (``gap``, ``potential``, ``gap_complement``, ``kbar``,
        ``correlation``, ``beta0``), ``stage`` (which Gram was measured), ``protocol``, the
        configuration (``activation, centering, scaling, order, gain, width,
        degeneracy``), ``run`` (-1 for theory), ``x_name`` (``layer``, ``rho`` or
        ``alpha``), ``x``, ``value`` and ``diverged_at`` (layer at which that run
        overflowed, -1 if never).
    seconds : float
        Wall time of the figure.
    notes : tuple of str
        Numerical events worth knowing (overflow, singular Grams, mean-field failures).
    """

    name: str
    png: Path
    csv: Path
    data: pd.DataFrame = field(repr=False)
    seconds: float
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------
# measurement
# --------------------------------------------------------------------------------------


def _complement_basis(n: int) -> _F:
    a = np.eye(n)
    a[:, 0] = 1.0
    q, _ = np.linalg.qr(a)
    return np.asarray(q[:, 1:])


def complement_gap(grams: _F) -> _F:
    """Isometry gap of Gram matrices restricted to the complement of the all-ones vector.

    ``-log I(Q^T G Q)`` with ``Q`` (``n x (n-1)``) an orthonormal basis of ``1^perp``. After
    batch centering every Gram has ``G 1 = 0`` exactly, so its ordinary gap is ``+inf``;
    this measures the isometry of the remaining ``n - 1`` directions (the zero eigenvalue
    dropped). Non-finite Grams (diverged runs) give NaN.

    Parameters
    ----------
    grams : ndarray, shape (..., n, n)

    Returns
    -------
    ndarray, shape (...)
    """
    g = np.asarray(grams, dtype=np.float64)
    q = _complement_basis(g.shape[-1])
    lead = g.shape[:-2]
    flat = g.reshape(-1, g.shape[-2], g.shape[-1])
    out = np.full(flat.shape[0], np.nan)
    ok = np.all(np.isfinite(flat), axis=(1, 2))
    if ok.any():
        h = q.T @ flat[ok] @ q
        out[ok] = gram_metrics(0.5 * (h + np.swapaxes(h, 1, 2)), gram=True)["gap"]
    return out.reshape(lead)


def _gram_value(quantity: str, g: _F) -> float:
    if quantity == "gap_complement":
        return float(complement_gap(g))
    return float(gram_metrics(g, gram=True)[quantity])


@dataclass(frozen=True)
class _Curve:
    label: str
    mlp: MLP
    degeneracy: float
    runs: int
    quantity: str = "gap"  # gap, potential or gap_complement
    bound: bool = False


@dataclass
class _Measured:
    curve: _Curve
    values: _F  # (runs, L + 1)
    stage: str
    diverged_at: NDArray[np.int64]
    meanfield: _F | None
    bound: _F | None
    notes: list[str]


@dataclass(frozen=True)
class _Panel:
    title: str
    curves: tuple[_Curve, ...]


@dataclass(frozen=True)
class _Spec:
    panels: tuple[_Panel, ...]
    ylabel: str
    caption: str = ""


@dataclass
class _Context:
    name: str
    runs: int | None
    seed: int
    protocol: str
    size: float
    inputs: dict[tuple[int, float], _F] = field(default_factory=dict)

    def width(self, d: int) -> int:
        return max(2 * _N, round(d * self.size))

    def nruns(self, default: int) -> int:
        return self.runs if self.runs is not None else default

    def x(self, d: int, degeneracy: float) -> _F:
        key = (d, degeneracy)
        if key not in self.inputs:
            self.inputs[key] = degenerate(_N, d, degeneracy, seed=self.seed)
        return self.inputs[key]


def _stage_name(mlp: MLP, quantity: str, protocol: str) -> str:
    out = "normalization" if mlp.order == "act-norm" else "activation"
    if protocol == "authors" and quantity != "potential":
        return "authors: mean of after-activation and after-normalization (l >= 1)"
    return f"block output (after {out})"


def _no_norm(mlp: MLP) -> MLP:
    return MLP(1, 1, mlp.act, "none", gain=mlp.gain, bias=mlp.bias)


def _meanfield(mlp: MLP, x: _F, quantity: str, protocol: str) -> tuple[_F | None, str | None]:
    """The infinite-width trajectory of ``quantity`` layer by layer, NaN after a failure."""
    from .meanfield import block_map, input_gram

    if "batch" in (mlp.centering, mlp.scaling):
        return None, None
    authors = protocol == "authors" and quantity != "potential"
    out = np.full(mlp.depth + 1, np.nan)
    note = None
    g = input_gram(x)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        out[0] = _gram_value(quantity, g)
        for layer in range(1, mlp.depth + 1):
            try:
                g_next = block_map(mlp, g, layer)
                if not np.all(np.isfinite(g_next)):
                    raise FloatingPointError("non-finite Gram")
                value = _gram_value(quantity, g_next)
                if authors:
                    if mlp.order == "act-norm":
                        mid = block_map(_no_norm(mlp), g, 1)
                    else:
                        mid = mlp.gain**2 * g + mlp.bias**2
                    value = 0.5 * (value + _gram_value(quantity, mid))
            except (ValueError, ArithmeticError) as err:
                note = f"the mean-field map fails at layer {layer} ({type(err).__name__}: {err})"
                break
            out[layer] = value
            g = g_next
    return out, note


def _measure(ctx: _Context, curve: _Curve) -> _Measured:
    from .bounds import potential_bound
    from .hermite import beta0

    mlp = curve.mlp
    d = mlp.widths()[0]
    x = ctx.x(d, curve.degeneracy)
    authors = ctx.protocol == "authors" and curve.quantity != "potential"
    complement = curve.quantity == "gap_complement"
    with warnings.catch_warnings():
        # expected in some figures: reported through diverged_at, drawn on the figure
        warnings.simplefilter("ignore", DivergenceWarning)
        traj = simulate(mlp, x, runs=curve.runs, seed=ctx.seed, stages=authors, grams=complement, progress=False)
    if complement:
        assert traj.grams is not None
        if authors:
            act = complement_gap(traj.grams[:, :, STAGES.index("activation")])
            nrm = complement_gap(traj.grams[:, :, STAGES.index("normalization")])
            values = 0.5 * (act + nrm)
            values[:, 0] = nrm[:, 0]
        else:
            values = complement_gap(traj.grams)
    elif authors:
        m = traj.metrics[curve.quantity]
        values = 0.5 * (m[:, :, STAGES.index("activation")] + m[:, :, STAGES.index("normalization")])
        values[:, 0] = m[:, 0, 0]
    else:
        values = traj.output(curve.quantity)
    notes: list[str] = []
    where = f"{ctx.name}, {curve.label} ({mlp.label()})"
    div = traj.diverged_at
    if (div >= 0).any():
        notes.append(
            f"{where}: {int((div >= 0).sum())}/{div.size} runs overflowed (first at layer {int(div[div >= 0].min())})"
        )
    inf = np.isinf(values)
    if inf.any():
        first = int(np.argmax(inf.any(axis=0)))
        notes.append(
            f"{where}: Gram singular in float64 (gap = +inf) in "
            f"{int(inf.any(axis=1).sum())}/{div.size} runs, first at layer {first}"
        )
    mf, mf_note = _meanfield(mlp, x, curve.quantity, ctx.protocol)
    if mf_note:
        notes.append(f"{where}: {mf_note}")
    bound = None
    if curve.bound:
        pot = traj.output("potential")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            anchor = float(np.nanmean(pot[:, 1]))
        bound = potential_bound(anchor, beta0(mlp.act, mlp.gain), mlp.depth, start=1)
    return _Measured(
        curve,
        np.asarray(values, dtype=np.float64),
        _stage_name(mlp, curve.quantity, ctx.protocol),
        div,
        mf,
        bound,
        notes,
    )


def _rows(ctx: _Context, panel: str, m: _Measured) -> pd.DataFrame:
    mlp = m.curve.mlp
    layers = np.arange(mlp.depth + 1)
    runs = m.values.shape[0]
    base: dict[str, Any] = dict(
        figure=ctx.name,
        panel=panel,
        curve=m.curve.label,
        protocol=ctx.protocol,
        activation=mlp.act.name,
        centering=mlp.centering,
        scaling=mlp.scaling,
        order=mlp.order,
        gain=mlp.gain,
        width=mlp.widths()[0],
        degeneracy=m.curve.degeneracy,
        x_name="layer",
    )
    parts = [
        pd.DataFrame(
            {
                **base,
                "source": "simulation",
                "quantity": m.curve.quantity,
                "stage": m.stage,
                "run": np.repeat(np.arange(runs), layers.size),
                "x": np.tile(layers, runs),
                "value": m.values.reshape(-1),
                "diverged_at": np.repeat(m.diverged_at, layers.size),
            }
        )
    ]
    if m.meanfield is not None:
        parts.append(
            pd.DataFrame(
                {
                    **base,
                    "source": "mean-field",
                    "quantity": m.curve.quantity,
                    "stage": m.stage,
                    "run": -1,
                    "x": layers,
                    "value": m.meanfield,
                    "diverged_at": -1,
                }
            )
        )
    if m.bound is not None:
        parts.append(
            pd.DataFrame(
                {
                    **base,
                    "source": "bound",
                    "quantity": "potential",
                    "stage": m.stage,
                    "run": -1,
                    "x": layers,
                    "value": m.bound,
                    "diverged_at": -1,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------------------
# the figures as configurations
# --------------------------------------------------------------------------------------

_GAP = "isometry gap  -log I(G^l)"
_GAP_C = "gap on the complement of 1:  -log I(Q^T G^l Q)"
_POT = "potential  gamma(G^l)"


def _mlp(ctx: _Context, depth: int, d: int, act: str, **kw: Any) -> MLP:
    return MLP(depth, ctx.width(d), act, **kw)


def _per_activation(
    ctx: _Context,
    acts: Sequence[str],
    variants: Sequence[tuple[str, dict[str, Any]]],
    *,
    d: int = 1000,
    depth: int = 30,
    degeneracy: float = 100.0,
    runs: int = 10,
) -> tuple[_Panel, ...]:
    return tuple(
        _Panel(
            act,
            tuple(_Curve(label, _mlp(ctx, depth, d, act, **kw), degeneracy, ctx.nruns(runs)) for label, kw in variants),
        )
        for act in acts
    )


def _spec_hermite(ctx: _Context) -> _Spec:
    r = ctx.nruns(10)
    gap = tuple(_Curve(f"He_{k}", _mlp(ctx, 15, 2000, f"he{k}"), 10.0, r) for k in (1, 2, 3))
    pot = tuple(replace(c, quantity="potential", bound=True) for c in gap)
    return _Spec(
        (_Panel("isometry gap", gap), _Panel("potential (block output) and bound", pot)),
        f"{_GAP}  /  {_POT}",
        "He_1 is linear (beta_0 = 1, no contraction); He_2, He_3 have beta_0 = 0: the bound contracts by 1/2 per layer",
    )


def _spec_order(ctx: _Context) -> _Spec:
    r = ctx.nruns(10)
    curves = tuple(_Curve(o, _mlp(ctx, 30, 1000, "relu", order=o), 100.0, r) for o in ("act-norm", "norm-act"))
    return _Spec((_Panel("relu, layer norm", curves),), _GAP)


def _spec_self_normalize(ctx: _Context) -> _Spec:
    r = ctx.nruns(30)
    curves = tuple(
        _Curve(a, _mlp(ctx, 30, 1000, a, center="layer", scale="none"), 5.0, r) for a in ("relu", "tanh", "selu")
    )
    return _Spec((_Panel("layer centering, no scaling", curves),), _GAP)


_FOUR = ("relu", "tanh", "sigmoid", "exp")


def _spec_centering(ctx: _Context) -> _Spec:
    v = [(f"center={c}", dict(center=c, scale="layer")) for c in ("none", "layer")]
    return _Spec(_per_activation(ctx, _FOUR, v), _GAP)


def _spec_centering_mf(ctx: _Context) -> _Spec:
    v = [(f"center={c}", dict(center=c, scale="layer")) for c in ("layer", "mf")]
    return _Spec(_per_activation(ctx, _FOUR, v), _GAP)


def _spec_normalization(ctx: _Context) -> _Spec:
    v = [(f"scale={s}", dict(center="mf", scale=s)) for s in ("none", "layer")]
    return _Spec(_per_activation(ctx, _FOUR, v, degeneracy=10.0), _GAP)


def _spec_normalization_mf(ctx: _Context) -> _Spec:
    v = [(f"scale={s}", dict(center="mf", scale=s)) for s in ("layer", "mf")]
    return _Spec(_per_activation(ctx, _FOUR, v, degeneracy=10.0), _GAP)


def _spec_mf_vs_finite(ctx: _Context) -> _Spec:
    r = ctx.nruns(10)
    panels = tuple(
        _Panel(
            f"relu, center=mf, scale={s}",
            tuple(
                _Curve(f"d={ctx.width(d)}", MLP(30, ctx.width(d), "relu", center="mf", scale=s), 10.0, r)
                for d in (100, 500, 1000)
            ),
        )
        for s in ("mf", "layer")
    )
    return _Spec(panels, _GAP, "the mean-field curve does not depend on the width")


def _spec_potential(ctx: _Context) -> _Spec:
    r = ctx.nruns(10)
    panels = tuple(
        _Panel(a, (_Curve("layer norm", _mlp(ctx, 30, 1000, a), 100.0, r, "potential", bound=True),))
        for a in ("relu", "tanh", "sigmoid")
    )
    return _Spec(
        panels,
        _POT,
        "bound gamma(G^1) (2 - beta_0)^-(l-1), anchored on the measured "
        "mean potential at layer 1; potential always measured on the block output",
    )


def _spec_gain(ctx: _Context) -> _Spec:
    v = [(f"gain={g:g}", dict(gain=g)) for g in (0.5, 1.0, 2.0)]
    return _Spec(_per_activation(ctx, ("sin", "relu", "tanh"), v), _GAP)


def _spec_xavier(ctx: _Context) -> _Spec:
    panels: list[_Panel] = []
    for act, g in _XAVIER_GAIN.items():
        v: list[tuple[str, dict[str, Any]]] = [
            ("mf norm, gain 1", {"norm": "mf"}),
            (f"no norm, gain {g:.3g}", {"norm": "none", "gain": g}),
        ]
        panels.extend(_per_activation(ctx, (act,), v))
    return _Spec(tuple(panels), _GAP, "Xavier gain = torch.nn.init.calculate_gain")


def _spec_ln_bn(ctx: _Context) -> _Spec:
    r = ctx.nruns(30)
    ln = tuple(
        _Curve(a, _mlp(ctx, 30, 1000, a, norm="layer"), 100.0, r, "gap_complement") for a in ("relu", "identity")
    )
    bn = tuple(
        _Curve(a, _mlp(ctx, 30, 1000, a, norm="batch"), 100.0, r, "gap_complement") for a in ("relu", "identity")
    )
    bs = tuple(_Curve(a, _mlp(ctx, 30, 1000, a, center="none", scale="batch"), 100.0, r) for a in ("relu", "identity"))
    return _Spec(
        (
            _Panel("layer norm (gap on 1-complement)", ln),
            _Panel("batch norm (gap on 1-complement)", bn),
            _Panel("batch scaling only (ordinary gap)", bs),
        ),
        "isometry gap (see panel titles)",
        "batch centering makes G 1 = 0 exactly (ordinary gap = +inf): panels 1-2 drop that "
        "direction, -log I(Q^T G Q) with Q a basis of 1-perp; panel 3 scales without centering",
    )


_SPECS: dict[str, Callable[[_Context], _Spec]] = {
    "hermite-poly": _spec_hermite,
    "order": _spec_order,
    "self-normalize": _spec_self_normalize,
    "centering": _spec_centering,
    "centering-mf": _spec_centering_mf,
    "normalization": _spec_normalization,
    "normalization-mf": _spec_normalization_mf,
    "mf-vs-finite": _spec_mf_vs_finite,
    "potential-vs-theory": _spec_potential,
    "gain": _spec_gain,
    "mf-vs-xavier": _spec_xavier,
    "layernorm-vs-batchnorm": _spec_ln_bn,
}


# --------------------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------------------


def _band(values: _F) -> tuple[_F, _F, _F]:
    from ._results import band

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, lo, hi = band(values)
    bad = ~np.isfinite(mean)
    for a in (mean, lo, hi):
        a[bad | ~np.isfinite(a)] = np.nan
    return mean, lo, hi


def _style_legend(fig: Any, *, meanfield: bool, bound: bool, broke: bool, singular: bool, runs: int) -> None:
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


def _draw_panel(ax: Any, measured: Sequence[_Measured]) -> tuple[float, float]:
    lo_all, hi_all = math.inf, 0.0
    for i, m in enumerate(measured):
        color = f"C{i}"
        layers = np.arange(m.values.shape[1])
        mean, lo, hi = _band(m.values)
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


def _new_axes(ncols: int, *, width: float, height: float) -> tuple[Any, list[Any]]:
    """A row of ``ncols`` axes on the Agg backend, laid out later by :func:`_layout` (a fixed
    layout: constrained layout would double the drawing time)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width * ncols, height))
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _layout(fig: Any, header: str, *, legend: bool = True) -> None:
    """Margins in inches: the header lines on top, the x label and style legend below."""
    import textwrap

    from matplotlib.ticker import MaxNLocator

    w, h = fig.get_size_inches()
    # wrap each header line to the figure's width (8-point text: about 15 characters per inch)
    header = "\n".join(textwrap.fill(line, width=int(w * 15)) for line in header.split("\n"))
    top = 0.2 + 0.16 * (header.count("\n") + 1) + 0.2
    bottom = 0.5 + (0.3 if legend else 0.0)
    fig.subplots_adjust(left=0.75 / w, right=1.0 - 0.15 / w, top=1.0 - top / h, bottom=bottom / h, wspace=0.28)
    fig.suptitle(header, fontsize=8, y=1.0 - 0.12 / h, va="top")
    for ax in fig.axes:
        if ax.get_xscale() == "linear" and ax.get_xlabel().startswith("layer"):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _save_png(fig: Any, path: Path) -> None:
    """Save at 110 dpi as a palette PNG (a few tens of KB)."""
    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    buf.seek(0)
    with Image.open(buf) as im:
        im.convert("RGB").quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _header(ctx: _Context, extra: str, *, norm_act: bool = False) -> str:
    after = "after normalization; after the activation for norm-act" if norm_act else "after normalization"
    proto = (
        f"faithful: block output ({after})"
        if ctx.protocol == "faithful"
        else "authors' protocol: mean of after-activation and after-normalization gaps (l >= 1)"
    )
    return f"{ctx.name}: {DESCRIPTIONS[ctx.name]}\n{proto}; {extra}"


def _simulated_figure(ctx: _Context, spec: _Spec, png: Path) -> tuple[pd.DataFrame, list[str]]:
    measured = [[_measure(ctx, c) for c in p.curves] for p in spec.panels]
    frames = [_rows(ctx, p.title, m) for p, ms in zip(spec.panels, measured, strict=True) for m in ms]
    notes = [n for ms in measured for m in ms for n in m.notes]
    ncols = len(spec.panels)
    fig, axes = _new_axes(ncols, width={1: 6.0, 2: 4.6}.get(ncols, 3.6), height=3.6)
    ranges = [_draw_panel(ax, ms) for ax, ms in zip(axes, measured, strict=True)]
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
    axes[0].set_ylabel(spec.ylabel, fontsize=8)
    c0 = all_m[0].curve
    widths = sorted({m.curve.mlp.widths()[0] for m in all_m})
    degs = sorted({m.curve.degeneracy for m in all_m})
    info = (
        f"n={_N}, d={'/'.join(map(str, widths))}, L={c0.mlp.depth}, degeneracy "
        f"{'/'.join(f'{g:g}' for g in degs)}, seed {ctx.seed}"
    )
    if spec.caption:
        info += "\n" + spec.caption
    _layout(fig, _header(ctx, info, norm_act=any(m.curve.mlp.order == "norm-act" for m in all_m)))
    _style_legend(
        fig,
        meanfield=any(m.meanfield is not None for m in all_m),
        bound=any(m.bound is not None for m in all_m),
        broke=any((m.diverged_at >= 0).any() for m in all_m),
        singular=any(np.isinf(m.values).any() for m in all_m),
        runs=c0.runs,
    )
    _save_png(fig, png)
    return pd.concat(frames, ignore_index=True), notes


def _theory_frame(
    ctx: _Context,
    panel: str,
    curve: str,
    source: str,
    quantity: str,
    x_name: str,
    x: _F,
    value: _F,
    *,
    activation: str,
    run: Any = -1,
    width: int = 0,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "figure": ctx.name,
            "panel": panel,
            "curve": curve,
            "source": source,
            "quantity": quantity,
            "stage": "theory" if source == "theory" else "block output (after normalization)",
            "protocol": ctx.protocol,
            "activation": activation,
            "centering": "layer",
            "scaling": "layer",
            "order": "act-norm",
            "gain": 1.0,
            "width": width,
            "degeneracy": np.nan,
            "run": run,
            "x_name": x_name,
            "x": x,
            "value": value,
            "diverged_at": -1,
        }
    )


def _pair(rho: float, d: int, seed: int) -> _F:
    """Two rows of mean square 1 with correlation exactly ``rho``."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, 2)))
    e1, e2 = q[:, 0], q[:, 1]
    return np.sqrt(d) * np.stack([e1, rho * e1 + math.sqrt(max(1.0 - rho * rho, 0.0)) * e2])


def _dual_kernel(ctx: _Context, png: Path) -> tuple[pd.DataFrame, list[str]]:
    from .hermite import beta0, centered_kernel

    rho = np.linspace(0.0, 1.0, 101)
    pts = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 0.95])
    d, runs = ctx.width(1000), ctx.nruns(10)
    fig, axes = _new_axes(1, width=5.6, height=4.4)
    ax = axes[0]
    frames = []
    for i, act in enumerate(("relu", "identity")):
        color = f"C{i}"
        k = centered_kernel(act, rho)
        b0 = beta0(act)
        ax.plot(rho, k, color=color, label=f"{act}: kbar(rho), beta_0 = {b0:.4f}")
        ax.plot(rho[:40], b0 * rho[:40], color=color, linestyle=":", linewidth=1.0)
        frames.append(_theory_frame(ctx, "kernel", act, "theory", "kbar", "rho", rho, k, activation=act))
        meas = np.empty((runs, pts.size))
        mlp = MLP(1, d, act, "layer")
        for j, r in enumerate(pts):
            t = simulate(mlp, _pair(float(r), d, ctx.seed), runs=runs, seed=ctx.seed, grams=True, progress=False)
            assert t.grams is not None
            g = t.grams[:, 1]
            meas[:, j] = g[:, 0, 1] / np.sqrt(g[:, 0, 0] * g[:, 1, 1])
        mean, lo, hi = _band(meas)
        ax.errorbar(
            pts,
            mean,
            yerr=[mean - lo, hi - mean],
            fmt="o",
            color=color,
            markersize=4,
            capsize=2,
            label=f"{act}: one layer-norm block, d={d}, {runs} runs",
        )
        frames.append(
            _theory_frame(
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
    ax.set_xlabel("input correlation rho")
    ax.set_ylabel("output correlation kbar(rho)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    _layout(
        fig,
        f"{ctx.name}: {DESCRIPTIONS[ctx.name]}\ndotted: slope beta_0 at 0; dots: measured "
        "correlation after\none act-norm block (mean, 10-90% of runs)",
        legend=False,
    )
    _save_png(fig, png)
    return pd.concat(frames, ignore_index=True), []


def _beta_vs_gain(ctx: _Context, png: Path) -> tuple[pd.DataFrame, list[str]]:
    from .hermite import beta0

    alpha = np.geomspace(0.1, 10.0, 61)
    fig, axes = _new_axes(1, width=6.0, height=4.2)
    ax = axes[0]
    frames = []
    for i, act in enumerate(("sigmoid", "tanh", "sin", "exp", "selu")):
        b = np.array([beta0(act, gain=float(a)) for a in alpha])
        ax.plot(alpha, b, color=f"C{i}", label=act)
        frames.append(_theory_frame(ctx, "beta0", act, "theory", "beta0", "alpha", alpha, b, activation=act))
    step = beta0("step")
    ax.axhline(step, color="0.4", linestyle=":", linewidth=1.0, label=f"step: 2/pi = {step:.4f}")
    ax.axvline(2.5, color="0.6", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("gain alpha (activation x -> sigma(alpha x))")
    ax.set_ylabel("beta_0 = c_1^2 / (E sigma^2 - c_0^2)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    _layout(
        fig,
        f"{ctx.name}: {DESCRIPTIONS[ctx.name]}\ntheory (Hermite coefficients); "
        "1 = linear, 0 = maximally non-linear; dashed: alpha = 2.5",
        legend=False,
    )
    _save_png(fig, png)
    return pd.concat(frames, ignore_index=True), []


# --------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------


def _check(name: object, protocol: object, runs: object, seed: object, size: object) -> None:
    if name not in NAMES:
        raise ValueError(f"name must be one of {', '.join(NAMES)}; got {name!r}")
    if protocol not in ("faithful", "authors"):
        raise ValueError(f"protocol must be one of faithful, authors; got {protocol!r}")
    if runs is not None and (isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or int(runs) < 1):
        raise ValueError(f"runs must be a positive integer or None; got {runs!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not 0 < float(size) <= 10:
        raise ValueError(f"size must be a number in (0, 10]; got {size!r}")


def compute(
    name: str,
    png: str | Path,
    *,
    runs: int | None = None,
    seed: int = 0,
    protocol: Protocol = "faithful",
    size: float = 1.0,
) -> tuple[pd.DataFrame, list[str]]:
    """Draw figure ``name`` into ``png`` and return its tidy data and notes (no CSV)."""
    _check(name, protocol, runs, seed, size)
    ctx = _Context(name, None if runs is None else int(runs), int(seed), str(protocol), float(size))
    path = Path(png)
    if name == "dual-kernel":
        frame, notes = _dual_kernel(ctx, path)
    elif name == "beta-vs-gain":
        frame, notes = _beta_vs_gain(ctx, path)
    else:
        frame, notes = _simulated_figure(ctx, _SPECS[name](ctx), path)
    return frame[_CSV_COLUMNS], notes


def make(
    name: str,
    out_dir: str | Path,
    *,
    runs: int | None = None,
    seed: int = 0,
    protocol: Protocol = "faithful",
    size: float = 1.0,
) -> FigureResult:
    """Reproduce one figure of the paper: write ``out_dir/NAME.png`` and ``out_dir/NAME.csv``.

    Parameters
    ----------
    name : str
        One of :data:`NAMES` (spec/experiments.md).
    out_dir : str or Path
        Created if missing.
    runs : int, optional
        Independent networks per configuration (default: the paper's, 10 or 30).
    seed : int
        Seed of the networks and of the degenerate input batch.
    protocol : {"faithful", "authors"}
        ``"faithful"``: gap of the block output (after normalization). ``"authors"``: for
        ``l >= 1`` the mean of the after-activation and after-normalization gaps, as the
        authors' plotting code did (the published pictures).
    size : float
        Multiplies every width ``d`` (for quick runs and tests; depth and batch unchanged;
        at least 20).

    Returns
    -------
    FigureResult

    Examples
    --------
    >>> from isoinit import figures
    >>> r = figures.make("order", "out")                     # doctest: +SKIP
    >>> r.data.query("source == 'simulation'").groupby(["curve", "x"]).value.mean()  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png, csv = out / f"{name}.png", out / f"{name}.csv"
    frame, notes = compute(name, png, runs=runs, seed=seed, protocol=protocol, size=size)
    frame.to_csv(csv, index=False, float_format="%.6g")
    return FigureResult(name, png, csv, frame, time.perf_counter() - t0, tuple(notes))


def make_all(
    out_dir: str | Path,
    *,
    runs: int | None = None,
    seed: int = 0,
    protocol: Protocol = "faithful",
    size: float = 1.0,
    names: Sequence[str] | None = None,
    callback: Callable[[FigureResult], None] | None = None,
) -> list[FigureResult]:
    """:func:`make` every figure of :data:`NAMES` (or ``names``) into ``out_dir``.

    ``callback`` is called with each result as soon as it is written.
    """
    results = []
    for name in NAMES if names is None else names:
        r = make(name, out_dir, runs=runs, seed=seed, protocol=protocol, size=size)
        if callback is not None:
            callback(r)
        results.append(r)
    return results
