"""The package's layers: every import inside isoinit points down, and nothing imports in a circle.

The layers, bottom first (docs/developing.md draws them). A module may import its own layer
and the layers below; the package root and the documented short paths (``isoinit.hermite``,
``isoinit.blocks``, ...) sit on top and nothing inside imports them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import isoinit

PACKAGE = Path(isoinit.__file__).parent

#: Layer of each top-level module or subpackage of isoinit, bottom first.
LAYERS: dict[str, int] = {
    **dict.fromkeys(
        ["_core", "_validate", "_warnings", "_io", "_paths", "_progress", "_version", "_cost", "_renamed"], 0
    ),
    **dict.fromkeys(["activations", "inputs", "metrics"], 1),
    "networks": 2,
    "results": 3,
    "theory": 4,
    "simulate": 5,
    **dict.fromkeys(["comparison", "hooks", "_torchnet", "presets"], 6),
    "sweeps": 7,
    "training": 8,
    "figures": 9,
    "cli": 10,
}
#: The documented short paths: facades above everything, imported by nothing inside.
FACADES = {"hermite", "bounds", "meanfield", "blocks", "config"}
#: Where an import inside a function is allowed: the command line (each command loads only
#: what it runs) and PyTorch, an optional dependency (_torchnet).
LAZY_ALLOWED = {"cli"}
LAZY_TARGETS = {"_torchnet"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["isoinit", *parts])] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """(imported isoinit module, inside a function) for every import of ``name``."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            nested |= {id(n) for n in ast.walk(node) if n is not node}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("isoinit"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in MODULES or sub == "isoinit._core" else target, id(node) in nested))
        elif isinstance(node, ast.Import):
            found += [(a.name, id(node) in nested) for a in node.names if a.name.startswith("isoinit")]
    return found


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_has_a_layer() -> None:
    tops = {_top(m) for m in MODULES} - {""}
    assert tops <= set(LAYERS) | FACADES, sorted(tops - set(LAYERS) - FACADES)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down(name: str) -> None:
    source = _top(name)
    if source == "" or source in FACADES:
        return  # the root and the facades re-export from below
    for target, lazy in _imports(name, MODULES[name]):
        dest = _top(target)
        assert dest != "", f"{name} imports the package root"
        assert dest not in FACADES, f"{name} imports the facade {target}; import the module it stands for"
        assert LAYERS[dest] <= LAYERS[source], (
            f"{name} (layer {LAYERS[source]}) imports {target} (layer {LAYERS[dest]})"
        )
        if lazy and source not in LAZY_ALLOWED:
            assert dest in LAZY_TARGETS, f"{name} imports {target} inside a function"


def test_no_import_circle() -> None:
    graph = {name: {t for t, _ in _imports(name, path) if t in MODULES and t != name} for name, path in MODULES.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join([*trail[trail.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    # a lower module importing a higher one must be caught, or the tests above prove nothing
    bad = tmp_path / "metrics.py"
    bad.write_text("from .simulate import simulate\n\ndef f():\n    from .figures import make\n")
    found = _imports("isoinit.metrics", bad)
    assert ("isoinit.simulate", False) in found
    assert ("isoinit.figures", True) in found
    assert LAYERS[_top("isoinit.simulate")] > LAYERS["metrics"]
