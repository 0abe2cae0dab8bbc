"""Statistics over runs: per-layer summaries and the band the plots draw."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

__all__ = ["band", "summarize"]

_F = NDArray[np.float64]


def band(values: _F) -> tuple[_F, _F, _F]:
    """Mean and a 10%-90% quantile band over runs (axis 0), ignoring NaN (diverged runs).

    Parameters
    ----------
    values : ndarray
        A metric, ``(runs, layers)``.

    Returns
    -------
    mean, q10, q90 : ndarray
        ``(layers,)`` each.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=0)
        lo = np.nanquantile(values, 0.1, axis=0)
        hi = np.nanquantile(values, 0.9, axis=0)
    return mean, lo, hi


def summarize(values: ArrayLike) -> pd.DataFrame:
    """Per-layer statistics over runs of a metric array of shape ``(runs, layers)``.

    Each run's value at a layer is one of three kinds, and the rule is:

    - **finite**: enters every statistic; ``runs`` counts these values;
    - **infinite** (``+inf``: the gap and the condition number of a singular Gram, the
      potential of two parallel rows): counted in ``inf_runs`` and left out of every
      statistic, so the mean and standard deviation never become ``inf`` silently;
    - **NaN** (a run that diverged at or before that layer): left out and not counted.

    So ``runs + inf_runs`` plus the diverged runs is the number of runs at every layer.
    A layer without a finite value has NaN statistics (and ``runs == 0``).

    Parameters
    ----------
    values : array_like
        A metric, ``(runs, layers)``.

    Returns
    -------
    pandas.DataFrame
        One row per layer; columns ``layer``, ``mean``, ``std`` (population, ``ddof=0``),
        ``median``, ``q10``, ``q90`` (10% and 90% quantiles, linear interpolation),
        ``runs`` and ``inf_runs``.
    """
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"values must be 2-D (runs, layers); got shape {a.shape}")
    finite = np.isfinite(a)
    kept = np.where(finite, a, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # layers without a finite value
        df: pd.DataFrame = pd.DataFrame(
            {
                "layer": np.arange(a.shape[1]),
                "mean": np.nanmean(kept, axis=0),
                "std": np.nanstd(kept, axis=0),
                "median": np.nanmedian(kept, axis=0),
                "q10": np.nanquantile(kept, 0.1, axis=0),
                "q90": np.nanquantile(kept, 0.9, axis=0),
                "runs": np.sum(finite, axis=0),
                "inf_runs": np.sum(np.isinf(a), axis=0),
            }
        )
        return df
