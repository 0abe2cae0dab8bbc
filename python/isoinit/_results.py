"""What every result of isoinit shares: summaries of a metric over runs.

The simulator's :class:`~isoinit.Trajectory`, the mean field's
:class:`~isoinit.meanfield.MeanFieldTrajectory`, the figures and the command line all
summarize a ``runs x layers`` metric array the same way, through these helpers.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray

__all__ = ["band"]

_F = NDArray[np.float64]


def band(values: _F) -> tuple[_F, _F, _F]:
    """Mean and a 10%-90% quantile band over runs (axis 0), ignoring NaN (diverged runs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=0)
        lo = np.nanquantile(values, 0.1, axis=0)
        hi = np.nanquantile(values, 0.9, axis=0)
    return mean, lo, hi
