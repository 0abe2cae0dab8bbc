"""Scaling grid: milliseconds per network of isoinit against PyTorch peers and its primitives.

For every cell of the grid n in {10, 64, 256, 512, 1024} (batch size) x d in {768, 1000,
4096} (width), on a ReLU + layer norm MLP of depth 10 (act-norm order, ``isoinit.MLP(10, d,
"relu", "layer")``) and a Gaussian batch (``isoinit.inputs.gaussian(n, d, seed=0)``), it
times, in milliseconds per network (medians of at least 3 time-bounded repeats):

  iso64    isoinit.simulate(mlp, X, runs=R, seed=0), sampler="auto", float64, all threads;
  iso32    the same with dtype="float32", when isoinit.simulate has that keyword
           ("n/a (no dtype)" otherwise);
  peer     the strongest plain PyTorch peer: float32, explicit d x d weights, all threads,
           several networks at once with torch.bmm (the batch count that is faster of 1 and
           as many as fit in 2 GiB), and per layer the same eight metrics from
           torch.linalg.eigvalsh of the float32 Gram cast to float64;
  authors  the paper's protocol as its authors run it (bench_simulate.torch_protocol:
           PyTorch, one network at a time, eigenvalues after the activation and after the
           normalization), only where one network takes under 2 s (estimated from a first
           network; skipped otherwise);
  prim     the primitives of isoinit's chosen sampler, each timed alone on one core
           (BLAS/LAPACK with one thread) and summed over the layers, divided by the threads
           isoinit uses (its runs are independent): per layer the normals (n*d for the gram
           sampler, d*d for the weights sampler; isoinit's own generator, _core.standard_normal),
           the product (R Z, n x n times n x d; or X W, n x d times d x d), the Gram X X^T
           (one per layer plus the input's) and the factorization (eigvalsh for the metrics,
           plus a Cholesky as the cheapest root for the gram sampler; each the faster of
           NumPy's and SciPy's LAPACK call).

PyTorch and the primitives run in child processes (persistent workers): PyTorch's thread
pool keeps spinning on the cores after each call, and the primitives need BLAS pinned to one
thread; neither disturbs isoinit's timing. The targets, marked PASS/MISS per cell:
peer/iso64 >= 1, peer/iso32 >= 2, iso64/prim <= 1.5; and at the paper's size (n = 10,
d = 1000, L = 30, its degenerate input) authors/iso64 >= 300 (measured by bench_simulate's
torch_peer_in_subprocess). The last-layer mean |correlation| of every implementation is
checked to agree (within 5 standard errors); a disagreement fails the run after the files
are written.

    python bench/bench_scale.py                  # full grid (about 10 min on 2 cores)
    python bench/bench_scale.py --smoke          # tiny grid, < 60 s (CI); files in a temp dir
    python bench/bench_scale.py --out r.json --plot r.png --force

Writes JSON (default bench/results/scale.json) and a log-log plot of ms per network against
n, one panel per d (default bench/results/scale.png), atomically; an existing file is kept
unless --force.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import inspect
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg

import isoinit
from bench_simulate import torch_peer_in_subprocess, torch_protocol
from isoinit import _core, _io

HERE = Path(__file__).resolve().parent
GRID = ((10, 64, 256, 512, 1024), (768, 1000, 4096), 10)
SMOKE_GRID = ((10, 64), (768,), 2)
HEADLINE = (10, 1000, 30, 10, 5)  # n, d, L, runs, repeats of bench_simulate's authors' protocol
SMOKE_HEADLINE = (10, 100, 5, 4, 2)
AUTHORS_LIMIT = 2.0  # seconds per network above which the authors' protocol is skipped
PEER_MEMORY = 2 * 2**30  # bytes of the PyTorch peer's batch of networks
METRIC = "mean_abs_corr"  # compared between the implementations at the last layer
METRICS = (
    "isometry",
    "gap",
    "potential",
    "effective_rank",
    "stable_rank",
    "mean_abs_corr",
    "max_abs_corr",
    "condition",
)
TARGET_PEER64, TARGET_PEER32, TARGET_PRIM, TARGET_AUTHORS = 1.0, 2.0, 1.5, 300.0


# --------------------------------------------------------------------------- timing


def measure(
    call: Callable[[], object],
    budget: float,
    *,
    first: float | None = None,
    min_repeat: int = 3,
    max_repeat: int = 25,
    min_sample: float = 0.05,
) -> tuple[float, int]:
    """Median seconds of one ``call()`` and the number of samples.

    A warm-up call runs first (``first`` is its time if the caller already made it). Then
    at least ``min_repeat`` samples, more while ``budget`` seconds last (up to
    ``max_repeat``). A call shorter than ``min_sample`` is looped within each sample; a
    warm-up over 1 s counts as a sample (at that size warm-up effects are negligible, and
    repeating it would spend the budget).
    """
    if first is None:
        t0 = time.perf_counter()
        call()
        first = time.perf_counter() - t0
    inner = max(1, math.ceil(min_sample / max(first, 1e-7)))
    samples = [first] if first > 1.0 else []
    start = time.perf_counter()
    while len(samples) < min_repeat or (len(samples) < max_repeat and time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        for _ in range(inner):
            call()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples), len(samples)


def settle() -> None:
    """Let the thread pools of the process that just worked go to sleep before timing another."""
    time.sleep(0.3)


# --------------------------------------------------------------------------- isoinit


def has_dtype() -> bool:
    return "dtype" in inspect.signature(isoinit.simulate).parameters


def time_isoinit(mlp: isoinit.MLP, x: np.ndarray, budget: float, threads: int, **kw: Any) -> dict[str, Any]:
    """ms per network of isoinit.simulate, with runs per call so that a call lasts >= 0.2 s."""
    last: dict[str, Any] = {}

    def call(runs: int) -> None:
        last["t"] = isoinit.simulate(mlp, x, runs=runs, seed=0, **kw)

    t0 = time.perf_counter()
    call(threads)
    t_first = time.perf_counter() - t0
    runs = threads * min(64, max(1, math.ceil(0.2 / t_first)))
    t, repeats = measure(lambda: call(runs), budget, first=t_first if runs == threads else None)
    traj = last["t"]
    return {
        "ms": t / runs * 1e3,
        "runs": runs,
        "repeats": repeats,
        "sampler": traj.sampler,
        "metric": [float(v) for v in getattr(traj, METRIC)[:, -1]],
    }


# --------------------------------------------------------------------------- workers


class Worker:
    """A child process that answers one JSON request per line (``--worker KIND``)."""

    def __init__(self, kind: str, env: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.kind!r} exited with {self.proc.wait()}")
        return dict(json.loads(line))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def serve(handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Child-process loop: a JSON request per line on stdin, a JSON answer per line on stdout.

    The worker exits as soon as its parent is gone (killed mid-measurement), not at the end
    of a long request.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    for line in sys.stdin:
        request = json.loads(line)
        answer = {"ready": True} if request.get("task") == "ping" else handler(request)
        print(json.dumps(answer), flush=True)


def standard_normals(count: int) -> None:
    """``count`` normals of isoinit's generator, in blocks that stay in cache (as the kernel draws them)."""
    chunk = 1 << 15
    for k, start in enumerate(range(0, count, chunk)):
        _core.standard_normal(0, 0, k, min(chunk, count - start))


