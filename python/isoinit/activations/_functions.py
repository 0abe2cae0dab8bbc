"""The activations' formulas: NumPy and PyTorch versions, and the constants they use."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from .. import _core

if TYPE_CHECKING:
    from torch import Tensor


_CONSTANTS = _core.constants()
#: SELU constants as in PyTorch (Klambauer et al. 2017), the kernel's (activation.hpp).
SELU_ALPHA: float = _CONSTANTS["SELU_ALPHA"]
SELU_LAMBDA: float = _CONSTANTS["SELU_LAMBDA"]

_SQRT2 = math.sqrt(2.0)
_GELU_TANH_C = math.sqrt(2.0 / math.pi)


def hermite_he(k: int, x: ArrayLike) -> NDArray[np.float64]:
    """Probabilists' Hermite polynomial ``He_k(x)`` (unnormalized).

    Computed by the recurrence ``He_{k+1} = x He_k - k He_{k-1}``.

    Parameters
    ----------
    k : int
        The degree, ``>= 0``.
    x : array_like
        Where to evaluate it, any shape.

    Returns
    -------
    ndarray
        The same shape as ``x``, float64.
    """
    x = np.asarray(x, dtype=np.float64)
    if k < 0:
        raise ValueError(f"k must be >= 0; got {k}")
    h_prev = np.ones_like(x)
    if k == 0:
        return h_prev
    h: NDArray[np.float64] = x.copy()
    for j in range(1, k):
        h_prev, h = h, x * h - j * h_prev
    return h


def _softplus(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = special.expit(x)
    return out


def _elu(x: NDArray[np.float64], a: float) -> NDArray[np.float64]:
    return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0)))


# The PyTorch halves (``Builtin.torch``) use tensor methods only, so this module never imports
# torch; each is the NumPy formula above it, written so that no branch of a ``where`` overflows
# (an overflowing unselected branch would still poison the gradient with NaN).


def hermite_he_torch(k: int, x: Tensor) -> Tensor:
    """:func:`hermite_he` on a PyTorch tensor (same recurrence, differentiable).

    Parameters
    ----------
    k : int
        The degree, ``>= 0``.
    x : torch.Tensor
        Where to evaluate it, any shape.

    Returns
    -------
    torch.Tensor
        The same shape and dtype as ``x``.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0; got {k}")
    h_prev = x.new_ones(())
    if k == 0:
        return h_prev.expand_as(x).clone()
    h = x
    for j in range(1, k):
        h_prev, h = h, x * h - j * h_prev
    return h


def _softplus_t(x: Tensor) -> Tensor:
    return x.clamp(min=0.0) + (-x.abs()).exp().log1p()


def _elu_t(x: Tensor, a: float) -> Tensor:
    return x.where(x > 0, a * x.clamp(max=0.0).expm1())


_Fn = Callable[[NDArray[np.float64]], NDArray[np.float64]]
#: ``(tensor, a) -> tensor``: an activation in PyTorch (``a`` the parameter, 0 if none).
TorchFn = Callable[["Tensor", float], "Tensor"]
