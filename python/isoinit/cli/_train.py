"""``isoinit train``: the trainability experiment (isoinit.training) from the command line."""

from __future__ import annotations

import argparse
import time
from functools import partial
from typing import get_args

from .. import _io
from .. import _validate as check

__all__ = ["cmd_train", "register"]

EPILOG = """writes DIR/training.csv (or .parquet with --format parquet), one tidy row per (activation,
rerun, epoch, split, metric, layer), and the figures DIR/training-loss.png, training-beta.png and
training-isogap.png; prints the rank correlations of beta_0 and of the isometry gap at
initialization with the training loss at the last epoch, with bootstrap intervals over reruns.
Existing output files are not overwritten unless --force is given.

examples:
  isoinit train --out train                        # defaults: 8 activations, digits, ~2 minutes
  isoinit train --activations relu,tanh,sigmoid --epochs 20 --reruns 5 --out DIR
  isoinit train --data mixture --width 128 --depth 6 --lr 0.05 --out DIR --force
"""

OUTPUTS = ("training-loss", "training-beta", "training-isogap")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``train`` subcommand to the ``isoinit`` parser."""
    from ..training import DEFAULT_ACTIVATIONS, Protocol
    from ..training import train as _train

    defaults = _train.__kwdefaults__ or {}
    p = subparsers.add_parser(
        "train",
        help="train layer-normalized MLPs with SGD per activation: does isometry predict trainability?",
        description="Train the MLP of isoinit.training (blocks LayerNorm -> Linear -> activation, a linear "
        "read-out) with plain SGD on scikit-learn's digits (offline) for several activations and reruns, "
        "and measure the loss, accuracy and isometry gaps per epoch (needs pip install 'isoinit[torch]').",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--activations",
        default=",".join(DEFAULT_ACTIVATIONS),
        help=f"comma-separated activation specs (default: {','.join(DEFAULT_ACTIVATIONS)})",
    )
    p.add_argument("--data", default="digits", choices=("digits", "mixture"), help="the task (default: digits)")
    p.add_argument("--depth", type=int, default=10, help="number of blocks (default: 10)")
    p.add_argument("--width", type=int, default=256, help="width of every block (default: 256)")
    p.add_argument("--epochs", type=int, default=defaults["epochs"], help=f"(default: {defaults['epochs']})")
    p.add_argument("--reruns", type=int, default=defaults["reruns"], help=f"(default: {defaults['reruns']})")
    p.add_argument("--lr", type=float, default=defaults["lr"], help=f"SGD learning rate (default: {defaults['lr']:g})")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default: 0)")
    p.add_argument("--batch-size", type=int, default=defaults["batch_size"], help="(default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the networks, batches and split (default: 0)")
    p.add_argument(
        "--protocol",
        choices=get_args(Protocol),
        default="faithful",
        help="'authors' also applies the activation to the logits, as the authors' code did (default: faithful)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1, the fastest for these sizes)")
    p.add_argument("--out", metavar="DIR", required=True, help="output directory (created if missing)")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="the table's format (default: csv)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    """Run ``isoinit train``; the exit code."""
    from ..figures import _registry
    from ..figures._measure import Context
    from ..figures.training import from_result
    from ..training import save, train, trainability

    depth = check.integer("--depth", args.depth, 1)
    width = check.integer("--width", args.width, 1)
    acts = [a.strip() for a in str(args.activations).split(",") if a.strip()]
    if not acts:
        raise ValueError(f"--activations must name at least one activation; got {args.activations!r}")
    out = _io.as_path("--out", args.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out must be a directory; got the file {str(out)!r}")
    out.mkdir(parents=True, exist_ok=True)
    table = out / f"training.{'parquet' if args.format == 'parquet' else 'csv'}"
    for f in (table, *(out / f"{name}.png" for name in OUTPUTS)):  # checked before training
        _io.check_output("--out", f, overwrite=args.force, flag="--force")
    t0 = time.perf_counter()
    result = train(
        acts,
        args.data,
        hidden=(width,) * depth,
        epochs=args.epochs,
        reruns=args.reruns,
        lr=args.lr,
        momentum=args.momentum,
        batch_size=args.batch_size,
        seed=args.seed,
        protocol=args.protocol,
        threads=args.threads,
        progress=False if args.quiet else None,
    )
    save(result, table, overwrite=args.force)
    print(f"{table}  ({len(result.frame)} rows, training {result.seconds:.1f} s)")
    for name in OUTPUTS:
        figure = _registry.get(name)
        ctx = Context(name, figure.description, args.reruns, args.seed, args.protocol, 1.0)
        png = out / f"{name}.png"
        measured = from_result(ctx, result)
        _io.write_atomic(png, partial(figure.draw, ctx, measured), overwrite=args.force, flag="--force")
        print(png)
    if len(set(result.settings["activations"])) >= 2:
        tr = trainability(result)
        print(tr.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        for c in (tr.beta, tr.gap):
            print(
                f"Spearman rho({c.x}, training loss at epoch {tr.k}) = {c.rho:.3f}, "
                f"{100 * tr.confidence:.0f}% bootstrap interval [{c.low:.3f}, {c.high:.3f}]"
            )
    print(f"# done in {time.perf_counter() - t0:.1f} s")
    return 0
