"""The PyTorch half of :mod:`isoinit.training`: the training MLP's modules.

Imported only by :mod:`isoinit.training` when it builds a network (this module imports torch
at the top, so ``import isoinit`` must never import it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from .activations import Activation


class Act(nn.Module):
    """An isoinit activation as a module (so hooks can see its output)."""

    def __init__(self, name: str, fn: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.name = name
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


def _linear(
    d_in: int, d_out: int, generator: torch.Generator, dtype: torch.dtype, bias: bool, gain: float = 1.0
) -> nn.Linear:
    """``nn.Linear`` with weights ``N(0, gain^2/d_in)`` and PyTorch's default bias ``U(-1/sqrt(d_in), 1/sqrt(d_in))``,
    both drawn from ``generator`` (never from the global generator)."""
    lin: nn.Linear = nn.utils.skip_init(nn.Linear, d_in, d_out, bias=bias, dtype=dtype)  # type: ignore[no-untyped-call]
    with torch.no_grad():
        lin.weight.copy_(torch.randn(d_out, d_in, generator=generator, dtype=dtype) * (gain / math.sqrt(d_in)))
        if lin.bias is not None:
            bound = 1.0 / math.sqrt(d_in)
            lin.bias.copy_((2.0 * torch.rand(d_out, generator=generator, dtype=dtype) - 1.0) * bound)
    return lin


def build(
    act: Activation,
    d_in: int,
    classes: int,
    hidden: Sequence[int],
    *,
    authors: bool,
    bias: bool,
    eps: float,
    generator: torch.Generator,
    dtype: torch.dtype,
    gain: float = 1.0,
) -> nn.Sequential:
    """Blocks ``LayerNorm -> Linear -> act`` (named ``block<l>.norm/.linear/.act``, ``l = 1..L``; the
    blocks' weights ``N(0, gain^2/fan_in)``) then the read-out ``Linear`` (``N(0, 1/fan_in)``; and
    ``act`` on the logits when ``authors``)."""
    assert act.torch is not None
    layers: list[tuple[str, nn.Module]] = []
    d = d_in
    for width in hidden:
        block = nn.Sequential()
        block.add_module("norm", nn.LayerNorm(d, eps=eps, dtype=dtype))
        block.add_module("linear", _linear(d, width, generator, dtype, bias, gain))
        block.add_module("act", Act(act.name, act.torch))
        layers.append((f"block{len(layers) + 1}", block))
        d = width
    model = nn.Sequential()
    for name, module in layers:
        model.add_module(name, module)
    model.add_module("readout", _linear(d, classes, generator, dtype, bias))
    if authors:
        model.add_module("logit_act", Act(act.name, act.torch))
    return model


def materialize(loader: object) -> tuple[Tensor, Tensor]:
    """Every ``(x, y)`` batch of a DataLoader, concatenated (features flattened)."""
    xs, ys = [], []
    for item in loader:  # type: ignore[attr-defined]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ValueError(f"data loader must yield (inputs, labels) pairs; got {type(item).__name__}")
        x, y = torch.as_tensor(item[0]), torch.as_tensor(item[1])
        xs.append(x.reshape(x.shape[0], -1).double())
        ys.append(y.reshape(-1))
    if not xs:
        raise ValueError("data loader must yield at least one batch; got an empty loader")
    return torch.cat(xs), torch.cat(ys)
