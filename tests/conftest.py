"""Shared by every group of tests: core/ (the compiled kernel and its boundary), theory/,
api/ and tools/ (docs/developing.md, "The layers").

tolerances.py (every tolerance, named) and reference.py (the independent NumPy network) live
in this folder; it goes on sys.path so that ``from tolerances import ...`` and ``from reference
import ...`` work from every subfolder whatever pytest's import mode. The subfolders are not
packages, so a test file's name must be unique across all of them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
