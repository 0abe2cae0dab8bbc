"""The one table of activation functions shared by the engine and the theory.

An activation is named by a *spec* string: a registered name, optionally with one numeric
parameter in parentheses (``"relu"``, ``"leaky_relu(0.2)"``, ``"elu(0.5)"``, ``"he3"``).
:func:`resolve` turns a spec (or an :class:`Activation`) into an :class:`Activation`,
which carries

* ``fn``: the vectorized NumPy function (the reference the compiled engine is tested
  against, to 1e-12);
* ``kinks``: the points where it is not smooth, so quadrature can be split there;
* ``engine``: the name the compiled kernel knows it by, or ``None`` for a user callable
  (activations defined by Hermite coefficients have the engine name ``hermite``).

Users add their own with :func:`register` (a vectorized callable) or
:func:`from_hermite` (normalized Hermite coefficients ``c_0, c_1, ...``; Theory
§4 of the documentation). Both run in the compiled simulator: a callable through
:func:`tabulate`, a piecewise polynomial the engine evaluates at full speed, whose largest
deviation from the callable is measured and reported (:attr:`Tabulation.max_error`).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from .. import _core
from .._warnings import IsoinitWarning
from ._closed_forms import ClosedForm, Erf, Exponential, Gelu, HermiteSeries, Homogeneous, StepLike

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "BUILTIN",
    "HE_MAX",
    "SELU_ALPHA",
    "SELU_LAMBDA",
    "TABLE_WARN",
    "Activation",
    "ActivationSpec",
    "Builtin",
    "Param",
    "Tabulation",
    "available",
    "from_hermite",
    "hermite_he",
    "hermite_he_torch",
    "register",
    "registered",
    "resolve",
    "tabulate",
]


def __dir__() -> list[str]:
    return sorted(__all__)


_CONSTANTS = _core.constants()
#: SELU constants as in PyTorch (Klambauer et al. 2017), the kernel's (activation.hpp).
SELU_ALPHA: float = _CONSTANTS["SELU_ALPHA"]
SELU_LAMBDA: float = _CONSTANTS["SELU_LAMBDA"]

_SQRT2 = math.sqrt(2.0)
_GELU_TANH_C = math.sqrt(2.0 / math.pi)


def hermite_he(k: int, x: ArrayLike) -> NDArray[np.float64]:
    """Probabilists' Hermite polynomial ``He_k(x)`` (unnormalized).

    Computed by the recurrence ``He_{k+1} = x He_k - k He_{k-1}``.
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
    """:func:`hermite_he` on a PyTorch tensor (same recurrence, differentiable)."""
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
        """Whether ``value`` lies in the domain."""
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
        The family of :mod:`isoinit.activations._closed_forms` that gives its Hermite coefficients,
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


#: The built-in activations, by engine name, in the order of the compiled table. ``heK``
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

_HE_RE = re.compile(r"^he(\d+)$")
_SPEC_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(\s*([^()]*?)\s*\))?\s*$")
#: Highest built-in Hermite polynomial order (the kernel's).
HE_MAX: int = _CONSTANTS["HE_MAX"]


