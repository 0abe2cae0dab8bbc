"""The networks isoinit simulates and predicts: the paper's MLP and the block networks.

:class:`MLP` (:mod:`isoinit.networks.mlp`) is a stack of linear map, activation and
normalization; :mod:`isoinit.networks.blocks` composes residual feedforward, attention and
transformer blocks (:class:`ResidualMLP`, :class:`Transformer`, :class:`Network`). Every
simulator, theory and tool takes either.
"""

from __future__ import annotations

from . import blocks, fields, mlp
from .blocks import (
    Architecture,
    Attention,
    Block,
    BlockNetwork,
    Feedforward,
    Init,
    Network,
    Position,
    ResidualMLP,
    Transformer,
    TransformerBlock,
)
from .mlp import MLP, NORM_PRESETS, Centering, Norm, Order, Scaling, Weights

__all__ = [
    "MLP",
    "NORM_PRESETS",
    "Architecture",
    "Attention",
    "Block",
    "BlockNetwork",
    "Centering",
    "Feedforward",
    "Init",
    "Network",
    "Norm",
    "Order",
    "Position",
    "ResidualMLP",
    "Scaling",
    "Transformer",
    "TransformerBlock",
    "Weights",
    "blocks",
    "fields",
    "mlp",
]


def __dir__() -> list[str]:
    return sorted(__all__)
