"""The paper's trainability claim as numbers: rank correlations with bootstrap intervals.

:func:`trainability` reads a table of :func:`isoinit.training.train` (or runs it).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .. import _validate as check
from ._loop import COLUMNS, TrainingResult, train

__all__ = ["Correlation", "Trainability", "trainability"]

_F = NDArray[np.float64]


@dataclass(frozen=True)
class Correlation:
    """A rank correlation with its bootstrap interval.

    Attributes
    ----------
    x, y : str
        What is correlated (e.g. ``"beta0"`` and ``"loss"``).
    rho : float
        Spearman's rank correlation of the per-activation means.
    low, high : float
        The percentile bootstrap interval at :attr:`Trainability.confidence`.
    """

    x: str
    y: str
    rho: float
    low: float
    high: float


@dataclass(frozen=True)
class Trainability:
    """What :func:`trainability` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per activation (sorted by ``beta0``): ``activation``, ``beta0``,
        ``gap_init`` (mean over reruns of the measured gap after the last layer norm at
        initialization), ``gap_meanfield`` (its infinite-width prediction), ``gap_final``
        (the measured gap after the last layer norm at epoch ``k``), ``loss`` and
        ``loss_sd`` (mean and standard deviation over reruns of the training loss at epoch
        ``k``), ``reruns``.
    k : int
        The epoch at which the loss is read.
    beta : Correlation
        Spearman's rho of ``beta0`` and ``loss`` (the claim: positive).
    gap : Correlation
        Spearman's rho of ``gap_init`` and ``loss`` (the claim: positive).
    confidence : float
        Level of the bootstrap intervals.
    boots : int
        Bootstrap resamples.
    """

    table: pd.DataFrame = field(repr=False)
    k: int
    beta: Correlation
    gap: Correlation
    confidence: float
    boots: int

    def to_frame(self) -> pd.DataFrame:
        """The per-activation table with the correlations as columns (one row per activation)."""
        df: pd.DataFrame = self.table.copy()
        for c, name in ((self.beta, "beta0"), (self.gap, "gap")):
            df[f"rho_{name}_loss"] = c.rho
            df[f"rho_{name}_loss_low"] = c.low
            df[f"rho_{name}_loss_high"] = c.high
        df["k"] = self.k
        return df


def _spearman(x: _F, y: _F) -> float:
    from scipy.stats import spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: rho is NaN, which is what we report
        return float(spearmanr(x, y).statistic)


_Draw = list[NDArray[np.intp]] | None  # per activation, the reruns drawn (None: the data itself)


def _correlation(
    x_name: str, y_name: str, x: Callable[[_Draw], _F], y: Callable[[_Draw], _F], draws: list[_Draw], confidence: float
) -> Correlation:
    rho = _spearman(x(None), y(None))
    boot = np.array([_spearman(x(d), y(d)) for d in draws])
    tail = 100 * (1 - confidence) / 2
    low = high = float("nan")
    if np.isfinite(boot).any():
        low, high = (float(v) for v in np.nanpercentile(boot, [tail, 100 - tail]))
    return Correlation(x_name, y_name, rho, low, high)


def trainability(
    result: TrainingResult | pd.DataFrame | None = None,
    *,
    k: int | None = None,
    boots: int = 1000,
    confidence: float = 0.9,
    seed: int = 0,
    **train_options: Any,
) -> Trainability:
    """The paper's trainability claim as rank correlations with bootstrap intervals.

    For each activation: ``beta_0``, the isometry gap after the last layer norm at
    initialization (measured on the evaluation batch, mean over reruns) beside its
    mean-field prediction, and the training loss after ``k`` epochs (mean over reruns).
    Then Spearman's rank correlation of ``beta_0`` with the loss and of the gap with the loss
    (the paper's claim: both positive), each with a percentile bootstrap interval: every
    resample draws each activation's reruns with replacement (a seeded generator, the same
    draw for the gap and the loss of a rerun) and recomputes the correlation of the
    per-activation means.

    Parameters
    ----------
    result : TrainingResult, DataFrame or None
        The output of :func:`train` (or its table, e.g. from :func:`load`); ``None``: run
        ``train(**train_options)``.
    k : int, optional
        The epoch at which the loss is read (default: the last).
    boots : int
        Bootstrap resamples, ``>= 1``.
    confidence : float
        Level of the intervals, in ``(0, 1)``.
    seed : int
        Seed of the bootstrap.
    **train_options
        Passed to :func:`train` when ``result`` is ``None``.

    Returns
    -------
    Trainability
    """
    if result is None:
        result = train(**train_options)
    elif train_options:
        raise TypeError(f"train options are only used when result is None; got {sorted(train_options)}")
    df = (
        result.frame
        if isinstance(result, TrainingResult)
        else check.instance("result", result, pd.DataFrame, "a TrainingResult, a DataFrame or None")
    )
    missing = set(COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"result must have the columns {list(COLUMNS)}; missing {sorted(missing)}")
    boots = check.integer("boots", boots, 1)
    confidence = check.real("confidence", confidence, 0.0, 1.0, low_open=True)
    if confidence >= 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    seed = check.integer("seed", seed, 0)
    measured = df[df.rerun >= 0]
    last = int(measured.epoch.max())
    k = last if k is None else check.integer("k", k, 0, last)
    gaps = measured[(measured.metric == "gap") & (measured.split == "eval")]
    depth = int(gaps.layer.max()) if len(gaps) else -1
    loss = measured[(measured.metric == "loss") & (measured.split == "train") & (measured.epoch == k)]
    acts = list(dict.fromkeys(loss.activation))
    if len(acts) < 2:
        raise ValueError(f"result must hold at least 2 activations to correlate; got {acts}")

    def per_rerun(sel: pd.DataFrame, act: str) -> _F:
        s = sel[sel.activation == act].sort_values("rerun")
        out: _F = s.value.to_numpy(dtype=np.float64)
        return out

    g0 = gaps[(gaps.epoch == 0) & (gaps.layer == depth)]
    gk = gaps[(gaps.epoch == k) & (gaps.layer == depth)]
    mf = df[(df.split == "mean-field") & (df.metric == "gap") & (df.layer == depth)]
    losses = {a: per_rerun(loss, a) for a in acts}
    gap0 = {a: per_rerun(g0, a) for a in acts}
    beta = {a: float(df[df.activation == a].beta0.iloc[0]) for a in acts}
    rows = []
    for a in acts:
        mf_a = mf[mf.activation == a].value
        rows.append(
            {
                "activation": a,
                "beta0": beta[a],
                "gap_init": float(gap0[a].mean()) if gap0[a].size else float("nan"),
                "gap_meanfield": float(mf_a.iloc[0]) if len(mf_a) else float("nan"),
                "gap_final": float(per_rerun(gk, a).mean()) if len(gk) else float("nan"),
                "loss": float(losses[a].mean()),
                "loss_sd": float(losses[a].std(ddof=1)) if losses[a].size > 1 else float("nan"),
                "reruns": int(losses[a].size),
            }
        )
    table = pd.DataFrame(rows).sort_values(["beta0", "activation"], kind="stable").reset_index(drop=True)
    acts = list(table.activation)
    rng = np.random.default_rng(seed)
    # one draw per (resample, activation): indices of that activation's reruns
    draws: list[_Draw] = [[rng.integers(0, losses[a].size, losses[a].size) for a in acts] for _ in range(boots)]

    def means(values: dict[str, _F]) -> Callable[[_Draw], _F]:
        def f(d: _Draw) -> _F:
            if d is None:
                return np.array([values[a].mean() for a in acts])
            # a rerun's gap and loss are drawn together (same indices)
            return np.array([values[a][i].mean() for a, i in zip(acts, d, strict=True)])

        return f

    betas = np.array([beta[a] for a in acts])
    rho_beta = _correlation("beta0", "loss", lambda d: betas, means(losses), draws, confidence)
    rho_gap = _correlation("gap_init", "loss", means(gap0), means(losses), draws, confidence)
    return Trainability(table, k, rho_beta, rho_gap, confidence, boots)