def primitives(request: dict[str, Any]) -> dict[str, Any]:
    """Seconds per layer of each primitive of one network's layer, on one core (worker ``prim``)."""
    n, d, sampler, budget = request["n"], request["d"], request["sampler"], request["budget"]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d))
    b = rng.standard_normal((n, n))
    g = b @ b.T / n + np.eye(n)  # symmetric positive definite, as a Gram of full rank
    out_nd, out_nn = np.empty((n, d)), np.empty((n, n))
    t: dict[str, float] = {}
    t["normals"] = measure(lambda: standard_normals(n * d if sampler == "gram" else d * d), budget)[0]
    if sampler == "gram":
        z = rng.standard_normal((n, d))
        t["product"] = measure(lambda: np.matmul(b, z, out=out_nd), budget)[0]  # R Z
    else:
        w = rng.standard_normal((d, d))
        t["product"] = measure(lambda: np.matmul(x, w, out=out_nd), budget)[0]  # X W
    t["gram"] = measure(lambda: np.matmul(x, x.T, out=out_nn), budget)[0]  # NumPy's syrk
    # each factorization by the faster of NumPy and SciPy's direct LAPACK call (NumPy's
    # Cholesky copies and checks: 3 to 4x dpotrf's time at n = 512 here)
    gf = np.asfortranarray(g)
    t["eigvalsh"] = min(
        measure(lambda: np.linalg.eigvalsh(g), budget)[0],
        measure(lambda: scipy.linalg.eigh(gf, eigvals_only=True, driver="evd", check_finite=False), budget)[0],
    )
    t["cholesky"] = min(
        measure(lambda: np.linalg.cholesky(g), budget)[0],
        measure(lambda: scipy.linalg.lapack.dpotrf(gf, lower=1, clean=0), budget)[0],
    )
    # diagnostics, not primitives: the eigendecomposition with vectors (what the gram sampler
    # computes today), and isoinit's own eigensolver (values only, with the metrics)
    t["eigh"] = measure(lambda: np.linalg.eigh(g), budget)[0]
    t["isoinit_eigvalsh"] = measure(lambda: _core.gram_metrics(g[None]), budget)[0]
    return {"seconds": t, "numpy": np.__version__}


