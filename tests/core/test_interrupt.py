"""Ctrl-C is honoured: a long compiled call started from Python stops with KeyboardInterrupt
on SIGINT.

Each case runs in a subprocess that starts a call taking seconds to minutes and gets SIGINT
about a second after the call reaches the compiled kernel. It must exit with KeyboardInterrupt
raised by the compiled call itself: the child records the kernel's call events
(``sys.setprofile``: c_call, c_return, c_exception), so a call that ignores the signal, runs
to its end and only then lets Python raise fails here however fast the machine. How soon the
process exits is benchmarked, not tested: bench/bench_interrupt.py (target under 1 s) runs
these cases (it imports them).
"""

from __future__ import annotations

import signal
import textwrap

import pytest

from interrupting import interrupt_child

#: Seconds from SIGINT to the process's exit: a guard against a hang, not a latency target
#: (the bindings poll for signals every 50 ms; a loaded machine stays far below this).
EXIT_WITHIN = 20.0

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
    # metrics of a large stack of Gram matrices (about 3 s on 2 threads uninterrupted, after 4 s of
    # metrics.py's NumPy checks of the input, which no signal interrupts and "go" comes after)
    "gram_metrics": """
        rng = np.random.default_rng(0)
        a = rng.standard_normal((500, 600))
        g = np.broadcast_to(a @ a.T / 600, (500, 500, 500)).copy()
        isoinit.metrics.gram_metrics(g, gram=True)
    """,
}

#: The child's harness around a case: the setup, then the long call (the case's last line)
#: under a profiler that keeps the kernel's call events, prints "go" when the call first reaches
#: the kernel, and the last event at the end.
HARNESS = """
import sys, numpy as np, isoinit
events = []
def watch(frame, event, arg):
    if event.startswith("c_") and getattr(arg, "__module__", None) == "isoinit._core":
        if not events:
            print("go", flush=True)
        events.append(f"{{event}} {{arg.__name__}}")
{setup}
sys.setprofile(watch)
try:
    {call}
finally:
    sys.setprofile(None)
    print(events[-1] if events else "no kernel call", flush=True)
print("finished", flush=True)
"""


def child_script(case: str) -> str:
    *setup, call = textwrap.dedent(CASES[case]).strip().splitlines()
    return HARNESS.format(setup="\n".join(setup), call=call)


def interrupt(case: str, within: float) -> tuple[str, str, int, float]:
    """Run ``case`` in a child, SIGINT it a second into its long call, wait at most ``within`` s.

    Returns its stdout, stderr, exit status and the seconds from SIGINT to its exit;
    AssertionError if the child never reached the call, finished before the signal or hangs.
    """
    return interrupt_child(child_script(case), case, within)


def check_interrupted(case: str, out: str, err: str, returncode: int) -> None:
    """The child stopped with KeyboardInterrupt raised by the compiled call itself."""
    assert "KeyboardInterrupt" in err, err[-2000:]
    # uncaught KeyboardInterrupt: Python ends by SIGINT, as Ctrl-C's default does
    assert returncode == -signal.SIGINT, (returncode, err[-2000:])
    lines = out.splitlines()
    assert "finished" not in lines
    # raised by the compiled call, not by Python after the call returned
    assert lines[-1].startswith("c_exception "), f"{case}: the kernel's last event is {lines[-1]!r}"


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_ctrl_c_interrupts_the_compiled_call(case: str) -> None:
    out, err, returncode, _ = interrupt(case, EXIT_WITHIN)
    check_interrupted(case, out, err, returncode)
