"""sampler="auto" picks the sampler that is measured faster (isoinit._cost's model).

A test of the model, not of the machine: on a small grid (n in {10, 64, 256}, d in {64, 256,
1000}, depth 3) both samplers are timed (CPU time of one thread, the best of 3 calls), and
only where they differ by more than 1.5x must auto have picked the faster one.
"""

from __future__ import annotations

import time

import pytest

import isoinit
from isoinit import _cost


def _cpu(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


@pytest.mark.parametrize("n", [10, 64, 256])
def test_auto_picks_the_faster_sampler(n: int) -> None:
    for d in (64, 256, 1000):
        x = isoinit.inputs.gaussian(n, d, seed=0)
        mlp = isoinit.MLP(3, d, "relu", "layer")
        dims = [d] * 4
        # enough runs for ~5 ms per call, so the process clock's resolution does not matter
        runs = max(1, min(50, int(5e-3 / _cost.network_seconds("gram", n, dims))))
        t = {
            s: _cpu(lambda s=s, m=mlp, x=x, r=runs: isoinit.simulate(m, x, runs=r, sampler=s, threads=1))
            for s in ("gram", "weights")
        }
        auto = isoinit.simulate(mlp, x, runs=1).sampler
        fast, slow = sorted(t, key=t.__getitem__)
        if t[slow] > 1.5 * t[fast]:
            assert auto == fast, f"n={n}, d={d}: auto picked {auto}; measured {t}"


def test_cost_model_counts_the_factorizations() -> None:
    """The estimate grows like n^3 once the factorizations dominate (small d, large n), and
    dropping the eigenvalue metrics removes most of it."""
    small, large = (_cost.network_seconds("gram", n, [16] * 4) for n in (256, 512))
    assert large / small > 4
    cheap = _cost.network_seconds("gram", 512, [16] * 4, metrics=["gap", "potential"])
    assert cheap < large / 2
