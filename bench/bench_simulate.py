"""Simulation speed against named peers, in one run (issue: engine benchmark).

At the paper's size (n = 10, d = 1000, L = 30, ReLU + layer norm, 10 networks) it times

  (a) the paper's protocol as its authors run it: PyTorch on the CPU, explicit d x d float32
      weights drawn per layer, eigenvalues of the Gram after the activation and after the
      normalization at every layer;
  (b) the same math in NumPy (float64, explicit weights, eigenvalues every layer);
  (c) isoinit, sampler="weights";
  (d) isoinit, sampler="gram";

and prints milliseconds per network and the ratios, against the targets
(a)/(d) >= 200 and (c) <= (b). It then compares (d) per layer with its unavoidable
primitives (drawing n*d normals, two n x n x d products), sweeps d and n, and measures the
thread scaling of many runs. It asserts that the four implementations agree on the mean
isometry gap at the last layer (within 5 standard errors of the run-to-run spread).

    python bench/bench_simulate.py            # full size (needs: pip install torch==2.13.0)
    python bench/bench_simulate.py --smoke    # tiny sizes, a few seconds (CI)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

import isoinit
from isoinit import _core


def median_time(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gap_of(g: np.ndarray) -> float:
    lam = np.linalg.eigvalsh(g)
    return float(np.log(lam.mean()) - np.log(lam).mean())


def numpy_protocol(x: np.ndarray, depth: int, rng: np.random.Generator) -> float:
    d = x.shape[1]
    x = x / np.sqrt(np.mean(x**2, axis=1, keepdims=True))
    for _ in range(depth):
        w = rng.standard_normal((d, d)) / np.sqrt(d)
        a = np.maximum(x @ w, 0.0)
        np.linalg.eigvalsh(a @ a.T / d)  # the authors' protocol: eigenvalues after the activation too
        a = a - a.mean(axis=1, keepdims=True)
        x = a / np.sqrt(np.mean(a**2, axis=1, keepdims=True))
    return gap_of(x @ x.T / d)


def torch_protocol(torch, x: np.ndarray, depth: int) -> float:  # type: ignore[no-untyped-def]
    d = x.shape[1]
    h = torch.as_tensor(x, dtype=torch.float32)
    h = h / h.pow(2).mean(1, keepdim=True).sqrt()
    for _ in range(depth):
        w = torch.randn(d, d) / d**0.5
        a = torch.relu(h @ w)
        torch.linalg.eigvalsh((a @ a.T / d).double())
        a = a - a.mean(1, keepdim=True)
        h = a / a.pow(2).mean(1, keepdim=True).sqrt()
        torch.linalg.eigvalsh((h @ h.T / d).double())
    return gap_of((h @ h.T / d).double().numpy())


def torch_peer(n: int, d: int, depth: int, runs: int, repeat: int) -> None:
    """Child-process entry: time the authors' protocol, print JSON."""
    import torch

    torch.manual_seed(0)
    x = isoinit.inputs.degenerate(n, d, 100.0, seed=0)
    gaps: list[float] = []
    t = median_time(lambda: gaps.extend(torch_protocol(torch, x, depth) for _ in range(runs)), repeat) / runs
    print(json.dumps({"seconds": t, "gaps": gaps, "version": torch.__version__, "threads": torch.get_num_threads()}))


