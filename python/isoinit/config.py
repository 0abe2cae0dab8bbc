"""The documented short path of :mod:`isoinit.networks.mlp` (the MLP configuration)."""

from .networks.mlp import *  # noqa: F403
from .networks.mlp import __all__ as __all__


def __dir__() -> list[str]:
    return sorted(__all__)
