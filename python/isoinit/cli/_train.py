"""``isoinit train``: the trainability experiment (isoinit.training) from the command line."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import Any, get_args

from .. import _io
from .. import _validate as check
from ._pathargs import output_dir

__all__ = ["cmd_train", "register"]

EPILOG = """writes DIR/training.csv (or .parquet with --format parquet), one tidy row per (activation,
gain, rerun, epoch, split, metric, layer), and the figures DIR/training-loss.png, training-beta.png
and training-isogap.png; prints Spearman's rank correlations of beta_0 and of the isometry gap at
initialization with the training loss at the last epoch, over all activations and over those
with beta_0 < 0.98, each with two 90% bootstrap intervals: two-level (the activations and then
their reruns redrawn: how much rho depends on which activations and seeds were drawn) and
reruns only (seed noise alone).

The dose-response (--dose, default tanh; 'none' skips it) trains one activation at the --gains
(blocks' weights N(0, gain^2/fan_in), so beta_0 of act(gain x) varies continuously), writes
DIR/training-gain.csv and training-gain.png, and prints the slope of log10(training loss)
against beta_0 with its two-level bootstrap and t intervals. Existing output files are not
overwritten unless --force is given.

examples:
  isoinit train --out train                        # defaults: 8 activations + tanh at 6 gains, digits
  isoinit train --data teacher --epochs 5 --out DIR  # a task far from solved (isoinit.training.teacher_task)
  isoinit train --dose sin --gains 0.5,0.75,1,1.25,1.5 --activations relu,tanh,sigmoid --out DIR
  isoinit train --activations relu,tanh,sigmoid --epochs 20 --reruns 5 --out DIR
  isoinit train --data mixture --width 128 --depth 6 --lr 0.05 --out DIR --force
"""

OUTPUTS = ("training-loss", "training-beta", "training-isogap")
DOSE_OUTPUT = "training-gain"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``train`` subcommand to the ``isoinit`` parser."""
    from ..training import DEFAULT_ACTIVATIONS, DOSE_ACTIVATION, DOSE_GAINS, Protocol
    from ..training import train as _train

    defaults = _train.__kwdefaults__ or {}
    p = subparsers.add_parser(
        "train",
        help="train layer-normalized MLPs with SGD per activation: does isometry predict trainability?",
        description="Train the MLP of isoinit.training (blocks LayerNorm -> Linear -> activation, a linear "
        "read-out) with plain SGD on scikit-learn's digits (offline) for several activations and reruns, "
        "and measure the loss, accuracy and isometry gaps per epoch; then one activation at several "
        "pre-activation gains (needs pip install 'isoinit[torch]').",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--activations",
        default=",".join(DEFAULT_ACTIVATIONS),
        help=f"comma-separated activation specs (default: {','.join(DEFAULT_ACTIVATIONS)})",
    )
    p.add_argument(
        "--data",
        default="digits",
        choices=("digits", "mixture", "teacher"),
        help="the task: scikit-learn's digits, a Gaussian mixture, or the labels of a random depth-3 "
        "teacher network (isoinit.training.teacher_task); all offline (default: digits)",
    )
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
    p.add_argument(
        "--dose",
        metavar="ACT",
        default=DOSE_ACTIVATION,
        help=f"the activation of the dose-response, or 'none' (default: {DOSE_ACTIVATION})",
    )
    p.add_argument(
        "--gains",
        default=",".join(f"{g:g}" for g in DOSE_GAINS),
        help="comma-separated pre-activation gains of the dose-response, at least 3 "
        f"(default: {','.join(f'{g:g}' for g in DOSE_GAINS)})",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1, the fastest for these sizes)")
    p.add_argument("--out", metavar="DIR", required=True, help="output directory (created if missing)")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="the table's format (default: csv)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def _gains(text: str) -> list[float]:
    gains = []
    for item in (t.strip() for t in str(text).split(",")):
        if not item:
            continue
        try:
            gains.append(float(item))
        except ValueError:
            raise ValueError(f"--gains must be comma-separated numbers; got {text!r}") from None
    if len(set(gains)) < 3:
        raise ValueError(f"--gains must name at least 3 different gains for a slope; got {text!r}")
    return [check.real("--gains", g, 0.0, low_open=True) for g in gains]


def _interval(low: float, high: float, digits: int = 3) -> str:
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def _print_trainability(tr: Any) -> None:
    print(tr.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    level = f"{100 * tr.confidence:.0f}%"
    print(
        f"{level} intervals, {tr.boots} bootstrap resamples: two-level = activations and then their reruns "
        "redrawn; reruns only = seed noise alone"
    )
    for c, which in (
        (tr.beta, "all"),
        (tr.beta_nonlinear, f"beta0 < {tr.near_linear:g}"),
        (tr.gap, "all"),
        (tr.gap_nonlinear, f"beta0 < {tr.near_linear:g}"),
    ):
        print(
            f"Spearman rho({c.x}, training loss at epoch {tr.k}) = {c.rho:.3f} over {len(c.activations)} "
            f"activations ({which}): two-level {_interval(c.low, c.high)}, "
            f"reruns only {_interval(c.low_reruns, c.high_reruns)}"
        )


def _print_dose(d: Any) -> None:
    print(f"dose-response: {d.activation} at {len(d.table)} gains, training loss at epoch {d.k}")
    print(d.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    level = f"{100 * d.confidence:.0f}%"
    print(
        f"slope of log10(training loss) on beta0 = {d.slope:.3f} decades per unit beta0: {level} two-level "
        f"{_interval(d.low, d.high)} (gains and then their reruns redrawn), t {_interval(d.t_low, d.t_high)}, "
        f"reruns only {_interval(d.low_reruns, d.high_reruns)}; Spearman rho over the gains = {d.rho:.3f}"
    )


def _dose_run(dose: str, gains: list[float], result: Any, train_args: dict[str, Any], train: Callable[..., Any]) -> Any:
    """The dose-response run; the gain-1 networks of ``dose`` are reused from the comparison
    ``result`` when it trained them (same seeds, so the same networks)."""
    import pandas as pd

    from ..activations import resolve

    name = resolve(dose).name
    reuse = 1.0 in gains and name in result.settings["activations"]
    todo = [g for g in gains if not (reuse and g == 1.0)]
    run = train([dose], **train_args, gains=todo)
    if not reuse:
        return run
    df = result.frame
    kept = df[(df.activation == name) & (df.gain == 1.0)]
    settings = {**run.settings, "gains": sorted(gains)}
    return type(run)(pd.concat([kept, run.frame], ignore_index=True), settings, run.seconds)


def cmd_train(args: argparse.Namespace) -> int:
    """Run ``isoinit train``; the exit code."""
    from ..activations import resolve
    from ..figures import _registry
    from ..figures._measure import Context
    from ..figures.training import from_result
    from ..training import dose_response, save, train, trainability

    depth = check.integer("--depth", args.depth, 1)
    width = check.integer("--width", args.width, 1)
    acts = [a.strip() for a in str(args.activations).split(",") if a.strip()]
    if not acts:
        raise ValueError(f"--activations must name at least one activation; got {args.activations!r}")
    dose = None if str(args.dose).strip().lower() == "none" else str(args.dose).strip()
    gains = _gains(args.gains) if dose is not None else []
    if dose is not None:  # an unknown name fails now, not after the first training run
        try:
            resolve(dose)
        except ValueError as err:
            raise ValueError(f"--dose must be an activation or 'none' ({err})") from None
    out = output_dir("--out", args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "parquet" if args.format == "parquet" else "csv"
    table, dose_table = out / f"training.{suffix}", out / f"{DOSE_OUTPUT}.{suffix}"
    several = len({resolve(a).name for a in acts}) >= 2  # training-beta correlates activations
    pngs = [n for n in OUTPUTS if several or n != "training-beta"] + ([DOSE_OUTPUT] if dose is not None else [])
    outputs = [table, *([dose_table] if dose is not None else []), *(out / f"{name}.png" for name in pngs)]
    for f in outputs:  # checked before training
        _io.check_output("--out", f, overwrite=args.force, flag="--force")
    t0 = time.perf_counter()
    train_args: dict[str, Any] = {
        "data": args.data,
        "hidden": (width,) * depth,
        "epochs": args.epochs,
        "reruns": args.reruns,
        "lr": args.lr,
        "momentum": args.momentum,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "protocol": args.protocol,
        "threads": args.threads,
        "progress": False if args.quiet else None,
    }
    result = train(acts, **train_args)
    save(result, table, overwrite=args.force)
    print(f"{table}  ({len(result.frame)} rows, training {result.seconds:.1f} s)")
    dosed = None
    if dose is not None:
        dosed = _dose_run(dose, gains, result, train_args, train)
        save(dosed, dose_table, overwrite=args.force)
        print(f"{dose_table}  ({len(dosed.frame)} rows, training {dosed.seconds:.1f} s)")
    for name in pngs:
        figure = _registry.get(name)
        ctx = Context(name, figure.description, args.reruns, args.seed, args.protocol, 1.0)
        png = out / f"{name}.png"
        measured = from_result(ctx, dosed if name == DOSE_OUTPUT else result)
        _io.write_atomic(png, partial(figure.draw, ctx, measured), overwrite=args.force, flag="--force")
        print(png)
    if len(set(result.settings["activations"])) >= 2:
        _print_trainability(trainability(result))
    if dosed is not None:
        _print_dose(dose_response(dosed))
    print(f"# done in {time.perf_counter() - t0:.1f} s")
    return 0
