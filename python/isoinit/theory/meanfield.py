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

Self-attention's limit is deterministic but not entrywise: its scores stay Gaussian and
random as the head width grows, and the output Gram is their expectation
``E_S[softmax(S) K_V softmax(S)^T]`` (Hron et al. 2020), which :func:`trajectory` computes by
Monte Carlo with a stated standard error (Theory §6; under ``1/d_h`` scores, in closed form).

Batch normalization has no entrywise infinite-width map (each entry depends on the whole
batch Gram): :func:`trajectory` refuses it; run :func:`isoinit.simulate` at large width.
Neither has GPT-2's width-independent initialization (its variance grows with the width).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from .. import _renamed
from .. import _validate as check
from .._warnings import DivergenceWarning
from ..metrics import METRICS, _measure, gram
from ..networks.blocks import BlockNetwork
from ..networks.mlp import MLP
from ..results import MetricsView, Provenance, config_columns, describe_input
from ._attention import SAMPLES, MonteCarloGrams, monte_carlo_grams
from ._block_recursion import _check_network
from ._breakdown import _ENDS
from ._mf_constants import mf_constants
from ._mlp_recursion import _assemble, _check_supported, _mlp_grams, _step

__all__ = ["MeanFieldTrajectory", "block_map", "input_gram", "mf_constants", "trajectory"]


def __dir__() -> list[str]:
    return sorted(__all__)


_F = NDArray[np.float64]


@_renamed.fields(mlp="network")
@dataclass(frozen=True, eq=False)
class MeanFieldTrajectory(MetricsView):
    """Infinite-width Gram matrices of a batch through an :class:`~isoinit.MLP` or block network.

    The mean-field counterpart of :class:`isoinit.Trajectory`: the same metrics, computed by
    :func:`isoinit.metrics.gram_metrics` from the predicted Grams, with one value per layer
    (no runs axis: the infinite-width network is deterministic).

    Attributes
    ----------
    network : MLP or BlockNetwork
        The configuration (widths play no role): an MLP or a block network (``mlp`` is its
        old name, kept as an alias).
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
    samples : int
        Draws of the attention scores per attention block behind the Grams (0: no Monte Carlo;
        a network without attention, or attention with ``1/d_h`` scores, is exact).
    stderr : ndarray, shape (depth + 1, n, n), or None
        The Monte Carlo standard error of every Gram entry (the spread of independent replicas
        of the whole recursion, so it includes the propagation of earlier blocks' errors);
        None without Monte Carlo.
    metric_stderr : dict of str to ndarray, or None
        The same for every metric, shape ``(depth + 1,)`` (NaN where a replica's value is
        infinite).

    Notes
    -----
    ``summary(metric)`` gives the table of :meth:`isoinit.Trajectory.summary` with one run:
    ``mean == median == q10 == q90`` the value, ``std`` 0, ``runs`` 1 (0 where the value is
    infinite, ``inf_runs`` 1, or NaN after a breakdown). ``==`` compares the configuration,
    ``diverged_at`` and every array element-wise (NaN equal to NaN); results pickle (see
    :class:`~isoinit.results.MetricsView`).
    """

    network: MLP | BlockNetwork
    grams: _F = field(repr=False)
    metrics: dict[str, _F] = field(repr=False)
    diverged_at: int = -1
    provenance: Provenance | None = field(default=None, repr=False)
    samples: int = 0
    stderr: _F | None = field(default=None, repr=False)
    metric_stderr: dict[str, _F] | None = field(default=None, repr=False)

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
        cols.update(config_columns(self.network))
        df: pd.DataFrame = pd.DataFrame(cols)
        if self.provenance is not None:  # as for simulations and sweep tables
            df.attrs["isoinit"] = {"provenance": self.provenance.to_dict()}
        return df

    def _outputs(self, metric: str) -> _F:
        return self.metrics[metric][None, :]  # one "run": the deterministic infinite-width network


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
    g = gram(x)  # the kernel's: the same bits on every CPU for n < 16
    np.fill_diagonal(g, 1.0)
    return np.asarray(g)


