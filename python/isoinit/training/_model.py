"""The training MLP (PyTorch) and the mean-field prediction of its isometry gaps.

See the notes of :mod:`isoinit.training` for why the prediction is isoinit's ``act-norm``
network on the layer-normalized batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from .. import _validate as check
from ..activations import Activation, ActivationSpec, resolve
from ..metrics import gram_metrics
from ..networks.mlp import MLP
from ..theory.meanfield import trajectory
from ._optional import _torch

if TYPE_CHECKING:
    import torch

__all__ = ["Protocol", "build_mlp", "meanfield_gaps"]

_F = NDArray[np.float64]
Protocol = Literal["faithful", "authors"]


def _activation(spec: ActivationSpec) -> Activation:
    act = resolve(spec)
    if act.torch is None:
        raise ValueError(
            f"activation must have a PyTorch function (a built-in, heK or from_hermite); got {act.name!r}, "
            "a Python callable"
        )
    return act


def _hidden(hidden: object) -> tuple[int, ...]:
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of widths; got {type(hidden).__name__}")
    widths = tuple(check.integer(f"hidden[{i}]", w, 1) for i, w in enumerate(hidden))
    if not widths:
        raise ValueError("hidden must hold at least one width; got an empty sequence")
    return widths


def build_mlp(
    activation: ActivationSpec,
    d_in: int,
    classes: int,
    hidden: Sequence[int] = (256,) * 10,
    *,
    protocol: Protocol = "faithful",
    bias: bool = True,
    eps: float = 1e-5,
    seed: int = 0,
    dtype: Literal["float32", "float64"] = "float32",
    gain: float = 1.0,
) -> torch.nn.Sequential:
    """The training MLP: ``L`` blocks ``LayerNorm -> Linear -> sigma``, then a linear read-out.

    Parameters
    ----------
    activation : str or Activation
        Any activation with a PyTorch function (:attr:`isoinit.activations.Activation.torch`).
    d_in, classes : int
        Input features and classes (the read-out's width).
    hidden : sequence of int
        The widths of the blocks (default: 10 blocks of width 256).
    protocol : {"faithful", "authors"}
        ``"authors"`` also applies ``sigma`` to the logits, as the authors' code did.
    bias : bool
        PyTorch's default biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (default), or none.
    eps : float
        The layer norms' epsilon (PyTorch's default ``1e-5``).
    seed : int
        Seed of the weights (a :class:`torch.Generator` of its own).
    dtype : {"float32", "float64"}
    gain : float
        Pre-activation gain ``alpha > 0``: the blocks' weights are ``N(0, alpha^2/fan_in)``, so
        at initialization each block applies ``x -> sigma(alpha x)`` to unit-variance
        pre-activations and its non-linearity strength is ``beta_0(sigma, alpha)``
        (:func:`isoinit.theory.hermite.beta0`); the read-out keeps ``N(0, 1/fan_in)``.

    Returns
    -------
    torch.nn.Sequential
        Children ``block1..blockL`` (each a ``Sequential`` of ``norm``, ``linear``, ``act``),
        ``readout``, and ``logit_act`` under the authors' protocol.
    """
    torch = _torch()
    from .. import _torchnet

    act = _activation(activation)
    d_in = check.integer("d_in", d_in, 1)
    classes = check.integer("classes", classes, 2)
    widths = _hidden(hidden)
    protocol = check.choice("protocol", protocol, get_args(Protocol))  # type: ignore[assignment]
    bias = check.boolean("bias", bias)
    eps = check.real("eps", eps, 0.0)
    seed = check.integer("seed", seed, 0, 2**63 - 1)
    gain = check.real("gain", gain, 0.0, low_open=True)
    dt = {"float32": torch.float32, "float64": torch.float64}[check.choice("dtype", dtype, ("float32", "float64"))]
    g = torch.Generator().manual_seed(seed)
    return _torchnet.build(
        act, d_in, classes, widths, authors=protocol == "authors", bias=bias, eps=eps, generator=g, dtype=dt, gain=gain
    )


def meanfield_gaps(activation: ActivationSpec, X: object, depth: int, *, eps: float = 1e-5, gain: float = 1.0) -> _F:
    """Infinite-width isometry gaps after the ``depth`` layer norms of the training MLP.

    After the first layer norm every block is ``Linear -> sigma -> LayerNorm``: isoinit's
    ``act-norm`` network ``MLP(depth - 1, width, sigma, "layer")`` on the layer-normalized
    batch, with the biases taken as zero: their variance vanishes at infinite width (the
    notes of :mod:`isoinit.training`).

    Parameters
    ----------
    activation : str or Activation
    X : array_like, shape (n, d)
        The batch (before the first layer norm).
    depth : int
        Number of blocks ``L``.
    eps : float
        Epsilon of the first layer norm (applied to the batch here).
    gain : float
        The blocks' pre-activation gain (:func:`build_mlp`).

    Returns
    -------
    ndarray, shape (depth,)
        Entry ``l - 1``: the gap after layer norm ``l``.
    """
    x = check.batch("X", X)
    depth = check.integer("depth", depth, 1)
    gain = check.real("gain", gain, 0.0, low_open=True)
    centered = x - x.mean(axis=1, keepdims=True)
    ln = centered / np.sqrt((centered**2).mean(axis=1, keepdims=True) + eps)
    if depth == 1:
        return np.asarray([gram_metrics(ln, gram=False)["gap"]], dtype=np.float64).reshape(1)
    mf = trajectory(MLP(depth - 1, max(2, x.shape[0]), _activation(activation), "layer", gain=gain), ln)
    return np.asarray(mf.gap, dtype=np.float64).reshape(-1)
