"""Ctrl-C is honoured (issue 10, cause 3): a long compiled call started from Python stops with
KeyboardInterrupt soon after SIGINT.

Each case runs in a subprocess that starts a call taking tens of seconds, gets SIGINT about a
second in, and must exit with KeyboardInterrupt well before the call could have finished.
The bound (3 s from the signal to the exit) is generous for a loaded 2-core machine: the
bindings poll for signals every 50 ms and the kernel stops before its next layer, run or
matrix (tens of milliseconds here); before the fix these calls went on for 3 to 23 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

#: Seconds from SIGINT to the process's exit (see the module docstring).
EXIT_WITHIN = 3.0

CASES = {
    # one long run: n = 200, depth 800 (about 20 s uninterrupted)
    "simulate-one-long-run": """
        x = isoinit.inputs.gaussian(200, 64, seed=0)
        isoinit.simulate(isoinit.MLP(800, 1000), x, runs=1, progress=False)
    """,
    # many short runs on 2 threads, one compiled call (about a minute uninterrupted)
    "simulate-many-runs": """
        x = isoinit.inputs.degenerate(10, 1000, 100, seed=0)
        isoinit.simulate(isoinit.MLP(30, 1000), x, runs=100000, threads=2, progress=False)
    """,
    # one long run of a transformer: 128 tokens, 200 blocks of width 512 (about 30 s uninterrupted);
    # the kernel checks between the operations of a block
    "simulate-one-transformer-run": """
        x = isoinit.inputs.gaussian(128, 512, seed=0)
        isoinit.simulate(isoinit.Transformer(200, 512, heads=8), x, runs=1, sampler="weights", progress=False)
    """,
    # a fixed deep network (about 15 s uninterrupted)
    "forward": """
        mlp = isoinit.MLP(1500, 128)
        w = isoinit.network_weights(isoinit.MLP(1, 128), 128, seed=0)[0]
        x = isoinit.inputs.gaussian(300, 128, seed=0)
        isoinit.forward(mlp, x, [w] * 1500)
    """,
    # metrics of a large stack of Gram matrices (about 6 s on 2 threads uninterrupted; gram=True
    # skips metrics.py's symmetry test, a NumPy call of seconds that no signal interrupts)
    "gram_metrics": """
        rng = np.random.default_rng(0)
        a = rng.standard_normal((500, 600))
        g = np.broadcast_to(a @ a.T / 600, (500, 500, 500)).copy()
        isoinit.metrics.gram_metrics(g, gram=True)
    """,
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_ctrl_c_interrupts_within_seconds(case: str) -> None:
    *setup, call = textwrap.dedent(CASES[case]).strip().splitlines()  # the last line is the long call
    script = "\n".join(["import numpy as np, isoinit", *setup, "print('go', flush=True)", call, "print('finished')"])
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "go"
        time.sleep(1.0)
        assert proc.poll() is None, "the call finished before the signal: the case proves nothing"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{case}: still running 30 s after SIGINT")
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "KeyboardInterrupt" in err, err[-2000:]
    assert proc.returncode != 0
    assert elapsed < EXIT_WITHIN, f"{case}: exited {elapsed:.2f} s after SIGINT"
