"""Intersphinx without network: the other projects' objects the documentation links to.

Intersphinx normally downloads each project's ``objects.inv``; the machines that build these
docs reach no documentation site. This extension writes a small inventory per project, in
the same format, listing the objects isoinit's pages and docstrings name, with the addresses
of their online documentation, and points ``intersphinx_mapping`` at those files: the
links work for a reader online while the build needs no network. An object named in the
docs but missing here fails the nitpicky build (add it to ``OBJECTS`` with its address).
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

#: project -> (documentation root, {(domain:type, name): address relative to the root}). The
#: types are Sphinx's object types (``py:function``, not the role ``py:func``); an address
#: ending in ``#`` gets the object's name appended (Sphinx's own anchors are the names).
OBJECTS: dict[str, tuple[str, dict[tuple[str, str], str]]] = {
    "python": (
        "https://docs.python.org/3/",
        {
            **{("py:class", t): f"library/functions.html#{t}" for t in ("int", "float", "bool", "object", "type")},
            **{
                ("py:class", t): f"library/stdtypes.html#{t}"
                for t in ("str", "list", "tuple", "dict", "set", "frozenset", "bytes")
            },
            ("py:data", "None"): "library/constants.html#",
            ("py:data", "True"): "library/constants.html#",
            ("py:data", "False"): "library/constants.html#",
            ("py:function", "callable"): "library/functions.html#",
            **{
                ("py:exception", e): "library/exceptions.html#"
                for e in (
                    "ValueError",
                    "TypeError",
                    "KeyError",
                    "FileExistsError",
                    "FileNotFoundError",
                    "ImportError",
                    "OSError",
                    "KeyboardInterrupt",
                    "RuntimeError",
                    "Warning",
                    "UserWarning",
                    "RuntimeWarning",
                )
            },
            ("py:class", "pathlib.Path"): "library/pathlib.html#",
            ("py:class", "os.PathLike"): "library/os.html#",
            ("py:function", "os.replace"): "library/os.html#",
            **{
                ("py:class", f"collections.abc.{t}"): "library/collections.abc.html#"
                for t in ("Callable", "Sequence", "Iterable", "Iterator", "Mapping")
            },
            ("py:data", "typing.Any"): "library/typing.html#",
            ("py:data", "typing.Literal"): "library/typing.html#",
            ("py:class", "argparse.ArgumentParser"): "library/argparse.html#",
            ("py:class", "argparse.Namespace"): "library/argparse.html#",
            ("py:function", "dataclasses.replace"): "library/dataclasses.html#",
            ("py:function", "warnings.warn"): "library/warnings.html#",
            ("py:class", "warnings.catch_warnings"): "library/warnings.html#",
            ("py:function", "pickle.dumps"): "library/pickle.html#",
            ("py:class", "concurrent.futures.ProcessPoolExecutor"): "library/concurrent.futures.html#",
        },
    ),
    "numpy": (
        "https://numpy.org/doc/stable/",
        {
            ("py:class", "numpy.ndarray"): "reference/generated/numpy.ndarray.html#",
            ("py:class", "numpy.dtype"): "reference/generated/numpy.dtype.html#",
            ("py:class", "numpy.typing.ArrayLike"): "reference/typing.html#",
            ("py:class", "numpy.typing.NDArray"): "reference/typing.html#",
            ("py:class", "numpy.random.Generator"): "reference/random/generator.html#",
            **{
                ("py:class", f"numpy.{t}"): "reference/arrays.scalars.html#"
                for t in ("float64", "float32", "int64", "bool")
            },
            ("py:data", "numpy.inf"): "reference/constants.html#",
            ("py:data", "numpy.nan"): "reference/constants.html#",
            ("py:function", "numpy.array_equal"): "reference/generated/numpy.array_equal.html#",
            ("std:term", "array_like"): "glossary.html#term-array_like",
        },
    ),
    "pandas": (
        "https://pandas.pydata.org/docs/",
        {
            ("py:class", "pandas.DataFrame"): "reference/api/pandas.DataFrame.html#",
            ("py:class", "pandas.Series"): "reference/api/pandas.Series.html#",
            ("py:function", "pandas.read_csv"): "reference/api/pandas.read_csv.html#",
        },
    ),
    "torch": (
        "https://docs.pytorch.org/docs/stable/",
        {
            ("py:class", "torch.Tensor"): "tensors.html#",
            ("py:class", "torch.Generator"): "generated/torch.Generator.html#",
            **{
                ("py:class", f"torch.nn.{t}"): f"generated/torch.nn.{t}.html#"
                for t in (
                    "Module",
                    "Sequential",
                    "Linear",
                    "LayerNorm",
                    "MultiheadAttention",
                    "TransformerEncoderLayer",
                )
            },
            ("py:class", "torch.utils.data.DataLoader"): "data.html#",
        },
    ),
    "matplotlib": (
        "https://matplotlib.org/stable/",
        {
            ("py:class", "matplotlib.axes.Axes"): "api/_as_gen/matplotlib.axes.Axes.html#",
            ("py:class", "matplotlib.figure.Figure"): "api/_as_gen/matplotlib.figure.Figure.html#",
            ("py:class", "matplotlib.lines.Line2D"): "api/_as_gen/matplotlib.lines.Line2D.html#",
        },
    ),
    "xarray": (
        "https://docs.xarray.dev/en/stable/",
        {("py:class", "xarray.Dataset"): "generated/xarray.Dataset.html#"},
    ),
    "distributed": (
        "https://distributed.dask.org/en/stable/",
        {("py:class", "distributed.Client"): "api.html#"},
    ),
    "sklearn": (
        "https://scikit-learn.org/stable/",
        {("py:function", "sklearn.datasets.load_digits"): "modules/generated/sklearn.datasets.load_digits.html#"},
    ),
}


def inventory(project: str, objects: dict[tuple[str, str], str]) -> bytes:
    """The ``objects.inv`` of ``objects``: Sphinx's version-2 format (a header, then zlib)."""
    lines = []
    for (objtype, name), address in sorted(objects.items()):
        uri = address + "$" if address.endswith("#") else address  # "$": the name itself
        lines.append(f"{name} {objtype} 1 {uri} -\n")
    header = f"# Sphinx inventory version 2\n# Project: {project}\n# Version: \n"
    header += "# The remainder of this file is compressed using zlib.\n"
    return header.encode() + zlib.compress("".join(lines).encode())


def write_inventories(app: Any, config: Any) -> None:
    """Write every inventory under the build's doctree folder and map each project to it.

    numpydoc links the types of docstring sections it has aliases for: every Python object
    listed here is one, under its full name (``pandas.DataFrame``).
    """
    where = Path(app.doctreedir) / "inventories"
    where.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for project, (root, objects) in OBJECTS.items():
        path = where / f"{project}.inv"
        data = inventory(project, objects)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        mapping[project] = (root, str(path))
        for objtype, name in objects:
            if objtype.startswith("py:") and hasattr(config, "numpydoc_xref_aliases"):
                config.numpydoc_xref_aliases.setdefault(name, name)
    config.intersphinx_mapping = mapping


def setup(app: Any) -> dict[str, Any]:
    """Write the inventories before intersphinx checks its mapping (config-inited, priority 800)."""
    app.connect("config-inited", write_inventories, priority=450)  # and before numpydoc reads its aliases
    return {"parallel_read_safe": True, "parallel_write_safe": True}
