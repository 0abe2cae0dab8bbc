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
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from . import _io
from . import _validate as check
from ._warnings import DivergenceWarning
from .config import MLP
from .inputs import degenerate, gaussian
from .metrics import METRICS
from .simulate import simulate

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
MLP_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(MLP) if f.init)
#: Configuration columns every sweep table has (``center`` and ``scale`` are the steps in
#: effect, ``activation`` the canonical spec); ``bias``, ``weights`` and ``eps`` are added
#: when some configuration differs from their defaults.
CONFIG_COLUMNS: tuple[str, ...] = (
    "config",
    "activation",
    "norm",
    "center",
    "scale",
    "order",
    "depth",
    "width",
    "gain",
)
_OPTIONAL_COLUMNS: dict[str, object] = {"bias": 0.0, "weights": "gaussian", "eps": 0.0}
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


def _mlp(kwargs: Mapping[str, Any], where: str) -> MLP:
    bad = [k for k in kwargs if k not in MLP_FIELDS]
    if bad:
        raise ValueError(f"{where} keys must be isoinit.MLP fields ({', '.join(MLP_FIELDS)}); got {bad[0]!r}")
    if "depth" not in kwargs or "width" not in kwargs:
        raise ValueError(f"{where} must set depth and width; got keys {sorted(kwargs)}")
    w = kwargs["width"]
    if isinstance(w, np.ndarray):
        kwargs = {**kwargs, "width": tuple(int(v) for v in w)}
    elif isinstance(w, list):
        kwargs = {**kwargs, "width": tuple(w)}
    return MLP(**kwargs)


def _expand_grid(grid: Mapping[str, Any], where: str) -> list[MLP]:
    keys = list(grid)
    for k in keys:
        if not isinstance(k, str) or k not in MLP_FIELDS:
            raise ValueError(f"{where} keys must be isoinit.MLP fields ({', '.join(MLP_FIELDS)}); got {k!r}")
    axes: list[list[Any]] = []
    for k in keys:
        v = grid[k]
        values = list(v) if _is_values(v) else [v]
        if not values:
            raise ValueError(f"{where}[{k!r}] must list at least one value; got {v!r}")
        axes.append(values)
    return [_mlp(dict(zip(keys, combo, strict=True)), where) for combo in itertools.product(*axes)]


def expand(grid_or_list: Mapping[str, Any] | Iterable[Mapping[str, Any] | MLP] | MLP) -> list[MLP]:
    """The configurations of a sweep, in order.

    Parameters
    ----------
    grid_or_list : dict, iterable of dict or MLP, or MLP
        A *grid*: a dict from :class:`~isoinit.MLP` field names to a list (or tuple, range,
        array) of values, or to a scalar that fixes the field; the configurations are the
        cartesian product in key order, the last key varying fastest. A per-block width
        is a sequence inside the list: ``width=[(100, 200, 300)]``. ``depth`` and
        ``width`` must be given. Or an explicit list of ``MLP`` keyword-argument dicts
        and/or ``MLP`` objects; or one ``MLP``.

    Returns
    -------
    list of MLP

    Raises
    ------
    ValueError
        For a key that is not an ``MLP`` field, an empty list of values, a missing depth
        or width, or any value ``MLP`` rejects.
    """
    if isinstance(grid_or_list, MLP):
        return [grid_or_list]
    if isinstance(grid_or_list, Mapping):
        return _expand_grid(grid_or_list, "grid")
    if isinstance(grid_or_list, (str, bytes)) or not isinstance(grid_or_list, Iterable):
        raise TypeError(
            "grid_or_list must be a dict of MLP fields to values, a list of MLP keyword "
            f"dicts or MLP objects, or an MLP; got {type(grid_or_list).__name__}"
        )
    out: list[MLP] = []
    for i, item in enumerate(grid_or_list):
        if isinstance(item, MLP):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(_mlp(item, f"grid_or_list[{i}]"))
        else:
            raise TypeError(f"grid_or_list[{i}] must be an MLP keyword dict or an MLP; got {type(item).__name__}")
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


def _input_dim(inputs: InputSpec, mlp: MLP) -> Any:
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
    mlp: MLP,
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
    frame["diverged_at"] = traj.diverged_at[frame["run"].to_numpy()]
    return frame


def _width_label(mlp: MLP) -> int | str:
    return mlp.width if isinstance(mlp.width, int) else ",".join(str(w) for w in mlp.width)


def _config_columns(configs: Sequence[MLP]) -> pd.DataFrame:
    per_block = any(not isinstance(m.width, int) for m in configs)
    cols: dict[str, list[Any]] = {
        "config": list(range(len(configs))),
        "activation": [m.act.name for m in configs],
        "norm": [m.norm for m in configs],
        "center": [m.centering for m in configs],
        "scale": [m.scaling for m in configs],
        "order": [m.order for m in configs],
        "depth": [m.depth for m in configs],
        "width": [str(_width_label(m)) if per_block else _width_label(m) for m in configs],
        "gain": [m.gain for m in configs],
    }
    for name, default in _OPTIONAL_COLUMNS.items():
        values = [getattr(m, name) for m in configs]
        if any(v != default for v in values):
            cols[name] = values
    df: pd.DataFrame = pd.DataFrame(cols)
    return df


