"""The one table of activation functions shared by the engine and the theory.

An activation is named by a *spec* string: a registered name, optionally with one numeric
parameter in parentheses (``"relu"``, ``"leaky_relu(0.2)"``, ``"elu(0.5)"``, ``"he3"``).
:func:`resolve` turns a spec (or an :class:`Activation`) into an :class:`Activation`,
which carries

* ``fn``: the vectorized NumPy function (the reference the compiled engine is tested
  against, to 1e-12);
* ``kinks``: the points where it is not smooth, so quadrature can be split there;
* ``engine``: the name the compiled kernel knows it by, or ``None`` for a Python-only
  activation (user callables are theory-only; activations defined by Hermite
  coefficients run in the engine too).

Users add their own with :func:`register` (a vectorized callable) or
:func:`from_hermite` (normalized Hermite coefficients ``c_0, c_1, ...``; Theory
§4 of the documentation).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from ._closed_forms import ClosedForm, Erf, Exponential, Gelu, HermiteSeries, Homogeneous, StepLike

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "BUILTIN",
    "HE_MAX",
    "SELU_ALPHA",
    "SELU_LAMBDA",
    "Activation",
    "ActivationSpec",
    "Builtin",
    "Param",
    "available",
    "from_hermite",
    "hermite_he",
    "hermite_he_torch",
    "register",
    "resolve",
]


def __dir__() -> list[str]:
    return sorted(__all__)


#: SELU constants as in PyTorch (Klambauer et al. 2017).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946

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
        The family of :mod:`isoinit._closed_forms` that gives its Hermite coefficients,
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
#: Highest built-in Hermite polynomial order.
HE_MAX = 30


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
        Name understood by the compiled kernel, or ``None`` if it only runs in Python.
    hermite : tuple of float or None
        For activations defined by normalized Hermite coefficients, ``c_0, c_1, ...``.
    closed : ClosedForm or None
        The family giving its Gaussian integrals in closed form (:mod:`isoinit._closed_forms`),
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

    The theory modules (:mod:`isoinit.hermite`, :mod:`isoinit.meanfield`) accept it by
    name afterwards; the compiled simulator does not run Python callables (define the
    activation with :func:`from_hermite` to simulate it).

    Parameters
    ----------
    name : str
        Identifier, not a built-in name.
    fn : callable
        Maps a float64 array to a float64 array of the same shape, elementwise.
    kinks : sequence of float
        Points of non-smoothness (quadrature is split there).
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
    family of :mod:`isoinit._closed_forms`, or quadrature).
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
