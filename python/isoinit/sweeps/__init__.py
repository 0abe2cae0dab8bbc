"""Sweeps: many network configurations x many random networks, as one tidy table.

:func:`sweep` runs every configuration of a grid (or an explicit list) with
:func:`isoinit.simulate` on one input specification and returns a single tidy
:class:`pandas.DataFrame`, one row per (configuration, run, layer[, stage]). It runs
locally by default and on a Dask cluster when given a ``dask.distributed.Client``
(``pip install isoinit[dask]``); the two give identical numbers. :func:`save` and
:func:`load` write and read the table as CSV or Parquet; :func:`from_toml` reads a sweep
from a TOML file (the schema is below), which is what ``isoinit sweep FILE.toml --out
FILE`` runs.

Seeds
-----
Every configuration is simulated with the *same* ``seed``. The engine draws run ``r``'s
layer ``l`` from the counter-based stream ``(seed, r, l)``, so the rows of a sweep depend
only on (configuration, seed, run, layer), never on the backend, the order in which
configurations finish, or the thread count. Using one seed for all configurations gives
*common random numbers*: two configurations with the same widths and sampler see the same
random weights in run ``r``, which makes differences between configurations less noisy than
independent draws would. For independent draws, run the sweep once per seed and
concatenate the tables.

TOML schema
-----------
::

    # every table is optional except that at least one configuration must be given
    [sweep]                      # run options (a CLI flag overrides the file)
    runs = 10                    # independent networks per configuration (default 10)
    seed = 0                     # the one seed of every configuration (default 0)
    stages = false               # also record linear/activation stages (default false)
    metrics = ["gap", "isometry"]  # metric columns (default: every metric)
    threads = 2                  # OpenMP threads per simulation (default: all)

    [inputs]                     # the input batch (default: the paper's degenerate batch)
    kind = "degenerate"          # "degenerate" or "gaussian"
    n = 10                       # batch size (default 10)
    d = 1000                     # input dimension (default: each configuration's first width)
    degeneracy = 100             # degenerate only (default 100)
    seed = 0                     # seed of the batch (default 0)

    [grid]                       # a cartesian product: an array lists the values of a field,
    depth = 30                   # a scalar fixes it; keys are isoinit.MLP fields
    width = 1000                 # (depth, width, activation, norm, center, scale, order,
    activation = ["relu", "tanh"]  # gain, bias, weights, eps); per-block widths as
    order = ["act-norm", "norm-act"]  # an array inside the array: width = [[100, 200]]

    [[grid]]                     # or several grids as an array of tables (their union)
    ...

    [[config]]                   # and/or explicit configurations (MLP keyword arguments)
    depth = 10
    width = 500
    activation = "selu"

Configurations are the grids' products in file order (the last key varying fastest),
then the explicit ``[[config]]`` entries.

The schema is strict, and checked before anything runs; every violation is one line naming
the key, its index in an array and the file (``[grid]['depth'][1] in 'sweep.toml' must be
an integer; got 'x'``):

* ``[sweep]`` and ``[inputs]`` are tables; ``grid`` is a table or an array of tables;
  ``config`` is an array of tables. Unknown keys are errors.
* ``[sweep]``: ``runs`` an integer ``>= 1``, ``seed`` an integer ``>= 0``, ``threads`` an
  integer ``>= 1``, ``stages`` a TOML boolean (``true``/``false``; ``"no"`` or ``0`` is an
  error, never truthy), ``metrics`` an array of names from :data:`isoinit.metrics.METRICS`.
* ``[inputs]``: ``kind`` one of ``"degenerate"``, ``"gaussian"``; ``n`` an integer
  ``>= 2``; ``d`` an integer ``>= 1``; ``seed`` an integer ``>= 0``; ``degeneracy`` a
  number ``>= 1`` (degenerate only).
* MLP fields, in ``[grid]`` a scalar (fixes the field) or an array of scalars (its values),
  in ``[[config]]`` a scalar: ``depth`` an integer; ``width`` an integer, or an array of
  integers per block (so in a grid an array of integers and/or arrays of integers, and no
  deeper); ``activation``, ``norm``, ``center``, ``scale``, ``order``, ``weights`` strings;
  ``gain``, ``bias``, ``eps`` numbers (a boolean is not a number). The values themselves
  are then checked by :class:`isoinit.MLP`, with the table and file in the message.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .. import _io, _progress
from .. import _validate as check
from .._warnings import DivergenceWarning
from ..inputs import degenerate, gaussian
from ..metrics import METRICS
from ..networks.blocks import BlockNetwork
from ..networks.fields import FIELDS, field
from ..networks.mlp import MLP
from ..results import CONFIG_FIELDS, Provenance, config_columns, describe_input
from ..simulate import simulate

__all__ = [
    "CONFIG_COLUMNS",
    "MLP_FIELDS",
    "expand",
    "from_toml",
    "load",
    "make_inputs",
    "save",
    "sweep",
]


def __dir__() -> list[str]:
    return sorted(__all__)


#: The :class:`~isoinit.MLP` fields a grid or configuration may set.
MLP_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS)
#: Configuration columns every sweep table has: ``config`` (the index into :func:`expand`'s
#: list), then :data:`isoinit.results.CONFIG_FIELDS`, named as the :class:`~isoinit.MLP`
#: fields (``center`` and ``scale`` are the steps in effect, ``activation`` the canonical
#: spec), as in every result's ``to_frame()``.
CONFIG_COLUMNS: tuple[str, ...] = ("config", *CONFIG_FIELDS)
_INPUT_KEYS: dict[str, tuple[str, ...]] = {
    "degenerate": ("kind", "n", "d", "degeneracy", "seed"),
    "gaussian": ("kind", "n", "d", "seed"),
}
_SWEEP_KEYS = ("runs", "seed", "stages", "metrics", "threads")

InputSpec = Mapping[str, Any] | NDArray[np.float64]


# --------------------------------------------------------------------------------------
# configurations
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------


def make_inputs(inputs: InputSpec, d_default: int | None = None) -> NDArray[np.float64]:
    """The input batch of an input specification.

    Parameters
    ----------
    inputs : dict or ndarray
        An ``(n, d)`` array (used as is), or a dict ``kind="degenerate"`` (default) with
        ``n`` (default 10), ``d``, ``degeneracy`` (default 100) and ``seed`` (default 0)
        for :func:`isoinit.inputs.degenerate`, or ``kind="gaussian"`` with ``n``, ``d``,
        ``seed`` for :func:`isoinit.inputs.gaussian`.
    d_default : int, optional
        The input dimension when the dict gives no ``d`` (a sweep passes each
        configuration's first width).

    Returns
    -------
    ndarray, shape (n, d)
    """
    if not isinstance(inputs, Mapping):
        return check.array("inputs", inputs, ndim=2)
    kind = check.choice("inputs kind", inputs.get("kind", "degenerate"), _INPUT_KEYS)
    bad = [k for k in inputs if k not in _INPUT_KEYS[kind]]
    if bad:
        raise ValueError(f"inputs keys for kind {kind!r} must be among {', '.join(_INPUT_KEYS[kind])}; got {bad[0]!r}")
    d = inputs.get("d", d_default)
    if d is None:
        raise ValueError("inputs must give d (the input dimension) when no configuration width is known")
    n = inputs.get("n", 10)
    seed = inputs.get("seed", 0)
    if kind == "gaussian":
        return gaussian(n, d, seed=seed)
    return degenerate(n, d, inputs.get("degeneracy", 100.0), seed=seed)


def _input_dim(inputs: InputSpec, mlp: MLP | BlockNetwork) -> Any:
    """The input dimension a configuration gets (``None``: a fixed array).

    Checked by :func:`make_inputs`.
    """
    if isinstance(inputs, Mapping):
        return inputs["d"] if "d" in inputs else mlp.widths()[0]
    return None


# --------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------


def _run_config(
    mlp: MLP | BlockNetwork,
    x: NDArray[np.float64],
    runs: int,
    seed: int,
    stages: bool,
    threads: int | None,
    metrics: tuple[str, ...],
) -> pd.DataFrame:
    """Simulate one configuration: its tidy rows without configuration columns.

    The one task of both backends (so they agree by construction). Divergence warnings
    are silenced here and summarized once by :func:`sweep` from ``diverged_at``.
    """
    # (catch_warnings swaps the process-wide filters; a threaded Dask worker shares them
    # with its other threads for the duration of one simulation, which only ever hides
    # DivergenceWarning, the warning this function replaces by the diverged_at column)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        traj = simulate(mlp, x, runs=runs, seed=seed, stages=stages, threads=threads, progress=False)
    frame = traj.to_frame()
    drop = [m for m in METRICS if m not in metrics]
    if drop:
        frame = frame.drop(columns=drop)
    out: pd.DataFrame = frame.drop(columns=list(CONFIG_FIELDS))  # the sweep puts them first, for all
    out["diverged_at"] = traj.diverged_at[out["run"].to_numpy()]
    return out


def _config_columns(configs: Sequence[MLP | BlockNetwork]) -> pd.DataFrame:
    """One row per configuration: ``config`` and :func:`isoinit.results.config_columns`."""
    per_block = any(not isinstance(m.width, int) for m in configs)
    rows = [{"config": i, **config_columns(m)} for i, m in enumerate(configs)]
    df: pd.DataFrame = pd.DataFrame(rows, columns=list(CONFIG_COLUMNS))
    if per_block:
        df["width"] = df["width"].astype(str)
    return df


def _provenance(inputs: InputSpec, runs: int, seed: int) -> dict[str, Any]:
    """The provenance of a sweep table (``df.attrs["isoinit"]``).

    The input spec as given (or the shape and SHA-256 of an array), seed, runs, sampler,
    precision, version.
    """
    spec = dict(inputs) if isinstance(inputs, Mapping) else describe_input(np.asarray(inputs, dtype=np.float64))
    if isinstance(inputs, Mapping):
        spec.setdefault("kind", "degenerate")
    return {"provenance": Provenance(spec, seed=seed, runs=runs, sampler="auto").to_dict()}


def _check_metrics(metrics: object, name: str = "metrics") -> tuple[str, ...]:
    if metrics is None:
        return METRICS
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, Iterable) or isinstance(metrics, (bytes, Mapping)):
        raise TypeError(
            f"{name} must be a metric name or a list of metric names ({', '.join(METRICS)}); got {check._got(metrics)}"
        )
    chosen = tuple(metrics)
    for i, m in enumerate(chosen):
        check.choice(f"{name}[{i}]", m, METRICS)
    if not chosen:
        raise ValueError(f"{name} must name at least one metric; got an empty list")
    return tuple(m for m in METRICS if m in chosen)


def _client(backend: object) -> Any:
    """``None`` for the local backend, else a ``dask.distributed.Client``."""
    if isinstance(backend, str):
        if backend == "local":
            return None
        if backend == "dask":
            try:
                from distributed import default_client
            except ImportError as err:
                raise ImportError("backend='dask' needs dask.distributed: pip install 'isoinit[dask]'") from err
            return default_client()  # type: ignore[no-untyped-call]
    elif all(hasattr(backend, a) for a in ("submit", "gather", "scatter")):
        return backend
    raise ValueError(
        f"backend must be 'local', 'dask' (the current Dask client) or a dask.distributed.Client; got {backend!r}"
    )


def sweep(
    grid_or_list: Mapping[str, Any] | Iterable[Mapping[str, Any] | MLP] | MLP,
    *,
    inputs: InputSpec,
    runs: int = 10,
    seed: int = 0,
    stages: bool = False,
    metrics: Iterable[str] | None = None,
    backend: Any = "local",
    threads: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Simulate every configuration of a grid or list, ``runs`` networks each, as one table.

    Parameters
    ----------
    grid_or_list : dict, list of dict or MLP, or MLP
        The configurations, see :func:`expand`: a grid ``{"activation": ["relu", "tanh"],
        "depth": 30, "width": 1000}`` (cartesian product of the lists, scalars fixed), or
        an explicit list of ``MLP`` keyword dicts / ``MLP`` objects.
    inputs : dict or ndarray
        The input batch: an ``(n, d)`` array, or a spec such as
        ``dict(kind="degenerate", n=10, d=1000, degeneracy=100, seed=0)`` (see
        :func:`make_inputs`; without ``d`` each configuration gets its first width).
    runs : int
        Independent networks per configuration, ``>= 1``.
    seed : int
        The seed of *every* configuration (common random numbers; see the module
        docstring): the rows depend only on (configuration, seed, run, layer).
    stages : bool
        Record the linear, activation and normalization stages (adds a ``stage`` column).
    metrics : list of str, optional
        Metric columns to keep (default: all of :data:`isoinit.metrics.METRICS`).
    backend : "local", "dask" or dask.distributed.Client
        ``"local"``: one configuration after the other in this process, each simulation
        using every core through OpenMP (the compiled kernel parallelizes over runs). A
        ``Client`` (or ``"dask"`` for the current default client): one task per
        configuration, gathered in order; set ``threads`` to the cores per Dask thread to
        avoid oversubscription. Both backends give identical tables.
    threads : int, optional
        OpenMP threads of each simulation (default: all); results do not depend on it.
    progress : bool, optional
        A progress bar over configurations: ``True``/``False`` as asked; ``None`` (default)
        only on an interactive terminal (:mod:`isoinit._progress`).

    Returns
    -------
    pandas.DataFrame
        One row per (configuration, run, layer[, stage]), in configuration order. Columns:
        :data:`CONFIG_COLUMNS` (``config`` is the index into :func:`expand`'s list, then
        every ``MLP`` field: ``activation`` the canonical spec, ``center``/``scale`` the
        steps in effect, ``width`` an int or ``"d1,d2,..."`` for per-block widths); then
        ``run``, ``layer``, [``stage``], the metrics, ``norm_bias`` and ``diverged_at`` (the
        run's first overflowing layer, -1 if none; its metrics are NaN from there on).
        ``df.attrs["isoinit"]`` holds the provenance (``{"provenance": {...}}``: the input
        specification as given, or the shape and SHA-256 of an array, seed, runs, sampler,
        precision and package version, see :class:`isoinit.Provenance`); :func:`save`
        keeps it in a Parquet file's metadata and :func:`load` gives it back.

    Warns
    -----
    DivergenceWarning
        Once, when runs of some configurations broke down numerically.

    Examples
    --------
    >>> import isoinit
    >>> df = isoinit.sweeps.sweep(
    ...     {"activation": ["relu", "tanh"], "order": ["act-norm", "norm-act"],
    ...      "depth": 10, "width": 200},
    ...     inputs=dict(kind="degenerate", n=10, degeneracy=100), runs=4, progress=False)
    >>> df.groupby(["activation", "order", "layer"])["gap"].mean()  # doctest: +SKIP
    """
    configs = expand(grid_or_list)
    runs = check.integer("runs", runs, 1, 10**9)
    seed = check.integer("seed", seed, 0, 2**64 - 1)
    if threads is not None:
        threads = check.integer("threads", threads, 1, 4096)
    chosen = _check_metrics(metrics)
    client = _client(backend)
    for i, mlp in enumerate(configs):
        if mlp.act.engine is None:
            raise ValueError(
                f"configuration {i} has activation {mlp.act.name!r}, a Python callable the "
                "compiled simulator cannot run (define it by Hermite coefficients instead)"
            )
    cache: dict[Any, NDArray[np.float64]] = {}
    xs = []
    for mlp in configs:
        key = _input_dim(inputs, mlp)
        if key not in cache:
            cache[key] = make_inputs(inputs, key)
        xs.append(cache[key])
    args = (runs, seed, check.boolean("stages", stages), threads, chosen)

    bar = _progress.bar(len(configs), "isoinit.sweep", "config", show=_progress.wanted(progress))
    try:
        if client is None:
            parts = []
            for mlp, x in zip(configs, xs, strict=True):
                parts.append(_run_config(mlp, x, *args))
                bar.update(1)
        else:
            parts = _run_dask(client, configs, xs, args, bar)
    finally:
        bar.close()

    cfg = _config_columns(configs)
    sizes = [len(p) for p in parts]
    head = cfg.loc[cfg.index.repeat(sizes)].reset_index(drop=True)
    body = pd.concat(parts, ignore_index=True)
    out: pd.DataFrame = pd.concat([head, body], axis=1)
    out.attrs["isoinit"] = _provenance(inputs, runs, seed)
    _warn_divergence(out, configs)
    return out


def _run_dask(
    client: Any,
    configs: Sequence[MLP | BlockNetwork],
    xs: Sequence[NDArray[np.float64]],
    args: tuple[Any, ...],
    bar: Any,
) -> list[pd.DataFrame]:
    from distributed import as_completed

    tag = uuid.uuid4().hex[:12]
    scattered: dict[int, Any] = {}
    for x in xs:
        if id(x) not in scattered:
            scattered[id(x)] = client.scatter(x, hash=False)
    futures = [
        client.submit(_run_config, mlp, scattered[id(x)], *args, key=f"isoinit-sweep-{tag}-{i}", pure=False)
        for i, (mlp, x) in enumerate(zip(configs, xs, strict=True))
    ]
    try:
        for _ in as_completed(futures):  # type: ignore[no-untyped-call]
            bar.update(1)
        return list(client.gather(futures))
    finally:
        client.cancel(futures)


def _warn_divergence(df: pd.DataFrame, configs: Sequence[MLP | BlockNetwork]) -> None:
    bad = df.loc[df["diverged_at"] >= 0, ["config", "run", "diverged_at"]].drop_duplicates(["config", "run"])
    if bad.empty:
        return
    per_config = bad.groupby("config")["diverged_at"].agg(["size", "min"])
    first = int(per_config.index[0])
    warnings.warn(
        f"runs of {len(per_config)} of {len(configs)} configurations broke down numerically "
        f"({int(per_config['size'].sum())} runs; e.g. configuration {first}, "
        f"{configs[first].label()}, first at layer {int(per_config['min'].iloc[0])}); "
        "their metrics are NaN from that layer on "
        "(see the diverged_at column)",
        DivergenceWarning,
        stacklevel=3,
    )


# --------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------


def _format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return "parquet"
    if ".csv" in suffixes[-2:]:
        return "csv"  # also .csv.gz, .csv.bz2, ... (compression by pandas)
    raise ValueError(f"path must end in .csv (optionally compressed, e.g. .csv.gz), .parquet or .pq; got {str(path)!r}")


def _need_parquet() -> None:
    if importlib.util.find_spec("pyarrow") is None:
        raise ImportError(
            "reading and writing Parquet needs pyarrow: pip install 'isoinit[parquet]' (or use a .csv path)"
        )


def _check_path(path: object, *, overwrite: bool, name: str = "path", flag: str = "overwrite=True") -> Path:
    """The output path of :func:`save`, checked before any work.

    Suffix, pyarrow, directory, no existing file unless ``overwrite``; ``name`` and ``flag``
    as the caller spells them.
    """
    p = _io.check_output(name, path, overwrite=overwrite, flag=flag)
    try:
        if _format(p) == "parquet":
            _need_parquet()
    except ValueError as err:
        raise ValueError(str(err).replace("path must", f"{name} must", 1)) from None
    return p


def save(df: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a sweep table to ``path``; returns the path.

    CSV (``.csv``, ``.csv.gz``, ...) or Parquet (``.parquet``/``.pq``, needs pyarrow).
    Floats are written so that :func:`load` reads them back exactly. The file is written
    atomically (a temporary file beside it, renamed over it when complete), so an
    interrupted save never leaves a truncated table.

    Parameters
    ----------
    df : pandas.DataFrame
        The table (:func:`sweep`'s, or any).
    path : str or Path
        Target file; its directory must exist.
    overwrite : bool
        Replace an existing file (default: refuse with :class:`FileExistsError`).

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    FileNotFoundError, PermissionError
        If its directory is missing or not writable.
    ValueError
        If the suffix is not one of the formats.
    """
    check.instance("df", df, pd.DataFrame, "a pandas DataFrame")
    overwrite = check.boolean("overwrite", overwrite)
    p = _check_path(path, overwrite=overwrite)
    if _format(p) == "parquet":
        _io.write_atomic(p, lambda tmp: _write_parquet(df, tmp), overwrite=overwrite)
    else:
        _io.write_atomic(p, lambda tmp: df.to_csv(tmp, index=False), overwrite=overwrite)
    return p


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    """The table as Parquet, with ``df.attrs["isoinit"]`` as JSON in the schema metadata.

    The key is ``b"isoinit"``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = df.attrs.get("isoinit")
    if meta is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"isoinit": json.dumps(meta).encode()})
    pq.write_table(table, path)


def load(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`save` (format from the suffix, as there).

    A Parquet file's provenance (see :func:`sweep`) comes back as ``df.attrs["isoinit"]``.
    """
    p = Path(path)
    fmt = _format(p)
    if not p.exists():
        raise FileNotFoundError(f"no such sweep file: {str(p)!r}")
    if fmt == "parquet":
        _need_parquet()
        import pyarrow.parquet as pq

        table = pq.read_table(p)
        frame: pd.DataFrame = table.to_pandas()
        raw = (table.schema.metadata or {}).get(b"isoinit")
        if raw is not None:
            frame.attrs["isoinit"] = json.loads(raw)
        return frame
    # exact float round trip: pandas >= 3 parses that way by default (and deprecates the option)
    exact = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    df: pd.DataFrame = pd.read_csv(p, keep_default_na=False, na_values=["", "NaN", "nan"], **exact)  # type: ignore[call-overload]
    return df


# --------------------------------------------------------------------------------------
# TOML
# --------------------------------------------------------------------------------------


def _toml_module() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:
        import tomli
    except ImportError as err:  # pragma: no cover - tomli is a dependency on Python < 3.11
        raise ImportError("reading TOML on Python < 3.11 needs tomli: pip install tomli") from err
    return tomli


def _table(doc: Mapping[str, Any], name: str, path: Path) -> Mapping[str, Any]:
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


_INPUT_TYPES: dict[str, tuple[str, float | None]] = {
    "n": ("int", 2),
    "d": ("int", 1),
    "seed": ("int", 0),
    "degeneracy": ("real", 1.0),
}


def _check_inputs_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    inputs = dict(table)
    kind = check.choice(f"[inputs] kind in {where}", inputs.get("kind", "degenerate"), _INPUT_KEYS)
    bad = [k for k in inputs if k not in _INPUT_KEYS[kind]]
    if bad:
        raise ValueError(
            f"[inputs] keys for kind {kind!r} must be among {', '.join(_INPUT_KEYS[kind])}; got {bad[0]!r}"
        )
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


def from_toml(path: str | Path) -> tuple[list[MLP], dict[str, Any]]:
    """Read a sweep file (schema in the module docstring).

    Every key is checked against the schema before anything runs: a violation is one
    :class:`TypeError` (wrong type: a table where an array is expected, ``"no"`` for a
    boolean, a string for a number, nesting deeper than per-block widths) or
    :class:`ValueError` (unknown key or value) naming the key, its index in an array and
    the file.

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
    configs: list[MLP] = []
    src = f" in {where}"
    for i, g in enumerate(grids):
        configs.extend(_expand_grid(g, f"[[grid]] #{i + 1}" if len(grids) > 1 else "[grid]", src))
    for i, c in enumerate(explicit):
        configs.append(_mlp(c, f"[[config]] #{i + 1}", src))
    if not configs:
        raise ValueError(f"path {where} defines no configuration: give a [grid] table or [[config]] entries")
    return configs, options
