"""Infinite-width (mean-field) Gram trajectories of the networks :func:`isoinit.simulate` runs.

At infinite width every block maps the input Gram ``G`` (``n x n``, ``X X^T / d``) to the
output Gram deterministically, entry by entry: the pre-activations of one output feature are
``N(0, Sigma)`` with ``Sigma = gain^2 G + bias^2 11^T``, iid over features, so every row mean
and row mean square a normalization computes becomes a Gaussian expectation. This is the
mean-field recursion of Joudaki, Daneshmand and Bach (NeurIPS 2023, section 4 and appendix;
Theory §4): with layer normalization after the activation each correlation
follows ``rho' = kbar(rho)``; without normalization it is the NNGP recursion with the
diagonal evolving by ``q' = E sigma(sqrt(q) z)^2``.

The input is scaled to rows of mean square 1, as in the simulator, so every Gram along the
trajectory has a constant diagonal ``q_l`` and one kernel table per block suffices.

Residual MLPs (:class:`isoinit.ResidualMLP`, networks of feedforward blocks) follow
the same Gaussian expectations on the residual stream, whose Gram need not have a constant
diagonal and whose rows can have a mean over features; :func:`trajectory` tracks both
(Theory §6).

Batch normalization has no entrywise infinite-width map (each entry depends on the whole
batch Gram): :func:`trajectory` refuses it; run :func:`isoinit.simulate` at large width.
Neither has self-attention a deterministic one (its scores stay random as the head width
grows), nor GPT-2's width-independent initialization (its variance grows with the width).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from .. import _validate as check
from .._warnings import DivergenceWarning
from ..activations import Activation
from ..metrics import METRICS, _measure
from ..networks.blocks import Attention, BlockNetwork, Feedforward, TransformerBlock
from ..networks.mlp import MLP, NORM_PRESETS
from ..results import MetricsView, Provenance, config_columns, describe_input
from .hermite import Moments, dual_kernel, moments, nngp_kernel

__all__ = ["MeanFieldTrajectory", "block_map", "input_gram", "mf_constants", "trajectory"]


def __dir__() -> list[str]:
    return sorted(__all__)


_F = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class MeanFieldTrajectory(MetricsView):
    """Infinite-width Gram matrices of a batch through an :class:`~isoinit.MLP` or residual MLP.

    The mean-field counterpart of :class:`isoinit.Trajectory`: the same metrics, computed by
    :func:`isoinit.metrics.gram_metrics` from the predicted Grams, with one value per layer
    (no runs axis: the infinite-width network is deterministic).

    Attributes
    ----------
    mlp : MLP or BlockNetwork
        The configuration (widths play no role): an MLP or a network of feedforward blocks.
    grams : ndarray, shape (depth + 1, n, n)
        ``G^0`` (the input with rows scaled to mean square 1, ``X X^T / d``) and the block
        outputs ``G^1..G^L``.
    metrics : dict of str to ndarray
        Every metric of :data:`isoinit.metrics.METRICS`, shape ``(depth + 1,)``; also
        available as attributes (``isometry``, ``gap``, ``potential``, ...).
    diverged_at : int
        First layer at which the recursion broke down numerically (the variance overflowed,
        or the diagonal underflowed to 0, leaving the correlations undefined), -1 if never.
        From that layer on the Grams and every metric are NaN, as for a diverged run of
        :func:`isoinit.simulate` (:attr:`isoinit.Trajectory.diverged_at`).
    provenance : Provenance or None
        The input (shape and SHA-256 of the batch), ``sampler="meanfield"``, precision and
        package version (:class:`~isoinit.Provenance`).

    Notes
    -----
    ``summary(metric)`` gives the table of :meth:`isoinit.Trajectory.summary` with one run:
    ``mean == median == q10 == q90`` the value, ``std`` 0, ``runs`` 1 (0 where the value is
    infinite, ``inf_runs`` 1, or NaN after a breakdown). ``==`` compares the configuration,
    ``diverged_at`` and every array element-wise (NaN equal to NaN); results pickle (see
    :class:`~isoinit.results.MetricsView`).
    """

    mlp: MLP | BlockNetwork
    grams: _F = field(repr=False)
    metrics: dict[str, _F] = field(repr=False)
    diverged_at: int = -1
    provenance: Provenance | None = field(default=None, repr=False)

    @property
    def correlations(self) -> _F:
        """Correlation matrices ``rho_ij = G_ij / sqrt(G_ii G_jj)``, shape ``(depth + 1, n, n)``."""
        d = np.sqrt(np.einsum("lii->li", self.grams))
        return np.asarray(self.grams / (d[:, :, None] * d[:, None, :]))

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per layer.

        Columns ``layer``, every metric, ``source`` (``"meanfield"``), then the
        configuration (:data:`isoinit.results.CONFIG_FIELDS`, named as the ``MLP`` fields);
        ``df.attrs["isoinit"]`` holds the provenance.
        """
        layers = self.grams.shape[0]
        cols: dict[str, object] = {"layer": np.arange(layers)}
        cols.update({m: self.metrics[m] for m in METRICS})
        cols["source"] = "meanfield"
        cols.update(config_columns(self.mlp))
        df: pd.DataFrame = pd.DataFrame(cols)
        if self.provenance is not None:  # as for simulations and sweep tables
            df.attrs["isoinit"] = {"provenance": self.provenance.to_dict()}
        return df

    def _outputs(self, metric: str) -> _F:
        return self.metrics[metric][None, :]  # one "run": the deterministic infinite-width network


