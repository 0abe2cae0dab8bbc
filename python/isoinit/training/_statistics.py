"""The paper's trainability claim as numbers, read from a table of :func:`isoinit.training.train`.

* :func:`trainability`: across activations, Spearman's rank correlation of ``beta_0`` (and of
  the isometry gap at initialization) with the training loss after ``k`` epochs, with
  two-level bootstrap intervals (activations and reruns redrawn), for all activations and
  without the near-linear ones.
* :func:`dose_response`: inside one activation trained at several pre-activation gains, the
  slope of ``log10`` of the training loss against ``beta_0``, with its intervals.

The resampling and the formulas are in :mod:`isoinit.training._bootstrap`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .. import _validate as check
from ._bootstrap import _level, least_squares_rows, percentile_interval, slope_interval, spearman_rows, two_level_means
from ._loop import COLUMNS, TrainingResult, train

__all__ = ["Correlation", "DoseResponse", "Trainability", "dose_response", "trainability"]

_F = NDArray[np.float64]

#: ``beta_0`` at or above which :func:`trainability` calls an activation near-linear
#: (sigmoid 0.984 and identity 1 of the default set; the next, selu, is 0.971).
NEAR_LINEAR = 0.98


@dataclass(frozen=True)
class Correlation:
    """A rank correlation with its bootstrap intervals.

    Attributes
    ----------
    x, y : str
        What is correlated (e.g. ``"beta0"`` and ``"loss"``).
    rho : float
        Spearman's rank correlation of the per-activation means (NaN with fewer than 2
        activations).
    low, high : float
        The two-level percentile bootstrap interval at :attr:`Trainability.confidence`:
        activations drawn with replacement, then each drawn activation's reruns. It counts
        the choice of activations as well as the seeds.
    low_reruns, high_reruns : float
        The one-level interval: the activations kept, only their reruns redrawn (seed noise
        alone).
    activations : tuple of str
        The activations correlated.
    """

    x: str
    y: str
    rho: float
    low: float
    high: float
    low_reruns: float = float("nan")
    high_reruns: float = float("nan")
    activations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Trainability:
    """What :func:`trainability` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per activation and gain (sorted by ``beta0``): ``activation``, ``gain``,
        ``beta0``, ``gap_init`` (mean over reruns of the measured gap after the last layer
        norm at initialization), ``gap_meanfield`` (its infinite-width prediction),
        ``gap_final`` (the measured gap after the last layer norm at epoch ``k``), ``loss``
        and ``loss_sd`` (mean and standard deviation over reruns of the training loss at
        epoch ``k``), ``reruns``.
    k : int
        The epoch at which the loss is read.
    beta : Correlation
        Spearman's rho of ``beta0`` and ``loss`` over every activation (the claim: positive).
    gap : Correlation
        Spearman's rho of ``gap_init`` and ``loss`` (the claim: positive).
    beta_nonlinear, gap_nonlinear : Correlation
        The same without the near-linear activations (``beta0 >= near_linear``).
    near_linear : float
        The threshold of ``beta_nonlinear`` and ``gap_nonlinear``.
    confidence : float
        Level of the bootstrap intervals.
    boots : int
        Bootstrap resamples.
    """

    table: pd.DataFrame = field(repr=False)
    k: int
    beta: Correlation
    gap: Correlation
    beta_nonlinear: Correlation
    gap_nonlinear: Correlation
    near_linear: float
    confidence: float
    boots: int

    def correlations(self) -> dict[str, Correlation]:
        """The four correlations by name: ``beta0``, ``gap``, ``beta0_nonlinear``, ``gap_nonlinear``."""
        return {
            "beta0": self.beta,
            "gap": self.gap,
            "beta0_nonlinear": self.beta_nonlinear,
            "gap_nonlinear": self.gap_nonlinear,
        }

    def to_frame(self) -> pd.DataFrame:
        """The per-activation table with the correlations as columns (one row per activation).

        For each of :meth:`correlations`, ``rho_<name>_loss`` and its ``_low``, ``_high``
        (two-level) and ``_low_reruns``, ``_high_reruns`` (reruns only).
        """
        df: pd.DataFrame = self.table.copy()
        for name, c in self.correlations().items():
            df[f"rho_{name}_loss"] = c.rho
            df[f"rho_{name}_loss_low"] = c.low
            df[f"rho_{name}_loss_high"] = c.high
            df[f"rho_{name}_loss_low_reruns"] = c.low_reruns
            df[f"rho_{name}_loss_high_reruns"] = c.high_reruns
        df["k"] = self.k
        return df


@dataclass(frozen=True)
class DoseResponse:
    """What :func:`dose_response` returns: the training loss of one activation against ``beta_0``.

    Attributes
    ----------
    activation : str
    table : pandas.DataFrame
        One row per gain (sorted by ``beta0``): ``gain``, ``beta0``, ``log10_loss`` and
        ``log10_loss_sd`` (mean and standard deviation over reruns of ``log10`` of the
        training loss at epoch ``k``), ``loss`` (``10 ** log10_loss``, the geometric mean),
        ``reruns``.
    k : int
        The epoch at which the loss is read.
    slope : float
        Least-squares slope of ``log10_loss`` on ``beta0`` over the gains: decades of
        training loss per unit of ``beta_0`` (the claim: positive).
    intercept : float
    low, high : float
        Two-level percentile bootstrap interval of the slope (gains drawn with replacement,
        then each drawn gain's reruns).
    t_low, t_high : float
        Student-t interval of the slope from the scatter of the per-gain means about the line
        (``n_gains - 2`` degrees of freedom); assumes that the line is the right shape.
    low_reruns, high_reruns : float
        One-level interval (the gains kept, only the reruns redrawn).
    rho : float
        Spearman's rank correlation of ``beta0`` and the loss over the gains.
    confidence : float
    boots : int
    """

    activation: str
    table: pd.DataFrame = field(repr=False)
    k: int
    slope: float
    intercept: float
    low: float
    high: float
    t_low: float
    t_high: float
    low_reruns: float
    high_reruns: float
    rho: float
    confidence: float
    boots: int

    def to_frame(self) -> pd.DataFrame:
        """The per-gain table with the slope, its intervals and ``rho`` as columns."""
        df: pd.DataFrame = self.table.copy()
        df.insert(0, "activation", self.activation)
        for name in ("slope", "intercept", "low", "high", "t_low", "t_high", "low_reruns", "high_reruns", "rho"):
            df[name if name in ("slope", "intercept", "rho") else f"slope_{name}"] = getattr(self, name)
        df["k"] = self.k
        return df


def _frame(result: TrainingResult | pd.DataFrame) -> pd.DataFrame:
    df = (
        result.frame
        if isinstance(result, TrainingResult)
        else check.instance("result", result, pd.DataFrame, "a TrainingResult, a DataFrame or None")
    )
    if "gain" not in df.columns:  # a table from before the gain column: every gain was 1
        df = df.assign(gain=1.0)
    missing = set(COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"result must have the columns {list(COLUMNS)}; missing {sorted(missing)}")
    return df


def _label(activation: str, gain: float) -> str:
    return activation if gain == 1.0 else f"{activation} (gain {gain:g})"


def _per_rerun(sel: pd.DataFrame, act: str, gain: float) -> _F:
    s = sel[(sel.activation == act) & (sel.gain == gain)].sort_values("rerun")
    out: _F = s.value.to_numpy(dtype=np.float64)
    return out


def _correlation(
    x_name: str, y_name: str, labels: list[str], x: list[_F], y: list[_F], boots: int, seed: int, confidence: float
) -> Correlation:
    """Spearman's rho of per-condition means of ``x`` and ``y`` (arrays over reruns; a constant
    ``x`` may be one value), with the two-level and the reruns-only intervals."""
    nan = float("nan")
    if len(labels) < 2:
        return Correlation(x_name, y_name, nan, nan, nan, nan, nan, tuple(labels))
    samples = []
    for xs, ys in zip(x, y, strict=True):
        xs_full = np.broadcast_to(xs, ys.shape) if xs.size == 1 else xs
        samples.append(np.column_stack([xs_full, ys]))
    rho = float(spearman_rows([s[:, 0].mean() for s in samples], [s[:, 1].mean() for s in samples]))
    intervals = []
    for outer in (True, False):
        _, means = two_level_means(samples, boots=boots, seed=seed, outer=outer)
        intervals.append(percentile_interval(spearman_rows(means[..., 0], means[..., 1]), confidence))
    (low, high), (low_r, high_r) = intervals
    return Correlation(x_name, y_name, rho, low, high, low_r, high_r, tuple(labels))


def trainability(
    result: TrainingResult | pd.DataFrame | None = None,
    *,
    k: int | None = None,
    boots: int = 1000,
    confidence: float = 0.9,
    seed: int = 0,
    near_linear: float = NEAR_LINEAR,
    **train_options: Any,
) -> Trainability:
    """The paper's trainability claim as rank correlations with bootstrap intervals.

    For each activation (and gain): ``beta_0``, the isometry gap after the last layer norm at
    initialization (measured on the evaluation batch, mean over reruns) beside its mean-field
    prediction, and the training loss after ``k`` epochs (mean over reruns). Then Spearman's
    rank correlation of ``beta_0`` with the loss and of the gap with the loss (the paper's
    claim: both positive), over all activations and over those with
    ``beta_0 < near_linear`` (without identity and sigmoid, which can carry the correlation
    alone).

    Each correlation gets two percentile bootstrap intervals
    (``isoinit.training._bootstrap.two_level_means``; a seeded generator, a rerun's gap
    and loss drawn together). The two-level interval draws the activations with replacement
    and then each drawn activation's reruns: it reads as a confidence interval for the
    correlation in a population of activations of which these are a random sample. They are
    not one (they are the paper's choice), so it is best read as how much the correlation
    depends on which activations and which seeds were drawn; an interval reaching 0 means
    the ordering rests on a few activations. The reruns-only interval keeps the activations
    and measures seed noise alone. A resample whose drawn activations all share one
    ``beta_0`` has no rank correlation and is left out.

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
    near_linear : float
        ``beta_0`` at or above which an activation is left out of ``beta_nonlinear`` and
        ``gap_nonlinear`` (default 0.98: sigmoid and identity).
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
    df = _frame(result)
    boots = check.integer("boots", boots, 1)
    confidence = _level(confidence)
    seed = check.integer("seed", seed, 0)
    near_linear = check.real("near_linear", near_linear, 0.0)
    measured = df[df.rerun >= 0]
    last = int(measured.epoch.max())
    k = last if k is None else check.integer("k", k, 0, last)
    gaps = measured[(measured.metric == "gap") & (measured.split == "eval")]
    depth = int(gaps.layer.max()) if len(gaps) else -1
    loss = measured[(measured.metric == "loss") & (measured.split == "train") & (measured.epoch == k)]
    conds = list(dict.fromkeys(zip(loss.activation, loss.gain, strict=True)))
    if len(conds) < 2:
        raise ValueError(f"result must hold at least 2 activations to correlate; got {[a for a, _ in conds]}")
    g0 = gaps[(gaps.epoch == 0) & (gaps.layer == depth)]
    gk = gaps[(gaps.epoch == k) & (gaps.layer == depth)]
    mf = df[(df.split == "mean-field") & (df.metric == "gap") & (df.layer == depth)]
    rows = []
    for a, g in conds:
        losses = _per_rerun(loss, a, g)
        gap0 = _per_rerun(g0, a, g)
        mf_a = mf[(mf.activation == a) & (mf.gain == g)].value
        rows.append(
            {
                "activation": a,
                "gain": float(g),
                "beta0": float(df[(df.activation == a) & (df.gain == g)].beta0.iloc[0]),
                "gap_init": float(gap0.mean()) if gap0.size else float("nan"),
                "gap_meanfield": float(mf_a.iloc[0]) if len(mf_a) else float("nan"),
                "gap_final": float(_per_rerun(gk, a, g).mean()) if len(gk) else float("nan"),
                "loss": float(losses.mean()),
                "loss_sd": float(losses.std(ddof=1)) if losses.size > 1 else float("nan"),
                "reruns": int(losses.size),
            }
        )
    table = pd.DataFrame(rows).sort_values(["beta0", "activation", "gain"], kind="stable").reset_index(drop=True)
    order = list(zip(table.activation, table.gain, strict=True))
    labels = [_label(a, g) for a, g in order]
    betas = [np.array([b]) for b in table.beta0]
    losses_ = [_per_rerun(loss, a, g) for a, g in order]
    gap0_ = [_per_rerun(g0, a, g) for a, g in order]
    if any(v.size != w.size for v, w in zip(gap0_, losses_, strict=True)):
        gap0_ = [np.full(w.shape, np.nan) for w in losses_]  # no gaps recorded: NaN correlations
    keep = [i for i, b in enumerate(table.beta0) if b < near_linear]

    def pick(v: list[Any], idx: list[int] | None = None) -> list[Any]:
        return v if idx is None else [v[i] for i in idx]

    out = {}
    for name, idx in (("all", None), ("nonlinear", keep)):
        out[name] = (
            _correlation(
                "beta0", "loss", pick(labels, idx), pick(betas, idx), pick(losses_, idx), boots, seed, confidence
            ),
            _correlation(
                "gap_init", "loss", pick(labels, idx), pick(gap0_, idx), pick(losses_, idx), boots, seed, confidence
            ),
        )
    return Trainability(
        table, k, *out["all"], *out["nonlinear"], near_linear=near_linear, confidence=confidence, boots=boots
    )


def dose_response(
    result: TrainingResult | pd.DataFrame,
    *,
    activation: str | None = None,
    k: int | None = None,
    boots: int = 1000,
    confidence: float = 0.9,
    seed: int = 0,
) -> DoseResponse:
    """Inside one activation, the training loss against ``beta_0`` moved by the pre-activation gain.

    ``train([act], gains=...)`` trains one activation at several gains ``alpha``; each
    network applies ``sigma(alpha x)`` at initialization, whose non-linearity strength
    ``beta_0(sigma, alpha)`` varies continuously (tanh from 1 at small gain to 0.75 at gain 4;
    sin and exp to 0 by gain 2.5). Regressing the training loss on ``beta_0`` across the gains
    separates the strength of the non-linearity from the identity of the function, which a
    comparison across activations cannot: the paper's claim predicts a positive slope.

    The response is ``log10`` of the training loss at epoch ``k`` (losses span decades),
    averaged over each gain's reruns; the slope is the least-squares line through the
    per-gain means. Its intervals: the two-level bootstrap (gains drawn with replacement,
    then each drawn gain's reruns; a resample of one gain has no slope and is left out), the
    Student-t interval (``isoinit.training._bootstrap.slope_interval``, which assumes a
    straight line), and the reruns-only bootstrap (seed noise alone). A rerun that diverged
    (non-finite loss) makes its gain's mean, the slope and its intervals NaN.

    The gain changes more than ``beta_0``: it scales the gradients too, so at a fixed
    learning rate a large gain can train worse for reasons of step size. A straight line is a
    summary, not a model: look at :attr:`DoseResponse.table` (or the figure
    ``training-gain``) before reading the slope.

    Parameters
    ----------
    result : TrainingResult or DataFrame
        A run of :func:`train` with one activation at 3 or more gains (or its table).
    activation : str, optional
        The activation to read (default: the only one in ``result``).
    k : int, optional
        The epoch at which the loss is read (default: the last).
    boots : int
        Bootstrap resamples, ``>= 1``.
    confidence : float
        Level of the intervals, in ``(0, 1)``.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    DoseResponse

    Raises
    ------
    ValueError
        If ``result`` holds several activations and ``activation`` is not given, or fewer
        than 3 gains of it.
    """
    df = _frame(result)
    boots = check.integer("boots", boots, 1)
    confidence = _level(confidence)
    seed = check.integer("seed", seed, 0)
    acts = list(dict.fromkeys(df.activation))
    if activation is None:
        if len(acts) != 1:
            raise ValueError(f"activation must be given when result holds several activations; got {acts}")
        activation = acts[0]
    activation = check.choice("activation", activation, acts)
    measured = df[(df.rerun >= 0) & (df.activation == activation)]
    last = int(measured.epoch.max())
    k = last if k is None else check.integer("k", k, 0, last)
    loss = measured[(measured.metric == "loss") & (measured.split == "train") & (measured.epoch == k)]
    gains = sorted(set(loss.gain))
    if len(gains) < 3:
        raise ValueError(f"result must hold activation {activation!r} at 3 or more gains for a slope; got {gains}")
    rows = []
    logs = {}
    for g in gains:
        with np.errstate(divide="ignore", invalid="ignore"):
            lg = np.log10(_per_rerun(loss, activation, g))
        logs[g] = np.where(np.isfinite(lg), lg, np.nan)
        rows.append(
            {
                "gain": float(g),
                "beta0": float(loss[loss.gain == g].beta0.iloc[0]),
                "log10_loss": float(logs[g].mean()),
                "log10_loss_sd": float(logs[g].std(ddof=1)) if lg.size > 1 else float("nan"),
                "loss": float(10 ** logs[g].mean()),
                "reruns": int(lg.size),
            }
        )
    table = pd.DataFrame(rows).sort_values(["beta0", "gain"], kind="stable").reset_index(drop=True)
    x = table.beta0.to_numpy()
    y = table.log10_loss.to_numpy()
    samples = [logs[g] for g in table.gain]
    if not all(np.isfinite(v).all() for v in samples) or np.ptp(x) == 0:
        nan = float("nan")  # a diverged rerun (or one beta0 for every gain): no line
        return DoseResponse(activation, table, k, nan, nan, nan, nan, nan, nan, nan, nan, nan, confidence, boots)
    slope, _, t_low, t_high = slope_interval(x, y, confidence)
    intercept = float(least_squares_rows(x, y)[1])
    intervals = []
    for outer in (True, False):
        drawn, means = two_level_means(samples, boots=boots, seed=seed, outer=outer)
        intervals.append(percentile_interval(least_squares_rows(x[drawn], means[..., 0])[0], confidence))
    (low, high), (low_r, high_r) = intervals
    rho = float(spearman_rows(x, y))
    return DoseResponse(
        activation, table, k, slope, intercept, low, high, t_low, t_high, low_r, high_r, rho, confidence, boots
    )
