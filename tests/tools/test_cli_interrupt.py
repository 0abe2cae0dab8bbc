"""Ctrl-C in the command line: status 130 and one line on stderr, not a traceback.

The API keeps raising KeyboardInterrupt (tests/core/test_interrupt.py); the ``isoinit``
command catches it. The real case runs ``python -m isoinit.cli simulate ...`` in a child
that prints "go" when the command reaches the compiled simulation, and gets SIGINT there.
"""

from __future__ import annotations

import textwrap

import pytest

from interrupting import interrupt_child
from isoinit.cli import _simulate, main

#: Seconds from SIGINT to the child's exit: a guard against a hang, not a latency target
#: (as EXIT_WITHIN of tests/core/test_interrupt.py).
EXIT_WITHIN = 20.0

#: The command: 100000 runs of the default network, one compiled call of about a minute on 2 threads.
ARGV = ["isoinit", "simulate", "--runs", "100000", "--threads", "2", "--quiet"]

#: ``python -m isoinit.cli`` (runpy, as ``-m`` does) with a profiler that prints "go" when the
#: command first calls the compiled simulation.
CHILD = textwrap.dedent(
    f"""
    import runpy, sys
    def watch(frame, event, arg):
        if event == "c_call" and getattr(arg, "__module__", None) == "isoinit._core" and arg.__name__ == "simulate":
            sys.setprofile(None)
            print("go", flush=True)
    sys.argv = {ARGV!r}
    sys.setprofile(watch)
    runpy.run_module("isoinit.cli", run_name="__main__", alter_sys=True)
    print("finished", flush=True)
    """
)


def test_ctrl_c_in_a_command_exits_130_with_one_line() -> None:
    out, err, returncode, _ = interrupt_child(CHILD, "isoinit simulate", EXIT_WITHIN)
    assert returncode == 130, (returncode, err[-2000:])
    assert err.splitlines() == ["isoinit simulate: interrupted (Ctrl-C)"], err[-2000:]
    assert "finished" not in out


def test_main_turns_keyboard_interrupt_into_status_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_simulate, "simulate", interrupted)
    assert main(["simulate", "--depth", "2", "--width", "10", "--quiet"]) == 130
    captured = capsys.readouterr()
    assert captured.err == "isoinit simulate: interrupted (Ctrl-C)\n"
