"""The mean-field recursion of a block network, on the state of its residual stream.

The stream's Gram need not have a constant diagonal and its rows can have a mean over
features, so the state is the centered Gram and the rows' means (:class:`_ResidualStream`);
every feedforward block maps it through Gaussian expectations of the activation, every
attention block through the expectation over its random scores that a ``branch`` function
supplies (:mod:`isoinit.theory._attention`: Monte Carlo, closed forms, or the REM limit).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ..activations import Activation
from ..metrics import gram
from ..networks.blocks import Attention, BlockNetwork, Feedforward, TransformerBlock
from ..networks.mlp import NORM_PRESETS
from ._breakdown import _ENDS, _TINY, _moments, _overflow, _underflow
from .hermite import nngp_kernel

_F = NDArray[np.float64]

#: The expectation over one attention block's scores, given its block index (1-based), the
#: block, and the query-key and value Grams ``K_qk``, ``K_V`` of its input: the Gram
#: ``E[A K_V A^T]`` of the heads' output before ``Wo`` (:mod:`isoinit.theory._attention`).
Branch = Callable[[int, Attention | TransformerBlock, _F, _F], _F]

#: Why finite_width has no attention (its 1/d expansion is around a deterministic Gaussian map).
_ATTENTION_REASON = (
    "the infinite-width limit of attention is an expectation over random scores (the scores "
    "Q K^T / sqrt(d_h) stay Gaussian with O(1) variance as d_h -> infinity; "
    "isoinit.meanfield.trajectory computes it by Monte Carlo), and no 1/d correction is "
    "derived around it"
)


def _check_network(net: BlockNetwork, *, attention: bool = False) -> None:
    """Refuse what has no deterministic, width-independent infinite-width map.

    ``attention=False`` (finite_width) refuses attention blocks too; ``attention=True`` (the
    mean field) refuses only what its attention map does not cover: rotary embeddings.
    """
    for i, b in enumerate(net.block_list()):
        if not isinstance(b, (Attention, TransformerBlock)):
            continue
        kind = "an attention block" if isinstance(b, Attention) else "a transformer block (attention + MLP)"
        if not attention:
            raise ValueError(
                f"the 1/d correction of a {net.architecture} is not defined: block {i} is {kind}, and "
                f"{_ATTENTION_REASON} (Theory §6). Use isoinit.simulate(net, X, runs=...) at the width "
                "of interest instead."
            )
        if b.rope_base:
            raise ValueError(
                f"the mean field does not cover rotary embeddings (block {i}: rope_base={b.rope_base:g}): "
                "they make the scores' covariance depend on the token offsets, "
                "K_ik K_jl times the mean over frequencies of cos(((j - i) - (l - k)) theta), which the "
                "Monte Carlo of isoinit.meanfield.trajectory does not sample. Use "
                "isoinit.simulate(net, X, runs=...) at a large width instead."
            )
    if net.init != "gaussian":
        raise ValueError(
            f"the mean field needs init='gaussian' (weights N(0, gain^2 / d_in)); got init={net.init!r}: "
            "GPT-2's weights N(0, 0.02^2) do not scale with the width, so the pre-activation variance "
            "0.02^2 d_in grows without bound as d_in -> infinity and there is no infinite-width limit. "
            "Use isoinit.simulate(net, X, runs=...) at the width of interest."
        )
    for i, b in enumerate(net.block_list()):
        if b.norm == "batch" and b.norm_position != "none":
            raise ValueError(
                f"batch normalization (block {i}) has no entrywise infinite-width map: every Gram "
                "entry depends on the whole batch Gram (Theory §4). Use "
                "isoinit.simulate(net, X, runs=...) at a large width as its infinite-width limit."
            )


def _snap(v: _F) -> _F:
    """Variances equal to rounding (1e-12 relative) made exactly equal.

    The kernels are then read from one cached table instead of integrated pair by pair
    (the change is below the kernels' own accuracy, 1e-12).
    """
    mean = float(v.mean())
    if mean > 0 and float(np.max(np.abs(v - mean))) <= 1e-12 * mean:
        return np.full_like(v, mean)
    return v


def _gauss(act: Activation, sigma: _F) -> tuple[_F, _F]:
    """``mu_i = E sigma(u_i)`` and ``S_ij = E sigma(u_i) sigma(u_j)`` for ``u ~ N(0, Sigma)``.

    The diagonal and the means from :func:`~isoinit.hermite.moments` (a zero variance gives
    ``sigma(0)`` and ``sigma(0)^2`` exactly), the off-diagonal entries from
    :func:`~isoinit.hermite.nngp_kernel` (unequal variances allowed: a non-constant diagonal
    costs a 2-D quadrature per pair for activations without a closed-form kernel).
    """
    n = sigma.shape[0]
    var = np.diag(sigma).copy()
    if not np.all(np.isfinite(var)):
        raise _overflow("the pre-activation variance gain^2 K + bias^2")
    var = _snap(np.maximum(var, 0.0))
    s = np.sqrt(var)
    mus, m2s = np.empty(n), np.empty(n)
    for row, si in enumerate(s):
        if si == 0.0:
            mus[row] = float(act(np.zeros(1))[0])
            m2s[row] = mus[row] * mus[row]
        else:
            m = _moments(act, float(si))
            mus[row], m2s[row] = m.c0, m.m2
    i, j = np.triu_indices(n, 1)
    den = s[i] * s[j]
    r = np.clip(np.divide(sigma[i, j], den, out=np.ones_like(den), where=den > 0), -1.0, 1.0)
    try:
        vals = nngp_kernel(act, var[i], var[j], r)
    except OverflowError as err:
        raise _overflow("a kernel value") from err
    out = np.empty((n, n))
    out[i, j] = vals
    out[j, i] = vals
    out[np.arange(n), np.arange(n)] = m2s
    return mus, out


class _ResidualStream:
    """The infinite-width state of a residual stream.

    ``c``: the centered Gram ``(X - m 1^T)(X - m 1^T)^T / d``; ``m``: the rows' means over
    features; ``diag``: the diagonal of the full Gram ``K = c + m m^T`` where a scaling made
    it exact (1 after layer or RMS scaling without ``eps``), else None. Keeping the centered
    Gram (rather than ``K``) spares the cancellation ``K - m m^T`` of layer centering, so a
    row that centering makes exactly zero stays zero, as in the simulator.
    """

    __slots__ = ("c", "diag", "m")

    def __init__(self, c: _F, m: _F, diag: _F | None = None) -> None:
        self.c, self.m, self.diag = c, m, diag

    def gram(self) -> _F:
        """The full Gram ``K = c + m m^T`` (symmetric; the exact diagonal where known)."""
        k: _F = self.c + np.outer(self.m, self.m)
        k = 0.5 * (k + k.T)
        if self.diag is not None:
            idx = np.arange(len(self.m))
            k[idx, idx] = self.diag
        return k


def _normalize(norm: str, eps: float, x: _ResidualStream) -> _ResidualStream:
    """A block's norm on the stream's state.

    Layer centering: ``m = 0`` (the centered Gram is unchanged). Layer scaling:
    ``c -> D^(-1/2) c D^(-1/2)`` and ``m -> D^(-1/2) m`` with ``D = diag(c) + m^2 + eps`` the
    rows' mean squares plus ``eps`` (a zero row stays zero, as in the simulator).
    """
    center, scale = NORM_PRESETS[norm]
    c, m, diag = x.c, x.m, x.diag
    if center == "layer":
        m, diag = np.zeros_like(m), None
    if scale == "layer":
        ms = np.diag(c) + m * m
        den = ms + eps
        f = np.divide(1.0, np.sqrt(den), out=np.zeros_like(den), where=den > 0)
        c, m = c * np.outer(f, f), m * f
        diag = np.divide(ms, den, out=np.zeros_like(den), where=den > 0)  # exactly 1 when eps = 0
    return _ResidualStream(c, m, diag)


def _feedforward(net: BlockNetwork, b: Feedforward, x: _ResidualStream) -> _ResidualStream:
    """One :class:`~isoinit.blocks.Feedforward` block on the stream's state; see :func:`trajectory`."""
    normed = b.norm_position != "none"
    u = _normalize(b.norm, net.eps, x) if normed and b.norm_position == "pre" else x
    gain2, bias2 = net.gain**2, dict(net.biases or ()).get("mlp", net.bias) ** 2
    pre = gain2 * u.gram() + bias2
    mu, hidden = _gauss(net.act, pre)
    if b.gated:  # sigma(Lin1 U) * Lin3 U: independent factors, Gram E[sigma sigma'] * pre
        hidden = hidden * pre
    if b.one_layer:  # f(U) = sigma(Lin(U)): row i has the mean mu_i over features
        cf, mf = hidden - np.outer(mu, mu), mu
    else:  # f(U) = Lin2(sigma(Lin1(U))): centered, Gram gain^2 E[sigma sigma] + bias^2
        cf, mf = gain2 * hidden + bias2, np.zeros_like(mu)
    if b.residual:  # the centered parts of X and f are uncorrelated
        a, s = net._resolved_alpha(b.alpha), b.skip
        out = _ResidualStream((s * s) * x.c + (a * a) * cf, s * x.m + a * mf)
    else:
        out = _ResidualStream(cf, mf)
    if normed and b.norm_position == "post":
        out = _normalize(b.norm, net.eps, out)
    return out


def input_state(net: BlockNetwork, x: _F, g0: _F) -> tuple[_ResidualStream, _F]:
    """Layer 0 of a block network at infinite width: its stream state and Gram.

    The input as given (``input_norm="none"``) or with rows of mean square 1 (``"rows"``,
    whose Gram is ``g0``); learned positions add ``position_std^2`` to the diagonal and a
    token-type row ``position_std^2`` to every entry (independent of the batch, their
    cross terms with it vanish at infinite width); then the input norm, if any.
    """
    if net.input_norm == "rows":
        x = x / np.sqrt(np.mean(x * x, axis=1, keepdims=True))
    m = x.mean(axis=1)
    xc = x - m[:, None]
    c = gram(xc)
    plain = net.input_norm == "rows" and net.positions == "none" and not net.token_type
    if net.positions == "learned":
        c = c + net.position_std**2 * np.eye(len(m))
    if net.token_type:
        c = c + net.position_std**2
    state = _ResidualStream(c, m)
    if net.input_norm in ("layer", "rms"):
        state = _normalize(net.input_norm, net.eps, state)
    return state, (g0 if plain else state.gram())


def _attention_half(
    net: BlockNetwork, layer: int, b: Attention | TransformerBlock, x: _ResidualStream, branch: Branch
) -> _ResidualStream:
    """The attention half of a block on the stream's state; see :func:`isoinit.meanfield.trajectory`.

    Its input ``U`` (the normed stream for pre-norm, the stream otherwise) has the full Gram
    ``K``; queries and keys have the Gram ``K_qk = gain^2 qk_gain^2 K + b_qk^2``, values
    ``K_V = gain^2 K + b_V^2``. The heads' output ``A V`` has row means 0 and the Gram
    ``branch(...) = E[A K_V A^T]`` (its values' weights are independent of the scores and of the
    stream, and centered); ``Wo`` maps it to ``gain^2 E[A K_V A^T] + b_o^2``. The branch's
    features are centered and independent of the stream's, so the residual sum adds Grams.
    """
    normed = b.norm_position != "none"
    u = _normalize(b.norm, net.eps, x) if normed and b.norm_position == "pre" else x
    k = u.gram()
    biases = dict(net.biases or ())
    b_qk, b_v, b_o = (biases.get(kind, net.bias) ** 2 for kind in ("qk", "value", "out"))
    gain2 = net.gain**2
    cb = branch(layer, b, gain2 * b.qk_gain**2 * k + b_qk, gain2 * k + b_v)
    if b.out_proj:
        cb = gain2 * cb + b_o
    zero = np.zeros_like(x.m)
    if b.residual:
        a, s = net._resolved_alpha(b.alpha), b.skip
        out = _ResidualStream((s * s) * x.c + (a * a) * cb, s * x.m)
    else:
        out = _ResidualStream(cb, zero)
    if normed and b.norm_position == "post":
        out = _normalize(b.norm, net.eps, out)
    return out


def _feedforward_half(b: TransformerBlock) -> Feedforward:
    """The feedforward half of a transformer block, as a :class:`Feedforward` block."""
    return Feedforward(
        ratio=b.ratio, norm=b.norm, norm_position=b.norm_position, alpha=b.alpha, gated=b.gated, skip=b.skip
    )


def _block(net: BlockNetwork, layer: int, b: object, x: _ResidualStream, branch: Branch | None) -> _ResidualStream:
    """One block of any kind on the stream's state."""
    if isinstance(b, Feedforward):
        return _feedforward(net, b, x)
    assert isinstance(b, (Attention, TransformerBlock)) and branch is not None  # _check_network
    x = _attention_half(net, layer, b, x, branch)
    if isinstance(b, TransformerBlock):
        x = _feedforward(net, _feedforward_half(b), x)
        if b.final_norm and b.norm_position != "none":
            x = _normalize(b.norm, net.eps, x)
    return x


def _stream_grams(net: BlockNetwork, x: _F, g0: _F, branch: Branch | None = None) -> tuple[_F, int, str]:
    """``G^0..G^L`` of a block network on the batch ``x`` whose Gram is ``g0``.

    Returns ``G^0..G^L``, NaN from the layer where the recursion broke down, with that layer
    and the reason (-1 and "" if never). ``g0`` is the MLP's ``G^0``, so both start from the
    same Gram bit for bit. ``branch`` gives attention blocks their expectation over scores.
    """
    state, k = input_state(net, x, g0)
    return _iterate(net, state, k, branch)


def _iterate(net: BlockNetwork, state: _ResidualStream, k: _F, branch: Branch | None) -> tuple[_F, int, str]:
    """The blocks of ``net`` from the state ``state`` of layer 0 (whose Gram is ``k``); see :func:`_stream_grams`."""
    n = k.shape[0]
    grams = np.full((net.depth + 1, n, n), np.nan)
    grams[0] = k
    for layer, b in enumerate(net.block_list(), start=1):
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                try:
                    state = _block(net, layer, b, state, branch)
                except OverflowError as err:
                    raise _overflow("a kernel value") from err
                k = state.gram()
            if not (np.all(np.isfinite(k)) and np.all(np.isfinite(state.m))):
                raise _overflow("a Gram entry")
            low = float(np.min(np.diag(k)))
            if not low >= _TINY:
                raise _underflow("a diagonal entry of the Gram", low)
        except _ENDS as err:
            return grams, layer, str(err)
        grams[layer] = k
    return grams, -1, ""
