"""Infinite-width (mean-field) Gram trajectories of the networks :func:`isoinit.simulate` runs.

At infinite width every block maps the input Gram ``G`` (``n x n``, ``X X^T / d``) to the
output Gram deterministically, entry by entry: the pre-activations of one output feature are
``N(0, Sigma)`` with ``Sigma = gain^2 G + bias^2 11^T``, iid over features, so every row mean
and row mean square a normalization computes becomes a Gaussian expectation. This is the
mean-field recursion of Joudaki, Daneshmand and Bach (NeurIPS 2023, section 4 and appendix;
spec/theory.md section 4): with layer normalization after the activation each correlation
follows ``rho' = kbar(rho)``; without normalization it is the NNGP recursion with the
diagonal evolving by ``q' = E sigma(sqrt(q) z)^2``.

The input is scaled to rows of mean square 1, as in the simulator, so every Gram along the
trajectory has a constant diagonal ``q_l`` and one kernel table per block suffices.

Batch normalization has no entrywise infinite-width map (each entry depends on the whole
batch Gram): :func:`trajectory` refuses it; run :func:`isoinit.simulate` at large width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from .config import MLP
from .hermite import dual_kernel, moments
from .metrics import METRICS, gram_metrics
from .simulate import _check_x, mf_constants

__all__ = ["MeanFieldTrajectory", "block_map", "input_gram", "trajectory"]

_F = NDArray[np.float64]


@dataclass(frozen=True)
class MeanFieldTrajectory:
    """Infinite-width Gram matrices of a batch through an :class:`~isoinit.MLP`.

    The mean-field counterpart of :class:`isoinit.Trajectory`: the same metrics, computed by
    :func:`isoinit.metrics.gram_metrics` from the predicted Grams, with one value per layer
    (no runs axis: the infinite-width network is deterministic).

    Attributes
    ----------
    mlp : MLP
        The configuration (widths play no role).
    grams : ndarray, shape (depth + 1, n, n)
        ``G^0`` (the input with rows scaled to mean square 1, ``X X^T / d``) and the block
        outputs ``G^1..G^L``.
    metrics : dict of str to ndarray
        Every metric of :data:`isoinit.metrics.METRICS`, shape ``(depth + 1,)``; also
        available as attributes (``isometry``, ``gap``, ``potential``, ...).
    """

    mlp: MLP
    grams: _F = field(repr=False)
    metrics: dict[str, _F] = field(repr=False)

    def __getattr__(self, name: str) -> _F:
        metrics = self.__dict__.get("metrics")
        if metrics is not None and name in metrics:
            return metrics[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def depth(self) -> int:
        """Number of blocks ``L``."""
        return self.mlp.depth

    @property
    def isometry(self) -> _F:
        """Isometry ``I(G^l)`` per layer, shape ``(depth + 1,)``."""
        return self.metrics["isometry"]

    @property
    def gap(self) -> _F:
        """Isometry gap ``-log I(G^l)`` per layer."""
        return self.metrics["gap"]

    @property
    def potential(self) -> _F:
        """Potential ``gamma(G^l) = max |rho| / (1 - |rho|)`` per layer."""
        return self.metrics["potential"]

    @property
    def effective_rank(self) -> _F:
        """Effective rank per layer."""
        return self.metrics["effective_rank"]

    @property
    def correlations(self) -> _F:
        """Correlation matrices ``rho_ij = G_ij / sqrt(G_ii G_jj)``, shape ``(depth + 1, n, n)``."""
        d = np.sqrt(np.einsum("lii->li", self.grams))
        return np.asarray(self.grams / (d[:, :, None] * d[:, None, :]))

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per layer, columns ``layer``, every metric, ``source="meanfield"``."""
        layers = self.grams.shape[0]
        cols: dict[str, object] = {"layer": np.arange(layers)}
        cols.update({m: self.metrics[m] for m in METRICS})
        cols["source"] = "meanfield"
        return pd.DataFrame(cols)


def input_gram(X: ArrayLike) -> _F:
    """``G^0``: the Gram ``X X^T / d`` after scaling each row of ``X`` to mean square 1.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Rows are samples; finite, no all-zero row, ``n >= 2``.

    Returns
    -------
    ndarray, shape (n, n), unit diagonal
    """
    x = _check_x(X)
    x = x / np.sqrt(np.mean(x * x, axis=1, keepdims=True))
    g = x @ x.T / x.shape[1]
    g = 0.5 * (g + g.T)
    np.fill_diagonal(g, 1.0)
    return np.asarray(g)


def _check_supported(mlp: MLP) -> None:
    if not isinstance(mlp, MLP):
        raise ValueError(f"mlp must be an isoinit.MLP; got {type(mlp).__name__}")
    if mlp.centering == "batch" or mlp.scaling == "batch":
        raise ValueError(
            f"batch normalization (center={mlp.centering!r}, scale={mlp.scaling!r}) has no "
            "entrywise infinite-width map: every Gram entry depends on the whole batch Gram "
            "(spec/theory.md section 4). Use isoinit.simulate(mlp, X, runs=...) at a large "
            "width as its infinite-width limit."
        )


