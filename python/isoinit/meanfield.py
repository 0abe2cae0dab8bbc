"""The documented short path of :mod:`isoinit.theory.meanfield` (the infinite-width trajectories)."""

from .theory.finite_width import finite_width
from .theory.meanfield import *  # noqa: F403
from .theory.meanfield import __all__ as _meanfield_all

__all__ = [*_meanfield_all, "finite_width"]


def __dir__() -> list[str]:
    return sorted(__all__)