def torch_worker() -> None:
    """Worker ``torch``: the PyTorch peer and the authors' protocol, one cell per request."""
    import torch

    default_threads = torch.get_num_threads()
    torch.manual_seed(0)

    def metrics(g: Any) -> Any:
        """The eight metrics of isoinit (same definitions) of a (B, n, n) float64 Gram stack."""
        n = g.shape[-1]
        lam = torch.linalg.eigvalsh(g)
        tr = g.diagonal(dim1=-2, dim2=-1).sum(-1)
        lmin, lmax = lam[..., 0], lam[..., -1]
        singular = (lmin <= n * torch.finfo(torch.float64).eps * lmax) | ~(tr > 0) | ~(lmax > 0)
        inf = torch.full_like(tr, math.inf)
        gap = (torch.log(tr / n) - torch.log(lam.clamp_min(1e-300)).mean(-1)).clamp_min(0)
        gap = torch.where(singular, inf, gap)
        cond = torch.where(singular, inf, lmax / lmin)
        p = lam.clamp_min(0)
        p = p / p.sum(-1, keepdim=True)
        entropy = -torch.where(p > 0, p * torch.log(p.clamp_min(1e-300)), torch.zeros_like(p)).sum(-1)
        diag = g.diagonal(dim1=-2, dim2=-1)
        corr = (g.abs() / torch.sqrt(diag[:, :, None] * diag[:, None, :])).clamp_max(1)
        corr.diagonal(dim1=-2, dim2=-1).zero_()  # off-diagonal entries only
        cmax = corr.amax((-2, -1))
        cmean = corr.sum((-2, -1)) / (n * (n - 1))
        potential = torch.where(cmax >= 1, inf, cmax / (1 - cmax))
        return torch.stack([torch.exp(-gap), gap, potential, torch.exp(entropy), tr / lmax, cmean, cmax, cond], -1)

    def peer_batch(x0: Any, depth: int, w: Any) -> Any:
        """``w.shape[0]`` networks at once: (B, depth + 1, 8) metrics."""
        batch, d = w.shape[0], w.shape[1]
        h = x0.expand(batch, *x0.shape).contiguous()
        out = [metrics((x0 @ x0.T / d).double()[None]).expand(batch, -1)]  # layer 0: the input
        for _ in range(depth):
            w.normal_()
            h = torch.bmm(h, w).mul_(d**-0.5)
            h.relu_()
            h.sub_(h.mean(-1, keepdim=True))
            h.mul_(torch.rsqrt(h.square().mean(-1, keepdim=True)))
            out.append(metrics((torch.bmm(h, h.transpose(1, 2)) / d).double()))
        return torch.stack(out, 1)

    def peer(req: dict[str, Any]) -> dict[str, Any]:
        torch.set_num_threads(os.cpu_count() or 1)
        n, d, depth, budget = req["n"], req["d"], req["depth"], req["budget"]
        x = torch.as_tensor(isoinit.inputs.gaussian(n, d, seed=0), dtype=torch.float32)
        x0 = x / x.square().mean(1, keepdim=True).sqrt()
        per_net = 4 * (d * d + 4 * n * d + 2 * n * n) + 8 * 4 * n * n
        bmax = max(1, min(64, PEER_MEMORY // per_net))
        last: dict[int, Any] = {}

        def make(b: int) -> Callable[[], None]:
            w = torch.empty(b, d, d)
            return lambda: last.__setitem__(b, peer_batch(x0, depth, w))

        one = make(1)
        t0 = time.perf_counter()
        one()
        t_first = time.perf_counter() - t0
        per: dict[int, tuple[float, int]] = {1: measure(one, budget, first=t_first)}
        if bmax > 1 and t_first < 1.0:
            b = min(bmax, max(2, math.ceil(0.25 / t_first)))
            t, k = measure(make(b), budget)
            per[b] = (t / b, k)
        best = min(per, key=lambda b: per[b][0])
        return {
            "ms": per[best][0] * 1e3,
            "batch": best,
            "repeats": per[best][1],
            "tried": {str(b): v[0] * 1e3 for b, v in per.items()},
            "metric": [float(v) for v in last[best][:, -1, METRICS.index(METRIC)]],
            "threads": torch.get_num_threads(),
            "version": torch.__version__,
        }

    def authors(req: dict[str, Any]) -> dict[str, Any]:
        torch.set_num_threads(default_threads)
        n, d, depth, budget = req["n"], req["d"], req["depth"], req["budget"]
        x = isoinit.inputs.gaussian(n, d, seed=0)

        def one() -> None:
            with np.errstate(invalid="ignore", divide="ignore"):  # its final gap: log of a singular Gram's spectrum
                torch_protocol(torch, x, depth)

        t0 = time.perf_counter()
        one()
        t_first = time.perf_counter() - t0
        if t_first > AUTHORS_LIMIT:
            return {"ms": None, "first_ms": t_first * 1e3}
        t, k = measure(one, budget, first=t_first)
        return {"ms": t * 1e3, "repeats": k, "first_ms": t_first * 1e3, "threads": torch.get_num_threads()}

    serve(lambda req: peer(req) if req["task"] == "peer" else authors(req))


# --------------------------------------------------------------------------- one cell


def primitive_sum(sec: dict[str, float], sampler: str, depth: int, threads: int) -> dict[str, float]:
    """ms per network of the primitives (one core each, ``threads`` networks at once), by kind."""
    per = {
        "normals": depth * sec["normals"],
        "product": depth * sec["product"],
        "gram": (depth + 1) * sec["gram"],
        "factorization": (depth + 1) * sec["eigvalsh"] + (depth * sec["cholesky"] if sampler == "gram" else 0.0),
    }
    return {k: v / threads * 1e3 for k, v in per.items()}


def agree(a: Sequence[float], b: Sequence[float]) -> bool:
    """Means within 5 standard errors (plus 1e-3), the per-network variance pooled over both.

    Both samples come from the same distribution when the implementations agree, and one may
    be a handful of networks (the PyTorch peer's two), whose own variance can come out 25
    times too small: pooling takes the variance from the larger sample.
    """
    va, vb = np.asarray(a, float), np.asarray(b, float)
    dof = va.size + vb.size - 2
    ss = (((va - va.mean()) ** 2).sum() if va.size else 0.0) + (((vb - vb.mean()) ** 2).sum() if vb.size else 0.0)
    pooled = ss / dof if dof > 0 else 0.0
    se = math.sqrt(pooled * (1 / max(va.size, 1) + 1 / max(vb.size, 1)))
    return bool(abs(va.mean() - vb.mean()) <= 5 * se + 1e-3)


def run_cell(
    n: int, d: int, depth: int, budget: float, threads: int, prim: Worker, torch_w: Worker | None
) -> dict[str, Any]:
    mlp = isoinit.MLP(depth=depth, width=d, activation="relu", norm="layer")
    x = isoinit.inputs.gaussian(n, d, seed=0)
    cell: dict[str, Any] = {"n": n, "d": d, "depth": depth}
    cell["iso64"] = time_isoinit(mlp, x, budget, threads)
    cell["iso32"] = time_isoinit(mlp, x, budget, threads, dtype="float32") if has_dtype() else None
    cell["sampler"] = sampler = cell["iso64"]["sampler"]
    settle()
    sec = prim.ask(n=n, d=d, sampler=sampler, budget=budget / 6)["seconds"]
    used = min(threads, cell["iso64"]["runs"])
    cell["primitives"] = {"per_layer_one_core_ms": {k: v * 1e3 for k, v in sec.items()}, "threads": used}
    cell["primitives"]["ms"] = primitive_sum(sec, sampler, depth, used)
    cell["prim_ms"] = sum(cell["primitives"]["ms"].values())
    if torch_w is not None:
        cell["peer"] = torch_w.ask(task="peer", n=n, d=d, depth=depth, budget=budget)
        cell["authors"] = torch_w.ask(task="authors", n=n, d=d, depth=depth, budget=budget)
        settle()
    else:
        cell["peer"] = cell["authors"] = None
    checks = {"iso32": cell["iso32"], "peer": cell["peer"]}
    cell["agree"] = {k: agree(v["metric"], cell["iso64"]["metric"]) for k, v in checks.items() if v is not None}
    return cell


def ratios(cell: dict[str, Any]) -> dict[str, float | None]:
    iso64 = cell["iso64"]["ms"]
    iso32 = cell["iso32"]["ms"] if cell["iso32"] else None
    peer = cell["peer"]["ms"] if cell["peer"] else None
    authors = cell["authors"]["ms"] if cell["authors"] else None
    return {
        "peer/iso64": peer / iso64 if peer else None,
        "peer/iso32": peer / iso32 if peer and iso32 else None,
        "iso64/prim": iso64 / cell["prim_ms"],
        "authors/iso64": authors / iso64 if authors else None,
    }


def marks(r: dict[str, float | None]) -> dict[str, str]:
    def mark(v: float | None, ok: Callable[[float], bool]) -> str:
        return "n/a" if v is None else ("PASS" if ok(v) else "MISS")

    return {
        "peer64": mark(r["peer/iso64"], lambda v: v >= TARGET_PEER64),
        "peer32": mark(r["peer/iso32"], lambda v: v >= TARGET_PEER32),
        "prim": mark(r["iso64/prim"], lambda v: v <= TARGET_PRIM),
    }


# --------------------------------------------------------------------------- output


def fmt(v: float | None, spec: str = "9.2f", missing: str = "n/a") -> str:
    width = int(spec.split(".")[0]) if spec[0].isdigit() else 0
    return f"{v:{spec}}" if v is not None else missing.rjust(width)


def print_table(cells: list[dict[str, Any]], dtype_note: str) -> None:
    print(
        "\nms per network (median); speedups are peer time / isoinit time, iso64/prim is a time ratio;"
        f" targets: peer/iso64 >= {TARGET_PEER64:g}, peer/iso32 >= {TARGET_PEER32:g}, iso64/prim <= {TARGET_PRIM:g}"
    )
    head = (
        f"{'n':>5} {'d':>5} {'sampler':>7} {'iso64':>9} {'iso32':>14} {'peer':>9} {'B':>3} {'authors':>9} "
        f"{'prim':>9} {'peer/iso64':>15} {'peer/iso32':>15} {'iso64/prim':>15}  dominant primitive"
    )
    print(head)
    for c in cells:
        r, m = c["ratios"], c["marks"]
        iso32 = fmt(c["iso32"]["ms"] if c["iso32"] else None, "14.2f", missing=dtype_note)
        peer = c["peer"]["ms"] if c["peer"] else None
        authors = c["authors"]["ms"] if c["authors"] else None
        skipped = "skipped" if c["authors"] and c["authors"]["ms"] is None else "n/a"
        batch = str(c["peer"]["batch"]) if c["peer"] else "-"
        shares = c["primitives"]["ms"]
        dom = max(shares, key=lambda k: shares[k])
        print(
            f"{c['n']:5d} {c['d']:5d} {c['sampler']:>7} {c['iso64']['ms']:9.2f} {iso32:>14} {fmt(peer)} {batch:>3} "
            f"{fmt(authors, missing=skipped)} {c['prim_ms']:9.2f} "
            f"{fmt(r['peer/iso64'], '10.2f')} {m['peer64']:>4} {fmt(r['peer/iso32'], '10.2f')} {m['peer32']:>4} "
            f"{fmt(r['iso64/prim'], '10.2f')} {m['prim']:>4}  {dom} {100 * shares[dom] / c['prim_ms']:.0f}%"
        )
    print("\nprimitives per layer, one core (ms): normals, product, Gram, eigvalsh, Cholesky; diagnostics: eigh")
    print("(with vectors) and isoinit's own eigensolver (_core.gram_metrics, values only)")
    print(
        f"{'n':>5} {'d':>5} {'sampler':>7} {'normals':>9} {'product':>9} {'gram':>9} {'eigvalsh':>9} "
        f"{'cholesky':>9} {'eigh':>9} {'isoinit eig':>11}"
    )
    for c in cells:
        p = c["primitives"]["per_layer_one_core_ms"]
        print(
            f"{c['n']:5d} {c['d']:5d} {c['sampler']:>7} {p['normals']:9.3f} {p['product']:9.3f} {p['gram']:9.3f} "
            f"{p['eigvalsh']:9.3f} {p['cholesky']:9.3f} {p['eigh']:9.3f} {p['isoinit_eigvalsh']:11.3f}"
        )


def plot(cells: list[dict[str, Any]], path: Path, title: str, overwrite: bool) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ds = sorted({c["d"] for c in cells})
    # two panels to a row at most, so that the text stays readable in the documentation's column
    ncols = min(len(ds), 2)
    nrows = math.ceil(len(ds) / ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows + 0.6), sharey=True, squeeze=False)
    axes, spare = list(grid.flat[: len(ds)]), list(grid.flat[len(ds) :])
    series: tuple[tuple[str, Callable[[dict[str, Any]], float | None], str, str], ...] = (
        ("isoinit float64", lambda c: c["iso64"]["ms"], "C0", "o-"),
        ("isoinit float32", lambda c: c["iso32"]["ms"] if c["iso32"] else None, "C9", "o--"),
        ("PyTorch peer (float32, bmm)", lambda c: c["peer"]["ms"] if c["peer"] else None, "C3", "s-"),
        ("authors' protocol (PyTorch)", lambda c: c["authors"]["ms"] if c["authors"] else None, "C1", "^-"),
        ("isoinit's primitives", lambda c: c["prim_ms"], "0.4", "x:"),
    )
    for ax, d in zip(axes, ds, strict=True):
        row = sorted((c for c in cells if c["d"] == d), key=lambda c: c["n"])
        for label, get, color, style in series:
            pts = [(c["n"], get(c)) for c in row if get(c) is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, color=color, label=label, ms=4)
        ax.set(xscale="log", yscale="log", xlabel="batch size n", title=f"d = {d}")
        ax.set_xticks([c["n"] for c in row], [str(c["n"]) for c in row], minor=False)
        ax.set_xticks([], minor=True)
        ax.grid(True, which="both", alpha=0.3)
    for row in grid:
        row[0].set_ylabel("ms per network")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.suptitle(title, fontsize=9)
    if spare:  # the legend in the empty cell
        for ax in spare:
            ax.set_axis_off()
        spare[0].legend(handles, labels, loc="center", fontsize=9, frameon=False)
        fig.tight_layout()
    else:
        ncol = 2
        fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0.05 * math.ceil(len(labels) / ncol), 1, 1))
    _io.write_atomic(path, lambda p: fig.savefig(p, dpi=110), overwrite=overwrite, flag="--force")
    plt.close(fig)


