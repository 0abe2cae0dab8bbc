"""One documented name per object, and every other path to it linked there.

isoinit documents each public object once, under the path a user types (``isoinit.MLP``,
``isoinit.hermite.beta0``: the lists of ``api.md``), while the code defines it elsewhere
(``isoinit.networks.mlp.MLP``, ``isoinit.theory.hermite.beta0``) and docstrings name it
either way, or by a name relative to the module that defines it. This extension

* resolves a reference that Sphinx cannot (``missing-reference``) by importing what it
  names, relative to the page's own object where it is not absolute, and linking the
  documented name of the same object (for a dataclass field, or an attribute a class's
  docstring lists, the class: numpydoc documents those in the class's sections);
* gives numpydoc the documented names to link in the types of docstring sections
  (``numpydoc_xref_aliases``: ``MLP`` and ``isoinit.networks.mlp.MLP`` -> ``isoinit.MLP``);
* takes the ``#:`` comment of a constant or type alias from the module that defines it,
  when it is documented under a module that re-exports it.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

_MISSING = object()


def _getattr(obj: Any, name: str) -> Any:
    """``getattr`` that returns a class's own descriptors (the same object every time)."""
    if inspect.isclass(obj):
        for klass in obj.__mro__:
            if name in vars(klass):
                return vars(klass)[name]
    return getattr(obj, name, _MISSING)


def resolve(path: str) -> Any:
    """The object a dotted path names, or ``_MISSING``.

    An attribute of the longest module prefix (``isoinit.simulate`` is the function, which
    shadows the module of that name as an attribute); a module (from ``sys.modules`` first)
    when no attribute has the name.
    """
    parts = path.split(".")
    for i in [*range(len(parts) - 1, 0, -1), len(parts)]:
        modname = ".".join(parts[:i])
        module = sys.modules.get(modname)
        if module is None:
            try:
                module = importlib.import_module(modname)
            except Exception:
                continue
        obj = module
        for part in parts[i:]:
            obj = _getattr(obj, part)
            if obj is _MISSING:
                break
        if obj is not _MISSING:
            return obj
    return _MISSING


def documented_names(api_page: Path) -> list[str]:
    """The full names the autosummary lists of ``api_page`` document, in order."""
    names, module, in_list = [], "", False
    for line in api_page.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\.\. (?:py:)?(?:currentmodule|module)::\s*(\S+)", line)
        if m:
            module, in_list = m.group(1), False
        elif line.startswith(".. autosummary::"):
            in_list = True
        elif in_list and re.match(r"   [A-Za-z_]\w*\s*$", line):
            names.append(f"{module}.{line.strip()}")
        elif in_list and line.strip() and not line.startswith("   "):
            in_list = False
    return names


def _is_type(obj: Any) -> bool:
    return inspect.isclass(obj) or type(obj).__module__ == "typing"


def add_xref_aliases(app: Any, config: Any) -> None:
    """Map the names of isoinit's classes and type aliases, short and long, to the documented ones."""
    names = documented_names(Path(app.srcdir) / "api.md")
    aliases: dict[str, str] = {}
    short: dict[str, set[str]] = {}
    for name in names:
        obj = resolve(name)
        if obj is _MISSING or not _is_type(obj):
            continue
        aliases[name] = name
        short.setdefault(name.rsplit(".", 1)[1], set()).add(name)
        if inspect.isclass(obj):
            aliases[f"{obj.__module__}.{obj.__qualname__}"] = name
    for word, targets in short.items():
        if len(targets) == 1:  # Protocol, Dataset...: ambiguous short names stay text
            aliases.setdefault(word, next(iter(targets)))
    config.numpydoc_xref_aliases = {**aliases, **config.numpydoc_xref_aliases}


def _attr_comment(modname: str, name: str) -> list[str] | None:
    from sphinx.pycode import ModuleAnalyzer  # here: tests import this module without Sphinx

    try:
        docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
    except Exception:
        return None
    comment = docs.get(("", name))
    return list(comment) if comment else None


