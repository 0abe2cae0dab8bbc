"""The registry of figures: one :class:`Figure` record per figure, filled by the figure
modules with :func:`register` (any figure) or :func:`register_layers` (a figure of metrics
against the layer, given as a :class:`~isoinit.figures._measure.Spec`).

Everything that lists figures (``NAMES``, ``DESCRIPTIONS``, :func:`isoinit.figures.compute`,
``isoinit figure --help``, the gallery's table) reads this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from ._draw import draw_trajectories
from ._measure import Context, Measurement, Spec, Trajectories, measure_spec

__all__ = ["Figure", "figures", "get", "names", "register", "register_layers"]

M = TypeVar("M", bound=Measurement)


@dataclass(frozen=True)
class Figure(Generic[M]):
    """One figure of the paper.

    Attributes
    ----------
    name : str
        The figure's name (``isoinit figure NAME``, the file names ``NAME.png``, ``NAME.csv``).
    description : str
        One line: what it shows (titles, ``--help``, the gallery's table).
    position : int
        Its place in the paper's list of figures; figures are listed in this order.
    measure : callable
        ``measure(ctx) -> Measurement``: simulate and compute; the tidy data and notes.
    draw : callable
        ``draw(ctx, measurement, png)``: draw what ``measure`` returned into ``png``.
    published : str
        What the published figure shows: the reference a
        reproduction is judged against.
    in_all : bool
        Whether ``make_all`` and ``isoinit figure all`` make it (the paper's figures, each
        within the 60 s budget of ``all``); ``False`` for longer experiments (the training
        figures), made by name.
    """

    name: str
    description: str
    position: int
    measure: Callable[[Context], M]
    draw: Callable[[Context, M, Path], None]
    published: str
    in_all: bool = True


_FIGURES: dict[str, Figure[Any]] = {}


def _add(figure: Figure[Any]) -> None:
    if figure.name in _FIGURES:
        raise ValueError(f"figure name must be new; got {figure.name!r}, already registered")
    taken = {f.position: f.name for f in _FIGURES.values()}
    if figure.position in taken:
        raise ValueError(f"figure position must be new; got {figure.position}, taken by {taken[figure.position]!r}")
    _FIGURES[figure.name] = figure


def register(
    name: str,
    description: str,
    *,
    position: int,
    published: str,
    draw: Callable[[Context, M, Path], None],
    in_all: bool = True,
) -> Callable[[Callable[[Context], M]], Callable[[Context], M]]:
    """Register the decorated function as the measuring step of figure ``name``; ``draw``
    draws its result; ``in_all=False`` keeps it out of ``make_all``/``isoinit figure all``."""

    def decorate(measure: Callable[[Context], M]) -> Callable[[Context], M]:
        _add(Figure(name, description, position, measure, draw, published, in_all))
        return measure

    return decorate


def register_layers(
    name: str, description: str, *, position: int, published: str
) -> Callable[[Callable[[Context], Spec]], Callable[[Context], Spec]]:
    """Register the decorated ``spec(ctx) -> Spec`` as figure ``name``: metrics against the
    layer, measured by :func:`~isoinit.figures._measure.measure_spec` and drawn by
    :func:`~isoinit.figures._draw.draw_trajectories`."""

    def decorate(spec: Callable[[Context], Spec]) -> Callable[[Context], Spec]:
        def measure(ctx: Context) -> Trajectories:
            return measure_spec(ctx, spec(ctx))

        _add(Figure(name, description, position, measure, draw_trajectories, published))
        return spec

    return decorate


def figures() -> tuple[Figure[Any], ...]:
    """Every registered figure, in the order of the paper's figures."""
    return tuple(sorted(_FIGURES.values(), key=lambda f: f.position))


def names(*, in_all: bool | None = None) -> tuple[str, ...]:
    """The names of :func:`figures`, in order (only those with ``Figure.in_all == in_all`` if given)."""
    return tuple(f.name for f in figures() if in_all is None or f.in_all == in_all)


def get(name: str) -> Figure[Any]:
    """The registered figure ``name`` (a :class:`KeyError` if there is none)."""
    return _FIGURES[name]
