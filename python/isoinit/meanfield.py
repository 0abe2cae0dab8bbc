"""The documented short path of :mod:`isoinit.theory.meanfield` (the infinite-width trajectories)."""

from .theory.meanfield import *  # noqa: F403
from .theory.meanfield import __all__ as __all__


def __dir__() -> list[str]:
    return sorted(__all__)
