"""The configurations of a sweep: a grid's cartesian product, or an explicit list, checked field by field."""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .. import _validate as check
from .. import presets
from ..networks.blocks import BlockNetwork, ResidualMLP, Transformer
from ..networks.fields import FIELDS, field
from ..networks.mlp import MLP

#: The :class:`~isoinit.MLP` fields a grid or configuration may set.
MLP_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS)

#: The classes a grid's ``architecture`` names (``"mlp"`` when absent).
ARCHITECTURES: dict[str, type] = {"mlp": MLP, "residual-mlp": ResidualMLP, "transformer": Transformer}
#: The keys that choose the network: ``architecture`` (``"mlp"``, ``"residual-mlp"``,
#: ``"transformer"``) or ``preset`` (``"gpt2"``, ``"bert"``, ``"llama"``).
CHOOSERS = ("architecture", "preset")


def _init_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


#: Every key a grid may hold: the choosers, and the fields of every network they choose.
GRID_KEYS: tuple[str, ...] = tuple(
    dict.fromkeys(
        [*CHOOSERS, *MLP_FIELDS, *_init_fields(ResidualMLP), *_init_fields(Transformer), "intermediate", "rope_base"]
    )
)


def _is_values(v: object) -> bool:
    """A grid value that lists alternatives (rather than fixing one value)."""
    return isinstance(v, (list, tuple, range, np.ndarray))


def _check_value(key: str, value: object, where: str, src: str, index: int | None = None) -> None:
    """One value of an MLP field has that field's type, or TypeError naming key, index and file.

    A block network's own fields are checked by the network when it is built."""
    if key not in MLP_FIELDS:
        return
    spec = field(key)
    allowed = spec.describe()
    if not spec.accepts(value):
        at = "" if index is None else f"[{index}]"
        raise TypeError(f"{where}[{key!r}]{at}{src} must be {allowed}; got {check._got(value)}")


def _mlp(kwargs: Mapping[str, Any], where: str, src: str = "") -> MLP | BlockNetwork:
    """The network of one table of keyword arguments; ``src`` is `` in 'FILE'`` for a file.

    ``architecture`` (``"mlp"`` by default, ``"residual-mlp"``, ``"transformer"``) or
    ``preset`` (:mod:`isoinit.presets`) chooses the network; the other keys are its fields."""
    if not isinstance(kwargs, Mapping):
        raise TypeError(f"{where}{src} must be a table of isoinit.MLP fields; got {check._got(kwargs)}")
    if "preset" in kwargs or kwargs.get("architecture", "mlp") != "mlp":
        return _block_network(kwargs, where, src)
    bad = [k for k in kwargs if k not in MLP_FIELDS and k != "architecture"]
    if bad:
        raise ValueError(
            f"{where} keys{src} must be isoinit.MLP fields ({', '.join(MLP_FIELDS)}), or set architecture or "
            f"preset for a block network; got {bad[0]!r}"
        )
    kwargs = {k: v for k, v in kwargs.items() if k != "architecture"}
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


def _block_network(kwargs: Mapping[str, Any], where: str, src: str) -> BlockNetwork:
    """The block network of ``architecture`` or ``preset`` and its fields."""
    rest = {k: v for k, v in kwargs.items() if k not in CHOOSERS}
    if "preset" in kwargs:
        name = kwargs["preset"]
        check.choice(f"{where}['preset']{src}", name, tuple(presets.PRESETS))
        build: Any = presets.PRESETS[name]
        allowed = tuple(inspect.signature(build).parameters)
    else:
        arch = kwargs["architecture"]
        check.choice(f"{where}['architecture']{src}", arch, tuple(ARCHITECTURES))
        build = ARCHITECTURES[arch]
        allowed = _init_fields(build)
    bad = [k for k in rest if k not in allowed]
    if bad:
        raise ValueError(f"{where} keys{src} must be fields of this network ({', '.join(allowed)}); got {bad[0]!r}")
    if isinstance(rest.get("width"), (list, tuple, range, np.ndarray)):
        raise TypeError(f"{where}['width']{src} must be an integer for a block network; got {rest['width']!r}")
    try:
        net: BlockNetwork = build(**rest)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{where}{src}: {err}") from None
    return net


def _expand_grid(grid: Mapping[str, Any], where: str, src: str = "") -> list[MLP | BlockNetwork]:
    """The cartesian product of one grid, last key fastest; errors name ``where`` and ``src``."""
    if not isinstance(grid, Mapping):
        raise TypeError(f"{where}{src} must be a table of isoinit.MLP fields to values; got {check._got(grid)}")
    keys = list(grid)
    for k in keys:
        if not isinstance(k, str) or k not in GRID_KEYS:
            raise ValueError(
                f"{where} keys{src} must be isoinit.MLP fields ({', '.join(MLP_FIELDS)}), architecture, preset "
                f"or a block network's fields; got {k!r}"
            )
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
        cartesian product in key order, the last key varying fastest. ``architecture``
        (``"residual-mlp"``, ``"transformer"``) or ``preset`` (``"gpt2"``, ``"bert"``,
        ``"llama"``) makes the configurations block networks, and the other keys that
        network's fields (``heads``, ``causal``, ``qk_gain``, ...). A per-block width
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