def _check_metrics(metrics: Iterable[str] | None) -> tuple[str, ...]:
    if metrics is None:
        return METRICS
    if isinstance(metrics, str):
        metrics = [metrics]
    chosen = tuple(metrics)
    for m in chosen:
        check.choice("metrics", m, METRICS)
    if not chosen:
        raise ValueError("metrics must name at least one metric; got an empty list")
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
    progress: bool = True,
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
    progress : bool
        Show a progress bar over configurations (tqdm).

    Returns
    -------
    pandas.DataFrame
        One row per (configuration, run, layer[, stage]), in configuration order. Columns:
        :data:`CONFIG_COLUMNS` (``config`` is the index into :func:`expand`'s list,
        ``activation`` the canonical spec, ``center``/``scale`` the steps in effect,
        ``width`` an int or ``"d1,d2,..."`` for per-block widths), plus ``bias``,
        ``weights``, ``eps`` when some configuration sets them; then ``run``, ``layer``,
        [``stage``], the metrics, ``norm_bias`` and ``diverged_at`` (the run's first
        overflowing layer, -1 if none; its metrics are NaN from there on).

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

    from tqdm.auto import tqdm

    bar = tqdm(total=len(configs), desc="isoinit.sweep", unit="config", disable=not check.boolean("progress", progress))
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
    _warn_divergence(out, configs)
    return out


def _run_dask(
    client: Any,
    configs: Sequence[MLP],
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


def _warn_divergence(df: pd.DataFrame, configs: Sequence[MLP]) -> None:
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
        _io.write_atomic(p, lambda tmp: df.to_parquet(tmp, index=False, engine="pyarrow"), overwrite=overwrite)
    else:
        _io.write_atomic(p, lambda tmp: df.to_csv(tmp, index=False), overwrite=overwrite)
    return p


def load(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`save` (format from the suffix, as there)."""
    p = Path(path)
    fmt = _format(p)
    if not p.exists():
        raise FileNotFoundError(f"no such sweep file: {str(p)!r}")
    if fmt == "parquet":
        _need_parquet()
        return pd.read_parquet(p, engine="pyarrow")
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
        raise ValueError(f"[{name}] in {str(path)!r} must be a table; got {type(t).__name__}")
    return t


def from_toml(path: str | Path) -> tuple[list[MLP], dict[str, Any]]:
    """Read a sweep file (schema in the module docstring).

    Returns
    -------
    configs : list of MLP
        The grids' configurations in file order, then the ``[[config]]`` entries.
    options : dict
        Keyword arguments for :func:`sweep`: ``inputs`` (the ``[inputs]`` table, default
        the degenerate batch with ``n=10``) and those of ``runs``, ``seed``, ``stages``,
        ``metrics``, ``threads`` that the ``[sweep]`` table gives.

    Examples
    --------
    >>> configs, options = from_toml("examples/sweep.toml")  # doctest: +SKIP
    >>> df = sweep(configs, **options)  # doctest: +SKIP
    """
    p = Path(path)
    toml = _toml_module()
    try:
        with p.open("rb") as fh:
            doc = toml.load(fh)
    except toml.TOMLDecodeError as err:
        raise ValueError(f"path {str(p)!r} is not valid TOML: {err}") from err
    unknown = [k for k in doc if k not in ("sweep", "inputs", "grid", "config")]
    if unknown:
        raise ValueError(f"top-level keys of {str(p)!r} must be among sweep, inputs, grid, config; got {unknown[0]!r}")
    options: dict[str, Any] = {}
    for k, v in _table(doc, "sweep", p).items():
        if k not in _SWEEP_KEYS:
            raise ValueError(f"[sweep] keys must be among {', '.join(_SWEEP_KEYS)}; got {k!r}")
        options[k] = v
    inputs = dict(_table(doc, "inputs", p))
    kind = inputs.get("kind", "degenerate")
    if kind in _INPUT_KEYS:
        bad = [k for k in inputs if k not in _INPUT_KEYS[kind]]
        if bad:
            raise ValueError(
                f"[inputs] keys for kind {kind!r} must be among {', '.join(_INPUT_KEYS[kind])}; got {bad[0]!r}"
            )
    else:
        raise ValueError(f"[inputs] kind must be one of {', '.join(_INPUT_KEYS)}; got {kind!r}")
    options["inputs"] = inputs
    grids = doc.get("grid", [])
    if isinstance(grids, Mapping):
        grids = [grids]
    explicit = doc.get("config", [])
    if not isinstance(explicit, list):
        raise ValueError(
            f"config in {str(p)!r} must be an array of tables ([[config]]); got a {type(explicit).__name__}"
        )
    configs: list[MLP] = []
    for i, g in enumerate(grids):
        configs.extend(_expand_grid(g, f"[grid] #{i + 1}" if len(grids) > 1 else "[grid]"))
    for i, c in enumerate(explicit):
        configs.append(_mlp(c, f"[[config]] #{i + 1}"))
    if not configs:
        raise ValueError(f"path {str(p)!r} defines no configuration: give a [grid] table or [[config]] entries")
    return configs, options
