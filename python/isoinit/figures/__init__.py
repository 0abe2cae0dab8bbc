"""The paper's figures, one call (or one command) each.

Every figure of Joudaki, Daneshmand and Bach (NeurIPS 2023) at initialization (the
gallery of the documentation shows them all) is rebuilt here from :func:`isoinit.simulate` (the measurement),
:mod:`isoinit.meanfield` (the infinite-width trajectory, dashed) and :mod:`isoinit.bounds`
(the potential bound, dotted). :func:`make` writes ``DIR/NAME.png`` and the tidy data
behind it, ``DIR/NAME.csv``; :func:`make_all` does all :data:`NAMES`; the command line is
``isoinit figure NAME|all --out DIR``.

Two measurement protocols:

``"faithful"`` (default)
    The Gram of the block output: after the normalization for ``act-norm`` blocks (after
    the activation for ``norm-act`` blocks, whose output it is).
``"authors"``
    What the authors' plotting code drew: for every layer ``l >= 1`` the mean of the gap
    right after the activation (uncentered, before normalization) and the gap after the
    normalization. It reproduces the published pictures, which sit well above the block
    output's gap. Potential figures always use the block output (the bound is about it).

Batch centering makes the rows of the representation sum to zero, so the batch Gram is
exactly singular (gap ``+inf``) after any batch-centered block. The ``layernorm-vs-
batchnorm`` figure therefore measures every network by the isometry gap on the
complement of the all-ones vector (``Q^T G Q`` with ``Q`` an orthonormal basis of
``1^perp``, which drops the zero eigenvalue), and shows batch scaling without centering
(``center="none", scale="batch"``) with the ordinary gap beside it.

Layout: ``_registry`` (one :class:`Figure` record per figure), ``_measure`` (the
measuring layer), ``_draw`` (the drawing layer), one module per group of figures
(``layers``: metrics against the layer; ``theory``: kernels and ``beta_0``;
``training``: networks trained with SGD, not part of :func:`make_all`; ``blocks``:
transformers, attention stacks and residual MLPs, after the paper's figures;
``finite_width``: the finite-width plateau against the width), and
:mod:`isoinit.figures.gallery` (the table of ``docs/figures.md``). ``docs/developing.md`` says how to add
a figure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import pandas as pd

from .. import _io
from .. import _validate as check
from . import _headlines, _registry, attention, blocks, finite_width, layers, theory, training  # noqa: F401  (importing a figure module registers its figures)
from ._measure import CSV_COLUMNS, Context, Protocol, complement_gap
from ._registry import Figure

__all__ = [
    "DESCRIPTIONS",
    "EXTRA_NAMES",
    "NAMES",
    "Figure",
    "FigureResult",
    "Protocol",
    "available",
    "complement_gap",
    "compute",
    "make",
    "make_all",
]


def __dir__() -> list[str]:
    return sorted(__all__)


#: The paper's figures, in its order: those of :func:`make_all` and
#: ``isoinit figure all`` (a view of the registry).
NAMES: tuple[str, ...] = _registry.names(in_all=True)

#: Figures beyond the paper's initialization figures, made by name only (longer experiments:
#: the training figures of ``isoinit.figures.training``, which need PyTorch).
EXTRA_NAMES: tuple[str, ...] = _registry.names(in_all=False)

#: One line per figure of :data:`NAMES` and :data:`EXTRA_NAMES`: what it shows (used in
#: titles, ``--help`` and the gallery).
DESCRIPTIONS: dict[str, str] = {f.name: f.description for f in _registry.figures()}


def available() -> tuple[Figure[Any], ...]:
    """Every registered figure, in order (:data:`NAMES`, then :data:`EXTRA_NAMES`).

    Each with its name, description, measuring and drawing steps, and what the published
    figure shows.
    """
    return _registry.figures()


@dataclass(frozen=True)
class FigureResult:
    """What :func:`make` wrote.

    Attributes
    ----------
    name : str
        One of :data:`NAMES`.
    png, csv : Path
        The image and its data.
    data : pandas.DataFrame
        The tidy data (the CSV): one row per (panel, curve, source, run, x), with columns
        ``figure, panel, curve, source`` (``simulation``, ``mean-field``, ``bound``,
        ``theory``, ``rem`` (the REM recursion of the attention figures), or ``training`` for
        the training figures), ``quantity`` (``gap``, ``potential``, ``gap_complement``,
        ``kbar``, ``correlation``, ``beta0``; ``loss``, ``accuracy``, ``gap_act`` for the
        training figures; ``effective_rank``; ``mean_cosine``, ``mc_stderr`` (the mean field's
        Monte Carlo error of it), ``participation`` and ``freezing`` (``beta_eff / sqrt(2)``) for
        the attention figures), ``stage``
        (which Gram was measured), ``protocol``, the configuration (``activation, center,
        scale, order, norm_position, gain, width, degeneracy``: ``order`` an MLP's,
        ``norm_position`` a block network's, the other empty), ``run`` (-1 for theory), ``x_name``
        (``layer``, ``rho``, ``alpha``, or ``norm``: the k-th layer norm of
        ``transformer-ln``), ``x``, ``value`` and ``diverged_at`` (layer at which that run
        overflowed, -1 if never).
    seconds : float
        Wall time of the figure.
    notes : tuple of str
        Numerical events worth knowing (overflow, singular Grams, mean-field failures).
    """

    name: str
    png: Path
    csv: Path
    data: pd.DataFrame = field(repr=False)
    seconds: float
    notes: tuple[str, ...] = ()


def compute(
    name: str,
    png: str | Path,
    *,
    runs: int | None = None,
    seed: int = 0,
    protocol: Protocol = "faithful",
    size: float = 1.0,
) -> tuple[pd.DataFrame, list[str]]:
    """Draw figure ``name`` into ``png`` and return its tidy data and notes (no CSV).

    Raises :class:`TypeError` for an argument of the wrong type and :class:`ValueError`
    for a bad value.

    Parameters
    ----------
    name : str
        One of :data:`NAMES` or :data:`EXTRA_NAMES`.
    png : str or Path
        The image to write.
    runs, seed, protocol, size
        As for :func:`make`.

    Returns
    -------
    data : pandas.DataFrame
        The tidy data behind the figure (what :func:`make` writes as CSV).
    notes : list of str
        What went wrong on the way (overflow, a mean field that broke down).
    """
    figure = _registry.get(check.choice("name", name, _registry.names()))
    protocol = check.choice("protocol", protocol, get_args(Protocol))  # type: ignore[assignment]
    ctx = Context(
        figure.name,
        figure.description,
        None if runs is None else check.integer("runs", runs, 1),
        check.integer("seed", seed, 0),
        protocol,
        check.real("size", size, 0.0, 10.0, low_open=True),
    )
    measurement = figure.measure(ctx)
    figure.draw(ctx, measurement, Path(png))
    return measurement.frame[CSV_COLUMNS], measurement.notes


def make(
    name: str,
    out_dir: str | Path,
    *,
    runs: int | None = None,
    seed: int = 0,
    protocol: Protocol = "faithful",
    size: float = 1.0,
    overwrite: bool = True,
) -> FigureResult:
    """Reproduce one figure of the paper: write ``out_dir/NAME.png`` and ``out_dir/NAME.csv``.

    Parameters
    ----------
    name : str
        One of :data:`NAMES` (the paper's figures) or :data:`EXTRA_NAMES`.
    out_dir : str or Path
        Created if missing.
    runs : int, optional
        Independent networks per configuration (default: the paper's, 10 or 30).
    seed : int
        Seed of the networks and of the degenerate input batch.
    protocol : {"faithful", "authors"}
        ``"faithful"``: gap of the block output (after normalization). ``"authors"``: for
        ``l >= 1`` the mean of the after-activation and after-normalization gaps, as the
        authors' plotting code did (the published pictures).
    size : float
        Multiplies every width ``d`` (for quick runs and tests; depth and batch unchanged;
        at least 20); in ``(0, 10]``.
    overwrite : bool
        Replace ``NAME.png`` and ``NAME.csv`` if they exist (default ``True``: a figure
        directory is regenerated routinely, from a seed, as the gallery workflow does;
        unlike :func:`isoinit.sweeps.save`, whose tables can cost hours). ``False``
        raises :class:`FileExistsError` before computing anything, as the command line
        does without ``--force``. Both files are written atomically (a temporary file
        renamed over the target), so an interrupted run never leaves a truncated file.

    Returns
    -------
    FigureResult

    Raises
    ------
    FileExistsError
        If a file exists and ``overwrite`` is false.
    NotADirectoryError, PermissionError
        If ``out_dir`` is a file or cannot be written.

    Examples
    --------
    >>> from isoinit import figures
    >>> r = figures.make("order", "out")                     # doctest: +SKIP
    >>> r.data.query("source == 'simulation'").groupby(["curve", "x"]).value.mean()  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    overwrite = check.boolean("overwrite", overwrite)
    png, csv = _targets(name, out_dir, overwrite)

    def draw(tmp: Path) -> tuple[pd.DataFrame, list[str]]:
        return compute(name, tmp, runs=runs, seed=seed, protocol=protocol, size=size)

    frame, notes = _io.write_atomic(png, draw, overwrite=overwrite)
    _io.write_atomic(csv, lambda tmp: frame.to_csv(tmp, index=False), overwrite=overwrite)
    quoted = _headlines.headlines(name, frame)
    if quoted:  # the numbers the gallery quotes, beside the figure (NAME.json)
        text = json.dumps({"figure": name, "seed": seed, "runs": runs, "size": size, "headlines": quoted}, indent=1)
        _io.write_atomic(csv.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text + "\n"), overwrite=overwrite)
    return FigureResult(name, png, csv, frame, time.perf_counter() - t0, tuple(notes))


def _targets(name: str, out_dir: str | Path, overwrite: bool, flag: str = "overwrite=True") -> tuple[Path, Path]:
    """``out_dir/NAME.png`` and ``out_dir/NAME.csv``, checked before anything is computed.

    The directory is created if missing.
    """
    name = check.choice("name", name, _registry.names())
    out = _io.as_path("out_dir", out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out_dir must be a directory; got the file {str(out)!r}")
    out.mkdir(parents=True, exist_ok=True)
    png = _io.check_output("figure", out / f"{name}.png", overwrite=overwrite, flag=flag)
    csv = _io.check_output("figure data", out / f"{name}.csv", overwrite=overwrite, flag=flag)
    if name in _headlines.HEADLINES:  # its quoted numbers, NAME.json
        _io.check_output("figure numbers", out / f"{name}.json", overwrite=overwrite, flag=flag)
    return png, csv


def make_all(
    out_dir: str | Path,
    *,
    runs: int | None = None,
    seed: int = 0,
    protocol: Protocol = "faithful",
    size: float = 1.0,
    names: Sequence[str] | None = None,
    callback: Callable[[FigureResult], None] | None = None,
    overwrite: bool = True,
    flag: str = "overwrite=True",
) -> list[FigureResult]:
    """:func:`make` every figure of :data:`NAMES` (or ``names``) into ``out_dir``.

    :data:`EXTRA_NAMES` (the training figures) are made only when ``names`` lists them.

    ``callback`` is called with each result as soon as it is written. With
    ``overwrite=False`` every target is checked before the first figure is computed
    (``flag`` is how the caller spells the option in the :class:`FileExistsError`).

    Parameters
    ----------
    out_dir : str or Path
        Created if missing.
    runs, seed, protocol, size, overwrite
        As for :func:`make`.
    names : sequence of str, optional
        The figures to make (default: :data:`NAMES`).
    callback : callable, optional
        Called with each :class:`FigureResult` as soon as it is written.
    flag : str
        How the caller spells ``overwrite=False`` in the error (``--force`` for the
        command line).

    Returns
    -------
    list of FigureResult
        In the order made.
    """
    overwrite = check.boolean("overwrite", overwrite)
    chosen = list(NAMES if names is None else names)
    for name in chosen:
        _targets(name, out_dir, overwrite, flag)
    results = []
    for name in chosen:
        r = make(name, out_dir, runs=runs, seed=seed, protocol=protocol, size=size, overwrite=overwrite)
        if callback is not None:
            callback(r)
        results.append(r)
    return results
