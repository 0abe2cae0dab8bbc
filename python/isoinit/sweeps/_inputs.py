"""The input batch of a sweep, from an array or a specification."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _validate as check
from ..inputs import degenerate, gaussian
from ..networks.blocks import BlockNetwork
from ..networks.mlp import MLP

#: The keys of an input specification, by kind.
_INPUT_KEYS: dict[str, tuple[str, ...]] = {
    "degenerate": ("kind", "n", "d", "degeneracy", "seed"),
    "gaussian": ("kind", "n", "d", "seed"),
}

InputSpec = Mapping[str, Any] | NDArray[np.float64]


def _kind(inputs: Mapping[str, Any], label: str, src: str = "") -> str:
    """The kind of an input specification, its keys checked; errors start with ``label``."""
    kind = check.choice(f"{label} kind{src}", inputs.get("kind", "degenerate"), _INPUT_KEYS)
    bad = [k for k in inputs if k not in _INPUT_KEYS[kind]]
    if bad:
        raise ValueError(f"{label} keys for kind {kind!r} must be among {', '.join(_INPUT_KEYS[kind])}; got {bad[0]!r}")
    return kind


def make_inputs(inputs: InputSpec, d_default: int | None = None) -> NDArray[np.float64]:
    """The input batch of an input specification.

    Parameters
    ----------
    inputs : dict or ndarray
        An ``(n, d)`` array (used as is), or a dict ``kind="degenerate"`` (default) with
        ``n`` (default 10), ``d``, ``degeneracy`` (default 100) and ``seed`` (default 0)
        for :func:`isoinit.inputs.degenerate`, or ``kind="gaussian"`` with ``n``, ``d``,
        ``seed`` for :func:`isoinit.inputs.gaussian`.
    d_default : int, optional
        The input dimension when the dict gives no ``d`` (a sweep passes each
        configuration's first width).

    Returns
    -------
    ndarray, shape (n, d)
    """
    if not isinstance(inputs, Mapping):
        return check.array("inputs", inputs, ndim=2)
    kind = _kind(inputs, "inputs")
    d = inputs.get("d", d_default)
    if d is None:
        raise ValueError("inputs must give d (the input dimension) when no configuration width is known")
    n = inputs.get("n", 10)
    seed = inputs.get("seed", 0)
    if kind == "gaussian":
        return gaussian(n, d, seed=seed)
    return degenerate(n, d, inputs.get("degeneracy", 100.0), seed=seed)


def _input_dim(inputs: InputSpec, network: MLP | BlockNetwork) -> Any:
    """The input dimension a configuration gets (``None``: a fixed array).

    Checked by :func:`make_inputs`.
    """
    if isinstance(inputs, Mapping):
        return inputs["d"] if "d" in inputs else network.widths()[0]
    return None
