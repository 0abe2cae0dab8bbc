"""The API reference (docs/api.md) documents every public object once.

Its autosummary lists name each object under the path a user types; every name in the
``__all__`` of ``isoinit`` and of each module the page documents must be one of them, or
the same object re-exported (``isoinit.networks.MLP`` is ``isoinit.MLP``). Read with the
docs' own parser (docs/_ext/api_aliases.py), without Sphinx.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _aliases() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_docs_api_aliases", DOCS / "_ext" / "api_aliases.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_documented_name_imports() -> None:
    aliases = _aliases()
    names = aliases.documented_names(DOCS / "api.md")
    assert len(names) > 100
    missing = [name for name in names if aliases.resolve(name) is aliases._MISSING]
    assert not missing, f"docs/api.md lists names that do not exist: {missing}"
    assert len(set(names)) == len(names), "docs/api.md lists a name twice"


def test_every_public_name_is_documented_once() -> None:
    aliases = _aliases()
    names = aliases.documented_names(DOCS / "api.md")
    documented: dict[int, list[str]] = {}
    objects = [aliases.resolve(name) for name in names]  # kept alive: ids stay unique
    for name, obj in zip(names, objects, strict=True):
        documented.setdefault(id(obj), []).append(name)
    import isoinit

    # the modules the page documents, and every public module of the package's own __all__
    public = {f"isoinit.{m}" for m in isoinit.__all__ if inspect.ismodule(getattr(isoinit, m))}
    modules = sorted({name.rsplit(".", 1)[0] for name in names} | {"isoinit"} | public)
    undocumented = []
    for modname in modules:
        module = sys.modules.get(modname) or importlib.import_module(modname)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if inspect.ismodule(obj) or attr == "__version__":
                continue
            # a number or a string may be shared by unrelated constants: then the names must agree too
            same = [
                n
                for n in documented.get(id(obj), [])
                if inspect.isclass(obj) or inspect.isroutine(obj) or n.endswith(attr)
            ]
            if not same:
                undocumented.append(f"{modname}.{attr}")
    assert not undocumented, f"add to the lists of docs/api.md: {undocumented}"
    # functions and classes only: equal constants and type aliases may be one object
    # (Literal[...] is cached, and 1e-12 is 1e-12)
    code = [
        same
        for same in documented.values()
        if inspect.isclass(aliases.resolve(same[0])) or inspect.isroutine(aliases.resolve(same[0]))
    ]
    twice = [same for same in code if len(same) > 1]
    assert not twice, f"docs/api.md documents one function or class under several names: {twice}"
