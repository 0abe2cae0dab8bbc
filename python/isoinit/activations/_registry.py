"""Resolving, registering and pickling activations: :class:`Activation` and the registry of names."""

from __future__ import annotations

import difflib
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _renamed
from .. import _validate as check
from .._warnings import IsoinitWarning
from ._builtins import BUILTIN
from ._closed_forms import ClosedForm, HermiteSeries
from ._functions import _CONSTANTS, TorchFn, _Fn, hermite_he, hermite_he_torch
from ._tabulate import _TABLE_MAX_CELLS, _TABLE_TARGET, TABLE_WARN, Tabulation, _build

if TYPE_CHECKING:
    from torch import Tensor


_HE_RE = re.compile(r"^he(\d+)$")
_SPEC_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(\s*([^()]*?)\s*\))?\s*$")
#: Highest built-in Hermite polynomial order (the kernel's).
HE_MAX: int = _CONSTANTS["HE_MAX"]


@_renamed.fields(engine="kernel_name")
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
    kernel_name : str or None
        The name the compiled kernel knows it by, or ``None`` for a user callable (the
        kernel runs its table, :attr:`tabulation`). ``engine`` is its old name, kept as an
        alias.
    hermite : tuple of float or None
        For activations defined by normalized Hermite coefficients, ``c_0, c_1, ...``.
    closed : ClosedForm or None
        The family giving its Gaussian integrals in closed form (``isoinit.activations._closed_forms``),
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
    kernel_name: str | None = None
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
        if self.kernel_name is not None:
            return (resolve, (self.base if self.param is None else f"{self.base}({self.param!r})",))
        return (_rebuild, (self.name, self.base, self.param, self.fn, self.kinks))

    @property
    def tabulation(self) -> Tabulation | None:
        """How the kernel runs a user callable: ``tabulate(self)`` (``None`` for the others).

        The table on the default range ``[-16, 16]``; :func:`isoinit.simulate` may use a wider
        one for a network whose pre-activations are wider (large gain or bias, no scaling).
        """
        return tabulate(self) if self.kernel_name is None else None

    @property
    def kernel_param(self) -> float:
        """The numeric parameter passed to the compiled kernel (0 when unused)."""
        if self.base.startswith("he") and _HE_RE.match(self.base):
            return float(self.base[2:])
        return 0.0 if self.param is None else float(self.param)

    @property
    def engine(self) -> str | None:
        """The old name of :attr:`kernel_name` (renamed in 0.2.0), kept as an alias."""
        return self.kernel_name

    @property
    def engine_param(self) -> float:
        """The old name of :attr:`kernel_param` (renamed in 0.2.0), kept as an alias."""
        return self.kernel_param


ActivationSpec = str | Activation

_USER: dict[str, Activation] = {}


def available() -> list[str]:
    """Names of every registered activation (built-in first, ``he1..he30`` folded as ``heK``)."""
    return [*BUILTIN, "heK", *_USER]


def registered(name: str) -> Activation | None:
    """The activation registered under ``name`` by :func:`register` or :func:`from_hermite`, if any.

    Parameters
    ----------
    name : str
        The name it was registered under.

    Returns
    -------
    Activation or None
        Its record, or ``None`` when no activation of that name was registered.
    """
    return _USER.get(name.lower()) if isinstance(name, str) else None


#: The names other libraries give the same functions (the ``transformers`` package's
#: ``ACT2FN``): each resolves to isoinit's activation.
ALIASES: dict[str, str] = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "swish": "silu"}


def _unknown(spec: object) -> Exception:
    names = ", ".join([*BUILTIN, "he0..he30", *_USER])
    hint = ""
    if isinstance(spec, str):
        base = spec.split("(", 1)[0].strip().lower()
        close = difflib.get_close_matches(base, [*BUILTIN, *ALIASES, *_USER], n=3, cutoff=0.6)
        if close:
            hint = " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
    return (ValueError if isinstance(spec, str) else TypeError)(
        f"activation must be one of {names} (or an alias: {', '.join(ALIASES)}); got {spec!r}{hint}"
    )


