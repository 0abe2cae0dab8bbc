"""Command line: ``isoinit simulate`` (per-layer isometry of simulated networks) and
``isoinit info`` (how the compiled kernel was built)."""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd

from .. import _io
from .. import _validate as check
from .._io import check_output, write_atomic
from ..networks.blocks import BlockNetwork
from ..networks.mlp import MLP
from ..simulate import Dtype, Sampler, Trajectory, simulate
from ._common import (
    add_network_options,
    check_table,
    configurations_from_args,
    fmt,
    inputs_from_args,
    mlp_from_args,
    write_table,
)

__all__ = ["cmd_info", "cmd_simulate", "register"]

EPILOG_SIMULATE = """examples:
  isoinit simulate --activation relu --norm layer --depth 30 --width 1000 --batch 10 \\
      --degeneracy 100 --runs 10 --seed 0 --csv relu.csv --plot relu.png
  isoinit simulate --activation tanh --center mf --scale layer --gain 2 --depth 20
  isoinit simulate --activation "leaky_relu(0.1)" --order norm-act --weights orthogonal
  isoinit simulate --activation relu tanh gelu --norm layer rms --depth 20 --plot all.png
      (several values: one configuration per combination; one table each, one CSV, one plot)
"""


def cmd_simulate(args: argparse.Namespace) -> int:
    configs = configurations_from_args(args)
    networks = [mlp_from_args(a) for a in configs]  # every option checked before any work
    xs = [inputs_from_args(a) for a in configs]
    runs = check.integer("--runs", args.runs, 1, 10**9)
    seed = check.integer("--seed", args.seed, 0, 2**64 - 1)
    threads = None if args.threads is None else check.integer("--threads", args.threads, 1, 4096)
    csv = plot = None  # the output files, checked before the simulation
    if args.csv:
        csv = check_table("--csv", args.csv, args.force)
    if args.plot:
        plot = check_output("--plot", args.plot, overwrite=args.force, flag="--force", suffixes=_io.IMAGE)
    trajs = []
    for i, (a, network, x) in enumerate(zip(configs, networks, xs, strict=True)):
        if i:
            print()
        t0 = time.perf_counter()
        traj = simulate(
            network,
            x,
            runs=runs,
            seed=seed,
            sampler=args.sampler,
            threads=threads,
            progress=None if not args.quiet else False,
            dtype=args.dtype,
        )
        _print_table(a, network, traj, time.perf_counter() - t0)
        trajs.append(traj)
    if csv is not None:
        frames = []
        for i, traj in enumerate(trajs):
            frame = traj.to_frame()  # seed, run, layer, metrics, sampler, then the configuration columns
            frame.insert(0, "config", i)
            frames.append(frame)
        table = pd.concat(frames, ignore_index=True)
        if any(not isinstance(m.width, int) for m in networks):
            table["width"] = table["width"].astype(str)
        provenance = [t.provenance.to_dict() for t in trajs if t.provenance is not None]
        # one configuration: the provenance of to_frame(); several: one per value of the config column
        table.attrs["isoinit"] = (
            {"provenance": provenance[0]} if len(provenance) == 1 else {"provenance_by_config": provenance}
        )
        write_table(table, csv, args.force)
        print(f"# wrote {len(table)} rows to {args.csv}")
    if plot is not None:
        _plot(plot, trajs, xs, runs)
        print(f"# wrote {args.plot}")
    return 0


