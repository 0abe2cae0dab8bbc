"""Simulation and theory in one call: :func:`compare` and its :class:`Comparison`.

``isoinit.compare(network, X, runs=10)`` simulates ``network`` on ``X``, computes its infinite-width
trajectory (:func:`isoinit.meanfield.trajectory`) and what :func:`isoinit.bounds.predict`
says about it, and returns them side by side as one tidy table (:meth:`Comparison.to_frame`)
and one plot (:meth:`Comparison.plot`): the simulation's band, the mean field dashed, the
potential bound dotted. With ``finite_width=True`` it adds the leading finite-width
prediction (:func:`isoinit.theory.finite_width.finite_width`: the mean and spread over
networks of the network's own width), a few seconds more.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from . import _renamed
from . import _validate as check
from .metrics import METRICS
from .networks.blocks import BlockNetwork
from .networks.mlp import MLP
from .results import config_columns, summarize
from .simulate import Sampler, Trajectory, simulate
from .theory.bounds import AttentionPrediction, Prediction, predict, trajectory_potential_bound
from .theory.finite_width import FiniteWidthTrajectory
from .theory.finite_width import finite_width as finite_width_trajectory
from .theory.meanfield import MeanFieldTrajectory
from .theory.meanfield import trajectory as meanfield_trajectory

__all__ = ["SOURCES", "Comparison", "compare"]


def __dir__() -> list[str]:
    return sorted(__all__)


_F = NDArray[np.float64]

#: The values of the ``source`` column of :meth:`Comparison.to_frame`.
SOURCES: tuple[str, ...] = ("simulation", "meanfield", "bound", "prediction", "finite_width", "rem")

#: Monte Carlo sizes of ``compare(..., finite_width=True)``: a quarter of
#: :func:`~isoinit.theory.finite_width.finite_width`'s defaults' columns (``Sigma``'s relative error
#: about 1.6 %, the sd's 0.8 %) and an eighth of its closure draws, for about a quarter of the time.
FW_SAMPLES = 1 << 14
FW_CLOSURE_SAMPLES = 512
#: The 90 % quantile of the standard normal: the finite-width band is ``mean -/+ Z90 sd``, the
#: Gaussian equivalent of the simulation's 10 %-90 % band.
Z90 = 1.2815515655446004


@_renamed.fields(mlp="network")
@dataclass(frozen=True, eq=False)
class Comparison:
    """A simulation next to the infinite-width theory of the same network.

    Attributes
    ----------
    network : MLP or BlockNetwork
        The network (``mlp`` is its old name, kept as an alias).
    simulation : Trajectory
        :func:`isoinit.simulate` of the network on the batch.
    meanfield : MeanFieldTrajectory or None
        :func:`isoinit.meanfield.trajectory`, or ``None`` when it does not exist (batch
        normalization); ``meanfield_reason`` says why.
    meanfield_reason : str
        Why there is no mean field (``""`` when there is one).
    prediction : Prediction or AttentionPrediction or None
        :func:`isoinit.bounds.predict` of the network (for a network with attention its REM
        limit); ``None`` where it has none (a residual MLP; ``prediction_reason`` says why).
    bound : ndarray or None, shape (depth + 1,)
        The potential bound ``gamma(G^0) (2 - beta_0)^(-l)``
        (:func:`isoinit.bounds.trajectory_potential_bound`, anchored on the mean field's
        layer 0, or the simulation's without a mean field) when the theorem applies.
    correlation : ndarray or None, shape (depth + 1,)
        The predicted mean absolute correlation ``rho* + (rho_0 - rho*) rate^l`` from the
        fixed point and rate of :attr:`prediction` (polynomial approach for a marginal
        collapse), with ``rho_0`` the simulation's mean at layer 0; ``None`` without a
        fixed point.
    metrics : tuple of str
        The metrics of the table.
    finite_width : FiniteWidthTrajectory or None
        The leading finite-width prediction at the network's widths
        (:func:`isoinit.theory.finite_width.finite_width`), when asked for
        (``compare(..., finite_width=True)``) and defined; ``finite_width_reason`` says why
        not otherwise.
    finite_width_reason : str
        Why there is no finite-width prediction (``""`` when there is one or none was asked for).
    rem : ndarray or None, shape (depth + 1,)
        For a network with bidirectional attention, Giorlandino and Goldt's large-``T``
        recursion of the tokens' correlation (:meth:`AttentionPrediction.rem`) from the
        simulation's mean absolute correlation at layer 0: the ``rem`` rows of the table,
        quantity ``mean_abs_corr``, beside the simulation's and the mean field's.
    prediction_reason : str
        Why there is no prediction (``""`` when there is one).
    """

    network: MLP | BlockNetwork
    simulation: Trajectory
    meanfield: MeanFieldTrajectory | None
    meanfield_reason: str
    prediction: Prediction | AttentionPrediction | None
    bound: _F | None = field(repr=False)
    correlation: _F | None = field(repr=False)
    metrics: tuple[str, ...] = ("gap",)
    finite_width: FiniteWidthTrajectory | None = field(default=None, repr=False)
    finite_width_reason: str = ""
    rem: _F | None = field(default=None, repr=False)
    prediction_reason: str = ""

    @property
    def mlp(self) -> MLP | BlockNetwork:
        """The old name of :attr:`network` (renamed in 0.2.0), kept as an alias."""
        return self.network

    def to_frame(self) -> pd.DataFrame:
        """One tidy table of simulation and theory, one row per (source, quantity, layer).

        Columns ``source`` (:data:`SOURCES`), ``quantity`` (a metric, ``potential`` for the
        bound, ``mean_abs_corr`` for the predicted correlation), ``statement`` (what the row
        is, in words), ``layer``, ``mean`` (the value for theory), ``std``, ``q10``, ``q90``
        (over runs; NaN for the infinite-width theory; for ``finite_width`` the predicted sd
        over networks and the Gaussian equivalent of the 10 % and 90 % quantiles,
        ``mean -/+ 1.28 sd``), ``runs`` (finite runs; 0 for theory), then the configuration
        (:data:`isoinit.results.CONFIG_FIELDS`).
        """
        parts = []
        for m in self.metrics:
            parts += self._metric_rows(m)
            if self.finite_width is not None:
                mean, sd = self.finite_width.mean(m), self.finite_width.sd(m)
                parts.append(
                    _rows(
                        "finite_width",
                        m,
                        "finite width: the leading 1/d prediction of the mean and sd over networks of the "
                        "given widths (isoinit.theory.finite_width); q10, q90 are mean -/+ 1.28 sd",
                        mean,
                        std=sd,
                        q10=mean - Z90 * sd,
                        q90=mean + Z90 * sd,
                    )
                )
        if self.bound is not None:
            anchor = "the mean field's" if self.meanfield is not None else "the simulation's mean"
            parts.append(
                _rows(
                    "bound",
                    "potential",
                    f"potential bound gamma(G^l) <= gamma(G^0) (2 - beta_0)^(-l), anchored on {anchor} layer 0",
                    self.bound,
                )
            )
        if self.correlation is not None and self.prediction is not None:
            parts.append(_rows("prediction", "mean_abs_corr", self.prediction.statement, self.correlation))
        if self.rem is not None:
            parts.append(self._rem_rows())
        df: pd.DataFrame = pd.concat(parts, ignore_index=True)
        if self.prediction_reason:
            df.attrs["prediction_reason"] = self.prediction_reason
        for key, value in config_columns(self.network).items():
            df[key] = value
        if self.meanfield is None:
            df.attrs["meanfield_reason"] = self.meanfield_reason
        if self.finite_width_reason:
            df.attrs["finite_width_reason"] = self.finite_width_reason
        return df

    def _metric_rows(self, m: str) -> list[pd.DataFrame]:
        """The simulation's rows of metric ``m`` and, where there is one, the mean field's."""
        s = summarize(self.simulation.output(m))
        rows = [
            _rows(
                "simulation",
                m,
                f"simulation: {self.simulation.runs} networks of the given widths; mean, std and 10%-90% quantiles "
                "over runs",
                s["mean"].to_numpy(),
                std=s["std"].to_numpy(),
                q10=s["q10"].to_numpy(),
                q90=s["q90"].to_numpy(),
                runs=s["runs"].to_numpy(),
            )
        ]
        if self.meanfield is not None:
            rows.append(
                _rows(
                    "meanfield",
                    m,
                    "mean field: the infinite-width Gram recursion (isoinit.meanfield.trajectory)",
                    self.meanfield.metrics[m],
                )
            )
        return rows

    def _rem_rows(self) -> pd.DataFrame:
        """The REM recursion, with the simulation's and mean field's token correlation if not already there."""
        assert self.rem is not None and isinstance(self.prediction, AttentionPrediction)
        parts = [] if "mean_abs_corr" in self.metrics else self._metric_rows("mean_abs_corr")
        parts.append(
            _rows(
                "rem",
                "mean_abs_corr",
                f"REM limit (Giorlandino and Goldt 2026, large T; T = {self.prediction.tokens}): one correlation "
                "for every pair of tokens, from the simulation's mean at layer 0",
                self.rem,
            )
        )
        return pd.concat(parts, ignore_index=True)

    def plot(self, ax: Any = None, *, metric: str | None = None, log: bool = True) -> Any:
        """Simulation (mean, 10%-90% band), mean field (dashed), theory (dotted); returns the axes.

        The potential bound is drawn with ``metric="potential"``, the predicted correlation
        (and for a network with attention the REM recursion) with ``metric="mean_abs_corr"``.
        With a finite-width prediction, its mean (dash-dotted) and band (``mean -/+ 1.28 sd``,
        hatched), and for the gap the closed-form plateau of :attr:`Prediction.plateau` (thin dotted) where it applies.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw (default: a new figure on the Agg backend).
        metric : str, optional
            One of :data:`isoinit.metrics.METRICS` (default: the first of :attr:`metrics`).
        log : bool
            Logarithmic y axis.
        """
        metric = self.metrics[0] if metric is None else check.choice("metric", metric, METRICS)
        log = check.boolean("log", log)
        ax = self.simulation.plot(metric, ax=ax, log=False, label=f"simulation ({self.simulation.runs} runs)")
        color = ax.get_lines()[-1].get_color()
        layers = np.arange(self.network.depth + 1)
        if self.meanfield is not None:
            ax.plot(layers, self.meanfield.metrics[metric], color=color, linestyle="--", label="mean field")
        theory = {"potential": self.bound, "mean_abs_corr": self.correlation}.get(metric)
        if theory is not None:
            what = "potential bound" if metric == "potential" else "predicted correlation"
            ax.plot(layers, theory, color=color, linestyle=":", linewidth=1.4, label=what)
        if metric == "mean_abs_corr" and self.rem is not None:
            ax.plot(layers, self.rem, color="0.35", linestyle=":", linewidth=1.4, label="REM limit (large T)")
        if self.finite_width is not None:
            mean, sd = self.finite_width.mean(metric), self.finite_width.sd(metric)
            ax.plot(layers, mean, color="0.25", linestyle="-.", linewidth=1.2, label="finite width (1/d)")
            ax.fill_between(
                layers,
                mean - Z90 * sd,
                mean + Z90 * sd,
                facecolor="none",
                edgecolor="0.25",
                hatch="////",
                linewidth=0.0,
                alpha=0.6,
            )
            plateau = self.prediction.plateau if isinstance(self.prediction, Prediction) else None
            if metric == "gap" and plateau is not None and np.isfinite(plateau):
                ax.axhline(plateau, color="0.25", linestyle=":", linewidth=0.9, label="plateau (n-1)/(2d(1-beta_0^2))")
        if log:
            ax.set_yscale("log")
        ax.set_title(self.network.label(), fontsize=8)
        ax.legend(fontsize=7)
        return ax


def _rows(source: str, quantity: str, statement: str, values: _F, **stats: Any) -> pd.DataFrame:
    n = np.asarray(values).shape[0]
    nan = np.full(n, np.nan)
    df: pd.DataFrame = pd.DataFrame(
        {
            "source": source,
            "quantity": quantity,
            "statement": statement,
            "layer": np.arange(n),
            "mean": np.asarray(values, dtype=np.float64),
            "std": stats.get("std", nan),
            "q10": stats.get("q10", nan),
            "q90": stats.get("q90", nan),
            "runs": stats.get("runs", np.zeros(n, dtype=np.int64)),
        }
    )
    return df


def _predicted_correlation(prediction: Prediction, rho0: float, depth: int) -> _F | None:
    fp = prediction.fixed_point
    if fp is None or not np.isfinite(rho0):
        return None
    layers = np.arange(depth + 1, dtype=np.float64)
    if fp.kind == "collapse-polynomial":
        dist = abs(rho0 - 1.0)
        return np.asarray(1.0 - dist / (layers * fp.a * dist + 1.0))
    return np.asarray(fp.rho_star + (rho0 - fp.rho_star) * fp.rate**layers)


def _metrics(metric: object) -> tuple[str, ...]:
    if isinstance(metric, str):
        return (check.choice("metric", metric, METRICS),)
    if not isinstance(metric, Iterable):
        raise TypeError(f"metric must be a metric name or a list of them; got {type(metric).__name__}")
    chosen = tuple(metric)
    for i, m in enumerate(chosen):
        check.choice(f"metric[{i}]", m, METRICS)
    if not chosen:
        raise ValueError("metric must name at least one metric; got an empty list")
    return chosen


@_renamed.keywords(net="network")
def compare(
    network: MLP | BlockNetwork,
    X: ArrayLike,
    *,
    runs: int = 10,
    seed: int = 0,
    metric: str | Iterable[str] = "gap",
    sampler: Sampler = "auto",
    threads: int | None = None,
    progress: bool | None = None,
    finite_width: bool = False,
) -> Comparison:
    """Simulate ``network`` on ``X`` and put the infinite-width theory beside it.

    Parameters
    ----------
    network : MLP or BlockNetwork
        The network (``net=``, its old keyword, is accepted too): an MLP, or a residual MLP,
        transformer or any block network (their mean field where one exists, and for a
        network with bidirectional attention the REM recursion of Giorlandino and Goldt).
    X : array_like, shape (n, d)
        The batch (as for :func:`isoinit.simulate`).
    runs, seed, sampler, threads, progress
        As for :func:`isoinit.simulate`.
    metric : str or list of str
        The metrics of the table (default ``"gap"``; any of :data:`isoinit.metrics.METRICS`).
    finite_width : bool
        Also compute the leading finite-width prediction at the network's widths
        (:func:`isoinit.theory.finite_width.finite_width` with ``2^14`` Monte Carlo columns and
        512 closure draws, ``FW_SAMPLES`` and ``FW_CLOSURE_SAMPLES`` of this module): about
        0.06 s a layer at ``n = 10`` (one core), against milliseconds for the rest, hence off
        by default. Where it is not defined (batch normalization, orthogonal weights) the
        comparison has none and says why.

    Returns
    -------
    Comparison
        With the simulation, the mean field (``None`` for batch normalization, with the
        reason), the prediction of :func:`isoinit.bounds.predict` for the batch's size (with
        the finite-width plateau where it applies), the potential bound where it applies
        (layer normalization after the activation, no bias), the predicted correlation curve
        where there is a fixed point, and the finite-width prediction if asked for.

    Examples
    --------
    >>> import isoinit
    >>> X = isoinit.inputs.degenerate(8, 200, 50, seed=0)
    >>> c = isoinit.compare(isoinit.MLP(10, 200, "tanh", "layer"), X, runs=4)
    >>> sorted(set(c.to_frame()["source"]))
    ['bound', 'meanfield', 'prediction', 'simulation']
    """
    check.instance("network", network, (MLP, BlockNetwork), "an isoinit.MLP or a block network")
    chosen = _metrics(metric)
    with_fw = check.boolean("finite_width", finite_width)
    sim = simulate(network, X, runs=runs, seed=seed, sampler=sampler, threads=threads, progress=progress)
    mf: MeanFieldTrajectory | None = None
    reason = ""
    try:
        mf = meanfield_trajectory(network, X)
    except ValueError as err:
        reason = str(err)
    fw: FiniteWidthTrajectory | None = None
    fw_reason = ""
    if with_fw:
        try:
            fw = finite_width_trajectory(network, X, samples=FW_SAMPLES, closure_samples=FW_CLOSURE_SAMPLES, seed=seed)
        except ValueError as err:
            fw_reason = str(err)
    prediction: Prediction | AttentionPrediction | None = None
    prediction_reason = ""
    try:
        prediction = predict(network, n=np.shape(X)[0])
    except (TypeError, ValueError) as err:  # no scalar map: a residual MLP, causal attention
        prediction_reason = str(err)
    bound = None
    if isinstance(prediction, Prediction) and prediction.potential_bound:
        bound = trajectory_potential_bound(mf if mf is not None else sim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rho0 = float(np.nanmean(sim.output("mean_abs_corr")[:, 0]))
    correlation = (
        _predicted_correlation(prediction, rho0, network.depth) if isinstance(prediction, Prediction) else None
    )
    rem = None
    if isinstance(prediction, AttentionPrediction) and np.isfinite(rho0):
        rem = prediction.rem(float(np.clip(rho0, 0.0, 1.0)))
    return Comparison(
        network, sim, mf, reason, prediction, bound, correlation, chosen, fw, fw_reason, rem, prediction_reason
    )
