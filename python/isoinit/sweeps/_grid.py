"""The configurations of a sweep: a grid's cartesian product, or an explicit list, checked field by field."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .. import _validate as check
from ..networks.blocks import BlockNetwork
from ..networks.fields import FIELDS, field
from ..networks.mlp import MLP

#: The :class:`~isoinit.MLP` fields a grid or configuration may set.
MLP_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS)


def _is_values(v: object) -> bool:
    """A grid value that lists alternatives (rather than fixing one value)."""
    return isinstance(v, (list, tuple, range, np.ndarray))


def _check_value(key: str, value: object, where: str, src: str, index: int | None = None) -> None:
    """One value of an MLP field has that field's type, or TypeError naming key, index and file."""
    spec = field(key)
    allowed = spec.describe()
    if not spec.accepts(value):
        at = "" if index is None else f"[{index}]"
        raise TypeError(f"{where}[{key!r}]{at}{src} must be {allowed}; got {check._got(value)}")


def _mlp(kwargs: Mapping[str, Any], where: str, src: str = "") -> MLP:
    """The MLP of one table of keyword arguments; ``src`` is `` in 'FILE'`` for a file."""
    if not isinstance(kwargs, Mapping):
        raise TypeError(f"{where}{src} must be a table of isoinit.MLP fields; got {check._got(kwargs)}")
    bad = [k for k in kwargs if k not in MLP_FIELDS]
    if bad:
        raise ValueError(f"{where} keys{src} must be isoinit.MLP fields ({', '.join(MLP_FIELDS)}); got {bad[0]!r}")
    if "depth" not in kwargs or "width" not in kwargs:
        raise ValueError(f"{where}{src} must set depth and width; got keys {sorted(kwargs)}")
    for k, v in kwargs.items():
        _check_value(k, v, where, src)
    w = kwargs["width"]
    if isinstance(w, np.ndarray):
        kwargs = {**kwargs, "width": tuple(int(v) for v in w)}
    elif isinstance(w, (list, range)):
        kwargs = {**kwargs, "width": tuple(w)}
    try:
        return MLP(**kwargs)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{where}{src}: {err}") from None


def _expand_grid(grid: Mapping[str, Any], where: str, src: str = "") -> list[MLP]:
    """The cartesian product of one grid, last key fastest; errors name ``where`` and ``src``."""
    if not isinstance(grid, Mapping):
        raise TypeError(f"{where}{src} must be a table of isoinit.MLP fields to values; got {check._got(grid)}")
    keys = list(grid)
    for k in keys:
        if not isinstance(k, str) or k not in MLP_FIELDS:
            raise ValueError(f"{where} keys{src} must be isoinit.MLP fields ({', '.join(MLP_FIELDS)}); got {k!r}")
    axes: list[list[Any]] = []
    for k in keys:
        v = grid[k]
        if _is_values(v):
            values = list(v)
            if not values:
                raise ValueError(f"{where}[{k!r}]{src} must list at least one value; got {v!r}")
            for i, item in enumerate(values):
                _check_value(k, item, where, src, i)
        else:
            _check_value(k, v, where, src)
            values = [v]
        axes.append(values)
    return [_mlp(dict(zip(keys, combo, strict=True)), where, src) for combo in itertools.product(*axes)]


def expand(
    grid_or_list: Mapping[str, Any] | Iterable[Mapping[str, Any] | MLP | BlockNetwork] | MLP | BlockNetwork,
) -> list[MLP | BlockNetwork]:
    """The configurations of a sweep, in order.

    Parameters
    ----------
    grid_or_list : dict, iterable of dict or MLP, or MLP
        A *grid*: a dict from :class:`~isoinit.MLP` field names to a list (or tuple, range,
        array) of values, or to a scalar that fixes the field; the configurations are the
        cartesian product in key order, the last key varying fastest. A per-block width
        is a sequence inside the list: ``width=[(100, 200, 300)]``. ``depth`` and
        ``width`` must be given. Or an explicit list of ``MLP`` keyword-argument dicts
        and/or ``MLP`` objects and block networks (:class:`~isoinit.ResidualMLP`,
        :class:`~isoinit.Transformer`, :class:`~isoinit.Network`); or one of them.

    Returns
    -------
    list of MLP or block networks

    Raises
    ------
    ValueError
        For a key that is not an ``MLP`` field, an empty list of values, a missing depth
        or width, or any value ``MLP`` rejects.
    """
    if isinstance(grid_or_list, (MLP, BlockNetwork)):
        return [grid_or_list]
    if isinstance(grid_or_list, Mapping):
        return list(_expand_grid(grid_or_list, "grid"))
    if isinstance(grid_or_list, (str, bytes)) or not isinstance(grid_or_list, Iterable):
        raise TypeError(
            "grid_or_list must be a dict of MLP fields to values, a list of MLP keyword "
            f"dicts or MLP objects, or an MLP; got {type(grid_or_list).__name__}"
        )
    out: list[MLP | BlockNetwork] = []
    for i, item in enumerate(grid_or_list):
        if isinstance(item, (MLP, BlockNetwork)):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(_mlp(item, f"grid_or_list[{i}]"))
        else:
            raise TypeError(
                f"grid_or_list[{i}] must be an MLP keyword dict, an MLP or a block network; got {type(item).__name__}"
            )
    if not out:
        raise ValueError("grid_or_list must hold at least one configuration; got an empty list")
    return out
