"""Standard normals: the kernel's sampler by implementation, against NumPy (issue: Scale).

Times ``Stream::fill_normal`` through ``isoinit._core._fill_normal_path`` for every
implementation this CPU runs (``avx512``, ``avx2``, ``scalar``; the first is what the
simulator uses), and NumPy's ``np.random.default_rng().standard_normal(out=...)`` as a
peer, both filling the same preallocated float64 array (a fresh array per call would time
the page faults of the allocation too, which in a VM can cost more than the normals), and
prints nanoseconds per normal (median and minimum of the repeats) and the ratios (of the
medians). The target: at most 1.7 ns per normal for the fastest path, half the 3.4 ns that
``fill_normal`` (then the AVX2 path) took when the issue measured it; ``avx2`` below is that
same code, so ``avx2 / fastest`` is the speed-up on this machine, now. It asserts that every
implementation draws the same numbers.

    python bench/bench_normals.py            # 10^5 normals per call, 200 calls per repeat
    python bench/bench_normals.py --smoke    # tiny sizes, a second (CI)
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator

import numpy as np

import isoinit
from isoinit import _core

#: ns per normal of Stream::fill_normal (the AVX2 path) when the issue was filed.
BASELINE_NS = 3.4
#: The issue's target: at least twice as fast.
TARGET_NS = BASELINE_NS / 2


def times_of(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall times of ``repeat`` calls of ``fn``, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    """Time the implementations and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, no target judged")
    ap.add_argument("--count", type=int, default=100_000, help="normals per call (default: 10^5)")
    ap.add_argument("--calls", type=int, default=200, help="calls per timed repeat (default: 200)")
    ap.add_argument("--repeat", type=int, default=7, help="timed repeats; the median is kept (default: 7)")
    args = ap.parse_args()
    count, calls, repeat = (10_000, 5, 3) if args.smoke else (args.count, args.calls, args.repeat)
    info = isoinit.build_info()
    paths = _core._normal_paths()
    print(f"isoinit {info['version']}, {info['compiler']}; normal paths this CPU runs: {', '.join(paths)}")

    # the same numbers on every path, the slow-path draws included
    ref = _core.standard_normal(9, 0, 0, max(count, 100_000))
    for path in paths:
        out = np.full(ref.size, np.nan)
        _core._fill_normal_path(out, 9, 0, 0, path)
        np.testing.assert_array_equal(out, ref)
    assert abs(ref.mean()) < 0.02 and abs(ref.var() - 1) < 0.03, (ref.mean(), ref.var())
    print(f"  all paths draw the same {ref.size} normals")

    buf = np.empty(count)
    per_normal = 1e9 / (calls * count)
    times: dict[str, list[float]] = {}
    for path in paths:
        layers = iter(range(10**9))  # a new stream per call

        def fill(path: str = path, layers: Iterator[int] = layers) -> None:
            for _ in range(calls):
                _core._fill_normal_path(buf, 1, 0, next(layers), path)

        times[path] = times_of(fill, repeat)
    rng = np.random.default_rng(0)
    times["NumPy"] = times_of(lambda: [rng.standard_normal(out=buf) for _ in range(calls)], repeat)
    ns = {name: statistics.median(t) * per_normal for name, t in times.items()}

    best = paths[0]
    print(f"\n{count} normals per call into one array, {calls} calls per repeat, {repeat} repeats (float64)")
    print(f"  {'':8s} {'median':>7s} {'min':>7s}  ns per normal (on a shared machine the min is the less disturbed)")
    for name, t in times.items():
        tag = "  (fill_normal's choice)" if name == best else ""
        print(f"  {name:8s} {ns[name]:7.3f} {min(t) * per_normal:7.3f}{tag}")
    verdict = "not judged at smoke size" if args.smoke else ("met" if ns[best] <= TARGET_NS else "MISSED")
    print(
        f"  baseline {BASELINE_NS:.1f} ns / {best} = {BASELINE_NS / ns[best]:.2f}"
        f"  (target: {best} median <= {TARGET_NS:.2f} ns: {verdict})"
    )
    for name in ("avx2", "scalar", "NumPy"):
        if name in ns and name != best:
            note = "  (fill_normal's choice before the AVX-512 path, timed now)" if name == "avx2" else ""
            print(f"  {name} / {best} = {ns[name] / ns[best]:.2f}{note}")


if __name__ == "__main__":
    main()
