"""The numbers the gallery quotes, computed from a figure's own tidy data.

:func:`isoinit.figures.make` writes them beside the figure (``NAME.json``) for the figures
listed in :data:`HEADLINES`; the documentation reads them from ``docs/figures/NAME.json``
(MyST substitutions ``{{ key }}``), so a quoted number is the one the picture shows, and
a test remakes the figures and checks the file.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["HEADLINES", "formatted", "headlines"]


def _means(frame: pd.DataFrame, **where: str) -> pd.Series:
    """The simulation's mean over runs of the rows matching ``where``, by ``x``."""
    rows = frame[frame["source"] == "simulation"]
    for column, value in where.items():
        rows = rows[rows[column] == value]
    if rows.empty:
        raise KeyError(f"no rows with {where}")
    values = rows.assign(value=rows["value"].astype(float)).groupby("x")["value"]
    means: pd.Series = values.mean()
    return means


def _transformer_ln(frame: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {}
    for panel, key in (("Gaussian tokens", "tln_gauss"), ("repeated tokens", "tln_rep")):
        before = _means(frame, panel=panel, curve="just before the norm")
        after = _means(frame, panel=panel, curve="just after the norm")
        rows = frame[(frame["panel"] == panel) & (frame["source"] == "simulation")]
        b = rows[rows["curve"] == "just before the norm"].pivot(index="run", columns="x", values="value")
        a = rows[rows["curve"] == "just after the norm"].pivot(index="run", columns="x", values="value")
        change = (100.0 * (a - b) / b).mean(axis=0)  # percent, mean over runs, per norm
        out[f"{key}_first"] = float(before.iloc[0])
        out[f"{key}_last"] = float(after.iloc[-1])
        out[f"{key}_drop_min"] = float(change.min())
        out[f"{key}_drop_first"] = float(change.iloc[0])
        out[f"{key}_drop_last"] = float(change.iloc[-1])
        out[f"{key}_drops"] = float((change < 0).sum())
        out[f"{key}_norms"] = float(change.size)
    return out


def _rank_collapse(frame: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {}
    for curve, key in (
        ("attention only", "rc_attn"),
        ("attention + residual", "rc_res"),
        ("pre-norm transformer", "rc_tf"),
    ):
        gap = _means(frame, curve=curve, quantity="gap")
        rank = _means(frame, curve=curve, quantity="effective_rank")
        for block in (1, 2, 3, int(gap.index.max())):
            out[f"{key}_gap_{block}"] = float(gap.loc[block])
            out[f"{key}_rank_{block}"] = float(rank.loc[block])
    return out


def _residual(frame: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {}
    sim = frame[frame["source"] == "simulation"]
    for (panel, curve), _ in sim.groupby(["panel", "curve"]):
        position = "pre" if curve.startswith("pre") else "post"
        scale = "one" if curve.endswith("alpha=1") else "sqrtl"
        key = f"res_{panel}_{position}_{scale}"
        gap = _means(frame, panel=panel, curve=curve)
        out[f"{key}_0"] = float(gap.iloc[0])
        out[f"{key}_1"] = float(gap.iloc[1])
        out[f"{key}_last"] = float(gap.iloc[-1])
        mf = frame[(frame["source"] != "simulation") & (frame["panel"] == panel) & (frame["curve"] == curve)]
        if not mf.empty:
            out[f"{key}_mf_last"] = float(mf.sort_values("x")["value"].astype(float).iloc[-1])
    return out


#: The figures whose numbers the gallery quotes, each with the function computing them.
HEADLINES: dict[str, Callable[[pd.DataFrame], dict[str, float]]] = {
    "transformer-ln": _transformer_ln,
    "rank-collapse": _rank_collapse,
    "residual": _residual,
}


def headlines(name: str, frame: pd.DataFrame) -> dict[str, float]:
    """The quoted numbers of figure ``name`` from its tidy data (empty if it has none)."""
    fn = HEADLINES.get(name)
    return {} if fn is None else fn(frame)


def formatted(value: float) -> str:
    """A quoted number as the gallery prints it: 3 significant digits (counts as integers)."""
    if not np.isfinite(value):
        return "inf" if value > 0 else str(value)
    if float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}"