@dataclass(frozen=True)
class Activation:
    """A resolved activation.

    Attributes
    ----------
    name : str
        Canonical spec, e.g. ``"leaky_relu(0.01)"``; equal specs give equal activations.
    base : str
        Registered name without the parameter (``"leaky_relu"``, ``"he3"``).
    param : float or None
        The parameter (slope of leaky ReLU, alpha of ELU/CELU), if the activation has one.
    fn : callable
        Vectorized float64 function ``ndarray -> ndarray``.
    kinks : tuple of float
        Points where ``fn`` or its derivative is discontinuous.
    engine : str or None
        Name understood by the compiled kernel, or ``None`` for a user callable (the engine
        runs its table, :attr:`tabulation`).
    hermite : tuple of float or None
        For activations defined by normalized Hermite coefficients, ``c_0, c_1, ...``.
    closed : ClosedForm or None
        The family giving its Gaussian integrals in closed form (:mod:`isoinit.activations._closed_forms`),
        ``None`` for quadrature.
    torch : callable or None
        The same function on PyTorch tensors, ``tensor -> tensor`` (differentiable), for
        built-ins, ``heK`` and Hermite-defined activations; ``None`` for user callables.
    """

    name: str
    base: str
    param: float | None
    fn: _Fn = field(compare=False, repr=False)
    kinks: tuple[float, ...] = ()
    engine: str | None = None
    hermite: tuple[float, ...] | None = None
    closed: ClosedForm | None = field(default=None, compare=False, repr=False)
    torch: Callable[[Tensor], Tensor] | None = field(default=None, compare=False, repr=False)

    def __call__(self, x: ArrayLike) -> NDArray[np.float64]:
        """Apply the activation elementwise.

        Parameters
        ----------
        x : array_like
            Points, converted to float64.

        Returns
        -------
        ndarray of float64
            ``fn(x)``.
        """
        return self.fn(np.asarray(x, dtype=np.float64))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by definition, not by function.

        A built-in or ``heK`` by its spec (the parameter exactly, ``repr`` of the float), a
        Hermite-defined activation by its coefficients; a user callable pickles as itself (it
        must be picklable).
        """
        if self.hermite is not None:
            return (_hermite_named, (self.hermite, self.name))
        if self.engine is not None:
            return (resolve, (self.base if self.param is None else f"{self.base}({self.param!r})",))
        return (_rebuild, (self.name, self.base, self.param, self.fn, self.kinks))

    @property
    def tabulation(self) -> Tabulation | None:
        """How the engine runs a user callable: ``tabulate(self)`` (``None`` for the others).

        The table on the default range ``[-16, 16]``; :func:`isoinit.simulate` may use a wider
        one for a network whose pre-activations are wider (large gain or bias, no scaling).
        """
        return tabulate(self) if self.engine is None else None

    @property
    def engine_param(self) -> float:
        """The numeric parameter passed to the compiled kernel (0 when unused)."""
        if self.base.startswith("he") and _HE_RE.match(self.base):
            return float(self.base[2:])
        return 0.0 if self.param is None else float(self.param)


ActivationSpec = str | Activation

_USER: dict[str, Activation] = {}


def available() -> list[str]:
    """Names of every registered activation (built-in first, ``he1..he30`` folded as ``heK``)."""
    return [*BUILTIN, "heK", *_USER]


def registered(name: str) -> Activation | None:
    """The activation registered under ``name`` by :func:`register` or :func:`from_hermite`, if any."""
    return _USER.get(name.lower()) if isinstance(name, str) else None


def _unknown(spec: object) -> Exception:
    names = ", ".join([*BUILTIN, "he0..he30", *_USER])
    return (ValueError if isinstance(spec, str) else TypeError)(f"activation must be one of {names}; got {spec!r}")


def _he_activation(k: int) -> Activation:
    """``He_K``, the unnormalized probabilists' Hermite polynomial ``sqrt(K!) he_K``."""
    coeffs = (0.0,) * k + (math.sqrt(math.factorial(k)),)
    return Activation(
        name=f"he{k}",
        base=f"he{k}",
        param=None,
        fn=partial(_he_fn, k),
        engine=f"he{k}",
        closed=HermiteSeries(coeffs),
        torch=partial(hermite_he_torch, k),
    )


