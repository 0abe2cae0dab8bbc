"""The mean-field centering and scaling constants of ``center="mf"`` and ``scale="mf"``.

The simulator normalizes with them and the mean-field recursion predicts with them;
:mod:`isoinit.theory.meanfield` re-exports them.
"""

from __future__ import annotations

import math

from .. import _renamed
from ..networks.mlp import MLP
from .hermite import moments

__all__ = ["mf_constants"]


@_renamed.keywords(mlp="network")
def mf_constants(network: MLP) -> tuple[list[float], list[float]]:
    """Per-block mean-field centering and scaling constants for ``center="mf"``/``scale="mf"``.

    ``act-norm``: the pre-activation of a block whose input rows have mean square 1 is
    ``N(0, s^2)`` at infinite width with ``s^2 = gain^2 + bias^2``, so the constants are
    ``c_0 = E sigma(s z)`` and ``sqrt(E sigma(s z)^2 - c_0^2)`` (Theory §2).
    ``norm-act``: normalization acts on ``H`` itself, whose infinite-width mean is 0 and
    mean square ``gain^2 q + bias^2`` with ``q = 1`` for the first block and
    ``q = E sigma(z)^2`` after a normalized block; the constants are 0 and its root.

    Parameters
    ----------
    network : MLP
        ``mlp=``, its old keyword, is accepted too.

    Returns
    -------
    centers, scales : list of float
        One per block; both empty unless ``network`` centers or scales with ``"mf"``.

    Raises
    ------
    ValueError
        If a scale would be 0 (a constant activation, or gain and bias 0).
    """
    depth, act = network.depth, network.act
    if network.centering != "mf" and network.scaling != "mf":
        return [], []
    if network.order == "act-norm":
        m = moments(act, gain=math.hypot(network.gain, network.bias))
        var = m.m2 - m.c0**2
        if not var > 0:
            raise ValueError(f"activation {act.name!r} is constant under N(0, 1): mf scaling would divide by 0")
        return [m.c0] * depth, [math.sqrt(var)] * depth
    q_later = moments(act, gain=1.0).m2
    scales = [math.sqrt(network.gain**2 * (1.0 if k == 0 else q_later) + network.bias**2) for k in range(depth)]
    if not all(s > 0 for s in scales):
        raise ValueError("mf scaling would divide by 0 (gain and bias are 0)")
    return [0.0] * depth, scales
