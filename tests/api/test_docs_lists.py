"""Lists in the docs that are generated from a registry must be current.

Regenerate after adding an activation::

    python tests/api/test_docs_lists.py --regenerate
"""

from __future__ import annotations

import sys
from pathlib import Path

from isoinit import activations

DOCS = Path(__file__).resolve().parents[2] / "docs"

ACTIVATIONS_INTRO = """# Activations

The built-in activations of isoinit, generated from their records in
`isoinit.activations.BUILTIN` (regenerate with `python tests/api/test_docs_lists.py --regenerate`;
a test checks that this table is current). Every one runs in the compiled kernel and in the
theory. `isoinit.activations.register` adds a Python callable and
`isoinit.activations.from_hermite` an activation given by its Hermite coefficients; both run
in the kernel and in the theory. The kernel runs a callable as a table
(`isoinit.activations.tabulate`): a degree-5 polynomial per cell of a uniform grid on
`[-16, 16]` (wider for wider pre-activations), declared kinks on cell boundaries, tangent
lines beyond the ends, built once and evaluated in C++ (7-11 ns a value, like the built-in
tanh or gelu); its largest error against the callable, `Tabulation.max_error`, is measured
(about 1e-14 for smooth functions and declared kinks) and an `IsoinitWarning` names the
activation and the place when it exceeds `TABLE_WARN` = 1e-8 (an undeclared kink or a
singularity). How to add a built-in: [developing.md](developing.md).

The `transformers` package's names resolve to the same functions
(`isoinit.activations.ALIASES`: `gelu_new` and `gelu_pytorch_tanh` are `gelu_tanh`, `swish` is
`silu`), and a misspelled name gets a suggestion ("did you mean 'gelu_tanh'?").

"""


def activations_page() -> str:
    return ACTIVATIONS_INTRO + activations.markdown_table()


def test_activations_page_is_current() -> None:
    assert (DOCS / "activations.md").read_text() == activations_page(), (
        "docs/activations.md is stale: run python tests/api/test_docs_lists.py --regenerate"
    )


def test_table_lists_every_builtin() -> None:
    table = activations.markdown_table()
    for name in activations.BUILTIN:
        assert f"| `{name}` |" in table


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit("usage: python tests/api/test_docs_lists.py --regenerate")
    (DOCS / "activations.md").write_text(activations_page())
    print("wrote docs/activations.md")