def resolve(spec: ActivationSpec) -> Activation:
    """Turn an activation spec into an :class:`Activation`.

    Parameters
    ----------
    spec : str or Activation
        ``"name"`` or ``"name(param)"`` for activations with a parameter
        (``leaky_relu`` slope, ``elu``/``celu`` alpha), ``"heK"`` for the Hermite
        polynomial ``He_K``, a name given to :func:`register`, or an ``Activation``.

    Raises
    ------
    TypeError
        If ``spec`` is neither a string nor an ``Activation``.
    ValueError
        If the name is unknown or the parameter is malformed or out of range.
    """
    if isinstance(spec, Activation):
        return spec
    if not isinstance(spec, str):
        raise _unknown(spec)
    m = _SPEC_RE.match(spec)
    if not m:
        raise _unknown(spec)
    base, arg = m.group(1).lower(), m.group(2)
    if base in _USER and arg is None:
        return _USER[base]
    hm = _HE_RE.match(base)
    if hm:
        k = int(hm.group(1))
        if arg is not None or not 0 <= k <= HE_MAX:
            raise ValueError(f"activation 'heK' needs 0 <= K <= {HE_MAX} and no parameter; got {spec!r}")
        return _he_activation(k)
    if base not in BUILTIN:
        raise _unknown(spec)
    b = BUILTIN[base]
    if b.param is None:
        if arg is not None:
            raise ValueError(f"activation {base!r} takes no parameter; got {spec!r}")
        fn = partial(_with_param, b.fn, 0.0)
        return Activation(
            name=base,
            base=base,
            param=None,
            fn=fn,
            kinks=b.kinks,
            engine=base,
            closed=b.closed,
            torch=partial(_with_param_t, b.torch, 0.0),
        )
    value = b.param.default
    if arg is not None:
        try:
            value = float(arg)
        except ValueError:
            raise ValueError(f"activation {base!r} parameter {b.param.name} must be a number; got {spec!r}") from None
    if not b.param.admits(value):
        raise ValueError(f"activation {base!r} parameter {b.param.name} must be {b.param.domain}; got {spec!r}")
    return Activation(
        name=f"{base}({value:g})",
        base=base,
        param=value,
        fn=partial(_with_param, b.fn, value),
        kinks=b.kinks,
        engine=base,
        closed=b.closed,
        torch=partial(_with_param_t, b.torch, value),
    )


def _he_fn(k: int, x: NDArray[np.float64]) -> NDArray[np.float64]:
    return hermite_he(k, x)


def _with_param(
    f: Callable[[NDArray[np.float64], float], NDArray[np.float64]], a: float, x: NDArray[np.float64]
) -> NDArray[np.float64]:
    return f(x, a)


def _with_param_t(f: TorchFn, a: float, x: Tensor) -> Tensor:
    return f(x, a)


