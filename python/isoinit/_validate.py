"""One place for checking arguments: integers, reals, choices, booleans and arrays.

Every public entry point (the simulator, the theory, sweeps, figures and the command line)
checks its arguments with these functions, so every message has one format::

    <name> must be <what is allowed>; got <the bad value>

A value of the wrong *type* (a string where a number is expected, a float where an
integer is, ``"yes"`` for a boolean) raises :class:`TypeError`; a value of the right type
outside the allowed set (a negative width, NaN, an unknown option name) raises
:class:`ValueError`. Each function returns the value converted to its canonical type
(``int``, ``float``, ``str``, ``bool``, a C-contiguous float64 array).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["array", "batch", "boolean", "choice", "instance", "integer", "pairs", "real"]


def _got(value: object) -> str:
    """The bad value as messages show it: its repr, with the type for non-builtin types."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    if isinstance(value, (bool, int, float, str, type(None))):
        return text
    return f"{text} ({type(value).__name__})"


def _interval(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    return "" if high is None else f" <= {high}"


def integer(name: str, value: object, low: int | None = None, high: int | None = None) -> int:
    """An integer (Python or NumPy, not ``bool``) in ``[low, high]``.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``2.0`` and ``True`` are not).
    ValueError
        If it lies outside ``[low, high]``.
    """
    allowed = f"an integer{_interval(low, high)}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {allowed}; got {_got(value)}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{name} must be {allowed}; got {v}")
    return v


def real(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    finite: bool = True,
) -> float:
    """A real number (Python or NumPy, not ``bool``) in ``[low, high]`` (``(low, high]``
    with ``low_open``), finite unless ``finite=False``.

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is NaN, infinite (with ``finite=True``), or out of range.
    """
    if low is not None and high is not None:
        rng = f" in {'(' if low_open else '['}{low:g}, {high:g}]"
    elif low is not None:
        rng = f" {'>' if low_open else '>='} {low:g}"
    else:
        rng = "" if high is None else f" <= {high:g}"
    allowed = f"a {'finite ' if finite else ''}number{rng}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {allowed}; got {_got(value)}")
    v = float(value)
    if math.isnan(v) or (finite and math.isinf(v)):
        raise ValueError(f"{name} must be {allowed}; got {v}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be{rng}; got {value!r}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be{rng}; got {value!r}")
    return v


def choice(name: str, value: object, allowed: Iterable[str]) -> str:
    """One of the strings ``allowed``.

    Raises
    ------
    TypeError
        If ``value`` is not a string.
    ValueError
        If it is not one of ``allowed``.
    """
    options = list(allowed)
    text = f"{name} must be one of {', '.join(options)}; got {_got(value)}"
    if not isinstance(value, str):
        raise TypeError(text)
    if value not in options:
        raise ValueError(text)
    return value


def names(name: str, value: object, allowed: Sequence[str]) -> tuple[str, ...]:
    """A non-empty selection from ``allowed``: a list or tuple of its strings (or one string),
    returned without repeats in the order of ``allowed``.

    Raises
    ------
    TypeError
        If ``value`` is not a string or a list or tuple of strings.
    ValueError
        If it is empty or names something not in ``allowed``.
    """
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
        raise TypeError(f"{name} must be a list of names among {', '.join(allowed)}; got {_got(value)}")
    bad = [v for v in items if v not in allowed]
    if bad:
        raise ValueError(f"{name} must be names among {', '.join(allowed)}; got {bad[0]!r}")
    if not items:
        raise ValueError(f"{name} must name at least one of {', '.join(allowed)} (or be None for all)")
    return tuple(a for a in allowed if a in items)


def boolean(name: str, value: object) -> bool:
    """``True`` or ``False`` (Python or NumPy); a string or a number is not a boolean.

    Raises
    ------
    TypeError
        If ``value`` is not a boolean.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {_got(value)}")
    return bool(value)


def instance(name: str, value: object, cls: type | tuple[type, ...], what: str) -> Any:
    """``value`` itself if it is an instance of ``cls``, else :class:`TypeError` saying ``what``."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be {what}; got {type(value).__name__}")
    return value