def _apply_kernel(kernel_gain: float, act_spec: object, r: _F) -> _F:
    """``kappa_s(r)`` on the strict upper triangle, mirrored; diagonal from ``r_ii = 1``."""
    n = r.shape[0]
    iu = np.triu_indices(n, 1)
    out = np.empty_like(r)
    vals = dual_kernel(act_spec, np.clip(r[iu], -1.0, 1.0), gain=kernel_gain)  # type: ignore[arg-type]
    out[iu] = vals
    out[iu[1], iu[0]] = vals
    np.fill_diagonal(out, moments(act_spec, kernel_gain).m2)  # type: ignore[arg-type]
    return out


def block_map(mlp: MLP, G: ArrayLike, layer: int = 1) -> _F:
    """One block's infinite-width map ``G^(l-1) -> G^l``.

    Pre-activation covariance ``Sigma = gain^2 G + bias^2`` (spec/theory.md section 2); with
    ``s^2 = Sigma_ii`` (the same for every sample) and ``r = Sigma / s^2``:

    ``act-norm``: ``K = kappa_s(r)`` (the dual kernel at gain ``s``, Joudaki et al. 2023,
    section 4), ``mu = E sigma(s z)``; centering subtracts ``m`` (layer: ``mu``, the
    infinite-width row mean; ``mf``: the constant ``c_0`` of
    :func:`isoinit.simulate.mf_constants`; none: 0), giving ``C = K - 2 m mu + m^2``;
    scaling divides by ``C_ii + eps`` (layer, the row mean square), by the ``mf`` constant
    squared, or not at all. Layer normalization thus gives ``kbar(r)`` and RMS normalization
    ``kappa(r) / E sigma^2``.

    ``norm-act``: the row mean of ``H`` over features vanishes at infinite width, so every
    centering is a no-op; scaling divides ``H`` by ``sqrt(s^2 + eps)`` (layer), the ``mf``
    constant, or 1, giving pre-activation variance ``p``, and ``G' = kappa_sqrt(p)(r)``.

    Parameters
    ----------
    mlp : MLP
        Batch centering or scaling is refused (``ValueError``).
    G : array_like, shape (n, n)
        Input Gram with a constant diagonal ``q > 0`` (as along any trajectory).
    layer : int
        Block index ``1..depth`` (selects the ``mf`` constants).

    Returns
    -------
    ndarray, shape (n, n)
    """
    _check_supported(mlp)
    g = np.asarray(G, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] != g.shape[1] or g.shape[0] < 2:
        raise ValueError(f"G must be a square (n, n) matrix with n >= 2; got shape {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError("G must be finite")
    if not 1 <= layer <= mlp.depth:
        raise ValueError(f"layer must be in [1, {mlp.depth}]; got {layer!r}")
    diag = np.diag(g)
    q = float(diag.mean())
    if not q > 0 or np.max(np.abs(diag - q)) > 1e-9 * q:
        raise ValueError(
            "G must have a constant positive diagonal (as every Gram along a trajectory from "
            f"rows of mean square 1); got diagonal from {diag.min():g} to {diag.max():g}"
        )
    gain2, bias2 = mlp.gain**2, mlp.bias**2
    s2 = gain2 * q + bias2
    r = (gain2 * g + bias2) / s2 if s2 > 0 else np.ones_like(g)
    act = mlp.act
    if mlp.order == "norm-act":
        if mlp.scaling == "layer":
            denom = s2 + mlp.eps
        elif mlp.scaling == "mf":
            denom = mf_constants(mlp)[1][layer - 1] ** 2
        else:
            denom = 1.0
        p = s2 / denom if denom > 0 else 0.0
        return _apply_kernel(math.sqrt(p), act, r)
    s = math.sqrt(s2)
    k = _apply_kernel(s, act, r)
    mu = moments(act, s).c0
    if mlp.centering == "layer":
        m = mu
    elif mlp.centering == "mf":
        m = mf_constants(mlp)[0][layer - 1]
    else:
        m = 0.0
    c = k - 2.0 * m * mu + m * m
    if mlp.scaling == "layer":
        c = c / (float(c[0, 0]) + mlp.eps)
    elif mlp.scaling == "mf":
        c = c / mf_constants(mlp)[1][layer - 1] ** 2
    return np.asarray(c)


def trajectory(mlp: MLP, X: ArrayLike) -> MeanFieldTrajectory:
    """Infinite-width Gram trajectory ``G^0..G^L`` of the batch ``X`` through ``mlp``.

    Applies :func:`block_map` ``depth`` times to :func:`input_gram` ``(X)`` (the mean-field
    recursion of Joudaki, Daneshmand and Bach 2023, section 4; NNGP recursion without
    normalization) and measures every Gram with :func:`isoinit.metrics.gram_metrics`, so the
    result compares directly with :func:`isoinit.simulate` at large width. Covers
    ``act-norm`` and ``norm-act`` with every centering and scaling except batch, any gain and
    bias; widths and the weight distribution do not matter at infinite width.

    Parameters
    ----------
    mlp : MLP
    X : array_like, shape (n, d)
        The batch (rows are samples, ``n >= 2``, no all-zero row).

    Returns
    -------
    MeanFieldTrajectory

    Raises
    ------
    ValueError
        For batch centering or scaling (no entrywise infinite-width map: use
        :func:`isoinit.simulate` at large width), or a bad ``X``.
    """
    _check_supported(mlp)
    g = input_gram(X)
    grams = np.empty((mlp.depth + 1, *g.shape))
    grams[0] = g
    for layer in range(1, mlp.depth + 1):
        g = block_map(mlp, g, layer)
        grams[layer] = g
    return MeanFieldTrajectory(mlp=mlp, grams=grams, metrics=gram_metrics(grams, gram=True))