def mf_constants(mlp: MLP) -> tuple[list[float], list[float]]:
    """Per-block mean-field centering and scaling constants for ``center="mf"``/``scale="mf"``.

    ``act-norm``: the pre-activation of a block whose input rows have mean square 1 is
    ``N(0, s^2)`` at infinite width with ``s^2 = gain^2 + bias^2``, so the constants are
    ``c_0 = E sigma(s z)`` and ``sqrt(E sigma(s z)^2 - c_0^2)`` (Theory §2).
    ``norm-act``: normalization acts on ``H`` itself, whose infinite-width mean is 0 and
    mean square ``gain^2 q + bias^2`` with ``q = 1`` for the first block and
    ``q = E sigma(z)^2`` after a normalized block; the constants are 0 and its root.
    """
    depth, act = mlp.depth, mlp.act
    if mlp.centering != "mf" and mlp.scaling != "mf":
        return [], []
    if mlp.order == "act-norm":
        m = moments(act, gain=math.hypot(mlp.gain, mlp.bias))
        var = m.m2 - m.c0**2
        if not var > 0:
            raise ValueError(f"activation {act.name!r} is constant under N(0, 1): mf scaling would divide by 0")
        return [m.c0] * depth, [math.sqrt(var)] * depth
    q_later = moments(act, gain=1.0).m2
    scales = [math.sqrt(mlp.gain**2 * (1.0 if k == 0 else q_later) + mlp.bias**2) for k in range(depth)]
    if not all(s > 0 for s in scales):
        raise ValueError("mf scaling would divide by 0 (gain and bias are 0)")
    return [0.0] * depth, scales


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
    x = check.batch("X", X)
    x = x / np.sqrt(np.mean(x * x, axis=1, keepdims=True))
    g = x @ x.T / x.shape[1]
    g = 0.5 * (g + g.T)
    np.fill_diagonal(g, 1.0)
    return np.asarray(g)


def _check_supported(mlp: MLP) -> None:
    check.instance("mlp", mlp, MLP, "an isoinit.MLP")
    if mlp.centering == "batch" or mlp.scaling == "batch":
        raise ValueError(
            f"batch normalization (center={mlp.centering!r}, scale={mlp.scaling!r}) has no "
            "entrywise infinite-width map: every Gram entry depends on the whole batch Gram "
            "(Theory §4). Use isoinit.simulate(mlp, X, runs=...) at a large "
            "width as its infinite-width limit."
        )