def _as_float(f: _Fn, x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(f(x), dtype=np.float64)


def _check_new_name(name: str) -> str:
    if not isinstance(name, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise ValueError(f"name must be an identifier; got {name!r}")
    low = name.lower()
    if low in BUILTIN or _HE_RE.match(low) or low == "hermite":
        raise ValueError(f"name {name!r} is a built-in activation and cannot be replaced")
    return low


def register(name: str, fn: _Fn, *, kinks: Sequence[float] = (), overwrite: bool = False) -> Activation:
    """Register a user activation given as a vectorized callable.

    The theory modules (:mod:`isoinit.hermite`, :mod:`isoinit.meanfield`) and the
    simulator (:func:`isoinit.simulate`, :func:`isoinit.forward`) accept it by name
    afterwards. The simulator never calls ``fn`` inside the compiled loop: on first use it
    tabulates it once (:func:`tabulate`: a degree-5 polynomial per cell of a uniform grid
    on ``[-16, 16]``, wider for wider pre-activations, with the declared kinks on cell
    boundaries and tangent lines beyond the ends), measures the table's largest error
    against ``fn`` (:attr:`Tabulation.max_error`, typically 1e-14 for a smooth function)
    and warns (:class:`~isoinit.IsoinitWarning`) if it exceeds :data:`TABLE_WARN`, which
    is what an undeclared kink or a singularity does.

    Parameters
    ----------
    name : str
        Identifier, not a built-in name.
    fn : callable
        Maps a float64 array to a float64 array of the same shape, elementwise.
    kinks : sequence of float
        Points where ``fn`` or a derivative jumps (quadrature is split there, and the
        simulator's table puts cell boundaries there).
    overwrite : bool
        Replace an earlier registration of the same name.
    """
    low = _check_new_name(name)
    if low in _USER and not overwrite:
        raise ValueError(f"name {name!r} is already registered; pass overwrite=True to replace it")
    if not callable(fn):
        raise TypeError(f"fn must be a callable (a vectorized function of a float64 array); got {fn!r}")
    allowed = "an elementwise, vectorized function: a float64 array in, a real array of the same shape out"
    try:
        with np.errstate(all="ignore"):
            raw = fn(np.linspace(-1.0, 1.0, 5))
    except Exception as err:
        raise TypeError(
            f"fn must be {allowed}; calling it on an array of 5 values raised {type(err).__name__}: {err} "
            "(use numpy functions, e.g. np.tanh rather than math.tanh, or wrap it with np.vectorize)"
        ) from err
    try:
        if raw is None or isinstance(raw, (str, bytes)):
            raise TypeError("not numbers")
        probe = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"fn must be {allowed}; it returned {type(raw).__name__}") from err
    if probe.shape != (5,):
        raise ValueError(f"fn must be {allowed}; on an array of shape (5,) it returned shape {probe.shape}")
    act = Activation(
        name=low,
        base=low,
        param=None,
        fn=partial(_as_float, fn),
        kinks=tuple(sorted(float(k) for k in kinks)),
        engine=None,
    )
    _USER[low] = act
    return act


def from_hermite(coefficients: Sequence[float], *, name: str | None = None) -> Activation:
    """Define an activation by its normalized Hermite coefficients.

    ``sigma(x) = sum_k c_k he_k(x)`` with ``he_k = He_k / sqrt(k!)`` (Theory §4).
    Such an activation runs in the compiled simulator too.

    Parameters
    ----------
    coefficients : sequence of float
        ``c_0, c_1, ..., c_K`` (at most 31 of them), finite, not all zero.
    name : str, optional
        If given, the activation is also registered under this name.
    """
    c = np.asarray(coefficients, dtype=np.float64)
    if c.ndim != 1 or c.size == 0 or c.size > HE_MAX + 1:
        raise ValueError(f"coefficients must be a 1-D sequence of 1 to {HE_MAX + 1} numbers; got shape {c.shape}")
    if not np.all(np.isfinite(c)) or not np.any(c):
        raise ValueError(f"coefficients must be finite and not all zero; got {c.tolist()}")
    coeffs = tuple(float(v) for v in c)
    norms = [1.0 / math.sqrt(math.factorial(k)) for k in range(len(coeffs))]

    def fn(x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros_like(x)
        h_prev, h = np.ones_like(x), x.copy()
        for k, ck in enumerate(coeffs):
            if k == 0:
                out += ck * h_prev
            elif k == 1:
                out += ck * h
            else:
                h_prev, h = h, x * h - (k - 1) * h_prev
                out += ck * norms[k] * h
        return out

    def torch_fn(x: Tensor) -> Tensor:
        out = coeffs[0] * x.new_ones(()).expand_as(x)
        h_prev, h = x.new_ones(()), x
        for k, ck in enumerate(coeffs[1:], start=1):
            if k >= 2:
                h_prev, h = h, x * h - (k - 1) * h_prev
            out = out + ck * norms[k] * h
        return out

    label = "hermite(" + ",".join(f"{v:.6g}" for v in coeffs) + ")"
    act = Activation(
        name=label if name is None else _check_new_name(name),
        base="hermite",
        param=None,
        fn=fn,
        engine="hermite",
        hermite=coeffs,
        closed=HermiteSeries(coeffs),
        torch=torch_fn,
    )
    if name is not None:
        _USER[act.name] = act
    return act


def markdown_table() -> str:
    """The built-in activations as a Markdown table (the list in ``docs/activations.md``).

    One row per entry of :data:`BUILTIN` (then the ``heK`` family): name, parameter and its
    domain, formula, kinks, and where the Gaussian integrals come from (a closed-form
    family of :mod:`isoinit.activations._closed_forms`, or quadrature).
    """
    rows = ["| name | parameter | formula | kinks | Hermite coefficients, moments, kernel |", "|---|---|---|---|---|"]
    for name, b in BUILTIN.items():
        param = "" if b.param is None else f"`{b.param.name}` = {b.param.default:g} ({b.param.domain})"
        kinks = ", ".join(f"{k:g}" for k in b.kinks)
        if b.closed is None:
            source = "quadrature"
        else:
            source = f"closed form ({type(b.closed).__name__})"
            if not b.closed.has_kernel:
                source += "; kernel by quadrature"
        formula = b.formula.replace("|", "\\|")  # a bar inside a cell must be escaped
        rows.append(f"| `{name}` | {param} | {formula} | {kinks} | {source} |")
    rows.append(
        f"| `heK` | K = 0..{HE_MAX} in the name | He_K(x), probabilists' Hermite polynomial |  "
        "| closed form (HermiteSeries) |"
    )
    return "\n".join(rows) + "\n"


def _hermite_named(coefficients: tuple[float, ...], name: str) -> Activation:
    """:func:`from_hermite` under ``name`` without registering it (unpickling)."""
    return replace(from_hermite(coefficients), name=name)


def _rebuild(name: str, base: str, param: float | None, fn: _Fn, kinks: tuple[float, ...]) -> Activation:
    """A user activation from its fields (unpickling)."""
    return Activation(name=name, base=base, param=param, fn=fn, kinks=kinks)


# --- tabulation: a user callable in the compiled engine -----------------------------------

#: :func:`isoinit.simulate` warns when the table of a user callable deviates from it by
#: more than this (relative to ``max(1, |fn|)``), or when more than this fraction of the
#: mean-field pre-activations falls outside the table (where the tails are linear).
TABLE_WARN = 1e-8
# the kernel's table layout: a header (lo, hi, 1 / cell, cells, f(lo), f'(lo), f(hi), f'(hi))
# then the monomial coefficients of each cell's polynomial
_TABLE_DEGREE: int = _CONSTANTS["TABLE_DEGREE"]
_TABLE_HEADER: int = _CONSTANTS["TABLE_HEADER"]
#: Cells are halved from 1/8 until the table is this accurate, or until this many cells.
_TABLE_TARGET = 2e-14
_TABLE_MAX_CELLS = 2**15
#: Interpolation nodes in u in [-1, 1] (Chebyshev points of the first kind: interior, so a
#: kink on a cell boundary is never evaluated) and the check points of every cell (t = j/8).
_NODES = np.cos((2 * np.arange(_TABLE_DEGREE + 1) + 1) * np.pi / (2 * (_TABLE_DEGREE + 1)))
_TO_MONOMIAL = np.linalg.inv(np.vander(_NODES, _TABLE_DEGREE + 1, increasing=True))
_CHECK = np.arange(8) / 8.0


@dataclass(frozen=True, eq=False)
class Tabulation:
    """A user callable as the compiled engine runs it: a piecewise polynomial.

    On ``[lo, hi]``, cut into ``cells`` cells of width ``cell``, each cell holds the
    degree-5 polynomial interpolating ``fn`` at its 6 Chebyshev points (interior points,
    so a kink or jump on a cell boundary costs no accuracy); beyond the ends the table
    continues along the tangent lines of the end cells (the tails). The engine evaluates it
    with a floor, a few loads and a Horner scheme.

    Attributes
    ----------
    activation : str
        The tabulated activation's name.
    lo, hi : float
        The range; ``lo <= -half_width`` and ``hi >= half_width``.
    cells : int
        Number of cells.
    cell : float
        Cell width, ``(hi - lo) / cells``.
    max_error : float
        ``max |table(x) - fn(x)| / max(1, |fn(x)|)`` over 8 points of every cell (the
        boundaries and the 7 points at eighths between; declared kinks excluded), which
        includes the points halfway between the interpolation nodes where the error of a
        smooth function peaks.
    worst_x : float
        Where that maximum is attained (the place to look for an undeclared kink).
    kinks_on_knots : tuple of float
        The declared kinks inside the range that lie on cell boundaries (all of them when
        their spacings are commensurate; otherwise the first, and ``max_error`` shows the
        cost of the others).
    packed : ndarray of float64
        The table in the engine's layout (``cpp/include/isoinit/activation.hpp``,
        ``TABLE_HEADER``): the configuration's ``coeffs`` of the ``table`` activation.
    """

    activation: str
    lo: float
    hi: float
    cells: int
    cell: float
    max_error: float
    worst_x: float
    kinks_on_knots: tuple[float, ...]
    packed: NDArray[np.float64] = field(repr=False)

    def __call__(self, x: ArrayLike) -> NDArray[np.float64]:
        """The table's values at ``x`` (the compiled evaluator, as the engine runs it).

        Parameters
        ----------
        x : array_like
            Points, converted to float64.

        Returns
        -------
        ndarray of float64
            Same shape as ``x``.
        """
        x = np.asarray(x, dtype=np.float64)
        out: NDArray[np.float64] = _core.activation_apply("table", 0.0, self.packed.tolist(), x)
        return out

    def tail_mass(self, std: float) -> float:
        """Probability that ``N(0, std^2)`` falls outside ``[lo, hi]`` (where the table is linear).

        Parameters
        ----------
        std : float
            Standard deviation of the pre-activations, ``> 0``.
        """
        s = math.sqrt(2.0) * std
        return 0.5 * (math.erfc(-self.lo / s) + math.erfc(self.hi / s))


def _fn_values(act: Activation, x: NDArray[np.float64], lo: float, hi: float) -> NDArray[np.float64]:
    with np.errstate(all="ignore"):
        y = np.asarray(act.fn(x), dtype=np.float64)
    bad = ~np.isfinite(y)
    if bad.any():
        k = np.flatnonzero(bad)[np.argmin(x[bad])]
        raise ValueError(
            f"activation {act.name!r} must be finite on [{lo:g}, {hi:g}], where the simulator tabulates it; "
            f"got {y[k]} at x = {float(x[k])!r}"
        )
    return y


def _grid(kinks: tuple[float, ...], half_width: float, cell: float) -> tuple[float, float, int, tuple[float, ...]]:
    """``(lo, cell, cells, kinks on knots)``: a uniform grid covering ``[-half_width, half_width]``.

    It has a knot on the first kink inside, and on every one if their spacings allow.
    """
    inside = [k for k in kinks if -half_width < k < half_width]
    candidates = [cell]
    if len(inside) >= 2:
        span = inside[-1] - inside[0]
        candidates.append(span / math.ceil(span / cell))
    best: tuple[float, float, int, tuple[float, ...]] | None = None
    for h in candidates:
        anchor = inside[0] if inside else 0.0
        lo = anchor - math.ceil((anchor + half_width) / h - 1e-9) * h
        cells = math.ceil((half_width - lo) / h - 1e-9)
        on = tuple(k for k in inside if abs((k - lo) / h - round((k - lo) / h)) <= 1e-9)
        if best is None or len(on) > len(best[3]):
            best = (lo, h, cells, on)
    assert best is not None
    return best


def _build(act: Activation, half_width: float, cell: float) -> Tabulation:
    lo, h, cells, on = _grid(act.kinks, half_width, cell)
    hi = lo + cells * h
    left = lo + h * np.arange(cells)
    mid = left + 0.5 * h
    values = _fn_values(act, (mid[:, None] + 0.5 * h * _NODES[None, :]).ravel(), lo, hi).reshape(cells, -1)
    poly = values @ _TO_MONOMIAL.T  # (cells, 6): coefficients of u^0..u^5
    powers = np.arange(1, _TABLE_DEGREE + 1)
    slope_scale = 2.0 / h
    left_slope = float(np.sum(powers * poly[0, 1:] * (-1.0) ** (powers - 1)) * slope_scale)
    right_slope = float(np.sum(powers * poly[-1, 1:]) * slope_scale)
    header = [lo, hi, cells / (hi - lo), float(cells), float(np.sum(poly[0] * (-1.0) ** np.arange(6)))]
    header += [left_slope, float(np.sum(poly[-1])), right_slope]
    packed = np.concatenate([np.asarray(header), poly.ravel()])
    tab = Tabulation(act.name, lo, hi, cells, h, 0.0, 0.0, on, packed)
    x = (left[:, None] + h * _CHECK[None, :]).ravel()
    x = np.concatenate([x, [hi]])
    if on:
        x = x[~np.isin(x, lo + h * np.round((np.asarray(on) - lo) / h))]
    ref = _fn_values(act, x, lo, hi)
    err = np.abs(tab(x) - ref) / np.maximum(1.0, np.abs(ref))
    k = int(np.argmax(err))
    return replace(tab, max_error=float(err[k]), worst_x=float(x[k]))


def tabulate(act: ActivationSpec, *, half_width: float = 16.0) -> Tabulation:
    """The table the compiled engine evaluates for an activation (cached per activation).

    Cells of width ``1/8, 1/16, ...`` are tried until :attr:`Tabulation.max_error` is
    below 2e-14, stops falling below 1e-12 (rounding), or the table would exceed 32768 cells (a kink
    that is not declared keeps the error large: it is reported, see :func:`register`).
    The declared kinks are put on cell boundaries.

    Parameters
    ----------
    act : str or Activation
        Any activation (built-ins too, which is how the tables are tested); the simulator
        tabulates only user callables (``engine is None``).
    half_width : float
        The table covers at least ``[-half_width, half_width]``; ``> 0``, finite. Beyond
        it, the tangent lines of the ends (16 covers unit-variance pre-activations: the mass
        of N(0, 1) beyond 16 is 1e-57).

    Returns
    -------
    Tabulation

    Raises
    ------
    ValueError
        If ``fn`` is not finite somewhere on the grid (the message names the first such x).
    """
    a = resolve(act)
    if not (isinstance(half_width, (int, float)) and math.isfinite(half_width) and half_width > 0):
        raise ValueError(f"half_width must be a finite number > 0; got {half_width!r}")
    cache: dict[float, Tabulation] = a.__dict__.setdefault("_tabulations", {})
    key = float(half_width)
    if key not in cache:
        cell = 1.0 / 8.0
        tab = _build(a, key, cell)
        while tab.max_error > _TABLE_TARGET and 2 * tab.cells <= _TABLE_MAX_CELLS:
            cell /= 2.0
            finer = _build(a, key, cell)
            if finer.max_error > 0.75 * tab.max_error and tab.max_error < 1e-12:  # at the rounding floor
                tab = finer if finer.max_error < tab.max_error else tab
                break
            tab = finer
        cache[key] = tab
    return cache[key]


def _engine_table(act: Activation, std: float) -> Tabulation:
    """The table :func:`isoinit.simulate` runs for pre-activations of standard deviation ``std``.

    ``half_width = 16 std`` rounded up to a power of 2 (16 to 1024), with one
    :class:`IsoinitWarning` per activation and range when it is not accurate to
    :data:`TABLE_WARN`.
    """
    half_width = 1024.0
    if 16.0 * std < half_width:
        half_width = max(16.0, 2.0 ** math.ceil(math.log2(16.0 * std)) if std > 0 else 16.0)
    tab = tabulate(act, half_width=half_width)
    warned: set[float] = act.__dict__.setdefault("_tabulation_warned", set())
    if half_width in warned:
        return tab
    problems = []
    if tab.max_error > TABLE_WARN:
        problems.append(
            f"its table deviates from it by up to {tab.max_error:.2g} (relative to max(1, |f|)), largest at "
            f"x = {tab.worst_x:.6g}: an undeclared kink or a singularity there? (declare kinks with "
            "isoinit.activations.register(..., kinks=[...]))"
        )
    if math.isfinite(std) and tab.tail_mass(std) > TABLE_WARN:
        problems.append(
            f"the mean-field pre-activations (standard deviation {std:.3g}) leave the table's range "
            f"[{tab.lo:g}, {tab.hi:g}] with probability {tab.tail_mass(std):.2g}; beyond it the engine "
            "extrapolates linearly"
        )
    elif not math.isfinite(std):
        problems.append(
            f"the mean-field pre-activations overflow; beyond the table's range [{tab.lo:g}, {tab.hi:g}] "
            "the engine extrapolates linearly"
        )
    if problems:
        warned.add(half_width)
        warnings.warn(
            f"activation {act.name!r} runs in the simulator as a table, and " + "; and ".join(problems),
            IsoinitWarning,
            stacklevel=4,
        )
    return tab
