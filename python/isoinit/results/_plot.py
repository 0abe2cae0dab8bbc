"""Quick plots of a result: a figure on the non-interactive backend and the runs of a metric with their band."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._summary import band

__all__ = ["new_figure", "plot_runs"]

_F = NDArray[np.float64]


def new_figure(ncols: int = 1, *, width: float = 4.2, height: float = 3.3) -> tuple[Any, Any]:
    """A figure with ``ncols`` axes side by side, on the non-interactive Agg backend.

    Parameters
    ----------
    ncols : int
        Number of axes.
    width, height : float
        Size of each axes' cell, in inches.

    Returns
    -------
    fig, axes
        The matplotlib figure and an array of its ``ncols`` axes.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False, layout="constrained")
    return fig, axes[0]


def plot_runs(
    ax: Any,
    values: _F,
    *,
    label: str,
    color: Any = None,
    layers: Any = None,
    linestyle: str = "-",
    marker: str | None = None,
) -> Any:
    """Plot the mean over runs (``values`` is ``runs x layers``) with a 10-90% band.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    values : ndarray
        A metric, ``(runs, layers)``.
    label : str
        The legend's label of the mean.
    color : optional
        A matplotlib color (the axes' next one by default).
    layers : array_like, optional
        The x values, ``(layers,)`` (``0, 1, ...`` by default).
    linestyle : str
        Line style of the mean.
    marker : str, optional
        Marker of the mean's points.

    Returns
    -------
    matplotlib.lines.Line2D
        The mean's line.
    """
    mean, lo, hi = band(np.atleast_2d(values))
    x = np.arange(mean.size) if layers is None else np.asarray(layers)
    (line,) = ax.plot(x, mean, label=label, color=color, linestyle=linestyle, marker=marker, markersize=3)
    if np.atleast_2d(values).shape[0] > 1:
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    return line
