"""Command line: ``isoinit simulate ...`` (and the commands registered by other modules)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from .config import MLP

__all__ = ["add_network_options", "main", "mlp_from_args"]

EPILOG_SIMULATE = """examples:
  isoinit simulate --activation relu --norm layer --depth 30 --width 1000 --batch 10 \\
      --degeneracy 100 --runs 10 --seed 0 --csv relu.csv --plot relu.png
  isoinit simulate --activation tanh --center mf --scale layer --gain 2 --depth 20
  isoinit simulate --activation "leaky_relu(0.1)" --order norm-act --weights orthogonal
"""


def add_network_options(p: argparse.ArgumentParser) -> None:
    """The options that describe a network and its input batch (shared by simulate,
    meanfield and the figures)."""
    from .activations import available

    g = p.add_argument_group("network")
    g.add_argument(
        "--activation",
        default="relu",
        help="activation spec: " + ", ".join(available()) + "; a parameter as in 'leaky_relu(0.1)' (default: relu)",
    )
    g.add_argument(
        "--norm",
        default="layer",
        choices=["layer", "rms", "batch", "center", "mf", "none"],
        help="normalization preset (default: layer)",
    )
    g.add_argument("--center", choices=["none", "layer", "batch", "mf"], help="override the preset's centering")
    g.add_argument("--scale", choices=["none", "layer", "batch", "mf"], help="override the preset's scaling")
    g.add_argument("--order", default="act-norm", choices=["act-norm", "norm-act"], help="(default: act-norm)")
    g.add_argument("--depth", type=int, default=30, help="number of blocks L (default: 30)")
    g.add_argument("--width", type=int, default=1000, help="width d of every block (default: 1000)")
    g.add_argument("--gain", type=float, default=1.0, help="pre-activation gain (default: 1)")
    g.add_argument("--bias", type=float, default=0.0, help="bias standard deviation (default: 0)")
    g.add_argument("--weights", default="gaussian", choices=["gaussian", "orthogonal"], help="(default: gaussian)")
    g.add_argument("--eps", type=float, default=0.0, help="epsilon of layer/batch scaling (default: 0)")
    b = p.add_argument_group("input batch")
    b.add_argument("--batch", type=int, default=10, help="batch size n (default: 10)")
    b.add_argument("--input-dim", type=int, default=None, help="input dimension (default: --width)")
    b.add_argument(
        "--degeneracy",
        type=float,
        default=100.0,
        help="factor on the largest singular value of the Gaussian input (default: 100; 1 = plain)",
    )
    b.add_argument("--input-seed", type=int, default=0, help="seed of the input batch (default: 0)")


def mlp_from_args(args: argparse.Namespace) -> MLP:

    return MLP(
        args.depth,
        args.width,
        args.activation,
        args.norm,
        center=args.center,
        scale=args.scale,
        order=args.order,
        gain=args.gain,
        bias=args.bias,
        weights=args.weights,
        eps=args.eps,
    )


def inputs_from_args(args: argparse.Namespace) -> np.ndarray:
    from .inputs import degenerate

    return degenerate(args.batch, args.input_dim or args.width, args.degeneracy, seed=args.input_seed)


def _fmt(v: float) -> str:
    return f"{v:10.4g}" if np.isfinite(v) else f"{v!s:>10}"


def cmd_simulate(args: argparse.Namespace) -> int:
    from . import simulate

    mlp = mlp_from_args(args)
    x = inputs_from_args(args)
    t0 = time.perf_counter()
    traj = simulate(
        mlp,
        x,
        runs=args.runs,
        seed=args.seed,
        sampler=args.sampler,
        threads=args.threads,
        progress=None if not args.quiet else False,
    )
    elapsed = time.perf_counter() - t0
    gap, iso = traj.summary("gap"), traj.summary("isometry")
    print(
        f"# {mlp.label()}; depth {mlp.depth}, width {args.width}, batch {args.batch}, "
        f"degeneracy {args.degeneracy:g}; {args.runs} runs, seed {args.seed}, sampler {traj.sampler}"
    )
    print(
        f"# isometry gap -log I(G) and isometry I(G) of the block outputs over runs "
        f"(mean, standard deviation); {elapsed * 1e3:.1f} ms"
    )
    print(f"{'layer':>5} {'gap mean':>10} {'gap sd':>10} {'iso mean':>10} {'iso sd':>10}")
    for layer in range(mlp.depth + 1):
        print(
            f"{layer:5d} {_fmt(gap['mean'][layer])} {_fmt(gap['std'][layer])} "
            f"{_fmt(iso['mean'][layer])} {_fmt(iso['std'][layer])}"
        )
    if args.csv:
        frame = traj.to_frame()
        for key, value in (
            ("activation", mlp.act.name),
            ("norm", mlp.norm),
            ("center", mlp.centering),
            ("scale", mlp.scaling),
            ("order", mlp.order),
            ("gain", mlp.gain),
            ("width", args.width),
            ("seed", args.seed),
        ):
            frame.insert(0, key, value)
        frame.to_csv(args.csv, index=False)
        print(f"# wrote {len(frame)} rows to {args.csv}")
    if args.plot:
        from .plotting import new_figure, plot_runs, save

        fig, (ax,) = new_figure(width=5.0, height=3.6)
        plot_runs(ax, traj.gap, label=mlp.label())
        ax.set_yscale("log")
        ax.set_xlabel("layer l")
        ax.set_ylabel("isometry gap -log I(G^l)")
        ax.set_title(
            f"after {'normalization' if mlp.order == 'act-norm' else 'activation'} (block output); "
            f"{args.runs} runs, 10-90% band",
            fontsize=8,
        )
        ax.legend(fontsize=8)
        save(fig, args.plot)
        print(f"# wrote {args.plot}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from . import build_info

    for k, v in build_info().items():
        print(f"{k}: {v}")
    return 0


#: Extra subcommands registered by other modules: name -> (register(subparsers) function).
EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isoinit",
        description="Gram-matrix geometry of deep networks at initialization (Joudaki, Daneshmand, Bach 2023).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="run 'isoinit COMMAND --help' for the options and examples of each command",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "simulate",
        help="simulate random MLPs and print the per-layer isometry",
        description="Simulate random MLPs at initialization on the paper's degenerate input "
        "and print the per-layer isometry gap and isometry (mean and spread over runs).",
        epilog=EPILOG_SIMULATE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_network_options(p)
    r = p.add_argument_group("simulation")
    r.add_argument("--runs", type=int, default=10, help="independent networks (default: 10)")
    r.add_argument("--seed", type=int, default=0, help="seed of the networks (default: 0)")
    r.add_argument("--sampler", default="auto", choices=["auto", "gram", "weights"], help="(default: auto)")
    r.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: all)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    o = p.add_argument_group("output")
    o.add_argument("--csv", metavar="FILE", help="write the tidy per-run, per-layer metrics")
    o.add_argument("--plot", metavar="FILE", help="write a log-scale plot of the gap (PNG)")
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("info", help="how the compiled core was built (OpenMP, threads, SIMD)")
    p.set_defaults(func=cmd_info)
    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    found = list(EXTRA_COMMANDS)
    for module in ("isoinit._cli_theory", "isoinit._cli_sweep", "isoinit._cli_figures"):
        try:
            mod = __import__(module, fromlist=["register"])
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
            continue
        found.append(mod.register)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (TypeError, ValueError) as err:
        print(f"isoinit {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