def comment_from_definition(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """For a re-exported constant: the ``#:`` comment of the module that binds it first."""
    if what != "data" or not name.startswith("isoinit."):
        return
    modname, attr = name.rsplit(".", 1)
    if _attr_comment(modname, attr):
        return  # autodoc found it
    for other in sorted(sys.modules):
        module = sys.modules[other]
        if other.startswith("isoinit.") and other != modname and getattr(module, attr, _MISSING) is obj:
            comment = _attr_comment(other, attr)
            if comment:
                lines[:] = [*comment, ""]
                return


class _Documented:
    """Identity of every documented object -> its documented name (built on first use)."""

    def __init__(self) -> None:
        self.by_id: dict[int, list[tuple[str, str]]] = {}
        self.keep: list[Any] = []  # keeps the ids valid

    def build(self, env: Any) -> None:
        for name, entry in env.get_domain("py").objects.items():
            if getattr(entry, "aliased", False):
                continue
            obj = resolve(name)
            if obj is _MISSING:
                continue
            self.keep.append(obj)
            self.by_id.setdefault(id(obj), []).append((name, entry.objtype))

    def find(self, obj: Any, last: str) -> str | None:
        for name, objtype in self.by_id.get(id(obj), []):
            # a number or a string may be shared by unrelated constants: then the names must agree too
            if objtype in ("class", "exception", "function", "method", "property", "module") or name.endswith(
                "." + last
            ):
                return name
        return None


def link_other_paths(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Link a reference Sphinx could not resolve to the documented name of the same object."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    if not target or target.startswith("_"):
        return None
    if not hasattr(env, "_isoinit_documented"):
        env._isoinit_documented = _Documented()
        env._isoinit_documented.build(env)
    documented: _Documented = env._isoinit_documented

    candidates = [target]
    # relative to the module that defines the page's object (generated/<full name>), its class
    page = Path(node.get("refdoc", "")).name
    owner = resolve(page) if page.startswith("isoinit") else _MISSING
    if owner is not _MISSING:
        home = getattr(owner, "__module__", None) or getattr(owner, "__name__", None)
        if inspect.ismodule(owner):
            home = owner.__name__
        if home:
            candidates.append(f"{home}.{target}")
        if inspect.isclass(owner):  # and the modules and classes its inherited docstrings come from
            for klass in owner.__mro__[:-1]:
                candidates += [f"{klass.__module__}.{klass.__qualname__}.{target}", f"{klass.__module__}.{target}"]
    for module in filter(None, [node.get("py:module")]):
        candidates.append(f"{module}.{target}")
    domain = env.get_domain("py")
    for path in candidates:
        obj = resolve(path)
        if obj is _MISSING:
            continue
        name = documented.find(obj, path.rsplit(".", 1)[-1])
        if name:
            ref = domain.resolve_xref(env, node["refdoc"], app.builder, "obj", name, node, contnode)
            if ref is not None:
                return ref
    # a field of a documented dataclass (or an attribute its docstring lists): the class's page
    for path in candidates:
        owner_path, _, attr = path.rpartition(".")
        klass = resolve(owner_path) if owner_path else _MISSING
        if inspect.isclass(klass) and attr in _listed_attributes(klass):
            name = documented.find(klass, owner_path.rsplit(".", 1)[-1])
            if name:
                return domain.resolve_xref(env, node["refdoc"], app.builder, "obj", name, node, contnode)
    # a summary line of api.md's tables, read without its object: the one documented name that ends so
    matches = [name for name, entry in domain.objects.items() if name.endswith("." + target) and not entry.aliased]
    if len(matches) == 1:
        return domain.resolve_xref(env, node["refdoc"], app.builder, "obj", matches[0], node, contnode)
    return None


def _listed_attributes(klass: type) -> set[str]:
    """A dataclass's fields, the attributes a class declares, and the names its docstring documents."""
    names = {f.name for f in dataclasses.fields(klass)} if dataclasses.is_dataclass(klass) else set()
    names.update(getattr(klass, "__annotations__", {}))  # declared instance attributes
    names.update(re.findall(r"^(\w+)(?: : .*)?$", inspect.getdoc(klass) or "", flags=re.M))
    return names


def setup(app: Any) -> dict[str, Any]:
    """Register the three steps with Sphinx."""
    app.connect("config-inited", add_xref_aliases, priority=400)  # before numpydoc reads them
    app.connect("autodoc-process-docstring", comment_from_definition, priority=400)  # before numpydoc
    app.connect("missing-reference", link_other_paths, priority=600)  # after intersphinx
    return {"parallel_read_safe": True, "parallel_write_safe": True}