@_renamed.keywords(mlp="network")
def block_map(network: MLP, G: ArrayLike, layer: int = 1) -> _F:
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
    network : MLP
        Batch centering or scaling is refused (``ValueError``). ``mlp=``, its old keyword,
        is accepted too.
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
        If ``network`` is not an :class:`~isoinit.MLP`, ``G`` is not made of real numbers or
        ``layer`` is not an integer.
    ValueError
        For batch normalization, a ``G`` that is not a finite square matrix with ``n >= 2``
        and a constant positive diagonal, or ``layer`` outside ``[1, depth]``.
    """
    _check_supported(network)
    g = check.array("G", G, ndim=2)
    if g.shape[0] != g.shape[1] or g.shape[0] < 2:
        raise ValueError(f"G must be a square (n, n) matrix with n >= 2; got shape {g.shape}")
    layer = check.integer("layer", layer, 1, network.depth)
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
        q_out, rho = _step(network, layer, q, np.clip(g[iu] / q, -1.0, 1.0))
    except _ENDS as err:
        warnings.warn(
            f"mean-field block_map broke down numerically at layer {layer} ({network.label()}): {err}; "
            "the output Gram is NaN",
            DivergenceWarning,
            stacklevel=2,
        )
        return np.full((n, n), np.nan)
    return _assemble(q_out, rho, n)


def _grams(mlp: MLP, X: ArrayLike) -> tuple[_F, int, str]:
    """``G^0..G^L`` of an MLP, NaN from a breakdown, with its layer and reason (-1, "" if none)."""
    _check_supported(mlp)
    if mlp.input_norm == "rows":
        return _mlp_grams(mlp, input_gram(X))
    g = gram(check.batch("X", X))  # the input as given: its rows must share one mean square
    q = float(np.mean(np.diag(g)))
    if not q > 0 or np.max(np.abs(np.diag(g) - q)) > 1e-9 * q:
        raise ValueError(
            "the mean field of an MLP with input_norm='none' needs rows of equal mean square (its "
            "recursion tracks one variance for every sample); got mean squares from "
            f"{np.diag(g).min():g} to {np.diag(g).max():g}; use input_norm='rows' (the paper's protocol)"
        )
    return _mlp_grams(mlp, g)


def _network_grams(net: BlockNetwork, X: ArrayLike, samples: int, seed: int) -> MonteCarloGrams:
    """``G^0..G^L`` of a block network, attention by Monte Carlo (see :func:`trajectory`)."""
    _check_network(net, attention=True)
    return monte_carlo_grams(net, check.batch("X", X), input_gram(X), samples=samples, seed=seed)


@_renamed.keywords(mlp="network")
def trajectory(
    network: MLP | BlockNetwork, X: ArrayLike, *, samples: int = SAMPLES, seed: int = 0
) -> MeanFieldTrajectory:
    """Infinite-width Gram trajectory ``G^0..G^L`` of the batch ``X`` through ``network``.

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

    Attention blocks (:class:`~isoinit.blocks.Attention`, :class:`~isoinit.blocks.TransformerBlock`,
    :class:`~isoinit.Transformer`; pre-, post- or no norm, causal or not, every ``qk_gain``,
    ``out_proj``, ``centred``, ``score``, ``skip`` and bias) map the state through the expectation
    over their random scores (Theory §6): with ``U`` the attention's input (``Norm(K, m)``
    pre-norm, ``(K, m)`` otherwise) and ``K_U`` its Gram, queries and keys have the Gram
    ``K_qk = gain^2 qk_gain^2 K_U + b_qk^2``, values ``K_V = gain^2 K_U + b_V^2``; at
    ``d_h -> inf`` one head's scores are the Gaussian matrix ``S`` with
    ``Cov(s_ij, s_kl) = K_qk[i, k] K_qk[j, l]``, and the heads' output has mean 0 over features
    and the Gram ``K_A = E_S[A K_V A^T]``, ``A = softmax(S)`` by rows (causal: over ``j <= i``;
    ``centred``: minus the uniform average). The expectation is the mean over heads: the limit
    of infinitely many heads, and the mean of the fluctuating average of ``H`` heads. Then
    ``Wo`` gives ``gain^2 K_A + b_o^2`` (without ``out_proj``, ``K_A``), and the residual sum
    ``K' = skip^2 K + alpha^2 K_branch``, ``m' = skip m`` (the values' weights are
    independent and centered, so the stream and the branch are uncorrelated). ``K_A`` is
    computed by antithetic Monte Carlo over ``S = R Z R^T`` (``R R^T = K_qk``), ``samples`` draws
    per attention block split over 8 independent replicas of the recursion (their mean is
    the result, their spread :attr:`MeanFieldTrajectory.stderr`); when ``K_qk`` and ``K_V`` are
    exchangeable (equally correlated tokens) and attention is bidirectional, 16 times as many
    pairs of score rows replace the matrices. Under ``score="linear"`` (``1/d_h``) the scores
    vanish and ``A`` is the uniform average, in closed form (``centred``: the branch is 0).
    Rotary embeddings are refused.

    Every Gram is measured with :func:`isoinit.metrics.gram_metrics`, so the result compares
    directly with :func:`isoinit.simulate` at large width; widths, the hidden ratio, the
    number of heads and the weight distribution (Gaussian or orthogonal) do not matter at
    infinite width.

    Parameters
    ----------
    network : MLP or BlockNetwork
        An MLP, or a block network (:class:`~isoinit.ResidualMLP`,
        :class:`~isoinit.Transformer`, :class:`~isoinit.Network`) with ``init="gaussian"``.
        ``mlp=``, its old keyword, is accepted too.
    X : array_like, shape (n, d)
        The batch (rows are samples, ``n >= 2``, no all-zero row).
    samples : int
        Draws of the attention scores per attention block (``>= 16``, rounded down to a
        multiple of 16; 1024). The cost of a draw is ``O(n^3)`` (``O(n)`` for exchangeable
        Grams), and the standard error falls as ``1 / sqrt(samples)``.
    seed : int
        Seed of the Monte Carlo draws (the simulator's counter-based generator, so the result
        is reproducible bit for bit).

    Returns
    -------
    MeanFieldTrajectory

    Raises
    ------
    TypeError
        If ``network`` is not an :class:`~isoinit.MLP` or block network, or ``X`` is not made of
        real numbers.
    ValueError
        For batch centering or scaling (no entrywise infinite-width map: use
        :func:`isoinit.simulate` at large width); for rotary embeddings; for ``init="gpt2"`` (its
        weights do not scale with the width, so the limit diverges); or a bad ``X``,
        ``samples`` or ``seed``.

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
    samples and layer for activations without a closed-form kernel, instead of one cached
    table per layer (times: docs/performance.md).
    """
    samples = check.integer("samples", samples, 16, 2**31) // 16 * 16
    seed = check.integer("seed", seed, 0, 2**64 - 1)
    stderr: _F | None = None
    metric_stderr: dict[str, _F] | None = None
    drawn = 0
    if isinstance(network, BlockNetwork):
        mc = _network_grams(network, X, samples, seed)
        grams, diverged_at, reason, drawn = mc.grams, mc.diverged_at, mc.reason, mc.samples
        stderr, metric_stderr = mc.stderr, mc.metric_stderr
    else:
        grams, diverged_at, reason = _grams(network, X)
    if diverged_at >= 0:
        warnings.warn(
            f"the mean-field trajectory broke down numerically at layer {diverged_at} "
            f"({network.label()}): {reason}; its Grams and metrics from that layer on are NaN "
            "(see MeanFieldTrajectory.diverged_at)",
            DivergenceWarning,
            stacklevel=2,
        )
    prov = Provenance(describe_input(check.array("X", X, ndim=2)), sampler="meanfield")
    return MeanFieldTrajectory(
        network=network,
        grams=grams,
        metrics=_measure(grams),
        diverged_at=diverged_at,
        provenance=prov,
        samples=drawn,
        stderr=stderr,
        metric_stderr=metric_stderr,
    )
