"""Benchmark: the cost of larger batches (the factorizations), and the cost model behind auto.

Per network, on one thread, ReLU + layer norm, d = 1000, 10 layers (CPU time of the process,
the best of a few calls, so that other load on the machine matters little):

  - both samplers with every metric, and the gram sampler with ``metrics=["gap",
    "isometry"]`` (a Cholesky per layer, no eigenvalues), for n = 10, 64, 256, 512;
  - the estimate of ``isoinit._cost.network_seconds`` beside each, and the sampler
    ``auto`` picks;
  - on a grid of n and d at depth 3, both samplers' times, auto's pick and the ratio of its
    time to the faster one's (a ratio over 1.5 is printed as a miss of the model, not an
    error: the machine decides the times).

It asserts that the selected metrics equal the full computation's. The C++ primitives
(Eigen's and LAPACK's eigenvalues and Cholesky, the hand-written loops and BLAS's products)
were measured separately; see the commit that introduced this file.

    python bench/bench_factor.py            # full size (about a minute)
    python bench/bench_factor.py --smoke    # tiny sizes, a few seconds (CI)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import isoinit
from isoinit import _cost


def cpu_time(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes")
    args = ap.parse_args()
    d, depth = (100, 3) if args.smoke else (1000, 10)
    ns = (10, 40) if args.smoke else (10, 64, 256, 512)
    repeat = 2 if args.smoke else 3
    info = isoinit.build_info()
    print(f"isoinit {info['version']}: LAPACK {info['lapack']}, Eigen {info['eigen']} ({info['simd']})")
    print(f"\nms per network, one thread, relu + layer norm, d = {d}, {depth} layers (CPU time, best of {repeat})")
    print(f"{'n':>5} {'gram':>9} {'model':>9} {'weights':>9} {'model':>9} {'gram gap':>9} {'model':>9} {'auto':>8}")
    mlp = isoinit.MLP(depth, d, "relu", "layer")
    cheap = ["gap", "isometry"]
    for n in ns:
        x = isoinit.inputs.gaussian(n, d, seed=0)
        dims = [d] * (depth + 1)
        runs = max(1, min(20, int(0.05 / _cost.network_seconds("gram", n, dims))))
        row = []
        for sampler, metrics in (("gram", None), ("weights", None), ("gram", cheap)):
            t = cpu_time(
                lambda s=sampler, m=metrics, x=x, r=runs: isoinit.simulate(
                    mlp, x, runs=r, sampler=s, threads=1, metrics=m
                ),
                repeat,
            )
            row += [t / runs, _cost.network_seconds(sampler, n, dims, metrics=metrics)]
        auto = isoinit.simulate(mlp, x, runs=1).sampler
        print(f"{n:5d} " + " ".join(f"{v * 1e3:9.2f}" for v in row) + f" {auto:>8}")
        full = isoinit.simulate(mlp, x, runs=2, seed=1, sampler="gram")
        part = isoinit.simulate(mlp, x, runs=2, seed=1, sampler="gram", metrics=cheap)
        for name in cheap:
            np.testing.assert_allclose(part.metrics[name], full.metrics[name], rtol=1e-12, atol=0)

    grid_n, grid_d = ((10, 64), (64, 1000)) if args.smoke else ((10, 64, 256), (64, 256, 1000))
    print(f"\nauto against the faster sampler, depth 3, one thread (ms per network, CPU time, best of {repeat})")
    print(f"{'n':>5} {'d':>5} {'gram':>9} {'weights':>9} {'auto':>8} {'auto/faster':>12}")
    for n in grid_n:
        for dd in grid_d:
            x = isoinit.inputs.gaussian(n, dd, seed=0)
            small = isoinit.MLP(3, dd, "relu", "layer")
            # ~5 ms per call, so that the process clock's resolution does not matter
            runs = max(1, min(50, int(5e-3 / _cost.network_seconds("gram", n, [dd] * 4))))
            t = {
                s: cpu_time(
                    lambda s=s, m=small, x=x, r=runs: isoinit.simulate(m, x, runs=r, sampler=s, threads=1), repeat
                )
                / runs
                for s in ("gram", "weights")
            }
            auto = isoinit.simulate(small, x, runs=1).sampler
            ratio = t[auto] / min(t.values())
            miss = "  MISS (> 1.5)" if ratio > 1.5 else ""
            print(f"{n:5d} {dd:5d} {t['gram'] * 1e3:9.3f} {t['weights'] * 1e3:9.3f} {auto:>8} {ratio:12.2f}{miss}")


if __name__ == "__main__":
    main()
