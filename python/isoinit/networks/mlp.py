"""The network configuration shared by the simulator and the mean-field theory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from .. import _validate as check
from ..activations import Activation, ActivationSpec, resolve

__all__ = ["MLP", "NORM_PRESETS", "Centering", "Norm", "Order", "Scaling", "Weights"]


def __dir__() -> list[str]:
    return sorted(__all__)


Norm = Literal["layer", "rms", "batch", "center", "mf", "none"]
Centering = Literal["none", "layer", "batch", "mf"]
Scaling = Literal["none", "layer", "batch", "mf"]
Order = Literal["act-norm", "norm-act"]
Weights = Literal["gaussian", "orthogonal"]

#: ``norm`` presets as ``(centering, scaling)`` (Theory §2 of the documentation).
NORM_PRESETS: dict[str, tuple[str, str]] = {
    "layer": ("layer", "layer"),
    "rms": ("none", "layer"),
    "batch": ("batch", "batch"),
    "center": ("layer", "none"),
    "mf": ("mf", "mf"),
    "none": ("none", "none"),
}
MAX_DEPTH = 100_000
MAX_WIDTH = 10_000_000


@dataclass(frozen=True)
class MLP:
    """A random multilayer perceptron at initialization (Theory §2 of the documentation).

    One block maps ``X`` (``n x d_in``) to ``X'`` (``n x d_out``):
    ``H = gain * X W + 1 b^T``, then ``X' = Norm(sigma(H))`` (``order="act-norm"``, the
    paper's block) or ``X' = sigma(Norm(H))`` (``"norm-act"``), where ``Norm`` is a
    centering step followed by a scaling step.

    Parameters
    ----------
    depth : int
        Number of blocks ``L >= 1``.
    width : int or sequence of int
        Output width of every block, or one width per block (length ``depth``). The input
        width is the batch's own.
    activation : str or Activation
        Activation spec, see :func:`isoinit.activations.resolve`.
    norm : {"layer", "rms", "batch", "center", "mf", "none"}
        Preset for (centering, scaling): layer = (layer, layer), rms = (none, layer),
        batch = (batch, batch), center = (layer, none), mf = (mf, mf), none = (none, none).
    center, scale : {"none", "layer", "batch", "mf"}, optional
        Override the preset's centering or scaling step.
    order : {"act-norm", "norm-act"}
    gain : float
        Multiplies ``X W`` (pre-activation gain), ``>= 0``.
    bias : float
        Standard deviation of the per-feature bias ``b``, ``>= 0`` (0 in the paper).
    weights : {"gaussian", "orthogonal"}
        iid ``N(0, 1/d_in)`` entries, or Haar semi-orthogonal with unit-norm columns in
        expectation (``sqrt(d_out/d_in)``-scaled rows when ``d_out > d_in``).
    eps : float
        Added to the mean square before layer/batch scaling divides by its root (PyTorch's
        ``LayerNorm`` uses 1e-5; the paper and the default use 0). An all-zero row (layer
        scaling) or column (batch scaling) is left at zero, the ``eps -> 0`` limit, rather
        than divided by 0; a zero row then shows as a singular Gram (gap ``+inf``).
    input_norm : {"rows", "none"}
        Layer 0: the input's rows scaled to mean square 1 (``"rows"``, the paper's protocol,
        the default) or the input as given (``"none"``).
    """

    depth: int
    width: int | tuple[int, ...]
    activation: ActivationSpec = "relu"
    norm: Norm = "layer"
    center: Centering | None = None
    scale: Scaling | None = None
    order: Order = "act-norm"
    gain: float = 1.0
    bias: float = 0.0
    weights: Weights = "gaussian"
    eps: float = 0.0
    input_norm: Literal["rows", "none"] = "rows"
    _act: Activation = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "depth", check.integer("depth", self.depth, 1, MAX_DEPTH))
        w = self.width
        if isinstance(w, Sequence) and not isinstance(w, str):
            if len(w) != self.depth:
                raise ValueError(f"width must be an int or a sequence of depth={self.depth} ints; got {len(w)} widths")
            set_(self, "width", tuple(check.integer("width", v, 1, MAX_WIDTH) for v in w))
        else:
            set_(self, "width", check.integer("width", w, 1, MAX_WIDTH))
        set_(self, "_act", resolve(self.activation))
        check.choice("norm", self.norm, NORM_PRESETS)
        if self.center is not None:
            check.choice("center", self.center, get_args(Centering))
        if self.scale is not None:
            check.choice("scale", self.scale, get_args(Scaling))
        check.choice("order", self.order, get_args(Order))
        check.choice("weights", self.weights, get_args(Weights))
        set_(self, "gain", check.real("gain", self.gain, 0.0))
        set_(self, "bias", check.real("bias", self.bias, 0.0))
        set_(self, "eps", check.real("eps", self.eps, 0.0))
        check.choice("input_norm", self.input_norm, ("rows", "none"))

    @property
    def act(self) -> Activation:
        """The resolved activation."""
        return self._act

    @property
    def centering(self) -> str:
        """The centering step in effect (``center`` or the preset's)."""
        return self.center if self.center is not None else NORM_PRESETS[self.norm][0]

    @property
    def scaling(self) -> str:
        """The scaling step in effect (``scale`` or the preset's)."""
        return self.scale if self.scale is not None else NORM_PRESETS[self.norm][1]

    @property
    def output_stage(self) -> str:
        """The stage whose output is the block's: ``"normalization"`` (act-norm) or ``"activation"`` (norm-act)."""
        return "normalization" if self.order == "act-norm" else "activation"

    def widths(self) -> tuple[int, ...]:
        """Output widths ``d_1..d_L``."""
        return self.width if isinstance(self.width, tuple) else (self.width,) * self.depth

    def label(self) -> str:
        """Short human-readable description, e.g. ``relu, layer norm, act-norm``."""
        preset = self.center is None and self.scale is None
        norm = f"{self.norm} norm" if preset else f"center={self.centering}, scale={self.scaling}"
        parts = [self.act.name, norm, self.order]
        if self.gain != 1.0:
            parts.append(f"gain={self.gain:g}")
        if self.bias:
            parts.append(f"bias={self.bias:g}")
        if self.weights != "gaussian":
            parts.append(self.weights)
        return ", ".join(parts)
