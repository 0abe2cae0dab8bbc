"""Start a child Python, send it SIGINT a second after it prints "go", and wait for it.

Shared by tests/core/test_interrupt.py (the API's compiled calls), tests/tools/test_cli_interrupt.py
(the command line) and bench/bench_interrupt.py. Nothing here asserts a duration: ``within`` is a
guard against a hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def interrupt_child(script: str, label: str, within: float) -> tuple[str, str, int, float]:
    """Run ``script`` in a child, SIGINT it a second after its first line "go", wait at most ``within`` s.

    Returns its stdout (after "go"), stderr, exit status and the seconds from SIGINT to its exit;
    AssertionError, naming ``label``, if the child never printed "go", finished before the
    signal or hangs.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # the children's long calls are sized for 2 threads: more would end them before the signal
        env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "2"},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "go", f"{label}: the child ended before its long call"
        time.sleep(1.0)  # into the long call
        assert proc.poll() is None, f"{label}: the call finished before the signal: the case proves nothing"
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=within)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{label}: still running {within:.0f} s after SIGINT") from None
        elapsed = time.perf_counter() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out, err, proc.returncode, elapsed