def markdown(result: dict[str, Any]) -> str:
    """The tables of a results file in Markdown (for docs/performance.md)."""

    def ms(v: float | None) -> str:
        return "-" if v is None else (f"{v:.3g}" if v < 100 else f"{v:.0f}")

    def ratio(v: float | None, mark: str) -> str:
        return "-" if v is None else f"{v:.2f} {mark}"

    lines = [
        "| n | d | sampler | isoinit float64 | isoinit float32 | PyTorch peer (B) | authors | primitives "
        "| peer / iso64 | peer / iso32 | iso64 / primitives | largest primitive |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for c in result["cells"]:
        r, m, shares = c["ratios"], c["marks"], c["primitives"]["ms"]
        dom = max(shares, key=lambda k: shares[k])
        authors = c["authors"]
        a = "-" if authors is None else ("skipped" if authors["ms"] is None else ms(authors["ms"]))
        peer = "-" if c["peer"] is None else f"{ms(c['peer']['ms'])} ({c['peer']['batch']})"
        lines.append(
            f"| {c['n']} | {c['d']} | {c['sampler']} | {ms(c['iso64']['ms'])} "
            f"| {'n/a (no dtype)' if c['iso32'] is None else ms(c['iso32']['ms'])} | {peer} | {a} "
            f"| {ms(c['prim_ms'])} | {ratio(r['peer/iso64'], m['peer64'])} | {ratio(r['peer/iso32'], m['peer32'])} "
            f"| {ratio(r['iso64/prim'], m['prim'])} | {dom} ({100 * shares[dom] / c['prim_ms']:.0f}%) |"
        )
    lines += [
        "",
        "| n | d | sampler | normals | product | Gram | eigvalsh | Cholesky | eigh (vectors) | isoinit's eigvalsh |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in result["cells"]:
        p = c["primitives"]["per_layer_one_core_ms"]
        keys = ("normals", "product", "gram", "eigvalsh", "cholesky", "eigh", "isoinit_eigvalsh")
        lines.append(f"| {c['n']} | {c['d']} | {c['sampler']} | " + " | ".join(f"{p[k]:.3g}" for k in keys) + " |")
    return "\n".join(lines)


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(HERE), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "-C", str(HERE), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--smoke", action="store_true", help="tiny grid (n in 10, 64; d = 768; 2 layers), targets not judged"
    )
    ap.add_argument("--out", type=Path, help="JSON results (default bench/results/scale.json; smoke: a temp dir)")
    ap.add_argument("--plot", type=Path, help="PNG plot (default bench/results/scale.png; smoke: a temp dir)")
    ap.add_argument("--force", action="store_true", help="replace existing output files")
    ap.add_argument("--budget", type=float, help="seconds of repeats per measurement (default 3; smoke 0.2)")
    ap.add_argument("--markdown", type=Path, metavar="JSON", help="print the tables of a results file in Markdown")
    ap.add_argument("--worker", choices=("torch", "prim"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return None
    if args.worker == "torch":
        torch_worker()
        return None
    if args.worker == "prim":
        serve(primitives)
        return None

    ns, ds, depth = SMOKE_GRID if args.smoke else GRID
    budget = args.budget if args.budget is not None else (0.2 if args.smoke else 3.0)
    default_dir = Path(tempfile.mkdtemp(prefix="bench_scale-")) if args.smoke else HERE / "results"
    if args.out is None or args.plot is None:
        default_dir.mkdir(exist_ok=True)
    out = _io.check_output("--out", args.out or default_dir / "scale.json", overwrite=args.force, flag="--force")
    png = _io.check_output("--plot", args.plot or default_dir / "scale.png", overwrite=args.force, flag="--force")

    info = isoinit.build_info()
    threads = min(int(info["max_threads"]), os.cpu_count() or 1)
    dtype_note = "n/a (no dtype)"
    print(
        f"isoinit {info['version']}: OpenMP {info['openmp']} ({info['max_threads']} threads), "
        f"Eigen {info['eigen']} ({info['simd']}), hand-written loops {info['kernels']}, {info['compiler']}; "
        f"dtype keyword: {'yes' if has_dtype() else 'no'}"
    )
    print(f"grid n in {ns}, d in {ds}, depth {depth}, relu + layer norm, Gaussian input; {budget:g} s per measurement")
    one_core = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    prim = Worker("prim", env=one_core)
    torch_w = Worker("torch") if importlib.util.find_spec("torch") is not None else None
    if torch_w is None:
        print("PyTorch not installed: peer and authors' columns n/a (pip install torch==2.13.0)")
    cells: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    print(
        f"load average before: {load_before[0]:.2f} (1 min), {load_before[1]:.2f} (5 min); "
        "other work on the machine slows every column"
    )
    # the workers' start (importing PyTorch takes seconds of CPU) must not overlap the first
    # cell's timing: wait until both answer; then warm up (the OpenMP and BLAS thread pools,
    # the first-call costs) so the first cell is timed like the others
    for w in (prim, torch_w):
        if w is not None:
            w.ask(task="ping")
    settle()
    time_isoinit(
        isoinit.MLP(depth, ds[0], "relu", "layer"), isoinit.inputs.gaussian(ns[0], ds[0], seed=0), 0.5, threads
    )
    start = time.perf_counter()
    try:
        for d in ds:
            for n in ns:
                t0 = time.perf_counter()
                cell = run_cell(n, d, depth, budget, threads, prim, torch_w)
                cell["ratios"] = ratios(cell)
                cell["marks"] = marks(cell["ratios"])
                cell["load_1min"] = os.getloadavg()[0]
                cells.append(cell)
                peer = cell["peer"]["ms"] if cell["peer"] else None
                print(
                    f"  n={n:5d} d={d:5d}: iso64 {cell['iso64']['ms']:.2f} ms, peer {fmt(peer, '.2f')} ms, "
                    f"prim {cell['prim_ms']:.2f} ms ({time.perf_counter() - t0:.0f} s, load {cell['load_1min']:.1f})",
                    flush=True,
                )
    finally:
        prim.close()
        if torch_w is not None:
            torch_w.close()
    grid_seconds = time.perf_counter() - start
    load_after = os.getloadavg()
    print_table(cells, dtype_note)

    # the paper's size: isoinit against the authors' protocol, bench_simulate's measurement
    hn, hd, hdepth, hruns, hrepeat = SMOKE_HEADLINE if args.smoke else HEADLINE
    mlp = isoinit.MLP(depth=hdepth, width=hd, activation="relu", norm="layer")
    iso = time_isoinit(mlp, isoinit.inputs.degenerate(hn, hd, 100.0, seed=0), budget, threads)
    settle()
    authors = torch_peer_in_subprocess(hn, hd, hdepth, hruns, hrepeat)
    headline: dict[str, Any] = {"n": hn, "d": hd, "depth": hdepth, "iso64": iso, "authors": authors}
    if authors is not None:
        ratio = authors["seconds"] * 1e3 / iso["ms"]
        headline["authors/iso64"] = ratio
        headline["mark"] = "PASS" if ratio >= TARGET_AUTHORS else "MISS"
        print(
            f"\npaper's size n={hn}, d={hd}, L={hdepth} (degenerate input): isoinit float64 {iso['ms']:.3f} ms, "
            f"authors' protocol {authors['seconds'] * 1e3:.1f} ms per network; ratio {ratio:.0f} "
            f"(target >= {TARGET_AUTHORS:g}): {headline['mark']}"
        )

    if args.smoke:
        print("smoke size: the PASS/MISS marks are not targets at this size")
    print(f"grid: {grid_seconds:.0f} s")
    commit = git_commit()
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    result = {
        "date": date,
        "commit": commit,
        "smoke": args.smoke,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count()},
        "isoinit": info,
        "numpy": np.__version__,
        "settings": {
            "ns": list(ns),
            "ds": list(ds),
            "depth": depth,
            "input": "isoinit.inputs.gaussian(n, d, seed=0)",
            "mlp": "isoinit.MLP(depth, d, 'relu', 'layer')",
            "budget_s": budget,
            "threads": threads,
            "dtype_keyword": has_dtype(),
            "peer_memory_bytes": PEER_MEMORY,
            "authors_limit_s": AUTHORS_LIMIT,
            "targets": {
                "peer/iso64": TARGET_PEER64,
                "peer/iso32": TARGET_PEER32,
                "iso64/prim": TARGET_PRIM,
                "authors/iso64": TARGET_AUTHORS,
            },
        },
        "grid_seconds": grid_seconds,
        "load_average": {"before": list(load_before), "after_grid": list(load_after)},
        "cells": cells,
        "headline": headline,
    }
    _io.write_atomic(
        out, lambda p: p.write_text(json.dumps(result, indent=1) + "\n"), overwrite=args.force, flag="--force"
    )
    title = f"isoinit {info['version']} ({(commit or '?')[:10]}), {date[:10]}, {os.cpu_count()} cores, depth {depth}"
    plot(cells, png, title, overwrite=args.force)
    print(f"wrote {out} and {png}")
    bad = [(c["n"], c["d"], k) for c in cells for k, ok in c["agree"].items() if not ok]
    if bad:
        sys.exit(f"the last-layer {METRIC} disagrees with isoinit float64 at (n, d, implementation) {bad}")


if __name__ == "__main__":
    main()
