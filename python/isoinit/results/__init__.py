"""Results and what every result shares: metric views, provenance, summaries, files and plots.

:class:`MetricsView` is the base of :class:`isoinit.Trajectory` (a simulation) and
:class:`isoinit.meanfield.MeanFieldTrajectory` (the infinite-width recursion);
:class:`Provenance` records what produced a result; :func:`summarize` and :func:`band` are
the statistics over runs that tables and plots use; :func:`load` reads a saved result.
"""

from __future__ import annotations

import os

from ._plot import new_figure, plot_runs
from ._provenance import CONFIG_FIELDS, Provenance, config_columns, describe_input
from ._store import load as _load
from ._summary import band, summarize
from ._view import MetricsView

__all__ = [
    "CONFIG_FIELDS",
    "MetricsView",
    "Provenance",
    "band",
    "config_columns",
    "describe_input",
    "load",
    "new_figure",
    "plot_runs",
    "summarize",
]


def __dir__() -> list[str]:
    return sorted(__all__)


def load(path: str | os.PathLike[str]) -> MetricsView:
    """Read a result written by :meth:`Trajectory.save` or :meth:`MeanFieldTrajectory.save`.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz`` file, or ``.nc`` (needs ``pip install 'isoinit[xarray]'``).

    Returns
    -------
    Trajectory or isoinit.meanfield.MeanFieldTrajectory
        Equal (``==``) to the result that was saved: every array, the configuration and
        the provenance.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If it is not an isoinit result file (another file, a damaged one, or a newer format).
    """
    result: MetricsView = _load(path)
    return result
