"""Tabulation: a user callable as the kernel runs it, a piecewise polynomial on a uniform grid."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core
from ._functions import _CONSTANTS, _Fn

if TYPE_CHECKING:
    pass


# --- tabulation: a user callable in the compiled kernel -----------------------------------

#: :func:`isoinit.simulate` warns when the table of a user callable deviates from it by
#: more than this (relative to ``max(1, |fn|)``), or when more than this fraction of the
#: mean-field pre-activations falls outside the table (where the tails are linear).
TABLE_WARN = 1e-8


class Tabulable(Protocol):
    """What a table needs of an activation: its name, its vectorized function and its kinks."""

    @property
    def name(self) -> str: ...
    @property
    def fn(self) -> _Fn: ...
    @property
    def kinks(self) -> tuple[float, ...]: ...


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
    """A user callable as the compiled kernel runs it: a piecewise polynomial.

    On ``[lo, hi]``, cut into ``cells`` cells of width ``cell``, each cell holds the
    degree-5 polynomial interpolating ``fn`` at its 6 Chebyshev points (interior points,
    so a kink or jump on a cell boundary costs no accuracy); beyond the ends the table
    continues along the tangent lines of the end cells (the tails). The kernel evaluates it
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
        The table in the kernel's layout (``cpp/include/isoinit/activation.hpp``,
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
        """The table's values at ``x`` (the compiled evaluator, as the kernel runs it).

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


def _fn_values(act: Tabulable, x: NDArray[np.float64], lo: float, hi: float) -> NDArray[np.float64]:
    with np.errstate(all="ignore"):
        y = np.asarray(act.fn(x), dtype=np.float64)
    bad = ~np.isfinite(y)
    if bad.any():
        k = np.flatnonzero(bad)[np.argmin(x[bad])]
        nan = np.isnan(y)
        # NaN is the activation's own (undefined there), inf an overflow: say which
        what = (
            f"returned NaN for inputs in [{x[nan].min():.6g}, {x[nan].max():.6g}]"
            if nan.any()
            else f"overflowed to {y[k]} at x = {float(x[k])!r}"
        )
        raise ValueError(
            f"activation {act.name!r} must be finite on [{lo:g}, {hi:g}], where the simulator tabulates it; it {what}"
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


def _build(act: Tabulable, half_width: float, cell: float) -> Tabulation:
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
