"""The documented short path of :mod:`isoinit.theory.hermite` (Hermite expansions, moments and kernels)."""

from .theory.hermite import *  # noqa: F403
from .theory.hermite import __all__ as __all__


def __dir__() -> list[str]:
    return sorted(__all__)
