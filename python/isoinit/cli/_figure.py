"""``isoinit figure NAME|all --out DIR``: the gallery's figures from the command line."""

from __future__ import annotations

import argparse
import time
from typing import get_args

__all__ = ["cmd_figure", "register"]

EPILOG = """the figures made by 'all' (the paper's, then residual networks and transformers):
{names}

figures of networks trained with SGD (need PyTorch; made by name only, or by 'isoinit train'):
{extra}

protocols:
  faithful  the isometry gap of the block output, after the normalization (default)
  authors   for every layer l >= 1 the mean of the gap right after the activation and the
            gap after normalization, as the authors' plotting code drew it (reproduces the
            published pictures, which sit well above the block output's gap)

examples:
  isoinit figure all --out figures                 # every figure, default settings
  isoinit figure order --out figs                  # writes figs/order.png and figs/order.csv
  isoinit figure centering --out figs --protocol authors --runs 30 --seed 1
  isoinit figure layernorm-vs-batchnorm --out figs --size 0.2   # quick, widths x 0.2
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``figure`` subcommand to the ``isoinit`` parser."""
    from ..figures import DESCRIPTIONS, EXTRA_NAMES, NAMES, Protocol

    names = "\n".join(f"  {n:<24}{DESCRIPTIONS[n]}" for n in NAMES)
    extra = "\n".join(f"  {n:<24}{DESCRIPTIONS[n]}" for n in EXTRA_NAMES)
    p = subparsers.add_parser(
        "figure",
        help="reproduce a figure of the paper (PNG + tidy CSV)",
        description="Reproduce one figure of Joudaki, Daneshmand and Bach (NeurIPS 2023), or all "
        "of them: writes DIR/NAME.png and the data behind it, DIR/NAME.csv (tidy: one row per "
        "curve, run and layer; mean-field and bound rows beside the simulation). Each figure "
        "shows the mean over runs with a 10-90% band, the mean-field (infinite-width) "
        "trajectory dashed and the potential bound dotted where they exist.",
        epilog=EPILOG.format(names=names, extra=extra),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "name", metavar="NAME", choices=[*NAMES, *EXTRA_NAMES, "all"], help="a figure name (listed below) or 'all'"
    )
    p.add_argument("--out", metavar="DIR", required=True, help="output directory (created if missing)")
    p.add_argument(
        "--runs",
        type=int,
        default=None,
        help="independent networks per configuration (default: the paper's, 10; 30 for "
        "self-normalize and layernorm-vs-batchnorm)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the networks and the input (default: 0)")
    p.add_argument(
        "--protocol",
        choices=get_args(Protocol),
        default="faithful",
        help="which Gram is measured (default: faithful; see below)",
    )
    p.add_argument(
        "--size", type=float, default=1.0, help="multiply every width d by this factor, for quick looks (default: 1)"
    )
    p.add_argument(
        "--force", action="store_true", help="replace existing DIR/NAME.png and DIR/NAME.csv (default: refuse)"
    )
    p.set_defaults(func=cmd_figure)


def cmd_figure(args: argparse.Namespace) -> int:
    """Run ``isoinit figure``."""
    from .. import _io
    from .. import _validate as check
    from ..figures import NAMES, FigureResult, make_all
    from ._pathargs import output_dir

    names = list(NAMES) if args.name == "all" else [args.name]
    runs = None if args.runs is None else check.integer("--runs", args.runs, 1)
    seed = check.integer("--seed", args.seed, 0)
    size = check.real("--size", args.size, 0.0, 10.0, low_open=True)
    out = output_dir("--out", args.out)
    if out.is_dir():  # DIR/NAME.png and DIR/NAME.csv, checked under the option's name before any work
        for name in names:
            for suffix in (".png", ".csv"):
                _io.check_output("--out", out / f"{name}{suffix}", overwrite=args.force, flag="--force")
    t0 = time.perf_counter()

    def report(r: FigureResult) -> None:
        print(f"{r.name:<24} {r.seconds:6.2f} s  {r.png}  {r.csv}", flush=True)
        for note in r.notes:
            print(f"    note: {note}")

    make_all(
        out,
        runs=runs,
        seed=seed,
        protocol=args.protocol,
        size=size,
        names=names,
        callback=report,
        overwrite=args.force,
        flag="--force",
    )
    print(f"# {len(names)} figure(s) in {time.perf_counter() - t0:.1f} s (protocol {args.protocol}, seed {args.seed})")
    return 0
