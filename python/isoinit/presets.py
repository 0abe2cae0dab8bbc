"""The transformers people run, at random initialization: GPT-2, BERT and LLaMA.

Each preset is one function returning a :class:`~isoinit.Transformer` with the model's own
defaults, equal to the model the ``transformers`` package builds from the matching config
(no download) with its dropout off, on the same input embeddings (``inputs_embeds``: the
residual stream starts at ``X`` as given):

======== ========== ======================== ============================== ======================================
preset   block      norm, eps                feedforward                    attention, embedding, init
======== ========== ======================== ============================== ======================================
gpt2     pre-norm   layer norm, 1e-5         ``4d``, ``gelu_new`` (tanh)    causal, biases, learned positions
                                                                            (``wpe``), ``N(0, 0.02^2)`` with both
                                                                            ``c_proj`` ``/ sqrt(2 L)``; ``ln_f``
bert     post-norm  layer norm, 1e-12        ``4d``, erf GELU               bidirectional, biases, positions and
                                                                            the token-type row, then the
                                                                            embedding layer norm; ``N(0, 0.02^2)``
llama    pre-norm   RMS norm, 1e-6           SwiGLU, ``intermediate``       causal, rotary (base 10000), no biases,
                                                                            ``N(0, 0.02^2)``; final RMS norm
======== ========== ======================== ============================== ======================================

:func:`state_dict` renames the matrices :func:`isoinit.network_weights` draws to the
model's parameter names, so ``model.load_state_dict(state_dict(net, weights), strict=False)``
makes the ``transformers`` model the network isoinit simulated (its norms' weights 1 and
biases 0 are the models' own initialization and stay as they are).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from . import _validate as check
from .networks.blocks import Attention, BlockNetwork, Feedforward, Network, Transformer
from .simulate import NetworkWeights
from .theory.bounds import rem_qk_gain

__all__ = ["PRESETS", "bert", "gg_encoder", "gpt2", "llama", "state_dict"]


def __dir__() -> list[str]:
    return sorted(__all__)


#: The presets by name (the command line's ``--preset``).
Preset = Literal["gpt2", "bert", "llama"]


def gpt2(
    depth: int = 12,
    width: int = 768,
    heads: int = 12,
    *,
    ratio: float = 4.0,
    eps: float = 1e-5,
    max_positions: int = 1024,
    positions: bool = True,
) -> Transformer:
    """GPT-2 (``GPT2Model``) at random initialization; default GPT-2 small's shape.

    Pre-norm blocks with layer norm (``eps`` 1e-5), causal attention with biases, a ``4d``
    feedforward with ``gelu_new`` (GELU's tanh form), every weight ``N(0, 0.02^2)`` with the
    two projections into the residual stream (``attn.c_proj``, ``mlp.c_proj``) ``/ sqrt(2
    depth)``, biases 0, the final layer norm ``ln_f``, and learned position embeddings
    (``wpe``, ``N(0, 0.02^2)``) added to the input embeddings.

    Parameters
    ----------
    depth, width, heads : int
        ``n_layer``, ``n_embd`` and ``n_head``.
    ratio : float
        ``n_inner / n_embd`` (4).
    eps : float
        ``layer_norm_epsilon``.
    max_positions : int
        ``n_positions`` (the rows of ``wpe``).
    positions : bool
        Add the position embeddings (``False``: as if ``wpe`` were zero).
    """
    return Transformer(
        depth,
        width,
        heads,
        ratio=ratio,
        norm_position="pre",
        causal=True,
        init="gpt2",
        activation="gelu_tanh",
        norm="layer",
        final_norm=True,
        eps=eps,
        positions="learned" if check.boolean("positions", positions) else "none",
        max_positions=max_positions,
        preset="gpt2",
    )


def bert(
    depth: int = 12,
    width: int = 768,
    heads: int = 12,
    *,
    ratio: float = 4.0,
    eps: float = 1e-12,
    max_positions: int = 512,
    positions: bool = True,
) -> Transformer:
    """BERT's encoder (``BertModel``'s ``last_hidden_state``) at random initialization.

    The embeddings (the input, the position embeddings and the token-type embedding of type
    0, each ``N(0, 0.02^2)``) go through a layer norm, then post-norm blocks (layer norm,
    ``eps`` 1e-12) with bidirectional attention and biases, a ``4d`` feedforward with the erf
    GELU, every weight ``N(0, 0.02^2)`` and biases 0; no final norm.

    Parameters
    ----------
    depth, width, heads : int
        ``num_hidden_layers``, ``hidden_size`` and ``num_attention_heads``.
    ratio : float
        ``intermediate_size / hidden_size`` (4).
    eps : float
        ``layer_norm_eps``.
    max_positions : int
        ``max_position_embeddings``.
    positions : bool
        Add the position and token-type embeddings.
    """
    on = check.boolean("positions", positions)
    return Transformer(
        depth,
        width,
        heads,
        ratio=ratio,
        norm_position="post",
        causal=False,
        init="normal",
        activation="gelu",
        norm="layer",
        final_norm=False,
        eps=eps,
        input_norm="layer",
        positions="learned" if on else "none",
        token_type=on,
        max_positions=max_positions,
        preset="bert",
    )


def llama(
    depth: int = 16,
    width: int = 2048,
    heads: int = 32,
    *,
    intermediate: int | None = None,
    eps: float = 1e-6,
    rope_base: float = 10000.0,
) -> Transformer:
    """LLaMA (``LlamaModel``) at random initialization.

    Pre-norm blocks with RMS norm (``eps`` 1e-6), causal attention with rotary position
    embeddings on queries and keys (``rope_theta`` 10000, token ``i`` at position ``i``), no
    biases, the SwiGLU feedforward ``down(silu(gate x) * up x)`` of width ``intermediate``,
    every weight ``N(0, 0.02^2)``, and the final RMS norm. (Every head has its own keys and
    values: ``num_key_value_heads = num_attention_heads``.)

    Parameters
    ----------
    depth, width, heads : int
        ``num_hidden_layers``, ``hidden_size`` and ``num_attention_heads``.
    intermediate : int, optional
        ``intermediate_size``; default ``8/3 width`` rounded up to a multiple of 256, as
        LLaMA's.
    eps : float
        ``rms_norm_eps``.
    rope_base : float
        ``rope_theta``.
    """
    width = check.integer("width", width, 1, 10**7)
    if intermediate is None:
        intermediate = -(-(8 * width // 3) // 256) * 256
    intermediate = check.integer("intermediate", intermediate, 1, 10**8)
    return Transformer(
        depth,
        width,
        heads,
        ratio=intermediate / width,
        norm_position="pre",
        causal=True,
        init="normal",
        activation="silu",
        norm="rms",
        final_norm=True,
        eps=eps,
        rope_base=rope_base,
        gated=True,
        preset="llama",
    )


def gg_encoder(
    depth: int = 50,
    width: int = 720,
    tokens: int = 512,
    beta: float = 0.5,
    *,
    heads: int = 1,
    norm_position: Literal["post", "pre"] = "post",
    centred: bool = False,
    skip: float = 1.0,
    skip_mlp: float = 1.0,
) -> Network:
    """Giorlandino and Goldt's encoder (ICLR 2026, their Figure 1) at random initialization.

    Per layer, post-norm: ``X1 = LN(O + skip X)``, ``O = softmax(Q K^T / sqrt(d_h)) V``
    without output projection, then ``X2 = LN(W2 relu(W1 X1 + b1) + b2 + skip_mlp X1)`` with
    hidden width ``d``; pre-norm: ``X1 = skip X + O(LN(X))``, ``X2 = skip_mlp X1 +
    MLP(LN(X1))``. Value and MLP weights ``N(0, 0.2 / d)``, value and MLP biases
    ``N(0, 0.02^2)``, query and key weights ``N(0, beta sqrt(log T) / d)`` without biases (for
    unit-norm tokens the scores have variance ``beta^2 log T`` with any number of heads; with
    one head this is their ``N(0, beta sqrt(log T) / d_h)``), layer norm without affine
    parameters or ``eps``.

    It is a :class:`~isoinit.Network` of ``2 depth`` blocks, each layer's
    :class:`~isoinit.blocks.Attention` half then its :class:`~isoinit.blocks.Feedforward`
    half, so that the two halves' skips can differ: block ``2 l`` of a trajectory is the
    output of layer ``l``.

    Parameters
    ----------
    depth : int
        Layers (50).
    width : int
        ``d`` (720).
    tokens : int
        The context length ``T >= 2`` that ``beta`` refers to (512).
    beta : float
        The query-key scale ``>= 0`` (0.5; they show 0.5 and 3).
    heads : int
        Attention heads (1); must divide ``width``.
    norm_position : {"post", "pre"}
        Post-norm, their Figure 1; or pre-norm.
    centred : bool
        Gain-controlled attention: the uniform average removed from softmax.
    skip, skip_mlp : float
        Their ``alpha_SA`` and ``alpha_MLP``, the residual paths' scales (1).

    Examples
    --------
    Their Figure 1 below and above the critical query-key scale::

        [gg_encoder(beta=b) for b in (0.5, 3.0)]
    """
    depth = check.integer("depth", depth, 1)
    width = check.integer("width", width, 1, 10**7)
    gain = math.sqrt(0.2)
    qk_gain = rem_qk_gain(beta, tokens, gain=gain)  # checks beta and tokens
    check.choice("norm_position", norm_position, ("post", "pre"))
    attention = Attention(
        heads=heads,
        norm_position=norm_position,
        out_proj=False,
        qk_gain=qk_gain,
        centred=check.boolean("centred", centred),
        skip=check.real("skip", skip),
    )
    feedforward = Feedforward(ratio=1.0, norm_position=norm_position, skip=check.real("skip_mlp", skip_mlp))
    return Network(
        width,
        (attention, feedforward) * depth,
        activation="relu",
        gain=gain,
        biases={"value": 0.02, "mlp": 0.02},
        preset="gg_encoder",
    )


#: The preset functions by name.
PRESETS: dict[str, Callable[..., Transformer]] = {"gpt2": gpt2, "bert": bert, "llama": llama}


def _linear(w: NDArray[np.float64], transpose: bool) -> NDArray[np.float64]:
    """``W`` (``d_in x d_out``, ``x W``) as the model stores it: ``nn.Linear`` keeps ``W^T``."""
    return np.ascontiguousarray(w.T if transpose else w)


def state_dict(network: BlockNetwork, weights: NetworkWeights) -> dict[str, NDArray[np.float64]]:
    """The matrices of ``weights`` under the parameter names of the preset's model.

    Parameters
    ----------
    network : Transformer
        A network built by :func:`gpt2`, :func:`bert` or :func:`llama` (its ``preset``).
    weights : NetworkWeights
        ``isoinit.network_weights(network, d, seed=..., run=...)``.

    Returns
    -------
    dict of str to ndarray
        Float64 arrays shaped as the model's parameters (``GPT2Model``: ``Conv1D`` weights
        ``d_in x d_out``, ``c_attn`` the concatenation of Q, K and V; ``BertModel`` and
        ``LlamaModel``: ``nn.Linear`` weights ``d_out x d_in``). Load with
        ``model.load_state_dict({k: torch.from_numpy(v) for k, v in out.items()},
        strict=False)``; the parameters it leaves out are the norms' (1 and 0), the token
        embeddings (the input is given as ``inputs_embeds``), BERT's pooler and the
        token-type row of type 1.

    Raises
    ------
    ValueError
        If ``network`` is not a preset's, or ``weights`` are not its matrices.
    """
    check.instance("network", network, (BlockNetwork,), "a network built by isoinit.presets")
    if network.preset not in PRESETS:
        raise ValueError(
            "network must be built by isoinit.presets.gpt2, bert or llama, the presets with a transformers model; "
            f"got preset={network.preset!r}"
        )
    if not isinstance(weights, NetworkWeights):
        raise TypeError("weights must be isoinit.network_weights(network, ...) (a NetworkWeights with names)")
    named = weights.named()
    out: dict[str, NDArray[np.float64]] = {}
    if network.preset == "gpt2":
        _gpt2(named, network.depth, out)
    elif network.preset == "bert":
        _bert(named, network.depth, out)
    else:
        _llama(named, network.depth, out)
    return out


def _pair(named: dict[str, Any], key: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if key not in named:
        raise ValueError(f"weights must hold {key!r} (use isoinit.network_weights of this network)")
    w, b = named[key]
    return w, b


def _bias(b: NDArray[np.float64], d: int) -> NDArray[np.float64]:
    return b if b.size else np.zeros(d)


def _gpt2(named: dict[str, Any], depth: int, out: dict[str, NDArray[np.float64]]) -> None:
    if "positions" in named:
        out["wpe.weight"] = named["positions"][0]
    for i in range(depth):
        p, h = f"blocks.{i}", f"h.{i}"
        q, k, v = (_pair(named, f"{p}.attn.{m}") for m in "qkv")
        d = q[0].shape[1]
        out[f"{h}.attn.c_attn.weight"] = np.concatenate([q[0], k[0], v[0]], axis=1)
        out[f"{h}.attn.c_attn.bias"] = np.concatenate([_bias(q[1], d), _bias(k[1], d), _bias(v[1], d)])
        for ours, theirs in (("attn.out", "attn.c_proj"), ("mlp.in", "mlp.c_fc"), ("mlp.out", "mlp.c_proj")):
            w, b = _pair(named, f"{p}.{ours}")
            out[f"{h}.{theirs}.weight"] = _linear(w, False)
            out[f"{h}.{theirs}.bias"] = _bias(b, w.shape[1])


def _bert(named: dict[str, Any], depth: int, out: dict[str, NDArray[np.float64]]) -> None:
    if "positions" in named:
        out["embeddings.position_embeddings.weight"] = named["positions"][0]
    if "token_type" in named:  # type 0 is every token's; type 1 is never used here
        row = named["token_type"][0]
        out["embeddings.token_type_embeddings.weight"] = np.concatenate([row, np.zeros_like(row)])
    names = {
        "attn.q": "attention.self.query",
        "attn.k": "attention.self.key",
        "attn.v": "attention.self.value",
        "attn.out": "attention.output.dense",
        "mlp.in": "intermediate.dense",
        "mlp.out": "output.dense",
    }
    for i in range(depth):
        for ours, theirs in names.items():
            w, b = _pair(named, f"blocks.{i}.{ours}")
            out[f"encoder.layer.{i}.{theirs}.weight"] = _linear(w, True)
            out[f"encoder.layer.{i}.{theirs}.bias"] = _bias(b, w.shape[1])


def _llama(named: dict[str, Any], depth: int, out: dict[str, NDArray[np.float64]]) -> None:
    names = {
        "attn.q": "self_attn.q_proj",
        "attn.k": "self_attn.k_proj",
        "attn.v": "self_attn.v_proj",
        "attn.out": "self_attn.o_proj",
        "mlp.in": "mlp.gate_proj",  # the activated map
        "mlp.up": "mlp.up_proj",
        "mlp.out": "mlp.down_proj",
    }
    for i in range(depth):
        for ours, theirs in names.items():
            w, _ = _pair(named, f"blocks.{i}.{ours}")
            out[f"layers.{i}.{theirs}.weight"] = _linear(w, True)
