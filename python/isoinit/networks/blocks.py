"""Networks as blocks: residual MLPs, self-attention and transformer stacks.

A block maps a batch ``X`` (``n x d``: samples or tokens) to ``X'`` of the same width, with
its own independent weights (the documentation's page on residual networks and transformers):

- :class:`Feedforward`: ``f(U) = Lin2(sigma(Lin1(U)))`` (hidden width ``ratio * d``) or the
  one-layer form ``f(U) = sigma(Lin(U))``; pre-norm ``X + alpha f(Norm(X))``, post-norm
  ``Norm(X + alpha f(X))``, or without residual and norm;
- :class:`Attention`: multi-head softmax self-attention, optionally causal, with an output
  projection; pre-, post- or no norm, with or without the residual sum;
- :class:`TransformerBlock`: attention then a feedforward block (GELU by default), each
  with its own norm (GPT-2 is pre-norm with a final layer norm after the last block).

:class:`ResidualMLP` and :class:`Transformer` build the usual stacks; :class:`Network`
composes any blocks (attention-only and MLP-only stacks are the rank-collapse baselines).
All of them go wherever an :class:`isoinit.MLP` goes: :func:`isoinit.simulate` (both
samplers, exact in distribution), :func:`isoinit.forward`, :func:`isoinit.network_weights`,
sweeps, the command line, and for residual MLPs :func:`isoinit.meanfield.trajectory`.

Initializations (``init``): ``"gaussian"`` (every weight ``N(0, gain^2 / d_in)``, the
paper's), ``"gpt2"`` (every weight ``N(0, 0.02^2)``, the projections that write into the
residual stream, attention's output map and the feedforward's second map, scaled by
``1 / sqrt(2 * depth)``: GPT-2's published initialization), ``"normal"`` (every weight
``N(0, 0.02^2)``: BERT's and LLaMA's). Biases are 0 unless ``bias``
is set. Layer-norm affine parameters are 1 and 0 at initialization, so norms have none.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from .. import _renamed
from .. import _validate as check
from ..activations import Activation, ActivationSpec, resolve
from .mlp import MAX_DEPTH, MAX_WIDTH, NORM_PRESETS, Weights

__all__ = [
    "Architecture",
    "Attention",
    "Block",
    "BlockNetwork",
    "Feedforward",
    "Init",
    "InputNorm",
    "Network",
    "Position",
    "Positions",
    "ResidualMLP",
    "Score",
    "Transformer",
    "TransformerBlock",
]


def __dir__() -> list[str]:
    return sorted(__all__)


Position = Literal["pre", "post", "none"]
#: The architectures of the command line's ``--architecture`` (and the tables' column).
Architecture = Literal["mlp", "residual-mlp", "transformer"]
Init = Literal["gaussian", "gpt2", "normal"]
BlockNorm = Literal["layer", "rms", "batch", "center", "none"]
Alpha = float | Literal["1/sqrt(L)"]
#: Attention scores ``c Q K^T``: ``c = 1/sqrt(d_h)`` (``"sqrt"``, the transformer's) or ``1/d_h``
#: (``"linear"``: the scores vanish at infinite width and attention averages uniformly).
Score = Literal["sqrt", "linear"]
#: What a block network does to its input before the first block (after the embedding).
InputNorm = Literal["none", "rows", "layer", "rms"]
#: Position embeddings added to the input: none, or learned (one ``N(0, position_std^2)`` row
#: per token position, drawn per run like the weights).
Positions = Literal["none", "learned"]
#: The map kinds whose biases :class:`Network`'s ``biases`` sets.
BIAS_KINDS = ("qk", "value", "out", "mlp")

_BLOCK_NORMS = tuple(k for k in NORM_PRESETS if k != "mf")


def _alpha(value: object) -> float | str:
    if isinstance(value, str):
        if value.replace(" ", "") != "1/sqrt(L)":
            raise ValueError(f"alpha must be a number or '1/sqrt(L)'; got {value!r}")
        return "1/sqrt(L)"
    return check.real("alpha", value)


def _biases(value: object) -> tuple[tuple[str, float], ...] | None:
    """``biases`` as sorted ``(kind, std)`` pairs (hashable), each kind among BIAS_KINDS."""
    if value is None:
        return None
    items = cast(Iterable[Any], value.items() if isinstance(value, Mapping) else value)
    try:
        pairs: dict[Any, Any] = {k: v for k, v in items}
    except (TypeError, ValueError):
        raise TypeError(
            f"biases must map map kinds ({', '.join(BIAS_KINDS)}) to standard deviations; got {value!r}"
        ) from None
    for kind, std in pairs.items():
        check.choice("biases (a map kind)", kind, BIAS_KINDS)
        pairs[kind] = check.real(f"biases[{kind!r}]", std, 0.0)
    return tuple(sorted(pairs.items()))


class _Normed:
    """What every block has: where its norm sits, :attr:`norm_position`."""

    norm_position: Position

    @property
    def position(self) -> Position:
        """The old name of :attr:`norm_position` (renamed in 0.2.0), kept as an alias."""
        return self.norm_position


def _common(block: Any) -> None:
    set_ = object.__setattr__
    check.choice("norm", block.norm, _BLOCK_NORMS)
    check.choice("norm_position", block.norm_position, get_args(Position))
    set_(block, "alpha", _alpha(block.alpha))
    set_(block, "residual", check.boolean("residual", block.residual))
    set_(block, "skip", check.real("skip", block.skip))


def _attention_fields(block: Any) -> None:
    set_ = object.__setattr__
    set_(block, "heads", check.integer("heads", block.heads, 1, MAX_WIDTH))
    set_(block, "causal", check.boolean("causal", block.causal))
    set_(block, "qk_gain", check.real("qk_gain", block.qk_gain, 0.0))
    set_(block, "out_proj", check.boolean("out_proj", block.out_proj))
    set_(block, "centred", check.boolean("centred", block.centred))
    check.choice("score", block.score, get_args(Score))
    rope = check.real("rope_base", block.rope_base, 0.0)
    if 0 < rope <= 1:
        raise ValueError(f"rope_base must be 0 (no rotary embeddings) or > 1; got {block.rope_base!r}")
    set_(block, "rope_base", rope)


@_renamed.fields(position="norm_position")
@dataclass(frozen=True)
class Feedforward(_Normed):
    """A (residual) MLP block: ``f(U) = Lin2(sigma(Lin1(U)))``, hidden width ``ratio * d``.

    Parameters
    ----------
    ratio : float
        Hidden width over the block's width (``> 0``; 4 in transformers).
    one_layer : bool
        Use ``f(U) = sigma(Lin(U))`` instead (the residual kernel of the follow-up analysis).
    norm : {"layer", "rms", "batch", "center", "none"}
        The block's normalization (layer norm: centering and scaling, no affine part).
    norm_position : {"pre", "post", "none"}
        ``pre``: ``X + alpha f(Norm(X))``; ``post``: ``Norm(X + alpha f(X))``; ``none``:
        no normalization. (``position``, its old name, is accepted too.)
    residual : bool
        Add the block's input (``False``: ``X' = f(...)``, an MLP-only stack).
    alpha : float or "1/sqrt(L)"
        Residual scale; ``"1/sqrt(L)"`` is ``1 / sqrt(number of blocks)``. 0 is the identity.
    gated : bool
        The gated feedforward ``Lin2(sigma(Lin1 U) * Lin3 U)`` (SwiGLU with ``silu``, GeGLU
        with ``gelu``; LLaMA's), hidden width ``ratio * d``.
    skip : float
        Scale of the residual path: pre-norm ``skip X + alpha f(Norm(X))``, post-norm
        ``Norm(skip X + alpha f(X))`` (1).
    """

    ratio: float = 4.0
    one_layer: bool = False
    norm: BlockNorm = "layer"
    norm_position: Position = "pre"
    residual: bool = True
    alpha: Alpha = 1.0
    gated: bool = False
    skip: float = 1.0

    def __post_init__(self) -> None:
        _common(self)
        object.__setattr__(self, "one_layer", check.boolean("one_layer", self.one_layer))
        object.__setattr__(self, "gated", check.boolean("gated", self.gated))
        if self.gated and self.one_layer:
            raise ValueError("gated needs the two-layer feedforward; got gated=True and one_layer=True")
        ratio = check.real("ratio", self.ratio)
        if not ratio > 0:
            raise ValueError(f"ratio must be > 0; got {self.ratio!r}")
        object.__setattr__(self, "ratio", ratio)


@_renamed.fields(position="norm_position")
@dataclass(frozen=True)
class Attention(_Normed):
    """A multi-head softmax self-attention block, with an output projection by default.

    Per head (``d_h = d / heads``): ``softmax(c Q K^T) V`` with ``Q = U Wq``, ``K = U Wk``,
    ``V = U Wv`` and ``c = 1/sqrt(d_h)``; the heads are concatenated and mapped by ``Wo``.
    Softmax rows are computed max-subtracted in float64; ``causal`` masks ``j > i``.

    Parameters
    ----------
    heads : int
        Number of heads; must divide the width.
    causal : bool
        Token ``i`` attends to tokens ``j <= i`` only.
    norm, norm_position, residual, alpha, skip
        As for :class:`Feedforward`.
    qk_gain : float
        Multiplies the query and key weights' standard deviation (so the scores' by
        ``qk_gain^2``): Giorlandino and Goldt's ``beta``-scaled queries and keys.
    out_proj : bool
        The output map ``Wo`` (``False``: the heads' concatenation is the branch).
    centred : bool
        Gain-controlled attention: the softmax minus the uniform average of its row
        (``1/T``, causal: ``1/(i+1)``), so the attention matrix's rows sum to 0.
    score : {"sqrt", "linear"}
        ``c = 1/sqrt(d_h)`` or ``1/d_h``.
    rope_base : float
        Rotary position embeddings on queries and keys with this base (LLaMA: 10000; token
        ``i`` at position ``i``; the pair of columns ``(j, j + d_h/2)`` of each head rotated by
        ``i base^(-2j/d_h)``); 0: none.
    """

    heads: int = 1
    causal: bool = False
    norm: BlockNorm = "layer"
    norm_position: Position = "pre"
    residual: bool = True
    alpha: Alpha = 1.0
    qk_gain: float = 1.0
    out_proj: bool = True
    centred: bool = False
    score: Score = "sqrt"
    rope_base: float = 0.0
    skip: float = 1.0

    def __post_init__(self) -> None:
        _common(self)
        _attention_fields(self)


@_renamed.fields(position="norm_position")
@dataclass(frozen=True)
class TransformerBlock(_Normed):
    """Attention then a feedforward block, each with its own norm and residual sum.

    Stages (``stages=True``): pre-norm ``ln1, attn, resid1, ln2, hidden, mlp, resid2``
    (and ``ln_f`` with ``final_norm``); post-norm ``attn, resid1, ln1, hidden, mlp, resid2,
    ln2``.

    Parameters
    ----------
    heads : int
        Attention heads; must divide the width.
    ratio : float
        The feedforward's hidden width over the width (4).
    causal : bool
    norm : {"layer", "rms", "batch", "center", "none"}
    norm_position : {"pre", "post"}
        GPT-2 is pre-norm; the original transformer post-norm. (``position``, its old
        name, is accepted too.)
    alpha : float or "1/sqrt(L)"
        Residual scale of both halves.
    final_norm : bool
        Apply the norm once more at the block's end (GPT-2's final layer norm ``ln_f``, on
        the last block).
    qk_gain, out_proj, centred, score, rope_base
        The attention's, as for :class:`Attention`.
    gated : bool
        The feedforward's, as for :class:`Feedforward` (LLaMA's SwiGLU).
    skip : float
        Scale of the residual path of both halves.
    """

    heads: int = 1
    ratio: float = 4.0
    causal: bool = False
    norm: BlockNorm = "layer"
    norm_position: Position = "pre"
    alpha: Alpha = 1.0
    final_norm: bool = False
    qk_gain: float = 1.0
    out_proj: bool = True
    centred: bool = False
    score: Score = "sqrt"
    rope_base: float = 0.0
    gated: bool = False
    skip: float = 1.0
    residual: bool = field(default=True, init=False, repr=False)

    def __post_init__(self) -> None:
        _common(self)
        if self.norm_position == "none":
            raise ValueError("norm_position must be 'pre' or 'post' for a transformer block; got 'none'")
        _attention_fields(self)
        object.__setattr__(self, "gated", check.boolean("gated", self.gated))
        object.__setattr__(self, "final_norm", check.boolean("final_norm", self.final_norm))
        ratio = check.real("ratio", self.ratio)
        if not ratio > 0:
            raise ValueError(f"ratio must be > 0; got {self.ratio!r}")
        object.__setattr__(self, "ratio", ratio)


Block = Feedforward | Attention | TransformerBlock
_BLOCK_TYPES = (Feedforward, Attention, TransformerBlock)
_KIND = {Feedforward: "feedforward", Attention: "attention", TransformerBlock: "transformer"}


class BlockNetwork(ABC):
    """What every block network offers: its blocks, and the attributes tables and labels read.

    The base of :class:`Network`, :class:`ResidualMLP` and :class:`Transformer`.
    """

    width: int
    depth: int
    activation: ActivationSpec
    init: Init
    gain: float
    bias: float
    weights: Weights
    eps: float
    input_norm: InputNorm
    positions: Positions
    position_std: float
    max_positions: int
    token_type: bool
    biases: Mapping[str, float] | tuple[tuple[str, float], ...] | None  # sorted pairs once built
    preset: str | None
    _act: Activation

    @abstractmethod
    def block_list(self) -> tuple[Block, ...]:
        """The blocks, in order."""

    def blocks_(self) -> tuple[Block, ...]:
        """The old name of :meth:`block_list` (renamed in 0.2.0), kept as an alias."""
        return self.block_list()

    @property
    @abstractmethod
    def architecture(self) -> str:
        """``"network"``, ``"residual-mlp"`` or ``"transformer"``."""

    @property
    def act(self) -> Activation:
        """The resolved activation."""
        return self._act

    def widths(self) -> tuple[int, ...]:
        """The width after every block (the residual stream keeps the width)."""
        return (self.width,) * len(self.block_list())

    @property
    def norm(self) -> str:
        """The first block's norm (the column ``norm`` of tables)."""
        return self.block_list()[0].norm

    @property
    def centering(self) -> str:
        """The centering step of :attr:`norm`."""
        return NORM_PRESETS[self.norm][0]

    @property
    def scaling(self) -> str:
        """The scaling step of :attr:`norm`."""
        return NORM_PRESETS[self.norm][1]

    @property
    def norm_position(self) -> Position:
        """Where the first block's norm sits: ``"pre"``, ``"post"`` or ``"none"``.

        The column ``norm_position`` of tables.
        """
        return self.block_list()[0].norm_position

    @property
    def order(self) -> str:
        """:attr:`norm_position` as ``"pre-norm"``, ``"post-norm"`` or ``"no-norm"``.

        Kept for compatibility: since 0.2.0 ``order`` names an MLP's order of activation
        and normalization only (the tables' column ``order`` is empty for a block network,
        whose norm position is the column ``norm_position``).
        """
        return "no-norm" if self.norm_position == "none" else f"{self.norm_position}-norm"

    def _resolved_alpha(self, alpha: float | str) -> float:
        return 1.0 / math.sqrt(len(self.block_list())) if alpha == "1/sqrt(L)" else float(alpha)

    def _core_input(self) -> dict[str, Any]:
        """Layer 0 as the kernel's keyword arguments (isoinit._core.Config).

        The input as given (or the paper's rows, ``input_norm="rows"``), the embedding, the
        input norm.
        """
        center, scale = NORM_PRESETS[self.input_norm] if self.input_norm in ("layer", "rms") else ("none", "none")
        return {
            "input_rows": self.input_norm == "rows",
            "position_std": self.position_std if self.positions == "learned" else 0.0,
            "shared_std": self.position_std if self.token_type else 0.0,
            "max_positions": self.max_positions,
            "input_center": center,
            "input_scale": scale,
            "input_eps": self.eps,
        }

    def _core_blocks(self) -> list[dict[str, Any]]:
        """The blocks as the kernel's keyword arguments (isoinit._core.BlockSpec)."""
        biases = dict(self.biases or ())
        per_kind = {f"bias_{'v' if k == 'value' else k}": biases[k] for k in BIAS_KINDS if k in biases}
        out = []
        for b in self.block_list():
            center, scale = NORM_PRESETS[b.norm]
            kw: dict[str, Any] = {
                "kind": _KIND[type(b)],
                "position": b.norm_position,  # the kernel's name of the norm position
                "center": center,
                "scale": scale,
                "eps": self.eps,
                "residual": b.residual,
                "alpha": self._resolved_alpha(b.alpha),
            }
            kw.update(per_kind, skip=b.skip)
            if isinstance(b, (Attention, TransformerBlock)):
                kw.update(
                    heads=b.heads,
                    causal=b.causal,
                    qk_gain=b.qk_gain,
                    out_proj=b.out_proj,
                    centred=b.centred,
                    score=b.score,
                    rope_base=b.rope_base,
                )
            if isinstance(b, (Feedforward, TransformerBlock)):
                kw.update(ratio=b.ratio, gated=b.gated)
            if isinstance(b, Feedforward):
                kw["one_layer"] = b.one_layer
            if isinstance(b, TransformerBlock):
                kw["final_norm"] = b.final_norm
            out.append(kw)
        return out

    def _check_blocks(self) -> None:
        for i, b in enumerate(self.block_list()):
            if isinstance(b, (Attention, TransformerBlock)) and self.width % b.heads:
                raise ValueError(f"heads must divide the width; got heads={b.heads} and width={self.width} (block {i})")

    def _common_init(self) -> None:
        set_ = object.__setattr__
        set_(self, "width", check.integer("width", self.width, 1, MAX_WIDTH))
        set_(self, "_act", resolve(self.activation))
        check.choice("init", self.init, get_args(Init))
        check.choice("weights", self.weights, ("gaussian", "orthogonal"))
        set_(self, "gain", check.real("gain", self.gain, 0.0))
        set_(self, "bias", check.real("bias", self.bias, 0.0))
        set_(self, "eps", check.real("eps", self.eps, 0.0))
        if self.init == "gaussian" and self.gain == 0 and self.bias == 0:
            raise ValueError("gain must be > 0 when bias is 0; got gain=0 and bias=0")
        check.choice("input_norm", self.input_norm, get_args(InputNorm))
        check.choice("positions", self.positions, get_args(Positions))
        set_(self, "position_std", check.real("position_std", self.position_std, 0.0))
        set_(self, "max_positions", check.integer("max_positions", self.max_positions, 1, 10**7))
        set_(self, "token_type", check.boolean("token_type", self.token_type))
        set_(self, "biases", _biases(self.biases))
        if self.preset is not None and not isinstance(self.preset, str):
            raise TypeError(f"preset must be a string or None; got {type(self.preset).__name__}")

    def label(self) -> str:
        """Short human-readable description."""
        norm = "no norm" if self.norm_position == "none" else f"{self.norm} norm, {self.norm_position}-norm"
        parts = [self.architecture, self.act.name, norm]
        if self.init != "gaussian":
            parts.append(f"init={self.init}")
        if self.gain != 1.0:
            parts.append(f"gain={self.gain:g}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Network(BlockNetwork):
    """Any sequence of blocks on a residual stream of width ``width``.

    Parameters
    ----------
    width : int
        The width of every block (the batch's number of columns).
    blocks : sequence of Feedforward, Attention or TransformerBlock
    activation : str or Activation
        The activation of every feedforward block.
    init : {"gaussian", "gpt2", "normal"}
    gain : float
        ``init="gaussian"``: weights ``N(0, gain^2 / d_in)``.
    bias : float
        Standard deviation of every linear map's bias (0).
    weights : {"gaussian", "orthogonal"}
        Orthogonal: every linear map Haar semi-orthogonal (as :class:`isoinit.MLP`).
    eps : float
        Added to the mean square before a norm's scaling.
    input_norm : {"none", "rows", "layer", "rms"}
        Layer 0 (what the first block sees): the input as given (``"none"``: the residual
        stream carries the embeddings at their own scale), the paper's rows scaled to mean
        square 1 (``"rows"``), or the embedding followed by a layer or RMS norm with ``eps``
        (BERT's embedding layer norm).
    positions : {"none", "learned"}
        Learned position embeddings added to the input: one ``N(0, position_std^2)`` row per
        token position (drawn per run, like the weights; GPT-2's ``wpe``).
    position_std : float
        Standard deviation of the position (and token-type) embeddings (0.02).
    max_positions : int
        Rows of the position matrix (a batch has at most this many tokens; 1024).
    token_type : bool
        Add one ``N(0, position_std^2)`` row to every token (BERT's token-type embedding).
    biases : mapping, optional
        Per map kind (``"qk"``, ``"value"``, ``"out"``, ``"mlp"``) the standard deviation of its
        biases, overriding ``bias``.
    preset : str, optional
        The preset that built the network (:mod:`isoinit.presets`), for tables.

    Examples
    --------
    An attention-only stack (Dong et al. 2021's rank-collapse baseline)::

        Network(64, [Attention(heads=4, residual=False, norm_position="none")] * 12)
    """

    width: int
    blocks: tuple[Block, ...]
    activation: ActivationSpec = "relu"
    init: Init = "gaussian"
    gain: float = 1.0
    bias: float = 0.0
    weights: Weights = "gaussian"
    eps: float = 0.0
    input_norm: InputNorm = "none"
    positions: Positions = "none"
    position_std: float = 0.02
    max_positions: int = 1024
    token_type: bool = False
    biases: Mapping[str, float] | tuple[tuple[str, float], ...] | None = None
    preset: str | None = None
    depth: int = field(init=False, repr=False, compare=False)  # the number of blocks
    _act: Activation = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.blocks, Sequence) or isinstance(self.blocks, str):
            raise TypeError(f"blocks must be a sequence of blocks; got {type(self.blocks).__name__}")
        blocks = tuple(self.blocks)
        if not blocks:
            raise ValueError("blocks must hold at least one block")
        if len(blocks) > MAX_DEPTH:
            raise ValueError(f"blocks must hold at most {MAX_DEPTH} blocks; got {len(blocks)}")
        for i, b in enumerate(blocks):
            check.instance(f"blocks[{i}]", b, _BLOCK_TYPES, "a Feedforward, Attention or TransformerBlock")
        object.__setattr__(self, "blocks", blocks)
        object.__setattr__(self, "depth", len(blocks))
        self._common_init()
        self._check_blocks()

    def block_list(self) -> tuple[Block, ...]:
        """The blocks, in order."""
        return self.blocks

    @property
    def architecture(self) -> str:
        """``"network"``."""
        return "network"


