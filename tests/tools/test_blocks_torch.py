"""Block networks against plain PyTorch: the token-Gram gap after each block, in distribution.

A pre-norm residual MLP and GPT-2 (its block and initialization, written in plain torch.nn
as in GPT-2 / nanoGPT), in float64, measured with isoinit.hooks over many random
initializations, against isoinit.simulate of the same configuration: two-sample KS tests at
tolerances.BLOCK_KS_ALPHA (the Bonferroni level of both block test files).

GELU: isoinit's "gelu" is the erf form x Phi(x), which is torch.nn.GELU()'s default (GPT-2's
own code uses the tanh approximation, isoinit's "gelu_tanh").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'isoinit[torch]')")

from numpy.typing import NDArray  # noqa: E402
from scipy import stats  # noqa: E402
from torch import Tensor, nn  # noqa: E402

import isoinit  # noqa: E402
from isoinit.hooks import measure  # noqa: E402
from isoinit.inputs import degenerate  # noqa: E402
from tolerances import BLOCK_KS_ALPHA, BLOCK_KS_TESTS_TORCH  # noqa: E402

N_TOKENS, WIDTH, DEPTH, HEADS = 8, 32, 2, 4
MODELS = 150  # PyTorch initializations per configuration
RUNS = 2000  # isoinit runs per configuration
EPS = 1e-5  # torch.nn.LayerNorm's default
F64 = torch.float64
#: the KS tests of this file: 2 residual-MLP block outputs, 3 per GPT-2 (block 1, block 2, ln_f)
assert DEPTH + 2 * (DEPTH + 1) == BLOCK_KS_TESTS_TORCH


class ResidualMLPBlock(nn.Module):
    """x + fc2(relu(fc1(LayerNorm(x)))), no biases, weights N(0, 1/d_in)."""

    def __init__(self, d: int, ratio: int = 4) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d, eps=EPS, elementwise_affine=False, dtype=F64)
        self.fc1 = nn.Linear(d, ratio * d, bias=False, dtype=F64)
        self.fc2 = nn.Linear(ratio * d, d, bias=False, dtype=F64)
        self.act = nn.ReLU()
        for lin in (self.fc1, self.fc2):
            nn.init.normal_(lin.weight, 0.0, 1.0 / math.sqrt(lin.in_features))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = x + self.fc2(self.act(self.fc1(self.norm(x))))
        return out


class SelfAttention(nn.Module):
    """GPT-2's attention: c_attn (d -> 3d) gives Q, K, V; heads; optional causal mask; c_proj."""

    def __init__(self, d: int, heads: int, causal: bool) -> None:
        super().__init__()
        self.heads, self.causal = heads, causal
        self.c_attn = nn.Linear(d, 3 * d, dtype=F64)
        self.c_proj = nn.Linear(d, d, dtype=F64)

    def forward(self, x: Tensor) -> Tensor:
        b, t, d = x.shape
        q, k, v = (m.view(b, t, self.heads, d // self.heads).transpose(1, 2) for m in self.c_attn(x).split(d, dim=2))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)
        if self.causal:
            mask = torch.ones(t, t, dtype=torch.bool).tril()
            scores = scores.masked_fill(~mask, float("-inf"))
        y = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, t, d)
        out: Tensor = self.c_proj(y)
        return out


class MLP(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(d, 4 * d, dtype=F64)
        self.gelu = nn.GELU()  # the erf form, as isoinit's "gelu"
        self.c_proj = nn.Linear(4 * d, d, dtype=F64)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.c_proj(self.gelu(self.c_fc(x)))
        return out


class GPT2Block(nn.Module):
    def __init__(self, d: int, heads: int, causal: bool) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=EPS, dtype=F64)
        self.attn = SelfAttention(d, heads, causal)
        self.ln_2 = nn.LayerNorm(d, eps=EPS, dtype=F64)
        self.mlp = MLP(d)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        out: Tensor = x + self.mlp(self.ln_2(x))
        return out


class GPT2(nn.Module):
    """Blocks h.0 .. h.{L-1} and the final layer norm ln_f (no embeddings: tokens are the input)."""

    def __init__(self, d: int, depth: int, heads: int, causal: bool, qkv_std: float = 0.02) -> None:
        super().__init__()
        self.h = nn.ModuleList([GPT2Block(d, heads, causal) for _ in range(depth)])
        self.ln_f = nn.LayerNorm(d, eps=EPS, dtype=F64)
        # GPT-2's initialization: Linear weights N(0, 0.02^2), biases 0, the projections into
        # the residual stream (c_proj) N(0, (0.02 / sqrt(2 n_layer))^2); LayerNorm weight 1, bias 0
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * depth))
            elif name.endswith("c_attn.weight"):
                nn.init.normal_(p, 0.0, qkv_std)
            elif name.endswith("c_fc.weight"):
                nn.init.normal_(p, 0.0, 0.02)
            elif name.endswith(".bias") and "ln_" not in name:
                nn.init.zeros_(p)

    def forward(self, x: Tensor) -> Tensor:
        for block in self.h:
            x = block(x)
        out: Tensor = self.ln_f(x)
        return out