def torch_peer_in_subprocess(n: int, d: int, depth: int, runs: int, repeat: int) -> dict | None:
    try:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return None
    except (ImportError, ValueError):
        return None
    out = subprocess.run(
        [sys.executable, __file__, "--torch-peer", json.dumps([n, d, depth, runs, repeat])],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, no targets enforced")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--torch-peer", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_peer:
        torch_peer(*json.loads(args.torch_peer))
        return
    n, d, depth, runs = (10, 100, 5, 4) if args.smoke else (10, 1000, 30, 10)
    repeat = 2 if args.smoke else args.repeat
    info = isoinit.build_info()
    print(
        f"isoinit {info['version']}: OpenMP {info['openmp']} ({info['max_threads']} threads), "
        f"Eigen {info['eigen']} ({info['simd']}), hand-written loops {info['kernels']}, {info['compiler']}"
    )
    x = isoinit.inputs.degenerate(n, d, 100.0, seed=0)
    mlp = isoinit.MLP(depth, d, "relu", "layer")

    def verdict(ok: bool) -> str:
        if args.smoke:
            return "not judged at smoke size"
        return "met" if ok else "MISSED"

    gaps: dict[str, list[float]] = {}
    results: dict[str, float] = {}
    rng = np.random.default_rng(0)
    results["(b) NumPy, explicit weights"] = (
        median_time(lambda: gaps.setdefault("b", []).extend(numpy_protocol(x, depth, rng) for _ in range(runs)), repeat)
        / runs
    )
    seeds = iter(range(10**6))
    for key, sampler in (("c", "weights"), ("d", "gram")):
        results[f"({key}) isoinit, sampler={sampler}"] = (
            median_time(
                lambda key=key, sampler=sampler: gaps.setdefault(key, []).extend(
                    isoinit.simulate(mlp, x, runs=runs, seed=next(seeds), sampler=sampler).gap[:, -1]
                ),
                repeat,
            )
            / runs
        )
    # PyTorch runs in a child process: its own OpenMP pool keeps spinning on the cores after
    # each call and would slow down whatever this process times next
    peer = torch_peer_in_subprocess(n, d, depth, runs, repeat)
    if peer is None:
        print("PyTorch not installed: (a) skipped (pip install torch==2.13.0)")
    else:
        print(f"PyTorch {peer['version']}, {peer['threads']} threads (in a child process)")
        results["(a) PyTorch, authors' protocol"] = peer["seconds"]
        gaps["a"] = peer["gaps"]

    print(f"\nn = {n}, d = {d}, L = {depth}, relu + layer norm, {runs} networks per call; median of {repeat} calls")
    for name, t in sorted(results.items()):
        print(f"  {name:34s} {t * 1e3:10.3f} ms per network")
    tb, tc, td = (
        results["(b) NumPy, explicit weights"],
        results["(c) isoinit, sampler=weights"],
        results["(d) isoinit, sampler=gram"],
    )
    if "(a) PyTorch, authors' protocol" in results:
        ta = results["(a) PyTorch, authors' protocol"]
        print(f"  ratio (a)/(d) = {ta / td:8.1f}   target >= 200: {verdict(ta / td >= 200)}")
        print(f"  ratio (a)/(c) = {ta / tc:8.1f}")
    print(f"  ratio (b)/(c) = {tb / tc:8.2f}   target >= 1 ((c) no slower than (b)): {verdict(tb / tc >= 1)}")
    print(f"  ratio (b)/(d) = {tb / td:8.1f}")

    # all four agree on the mean gap at the last layer
    ref = np.asarray(gaps["d"])
    for key, values in gaps.items():
        v = np.asarray(values)
        se = np.sqrt(v.var() / v.size + ref.var() / ref.size)
        assert abs(v.mean() - ref.mean()) < 5 * se + 1e-3, (key, v.mean(), ref.mean())
    print("  mean gap at layer L: " + ", ".join(f"({k}) {np.mean(v):.4f}" for k, v in sorted(gaps.items())))

    # (d) per layer, single thread, against its primitives
    t_layer = (
        median_time(lambda: isoinit.simulate(mlp, x, runs=runs, seed=1, sampler="gram", threads=1), repeat)
        / runs
        / depth
    )
    r = np.random.default_rng(1).standard_normal((n, n))
    z = np.random.default_rng(2).standard_normal((n, d))
    reps = 200
    t_normals = median_time(lambda: [_core.standard_normal(0, 0, k, n * d) for k in range(reps)], repeat) / reps
    t_prod = median_time(lambda: [(r @ z, z @ z.T) for _ in range(reps)], repeat) / reps
    prim = t_normals + t_prod
    t_np_normals = median_time(lambda: [rng.standard_normal(n * d) for _ in range(reps)], repeat) / reps
    print(
        f"\nper layer, one thread: (d) {t_layer * 1e6:.1f} us; primitives {prim * 1e6:.1f} us "
        f"(n*d normals {t_normals * 1e6:.1f} us, two n x n x d products {t_prod * 1e6:.1f} us); "
        f"ratio {t_layer / prim:.2f} (target <= 1.5: {verdict(t_layer / prim <= 1.5)})"
    )
    print(
        f"normals: isoinit {t_normals / (n * d) * 1e9:.2f} ns, NumPy Generator.standard_normal "
        f"{t_np_normals / (n * d) * 1e9:.2f} ns per draw; ratio {t_np_normals / t_normals:.2f} "
        f"(target >= 2: {verdict(t_np_normals / t_normals >= 2)})"
    )

    # cost growth
    ds = [100, 300, 1000] if args.smoke else [100, 300, 1000, 3000, 10000]
    print("\nsweep over d (n = 10, L = 10, one thread; ms per network):")
    print(f"{'d':>7} {'gram':>10} {'weights':>10}")
    for dd in ds:
        xx = isoinit.inputs.gaussian(10, dd, seed=0)
        m = isoinit.MLP(10, dd, "relu", "layer")
        tg = median_time(lambda m=m, xx=xx: isoinit.simulate(m, xx, runs=2, sampler="gram", threads=1), 3) / 2
        tw = (
            median_time(lambda m=m, xx=xx: isoinit.simulate(m, xx, runs=1, sampler="weights", threads=1), 1)
            if dd <= 3000
            else float("nan")
        )
        print(f"{dd:7d} {tg * 1e3:10.3f} {tw * 1e3:10.3f}")
    ns = [4, 16, 64] if args.smoke else [4, 16, 64, 256]
    print("\nsweep over n (d = 1000, L = 10, one thread; ms per network):")
    print(f"{'n':>7} {'gram':>10} {'weights':>10} {'auto picks':>11}")
    for nn in ns:
        xx = isoinit.inputs.gaussian(nn, 1000, seed=0)
        m = isoinit.MLP(10, 1000, "relu", "layer")
        tg = median_time(lambda m=m, xx=xx: isoinit.simulate(m, xx, runs=2, sampler="gram", threads=1), 3) / 2
        tw = median_time(lambda m=m, xx=xx: isoinit.simulate(m, xx, runs=1, sampler="weights", threads=1), 1)
        print(f"{nn:7d} {tg * 1e3:10.3f} {tw * 1e3:10.3f} {isoinit.simulate(m, xx, runs=1).sampler:>11}")

    many = 8 if args.smoke else 80
    print(f"\nthread scaling, {many} runs of the paper's network (sampler=gram):")
    times = {
        threads: median_time(
            lambda threads=threads: isoinit.simulate(mlp, x, runs=many, seed=3, threads=threads), repeat
        )
        for threads in (1, 2)
    }
    for threads, t in times.items():
        print(f"  {threads} thread(s): {t * 1e3:8.1f} ms, speedup {times[1] / t:.2f}")


if __name__ == "__main__":
    main()
