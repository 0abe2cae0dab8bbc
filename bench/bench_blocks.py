"""Block networks' simulation speed against PyTorch, in one run (issue: block networks benchmark).

Per network, for

  (1) a 12-block pre-norm transformer of GPT-2 small's shape (d = 768, 12 heads, MLP ratio
      4, GELU, init="gpt2", final layer norm) on n = 64 and n = 128 Gaussian tokens;
  (2) a 30-block pre-norm residual MLP (n = 10, d = 1000, MLP ratio 4, ReLU, layer norm) on
      the paper's degenerate input (degeneracy 100);

it times

  (a) the same network in PyTorch on the CPU: float32, explicit weights drawn per block,
      several networks batched with torch.bmm, all threads, in a child process; at every
      block output the Gram's eigenvalues (torch.linalg.eigvalsh, float64) and the same
      metrics isoinit records (isometry gap, potential, effective and stable rank, mean and
      max |correlation|, condition number);
  (b) isoinit, sampler="weights" (explicit float64 weights);
  (c) isoinit, sampler="gram" (each block drawn from the Gram of its input);

and prints milliseconds per network, the ratios, and the targets (a)/(c) >= 3 for the
transformer at n = 64 and (a)/(c) >= 100 for the residual MLP (PASS/MISS). It asserts that
the three agree on the mean isometry gap at the last block.

    python bench/bench_blocks.py            # full size (needs: pip install torch==2.13.0)
    python bench/bench_blocks.py --smoke    # tiny sizes, well under 30 s (CI)
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

import isoinit
from bench_simulate import median_time
from isoinit import blocks, inputs


@dataclass(frozen=True)
class Case:
    """One benchmarked network and its input."""

    name: str
    kind: str  # "transformer" or "residual-mlp"
    n: int
    d: int
    depth: int
    heads: int  # transformer only
    runs_gram: int  # networks per isoinit call, sampler="gram"
    runs_weights: int  # networks per isoinit call, sampler="weights"
    batch: int  # networks per PyTorch call (batched with torch.bmm)
    target: float  # (a)/(c) at least this; 0: no target

    def network(self) -> blocks.BlockNetwork:
        if self.kind == "transformer":
            return blocks.Transformer(self.depth, self.d, heads=self.heads, init="gpt2")
        return blocks.ResidualMLP(self.depth, self.d, "relu", norm_position="pre")

    def batch_input(self) -> np.ndarray:
        if self.kind == "transformer":
            return inputs.gaussian(self.n, self.d, seed=0)
        return inputs.degenerate(self.n, self.d, 100.0, seed=0)


def cases(smoke: bool) -> list[Case]:
    if smoke:
        return [
            Case("transformer, n = 8 (smoke)", "transformer", 8, 48, 2, 4, 4, 2, 2, 3.0),
            Case("transformer, n = 16 (smoke)", "transformer", 16, 48, 2, 4, 4, 2, 2, 0.0),
            Case("residual MLP (smoke)", "residual-mlp", 10, 50, 3, 1, 4, 2, 2, 100.0),
        ]
    return [
        Case("transformer GPT-2 small, n = 64", "transformer", 64, 768, 12, 12, 8, 2, 4, 3.0),
        Case("transformer GPT-2 small, n = 128", "transformer", 128, 768, 12, 12, 4, 2, 4, 0.0),
        Case("residual MLP, n = 10, d = 1000, L = 30", "residual-mlp", 10, 1000, 30, 1, 20, 2, 4, 100.0),
    ]


# --------------------------------------------------------------------------------------
# the PyTorch peer (run in a child process)
# --------------------------------------------------------------------------------------


def torch_metrics(torch: Any, h: Any) -> dict[str, Any]:
    """isoinit's Gram metrics of a batch of representations ``h`` (``R x n x d``), in float64."""
    g = (h @ h.transpose(1, 2)).double() / h.shape[-1]
    lam = torch.linalg.eigvalsh(g)  # ascending, per network
    n = g.shape[-1]
    mean = lam.mean(-1)
    gap = torch.log(mean) - torch.log(lam).mean(-1)
    p = lam / lam.sum(-1, keepdim=True)
    diag = torch.sqrt(torch.diagonal(g, dim1=1, dim2=2))
    rho = (g / (diag[:, :, None] * diag[:, None, :])).abs()
    off = rho[:, ~torch.eye(n, dtype=torch.bool)]
    return {
        "isometry": torch.exp(-gap),
        "gap": gap,
        "potential": (off / (1 - off)).amax(-1),
        "effective_rank": torch.exp(-(p * torch.log(p)).sum(-1)),
        "stable_rank": lam.sum(-1) / lam[:, -1],
        "mean_abs_corr": off.mean(-1),
        "max_abs_corr": off.amax(-1),
        "condition": lam[:, -1] / lam[:, 0],
    }


