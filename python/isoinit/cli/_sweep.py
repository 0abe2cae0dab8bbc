"""Command line: ``isoinit sweep FILE.toml --out FILE`` (a grid of configurations, one tidy table)."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

__all__ = ["cmd_sweep", "register"]

EPILOG_SWEEP = """examples:
  isoinit sweep examples/sweep.toml --out sweep.csv
  isoinit sweep examples/sweep.toml --out sweep.parquet --runs 30 --seed 1
  isoinit sweep examples/sweep.toml --list
  isoinit sweep big.toml --out big.parquet --dask-scheduler tcp://10.0.0.5:8786 --threads 1

sweep file (TOML; the full schema is in the docstring of isoinit.sweeps):
  [sweep]                        # optional run options: runs, seed, stages, metrics, threads
  runs = 10
  [inputs]                       # optional input batch (default: degenerate, n = 10,
  kind = "degenerate"            #   degeneracy 100, d = each configuration's first width)
  n = 10
  degeneracy = 100
  [grid]                         # cartesian product; an array lists values, a scalar fixes
  depth = 30                     #   keys are isoinit.MLP fields: depth, width, activation,
  width = 1000                   #   norm, center, scale, order, gain, bias, weights, eps
  activation = ["relu", "tanh"]
  order = ["act-norm", "norm-act"]
  [[config]]                     # and/or explicit configurations
  depth = 10
  width = 500
  activation = "selu"

The schema is strict (types checked, true/false booleans, known metric names, no nesting
beyond per-block widths); an error names the key, the array index and the file.

Every configuration uses the same seed (common random numbers): rows depend only on
(configuration, seed, run, layer), so the local and the Dask backend write identical files.
The output is one tidy table (CSV, or Parquet for .parquet/.pq): configuration columns,
run, layer, [stage], every metric, norm_bias, diverged_at.
"""


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run a TOML sweep file and write its table."""
    from ..sweeps import _check_path, from_toml, save, sweep
    from ._pathargs import input_file

    configs, options = from_toml(input_file("FILE.toml", args.file, "sweep file"))
    from .. import _validate as check

    for key, low, high in (("runs", 1, 10**9), ("seed", 0, 2**64 - 1), ("threads", 1, 4096)):
        value = getattr(args, key)
        if value is not None:
            options[key] = check.integer(f"--{key}", value, low, high)
    if args.list:
        print(f"# {len(configs)} configurations in {args.file}")
        for i, network in enumerate(configs):
            print(f"{i:4d}  depth {network.depth}, width {network.width}: {network.label()}")
        return 0
    if args.out is None:
        raise ValueError("--out is required (a .csv, .csv.gz, .parquet or .pq path); got none")
    out = _check_path(args.out, overwrite=args.force, name="--out", flag="--force")
    client: Any = None
    if args.dask_scheduler:
        try:
            from distributed import Client
        except ImportError as err:
            raise ValueError(
                "--dask-scheduler needs dask.distributed: pip install 'isoinit[dask]'; "
                f"got --dask-scheduler {args.dask_scheduler!r}"
            ) from err
        client = Client(args.dask_scheduler)  # type: ignore[no-untyped-call]
    t0 = time.perf_counter()
    try:
        df = sweep(
            configs,
            backend=client if client is not None else "local",
            progress=False if args.quiet else None,
            **options,
        )
    finally:
        if client is not None:
            client.close()
    elapsed = time.perf_counter() - t0
    path = save(df, out, overwrite=args.force)
    runs = int(df["run"].max()) + 1
    print(f"# {len(configs)} configurations x {runs} runs in {elapsed:.2f} s; wrote {len(df)} rows to {path}")
    last = df[df["layer"] == df["depth"]]
    if "stage" in last:  # the block output: after normalization (act-norm) or activation
        output = np.where(last["order"] == "act-norm", "normalization", "activation")
        last = last[last["stage"] == output]
    if "gap" in df:
        gap = last.groupby("config")["gap"].mean()
        print(f"{'config':>6} {'final gap':>10}  configuration")
        for i, network in enumerate(configs):
            final = gap.get(i, float("nan"))
            print(f"{i:6d} {final:10.4g}  depth {network.depth}, width {network.width}: {network.label()}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sweep`` command to the ``isoinit`` parser."""
    p = sub.add_parser(
        "sweep",
        help="run a grid of configurations from a TOML file and save one tidy table",
        description="Run every configuration of a TOML sweep file (grids and/or explicit "
        "configurations) x runs on one input batch, and write one tidy table of per-run, "
        "per-layer metrics (CSV or Parquet). Locally by default; on a Dask cluster with "
        "--dask-scheduler.",
        epilog=EPILOG_SWEEP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE.toml", help="the sweep file")
    p.add_argument(
        "--out",
        metavar="FILE",
        help="output table: .csv (or .csv.gz, ...) or .parquet/.pq (needs pyarrow); required unless --list",
    )
    p.add_argument(
        "--runs",
        type=int,
        default=None,
        help="independent networks per configuration (overrides [sweep] runs; default 10)",
    )
    p.add_argument(
        "--seed", type=int, default=None, help="seed of every configuration (overrides [sweep] seed; default 0)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="OpenMP threads per simulation (default: all; with Dask: cores per Dask thread)",
    )
    p.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        default=None,
        help="run on the Dask cluster at ADDRESS (e.g. tcp://host:8786), one task per "
        "configuration; needs isoinit[dask]",
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out file (default: refuse)")
    p.add_argument("--list", action="store_true", help="print the configurations and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)
