"""The one measuring layer of the figures: configurations in, tidy rows out.

A figure of metrics against the layer is a :class:`Spec`: panels of :class:`Curve` (a
network, its input's degeneracy, the runs and the quantity). :func:`measure_spec` measures
every curve (:func:`measure`: the simulation under the chosen protocol, the mean-field
trajectory, the potential bound) and turns it into the tidy rows of the figure's CSV
(:func:`rows`, columns :data:`CSV_COLUMNS`). Figures of other kinds build their rows with
:func:`theory_frame`. Nothing here draws.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .. import _renamed
from .._warnings import CollapseWarning, DivergenceWarning
from ..inputs import degenerate
from ..metrics import _measure
from ..networks.blocks import BlockNetwork
from ..networks.mlp import MLP
from ..simulate import STAGES, simulate
from ..theory import meanfield as mean_field
from ..theory.bounds import potential_bound
from ..theory.hermite import beta0

__all__ = [
    "BATCH",
    "CSV_COLUMNS",
    "Context",
    "Curve",
    "Measured",
    "Measurement",
    "Panel",
    "Protocol",
    "Spec",
    "Trajectories",
    "complement_gap",
    "meanfield",
    "measure",
    "measure_spec",
    "quiet_breakdowns",
    "rows",
    "theory_frame",
]

_F = NDArray[np.float64]
Protocol = Literal["faithful", "authors"]

BATCH = 10  # batch size n of every experiment

#: The columns of every figure's tidy data (its CSV), in this order.
CSV_COLUMNS = [
    "figure",
    "panel",
    "curve",
    "source",
    "quantity",
    "stage",
    "protocol",
    "activation",
    "center",
    "scale",
    "order",
    "norm_position",
    "gain",
    "width",
    "degeneracy",
    "run",
    "x_name",
    "x",
    "value",
    "diverged_at",
]


@dataclass
class Context:
    """The figure being made and the options of this call (runs, seed, protocol, size)."""

    name: str
    description: str
    runs: int | None
    seed: int
    protocol: str
    size: float
    inputs: dict[tuple[int, float], _F] = field(default_factory=dict)

    def width(self, d: int) -> int:
        """The paper's width ``d`` scaled by ``size`` (at least ``2 n``)."""
        return max(2 * BATCH, round(d * self.size))

    def nruns(self, default: int) -> int:
        """The runs asked for, else the figure's ``default``."""
        return self.runs if self.runs is not None else default

    def x(self, d: int, degeneracy: float) -> _F:
        """The degenerate input batch ``n x d`` (one per ``(d, degeneracy)``, cached)."""
        key = (d, degeneracy)
        if key not in self.inputs:
            self.inputs[key] = degenerate(BATCH, d, degeneracy, seed=self.seed)
        return self.inputs[key]


@dataclass
class Measurement:
    """What a figure's measuring step returns: its tidy data and notes (subclasses add what
    the drawing step needs)."""

    frame: pd.DataFrame
    notes: list[str]


# --------------------------------------------------------------------------------------
# Gram quantities
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
        out[ok] = _measure(0.5 * (h + np.swapaxes(h, 1, 2)))["gap"]
    return out.reshape(lead)


def _gram_value(quantity: str, g: _F) -> float:
    if quantity == "gap_complement":
        return float(complement_gap(g))
    return float(_measure(g)[quantity])


# --------------------------------------------------------------------------------------
# figures of metrics against the layer
# --------------------------------------------------------------------------------------


@_renamed.fields(mlp="network")
@dataclass(frozen=True)
class Curve:
    """One line of a panel: a network on the degenerate input, over ``runs`` networks.

    ``network`` is an :class:`~isoinit.MLP` or a block network (:class:`~isoinit.ResidualMLP`,
    ...): a block network is measured at its block outputs under either protocol, with the
    mean field only where :func:`isoinit.meanfield.trajectory` covers it.
    """

    label: str
    network: MLP | BlockNetwork
    degeneracy: float
    runs: int
    quantity: str = "gap"  # gap, potential or gap_complement
    bound: bool = False

    @property
    def mlp(self) -> MLP | BlockNetwork:
        """The old name of :attr:`network` (renamed in 0.2.0), kept as an alias."""
        return self.network


@dataclass
class Measured:
    """A measured :class:`Curve`: values per run and layer, overlays, notes."""

    curve: Curve
    values: _F  # (runs, L + 1)
    stage: str
    diverged_at: NDArray[np.int64]
    meanfield: _F | None
    bound: _F | None
    notes: list[str]


@dataclass(frozen=True)
class Panel:
    """One axes of a figure: a title and its curves."""

    title: str
    curves: tuple[Curve, ...]


@dataclass(frozen=True)
class Spec:
    """A figure of metrics against the layer: its panels, y label and caption line."""

    panels: tuple[Panel, ...]
    ylabel: str
    caption: str = ""


@dataclass
class Trajectories(Measurement):
    """The measurement of a :class:`Spec`: one :class:`Measured` per curve, by panel."""

    spec: Spec
    measured: list[list[Measured]]


def _stage_name(network: MLP | BlockNetwork, quantity: str, protocol: str) -> str:
    if isinstance(network, BlockNetwork):
        return "block output (the residual stream after each block)"
    out = network.output_stage
    if protocol == "authors" and quantity != "potential":
        return "authors: mean of after-activation and after-normalization (l >= 1)"
    return f"block output (after {out})"


