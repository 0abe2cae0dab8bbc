"""The one table of activation functions shared by the kernel and the theory.

An activation is named by a *spec* string: a registered name, optionally with one numeric
parameter in parentheses (``"relu"``, ``"leaky_relu(0.2)"``, ``"elu(0.5)"``, ``"he3"``).
:func:`resolve` turns a spec (or an :class:`Activation`) into an :class:`Activation`,
which carries

* ``fn``: the vectorized NumPy function (the reference the compiled kernel is tested
  against, to 1e-12);
* ``kinks``: the points where it is not smooth, so quadrature can be split there;
* ``kernel_name``: the name the compiled kernel knows it by, or ``None`` for a user
  callable (activations defined by Hermite coefficients have the kernel name ``hermite``).

Users add their own with :func:`register` (a vectorized callable) or
:func:`from_hermite` (normalized Hermite coefficients ``c_0, c_1, ...``; Theory
§4 of the documentation). Both run in the compiled simulator: a callable through
:func:`tabulate`, a piecewise polynomial the kernel evaluates at full speed, whose largest
deviation from the callable is measured and reported (:attr:`Tabulation.max_error`).
"""

from __future__ import annotations

from ._builtins import BUILTIN, Builtin, Param
from ._functions import SELU_ALPHA, SELU_LAMBDA, hermite_he, hermite_he_torch
from ._registry import (
    _USER as _USER,
)
from ._registry import (
    ALIASES,
    HE_MAX,
    Activation,
    ActivationSpec,
    available,
    from_hermite,
    register,
    registered,
    resolve,
    tabulate,
)
from ._registry import (
    markdown_table as markdown_table,
)
from ._tabulate import TABLE_WARN, Tabulation

__all__ = [
    "ALIASES",
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