def _layer_norm(h: Any) -> Any:
    c = h - h.mean(-1, keepdim=True)
    return c / c.pow(2).mean(-1, keepdim=True).sqrt()


def torch_transformer(torch: Any, x: np.ndarray, case: Case, batch: int) -> list[dict[str, Any]]:
    """``batch`` GPT-2-initialized pre-norm transformers on ``x``: the metrics of every block output."""
    n, d, depth, heads = case.n, case.d, case.depth, case.heads
    dh = d // heads
    out_scale = 0.02 / math.sqrt(2 * depth)  # GPT-2: residual projections scaled by 1/sqrt(2 L)
    h = torch.as_tensor(x, dtype=torch.float32)
    h = h.expand(batch, n, d).contiguous()  # the input as given, as isoinit's block networks take it
    record = [torch_metrics(torch, h)]
    for layer in range(depth):
        u = _layer_norm(h)
        qkv = torch.bmm(u, torch.randn(batch, d, 3 * d) * 0.02)
        q, k, v = (t.reshape(batch, n, heads, dh).transpose(1, 2) for t in qkv.split(d, dim=-1))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)
        o = (att @ v).transpose(1, 2).reshape(batch, n, d)
        h = h + torch.bmm(o, torch.randn(batch, d, d) * out_scale)
        u = _layer_norm(h)
        a = torch.nn.functional.gelu(torch.bmm(u, torch.randn(batch, d, 4 * d) * 0.02))
        h = h + torch.bmm(a, torch.randn(batch, 4 * d, d) * out_scale)
        if layer == depth - 1:
            h = _layer_norm(h)  # the final layer norm ln_f
        record.append(torch_metrics(torch, h))
    return record


def torch_residual_mlp(torch: Any, x: np.ndarray, case: Case, batch: int) -> list[dict[str, Any]]:
    """``batch`` pre-norm relu residual MLPs (Gaussian init) on ``x``: the metrics of every block output."""
    n, d, depth = case.n, case.d, case.depth
    h = torch.as_tensor(x, dtype=torch.float32)
    h = h.expand(batch, n, d).contiguous()  # the input as given, as isoinit's block networks take it
    record = [torch_metrics(torch, h)]
    for _ in range(depth):
        u = _layer_norm(h)
        a = torch.relu(torch.bmm(u, torch.randn(batch, d, 4 * d) / math.sqrt(d)))
        h = h + torch.bmm(a, torch.randn(batch, 4 * d, d) / math.sqrt(4 * d))
        record.append(torch_metrics(torch, h))
    return record


def torch_peer(case_json: str, repeat: int) -> None:
    """Child-process entry: time the PyTorch networks of a case, print JSON."""
    import torch

    case = Case(**json.loads(case_json))
    torch.manual_seed(0)
    x = case.batch_input()
    run = torch_transformer if case.kind == "transformer" else torch_residual_mlp
    gaps: list[float] = []

    def call() -> None:
        with torch.no_grad():
            record = run(torch, x, case, case.batch)
        gaps.extend(record[-1]["gap"].tolist())

    t = median_time(call, repeat) / case.batch
    print(json.dumps({"seconds": t, "gaps": gaps, "version": torch.__version__, "threads": torch.get_num_threads()}))