def _print_table(args: argparse.Namespace, network: MLP | BlockNetwork, traj: Trajectory, elapsed: float) -> None:
    """The per-layer table of one configuration."""
    gap, iso = traj.summary("gap"), traj.summary("isometry")
    print(
        f"# {network.label()}; depth {network.depth}, width {args.width}, batch {args.batch}, "
        f"degeneracy {args.degeneracy:g}; {args.runs} runs, seed {args.seed}, sampler {traj.sampler}"
        + ("" if args.dtype == "float64" else f", {args.dtype}")
    )
    print(
        f"# isometry gap -log I(G) and isometry I(G) of the block outputs over runs "
        f"(mean, standard deviation); {elapsed * 1e3:.1f} ms"
    )
    singular = bool(gap["inf_runs"].any())
    if singular:
        print("# gap statistics over the runs with a finite gap; 'singular': runs whose Gram is singular (gap +inf)")
    head = f"{'layer':>5} {'gap mean':>10} {'gap sd':>10} {'iso mean':>10} {'iso sd':>10}"
    print(head + (f" {'singular':>8}" if singular else ""))
    for layer in range(network.depth + 1):
        # every run singular: the gap is +inf, not the NaN of an empty mean
        all_inf = gap["runs"][layer] == 0 and gap["inf_runs"][layer] > 0
        g_mean, g_sd = (math.inf, math.nan) if all_inf else (gap["mean"][layer], gap["std"][layer])
        line = f"{layer:5d} {fmt(g_mean)} {fmt(g_sd)} {fmt(iso['mean'][layer])} {fmt(iso['std'][layer])}"
        print(line + (f" {int(gap['inf_runs'][layer]):8d}" if singular else ""))


def _plot(path: Path, trajs: Sequence[Trajectory], xs: Sequence[np.ndarray], runs: int) -> None:
    """Every configuration's gap on one log-scale plot, with its mean field dashed where it exists."""
    from .._warnings import DivergenceWarning
    from ..figures._draw import new_figure, save
    from ..theory import meanfield

    fig, (ax,) = new_figure(width=5.0, height=3.6)
    theory = False
    for traj, x in zip(trajs, xs, strict=True):
        traj.plot("gap", ax=ax, log=False, label=traj.network.label())
        color = ax.get_lines()[-1].get_color()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DivergenceWarning)
                mf = meanfield.trajectory(traj.network, x)
        except ValueError:  # batch norm, rotary embeddings, gpt2/normal init: no infinite-width map
            continue
        ax.plot(np.arange(traj.network.depth + 1), mf.gap, color=color, linestyle="--", linewidth=1.0)
        theory = True
    ax.set_yscale("log")
    ax.set_xlabel("layer l")
    ax.set_ylabel("isometry gap -log I(G^l)")
    order = {t.network.order if isinstance(t.network, MLP) else None for t in trajs}
    where = "after normalization" if order == {"act-norm"} else "block output"
    ax.set_title(
        f"{where}; {runs} runs, 10-90% band" + ("; dashed: mean field (infinite width)" if theory else ""),
        fontsize=8,
    )
    ax.legend(fontsize=7)
    write_atomic(path, lambda tmp: save(fig, str(tmp)))


def cmd_info(args: argparse.Namespace) -> int:
    from .. import _core

    for k, v in _core.build_info().items():
        print(f"{k}: {v}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``simulate`` and ``info`` commands to the ``isoinit`` parser."""
    p = sub.add_parser(
        "simulate",
        help="simulate random MLPs and print the per-layer isometry",
        description="Simulate random MLPs at initialization on the paper's degenerate input "
        "and print the per-layer isometry gap and isometry (mean and spread over runs).",
        epilog=EPILOG_SIMULATE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_network_options(p, multi=True)
    r = p.add_argument_group("simulation")
    r.add_argument("--runs", type=int, default=10, help="independent networks (default: 10)")
    r.add_argument("--seed", type=int, default=0, help="seed of the networks (default: 0)")
    r.add_argument("--sampler", default="auto", choices=get_args(Sampler), help="(default: auto)")
    r.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: all)")
    r.add_argument(
        "--dtype",
        default="float64",
        choices=get_args(Dtype),
        help="arithmetic of the representations; Grams and metrics are float64 (default: float64)",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    o = p.add_argument_group("output")
    o.add_argument(
        "--csv",
        metavar="FILE",
        help="write the tidy per-run, per-layer metrics of every configuration, with its seed, sampler and "
        "configuration columns (.csv, .csv.gz, .csv.bz2 or .csv.xz; its provenance beside it in FILE.json)",
    )
    o.add_argument(
        "--plot",
        metavar="FILE",
        help="write a log-scale plot of the gap of every configuration, the mean field dashed (.png, .pdf or .svg)",
    )
    o.add_argument("--force", action="store_true", help="replace existing --csv/--plot files (default: refuse)")
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("info", help="how the compiled kernel was built (OpenMP, threads, SIMD)")
    p.set_defaults(func=cmd_info)