def _no_norm(mlp: MLP) -> MLP:
    return MLP(1, 1, mlp.act, "none", gain=mlp.gain, bias=mlp.bias)


def meanfield(network: MLP | BlockNetwork, x: _F, quantity: str, protocol: str) -> tuple[_F | None, str | None]:
    """The infinite-width trajectory of ``quantity`` layer by layer, NaN after a failure.

    A block network has one only where :func:`isoinit.meanfield.trajectory` covers it
    (``None`` when that raises :class:`ValueError`: not implemented for this network).
    """
    if isinstance(network, BlockNetwork):
        if quantity not in ("gap", "potential"):
            return None, None
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                mf = mean_field.trajectory(network, x)
            except ValueError:
                return None, None
        values = np.asarray(mf.metrics[quantity], dtype=np.float64)
        note = None if mf.diverged_at < 0 else f"the mean-field trajectory breaks down at layer {mf.diverged_at}"
        return values, note
    if "batch" in (network.centering, network.scaling):
        return None, None
    authors = protocol == "authors" and quantity != "potential"
    out = np.full(network.depth + 1, np.nan)
    note = None
    g = mean_field.input_gram(x)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        out[0] = _gram_value(quantity, g)
        for layer in range(1, network.depth + 1):
            try:
                g_next = mean_field.block_map(network, g, layer)
                if not np.all(np.isfinite(g_next)):
                    raise FloatingPointError("non-finite Gram")
                value = _gram_value(quantity, g_next)
                if authors:
                    if network.order == "act-norm":
                        mid = mean_field.block_map(_no_norm(network), g, 1)
                    else:
                        mid = network.gain**2 * g + network.bias**2
                    value = 0.5 * (value + _gram_value(quantity, mid))
            except (ValueError, ArithmeticError) as err:
                note = f"the mean-field map fails at layer {layer} ({type(err).__name__}: {err})"
                break
            out[layer] = value
            g = g_next
    return out, note


@contextlib.contextmanager
def quiet_breakdowns() -> Iterator[None]:
    """Silence the warnings of breakdowns and collapses.

    Expected in some figures: reported through ``diverged_at`` / ``collapsed_at``, drawn on
    the figure or listed in its notes.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        warnings.simplefilter("ignore", CollapseWarning)
        yield


def measure(ctx: Context, curve: Curve) -> Measured:
    """Simulate ``curve`` under the context's protocol, with its mean field and bound."""
    network = curve.network
    d = network.widths()[0]
    x = ctx.x(d, curve.degeneracy)
    # a block network has no after-activation stage of its own: its block output under both protocols
    authors = ctx.protocol == "authors" and curve.quantity != "potential" and isinstance(network, MLP)
    complement = curve.quantity == "gap_complement"
    with quiet_breakdowns():
        traj = simulate(network, x, runs=curve.runs, seed=ctx.seed, stages=authors, grams=complement, progress=False)
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
    where = f"{ctx.name}, {curve.label} ({network.label()})"
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
    mf, mf_note = meanfield(network, x, curve.quantity, ctx.protocol)
    if mf_note:
        notes.append(f"{where}: {mf_note}")
    bound = None
    if curve.bound:
        pot = traj.output("potential")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            anchor = float(np.nanmean(pot[:, 1]))
        bound = potential_bound(anchor, beta0(network.act, network.gain), network.depth, start=1)
    return Measured(
        curve,
        np.asarray(values, dtype=np.float64),
        _stage_name(network, curve.quantity, ctx.protocol),
        div,
        mf,
        bound,
        notes,
    )


def rows(ctx: Context, panel: str, m: Measured) -> pd.DataFrame:
    """The tidy rows of a measured curve: simulation, then mean field and bound if any."""
    network = m.curve.network
    layers = np.arange(network.depth + 1)
    order, position = (network.order, None) if isinstance(network, MLP) else (None, network.norm_position)
    runs = m.values.shape[0]
    base: dict[str, Any] = dict(
        figure=ctx.name,
        panel=panel,
        curve=m.curve.label,
        protocol=ctx.protocol,
        activation=network.act.name,
        center=network.centering,
        scale=network.scaling,
        order=order,
        norm_position=position,
        gain=network.gain,
        width=network.widths()[0],
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
    frame: pd.DataFrame = pd.concat(parts, ignore_index=True)
    return frame


def measure_spec(ctx: Context, spec: Spec) -> Trajectories:
    """Measure every curve of ``spec``: the tidy data, the notes and the measured curves."""
    measured = [[measure(ctx, c) for c in p.curves] for p in spec.panels]
    frames = [rows(ctx, p.title, m) for p, ms in zip(spec.panels, measured, strict=True) for m in ms]
    notes = [n for ms in measured for m in ms for n in m.notes]
    return Trajectories(pd.concat(frames, ignore_index=True), notes, spec, measured)


# --------------------------------------------------------------------------------------
# figures of other kinds
# --------------------------------------------------------------------------------------


def theory_frame(
    ctx: Context,
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
    """Tidy rows of a curve against ``x_name`` (not the layer): theory or a measurement of
    layer-normalized ``act-norm`` blocks at gain 1."""
    frame: pd.DataFrame = pd.DataFrame(
        {
            "figure": ctx.name,
            "panel": panel,
            "curve": curve,
            "source": source,
            "quantity": quantity,
            "stage": "theory" if source == "theory" else "block output (after normalization)",
            "protocol": ctx.protocol,
            "activation": activation,
            "center": "layer",
            "scale": "layer",
            "order": "act-norm",
            "norm_position": None,
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
    return frame
