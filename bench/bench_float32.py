"""float32 against float64: how much faster isoinit.simulate is with dtype="float32".

On a ReLU + layer norm MLP of depth 10 (``isoinit.MLP(10, d, "relu", "layer")``) and a
Gaussian batch, for n in {10, 64, 256, 512} and d in {1000, 4096}, it times
``isoinit.simulate`` on one thread (``threads=1``: the ratio of the arithmetic, not of the
thread scheduling) in float64 and in float32, with every metric and with ``metrics=["gap"]``
(no eigenvalues), and prints milliseconds per network and the ratio float64 / float32
against the target 1.7 at d >= 1000. Each time is the median of 5 calls whose runs are
chosen so that a float64 call lasts about 0.3 s.

    python bench/bench_float32.py           # the grid (about 3 min)
    python bench/bench_float32.py --smoke   # n = 10, d = 100, 2 layers (CI)
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import isoinit
from bench_simulate import median_time

TARGET = 1.7


def per_network(mlp: isoinit.MLP, x: Any, runs: int, repeat: int, **kw: Any) -> float:
    """Median milliseconds per network of ``repeat`` calls of ``runs`` networks (after a warm-up call)."""
    return median_time(lambda: isoinit.simulate(mlp, x, runs=runs, seed=0, threads=1, **kw), repeat) / runs * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes; the target is not checked")
    args = ap.parse_args()
    ns, ds, depth, repeat, budget = (
        ((10,), (100,), 2, 2, 0.01) if args.smoke else ((10, 64, 256, 512), (1000, 4096), 10, 5, 0.3)
    )
    print(
        f"isoinit {isoinit.__version__}, one thread, depth {depth}, relu + layer norm; "
        f"ms per network (median of {repeat})"
    )
    print(
        f"{'d':>5} {'n':>5} {'metrics':>8} {'float64':>10} {'float32':>10} {'ratio':>6}  "
        f"target >= {TARGET} at d >= 1000"
    )
    for d in ds:
        mlp = isoinit.MLP(depth, d, "relu", "layer")
        for n in ns:
            x = isoinit.inputs.gaussian(n, d, seed=0)
            t0 = time.perf_counter()
            isoinit.simulate(mlp, x, runs=1, seed=0, threads=1)
            runs = max(1, round(budget / max(time.perf_counter() - t0, 1e-6)))
            for name, kw in (("all", {}), ("gap", {"metrics": ["gap"]})):
                t64 = per_network(mlp, x, runs, repeat, **kw)
                t32 = per_network(mlp, x, runs, repeat, dtype="float32", **kw)
                mark = "" if args.smoke or d < 1000 else ("PASS" if t64 / t32 >= TARGET else "MISS")
                print(f"{d:5d} {n:5d} {name:>8} {t64:10.3f} {t32:10.3f} {t64 / t32:6.2f}  {mark}", flush=True)
    if args.smoke:
        print("smoke size: the target is not checked")


if __name__ == "__main__":
    main()