def torch_peer_in_subprocess(case: Case, repeat: int) -> dict[str, Any] | None:
    """Time the PyTorch peer in a child process (its thread pool would slow the timings here)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return None
    out = subprocess.run(
        [sys.executable, __file__, "--torch-peer", json.dumps(asdict(case)), "--repeat", str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def bench_case(case: Case, repeat: int, smoke: bool) -> None:
    net, x = case.network(), case.batch_input()
    seeds = iter(range(10**6))
    gaps: dict[str, list[float]] = {}
    times: dict[str, float] = {}
    for key, sampler, runs in (("c", "gram", case.runs_gram), ("b", "weights", case.runs_weights)):
        times[key] = (
            median_time(
                lambda key=key, sampler=sampler, runs=runs: gaps.setdefault(key, []).extend(
                    isoinit.simulate(net, x, runs=runs, seed=next(seeds), sampler=sampler, progress=False).gap[:, -1]
                ),
                repeat,
            )
            / runs
        )
    peer = torch_peer_in_subprocess(case, repeat)
    print(f"\n{case.name}: L = {case.depth}, d = {case.d}" + (f", {case.heads} heads" if case.heads > 1 else ""))
    if peer is not None:
        times["a"] = peer["seconds"]
        gaps["a"] = peer["gaps"]
        print(f"  (a) PyTorch {peer['version']}, {peer['threads']} threads, {case.batch} networks per bmm batch")
    else:
        print("  (a) skipped: PyTorch not installed (pip install torch==2.13.0)")
    labels = {"a": "(a) PyTorch float32", "b": "(b) isoinit, sampler=weights", "c": "(c) isoinit, sampler=gram"}
    for key in sorted(times):
        print(f"  {labels[key]:30s} {times[key] * 1e3:10.2f} ms per network")
    tc = times["c"]
    print(f"  ratio (b)/(c) = {times['b'] / tc:8.1f}")
    if "a" in times:
        ratio = times["a"] / tc
        target = ""
        if case.target > 0:
            verdict = "not judged at smoke size" if smoke else ("PASS" if ratio >= case.target else "MISS")
            target = f"   target >= {case.target:g}: {verdict}"
        print(f"  ratio (a)/(c) = {ratio:8.1f}{target}")
        print(f"  ratio (a)/(b) = {times['a'] / times['b']:8.2f}")
    print("  mean gap at the last block: " + ", ".join(f"({k}) {np.mean(v):.4f}" for k, v in sorted(gaps.items())))
    # the three agree on the mean gap at the last block (5 standard errors, or 5% for a handful of runs)
    ref = np.asarray(gaps["c"])
    for key, values in gaps.items():
        v = np.asarray(values)
        se = math.sqrt(v.var() / v.size + ref.var() / ref.size)
        ok = abs(v.mean() - ref.mean()) < 5 * se + 0.05 * abs(ref.mean()) + 1e-3
        assert ok, (case.name, key, v.mean(), ref.mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, no targets judged")
    ap.add_argument("--repeat", type=int, default=3, help="timed calls per measurement, after a warm-up (median; 3)")
    ap.add_argument("--torch-peer", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_peer:
        torch_peer(args.torch_peer, args.repeat)
        return
    repeat = 2 if args.smoke else args.repeat
    info = isoinit.build_info()
    print(
        f"isoinit {info['version']}: OpenMP {info['openmp']} ({info['max_threads']} threads), "
        f"Eigen {info['eigen']} ({info['simd']}), {info['compiler']}; median of {repeat} calls after a warm-up"
    )
    for case in cases(args.smoke):
        bench_case(case, repeat, args.smoke)


if __name__ == "__main__":
    main()
