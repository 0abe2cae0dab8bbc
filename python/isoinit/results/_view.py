"""The base of every result: typed metric access, summaries, files, plots, equality, pickling.

The simulator's :class:`~isoinit.Trajectory` and the mean field's
:class:`~isoinit.meanfield.MeanFieldTrajectory` derive from :class:`MetricsView`: one typed
property per metric of :data:`isoinit.metrics.METRICS`, ``summary()``
(:func:`~isoinit.results.summarize`), ``save`` and ``to_xarray`` (the store), ``plot``, an
array-aware ``==`` and pickling that survives the activation's Python function.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .. import _validate as check
from ..networks import MLP, BlockNetwork
from . import _store
from ._plot import new_figure, plot_runs
from ._summary import summarize

__all__ = ["MetricsView"]

_F = NDArray[np.float64]


class MetricsView:
    """Base of the result classes: typed access to their metric arrays, summaries,
    equality and pickling.

    A subclass is a frozen dataclass with at least the fields ``network`` (the
    :class:`~isoinit.MLP` or block network) and ``metrics`` (a dict from every name of
    :data:`isoinit.metrics.METRICS` to its array) and implements ``_outputs``.

    A result that holds only some metrics (a simulation with ``metrics=[...]``) has a field
    ``computed`` naming them; the other arrays are NaN and the typed properties refuse them.

    The metric arrays have shape ``(runs, depth + 1)`` in a simulated
    :class:`~isoinit.Trajectory` (``(runs, depth + 1, 3)`` with stages) and
    ``(depth + 1,)`` in a :class:`~isoinit.meanfield.MeanFieldTrajectory`; layer 0 is the
    input, layer ``l`` the output of block ``l``. Diverged values are NaN.

    Equality
        ``a == b`` is ``True`` when both are results of the same class whose fields are
        equal: the configurations by ``==``, every array element-wise with NaN equal to NaN
        (:func:`numpy.array_equal` with ``equal_nan=True``), so two simulations with the
        same configuration, batch and seed are equal and a different seed makes them
        unequal. Results hold mutable arrays, so they are not hashable.

    Pickling
        Results pickle and unpickle to an equal result, as their configuration does: an
        activation pickles by its definition (``isoinit.activations.Activation.__reduce__``:
        a built-in or ``heK`` by its spec, a Hermite-defined one by its coefficients), and one
        registered from a Python callable as that callable (which must pickle).
    """

    network: MLP | BlockNetwork
    metrics: dict[str, _F]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _store.register_result(cls)  # files name the result class; load() rebuilds it

    # --- the metrics of isoinit.metrics.METRICS, one typed property each ---------------

    @property
    def isometry(self) -> _F:
        """Isometry ``I(G) = det(G)^(1/n) / (tr G / n)`` in ``[0, 1]`` (Joudaki et al. 2023,
        eq. 1); 0 for a singular Gram. Shape: see :class:`MetricsView`."""
        return self._metric("isometry")

    @property
    def gap(self) -> _F:
        """Isometry gap ``-log I(G) = log mean(lambda) - mean(log lambda) >= 0``; ``+inf``
        for a singular Gram. Shape: see :class:`MetricsView`."""
        return self._metric("gap")

    @property
    def potential(self) -> _F:
        """Potential ``max_{i != j} |rho_ij| / (1 - |rho_ij|)`` (Joudaki et al. 2023,
        section 4); ``+inf`` when two rows are parallel. Shape: see :class:`MetricsView`."""
        return self._metric("potential")

    @property
    def effective_rank(self) -> _F:
        """Effective rank ``exp(entropy(lambda / sum lambda))`` in ``[1, n]``.
        Shape: see :class:`MetricsView`."""
        return self._metric("effective_rank")

    @property
    def stable_rank(self) -> _F:
        """Stable rank ``tr G / lambda_max`` in ``[1, n]``. Shape: see :class:`MetricsView`."""
        return self._metric("stable_rank")

    @property
    def mean_abs_corr(self) -> _F:
        """Mean of ``|rho_ij|`` over the off-diagonal correlations ``i != j``, in ``[0, 1]``.
        Shape: see :class:`MetricsView`."""
        return self._metric("mean_abs_corr")

    @property
    def max_abs_corr(self) -> _F:
        """Maximum of ``|rho_ij|`` over ``i != j``, in ``[0, 1]``.
        Shape: see :class:`MetricsView`."""
        return self._metric("max_abs_corr")

    @property
    def condition(self) -> _F:
        """Condition number ``lambda_max / lambda_min >= 1``; ``+inf`` for a singular Gram.
        Shape: see :class:`MetricsView`."""
        return self._metric("condition")

    @property
    def mlp(self) -> MLP | BlockNetwork:
        """The old name of :attr:`network` (renamed in 0.2.0), kept as an alias."""
        return self.network

    @property
    def depth(self) -> int:
        """Number of blocks ``L``."""
        return self.network.depth

    def _metric(self, name: str) -> _F:
        """The array of metric ``name``; :class:`ValueError` if the result did not compute it.

        A simulation run with ``metrics=[...]`` computes only those (see
        :func:`isoinit.simulate`); the others' arrays hold NaN, and reading them by name
        through the typed properties, :meth:`summary` or :meth:`plot` is refused.
        """
        computed = getattr(self, "computed", None)
        if computed is not None and name not in computed:
            asked = ", ".join(repr(m) for m in computed)
            raise ValueError(
                f"{name} was not computed: this result was simulated with metrics=[{asked}]; "
                f"pass metrics=[{asked}, {name!r}] (or metrics=None, every metric) to isoinit.simulate"
            )
        return self.metrics[name]

    # --- summaries ---------------------------------------------------------------------

    def _outputs(self, metric: str) -> _F:
        """``metric`` at the block outputs as ``(runs, depth + 1)``."""
        raise NotImplementedError

    def summary(self, metric: str = "gap") -> pd.DataFrame:
        """Per-layer mean, standard deviation, median and 10%/90% quantiles over runs of
        ``metric`` at the block outputs, with the number of runs that entered them.

        Only finite values enter the statistics: ``runs`` counts them, ``inf_runs`` counts
        the runs whose value is infinite at that layer (a singular Gram's gap), and runs that
        diverged (NaN) are left out from that layer on; see :func:`summarize`.

        Parameters
        ----------
        metric : str
            One of :data:`isoinit.metrics.METRICS`.

        Returns
        -------
        pandas.DataFrame
            One row per layer, the columns of :func:`summarize`.
        """
        return summarize(self._outputs(metric))

    # --- files -------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the result to ``path``: every array, the configuration and the provenance.

        ``.npz`` (NumPy, read without pickle) or ``.nc`` (NetCDF-4, needs
        ``pip install 'isoinit[xarray]'``), written atomically; :func:`isoinit.load` reads it
        back to an equal result.

        Parameters
        ----------
        path : str or os.PathLike
            Target file ending in ``.npz`` or ``.nc``; its directory must exist.
        overwrite : bool
            Replace an existing file (default: refuse with :class:`FileExistsError`).

        Returns
        -------
        pathlib.Path

        Raises
        ------
        FileExistsError
            If ``path`` exists and ``overwrite`` is false.
        ValueError
            For another suffix, or an activation defined by a Python callable (a file holds
            activations by spec or Hermite coefficients).
        """
        return _store.save(self, path, overwrite=overwrite)

    def to_xarray(self) -> Any:
        """The result as an :class:`xarray.Dataset` (needs ``pip install 'isoinit[xarray]'``).

        One variable per metric and array field, with dimensions ``run`` (simulations only),
        ``layer``, ``stage`` (with stages; coordinate :data:`isoinit.STAGES`) and ``row``,
        ``col`` for the Grams; ``diverged_at`` over ``run``. Attributes: ``isoinit`` (JSON of
        the configuration, provenance and other fields, as :meth:`save` stores them) and
        ``configuration`` (:meth:`isoinit.MLP.label`).
        """
        return _store.to_xarray(self)

    # --- plots -------------------------------------------------------------------------

    def _values(self, metric: str, stage: str | None) -> _F:
        """``metric`` as ``(runs, depth + 1)`` at the block outputs or at ``stage``."""
        if stage is not None:
            raise ValueError(f"stage must be None for a {type(self).__name__} (no stages); got {stage!r}")
        return self._outputs(metric)

    def plot(
        self,
        metric: str = "gap",
        stage: str | None = None,
        ax: Any = None,
        *,
        band: bool = True,
        log: bool | None = None,
        label: str | None = None,
    ) -> Any:
        """Plot ``metric`` against the layer; returns the matplotlib axes.

        A simulation draws the mean over runs (solid) with a 10%-90% band; the mean field
        its single curve, dashed. Diverged (NaN) and infinite values are left out.

        Parameters
        ----------
        metric : str
            One of :data:`isoinit.metrics.METRICS`.
        stage : str, optional
            A stage of :data:`isoinit.STAGES` (a simulation with ``stages=True``); default:
            the block output.
        ax : matplotlib.axes.Axes, optional
            Where to draw (default: a new figure on the Agg backend).
        band : bool
            Draw the 10%-90% band over runs.
        log : bool, optional
            Logarithmic y axis (default: when every finite value is positive).
        label : str, optional
            Legend label (default: the configuration's :meth:`isoinit.MLP.label`).
        """
        check.choice("metric", metric, tuple(self.metrics))
        band = check.boolean("band", band)
        values = np.atleast_2d(self._values(metric, stage))
        if ax is None:
            _, (ax,) = new_figure(width=5.0, height=3.6)
        elif not callable(getattr(ax, "plot", None)):
            raise TypeError(f"ax must be a matplotlib Axes (or None for a new figure); got {type(ax).__name__}")
        runs = values if band else np.nanmean(np.where(np.isfinite(values), values, np.nan), axis=0)[None, :]
        finite = np.where(np.isfinite(runs), runs, np.nan)
        meanfield = not hasattr(self, "runs")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            plot_runs(ax, finite, label=label or self.network.label(), linestyle="--" if meanfield else "-", color=None)
        if log is None:
            seen = finite[np.isfinite(finite)]
            log = bool(seen.size) and bool((seen > 0).all())
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("layer l")
        ax.set_ylabel(metric if stage is None else f"{metric} ({stage})")
        return ax

    # --- equality ----------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(_dc(self)))

    __hash__ = None  # type: ignore[assignment]  # equal results hold mutable arrays


def _dc(obj: object) -> Any:
    """``obj`` for :func:`dataclasses.fields` (every :class:`MetricsView` is a dataclass)."""
    return obj


def _same(a: object, b: object) -> bool:
    """Equality of result fields: dicts key by key, arrays element-wise with NaN == NaN."""
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or a.keys() != b.keys():
            return False
        return all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(a == b)
