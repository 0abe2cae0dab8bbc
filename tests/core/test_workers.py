"""The worker threads behind long calls: reused across calls, one per concurrent call, and a
forked child's own (the compiled kernel keeps idle workers between calls, see
cpp/bindings/bindings.hpp)."""

from __future__ import annotations

import multiprocessing as mp
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import isoinit

MLP = isoinit.MLP(depth=6, width=64, activation="relu", norm="layer")
X = isoinit.inputs.gaussian(6, 64, seed=1)


def _gap(runs: int, seed: int, threads: int = 2) -> np.ndarray:
    return isoinit.simulate(MLP, X, runs=runs, seed=seed, threads=threads).gap


def test_concurrent_calls_match_sequential_ones() -> None:
    seeds = list(range(6))
    want = [_gap(40, s) for s in seeds]
    with ThreadPoolExecutor(max_workers=3) as pool:
        got = list(pool.map(lambda s: _gap(40, s), seeds))
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(w, g)


def test_repeated_calls_match_a_single_one() -> None:
    # many short calls on the reused worker give the numbers of one long call
    whole = isoinit.simulate(MLP, X, runs=24, seed=3, threads=2).gap
    for _ in range(3):
        np.testing.assert_array_equal(isoinit.simulate(MLP, X, runs=24, seed=3, threads=2).gap, whole)


def _child(queue: mp.Queue, runs: int) -> None:  # type: ignore[type-arg]
    queue.put(_gap(runs, 5))


@pytest.mark.skipif(sys.platform == "win32" or "fork" not in mp.get_all_start_methods(), reason="needs fork")
@pytest.mark.parametrize("runs", [2, 400], ids=["short-call", "long-call"])
def test_a_forked_child_simulates(runs: int) -> None:
    # the parent has used its workers (and OpenMP) before the fork; the child must not hang
    want = _gap(runs, 5)
    _gap(400, 0)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue, runs))
    child.start()
    try:
        got = queue.get(timeout=60)
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    np.testing.assert_array_equal(got, want)
