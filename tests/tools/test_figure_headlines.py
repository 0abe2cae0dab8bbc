"""The numbers the gallery quotes come from the figures' own data and agree with a fresh run.

docs/figures/NAME.json holds the numbers ``isoinit figure NAME`` computed from its data
(isoinit.figures._headlines); docs/figures.md quotes them as MyST substitutions. A fresh run
at the gallery's settings (the same seed) must reproduce them to HEADLINE_REL (the same seed
gives the same numbers; the tolerance covers another CPU's BLAS kernel and libm, docs/errors.md
"Reproducibility", amplified through a figure's averages), and every quoted key must exist.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from isoinit import figures
from isoinit.figures._headlines import HEADLINES, formatted, headlines
from tolerances import HEADLINE_REL

ROOT = Path(__file__).resolve().parents[2]
GALLERY = ROOT / "docs" / "figures"


@pytest.mark.parametrize("name", sorted(HEADLINES))
def test_quoted_numbers_agree_with_a_fresh_run(name: str, tmp_path: Path) -> None:
    stored = json.loads((GALLERY / f"{name}.json").read_text())
    assert stored["figure"] == name and stored["size"] == 1.0 and stored["runs"] is None
    result = figures.make(name, tmp_path, seed=stored["seed"])
    fresh = json.loads((tmp_path / f"{name}.json").read_text())["headlines"]
    assert fresh == headlines(name, result.data)  # the file holds what the data gives
    assert set(fresh) == set(stored["headlines"])
    for key, value in stored["headlines"].items():
        np.testing.assert_allclose(fresh[key], value, rtol=HEADLINE_REL, err_msg=key)


def test_every_quoted_key_exists_and_every_file_is_quoted() -> None:
    text = (ROOT / "docs" / "figures.md").read_text()
    quoted = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", text)) - {"version"}
    known: set[str] = set()
    for name in HEADLINES:
        known |= set(json.loads((GALLERY / f"{name}.json").read_text())["headlines"])
    assert quoted <= known, sorted(quoted - known)
    for name in HEADLINES:
        assert f"figures/{name}.json" in text


def test_formatting() -> None:
    assert formatted(0.84712) == "0.847"
    assert formatted(25.0) == "25"
    assert formatted(float("inf")) == "inf"
    assert formatted(-28.234) == "-28.2"
