"""When the mean-field recursion leaves float64: the exception and its messages.

A breakdown (the variance overflowed, or the Gram's diagonal fell to 0 and left the
correlations undefined) ends a trajectory: :func:`isoinit.theory.meanfield.trajectory`
reports the layer and fills the rest with NaN.
"""

from __future__ import annotations

import numpy as np

from ..activations import Activation
from ._quadrature import _NotANumber
from .hermite import Moments, moments

_TINY = float(np.finfo(np.float64).tiny)


class _Breakdown(ArithmeticError):
    """The recursion left floating point: the diagonal overflowed or fell to 0."""


#: What ends a trajectory at a layer: a breakdown, or the activation's NaN (named as such).
_ENDS = (_Breakdown, _NotANumber)


def _overflow(what: str, value: object = None) -> _Breakdown:
    shown = "" if value is None else f" ({value:.3g})" if isinstance(value, float) else f" ({value})"
    return _Breakdown(f"the variance overflowed: {what}{shown} is not a finite float64")


def _underflow(what: str, value: float, scale: float | None = None) -> _Breakdown:
    if scale is None or value < _TINY:
        how = f"{what} = {value:.3g} is below the smallest normal float64"
    else:
        how = (
            f"{what} = {value:.3g} is a difference of terms of size {scale:.3g} "
            "(E sigma^2 + c^2 - 2 c E sigma) and below sqrt(eps) of them, so it is 0 to float64 "
            "rounding"
        )
    return _Breakdown(f"the diagonal of the Gram underflowed to 0 ({how}), which leaves the correlations undefined")


def _moments(act: Activation, gain: float) -> Moments:
    try:
        return moments(act, gain)
    except OverflowError as err:
        raise _overflow(f"E sigma(s z)^2 at s = {gain:.3g}") from err
    except _NotANumber as err:  # the activation's own NaN, reported as such
        raise _Breakdown(f"{err} at pre-activation scale s = {gain:.3g}") from err
