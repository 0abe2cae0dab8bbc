"""Every Python example of the README and the documentation runs as written.

The ```python blocks of each page run in order in one namespace (a page is a script), in
a temporary directory, so a later block may use what an earlier one defined. A block
whose first line is ``# not run: <reason>`` is skipped (say why: a download, a model the
reader brings). Heavy examples are kept small in the pages themselves, so this file runs in
a few seconds.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks(page: Path) -> list[str]:
    return [b for b in _BLOCK.findall(page.read_text()) if not b.startswith("# not run:")]


@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p)], ids=lambda p: p.name)
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if "torch" in page.read_text():
        pytest.importorskip("torch")
    if "import transformers" in page.read_text():
        pytest.importorskip("transformers")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"example_{page.stem}"}
    for k, block in enumerate(_blocks(page)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # third-party noise is not the example's
            try:
                exec(compile(block, f"{page.name}:python-block-{k}", "exec"), namespace)
            except Exception as err:  # pragma: no cover - the message is the point
                raise AssertionError(f"{page.name}, Python block {k} fails: {err!r}\n{block}") from err