def _tokens() -> NDArray[np.float64]:
    """The tokens, rows scaled to mean square 1 (what isoinit's layer 0 is)."""
    x = degenerate(N_TOKENS, WIDTH, 5.0, seed=3)
    out: NDArray[np.float64] = x / np.sqrt(np.mean(x**2, axis=1, keepdims=True))
    return out


class Ensemble(nn.Module):
    """Independent initializations side by side: one forward pass runs each on the same tokens."""

    def __init__(self, models: list[nn.Module]) -> None:
        super().__init__()
        self.models = nn.ModuleList(models)

    def forward(self, x: Tensor) -> None:
        for model in self.models:
            model(x)


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    # tiny matrices: one thread is fastest, and shares the machine's cores
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _torch_gaps(make: Callable[[], nn.Module], modules: list[str], seed: int) -> NDArray[np.float64]:
    """(MODELS, len(modules)): the token-Gram gap of each module's output, per initialization."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        ensemble = Ensemble([make() for _ in range(MODELS)])
    names = [f"models.{s}.{m}" for s in range(MODELS) for m in modules]
    df = measure(ensemble, _tokens()[None], modules=names, token_axis=1)  # one sequence: (1, T, d)
    assert (df.reason == "").all() and len(df) == len(names)
    gaps = df.set_index("module").gap
    return np.array([[gaps[f"models.{s}.{m}"] for m in modules] for s in range(MODELS)], dtype=np.float64)


def _ks(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    assert np.isfinite(a).all() and np.isfinite(b).all()
    return float(stats.ks_2samp(a, b).pvalue)


def test_residual_mlp_matches_pytorch_in_distribution() -> None:
    blocks = [str(k) for k in range(DEPTH)]
    got = _torch_gaps(lambda: nn.Sequential(*[ResidualMLPBlock(WIDTH) for _ in range(DEPTH)]), blocks, seed=1)
    net = isoinit.ResidualMLP(DEPTH, WIDTH, activation="relu", norm="layer", norm_position="pre", eps=EPS)
    traj = isoinit.simulate(net, _tokens(), runs=RUNS, seed=2)
    pvalues = [_ks(got[:, k], traj.gap[:, k + 1]) for k in range(DEPTH)]
    assert min(pvalues) > BLOCK_KS_ALPHA, pvalues


def _gpt2(causal: bool) -> isoinit.Trajectory:
    net = isoinit.Transformer(DEPTH, WIDTH, heads=HEADS, init="gpt2", activation="gelu", causal=causal, eps=EPS)
    assert net.final_norm
    return isoinit.simulate(net, _tokens(), runs=RUNS, seed=4, stages=True)


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "non-causal"])
def test_gpt2_matches_pytorch_in_distribution(causal: bool) -> None:
    modules = [*(f"h.{k}" for k in range(DEPTH)), "ln_f"]
    got = _torch_gaps(lambda: GPT2(WIDTH, DEPTH, HEADS, causal), modules, seed=3)
    traj = _gpt2(causal)
    out = traj.output("gap")
    # blocks 1..L-1: their outputs; block L: before ln_f (stage resid2), then ln_f (its output)
    assert traj.stages is not None
    resid2 = traj.metrics["gap"][:, DEPTH, traj.stages.index("resid2")]
    want = [out[:, k + 1] for k in range(DEPTH - 1)] + [resid2, out[:, DEPTH]]
    pvalues = [_ks(got[:, k], w) for k, w in enumerate(want)]
    assert min(pvalues) > BLOCK_KS_ALPHA, dict(zip(modules, pvalues, strict=True))


def test_pytorch_comparison_has_power() -> None:
    # the same test rejects a GPT-2 whose Q, K, V weights have std 1/sqrt(d) instead of 0.02
    # (attention maps drawn without the init's gain)
    wrong = _torch_gaps(lambda: GPT2(WIDTH, DEPTH, HEADS, True, qkv_std=1 / math.sqrt(WIDTH)), ["ln_f"], seed=3)
    assert _ks(wrong[:, 0], _gpt2(True).output("gap")[:, DEPTH]) < BLOCK_KS_ALPHA
