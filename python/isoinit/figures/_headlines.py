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


def _attention_curves(frame: pd.DataFrame, prefix: str, keys: dict[tuple[str, str], str]) -> dict[str, float]:
    """Per curve of ``attention-collapse`` and ``attention-variants``.

    The simulated last-layer cosine, the layer where it first reaches 0.9, the largest
    differences of the mean field and the REM to it, the REM's participation in layer 1 and
    the first layer whose attention is not frozen.
    """
    out: dict[str, float] = {}
    cos = frame[frame["quantity"] == "mean_cosine"]
    for (panel, curve), key in keys.items():
        rows = cos[(cos["panel"] == panel) & (cos["curve"] == curve)]
        sim = _means(rows)
        mf = rows[rows["source"] == "mean-field"].set_index("x")["value"].astype(float)
        rem = rows[rows["source"] == "rem"].set_index("x")["value"].astype(float)
        above = np.flatnonzero(sim.to_numpy() >= 0.9)
        out[f"{prefix}_{key}_last"] = float(sim.iloc[-1])
        out[f"{prefix}_{key}_at90"] = float(sim.index[above[0]]) if above.size else float("inf")
        out[f"{prefix}_{key}_mf"] = float(np.max(np.abs(mf - sim)))
        out[f"{prefix}_{key}_rem"] = float(np.max(np.abs(rem - sim)))
        y2 = frame[(frame["quantity"] == "participation") & (frame["panel"] == panel) & (frame["curve"] == curve)]
        y2 = y2.sort_values("x")
        spread = np.flatnonzero(y2["value"].astype(float).to_numpy() == 0)  # layers whose attention is not frozen
        out[f"{prefix}_{key}_y2first"] = float(y2["value"].astype(float).iloc[0])
        out[f"{prefix}_{key}_thaw"] = float(y2["x"].iloc[spread[0]]) if spread.size else float("inf")
    return out


def _attention_collapse(frame: pd.DataFrame) -> dict[str, float]:
    keys = {("beta = 0.5", "post-norm"): "low", ("beta = 3", "post-norm"): "high"}
    return _attention_curves(frame, "ac", keys)


def _attention_variants(frame: pd.DataFrame) -> dict[str, float]:
    keys = {}
    for panel, name in (("post-norm", "post"), ("pre-norm", "pre"), ("gain-controlled (centred), post-norm", "gc")):
        keys[(panel, "beta = 0.5")] = f"{name}_low"
        keys[(panel, "beta = 3")] = f"{name}_high"
    return _attention_curves(frame, "av", keys)


def _attention_phase(frame: pd.DataFrame) -> dict[str, float]:
    """The REM's critical skip at beta = 0.5 and 4, and the mean field against the simulation.

    The critical skip is the smallest of the REM grid whose last-layer cosine is below 0.99;
    ``ap_agree`` counts the coarse cells where the mean field and the simulation agree on rank
    collapse (last-layer cosine at least 0.99).
    """
    out: dict[str, float] = {}
    grid = frame[(frame["curve"] == "REM grid") & (frame["quantity"] == "mean_cosine")]
    skip = grid["panel"].str.removeprefix("alpha_SA = ").astype(float)
    grid = grid.assign(skip=skip, value=grid["value"].astype(float))
    for beta, key in ((0.5, "low"), (4.0, "high")):
        xs = grid["x"].astype(float)
        at = grid[xs == xs.iloc[int((xs - beta).abs().argmin())]]  # the grid's beta nearest to ``beta``
        free = at[at["value"] < 0.99]
        out[f"ap_{key}_skip_c"] = float(free["skip"].min()) if len(free) else float("inf")
    cells = frame[(frame["curve"] != "REM grid") & (frame["quantity"] == "mean_cosine")]
    cells = cells.assign(value=cells["value"].astype(float))
    means = cells.groupby(["panel", "curve", "source"])["value"].mean().unstack("source")
    out["ap_cells"] = float(len(means))
    out["ap_mf_sim"] = float((means["mean-field"] - means["simulation"]).abs().max())
    out["ap_agree"] = float(((means["mean-field"] >= 0.99) == (means["simulation"] >= 0.99)).sum())
    return out


#: The figures whose numbers the gallery quotes, each with the function computing them.
HEADLINES: dict[str, Callable[[pd.DataFrame], dict[str, float]]] = {
    "transformer-ln": _transformer_ln,
    "rank-collapse": _rank_collapse,
    "residual": _residual,
    "attention-collapse": _attention_collapse,
    "attention-variants": _attention_variants,
    "attention-phase": _attention_phase,
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
