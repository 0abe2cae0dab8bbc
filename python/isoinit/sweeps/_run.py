"""Running a sweep: every configuration simulated on its input batch, locally or on Dask, as one table."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .. import _progress
from .. import _validate as check
from .._warnings import DivergenceWarning
from ..metrics import METRICS
from ..networks.blocks import BlockNetwork
from ..networks.mlp import MLP
from ..results import CONFIG_FIELDS, Provenance, config_columns, describe_input
from ..simulate import Sampler, _core_config, _map_shapes, _resolve_sampler, simulate
from ._grid import expand
from ._inputs import InputSpec, _input_dim, make_inputs

#: Configuration columns every sweep table has: ``config`` (the index into :func:`expand`'s
#: list), then :data:`isoinit.results.CONFIG_FIELDS`, named as the :class:`~isoinit.MLP`
#: fields (``center`` and ``scale`` are the steps in effect, ``activation`` the canonical
#: spec), as in every result's ``to_frame()``.
CONFIG_COLUMNS: tuple[str, ...] = ("config", *CONFIG_FIELDS)


def _check_metrics(metrics: object, name: str = "metrics") -> tuple[str, ...]:
    """The metric names asked for, in :data:`~isoinit.metrics.METRICS` order; ``name`` as the caller spells it."""
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
    grid_or_list: Mapping[str, Any] | Iterable[Mapping[str, Any] | MLP | BlockNetwork] | MLP | BlockNetwork,
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
        an explicit list of ``MLP`` keyword dicts / ``MLP`` objects. Every activation
        :func:`~isoinit.simulate` runs is allowed, a registered Python callable too (the
        kernel runs its table, :func:`isoinit.activations.tabulate`).
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
        The metrics to compute, one column each (default: all of
        :data:`isoinit.metrics.METRICS`). Each column is the same whichever others are asked for.
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
        only on an interactive terminal (``isoinit._progress``).

    Returns
    -------
    pandas.DataFrame
        One row per (configuration, run, layer[, stage]), in configuration order. Columns:
        :data:`CONFIG_COLUMNS` (``config`` is the index into :func:`expand`'s list, then
        every ``MLP`` field: ``activation`` the canonical spec, ``center``/``scale`` the
        steps in effect, ``width`` an int or ``"d1,d2,..."`` for per-block widths); then
        ``seed``, ``run``, ``layer``, [``stage``], the metrics, ``norm_bias``, ``sampler`` (the
        one that ran for the configuration, ``"gram"`` or ``"weights"``) and ``diverged_at``
        (the run's first overflowing layer, -1 if none; its metrics are NaN from there on).
        ``df.attrs["isoinit"]`` holds the provenance (``{"provenance": {...}}``: the input
        specification as given, or the shape and SHA-256 of an array, seed, runs, sampler,
        precision and package version, see :class:`isoinit.Provenance`); :func:`isoinit.sweeps.save`
        keeps it in a Parquet file's metadata and :func:`isoinit.sweeps.load` gives it back.

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
    cache: dict[Any, NDArray[np.float64]] = {}
    xs = []
    for network in configs:
        key = _input_dim(inputs, network)
        if key not in cache:
            cache[key] = make_inputs(inputs, key)
        xs.append(cache[key])
    args = (runs, seed, check.boolean("stages", stages), threads, None if chosen == METRICS else chosen)

    bar = _progress.bar(len(configs), "isoinit.sweep", "config", show=_progress.wanted(progress))
    try:
        if client is None:
            parts = []
            for network, x in zip(configs, xs, strict=True):
                parts.append(_run_config(network, x, *args))
                bar.update(1)
        else:
            parts = _run_dask(client, configs, xs, args, bar)
    finally:
        bar.close()

    cfg = _config_columns(configs)
    sizes = [len(frame) for frame, _ in parts]
    head = cfg.loc[cfg.index.repeat(sizes)].reset_index(drop=True)
    body = pd.concat([frame for frame, _ in parts], ignore_index=True)
    out: pd.DataFrame = pd.concat([head, body], axis=1)
    out.attrs["isoinit"] = _provenance(inputs, runs, seed)
    _warn_divergence([diverged for _, diverged in parts], configs)
    return out


#: One configuration's result: its rows (without configuration columns) and ``Trajectory.diverged_at``.
_Part = tuple[pd.DataFrame, NDArray[np.int64]]


def _run_config(
    network: MLP | BlockNetwork,
    x: NDArray[np.float64],
    runs: int,
    seed: int,
    stages: bool,
    threads: int | None,
    metrics: tuple[str, ...] | None,
) -> _Part:
    """Simulate one configuration, computing only ``metrics`` (``None``: all).

    The one task of both backends, so they agree by construction.
    """
    sampler: Sampler = "auto" if metrics is None else _sampler_of_every_metric(network, x, stages)
    # sweep() reports breakdowns once for all configurations, so simulate's per-configuration
    # DivergenceWarning is silenced. The filters are process-wide: on a threaded Dask worker,
    # other threads' DivergenceWarnings (and no other warning) are hidden during this call.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        traj = simulate(
            network,
            x,
            runs=runs,
            seed=seed,
            sampler=sampler,
            stages=stages,
            threads=threads,
            progress=False,
            metrics=metrics,
        )
    # to_frame has a column per metric (NaN if not computed); sweep() puts the configuration first
    skipped = [m for m in METRICS if m not in (traj.computed or METRICS)]
    frame: pd.DataFrame = traj.to_frame().drop(columns=[*skipped, *CONFIG_FIELDS])
    frame["diverged_at"] = traj.diverged_at[frame["run"].to_numpy()]
    return frame, traj.diverged_at


def _sampler_of_every_metric(network: MLP | BlockNetwork, x: NDArray[np.float64], stages: bool) -> Sampler:
    """The sampler ``simulate(sampler="auto")`` picks when it computes every metric.

    ``"auto"`` weighs the cost of the metrics asked for, so a subset can pick the other
    sampler, which draws other numbers; pinning this one keeps each metric's column the
    same whichever metrics a sweep asks for.
    """
    n, d0 = x.shape
    cfg = _core_config(network, "weights", stages, False)
    return cast(Sampler, _resolve_sampler("auto", network, cfg, n, d0, _map_shapes(cfg, d0)))


def _run_dask(
    client: Any,
    configs: Sequence[MLP | BlockNetwork],
    xs: Sequence[NDArray[np.float64]],
    args: tuple[Any, ...],
    bar: Any,
) -> list[_Part]:
    """One Dask task per configuration (each input batch sent once), gathered in order."""
    from distributed import as_completed

    tag = uuid.uuid4().hex[:12]
    scattered: dict[int, Any] = {}
    for x in xs:
        if id(x) not in scattered:
            scattered[id(x)] = client.scatter(x, hash=False)
    futures = [
        client.submit(_run_config, network, scattered[id(x)], *args, key=f"isoinit-sweep-{tag}-{i}", pure=False)
        for i, (network, x) in enumerate(zip(configs, xs, strict=True))
    ]
    try:
        for _ in as_completed(futures):  # type: ignore[no-untyped-call]
            bar.update(1)
        return list(client.gather(futures))
    finally:
        client.cancel(futures)


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


def _warn_divergence(diverged: Sequence[NDArray[np.int64]], configs: Sequence[MLP | BlockNetwork]) -> None:
    """One DivergenceWarning for the sweep, from each configuration's ``Trajectory.diverged_at``."""
    broken = {i: at[at >= 0] for i, at in enumerate(diverged) if (at >= 0).any()}
    if not broken:
        return
    first = next(iter(broken))
    warnings.warn(
        f"runs of {len(broken)} of {len(configs)} configurations broke down numerically "
        f"({sum(at.size for at in broken.values())} runs; e.g. configuration {first}, "
        f"{configs[first].label()}, first at layer {int(broken[first].min())}); "
        "their metrics are NaN from that layer on (see the diverged_at column)",
        DivergenceWarning,
        stacklevel=3,
    )
