"""Resources: threads are capped, memory is estimated before anything is allocated, and
running out of it is a MemoryError that says which parameter asked for what."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import isoinit
from isoinit import MLP, _core
from isoinit.simulate import _core_config

X = isoinit.inputs.degenerate(5, 32, 5.0, seed=0)


def test_threads_are_capped_at_the_machine() -> None:
    cpus = os.cpu_count() or 1
    assert 1 <= isoinit.build_info()["max_threads"] <= cpus


@pytest.mark.parametrize(("threads", "runs"), [(1000, 2), (4096, 1), (64, 5), (3, 3)])
def test_any_thread_request_works_and_gives_the_same_numbers(threads: int, runs: int) -> None:
    mlp = MLP(4, 16, "tanh", "layer")
    want = isoinit.simulate(mlp, X, runs=runs, seed=3, threads=1)
    got = isoinit.simulate(mlp, X, runs=runs, seed=3, threads=threads)
    assert got == want


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: isoinit.simulate(MLP(3, 32), X, runs=10**9, grams=True),
            r"grams=True with runs=1000000000 .*needs \d+\.\d [GTP]B for the Gram matrices",
        ),
        (
            lambda: isoinit.simulate(MLP(3, 32), X, runs=10**9),
            r"runs=1000000000 .*needs \d+\.\d [GTP]B for the metric arrays",
        ),
        (
            lambda: isoinit.simulate(MLP(3, 32), np.ones((40000, 1)) + np.arange(40000)[:, None]),
            r"X with n=40000 rows needs \d+\.\d GB per run",
        ),
        (
            lambda: isoinit.simulate(MLP(2, 10**7), X, sampler="weights"),
            r"width \(sampler='weights'.*needs \d+\.\d [TP]B per run",
        ),
        (
            lambda: isoinit.network_weights(MLP(2, 10**7), 10**7),
            r"network_weights with d_in=10000000 and widths up to 10000000 needs \d+\.\d PB",
        ),
    ],
)
def test_too_much_memory_is_refused_up_front(call: object, match: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def work(*args: object) -> None:
        raise AssertionError("the computation was entered before the memory check")

    # before any work: simulate's compiled computation is never entered; network_weights
    # checks inside its compiled call, before drawing, and the message is its estimate's
    monkeypatch.setattr(_core, "simulate", work)
    with pytest.raises(MemoryError, match=match) as err:
        call()  # type: ignore[operator]
    assert "this machine has" in str(err.value)


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""), reason="ASan reserves terabytes of address space")
def test_memory_limit_of_the_process_is_honoured() -> None:
    # an address-space limit (ulimit -v) counts as the available memory
    script = textwrap.dedent(
        """
        import resource, numpy as np, isoinit
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, resource.RLIM_INFINITY))
        x = np.ones((9000, 2)) + np.arange(9000)[:, None]
        try:
            isoinit.simulate(isoinit.MLP(2, 8), x)
        except MemoryError as err:
            print("MemoryError:", err)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "MemoryError: X with n=9000 rows needs" in out.stdout, out.stdout + out.stderr
    assert "this machine has 3.2 GB" in out.stdout


def test_run_offsets_near_the_end_of_int64() -> None:
    # run indices are added in uint64 (no signed overflow); run k of the call is stream k
    mlp = MLP(2, 8, "relu", "layer")
    cfg = _core_config(mlp, "weights", False, False)
    x = np.ascontiguousarray(X)
    top = 2**63 - 1
    res = _core.simulate(x, 7, top - 1, 3, 1, cfg)  # runs 2**63 - 2, 2**63 - 1, 2**63
    assert np.isfinite(res["metrics"]).all()
    for k, run in enumerate((top - 1, top)):
        one = isoinit.forward(mlp, X, isoinit.network_weights(mlp, X.shape[1], seed=7, run=run))
        np.testing.assert_array_equal(res["metrics"][k, :, 0, 0], one.isometry[0])
