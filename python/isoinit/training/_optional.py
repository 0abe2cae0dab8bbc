"""PyTorch and scikit-learn, the optional dependencies of :mod:`isoinit.training`.

Imported when a function needs them, so that ``import isoinit`` never does; a missing one
is named with the extra that installs it.
"""

from __future__ import annotations

from typing import Any

_INSTALL = 'pip install "isoinit[torch]"'


def _torch() -> Any:
    try:
        import torch
    except ImportError as err:  # pragma: no cover - exercised by monkeypatching sys.modules
        raise ImportError(f"isoinit.training needs PyTorch, an optional dependency of isoinit: {_INSTALL}") from err
    return torch


def _sklearn() -> Any:
    try:
        import sklearn
    except ImportError as err:  # pragma: no cover
        raise ImportError(f"the digits task needs scikit-learn: {_INSTALL}") from err
    return sklearn
