"""isoinit: the geometry of a batch through deep networks at initialization.

Simulate random MLPs (:func:`simulate`), predict them at infinite width
(:mod:`isoinit.meanfield`, :mod:`isoinit.hermite`, :mod:`isoinit.bounds`), and measure any
Gram matrix (:mod:`isoinit.metrics`), following Joudaki, Daneshmand and Bach, "On the impact
of activation and normalization in obtaining isometric embeddings at initialization"
(NeurIPS 2023).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from ._version import __version__

#: Interface level of the compiled kernel this Python package expects (``ISOINIT_CORE_API``
#: in ``cpp/bindings/module.cpp``); a mismatch means a stale build.
_CORE_API = 10
_REINSTALL = (
    "reinstall isoinit: `pip install --force-reinstall --no-deps isoinit`, or in a source checkout "
    "`pip install --no-build-isolation -e . -Cbuild-dir=build`"
)


def _preload_blas() -> None:
    """Load the OpenBLAS of scipy-openblas32 (the kernel's BLAS/LAPACK) by its path.

    The RUNPATH of the kernel (``isoinit._core``) finds it in the site-packages isoinit is installed in; this also finds
    it on the rest of ``sys.path`` (an editable install, a venv over system packages). It is
    loaded ``RTLD_LOCAL``, so its symbols serve the kernel only; importing the
    ``scipy_openblas32`` package instead would load them globally, for every later extension.
    """
    import ctypes
    import importlib.util
    from pathlib import Path

    try:
        spec = importlib.util.find_spec("scipy_openblas32")
    except (ImportError, ValueError):
        return
    if spec is None or not spec.submodule_search_locations:
        return
    for where in spec.submodule_search_locations:
        for lib in sorted((Path(where) / "lib").glob("libscipy_openblas*.*")):
            if lib.suffix in (".so", ".dylib"):
                try:
                    ctypes.CDLL(str(lib), mode=getattr(os, "RTLD_LOCAL", 0))
                except OSError:
                    pass  # then the kernel's RUNPATH decides
                return


def _load_core() -> None:
    """Import the compiled kernel (``isoinit._core``), or fail with an error that says how to repair the install."""
    simd = os.environ.get("ISOINIT_SIMD", "")
    if simd not in ("", "auto", "off"):
        raise ValueError(f"environment variable ISOINIT_SIMD must be 'auto' or 'off'; got {simd!r}")
    _preload_blas()
    try:
        from . import _core
    except ImportError as err:
        raise ImportError(
            f"isoinit's compiled kernel (isoinit._core) is missing or cannot be loaded ({err}); {_REINSTALL}"
        ) from err
    api, built = getattr(_core, "API", None), getattr(_core, "__version__", None)
    if api != _CORE_API or (built != __version__ and __version__ != "0+unknown"):
        raise ImportError(
            f"isoinit's compiled kernel is stale: it was built for version {built} (interface {api}), "
            f"this is isoinit {__version__} (interface {_CORE_API}); {_REINSTALL}"
        )


_load_core()

from . import (  # noqa: E402  (after the kernel is known to be sound)
    activations,
    blocks,
    inputs,
    metrics,
    networks,
)
from ._paths import get_cmake_dir, get_include  # noqa: E402
from ._warnings import (  # noqa: E402
    CollapseWarning,
    DivergenceWarning,
    IsoinitWarning,
    ProvenanceWarning,
    SingularInputWarning,
    TrainingModeWarning,
)
from .networks import MLP, Network, ResidualMLP, Transformer  # noqa: E402
from .results import Provenance, load  # noqa: E402
from .simulate import STAGES, Trajectory, forward, network_weights, simulate  # noqa: E402

__all__ = [
    "MLP",
    "STAGES",
    "CollapseWarning",
    "Comparison",
    "DivergenceWarning",
    "IsoinitWarning",
    "Network",
    "Provenance",
    "ProvenanceWarning",
    "ResidualMLP",
    "SingularInputWarning",
    "TrainingModeWarning",
    "Trajectory",
    "Transformer",
    "__version__",
    "activations",
    "blocks",
    "bounds",
    "build_info",
    "compare",
    "comparison",
    "figures",
    "forward",
    "get_cmake_dir",
    "get_include",
    "hermite",
    "hooks",
    "inputs",
    "load",
    "meanfield",
    "metrics",
    "network_weights",
    "networks",
    "presets",
    "simulate",
    "sweep",
    "sweeps",
    "theory",
    "training",
]

_LAZY = {
    "comparison",
    "hermite",
    "meanfield",
    "bounds",
    "theory",
    "figures",
    "sweeps",
    "hooks",
    "training",
    "presets",
}


def build_info() -> dict[str, Any]:
    """How the compiled kernel was built.

    Returns
    -------
    dict
        Version, OpenMP (and its default thread count), Eigen version, SIMD instruction
        sets, ``lapack`` (the BLAS/LAPACK of the factorizations and large products, e.g.
        ``"OpenBLAS (SkylakeX)"`` with the CPU kernel it picked at load time, or ``None`` for
        Eigen's), compiler.
    """
    from . import _core

    return dict(_core.build_info())


def __dir__() -> list[str]:
    return sorted(__all__)


def __getattr__(name: str) -> Any:
    if name in ("compare", "Comparison"):
        from . import comparison

        return getattr(comparison, name)
    if name == "sweep":
        from .sweeps import sweep

        return sweep
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'isoinit' has no attribute {name!r}")
