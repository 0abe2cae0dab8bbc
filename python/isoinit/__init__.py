"""isoinit: the geometry of a batch through deep networks at initialization.

Simulate random MLPs (:func:`simulate`), predict them at infinite width
(:mod:`isoinit.meanfield`, :mod:`isoinit.hermite`, :mod:`isoinit.bounds`), and measure any
Gram matrix (:mod:`isoinit.metrics`), following Joudaki, Daneshmand and Bach, "On the impact
of activation and normalization in obtaining isometric embeddings at initialization"
(NeurIPS 2023).
"""

from __future__ import annotations

import importlib
from typing import Any

from . import activations, inputs, metrics
from ._warnings import DivergenceWarning, IsoinitWarning
from .config import MLP
from .simulate import STAGES, Trajectory, forward, network_weights, simulate

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "STAGES",
    "DivergenceWarning",
    "IsoinitWarning",
    "Trajectory",
    "__version__",
    "activations",
    "bounds",
    "build_info",
    "forward",
    "hermite",
    "hooks",
    "inputs",
    "meanfield",
    "metrics",
    "network_weights",
    "simulate",
    "sweep",
    "sweeps",
]

_LAZY = {"hermite", "meanfield", "bounds", "figures", "sweeps", "hooks"}


def build_info() -> dict[str, Any]:
    """How the compiled core was built: version, OpenMP (and its default thread count),
    Eigen version, SIMD instruction sets, compiler."""
    from . import _core

    return dict(_core.build_info())


def __getattr__(name: str) -> Any:
    if name == "sweep":
        from .sweeps import sweep

        return sweep
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'isoinit' has no attribute {name!r}")