#: A diagonal ``E (sigma - c)^2`` computed as ``E sigma^2 + c^2 - 2 c E sigma`` keeps about
#: ``-log10(x / scale)`` fewer digits than float64 has (cancellation): below ``sqrt(eps)`` of
#: the terms it is computed from, half the digits are gone and the correlations built on it
#: carry absolute errors above ``sqrt(eps)``, so the diagonal counts as 0 (underflowed).
_RESOLVED = math.sqrt(float(np.finfo(np.float64).eps))
_TINY = float(np.finfo(np.float64).tiny)


class _Breakdown(ArithmeticError):
    """The recursion left floating point: the diagonal overflowed or fell to 0."""


def _overflow(what: str, value: object = None) -> _Breakdown:
    shown = "" if value is None else f" ({value:.3g})" if isinstance(value, float) else f" ({value})"
    return _Breakdown(f"the variance overflowed: {what}{shown} is not a finite float64")


def _underflow(what: str, value: float, scale: float | None = None) -> _Breakdown:
    if scale is None or value < _TINY:
        how = f"{what} = {value:.3g} is below the smallest normal float64"
    else:
        how = (
            f"{what} = {value:.3g} is a difference of terms of size {scale:.3g} "
            "(E sigma^2 + c^2 - 2 c E sigma) and below sqrt(eps) of them, so it is 0 to float64 "
            "rounding"
        )
    return _Breakdown(f"the diagonal of the Gram underflowed to 0 ({how}), which leaves the correlations undefined")


def _moments(act: Activation, gain: float) -> Moments:
    try:
        return moments(act, gain)
    except OverflowError as err:
        raise _overflow(f"E sigma(s z)^2 at s = {gain:.3g}") from err


