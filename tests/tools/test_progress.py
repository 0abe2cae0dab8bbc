"""Progress bars: shown when asked, otherwise only on an interactive terminal (one rule)."""

from __future__ import annotations

import io
import sys

import pytest

import isoinit
from isoinit import _progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not _progress.wanted(None) and not _progress.wanted(None, seconds=100.0)
    assert _progress.wanted(True) and not _progress.wanted(False)
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert _progress.wanted(None) and _progress.wanted(None, seconds=100.0)
    assert not _progress.wanted(None, seconds=0.1)  # too short to be worth a bar
    assert not _progress.wanted(False, seconds=100.0)
    with pytest.raises(TypeError, match="progress must be True or False; got 'yes'"):
        _progress.wanted("yes")


@pytest.mark.parametrize("asked", [None, False, True])
def test_sweep_follows_the_rule(asked: bool | None, capsys: pytest.CaptureFixture[str]) -> None:
    grid = {"activation": ["relu", "tanh"], "depth": 2, "width": 16}
    isoinit.sweeps.sweep(grid, inputs=dict(n=4, d=8), runs=2, progress=asked)
    err = capsys.readouterr().err
    assert ("isoinit.sweep" in err) == (asked is True)  # captured output is not a terminal
