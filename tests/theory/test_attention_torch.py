"""Attention at infinite width against a plain PyTorch model of Giorlandino and Goldt's encoder.

The model below is written from their description (ICLR 2026, Figure 1) with ``torch.nn``
layers and their own random initialization, nothing of isoinit's: per layer, post-norm
``X1 = LN(softmax(Q K^T / sqrt(d_h)) V + alpha_SA X)``, ``X2 = LN(W2 relu(W1 X1 + b1) + b2 +
alpha_MLP X1)`` (pre-norm: ``X1 = alpha_SA X + O(LN(X))``, ``X2 = alpha_MLP X1 + MLP(LN(X1))``),
no attention output projection, gain-controlled attention subtracting ``1/T`` from softmax.

1. The same network: isoinit's weights (:func:`isoinit.network_weights` of
   :func:`isoinit.presets.gg_encoder`) loaded into the PyTorch model give the Grams of
   :func:`isoinit.forward` at every layer (float64, to rounding).
2. The mean field: the mean token cosine of :func:`isoinit.meanfield.trajectory` against the mean
   over networks drawn by PyTorch's own initialization, at every layer (the issue's size,
   T = 64, width 4096, 8 heads, 16 layers, is ``python bench/bench_attention.py --only torch``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

import isoinit
from isoinit import presets
from isoinit.metrics import mean_correlation
from isoinit.theory import meanfield
from tolerances import ATTENTION_TORCH_BIAS_ABS, ATTENTION_TORCH_SIGMAS, ROUNDING

torch = pytest.importorskip("torch")
F = torch.nn.functional

Array = NDArray[np.float64]


class Encoder(torch.nn.Module):  # type: ignore[misc]
    """Giorlandino and Goldt's encoder in plain PyTorch (float64), with their initialization."""

    def __init__(
        self,
        depth: int,
        width: int,
        heads: int,
        tokens: int,
        beta: float,
        *,
        position: str = "post",
        centred: bool = False,
        skip: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.heads, self.position, self.centred, self.skip = heads, position, centred, skip

        def linear(bias: bool, var: float) -> torch.nn.Linear:
            lin = torch.nn.Linear(width, width, bias=bias, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.normal_(0.0, math.sqrt(var / width), generator=generator)
                if bias:
                    lin.bias.normal_(0.0, 0.02, generator=generator)
            return lin

        qk = beta * math.sqrt(math.log(tokens))  # weights N(0, beta sqrt(log T) / d)
        self.q = torch.nn.ModuleList(linear(False, qk) for _ in range(depth))
        self.k = torch.nn.ModuleList(linear(False, qk) for _ in range(depth))
        self.v = torch.nn.ModuleList(linear(True, 0.2) for _ in range(depth))
        self.w1 = torch.nn.ModuleList(linear(True, 0.2) for _ in range(depth))
        self.w2 = torch.nn.ModuleList(linear(True, 0.2) for _ in range(depth))

    def attention(self, layer: int, u: torch.Tensor) -> torch.Tensor:
        t, d = u.shape
        h = self.heads

        def split(a: torch.Tensor) -> torch.Tensor:
            return a.reshape(t, h, d // h).transpose(0, 1)  # (heads, T, d_h)

        q, k, v = split(self.q[layer](u)), split(self.k[layer](u)), split(self.v[layer](u))
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d // h), dim=-1)
        if self.centred:
            a = a - 1.0 / t
        return (a @ v).transpose(0, 1).reshape(t, d)

    def mlp(self, layer: int, u: torch.Tensor) -> torch.Tensor:
        return self.w2[layer](torch.relu(self.w1[layer](u)))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The stream after every layer, ``x`` first."""

        def ln(a: torch.Tensor) -> torch.Tensor:
            return F.layer_norm(a, (a.shape[-1],), eps=0.0)

        out = [x]
        for layer in range(len(self.q)):
            if self.position == "post":
                x = ln(self.attention(layer, x) + self.skip * x)
                x = ln(self.mlp(layer, x) + x)
            else:
                x = self.skip * x + self.attention(layer, ln(x))
                x = x + self.mlp(layer, ln(x))
            out.append(x)
        return out


def grams(states: list[torch.Tensor]) -> Array:
    return np.stack([(s @ s.T).numpy() / s.shape[1] for s in states])


# ---------------------------------------------------------------------------------------
# 1. the same network
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("position", "centred", "skip"), [("post", False, 1.0), ("pre", True, 0.5)])
def test_isoinit_weights_in_the_pytorch_model_give_the_same_grams(position: str, centred: bool, skip: float) -> None:
    depth, width, heads, tokens = 3, 48, 4, 10
    net = presets.gg_encoder(depth, width, tokens, 2.0, heads=heads, norm_position=position, centred=centred, skip=skip)  # type: ignore[arg-type]
    x = isoinit.inputs.correlated(tokens, width, 0.3, seed=1)
    weights = isoinit.network_weights(net, width, seed=5)
    model = Encoder(depth, width, heads, tokens, 2.0, position=position, centred=centred, skip=skip)
    named = dict(zip(weights.names, weights, strict=True))
    with torch.no_grad():
        for layer in range(depth):
            for name, lin in (("q", model.q), ("k", model.k), ("v", model.v)):
                w, b = named[f"blocks.{2 * layer}.attn.{name}"]
                lin[layer].weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))  # x W + b is Linear's x W^T + b
                if b.size:
                    lin[layer].bias.copy_(torch.from_numpy(b))
            for name, lin in (("in", model.w1), ("out", model.w2)):
                w, b = named[f"blocks.{2 * layer + 1}.mlp.{name}"]
                lin[layer].weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
                lin[layer].bias.copy_(torch.from_numpy(b))
        expected = grams(model(torch.from_numpy(x)))
    traj = isoinit.forward(net, x, weights, grams=True)
    assert traj.grams is not None
    got = traj.grams[0, ::2]  # layer l is block 2 l (its feedforward half)
    np.testing.assert_allclose(got, expected, rtol=0, atol=ROUNDING * np.abs(expected).max())


# ---------------------------------------------------------------------------------------
# 2. the mean field against PyTorch's networks
# ---------------------------------------------------------------------------------------

T, WIDTH, HEADS, DEPTH, RUNS = 16, 512, 4, 8, 24
CASES = [("post", 0.5, False), ("post", 3.0, False), ("pre", 3.0, False), ("post", 3.0, True)]


def torch_cosines(position: str, beta: float, centred: bool, x: Array) -> Array:
    """The mean token cosine per layer of ``RUNS`` PyTorch networks (runs x layers)."""
    gen = torch.Generator().manual_seed(1234)
    out = []
    with torch.no_grad():
        for _ in range(RUNS):
            model = Encoder(DEPTH, WIDTH, HEADS, T, beta, position=position, centred=centred, generator=gen)
            out.append(mean_correlation(grams(model(torch.from_numpy(x)))))
    return np.asarray(out)


@pytest.mark.parametrize(
    ("position", "beta", "centred"), CASES, ids=[f"{p}-beta{b:g}-{'gc' if c else 'plain'}" for p, b, c in CASES]
)
def test_mean_field_agrees_with_pytorch(position: str, beta: float, centred: bool) -> None:
    x = isoinit.inputs.correlated(T, WIDTH, 0.3, seed=2)
    net = presets.gg_encoder(DEPTH, WIDTH, T, beta, heads=HEADS, norm_position=position, centred=centred)  # type: ignore[arg-type]
    mf = mean_correlation(meanfield.trajectory(net, x).grams)[::2]
    runs = torch_cosines(position, beta, centred, x)
    mean = runs.mean(axis=0)
    se = runs.std(axis=0, ddof=1) / math.sqrt(RUNS)
    err = np.abs(mf - mean)
    allowed = ATTENTION_TORCH_BIAS_ABS + ATTENTION_TORCH_SIGMAS * se
    assert np.all(err <= allowed), (err, se)
    # power: the mean field of a residual path 25% weaker in the attention (skip 0.75) fails it
    wrong = presets.gg_encoder(DEPTH, WIDTH, T, beta, heads=HEADS, norm_position=position, centred=centred, skip=0.75)  # type: ignore[arg-type]
    assert np.any(np.abs(mean_correlation(meanfield.trajectory(wrong, x).grams)[::2] - mean) > allowed)
