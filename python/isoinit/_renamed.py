"""Old names kept working: the keywords and pickled fields that a release renamed.

A renamed keyword stays accepted under its old name, without a warning; giving both names
is a :class:`TypeError`. CHANGELOG.md lists every renamed name under "Renamed".

- :func:`keywords` on a function: ``simulate(mlp=...)`` calls ``simulate(network=...)``;
- :func:`fields` on a dataclass (over ``@dataclass``): the constructor takes the old field
  names too, and a pickle of an earlier version (which holds the old names) unpickles.
  Equality, ``repr``, pickling and files use the new names; the class reads an old name
  through a read-only property of its own, so that type checkers and the docs see it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

__all__ = ["fields", "keywords"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_C = TypeVar("_C", bound=type)


def _mapped(where: str, renamed: Mapping[str, str], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with every old name replaced by its new one (TypeError when both are given)."""
    for old, new in renamed.items():
        if old in kwargs:
            if new in kwargs:
                raise TypeError(f"{where} got both {new!r} and {old!r}, its old name; pass {new!r} only")
            kwargs[new] = kwargs.pop(old)
    return kwargs


def keywords(**renamed: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Accept the old keyword names of a function's renamed parameters (``old="new"``)."""

    def wrap(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        where = f"{fn.__name__}()"

        @functools.wraps(fn)
        def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            return fn(*args, **_mapped(where, renamed, kwargs))

        return call

    return wrap


def fields(**renamed: str) -> Callable[[_C], _C]:
    """Accept the old names of a dataclass's renamed fields (``old="new"``) in its
    constructor and in pickles of an earlier version."""

    def wrap(cls: _C) -> _C:
        init: Callable[..., None] = vars(cls)["__init__"]  # the one @dataclass wrote
        where = f"{cls.__name__}()"

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **_mapped(where, renamed, kwargs))

        def __setstate__(self: Any, state: dict[str, Any]) -> None:
            self.__dict__.update({renamed.get(k, k): v for k, v in state.items()})

        setattr(cls, "__init__", __init__)  # noqa: B010  (mypy refuses assigning a method)
        setattr(cls, "__setstate__", __setstate__)  # noqa: B010
        return cls

    return wrap
