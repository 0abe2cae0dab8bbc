"""Sweep files: a TOML document checked against the schema in the package docstring."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import _io
from .. import _validate as check
from ..metrics import METRICS
from ..networks.blocks import BlockNetwork
from ..networks.mlp import MLP
from ._grid import _expand_grid, _mlp
from ._inputs import _kind
from ._run import _check_metrics

#: The keys of ``[sweep]``: the options of :func:`~isoinit.sweeps.sweep` a file may set.
_SWEEP_KEYS = ("runs", "seed", "stages", "metrics", "threads")


def _toml_module() -> Any:
    """The TOML reader: the standard library's from Python 3.11, tomli before."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:
        import tomli
    except ImportError as err:  # pragma: no cover - tomli is a dependency on Python < 3.11
        raise ImportError("reading TOML on Python < 3.11 needs tomli: pip install tomli") from err
    return tomli


def _table(doc: Mapping[str, Any], name: str, path: Path) -> Mapping[str, Any]:
    """The table ``[name]`` of the document (empty if absent)."""
    t = doc.get(name, {})
    if not isinstance(t, Mapping):
        raise TypeError(f"[{name}] in {str(path)!r} must be a table; got {check._got(t)}")
    return t


def _check_sweep_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The ``[sweep]`` options, type-checked (values as the file gives them)."""
    options: dict[str, Any] = {}
    for k, v in table.items():
        if k not in _SWEEP_KEYS:
            raise ValueError(f"[sweep] keys must be among {', '.join(_SWEEP_KEYS)}; got {k!r}")
        name = f"[sweep] {k} in {where}"
        if k == "runs":
            check.integer(name, v, 1, 10**9)
        elif k in ("seed", "threads"):
            check.integer(name, v, 0 if k == "seed" else 1)
        elif k == "stages":
            check.boolean(name, v)  # a real boolean: "no" is not False
        else:
            if not isinstance(v, list):
                raise TypeError(f"{name} must be an array of metric names ({', '.join(METRICS)}); got {check._got(v)}")
            _check_metrics(v, name)
        options[k] = v
    return options


#: Type and lower bound of each ``[inputs]`` value.
_INPUT_TYPES: dict[str, tuple[str, float | None]] = {
    "n": ("int", 2),
    "d": ("int", 1),
    "seed": ("int", 0),
    "degeneracy": ("real", 1.0),
}


def _check_inputs_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The ``[inputs]`` table, type-checked (values as the file gives them)."""
    inputs = dict(table)
    _kind(inputs, "[inputs]", f" in {where}")
    for k, (typ, low) in _INPUT_TYPES.items():
        if k in inputs:
            name = f"[inputs] {k} in {where}"
            if typ == "int":
                check.integer(name, inputs[k], int(low) if low is not None else None)
            else:
                check.real(name, inputs[k], low)
    return inputs


def _tables(doc: Mapping[str, Any], key: str, where: str, *, single_ok: bool) -> list[Mapping[str, Any]]:
    """``[grid]``/``[[grid]]`` or ``[[config]]``: a list of tables, each checked to be one."""
    value = doc.get(key, [])
    if single_ok and isinstance(value, Mapping):
        return [value]
    form = "a table [grid] or an array of tables [[grid]]" if single_ok else f"an array of tables ([[{key}]])"
    if not isinstance(value, list):
        raise TypeError(f"{key} in {where} must be {form}; got {check._got(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise TypeError(f"{key}[{i}] in {where} must be a table of isoinit.MLP fields; got {check._got(item)}")
    return value


def from_toml(path: str | Path) -> tuple[list[MLP | BlockNetwork], dict[str, Any]]:
    """Read a sweep file (schema in the module docstring).

    Every key is checked against the schema before anything runs: a violation is one
    :class:`TypeError` (wrong type: a table where an array is expected, ``"no"`` for a
    boolean, a string for a number, nesting deeper than per-block widths) or
    :class:`ValueError` (unknown key or value) naming the key, its index in an array and
    the file.

    Parameters
    ----------
    path : str or Path
        The TOML file (``examples/sweep.toml`` is one).

    Returns
    -------
    configs : list of MLP
        The grids' configurations in file order, then the ``[[config]]`` entries.
    options : dict
        Keyword arguments for :func:`sweep`: ``inputs`` (the ``[inputs]`` table, default
        the degenerate batch with ``n=10``) and those of ``runs``, ``seed``, ``stages``,
        ``metrics``, ``threads`` that the ``[sweep]`` table gives.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    TypeError, ValueError
        For a file that is not TOML or breaks the schema.

    Examples
    --------
    >>> configs, options = from_toml("examples/sweep.toml")  # doctest: +SKIP
    >>> df = sweep(configs, **options)  # doctest: +SKIP
    """
    p = _io.as_path("path", path)
    where = repr(str(p))
    toml = _toml_module()
    try:
        with p.open("rb") as fh:
            doc = toml.load(fh)
    except toml.TOMLDecodeError as err:
        raise ValueError(f"path {where} is not valid TOML: {err}") from err
    except RecursionError:
        raise ValueError(f"path {where} is not a sweep file: its arrays are nested too deeply") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"path {where} is not valid TOML: not UTF-8 text ({err.reason})") from None
    unknown = [k for k in doc if k not in ("sweep", "inputs", "grid", "config")]
    if unknown:
        raise ValueError(f"top-level keys of {where} must be among sweep, inputs, grid, config; got {unknown[0]!r}")
    options = _check_sweep_table(_table(doc, "sweep", p), where)
    options["inputs"] = _check_inputs_table(_table(doc, "inputs", p), where)
    grids = _tables(doc, "grid", where, single_ok=True)
    explicit = _tables(doc, "config", where, single_ok=False)
    configs: list[MLP | BlockNetwork] = []
    src = f" in {where}"
    for i, g in enumerate(grids):
        configs.extend(_expand_grid(g, f"[[grid]] #{i + 1}" if len(grids) > 1 else "[grid]", src))
    for i, c in enumerate(explicit):
        configs.append(_mlp(c, f"[[config]] #{i + 1}", src))
    if not configs:
        raise ValueError(f"path {where} defines no configuration: give a [grid] table or [[config]] entries")
    return configs, options
