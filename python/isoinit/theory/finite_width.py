"""Finite width: the leading ``1/d`` correction to the mean-field Gram trajectory of an MLP or a residual MLP.

Every mean-field prediction of isoinit is at infinite width; at the widths people simulate
the Gram is random, and its fluctuations (order ``1/sqrt(d)``) and the shift of its mean
(order ``1/d``) are what they see, most of all near the isometry fixed point, where the
mean field's gap falls to 0 and the simulated gap stalls at a plateau proportional to
``1/d``. This module propagates the mean ``m_l`` and covariance ``C_l`` of the Gram entries
through the layers (docs/finite-width.md):

``m_{l+1} = K(m_l) + (1/2) Hess K : C_l + b(m_l) / d``,
``C_{l+1} = J C_l J^T + Sigma(m_l) / d``,

with ``K`` the mean-field block map, ``J`` its Jacobian, ``Sigma / d`` the covariance of the
output Gram given the input Gram (an average over ``d`` iid features) and ``b / d`` the
bias of the normalization's ratio of averages. Every metric's mean and standard deviation
follow by the delta method (or, for the non-smooth ones, by sampling the Gaussian law of
the Gram). At the isometry fixed point of layer normalization after the activation the
recursion is linear and solvable: :func:`plateau` and :func:`width_for`. The *ensemble
closure* (``_fw_ensemble``) replaces the Gaussian law of the Gram by particles, Gram matrices
that go through the exact mean-field map with Gaussian noise of covariance ``Sigma / d``: the
diffusion approximation of the Gram's Markov chain, which keeps the nonlinear propagation of
the law that the Gaussian closure truncates. A residual MLP's
stream is carried on the Gram of its rows and the all-ones row (its rows' means enter the
next block), whose conditional covariance is exact at any width (``_fw_residual``).

References: D. A. Roberts, S. Yaida and B. Hanin, *The Principles of Deep Learning Theory*
(Cambridge University Press, 2022), chapters 4-5 (the ``1/n`` expansion of the
preactivation statistics, the four-point vertex); B. Hanin and M. Nica, *Products of
many large random matrices and gradients in deep neural networks* (Comm. Math. Phys.
2020), for what happens when the depth is comparable to the width; M. Li, M. Nica and
D. M. Roy, *The neural covariance SDE: shaped infinite depth-and-width networks at
initialization* (NeurIPS 2022), for the diffusion approximation of the Gram's chain.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from .. import _validate as check
from .._warnings import IsoinitWarning
from ..activations import ActivationSpec
from ..metrics import METRICS
from ..networks.blocks import BlockNetwork, Feedforward
from ..networks.mlp import MLP
from . import _fw_ensemble as _ens
from . import _fw_residual as _res
from . import meanfield
from ._block_recursion import _check_network
from ._fw_block import Block, derivatives, fluctuation, hessian_term, propagate_cov, to_matrix
from ._fw_metrics import CLOSURE_SAMPLES, SMOOTH, metric_moments
from ._mlp_recursion import _check_supported
from .hermite import beta0

__all__ = [
    "ETA_WARN",
    "FiniteWidthTrajectory",
    "FiniteWidthWarning",
    "finite_width",
    "plateau",
    "plateau_sd",
    "width_for",
]


def __dir__() -> list[str]:
    return sorted(__all__)


_F = NDArray[np.float64]

#: Default number of Gaussian columns of the Monte Carlo estimate of ``Sigma`` and ``b``.
SAMPLES = 1 << 16
#: Whitened fluctuation size (:attr:`FiniteWidthTrajectory.fluctuation_size`) above which a
#: warning says the expansion is unreliable: tanh at n = 10, d = 256 reaches 2.1 with a mean-gap
#: error of 11 %; relu at d = 64 reaches 2.5 and its predicted gap is off by 30 % at layer 20
#: and breaks down at layer 33.
ETA_WARN = 2.0
#: Closures of the moment hierarchy (:func:`finite_width`'s ``closure``).
CLOSURES: tuple[str, ...] = ("auto", "ensemble", "gaussian")
Closure = Literal["auto", "ensemble", "gaussian"]
#: Default number of particles of the ensemble closure.
PARTICLES = _ens.PARTICLES
#: Fraction of an ensemble layer's particles whose noise may be redrawn (it left the PSD cone)
#: before a warning says the Gaussian noise is too coarse there. A redraw conditions the noise on
#: the cone, which the true law never leaves: a few per cent of them change little (tanh at width
#: 60, nearly collinear inputs: 1.5 % at layer 2); relu at width 64, whose predicted transient is
#: 15-30 % off, redraws up to 19 % (397 draws for 2048 particles at layers 4 and 5).
REDRAW_WARN = 0.1


class FiniteWidthWarning(IsoinitWarning):
    """The width is too small for the ``1/d`` expansion (or the depth too large): simulate instead."""


@dataclass(frozen=True, eq=False)
class FiniteWidthTrajectory:
    """Predicted mean and spread of the Gram and its metrics at finite width, per layer.

    Attributes
    ----------
    network : MLP or BlockNetwork
        The configuration, with its widths.
    gram_mean : ndarray, shape (depth + 1, n, n)
        Predicted mean of the Gram ``G^l`` (``G^0`` the input's, deterministic).
    gram_cov : ndarray, shape (depth + 1, n, n, n, n)
        Predicted ``Cov(G^l_ij, G^l_kl)``, order ``1/d``.
    meanfield_grams : ndarray, shape (depth + 1, n, n)
        The infinite-width Grams (:func:`isoinit.meanfield.trajectory`).
    metric_mean, metric_sd : dict of str to ndarray
        For every metric of :data:`isoinit.metrics.METRICS`, shape ``(depth + 1,)``.
    meanfield_metrics : dict of str to ndarray
        The same metrics at infinite width.
    sigma_rel_se : ndarray, shape (depth + 1,)
        Monte Carlo relative standard error of ``tr Sigma`` (the summed conditional variance)
        at each layer (0 at layer 0).
    fluctuation_size : ndarray, shape (depth + 1,)
        ``eta_l = 2 sqrt(E ||m^(-1/2) (G - m) m^(-1/2)||_F^2 / (n - 1))``, the expected size of the
        Gram's fluctuation relative to its mean (for Wigner-like fluctuations, the operator
        norm): the expansion parameter. Measured against simulation: below 0.7 the mean gap
        was within 2 % and its sd within 10 %; near 2 the errors reach 10-30 %; above
        :data:`ETA_WARN` the expansion fails (a warning says so).
    breakdown_at : int
        First layer whose predicted mean Gram is not positive definite, or (ensemble closure)
        at which a particle's Gram left the PSD cone at every redraw: the expansion has failed
        and everything from there on is NaN; -1 if none.
    samples, seed : int
        Gaussian columns of the Monte Carlo estimates, and their seed.
    closure : {"ensemble", "gaussian"}
        How the hierarchy of moments was closed (:func:`finite_width`).
    particles : int
        Particles of the ensemble closure (0 for the Gaussian closure).
    metric_mean_se, metric_sd_se : dict of str to ndarray
        Monte Carlo standard errors of :attr:`metric_mean` and :attr:`metric_sd`, shape
        ``(depth + 1,)``: the ensemble's (its particles are a sample of the predicted law), or,
        for the Gaussian closure, those of its sampled (non-smooth) metrics, 0 for the metrics it
        takes by the delta method.
    redrawn : ndarray, shape (depth + 1,)
        Ensemble closure: noise draws redrawn per layer because the particle's Gram left the PSD
        cone (conditioning the Gaussian noise on the true law's support); zeros otherwise.
    """

    network: MLP | BlockNetwork
    gram_mean: _F = field(repr=False)
    gram_cov: _F = field(repr=False)
    meanfield_grams: _F = field(repr=False)
    metric_mean: dict[str, _F] = field(repr=False)
    metric_sd: dict[str, _F] = field(repr=False)
    meanfield_metrics: dict[str, _F] = field(repr=False)
    sigma_rel_se: _F = field(repr=False)
    fluctuation_size: _F = field(repr=False)
    breakdown_at: int = -1
    samples: int = SAMPLES
    seed: int = 0
    closure: str = "gaussian"
    particles: int = 0
    metric_mean_se: dict[str, _F] = field(default_factory=dict, repr=False)
    metric_sd_se: dict[str, _F] = field(default_factory=dict, repr=False)
    redrawn: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)

    def mean(self, metric: str) -> _F:
        """Predicted mean of ``metric`` per layer, shape ``(depth + 1,)``.

        Parameters
        ----------
        metric : str
            One of :data:`isoinit.metrics.METRICS`.

        Returns
        -------
        ndarray
            ``(depth + 1,)``.
        """
        return self.metric_mean[check.choice("metric", metric, METRICS)]

    def sd(self, metric: str) -> _F:
        """Predicted standard deviation of ``metric`` over networks, per layer, shape ``(depth + 1,)``.

        Parameters
        ----------
        metric : str
            One of :data:`isoinit.metrics.METRICS`.

        Returns
        -------
        ndarray
            ``(depth + 1,)``.
        """
        return self.metric_sd[check.choice("metric", metric, METRICS)]

    def meanfield(self, metric: str) -> _F:
        """``metric`` at infinite width, per layer, shape ``(depth + 1,)``.

        Parameters
        ----------
        metric : str
            One of :data:`isoinit.metrics.METRICS`.

        Returns
        -------
        ndarray
            ``(depth + 1,)``.
        """
        return self.meanfield_metrics[check.choice("metric", metric, METRICS)]

    def gram_sd(self) -> _F:
        """Predicted standard deviation of every Gram entry, shape ``(depth + 1, n, n)``."""
        return np.asarray(np.sqrt(np.maximum(np.einsum("lijij->lij", self.gram_cov), 0.0)))

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per layer and metric, columns ``layer``, ``metric``, ``mean``, ``sd``, ``meanfield``."""
        layers = np.arange(self.gram_mean.shape[0])
        frames = [
            pd.DataFrame(
                {
                    "layer": layers,
                    "metric": m,
                    "mean": self.metric_mean[m],
                    "sd": self.metric_sd[m],
                    "meanfield": self.meanfield_metrics[m],
                }
            )
            for m in METRICS
        ]
        df: pd.DataFrame = pd.concat(frames, ignore_index=True)
        return df


def _check_blocks(network: BlockNetwork) -> None:
    _check_network(network)  # feedforward blocks only, Gaussian init, no batch norm
    _res.check_network(network)


def _check(network: MLP) -> None:
    _check_supported(network)  # an MLP, no batch normalization
    if network.weights != "gaussian":
        raise ValueError(
            "finite_width assumes Gaussian weights (iid output features given the input Gram); "
            f"got weights={network.weights!r}"
        )


def finite_width(
    network: MLP | BlockNetwork,
    X: ArrayLike,
    *,
    samples: int = SAMPLES,
    seed: int = 0,
    closure_samples: int = CLOSURE_SAMPLES,
    closure: Closure = "auto",
    particles: int = PARTICLES,
) -> FiniteWidthTrajectory:
    """Leading-order (``1/d``) finite-width prediction of the Gram trajectory of ``X`` through ``network``.

    The output Gram of a block has, given its input Gram, mean ``K(G) + b(G) / d`` and
    covariance ``Sigma(G) / d`` (module docstring; docs/finite-width.md). Two closures carry
    that through the layers. The Gaussian closure propagates the mean and covariance of the
    Gram entries and takes every metric by the delta method. The ensemble closure carries
    the Gram's law with ``particles`` Gram matrices: every particle goes through the exact
    mean-field map and receives Gaussian noise of covariance ``Sigma / d`` (computed at the
    ensemble's mean, carried to the particle's geometry by an optimal-transport map), and the
    metrics are the particles' own; it keeps the nonlinear propagation the Gaussian closure
    truncates (docs/finite-width.md, "The ensemble closure"). Returns, per layer, the predicted
    mean and standard deviation of every metric of :data:`isoinit.metrics.METRICS` and the mean
    and covariance of the Gram entries, comparable with :func:`isoinit.simulate` over many
    runs at the network's widths. For a residual MLP the state is the residual stream's Gram
    together with its rows' means (docs/finite-width.md, "Residual MLPs").

    Parameters
    ----------
    network : MLP or BlockNetwork
        An MLP: any centering and scaling but batch (``none``, ``layer``, ``mf``), either
        order, any gain, bias, ``eps`` and widths (one per block), Gaussian weights. Or a
        :class:`~isoinit.ResidualMLP` (a :class:`~isoinit.Network` of
        :class:`~isoinit.blocks.Feedforward` blocks): the two-layer branch
        ``Lin2 sigma Lin1`` (any ``ratio``), pre-, post- or no norm (layer, RMS, centering,
        none), any ``alpha`` and ``skip``, with or without the residual sum, Gaussian
        ``init`` and weights, no position embeddings.
    X : array_like, shape (n, d_0)
        The batch (rows are samples, ``n >= 2``).
    samples : int
        Gaussian columns of the Monte Carlo estimate of ``Sigma`` and ``b`` at every layer
        (``>= 1024``); the relative standard error of ``Sigma`` is about ``2 / sqrt(samples)``
        (:attr:`FiniteWidthTrajectory.sigma_rel_se` reports it).
    seed : int
        Seed of those columns (the same columns serve every layer), of the closure sampling
        and of the ensemble's noise: a seed gives the same numbers on every call.
    closure_samples : int
        Gaussian closure: draws of the Gaussian law of the Gram for the non-smooth metrics
        (potential, stable rank, condition, mean and maximal ``|rho|``).
    closure : {"auto", "ensemble", "gaussian"}
        ``"ensemble"``: the particle closure, for MLPs whose blocks end in layer scaling with
        ``eps = 0`` (the paper's networks) or whose activation has a closed-form kernel at
        unequal variances (relu, sin, erf, step, ...).
        ``"gaussian"``: the moment recursion, for every network. ``"auto"`` (default): the
        ensemble where it applies, the Gaussian closure otherwise (residual MLPs, and MLPs
        with random diagonals and a tabulated activation). Where the two differ (width 256,
        transitions to the plateau, long transients, random walks of the norms) the ensemble
        is the accurate one; elsewhere they agree within its sampling error
        (docs/finite-width.md, "Validation").
    particles : int
        Ensemble closure: number of particles (``>= 16``). The predicted mean's Monte Carlo
        error is its sd over ``sqrt(particles)``, the predicted sd's about
        ``1 / sqrt(2 particles)`` of itself (:attr:`FiniteWidthTrajectory.metric_mean_se`,
        :attr:`FiniteWidthTrajectory.metric_sd_se`).

    Returns
    -------
    FiniteWidthTrajectory

    Raises
    ------
    TypeError
        If ``network`` is not an :class:`~isoinit.MLP` or a block network.
    ValueError
        For batch normalization, orthogonal weights or a bad ``X``; for attention blocks, the
        one-layer or gated feedforward, GPT-2's init, or position embeddings; for an unknown
        ``closure``, or ``closure="ensemble"`` with a network it does not cover.

    Notes
    -----
    Valid while ``n`` and the depth are small against the width (docs/finite-width.md, "Where
    it fails"): the error is of relative order ``n / d`` at the fixed point and grows with
    ``depth / d`` where the mean field does not contract.
    """
    check.instance("network", network, (MLP, BlockNetwork), "an isoinit.MLP or a network of feedforward blocks")
    samples = check.integer("samples", samples, 1024, 1 << 24)
    seed = check.integer("seed", seed, 0)
    closure_samples = check.integer("closure_samples", closure_samples, 2, 1 << 22)
    asked = check.choice("closure", closure, CLOSURES)
    particles = check.integer("particles", particles, 16, 1 << 22)
    if isinstance(network, BlockNetwork):
        _check_blocks(network)
        if asked == "ensemble":
            raise ValueError("closure='ensemble' covers MLPs; a residual MLP takes closure='gaussian' (or 'auto')")
        x = check.batch("X", X)
        n = x.shape[0]
        z = np.random.default_rng(seed).standard_normal((samples, n))
        means, covs, rel_se, breakdown_at = _residual_moments(network, x, z)
    else:
        _check(network)
        why = _ens.unsupported(network)
        if asked == "ensemble" and why is not None:
            raise ValueError(f"closure='ensemble' cannot run this network: {why}; use closure='gaussian'")
        g0 = meanfield.input_gram(X)
        n = g0.shape[0]
        z = np.random.default_rng(seed).standard_normal((samples, n))
        if asked == "ensemble" or (asked == "auto" and why is None):
            return _ensemble_result(network, X, g0, z, particles, samples, seed)
        means, covs, rel_se, breakdown_at = _mlp_moments(network, g0, z)
    depth = network.depth
    mu = {k: np.full(depth + 1, np.nan) for k in METRICS}
    sd = {k: np.full(depth + 1, np.nan) for k in METRICS}
    mu_se = {k: np.full(depth + 1, np.nan) for k in METRICS}
    sd_se = {k: np.full(depth + 1, np.nan) for k in METRICS}
    full_cov = _full_cov(covs, n)
    eta = np.full(depth + 1, np.nan)
    last = depth if breakdown_at < 0 else breakdown_at - 1
    for layer in range(last + 1):
        a, b = metric_moments(means[layer], covs[layer], closure_samples=closure_samples, seed=seed + layer)
        for k in METRICS:
            mu[k][layer], sd[k][layer] = a[k], b[k]
            sampled = k not in SMOOTH
            mu_se[k][layer] = b[k] / math.sqrt(closure_samples) if sampled else 0.0
            sd_se[k][layer] = b[k] / math.sqrt(2 * closure_samples) if sampled else 0.0
        eta[layer] = _fluctuation_size(means[layer], full_cov[layer])
    _warn(network, breakdown_at, eta, None, 0)
    return _trajectory(
        network,
        X,
        gram_mean=means,
        gram_cov=full_cov,
        metric_mean=mu,
        metric_sd=sd,
        sigma_rel_se=rel_se,
        fluctuation_size=eta,
        breakdown_at=breakdown_at,
        samples=samples,
        seed=seed,
        closure="gaussian",
        particles=0,
        metric_mean_se=mu_se,
        metric_sd_se=sd_se,
        redrawn=np.zeros(depth + 1, dtype=np.int64),
    )


def _trajectory(network: MLP | BlockNetwork, X: ArrayLike, **fields: object) -> FiniteWidthTrajectory:
    """The result of either closure (``fields``), with the network's mean field beside it."""
    mf = meanfield.trajectory(network, X)
    return FiniteWidthTrajectory(
        network=network,
        meanfield_grams=mf.grams,
        meanfield_metrics={k: np.asarray(mf.metrics[k]) for k in METRICS},
        **fields,  # type: ignore[arg-type]
    )


def _ensemble_result(
    network: MLP, X: ArrayLike, g0: _F, z: _F, particles: int, samples: int, seed: int
) -> FiniteWidthTrajectory:
    """:func:`finite_width` with the ensemble closure."""
    depth = network.depth
    n = g0.shape[0]
    ens = _ens.run(network, g0, z, particles, seed)
    stats = {k: np.full((4, depth + 1), np.nan) for k in METRICS}
    eta = np.full(depth + 1, np.nan)
    full_cov = _full_cov(ens.covs, n)
    last = depth if ens.breakdown_at < 0 else ens.breakdown_at - 1
    for layer in range(last + 1):
        for k in METRICS:
            stats[k][:, layer] = _ens.summary(ens.values[k][layer])
        eta[layer] = _fluctuation_size(ens.means[layer], full_cov[layer])
    _warn(network, ens.breakdown_at, eta, ens.redrawn, particles)
    return _trajectory(
        network,
        X,
        gram_mean=ens.means,
        gram_cov=full_cov,
        metric_mean={k: stats[k][0] for k in METRICS},
        metric_sd={k: stats[k][1] for k in METRICS},
        sigma_rel_se=ens.rel_se,
        fluctuation_size=eta,
        breakdown_at=ens.breakdown_at,
        samples=samples,
        seed=seed,
        closure="ensemble",
        particles=particles,
        metric_mean_se={k: stats[k][2] for k in METRICS},
        metric_sd_se={k: stats[k][3] for k in METRICS},
        redrawn=ens.redrawn,
    )


def _warn(
    network: MLP | BlockNetwork, breakdown_at: int, eta: _F, redrawn: NDArray[np.int64] | None, particles: int
) -> None:
    """The :class:`FiniteWidthWarning` of a breakdown, of a large fluctuation, or of many redrawn particles."""
    widths = network.widths()
    if breakdown_at >= 0:
        what = (
            "the predicted mean Gram is no longer positive definite"
            if redrawn is None
            else f"a particle's Gram left the PSD cone {_ens.MAX_REDRAWS + 1} times in a row"
        )
        warnings.warn(
            f"finite_width: the 1/d expansion broke down at layer {breakdown_at} ({network.label()}, "
            f"widths {min(widths)}..{max(widths)}): {what}; "
            "predictions from that layer on are NaN (widths of the order of n, or depths of the order of "
            "the width: simulate instead)",
            FiniteWidthWarning,
            stacklevel=3,
        )
    elif np.nanmax(eta) > ETA_WARN:
        worst = int(np.nanargmax(eta))
        warnings.warn(
            f"finite_width: the Gram's whitened fluctuation reaches {eta[worst]:.2f} at layer {worst} "
            f"({network.label()}): beyond {ETA_WARN:g} the 1/d expansion's error is 10 % or more "
            "(see FiniteWidthTrajectory.fluctuation_size)",
            FiniteWidthWarning,
            stacklevel=3,
        )
    if redrawn is not None and particles and redrawn.max(initial=0) > REDRAW_WARN * particles:
        worst = int(np.argmax(redrawn))
        warnings.warn(
            f"finite_width: {redrawn[worst]} noise draws of the {particles} particles left the PSD cone at layer "
            f"{worst} ({network.label()}) and were redrawn: the Gaussian noise of the diffusion approximation is "
            "too coarse there (see FiniteWidthTrajectory.redrawn)",
            FiniteWidthWarning,
            stacklevel=3,
        )


def _mlp_moments(network: MLP, g0: _F, z: _F) -> tuple[_F, _F, _F, int]:
    """Mean ``(L+1, n, n)`` and covariance ``(L+1, P, P)`` of an MLP's Grams, Monte Carlo error, breakdown layer."""
    n = g0.shape[0]
    depth = network.depth
    widths = network.widths()
    p = n * (n + 1) // 2
    means = np.full((depth + 1, n, n), np.nan)
    covs = np.full((depth + 1, p, p), np.nan)
    rel_se = np.full(depth + 1, np.nan)
    means[0], covs[0], rel_se[0] = g0, 0.0, 0.0
    m, c = g0, np.zeros((p, p))
    for layer in range(1, depth + 1):
        blk = Block.of(network, layer)
        d = float(widths[layer - 1])
        der = derivatives(blk, m, diagonal=not blk.fixed_diagonal)
        fl = fluctuation(blk, m, z)
        new_m = der.value + hessian_term(der, c, n) + fl.b / d
        if blk.fixed_diagonal:
            new_m[_diag_positions(n)] = 1.0
        c = propagate_cov(der, c, n) + fl.sigma / d
        m = to_matrix(new_m, n)
        if not blk.fixed_diagonal:
            # every row has the same law: the diagonal's mean is the same for all i (Monte
            # Carlo noise aside, which would make every pair's kernel a separate quadrature)
            np.fill_diagonal(m, np.mean(np.diag(m)))
        if not _valid(m, c):
            return means, covs, rel_se, layer
        means[layer] = m
        covs[layer] = c
        tr = float(np.trace(fl.sigma))
        rel_se[layer] = fl.trace_se / tr if tr > 0 else 0.0
    return means, covs, rel_se, -1


def _residual_moments(network: BlockNetwork, x: _F, z: _F) -> tuple[_F, _F, _F, int]:
    """:func:`_mlp_moments` for a network of feedforward blocks, on the stream's augmented Gram."""
    n = x.shape[0]
    depth = network.depth
    p = n * (n + 1) // 2
    means = np.full((depth + 1, n, n), np.nan)
    covs = np.full((depth + 1, p, p), np.nan)
    rel_se = np.full(depth + 1, np.nan)
    kt = _res.initial_state(network, x, meanfield.input_gram(x))
    c = np.zeros(((n + 1) * (n + 2) // 2,) * 2)
    means[0], covs[0], rel_se[0] = kt[:n, :n], 0.0, 0.0
    for layer, b in enumerate(network.block_list(), start=1):
        assert isinstance(b, Feedforward)  # _check_blocks refused the others
        st = _res.step(_res.ResBlock.of(network, b), kt, c, z)
        kt, c = st.mean, st.cov
        rows = _res.rows_cov(c, n)
        if not _valid(kt[:n, :n], rows):
            return means, covs, rel_se, layer
        means[layer], covs[layer], rel_se[layer] = kt[:n, :n], rows, st.noise_rel_se
    return means, covs, rel_se, -1


def _valid(m: _F, c: _F) -> bool:
    """Whether the predicted mean Gram is finite and positive definite and its covariance finite."""
    return bool(np.all(np.isfinite(m)) and np.all(np.isfinite(c)) and np.linalg.eigvalsh(m)[0] > 0)


def _fluctuation_size(mean: _F, cov: _F) -> float:
    """``eta = 2 sqrt(E ||m^(-1/2) dG m^(-1/2)||_F^2 / (n - 1))``: the whitened fluctuation's expected norm.

    For a Wigner-like fluctuation this is its operator norm (the semicircle's edge): at the
    isometry fixed point, ``eta`` near 1 means some random Gram is near singular and the
    expansion of the gap has failed. Against the tiny eigenvalues of a nearly singular Gram it
    reaches 1 or more with little harm (docs/finite-width.md, "Where it fails"). ``cov`` is the
    full ``(n, n, n, n)`` covariance; ``inf`` when ``mean`` is not positive definite.
    """
    w, u = np.linalg.eigh(mean)
    if not w.min() > 0:
        return math.inf
    inv = (u / w) @ u.T
    e2 = float(np.einsum("li,jk,ijkl->", inv, inv, cov, optimize=True))
    n = mean.shape[0]
    return 2.0 * math.sqrt(max(e2, 0.0) / (n - 1))


def _diag_positions(n: int) -> NDArray[np.intp]:
    i, j = np.triu_indices(n)
    return np.flatnonzero(i == j)


def _full_cov(covs: _F, n: int) -> _F:
    """``(L+1, P, P)`` covariances of the entries ``i <= j`` as ``(L+1, n, n, n, n)``."""
    i, j = np.triu_indices(n)
    idx = np.empty((n, n), dtype=np.intp)
    idx[i, j] = np.arange(i.size)
    idx[j, i] = np.arange(i.size)
    return np.asarray(covs[:, idx[:, :, None, None], idx[None, None, :, :]])


# ----------------------------------------------------------------------------------------
# the plateau in closed form
# ----------------------------------------------------------------------------------------


def plateau(activation: ActivationSpec, n: int, d: float, *, gain: float = 1.0) -> float:
    """Leading-order finite-width isometry gap at the fixed point of layer norm after the activation.

    At ``G = I`` every off-diagonal correlation of the next layer is, to order ``1/sqrt(d)``,
    an independent average of ``d`` products of two standardized activations: variance
    ``1/d``, mean 0. The mean-field map contracts it by ``beta_0`` per layer, so the
    stationary variance is ``1 / (d (1 - beta_0^2))`` and the gap, ``(1/n) sum_{i<j} rho_ij^2``
    to second order, has the stationary mean

    ``(n - 1) / (2 d (1 - beta_0^2))``

    (docs/finite-width.md, §3). Relu: ``4.5 / (0.462 d) = 9.74 / d`` at ``n = 10``.

    Parameters
    ----------
    activation : str or Activation
    n : int
        Batch size, ``>= 2``.
    d : float
        Width, ``> 0``.
    gain : float
        Pre-activation gain (``beta_0`` is that of ``x -> sigma(gain x)``); no bias.

    Returns
    -------
    float
        ``+inf`` for a linear activation (``beta_0 = 1``: the noise is never contracted and
        the gap grows with depth instead).
    """
    n = check.integer("n", n, 2)
    d = check.real("d", d, 0.0)
    if not d > 0:
        raise ValueError(f"d must be > 0; got {d!r}")
    b = beta0(activation, gain)
    if b >= 1.0:
        return math.inf
    return (n - 1) / (2.0 * d * (1.0 - b * b))


def plateau_sd(activation: ActivationSpec, n: int, d: float, *, gain: float = 1.0) -> float:
    """Standard deviation over networks of the plateau gap, to leading order.

    The ``n (n - 1) / 2`` correlations are independent Gaussians of variance
    ``s^2 = 1 / (d (1 - beta_0^2))`` at the fixed point, so the gap ``(1/n) sum rho^2`` is
    ``s^2 / n`` times a chi-square with ``n (n - 1) / 2`` degrees of freedom: sd
    ``s^2 sqrt(n (n - 1)) / n``.

    Parameters
    ----------
    activation : str or Activation
        The activation, by spec or record (:func:`isoinit.activations.resolve`).
    n : int
        Batch size, ``>= 2``.
    d : float
        Width, ``> 0``.
    gain : float
        Pre-activation gain (``beta_0`` is that of ``x -> sigma(gain x)``); no bias.

    Returns
    -------
    float
        ``+inf`` for a linear activation, as for :func:`plateau`.
    """
    n = check.integer("n", n, 2)
    mean = plateau(activation, n, d, gain=gain)
    if math.isinf(mean):
        return math.inf
    s2 = 2.0 * mean / (n - 1)
    return s2 * math.sqrt(n * (n - 1)) / n


def width_for(activation: ActivationSpec, n: int, eps: float, *, gain: float = 1.0) -> int:
    """Smallest width at which the finite-width part of the plateau gap is below ``eps``.

    Inverts :func:`plateau`: ``d = ceil((n - 1) / (2 eps (1 - beta_0^2)))``. Relu at ``n = 10``
    needs ``d = 974`` for a gap of 0.01 and ``9736`` for 0.001. Leading order: below
    ``d ~ 10 n`` the true plateau is higher (docs/finite-width.md, "Where it fails").

    Parameters
    ----------
    activation : str or Activation
    n : int
        Batch size, ``>= 2``.
    eps : float
        Target gap, ``> 0``.
    gain : float
        Pre-activation gain.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``eps <= 0``, or the activation is linear (``beta_0 = 1``: no width suffices at
        every depth).
    """
    n = check.integer("n", n, 2)
    eps = check.real("eps", eps, 0.0)
    if not eps > 0:
        raise ValueError(f"eps must be > 0; got {eps!r}")
    b = beta0(activation, gain)
    if b >= 1.0:
        raise ValueError(
            "a linear activation (beta_0 = 1) does not contract the finite-width noise: its gap grows with depth"
        )
    return math.ceil((n - 1) / (2.0 * eps * (1.0 - b * b)) - 1e-9)
