"""The table of figures in the gallery (``docs/figures.md``), generated from the registry.

``python -m isoinit.figures.gallery docs/figures.md`` rewrites the table between the
:data:`BEGIN` and :data:`END` markers of that file (the rest of the gallery, the images and
the prose, is written by hand); ``--check`` only says whether it is up to date (exit 1 if
not). ``tests/tools/test_figures.py`` checks the committed file the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import _registry

__all__ = ["BEGIN", "END", "main", "table", "update"]

BEGIN = (
    "<!-- figure table: generated from the figures registry by "
    "`python -m isoinit.figures.gallery docs/figures.md`; do not edit by hand -->"
)
END = "<!-- end of the generated figure table -->"


def table() -> str:
    """The Markdown table of every registered figure.

    Columns: name (a link to its section), what it shows, and what the published figure
    shows.
    """
    lines = [
        "| figure | what it shows | the published figure |",
        "|---|---|---|",
    ]
    for f in _registry.figures():
        lines.append(f"| [{f.name}](#{f.name}) | {f.description} | {f.published} |")
    return "\n".join(lines) + "\n"


def update(text: str) -> str:
    """``text`` (the gallery) with the table between the markers replaced by :func:`table`.

    Parameters
    ----------
    text : str
        The gallery page's Markdown.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``text`` does not hold the markers once each, in order.
    """
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(
            "the gallery must hold the table markers once each, the begin marker first; "
            f"got {text.count(BEGIN)} begin and {text.count(END)} end markers"
        )
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{table()}{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or with ``--check`` compare) the table of the gallery file.

    Parameters
    ----------
    argv : sequence of str, optional
        The command line's arguments (default: the process's): ``PATH [--check]``.

    Returns
    -------
    int
        The exit code: 1 when ``--check`` finds the table out of date, else 0.
    """
    p = argparse.ArgumentParser(
        prog="python -m isoinit.figures.gallery", description="Regenerate the table of figures of the gallery."
    )
    p.add_argument("path", metavar="PATH", help="the gallery page, e.g. docs/figures.md")
    p.add_argument("--check", action="store_true", help="do not write; exit 1 if the table is out of date")
    args = p.parse_args(argv)
    path = Path(args.path)
    text = path.read_text(encoding="utf-8")
    new = update(text)
    if args.check:
        if new != text:
            print(f"{path}: the table of figures is out of date; run python -m isoinit.figures.gallery {path}")
            return 1
        return 0
    if new != text:
        path.write_text(new, encoding="utf-8")
        print(f"{path}: table of figures updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