def pairs(name: str, value: object, length: int, item: str = "pair") -> list[tuple[Any, Any]]:
    """A sequence of ``length`` 2-sequences (e.g. ``(W, b)`` per block), as a list of tuples.

    Raises
    ------
    TypeError
        If ``value`` is not a sequence, or an entry is not a pair (a tuple or list of 2).
    ValueError
        If it does not hold ``length`` entries.
    """
    if isinstance(value, (str, bytes, np.ndarray)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of {length} {item} pairs; got {_got(value)}")
    if len(value) != length:
        raise ValueError(f"{name} must be a list of {length} {item} pairs; got {len(value)} entries")
    out = []
    kind = item
    for i, entry in enumerate(value):
        if not isinstance(entry, (tuple, list)) or len(entry) != 2:
            size = f" of length {len(entry)}" if isinstance(entry, (tuple, list)) else ""
            raise TypeError(f"{name}[{i}] must be a {kind} pair (a tuple of 2); got {type(entry).__name__}{size}")
        out.append((entry[0], entry[1]))
    return out


def array(
    name: str,
    value: object,
    *,
    ndim: int | None = None,
    shape: Sequence[int | None] | None = None,
    finite: bool = True,
) -> NDArray[np.float64]:
    """A real array, returned as a C-contiguous float64 array (copied only if needed).

    Parameters
    ----------
    name : str
        The parameter's name, for messages.
    value : array_like
        Anything :func:`numpy.asarray` turns into real numbers (booleans are refused).
    ndim : int, optional
        Required number of dimensions.
    shape : sequence of int or None, optional
        Required shape; ``None`` entries are free.
    finite : bool
        Refuse NaN and infinite entries (the message gives the first one's index).

    Raises
    ------
    TypeError
        If ``value`` is not made of real numbers.
    ValueError
        If its dimensions, shape or finiteness are wrong.
    """
    try:
        raw = value if isinstance(value, np.ndarray) else np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged nesting, objects NumPy cannot hold
        raise TypeError(f"{name} must be an array of real numbers; got {type(value).__name__}") from err
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of real numbers; got {_got_array(value, raw)}")
    a = np.asarray(raw, dtype=np.float64, order="C")  # (ascontiguousarray would make 0-D arrays 1-D)
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and a.ndim != ndim:
        want = f"shape ({', '.join('n' if s is None else str(s) for s in shape)})" if shape is not None else ""
        raise ValueError(f"{name} must be {ndim}-D {want}".rstrip() + f"; got ndim={a.ndim}, shape {a.shape}")
    if shape is not None:
        for axis, (have, want_len) in enumerate(zip(a.shape, shape, strict=True)):
            if want_len is not None and have != want_len:
                raise ValueError(f"{name} must have {want_len} entries on axis {axis}; got shape {a.shape}")
    if finite:
        bad = ~np.isfinite(a)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            index = ", ".join(map(str, where))
            raise ValueError(f"{name} must be finite; got {a[where]} at {name}[{index}]")
    return a


def batch(name: str, value: object) -> NDArray[np.float64]:
    """A batch of inputs: a finite real ``(n, d)`` array, rows are samples, ``n >= 2``, no
    all-zero row (rows are scaled to mean square 1 before the first block).

    Raises
    ------
    TypeError
        If ``value`` is not made of real numbers.
    ValueError
        If it is not 2-D, has fewer than 2 rows or no column, a non-finite entry or a zero row.
    """
    a = array(name, value, ndim=2)
    if a.shape[0] < 2:
        raise ValueError(f"{name} must have n >= 2 rows (samples); got n={a.shape[0]}")
    if a.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column; got shape {a.shape}")
    zero = ~np.any(a != 0, axis=1)
    if zero.any():
        raise ValueError(
            f"{name} must have no all-zero row (rows are scaled to mean square 1); row {np.argmax(zero)} is 0"
        )
    return a


def _got_array(value: object, raw: np.ndarray) -> str:
    if isinstance(value, np.ndarray):
        return f"dtype {raw.dtype}"
    return f"{type(value).__name__} of dtype {raw.dtype}"
