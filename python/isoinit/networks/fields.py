"""The configuration fields of an :class:`~isoinit.MLP`, read from the class itself.

The dataclass :class:`~isoinit.MLP` declares each field once (name, type, default); this
module derives what the rest of the package needs from it: the kind of value each field
takes and its choices (sweeps check grid values with them, the command line builds its
options from them), and the configuration columns of every table (:data:`TABLE_COLUMNS`).
"""

from __future__ import annotations

import dataclasses
import numbers
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

import numpy as np

from ..activations import Activation
from .mlp import MLP

__all__ = ["BLOCK_COLUMNS", "FIELDS", "TABLE_COLUMNS", "Field", "field"]

Kind = Literal["int", "widths", "activation", "choice", "real"]


@dataclass(frozen=True)
class Field:
    """One configuration field of :class:`~isoinit.MLP`.

    Attributes
    ----------
    name : str
        The field (and keyword argument) name.
    kind : {"int", "widths", "activation", "choice", "real"}
        An integer, an integer or one per block, an activation spec, one of ``choices``, a
        real number.
    choices : tuple of str
        The allowed values of a ``"choice"`` field.
    optional : bool
        ``None`` is allowed (``center``, ``scale``: the preset's step).
    default : object
        The default value (``None`` for a required field).
    required : bool
        The MLP has no default (``depth``, ``width``).
    """

    name: str
    kind: Kind
    choices: tuple[str, ...] = ()
    optional: bool = False
    default: Any = None
    required: bool = False

    def accepts(self, value: object) -> bool:
        """Whether ``value`` has this field's type (its range is the MLP's to check).

        Parameters
        ----------
        value : object
            A candidate value of the field.

        Returns
        -------
        bool
        """
        if value is None:
            return self.optional
        if self.kind == "int":
            return _is_int(value)
        if self.kind == "widths":
            if _is_int(value):
                return True
            if isinstance(value, str) or not isinstance(value, Sequence | range | np.ndarray):
                return False
            return len(value) > 0 and all(_is_int(v) for v in value)
        if self.kind == "activation":
            return isinstance(value, str | Activation)
        if self.kind == "real":
            return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
        return isinstance(value, str)

    def describe(self) -> str:
        """What the field takes, for messages ("an integer", "a string", ...)."""
        return {
            "int": "an integer",
            "widths": "an integer or an array of integers (per-block widths)",
            "activation": "an activation spec string",
            "choice": "a string",
            "real": "a number",
        }[self.kind]


def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_)


def _field(f: dataclasses.Field[Any], hint: Any) -> Field:
    required = f.default is dataclasses.MISSING
    default = None if required else f.default
    args = get_args(hint)
    optional = get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args
    if optional:
        (hint,) = (a for a in args if a is not type(None))
    if get_origin(hint) is Literal:
        return Field(f.name, "choice", tuple(get_args(hint)), optional, default, required)
    kind: Kind
    if f.name == "activation":
        kind = "activation"
    elif hint is int:
        kind = "int"
    elif hint is float:
        kind = "real"
    elif get_origin(hint) in (typing.Union, types.UnionType) and int in get_args(hint):
        kind = "widths"
    else:
        raise TypeError(f"MLP field {f.name!r} has a type this module does not know: {hint!r}")
    return Field(f.name, kind, (), optional, default, required)
    raise TypeError(f"MLP field {f.name!r} has a type this module does not know: {hint!r}")


_HINTS = typing.get_type_hints(MLP)
#: The MLP's configuration fields, in the order the class declares them.
FIELDS: tuple[Field, ...] = tuple(_field(f, _HINTS[f.name]) for f in dataclasses.fields(MLP) if f.init)

#: The configuration columns of every table (``to_frame``, sweeps, the command line's CSV):
#: the MLP's fields, activation and normalization first, ``order`` (an MLP's, ``None`` for a
#: block network) followed by ``norm_position`` (a block network's, ``None`` for an MLP),
#: then :data:`BLOCK_COLUMNS`, then ``architecture`` (which network: ``"mlp"`` or a block
#: network's name).
#: A block network's configuration columns beyond the MLP's (``None`` for an MLP): its
#: initialization, its blocks' attention and feedforward fields (the first block that has
#: each), its input and embedding, the preset that built it, and for a :class:`Network` the
#: blocks themselves (``blocks``, a compact description).
BLOCK_COLUMNS: tuple[str, ...] = (
    "init",
    "heads",
    "causal",
    "ratio",
    "alpha",
    "skip",
    "final_norm",
    "qk_gain",
    "out_proj",
    "centred",
    "score",
    "rope_base",
    "gated",
    "positions",
    "position_std",
    "token_type",
    "biases",
    "preset",
    "blocks",
)

TABLE_COLUMNS: tuple[str, ...] = (
    "activation",
    "norm",
    "center",
    "scale",
    "order",
    "norm_position",
    *(f.name for f in FIELDS if f.name not in ("activation", "norm", "center", "scale", "order")),
    *BLOCK_COLUMNS,
    "architecture",
)


def field(name: str) -> Field:
    """The :class:`Field` named ``name``.

    Parameters
    ----------
    name : str
        A field of :class:`~isoinit.MLP` (:data:`FIELDS`).

    Returns
    -------
    Field

    Raises
    ------
    KeyError
        For a name that is not a field.
    """
    for f in FIELDS:
        if f.name == name:
            return f
    raise KeyError(name)
