"""Bounds, fixed points and rates that a figure can overlay on measured trajectories.

* The mean-field potential bound ``gamma(G^l) <= gamma(G^0) (2 - beta_0)^(-l)`` of Joudaki,
  Daneshmand and Bach (NeurIPS 2023; restated in Joudaki and Hofmann, AISTATS 2025) for
  layer normalization after the activation (:func:`potential_bound`,
  :func:`trajectory_potential_bound`).
* The exact identity "normalization increases isometry" (Theory §5 of the documentation):
  dividing rows by their norms ``a_i`` multiplies the isometry by
  ``mean(a^2) / geomean(a^2) >= 1 + Var(a) / mean(a)^2`` (population variance)
  (:func:`scaling_isometry_ratio`, :func:`scaling_isometry_lower_bound`).
* :func:`predict`: for one network (activation, gain, bias, normalization, order), which
  correlation map applies at infinite width, its fixed point and rate, in words; given the
  batch size, the finite-width plateau of the gap and the width that keeps it below ``eps``.
* Fixed points, rates and the depth scale of uncentered kernels normalized to
  ``kappa(1) = 1`` (Joudaki and Hofmann 2025; Theory §5)
  (:func:`kernel_fixed_point`, :func:`fixed_point`, :func:`indistinguishable_depth`,
  :func:`polynomial_rate`) and the residual kernel (:func:`residual_kernel`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _renamed
from .. import _validate as check
from ..activations import ActivationSpec
from ..networks.blocks import Attention, BlockNetwork, TransformerBlock
from ..networks.mlp import MLP
from ._attention import AttentionPrediction, predict_attention, rem_beta, rem_beta_c, rem_qk_gain
from ._fixed_points import FixedPoint, kernel_fixed_point
from .finite_width import plateau as fw_plateau
from .finite_width import plateau_sd as fw_plateau_sd
from .finite_width import width_for as fw_width_for
from .hermite import (
    Kernel,
    beta0,
    centered_kernel,
    centered_kernel_derivative,
    fixed_point,
    moments,
    rms_kernel,
    rms_kernel_derivative,
)

__all__ = [
    "AttentionPrediction",
    "FixedPoint",
    "Prediction",
    "fixed_point",
    "indistinguishable_depth",
    "kernel_fixed_point",
    "polynomial_rate",
    "potential_bound",
    "predict",
    "rem_beta",
    "rem_beta_c",
    "rem_qk_gain",
    "residual_kernel",
    "scaling_isometry_lower_bound",
    "scaling_isometry_ratio",
    "trajectory_potential_bound",
]


def __dir__() -> list[str]:
    return sorted(__all__)


_F = NDArray[np.float64]


# --------------------------------------------------------------------------------------
# potential bound
# --------------------------------------------------------------------------------------


def potential_bound(gamma_start: float, beta_0: float, depth: int, *, start: int = 0) -> _F:
    """Mean-field potential bound ``gamma_start (2 - beta_0)^(-(l - start))`` for ``l = 0..depth``.

    Joudaki, Daneshmand and Bach (2023), the potential theorem (Theory §5 of the documentation):
    with layer normalization after the activation, at infinite width
    ``gamma(G^l) <= gamma(G^0) (2 - beta_0)^(-l)``. ``start=1`` gives the variant anchored
    at the first block's output, ``gamma(G^1) (2 - beta_0)^(-(l - 1))``.

    Parameters
    ----------
    gamma_start : float
        Potential at layer ``start`` (``>= 0``; ``inf`` gives ``inf``).
    beta_0 : float
        Non-linearity strength in ``[0, 1]`` (:func:`isoinit.hermite.beta0`).
    depth : int
        Last layer.
    start : int
        Anchor layer, ``0 <= start <= depth``; entries before it are NaN.

    Returns
    -------
    ndarray, shape (depth + 1,)
    """
    g0 = check.real("gamma_start", gamma_start, 0.0, finite=False)
    b0 = check.real("beta_0", beta_0, 0.0, 1.0, finite=False)
    depth = check.integer("depth", depth, 0)
    start = check.integer("start", start, 0, depth)
    layers = np.arange(depth + 1, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out = g0 * (2.0 - b0) ** (-(layers - start))
    out[: int(start)] = np.nan
    return out


def trajectory_potential_bound(traj: object, *, start: int = 0) -> _F:
    """:func:`potential_bound` anchored on a trajectory's own potential at layer ``start``.

    Uses ``beta_0`` of the activation at the block's pre-activation gain
    ``sqrt(gain^2 + bias^2)``. The theorem covers ``act-norm`` with layer (or ``mf``)
    centering and scaling, ``bias = 0`` and ``eps = 0``; other configurations raise.

    Parameters
    ----------
    traj : MeanFieldTrajectory or Trajectory
        Anything with ``.network`` (or ``.mlp``, its old name) and either an
        ``.output(metric)`` method giving the block outputs' values, shape
        ``(runs, depth + 1)`` (a simulated :class:`isoinit.Trajectory`, with or without
        ``stages``; the bound is anchored on the mean over runs), or a ``.potential`` array
        of shape ``(depth + 1,)`` (a ``MeanFieldTrajectory``).
    start : int
        Anchor layer.
    """
    network = getattr(traj, "network", None)
    if network is None:  # an object of the caller's own may still call it by its old name
        network = getattr(traj, "mlp", None)
    output = getattr(traj, "output", None)
    pot = output("potential") if callable(output) else getattr(traj, "potential", None)
    if network is None or pot is None:
        raise ValueError(f"traj must have .network and .output('potential') or .potential; got {type(traj).__name__}")
    if (
        network.order != "act-norm"
        or network.centering not in ("layer", "mf")
        or network.scaling not in ("layer", "mf")
        or network.bias != 0.0
        or network.eps != 0.0
    ):
        raise ValueError(
            "the potential bound is proven for act-norm blocks with layer (or mf) centering and "
            f"scaling, bias 0 and eps 0; got {network.label()}, eps={network.eps:g}"
        )
    p = np.asarray(pot, dtype=np.float64)
    if p.ndim not in (1, 2) or p.shape[-1] != network.depth + 1:
        raise ValueError(
            "the potential must have shape (depth + 1,) or (runs, depth + 1) with depth + 1 = "
            f"{network.depth + 1}; got shape {p.shape}"
        )
    if p.ndim == 2:
        p = p.mean(axis=0)
    return potential_bound(float(p[start]), beta0(network.act, network.gain), network.depth, start=start)


# --------------------------------------------------------------------------------------
# normalization increases isometry
# --------------------------------------------------------------------------------------


def _norms(norms: ArrayLike) -> _F:
    a = np.asarray(norms, dtype=np.float64)
    if a.ndim < 1 or a.shape[-1] < 1 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"norms must be a non-empty array of finite positive numbers; got {a!r}")
    return a


def scaling_isometry_ratio(norms: ArrayLike) -> _F | float:
    """Isometry gain of scaling: ``I(G') / I(G) = mean(a^2) / geomean(a^2)``.

    Here ``G' = D^(-1/2) G D^(-1/2)`` with ``D = diag(a^2)``.

    The exact identity of Theory §5 (Joudaki, Daneshmand and Bach 2023,
    "normalization increases isometry"): scaling each row of ``H`` by its norm ``a_i``
    (``G = H H^T``) multiplies the isometry by this factor, which is ``>= 1``.

    Parameters
    ----------
    norms : array_like, shape (..., n)
        Row norms ``a_i > 0`` along the last axis.
    """
    a2 = _norms(norms) ** 2
    out = np.mean(a2, axis=-1) / np.exp(np.mean(np.log(a2), axis=-1))
    return float(out) if np.ndim(out) == 0 else np.asarray(out)


def scaling_isometry_lower_bound(norms: ArrayLike) -> _F | float:
    """``1 + Var(a) / mean(a)^2`` (population variance).

    A lower bound of :func:`scaling_isometry_ratio` (Theory §5).

    Parameters
    ----------
    norms : array_like
        The norms ``a`` a scaling step divides by, ``(..., n)``, positive.

    Returns
    -------
    float or ndarray
        One value per vector of norms (a float for one).
    """
    a = _norms(norms)
    out = 1.0 + np.var(a, axis=-1) / np.mean(a, axis=-1) ** 2
    return float(out) if np.ndim(out) == 0 else np.asarray(out)


# --------------------------------------------------------------------------------------
# fixed points of normalized kernels (Joudaki and Hofmann 2025)
# --------------------------------------------------------------------------------------


@_renamed.fields(mlp="network")
@dataclass(frozen=True)
class Prediction:
    """What the infinite-width theory predicts for the correlations of one network.

    Attributes
    ----------
    network : MLP
        The network (``mlp`` is its old name, kept as an alias).
    kernel : {"centered", "rms"} or None
        The correlation map of one block: ``"centered"`` (``kbar``: centering and scaling
        after the activation), ``"rms"`` (``kappa / E sigma^2``: scaling without centering
        after the activation, or a normalization before it), or ``None`` when no entrywise
        map exists (batch normalization, or no scaling: the diagonal evolves too).
    fixed_point : FixedPoint or None
        Its attracting fixed point and per-layer rate (``None`` with ``kernel=None``).
    potential_bound : bool
        Whether the potential bound ``gamma(G^l) <= gamma(G^0) (2 - beta_0)^(-l)`` of
        :func:`trajectory_potential_bound` applies (centered map without bias).
    statement : str
        The prediction in words, naming the normalization it is about (and, given ``n``,
        the finite-width plateau and the width that keeps it below ``eps``).
    n : int or None
        The batch size the finite-width predictions are for (``None``: not asked for).
    plateau, plateau_sd : float or None
        Where the isometry fixed point holds (layer normalization after the activation, no
        bias, ``eps = 0``) and ``n`` is given: the mean and standard deviation over networks
        of the gap at finite width once the mean field has converged,
        ``(n - 1) / (2 d (1 - beta_0^2))`` at the last block's width ``d``
        (:func:`isoinit.theory.finite_width.plateau`, docs/finite-width.md §3); ``inf`` for
        a linear activation. ``None`` otherwise.
    eps : float
        The gap that :attr:`width_for` is for.
    width_for : int or None
        The width at which the finite-width part of the gap falls below ``eps``
        (:func:`isoinit.theory.finite_width.width_for`); ``None`` where :attr:`plateau` is
        ``None`` or infinite.
    """

    network: MLP
    kernel: Kernel | None
    fixed_point: FixedPoint | None
    potential_bound: bool
    statement: str
    n: int | None = None
    plateau: float | None = None
    plateau_sd: float | None = None
    eps: float = 0.01
    width_for: int | None = None

    @property
    def mlp(self) -> MLP:
        """The old name of :attr:`network` (renamed in 0.2.0), kept as an alias."""
        return self.network

    @property
    def rate(self) -> float | None:
        """Per-layer factor of ``|rho_l - rho*|`` (the contraction factor), or ``None``."""
        return None if self.fixed_point is None else self.fixed_point.rate


_FIXED_POINT_WORDS = {
    "isometry": "correlations contract to 0 (isometry) by a factor {rate:.4g} per layer",
    "collapse": "correlations converge to 1 (rank collapse) by a factor {rate:.4g} per layer",
    "collapse-polynomial": "correlations converge to 1 (rank collapse) at a polynomial rate",
    "interior": "correlations converge to rho* = {star:.4g} by a factor {rate:.4g} per layer",
}


@overload
def predict(network: MLP, *, n: int | None = None, eps: float = 0.01) -> Prediction: ...
@overload
def predict(network: BlockNetwork, *, n: int | None = None, eps: float = 0.01) -> AttentionPrediction: ...
@_renamed.keywords(mlp="network")
def predict(
    network: MLP | BlockNetwork, *, n: int | None = None, eps: float = 0.01
) -> Prediction | AttentionPrediction:
    """The infinite-width prediction for the correlations of ``network``, for its own normalization.

    At infinite width every off-diagonal correlation of a block's input evolves by one
    scalar map when the block ends with a scaling step that fixes the diagonal (Theory §4):

    * ``act-norm`` with layer (or ``mf``) centering and scaling: the centered kernel
      ``kbar`` of ``x -> sigma(s x)``, ``s^2 = gain^2 + bias^2``, after the bias map
      ``rho -> (gain^2 rho + bias^2) / s^2``; without bias its fixed point is isometry at the
      rate ``1 / (2 - beta_0)`` and the potential bound applies (Theory §5);
    * ``act-norm`` with scaling but no centering (RMS): the uncentered ``kappa / E sigma^2``,
      whose fixed point is collapse or an interior point (Joudaki and Hofmann 2025);
    * ``norm-act`` with scaling: the block output is ``sigma`` of unit-variance rows, so the
      next pre-activation correlation is ``(gain^2 kappa(rho) + bias^2) / (gain^2 E sigma^2 + bias^2)``
      (centering is a no-op on ``H`` at infinite width);
    * batch normalization and blocks without scaling have no such map: ``kernel`` is
      ``None`` and the statement says why (use :func:`isoinit.meanfield.trajectory` or a
      large-width simulation).

    At finite width the gap does not reach the isometry fixed point: given the batch size
    ``n``, where the fixed point is ``G = I`` (layer normalization after the activation, no
    bias, ``eps = 0``) the prediction states the plateau it settles at,
    ``(n - 1) / (2 d (1 - beta_0^2))``, and the width at which that falls below ``eps``
    (docs/finite-width.md §3; :func:`isoinit.theory.finite_width.finite_width` gives the whole
    trajectory).

    For a block network with attention, ``n`` is the number of tokens ``T`` and the prediction
    is Giorlandino and Goldt's large-``T`` limit (ICLR 2026, arXiv 2505.24333; Theory §6), an
    :class:`AttentionPrediction`: with ``beta = gain^2 qk_gain^2 / sqrt(log T)`` (their query and
    key weights ``N(0, beta sqrt(log T) / d)``: for unit-norm tokens the scores have variance
    ``beta^2 log T``), attention on tokens of correlation ``rho`` averages them below
    ``beta_c = sqrt(2 / (1 - rho))`` and concentrates on a few above it (the Random Energy
    Model's freezing point); iterating their recursion says whether the tokens collapse
    (``rank collapse``), stay apart with spread attention (``signal preserved``) or stay apart
    with concentrated attention (``entropy collapse``), and :meth:`AttentionPrediction.rem`
    gives the recursion's correlation after every block.

    Parameters
    ----------
    network : MLP or BlockNetwork
        The network (its activation, gain, bias, centering, scaling and order; the depth
        plays no role, the last block's width only in the plateau). ``mlp=``, its old
        keyword, is accepted too. A block network must have an attention block, all of them
        bidirectional, and ``init="gaussian"``.
    n : int, optional
        Batch size (``>= 2``) for the finite-width plateau; without it none is stated. For a
        network with attention: the number of tokens ``T``, required.
    eps : float
        Target gap of :attr:`Prediction.width_for` (``> 0``; 0.01, about the headline plateau:
        0.0099 at width 1000).

    Returns
    -------
    Prediction or AttentionPrediction
    """
    if isinstance(network, BlockNetwork) and any(
        isinstance(b, (Attention, TransformerBlock)) for b in network.block_list()
    ):
        if n is None:
            raise ValueError("n (the number of tokens T) is required for the REM prediction of attention")
        return predict_attention(network, check.integer("n", n, 2))
    network = check.instance("network", network, MLP, "an isoinit.MLP or a block network with attention")
    assert isinstance(network, MLP)  # for mypy: check.instance raised otherwise
    n = None if n is None else check.integer("n", n, 2)
    eps = check.real("eps", eps, 0.0)
    if not eps > 0:
        raise ValueError(f"eps must be > 0; got {eps!r}")
    act, g, b = network.act, network.gain, network.bias
    where = f"{network.label()}"
    if "batch" in (network.centering, network.scaling):
        return Prediction(
            network, None, None, False,
            f"{where}: batch normalization mixes the whole batch into every entry, so there is no "
            "entrywise infinite-width map; simulate it at large width",
        )  # fmt: skip
    if network.scaling == "none":
        return Prediction(
            network, None, None, False,
            f"{where}: without a scaling step the diagonal evolves with the correlations (the NNGP "
            "recursion), so no single correlation map applies; see isoinit.meanfield.trajectory",
        )  # fmt: skip
    if network.order == "act-norm" and network.centering == "none" and network.scaling == "mf":
        return Prediction(
            network, None, None, False,
            f"{where}: mf scaling without centering leaves rows of mean square E sigma^2 / Var sigma, "
            "not 1, so the next block sees another gain; see isoinit.meanfield.trajectory",
        )  # fmt: skip
    s2 = g * g + b * b
    if not s2 > 0:
        raise ValueError(f"network must have gain or bias > 0 for a prediction; got gain={g}, bias={b}")

    def pre(r: _F) -> _F:
        return (g * g * r + b * b) / s2  # the pre-activation correlation (act-norm)

    if network.order == "act-norm" and network.centering in ("layer", "mf"):
        kernel: Kernel = "centered"
        s = math.sqrt(s2)
        fp = kernel_fixed_point(
            lambda r: centered_kernel(act, pre(r), gain=s),
            lambda r: centered_kernel_derivative(act, pre(r), gain=s) * (g * g / s2),
        )
    elif network.order == "act-norm":
        kernel = "rms"
        s = math.sqrt(s2)
        fp = kernel_fixed_point(
            lambda r: rms_kernel(act, pre(r), gain=s),
            lambda r: rms_kernel_derivative(act, pre(r), gain=s) * (g * g / s2),
        )
    else:  # norm-act: sigma of unit-variance rows, then the next block's linear map
        kernel = "rms"
        m2 = moments(act).m2
        w = g * g * m2 / (g * g * m2 + b * b)  # rho -> (g^2 kappa(rho) + b^2) / (g^2 m2 + b^2)
        fp = kernel_fixed_point(
            lambda r: w * rms_kernel(act, r) + (1.0 - w),
            lambda r: w * rms_kernel_derivative(act, r),
        )
    bound = kernel == "centered" and b == 0.0
    if bound:  # exactly the theorem's slope beta_0 (the table's derivative agrees to ~1e-12)
        b0 = beta0(act, g)
        fp = replace(fp, slope0=b0, rate=1.0 / (2.0 - b0), a=1.0 - fp.f0 - b0)
    words = _FIXED_POINT_WORDS[fp.kind].format(rate=fp.rate, star=fp.rho_star)
    if bound:
        words += f" = 1 / (2 - beta_0), and the potential obeys gamma(G^l) <= gamma(G^0) {fp.rate:.4g}^l"
    if not (
        n is not None and bound and network.centering == "layer" and network.scaling == "layer" and network.eps == 0.0
    ):
        return Prediction(network, kernel, fp, bound, f"{where}: {words}", n, eps=eps)
    d = network.widths()[-1]
    mean, sd = fw_plateau(act, n, d, gain=g), fw_plateau_sd(act, n, d, gain=g)
    if math.isinf(mean):
        words += (
            f"; at finite width d = {d} the noise is never contracted (beta_0 = 1), so the gap of n = {n} "
            "samples grows with depth instead of settling"
        )
        return Prediction(network, kernel, fp, bound, f"{where}: {words}", n, mean, sd, eps)
    width = fw_width_for(act, n, eps, gain=g)
    words += (
        f"; at finite width d = {d} the gap of n = {n} samples settles at the plateau (n - 1) / (2 d (1 - beta_0^2)) "
        f"= {mean:.3g} (sd {sd:.2g} over networks) and falls below eps = {eps:g} from width {width}"
    )
    return Prediction(network, kernel, fp, bound, f"{where}: {words}", n, mean, sd, eps, width)


def indistinguishable_depth(slope1: float, eps: float = 1e-8) -> float:
    """Depth after which representations are numerically indistinguishable.

    ``L = ln(1/eps) / ln(1/kappa'(1))`` (Theory §5); ``inf`` when
    ``kappa'(1) >= 1``.

    Parameters
    ----------
    slope1 : float
        ``kappa'(1)`` of the normalized kernel (``FixedPoint.slope1``), ``> 0``.
    eps : float
        Resolution in ``(0, 1)``.
    """
    s = check.real("slope1", slope1, 0.0, finite=False)
    e = check.real("eps", eps, 0.0, 1.0, finite=False)
    if not 0.0 < e < 1.0:
        raise ValueError(f"eps must be in (0, 1); got {eps!r}")
    if s >= 1.0:
        return math.inf
    if s == 0.0:
        return 0.0
    return math.log(1.0 / e) / math.log(1.0 / s)


def polynomial_rate(rho0: float, depth: int, a: float) -> _F:
    """``|rho_0 - 1| / (l a |rho_0 - 1| + 1)`` for ``l = 0..depth``.

    The polynomial convergence to collapse when ``kappa'(1) = 1`` (Theory §5).

    Parameters
    ----------
    rho0 : float
        The input correlation ``rho_0`` in ``[-1, 1]``.
    depth : int
        The last layer ``l``, ``>= 0``.
    a : float
        The rate constant ``a >= 0`` of the map near ``rho = 1``.

    Returns
    -------
    ndarray
        ``(depth + 1,)``.
    """
    r0 = check.real("rho0", rho0, -1.0, 1.0, finite=False)
    av = check.real("a", a, 0.0, finite=False)
    layers = np.arange(check.integer("depth", depth, 0) + 1, dtype=np.float64)
    d = abs(r0 - 1.0)
    return np.asarray(d / (layers * av * d + 1.0))


def residual_kernel(
    activation: ActivationSpec,
    rho: ArrayLike,
    r: float,
    *,
    kernel: Kernel = "centered",
    gain: float = 1.0,
) -> _F:
    """Kernel of the residual block ``x' = sqrt(1 - r^2) f(x) + r x``.

    ``kappa_res(rho) = (1 - r^2) kappa(rho) + r^2 rho`` (Theory §5).

    Parameters
    ----------
    activation : str or Activation
    rho : array_like
        Correlations in ``[-1, 1]``.
    r : float
        Residual weight in ``[0, 1]``.
    kernel : {"centered", "rms"}
        The normalized kernel of the branch ``f``.
    gain : float
    """
    rv = check.real("r", r, 0.0, 1.0, finite=False)
    if kernel == "centered":
        k = centered_kernel(activation, rho, gain=gain)
    elif kernel == "rms":
        k = rms_kernel(activation, rho, gain=gain)
    else:
        raise ValueError(f"kernel must be one of centered, rms; got {kernel!r}")
    return np.asarray((1.0 - rv * rv) * k + rv * rv * np.clip(np.asarray(rho, float), -1, 1))
