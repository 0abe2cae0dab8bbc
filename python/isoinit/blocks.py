"""The documented short path of :mod:`isoinit.networks.blocks` (the block networks)."""

from .networks.blocks import *  # noqa: F403
from .networks.blocks import __all__ as __all__


def __dir__() -> list[str]:
    return sorted(__all__)