@dataclass(frozen=True)
class ResidualMLP(BlockNetwork):
    """A stack of ``depth`` residual MLP blocks (:class:`Feedforward`).

    Parameters
    ----------
    depth : int
        Number of blocks.
    width : int
        Width of the residual stream (the batch's number of columns).
    activation : str or Activation
    norm : {"layer", "rms", "batch", "center", "none"}
    norm_position : {"pre", "post", "none"}
        ``pre``: ``X + alpha f(Norm(X))``; ``post``: ``Norm(X + alpha f(X))``.
    ratio : float or None
        Hidden width over width (``f = Lin2 sigma Lin1``); ``None``: the one-layer form
        ``f(U) = sigma(Lin(U))``.
    alpha : float or "1/sqrt(L)"
        Residual scale (``"1/sqrt(L)"``: ``1 / sqrt(depth)``).
    skip : float
        Scale of the residual path (:class:`Feedforward`).
    init, gain, bias, weights, eps, input_norm, positions, position_std, max_positions, token_type, biases, preset
        As for :class:`Network`.
    """

    depth: int
    width: int
    activation: ActivationSpec = "relu"
    norm: BlockNorm = "layer"
    norm_position: Position = "pre"
    ratio: float | None = 4.0
    alpha: Alpha = 1.0
    init: Init = "gaussian"
    gain: float = 1.0
    bias: float = 0.0
    weights: Weights = "gaussian"
    eps: float = 0.0
    skip: float = 1.0
    input_norm: InputNorm = "none"
    positions: Positions = "none"
    position_std: float = 0.02
    max_positions: int = 1024
    token_type: bool = False
    biases: Mapping[str, float] | tuple[tuple[str, float], ...] | None = None
    preset: str | None = None
    _act: Activation = field(init=False, repr=False, compare=False)
    _blocks: tuple[Block, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", check.integer("depth", self.depth, 1, MAX_DEPTH))
        one = self.ratio is None
        block = Feedforward(
            ratio=4.0 if one else self.ratio,  # type: ignore[arg-type]
            one_layer=one,
            norm=self.norm,
            norm_position=self.norm_position,
            alpha=self.alpha,
            skip=self.skip,
        )
        object.__setattr__(self, "ratio", None if one else block.ratio)
        object.__setattr__(self, "alpha", block.alpha)
        object.__setattr__(self, "skip", block.skip)
        object.__setattr__(self, "_blocks", (block,) * self.depth)
        self._common_init()

    def block_list(self) -> tuple[Block, ...]:
        """The blocks, in order."""
        return self._blocks

    @property
    def architecture(self) -> str:
        """``"residual-mlp"``."""
        return "residual-mlp"


@_renamed.fields(mlp_ratio="ratio")
@dataclass(frozen=True)
class Transformer(BlockNetwork):
    """A stack of ``depth`` transformer blocks (:class:`TransformerBlock`).

    Parameters
    ----------
    depth : int
        Number of blocks.
    width : int
        Model width ``d`` (the batch's number of columns: one row per token).
    heads : int
        Attention heads; must divide ``width``.
    ratio : float
        The feedforward's hidden width over ``width`` (4). (``mlp_ratio``, its old name, is
        accepted too.)
    norm_position : {"pre", "post"}
        ``pre``: GPT-2's block, with a final layer norm after the last block; ``post``: the
        original transformer's.
    causal : bool
        Causal attention mask.
    init : {"gaussian", "gpt2", "normal"}
        ``gpt2``: GPT-2's initialization (weights ``N(0, 0.02^2)``, residual projections
        scaled by ``1 / sqrt(2 depth)``).
    activation : str or Activation
        The feedforward's activation (GELU).
    norm : {"layer", "rms", "batch", "center", "none"}
    alpha : float or "1/sqrt(L)"
        Residual scale of both halves of every block.
    final_norm : bool, optional
        The final layer norm; default: with pre-norm.
    qk_gain, out_proj, centred, score, rope_base, gated, skip
        Of every block, as for :class:`TransformerBlock`.
    gain, bias, weights, eps, input_norm, positions, position_std, max_positions, token_type, biases, preset
        As for :class:`Network`.

    Examples
    --------
    GPT-2 small's shape at initialization::

        Transformer(12, 768, heads=12, init="gpt2")
    """

    depth: int
    width: int
    heads: int
    ratio: float = 4.0
    norm_position: Literal["pre", "post"] = "pre"
    causal: bool = False
    init: Init = "gaussian"
    activation: ActivationSpec = "gelu"
    norm: BlockNorm = "layer"
    alpha: Alpha = 1.0
    final_norm: bool | None = None
    gain: float = 1.0
    bias: float = 0.0
    weights: Weights = "gaussian"
    eps: float = 0.0
    qk_gain: float = 1.0
    out_proj: bool = True
    centred: bool = False
    score: Score = "sqrt"
    rope_base: float = 0.0
    gated: bool = False
    skip: float = 1.0
    input_norm: InputNorm = "none"
    positions: Positions = "none"
    position_std: float = 0.02
    max_positions: int = 1024
    token_type: bool = False
    biases: Mapping[str, float] | tuple[tuple[str, float], ...] | None = None
    preset: str | None = None
    _act: Activation = field(init=False, repr=False, compare=False)
    _blocks: tuple[Block, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", check.integer("depth", self.depth, 1, MAX_DEPTH))
        check.choice("norm_position", self.norm_position, ("pre", "post"))
        final = self.norm_position == "pre" if self.final_norm is None else check.boolean("final_norm", self.final_norm)
        object.__setattr__(self, "final_norm", final)
        block = TransformerBlock(
            heads=self.heads,
            ratio=self.ratio,
            causal=self.causal,
            norm=self.norm,
            norm_position=self.norm_position,
            alpha=self.alpha,
            qk_gain=self.qk_gain,
            out_proj=self.out_proj,
            centred=self.centred,
            score=self.score,
            rope_base=self.rope_base,
            gated=self.gated,
            skip=self.skip,
        )
        last = dataclasses.replace(block, final_norm=final)
        for name in ("qk_gain", "out_proj", "centred", "score", "rope_base", "gated", "skip"):
            object.__setattr__(self, name, getattr(block, name))
        object.__setattr__(self, "heads", block.heads)
        object.__setattr__(self, "ratio", block.ratio)
        object.__setattr__(self, "alpha", block.alpha)
        object.__setattr__(self, "causal", block.causal)
        object.__setattr__(self, "_blocks", (block,) * (self.depth - 1) + (last,))
        self._common_init()
        self._check_blocks()

    def block_list(self) -> tuple[Block, ...]:
        """The blocks, in order."""
        return self._blocks

    @property
    def mlp_ratio(self) -> float:
        """The old name of :attr:`ratio` (renamed in 0.2.0), kept as an alias."""
        return self.ratio

    @property
    def architecture(self) -> str:
        """``"transformer"``."""
        return "transformer"
