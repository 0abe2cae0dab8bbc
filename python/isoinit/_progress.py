"""One rule for progress bars: shown when asked, otherwise only on an interactive terminal.

:func:`isoinit.simulate`, :func:`isoinit.sweeps.sweep` and :func:`isoinit.training.train`
take ``progress=None | True | False``; ``None`` (their default) shows a bar only when the
standard error is a terminal and, where the caller can estimate it, the work is expected to
take longer than :data:`MIN_SECONDS`. Logs, pipes, notebooks' captured output and CI never
get a bar they did not ask for.
"""

from __future__ import annotations

import sys
from typing import Any

from . import _validate as check

__all__ = ["MIN_SECONDS", "bar", "wanted"]

#: Work expected to take less than this many seconds gets no bar unless one is asked for.
MIN_SECONDS = 2.0


def wanted(progress: object, *, seconds: float | None = None) -> bool:
    """Whether to show a bar: ``progress`` if it is given, else the terminal rule."""
    if progress is not None:
        return check.boolean("progress", progress)
    try:
        interactive = bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # a replaced or closed stderr
        interactive = False
    return interactive and (seconds is None or seconds > MIN_SECONDS)


def bar(total: int, desc: str, unit: str, *, show: bool) -> Any:
    """A tqdm bar on standard error (disabled, and printing nothing, unless ``show``)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, disable=not show)