def _step(mlp: MLP, layer: int, q: float, rho: _F) -> tuple[float, _F]:
    """One block on the state ``(q, rho)``.

    The state is the common diagonal and the off-diagonal correlations (any shape). Returns
    the output's ``(q', rho')``; see :func:`block_map`.

    Raises :class:`_Breakdown` when the output's diagonal is not a finite positive float64
    (overflow, or underflow to 0 which leaves the correlations undefined).
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            q_out, rho_out = _step_raw(mlp, layer, q, rho)
        except OverflowError as err:
            raise _overflow("a kernel value") from err
        if not np.all(np.isfinite(rho_out)):
            raise _overflow("a correlation")
    return q_out, rho_out


def _scale_denominator(mlp: MLP, layer: int, mean_square: float) -> float:
    """Return what block ``layer``'s scaling divides the squared entries by, at infinite width.

    The mean square (plus ``eps``) for layer scaling, the squared mean-field constant for
    ``mf``, 1 for none.
    """
    if mlp.scaling == "layer":
        return mean_square + mlp.eps
    if mlp.scaling == "mf":
        return mf_constants(mlp)[1][layer - 1] ** 2
    return 1.0


def _step_raw(mlp: MLP, layer: int, q: float, rho: _F) -> tuple[float, _F]:
    gain2, bias2 = mlp.gain**2, mlp.bias**2
    s2 = gain2 * q + bias2
    if not math.isfinite(s2):
        raise _overflow("the pre-activation variance gain^2 q + bias^2")
    r = np.clip((gain2 * q * rho + bias2) / s2, -1.0, 1.0) if s2 > 0 else np.ones_like(rho)
    act = mlp.act
    if mlp.order == "norm-act":
        # the row mean of H over features is 0 at infinite width: centering is a no-op
        denom = _scale_denominator(mlp, layer, s2)
        p = math.sqrt(s2 / denom) if denom > 0 else 0.0
        k_diag = float(_moments(act, p).m2)
        if not math.isfinite(k_diag):
            raise _overflow("E sigma(p z)^2", k_diag)
        if not k_diag >= _TINY:
            raise _underflow("E sigma(p z)^2", k_diag)
        k = dual_kernel(act, r, gain=p)
        return k_diag, k / k_diag
    s = math.sqrt(s2)
    m = _moments(act, s)
    m2, c0 = float(m.m2), float(m.c0)
    if not (math.isfinite(m2) and math.isfinite(c0)):
        raise _overflow("E sigma(s z)^2", m2)
    if mlp.centering == "layer":
        center = c0  # the infinite-width row mean E sigma(h_i)
    elif mlp.centering == "mf":
        center = mf_constants(mlp)[0][layer - 1]
    else:
        center = 0.0
    shift = center * center - 2.0 * center * c0
    c_diag = m2 + shift  # E (sigma - center)^2, by cancellation when center != 0
    if not math.isfinite(c_diag):
        raise _overflow("E (sigma(s z) - c)^2", c_diag)
    scale = m2 + center * center + 2.0 * abs(center * c0)
    if not (c_diag >= _TINY and c_diag > _RESOLVED * scale):
        raise _underflow("E (sigma(s z) - c)^2", c_diag, scale)
    q_out = c_diag / _scale_denominator(mlp, layer, c_diag)
    if not math.isfinite(q_out):
        raise _overflow("the diagonal q", q_out)
    if not q_out >= _TINY:
        raise _underflow("the diagonal q", q_out)
    c = dual_kernel(act, r, gain=s) + shift
    return q_out, np.clip(c / c_diag, -1.0, 1.0)


def _assemble(q: float, rho: _F, n: int, out: _F | None = None) -> _F:
    """The Gram ``q * R`` from the strict upper triangle ``rho`` of the correlations ``R``."""
    g = np.empty((n, n)) if out is None else out
    flat = g.reshape(-1)
    upper, lower = _triangle(n)
    v = q * rho
    flat[upper] = v
    flat[lower] = v
    flat[:: n + 1] = q
    return g


@lru_cache(maxsize=8)
def _triangle(n: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    i, j = np.triu_indices(n, 1)
    return i * n + j, j * n + i


def block_map(mlp: MLP, G: ArrayLike, layer: int = 1) -> _F:
    """One block's infinite-width map ``G^(l-1) -> G^l``.

    Pre-activation covariance ``Sigma = gain^2 G + bias^2`` (Theory §2); with
    ``s^2 = Sigma_ii`` (the same for every sample) and ``r = Sigma / s^2``:

    ``act-norm``: ``K = kappa_s(r)`` (the dual kernel at gain ``s``, Joudaki et al. 2023,
    section 4), ``mu = E sigma(s z)``; centering subtracts ``m`` (layer: ``mu``, the
    infinite-width row mean; ``mf``: the constant ``c_0`` of
    :func:`mf_constants`; none: 0), giving ``C = K - 2 m mu + m^2``;
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
        Input Gram with a constant diagonal ``q > 0`` (as along any trajectory), finite.
    layer : int
        Block index ``1..depth`` (selects the ``mf`` constants).

    Returns
    -------
    ndarray, shape (n, n)
        All NaN (with a :class:`~isoinit.DivergenceWarning`) when the map breaks down
        numerically: the output's variance overflows, or its diagonal underflows to 0.

    Raises
    ------
    TypeError
        If ``mlp`` is not an :class:`~isoinit.MLP`, ``G`` is not made of real numbers or
        ``layer`` is not an integer.
    ValueError
        For batch normalization, a ``G`` that is not a finite square matrix with ``n >= 2``
        and a constant positive diagonal, or ``layer`` outside ``[1, depth]``.
    """
    _check_supported(mlp)
    g = check.array("G", G, ndim=2)
    if g.shape[0] != g.shape[1] or g.shape[0] < 2:
        raise ValueError(f"G must be a square (n, n) matrix with n >= 2; got shape {g.shape}")
    layer = check.integer("layer", layer, 1, mlp.depth)
    diag = np.diag(g)
    q = float(diag.mean())
    if not q > 0 or np.max(np.abs(diag - q)) > 1e-9 * q:
        raise ValueError(
            "G must have a constant positive diagonal (as every Gram along a trajectory from "
            f"rows of mean square 1); got diagonal from {diag.min():g} to {diag.max():g}"
        )
    n = g.shape[0]
    iu = np.triu_indices(n, 1)
    try:
        q_out, rho = _step(mlp, layer, q, np.clip(g[iu] / q, -1.0, 1.0))
    except _Breakdown as err:
        warnings.warn(
            f"mean-field block_map broke down numerically at layer {layer} ({mlp.label()}): {err}; "
            "the output Gram is NaN",
            DivergenceWarning,
            stacklevel=2,
        )
        return np.full((n, n), np.nan)
    return _assemble(q_out, rho, n)


def _grams(mlp: MLP, X: ArrayLike) -> tuple[_F, int, str]:
    """``G^0..G^L`` by iterating :func:`_step` on the off-diagonal correlations.

    NaN from the layer where the recursion broke down, returned with that layer and the
    reason (-1 and "" if never).
    """
    _check_supported(mlp)
    g0 = input_gram(X)
    n = g0.shape[0]
    grams = np.full((mlp.depth + 1, n, n), np.nan)
    grams[0] = g0
    q, rho = 1.0, g0.reshape(-1)[_triangle(n)[0]]
    for layer in range(1, mlp.depth + 1):
        try:
            q, rho = _step(mlp, layer, q, rho)
        except _Breakdown as err:
            return grams, layer, str(err)
        _assemble(q, rho, n, out=grams[layer])
    return grams, -1, ""


# ---------------------------------------------------------------------------------------
# block networks: residual MLPs
# ---------------------------------------------------------------------------------------

#: Why an attention block has no deterministic infinite-width map (Theory §6).
_ATTENTION_REASON = (
    "self-attention has no deterministic infinite-width limit: with scores Q K^T / sqrt(d_h), "
    "every score is a sum of d_h independent products scaled by 1/sqrt(d_h), so it stays "
    "Gaussian with O(1) variance as d_h -> infinity and the attention matrix (hence the "
    "output Gram) stays random; with 1/d_h scaling the scores tend to 0 and attention becomes "
    "uniform averaging over the tokens, which is not the block the simulator runs"
)


def _check_network(net: BlockNetwork) -> None:
    """Refuse what has no deterministic, width-independent infinite-width map."""
    for i, b in enumerate(net.blocks_()):
        if isinstance(b, (Attention, TransformerBlock)):
            kind = "an attention block" if isinstance(b, Attention) else "a transformer block (attention + MLP)"
            raise ValueError(
                f"the mean field of a {net.architecture} is not defined: block {i} is {kind}, and "
                f"{_ATTENTION_REASON} (Theory §6). Use isoinit.simulate(net, X, runs=...) at a large "
                "width instead."
            )
    if net.init != "gaussian":
        raise ValueError(
            f"the mean field needs init='gaussian' (weights N(0, gain^2 / d_in)); got init={net.init!r}: "
            "GPT-2's weights N(0, 0.02^2) do not scale with the width, so the pre-activation variance "
            "0.02^2 d_in grows without bound as d_in -> infinity and there is no infinite-width limit. "
            "Use isoinit.simulate(net, X, runs=...) at the width of interest."
        )
    for i, b in enumerate(net.blocks_()):
        if b.norm == "batch" and b.position != "none":
            raise ValueError(
                f"batch normalization (block {i}) has no entrywise infinite-width map: every Gram "
                "entry depends on the whole batch Gram (Theory §4). Use "
                "isoinit.simulate(net, X, runs=...) at a large width as its infinite-width limit."
            )


def _snap(v: _F) -> _F:
    """Variances equal to rounding (1e-12 relative) made exactly equal.

    The kernels are then read from one cached table instead of integrated pair by pair
    (the change is below the kernels' own accuracy, 1e-12).
    """
    mean = float(v.mean())
    if mean > 0 and float(np.max(np.abs(v - mean))) <= 1e-12 * mean:
        return np.full_like(v, mean)
    return v


def _gauss(act: Activation, sigma: _F) -> tuple[_F, _F]:
    """``mu_i = E sigma(u_i)`` and ``S_ij = E sigma(u_i) sigma(u_j)`` for ``u ~ N(0, Sigma)``.

    The diagonal and the means from :func:`~isoinit.hermite.moments` (a zero variance gives
    ``sigma(0)`` and ``sigma(0)^2`` exactly), the off-diagonal entries from
    :func:`~isoinit.hermite.nngp_kernel` (unequal variances allowed: a non-constant diagonal
    costs a 2-D quadrature per pair for activations without a closed-form kernel).
    """
    n = sigma.shape[0]
    var = np.diag(sigma).copy()
    if not np.all(np.isfinite(var)):
        raise _overflow("the pre-activation variance gain^2 K + bias^2")
    var = _snap(np.maximum(var, 0.0))
    s = np.sqrt(var)
    mus, m2s = np.empty(n), np.empty(n)
    for row, si in enumerate(s):
        if si == 0.0:
            mus[row] = float(act(np.zeros(1))[0])
            m2s[row] = mus[row] * mus[row]
        else:
            m = _moments(act, float(si))
            mus[row], m2s[row] = m.c0, m.m2
    i, j = np.triu_indices(n, 1)
    den = s[i] * s[j]
    r = np.clip(np.divide(sigma[i, j], den, out=np.ones_like(den), where=den > 0), -1.0, 1.0)
    try:
        vals = nngp_kernel(act, var[i], var[j], r)
    except OverflowError as err:
        raise _overflow("a kernel value") from err
    out = np.empty((n, n))
    out[i, j] = vals
    out[j, i] = vals
    out[np.arange(n), np.arange(n)] = m2s
    return mus, out


class _Stream:
    """The infinite-width state of a residual stream.

    ``c``: the centered Gram ``(X - m 1^T)(X - m 1^T)^T / d``; ``m``: the rows' means over
    features; ``diag``: the diagonal of the full Gram ``K = c + m m^T`` where a scaling made
    it exact (1 after layer or RMS scaling without ``eps``), else None. Keeping the centered
    Gram (rather than ``K``) spares the cancellation ``K - m m^T`` of layer centering, so a
    row that centering makes exactly zero stays zero, as in the simulator.
    """

    __slots__ = ("c", "diag", "m")

    def __init__(self, c: _F, m: _F, diag: _F | None = None) -> None:
        self.c, self.m, self.diag = c, m, diag

    def gram(self) -> _F:
        """The full Gram ``K = c + m m^T`` (symmetric; the exact diagonal where known)."""
        k: _F = self.c + np.outer(self.m, self.m)
        k = 0.5 * (k + k.T)
        if self.diag is not None:
            idx = np.arange(len(self.m))
            k[idx, idx] = self.diag
        return k


def _normalize(norm: str, eps: float, x: _Stream) -> _Stream:
    """A block's norm on the stream's state.

    Layer centering: ``m = 0`` (the centered Gram is unchanged). Layer scaling:
    ``c -> D^(-1/2) c D^(-1/2)`` and ``m -> D^(-1/2) m`` with ``D = diag(c) + m^2 + eps`` the
    rows' mean squares plus ``eps`` (a zero row stays zero, as in the simulator).
    """
    center, scale = NORM_PRESETS[norm]
    c, m, diag = x.c, x.m, x.diag
    if center == "layer":
        m, diag = np.zeros_like(m), None
    if scale == "layer":
        ms = np.diag(c) + m * m
        den = ms + eps
        f = np.divide(1.0, np.sqrt(den), out=np.zeros_like(den), where=den > 0)
        c, m = c * np.outer(f, f), m * f
        diag = np.divide(ms, den, out=np.zeros_like(den), where=den > 0)  # exactly 1 when eps = 0
    return _Stream(c, m, diag)


def _feedforward(net: BlockNetwork, b: Feedforward, x: _Stream) -> _Stream:
    """One :class:`~isoinit.blocks.Feedforward` block on the stream's state; see :func:`trajectory`."""
    normed = b.position != "none"
    u = _normalize(b.norm, net.eps, x) if normed and b.position == "pre" else x
    gain2, bias2 = net.gain**2, net.bias**2
    mu, hidden = _gauss(net.act, gain2 * u.gram() + bias2)
    if b.one_layer:  # f(U) = sigma(Lin(U)): row i has the mean mu_i over features
        cf, mf = hidden - np.outer(mu, mu), mu
    else:  # f(U) = Lin2(sigma(Lin1(U))): centered, Gram gain^2 E[sigma sigma] + bias^2
        cf, mf = gain2 * hidden + bias2, np.zeros_like(mu)
    if b.residual:  # the centered parts of X and f are uncorrelated
        a = net._resolved_alpha(b.alpha)
        out = _Stream(x.c + (a * a) * cf, x.m + a * mf)
    else:
        out = _Stream(cf, mf)
    if normed and b.position == "post":
        out = _normalize(b.norm, net.eps, out)
    return out


def _network_grams(net: BlockNetwork, X: ArrayLike) -> tuple[_F, int, str]:
    """``G^0..G^L`` of a network of feedforward blocks; NaN from a breakdown, as :func:`_grams`."""
    _check_network(net)
    x = check.batch("X", X)
    x = x / np.sqrt(np.mean(x * x, axis=1, keepdims=True))
    m = x.mean(axis=1)
    xc = x - m[:, None]
    state = _Stream(xc @ xc.T / x.shape[1], m)
    k = input_gram(X)  # (as for the MLP: the same G^0 bit for bit)
    n = k.shape[0]
    grams = np.full((net.depth + 1, n, n), np.nan)
    grams[0] = k
    for layer, b in enumerate(net.blocks_(), start=1):
        assert isinstance(b, Feedforward)  # _check_network refused the others
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                try:
                    state = _feedforward(net, b, state)
                except OverflowError as err:
                    raise _overflow("a kernel value") from err
                k = state.gram()
            if not (np.all(np.isfinite(k)) and np.all(np.isfinite(state.m))):
                raise _overflow("a Gram entry")
            low = float(np.min(np.diag(k)))
            if not low >= _TINY:
                raise _underflow("a diagonal entry of the Gram", low)
        except _Breakdown as err:
            return grams, layer, str(err)
        grams[layer] = k
    return grams, -1, ""


def trajectory(mlp: MLP | BlockNetwork, X: ArrayLike) -> MeanFieldTrajectory:
    """Infinite-width Gram trajectory ``G^0..G^L`` of the batch ``X`` through ``mlp``.

    For an :class:`~isoinit.MLP`, applies :func:`block_map` ``depth`` times to
    :func:`input_gram` ``(X)`` (the mean-field recursion of Joudaki, Daneshmand and Bach
    2023, section 4; NNGP recursion without normalization). Covers ``act-norm`` and
    ``norm-act`` with every centering and scaling except batch, any gain and bias.

    For a residual MLP (:class:`~isoinit.ResidualMLP`, or a
    :class:`~isoinit.Network` of :class:`~isoinit.blocks.Feedforward` blocks), iterates
    the block map on the state ``(K, m)``: the Gram ``K = X X^T / d`` and the rows' means
    over features ``m_i`` (which the input may have, and which the one-layer form
    ``sigma(Lin(U))`` adds; layer centering removes them, so the Gram alone does not
    determine the next one). With ``Sigma = gain^2 Norm(K) + bias^2`` the branch input's
    pre-activation covariance, ``mu_i = E sigma(u_i)`` and ``S_ij = E sigma(u_i) sigma(u_j)``
    for ``u ~ N(0, Sigma)``, the branch ``f`` has mean ``mu_f`` and Gram ``K_f``:
    ``mu_f = mu``, ``K_f = S`` (one-layer form) or ``mu_f = 0``,
    ``K_f = gain^2 S + bias^2`` (``Lin2 sigma Lin1``, any hidden ratio). Then

    - pre-norm: ``K' = K + alpha (m mu_f^T + mu_f m^T) + alpha^2 K_f``,
      ``m' = m + alpha mu_f``, with ``f`` applied to ``Norm(K, m)``;
    - post-norm: the same with ``f`` applied to ``(K, m)``, then ``Norm``;
    - no norm: the same without ``Norm``; without the residual sum ``(K', m') = (K_f, mu_f)``.

    ``Norm``: layer centering ``K - m m^T``, ``m = 0``; layer scaling ``D^(-1/2) K D^(-1/2)``,
    ``D^(-1/2) m``, ``D = diag(K) + eps`` (layer norm both, RMS norm the scaling, ``center``
    the centering). Cross terms between the stream and the branch's centered part vanish
    because the branch's last weights are independent and centered (Theory §6). The
    recursion runs on the centered Gram ``K - m m^T``, so centering involves no cancellation:
    a row it makes exactly zero stays zero, as in the simulator.

    Every Gram is measured with :func:`isoinit.metrics.gram_metrics`, so the result compares
    directly with :func:`isoinit.simulate` at large width; widths, the hidden ratio and the
    weight distribution (Gaussian or orthogonal) do not matter at infinite width.

    Parameters
    ----------
    mlp : MLP or BlockNetwork
        An MLP, a :class:`~isoinit.ResidualMLP` or a :class:`~isoinit.Network`
        of feedforward blocks with ``init="gaussian"``.
    X : array_like, shape (n, d)
        The batch (rows are samples, ``n >= 2``, no all-zero row).

    Returns
    -------
    MeanFieldTrajectory

    Raises
    ------
    TypeError
        If ``mlp`` is not an :class:`~isoinit.MLP` or block network, or ``X`` is not made of
        real numbers.
    ValueError
        For batch centering or scaling (no entrywise infinite-width map: use
        :func:`isoinit.simulate` at large width); for attention and transformer blocks
        (attention has no deterministic infinite-width limit); for ``init="gpt2"`` (its
        weights do not scale with the width, so the limit diverges); or a bad ``X``.

    Warns
    -----
    DivergenceWarning
        When the recursion breaks down numerically (the variance overflows, e.g. ``exp``
        without scaling, or the diagonal underflows to 0, e.g. ``sigmoid`` centered without
        scaling); :attr:`MeanFieldTrajectory.diverged_at` says where, and the Grams and
        metrics are NaN from there on.

    Notes
    -----
    A non-constant diagonal (a residual stream without scaling, e.g. ``norm="center"`` or
    ``"none"``, on rows of different means) needs a two-dimensional quadrature per pair of
    samples and layer for activations without a closed-form kernel: about 2-40 ms each.
    """
    if isinstance(mlp, BlockNetwork):
        grams, diverged_at, reason = _network_grams(mlp, X)
    else:
        grams, diverged_at, reason = _grams(mlp, X)
    if diverged_at >= 0:
        warnings.warn(
            f"the mean-field trajectory broke down numerically at layer {diverged_at} "
            f"({mlp.label()}): {reason}; its Grams and metrics from that layer on are NaN "
            "(see MeanFieldTrajectory.diverged_at)",
            DivergenceWarning,
            stacklevel=2,
        )
    prov = Provenance(describe_input(check.array("X", X, ndim=2)), sampler="meanfield")
    return MeanFieldTrajectory(mlp=mlp, grams=grams, metrics=_measure(grams), diverged_at=diverged_at, provenance=prov)