def _he_activation(k: int) -> Activation:
    """``He_K``, the unnormalized probabilists' Hermite polynomial ``sqrt(K!) he_K``."""
    coeffs = (0.0,) * k + (math.sqrt(math.factorial(k)),)
    return Activation(
        name=f"he{k}",
        base=f"he{k}",
        param=None,
        fn=partial(_he_fn, k),
        kernel_name=f"he{k}",
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
    base = ALIASES.get(base, base)
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
            kernel_name=base,
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
        kernel_name=base,
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


def _as_float(f: _Fn, x: NDArray[np.float64], name: str = "") -> NDArray[np.float64]:
    """``f(x)`` as float64; complex or other non-real values are a TypeError, never cast."""
    y = np.asarray(f(x))
    if y.dtype.kind not in "biuf":
        label = f"activation {name!r}" if name else "activation"
        raise TypeError(f"{label} must return real numbers; got dtype {y.dtype}")
    return np.asarray(y, dtype=np.float64)


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
    if check.boolean("overwrite", overwrite) is False and low in _USER:
        raise ValueError(f"name {name!r} is already registered; pass overwrite=True to replace it")
    if not callable(fn):
        raise TypeError(f"fn must be a callable (a vectorized function of a float64 array); got {fn!r}")
    if isinstance(kinks, (str, bytes)):
        raise TypeError(f"kinks must be a sequence of numbers; got {kinks!r}")
    kink_values = check.array("kinks", kinks, ndim=1)  # real and finite
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
        probe = np.asarray(raw)
    except (TypeError, ValueError) as err:
        raise TypeError(f"fn must be {allowed}; it returned {type(raw).__name__}") from err
    if probe.dtype.kind not in "biuf":  # complex would lose its imaginary part, strings fail later
        raise TypeError(f"fn must be {allowed}; on an array of 5 values it returned dtype {probe.dtype}")
    if probe.shape != (5,):
        raise ValueError(f"fn must be {allowed}; on an array of shape (5,) it returned shape {probe.shape}")
    act = Activation(
        name=low,
        base=low,
        param=None,
        fn=partial(_as_float, fn, name=low),
        kinks=tuple(sorted(float(k) for k in kink_values)),
        kernel_name=None,
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
        ``c_0, c_1, ..., c_K`` (at most 31 of them), real, finite, not all zero.
    name : str, optional
        If given, the activation is also registered under this name.

    Raises
    ------
    TypeError
        If ``coefficients`` are not real numbers (strings, complex, booleans).
    ValueError
        If they are not 1-D, too many or too few, not finite, or all zero.
    """
    if isinstance(coefficients, (str, bytes)):
        raise TypeError(f"coefficients must be a sequence of real numbers; got {coefficients!r}")
    c = check.array("coefficients", coefficients)  # real (TypeError) and finite (ValueError naming the entry)
    if c.ndim != 1 or c.size == 0 or c.size > HE_MAX + 1:
        raise ValueError(f"coefficients must be a 1-D sequence of 1 to {HE_MAX + 1} numbers; got shape {c.shape}")
    if not np.any(c):
        raise ValueError(f"coefficients must not be all zero; got {c.tolist()}")
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
        kernel_name="hermite",
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
    family of ``isoinit.activations._closed_forms``, or quadrature).
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


def tabulate(act: ActivationSpec, *, half_width: float = 16.0) -> Tabulation:
    """The table the compiled kernel evaluates for an activation (cached per activation).

    Cells of width ``1/8, 1/16, ...`` are tried until :attr:`Tabulation.max_error` is
    below 2e-14, stops falling below 1e-12 (rounding), or the table would exceed 32768 cells (a kink
    that is not declared keeps the error large: it is reported, see :func:`register`).
    The declared kinks are put on cell boundaries.

    Parameters
    ----------
    act : str or Activation
        Any activation (built-ins too, which is how the tables are tested); the simulator
        tabulates only user callables (``kernel_name is None``).
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


def _kernel_table(act: Activation, std: float) -> Tabulation:
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
            f"[{tab.lo:g}, {tab.hi:g}] with probability {tab.tail_mass(std):.2g}; beyond it the kernel "
            "extrapolates linearly"
        )
    elif not math.isfinite(std):
        problems.append(
            f"the mean-field pre-activations overflow; beyond the table's range [{tab.lo:g}, {tab.hi:g}] "
            "the kernel extrapolates linearly"
        )
    if problems:
        warned.add(half_width)
        warnings.warn(
            f"activation {act.name!r} runs in the simulator as a table, and " + "; and ".join(problems),
            IsoinitWarning,
            stacklevel=4,
        )
    return tab
