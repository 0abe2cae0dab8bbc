"""The built-in activations: one record each (formula, parameter, kinks, closed form, kernel name)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy import special

from ._closed_forms import ClosedForm, Erf, Exponential, Gelu, Homogeneous, StepLike
from ._functions import (
    _GELU_TANH_C,
    _SQRT2,
    SELU_ALPHA,
    SELU_LAMBDA,
    TorchFn,
    _elu,
    _elu_t,
    _sigmoid,
    _softplus,
    _softplus_t,
)

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Param:
    """The one numeric parameter of a built-in activation and its domain.

    Attributes
    ----------
    name : str
        What it is called (``slope``, ``alpha``).
    default : float
        Its value when the spec gives none (``"elu"`` is ``"elu(1)"``).
    low : float or None
        Values must be finite and ``> low`` (``None``: any finite number).
    """

    name: str
    default: float
    low: float | None = None

    @property
    def domain(self) -> str:
        """The domain in words, for messages and the docs."""
        return "finite" if self.low is None else f"finite and > {self.low:g}"

    def admits(self, value: float) -> bool:
        """Whether ``value`` lies in the domain.

        Parameters
        ----------
        value : float
            A value of the parameter.

        Returns
        -------
        bool
        """
        return math.isfinite(value) and (self.low is None or value > self.low)


@dataclass(frozen=True)
class Builtin:
    """One built-in activation: the Python half of its declaration.

    The compiled half is its entry in the X-macro list of
    ``cpp/include/isoinit/activation.hpp`` (same name, same formula); a test checks that
    both halves list the same names and agree to 1e-12 on every value.

    Attributes
    ----------
    fn : callable
        ``(x, a) -> sigma_a(x)``, vectorized float64 (``a`` is the parameter, 0 if none).
    formula : str
        The formula in words (docs, ``--help``).
    kinks : tuple of float
        Points where ``fn`` or a derivative jumps (quadrature is split there).
    param : Param or None
        Its parameter and the parameter's domain, if it has one.
    closed : ClosedForm or None
        The family of ``isoinit.activations._closed_forms`` that gives its Hermite coefficients,
        moments and kernel in closed form; ``None``: quadrature (:mod:`isoinit.hermite`).
    torch : callable
        ``(tensor, a) -> tensor``: the same formula with PyTorch tensor operations
        (differentiable; used by :mod:`isoinit.training`). A test checks it against ``fn``
        to 1e-12 in float64 and 1e-6 in float32.
    """

    fn: Callable[[NDArray[np.float64], float], NDArray[np.float64]]
    formula: str
    kinks: tuple[float, ...] = ()
    param: Param | None = None
    closed: ClosedForm | None = None
    torch: TorchFn = field(kw_only=True, compare=False, repr=False)


def _leaky_weights(a: float) -> tuple[float, float]:
    return a, 1.0 - a


#: The built-in activations, by kernel name, in the order of the compiled table. ``heK``
#: (``0 <= K <= 30``) is the Hermite family, matched separately.
BUILTIN: dict[str, Builtin] = {
    "identity": Builtin(
        lambda x, a: x.copy(),
        "x",
        closed=Homogeneous(lambda a: (1.0, 0.0), lambda a: 1.0, lambda a: (1.0, 0.0)),
        torch=lambda x, a: x.clone(),
    ),
    "relu": Builtin(
        lambda x, a: np.maximum(x, 0.0),
        "max(x, 0)",
        (0.0,),
        closed=Homogeneous(lambda a: (0.0, 1.0), lambda a: 0.5, lambda a: (0.0, 1.0)),
        torch=lambda x, a: x.clamp(min=0.0),
    ),
    "leaky_relu": Builtin(
        lambda x, a: np.where(x >= 0, x, a * x),
        "x if x >= 0 else slope x",
        (0.0,),
        Param("slope", 0.01),
        Homogeneous(_leaky_weights, lambda a: 0.5 * (1.0 + a * a), lambda a: (a, (1.0 - a) ** 2)),
        torch=lambda x, a: x.where(x >= 0, a * x),
    ),
    "tanh": Builtin(lambda x, a: np.tanh(x), "tanh(x)", torch=lambda x, a: x.tanh()),
    "sigmoid": Builtin(lambda x, a: _sigmoid(x), "1 / (1 + exp(-x))", torch=lambda x, a: x.sigmoid()),
    "sin": Builtin(lambda x, a: np.sin(x), "sin(x)", closed=Exponential("sin"), torch=lambda x, a: x.sin()),
    "cos": Builtin(lambda x, a: np.cos(x), "cos(x)", closed=Exponential("cos"), torch=lambda x, a: x.cos()),
    "exp": Builtin(lambda x, a: np.exp(x), "exp(x)", closed=Exponential("exp"), torch=lambda x, a: x.exp()),
    "erf": Builtin(lambda x, a: special.erf(x), "erf(x)", closed=Erf(), torch=lambda x, a: x.erf()),
    "gelu": Builtin(
        lambda x, a: 0.5 * x * (1.0 + special.erf(x / _SQRT2)),
        "x Phi(x)",
        closed=Gelu(),
        torch=lambda x, a: 0.5 * x * (1.0 + (x / _SQRT2).erf()),
    ),
    "gelu_tanh": Builtin(
        lambda x, a: 0.5 * x * (1.0 + np.tanh(_GELU_TANH_C * (x + 0.044715 * x**3))),
        "x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2, the tanh approximation of GELU",
        torch=lambda x, a: 0.5 * x * (1.0 + (_GELU_TANH_C * (x + 0.044715 * x**3)).tanh()),
    ),
    "silu": Builtin(lambda x, a: x * _sigmoid(x), "x sigmoid(x)", torch=lambda x, a: x * x.sigmoid()),
    "quick_gelu": Builtin(
        lambda x, a: x * _sigmoid(1.702 * x),
        "x sigmoid(1.702 x), the sigmoid approximation of GELU (CLIP's)",
        torch=lambda x, a: x * (1.702 * x).sigmoid(),
    ),
    "selu": Builtin(
        lambda x, a: SELU_LAMBDA * _elu(x, SELU_ALPHA),
        "lambda elu_alpha(x) with PyTorch's constants",
        (0.0,),
        torch=lambda x, a: SELU_LAMBDA * _elu_t(x, SELU_ALPHA),
    ),
    "elu": Builtin(_elu, "x if x > 0 else alpha (e^x - 1)", (0.0,), Param("alpha", 1.0, low=0.0), torch=_elu_t),
    "celu": Builtin(
        lambda x, a: np.maximum(x, 0.0) + a * np.expm1(np.minimum(x, 0.0) / a),
        "max(0, x) + min(0, alpha (e^(x/alpha) - 1))",
        (0.0,),
        Param("alpha", 1.0, low=0.0),
        torch=lambda x, a: x.clamp(min=0.0) + a * (x.clamp(max=0.0) / a).expm1(),
    ),
    "softplus": Builtin(lambda x, a: _softplus(x), "log(1 + e^x)", torch=lambda x, a: _softplus_t(x)),
    "step": Builtin(
        lambda x, a: (x > 0).astype(np.float64),
        "1 if x > 0 else 0",
        (0.0,),
        closed=StepLike(0.0, 1.0),
        torch=lambda x, a: (x > 0).to(x.dtype),
    ),
    "sign": Builtin(
        lambda x, a: np.sign(x), "sign(x)", (0.0,), closed=StepLike(-1.0, 2.0), torch=lambda x, a: x.sign()
    ),
    "abs": Builtin(
        lambda x, a: np.abs(x),
        "|x|",
        (0.0,),
        closed=Homogeneous(lambda a: (-1.0, 2.0), lambda a: 1.0, lambda a: (-1.0, 4.0)),
        torch=lambda x, a: x.abs(),
    ),
    "softsign": Builtin(
        lambda x, a: x / (1.0 + np.abs(x)), "x / (1 + |x|)", (0.0,), torch=lambda x, a: x / (1.0 + x.abs())
    ),
    "hardtanh": Builtin(
        lambda x, a: np.clip(x, -1.0, 1.0), "min(max(x, -1), 1)", (-1.0, 1.0), torch=lambda x, a: x.clamp(-1.0, 1.0)
    ),
    "mish": Builtin(
        lambda x, a: x * np.tanh(_softplus(x)), "x tanh(softplus(x))", torch=lambda x, a: x * _softplus_t(x).tanh()
    ),
}
