"""Command line: ``isoinit hermite`` (Hermite coefficients, beta0, kernels) and ``isoinit meanfield``
(the infinite-width trajectory)."""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from .. import _validate as check
from ..networks.mlp import MLP
from ._common import (
    activation_help,
    add_network_options,
    check_table,
    fmt,
    inputs_from_args,
    mlp_from_args,
    write_table,
)

__all__ = ["DEFAULT_RHO", "cmd_hermite", "cmd_meanfield", "register"]

#: Correlations at which ``isoinit hermite`` prints the kernels.
DEFAULT_RHO: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99)

EPILOG_HERMITE = """examples:
  isoinit hermite relu
  isoinit hermite tanh --gain 2 --k 15
  isoinit hermite "leaky_relu(0.01)" --rho 0,0.5,0.9,0.999 --digits 6
  isoinit hermite he2

what it prints (Joudaki, Daneshmand, Bach 2023, section 4):
  c_k             normalized Hermite coefficients E[sigma(gain z) he_k(z)], he_k = He_k/sqrt(k!),
                  z ~ N(0, 1), so that sum_k c_k^2 = E sigma^2 (Parseval)
  beta0           c_1^2 / (E sigma^2 - c_0^2) in [0, 1]: 1 for linear activations, smaller
                  is more non-linear (relu 0.7335)
  contraction     1 / (2 - beta0): the factor by which the potential shrinks per layer with
                  layer normalization after the activation at infinite width
                  (2 - beta0 itself is not beta0)
  kbar(rho)       centered normalized kernel: the correlation after a layer-normalized
                  block whose input correlation is rho (slope beta0 at rho = 0)
  kappa(rho)      dual kernel E[sigma(u) sigma(v)], corr(u, v) = rho, unit variances
  rms(rho)        kappa(rho) / E sigma^2: the correlation after RMS normalization
"""

EPILOG_MEANFIELD = """examples:
  isoinit meanfield --activation relu --norm layer --depth 30 --batch 10 --degeneracy 100
  isoinit meanfield --activation relu --depth 30 --width 1000 --compare-runs 10
  isoinit meanfield --activation tanh --center mf --scale layer --gain 2 --depth 20
  isoinit meanfield --activation selu --norm none --order norm-act --csv selu_mf.csv
  isoinit meanfield --architecture residual-mlp --norm-position post --alpha "1/sqrt(L)" --depth 30

The mean-field trajectory is the infinite-width limit of 'isoinit simulate' with the same
options (--width only sets the input dimension, unless --input-dim does, and the width of
the simulated comparison). Batch normalization has no entrywise infinite-width map and is
refused, as are rotary embeddings and --init gpt2 or normal (their variance grows with the
width); attention and transformers have a deterministic limit, an expectation over the
Gaussian scores computed by Monte Carlo with its standard error. Values are at the block
outputs (after normalization for act-norm, after the activation for norm-act, the residual
stream for block networks); layer 0 is the input with rows scaled to mean square 1 for an MLP
(input_norm 'rows'), the input as given for a block network.
"""


def _num(v: float, digits: int) -> str:
    """Fixed-point with ``digits`` decimals in a readable range, scientific outside it,
    0 below 1e-14."""
    if not math.isfinite(v):
        return str(v)
    if abs(v) < 1e-14:  # below the accuracy of hermite (1e-12 absolute): a numerical zero
        return f"{0.0:.{digits}f}"
    if 1e-3 <= abs(v) < 1e6:
        return f"{v:.{digits}f}"
    return f"{v:.{max(digits - 1, 1)}e}"


def _rho_list(text: str) -> list[float]:
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--rho must be comma-separated numbers in [-1, 1]; got {text!r}") from None
    if not values or not all(-1.0 <= v <= 1.0 for v in values):
        raise ValueError(f"--rho must be comma-separated numbers in [-1, 1]; got {text!r}")
    return values


def cmd_hermite(args: argparse.Namespace) -> int:
    """Print the Hermite coefficients, beta0, the contraction factor and kernels."""
    from ..activations import resolve
    from ..theory import hermite

    act = resolve(args.activation)
    check.integer("--k", args.k, 0, 1000)
    check.integer("--digits", args.digits, 1, 15)
    check.real("--gain", args.gain)
    rho = _rho_list(args.rho) if args.rho is not None else list(DEFAULT_RHO)
    g, dg = args.gain, args.digits
    c = hermite.coefficients(act, args.k, gain=g)
    m = hermite.moments(act, g)
    w = dg + 8
    print(f"# activation {act.name}, gain {g:g}: sigma(gain x) with z ~ N(0, 1)")
    print("# normalized Hermite coefficients c_k = E[sigma(gain z) he_k(z)], he_k = He_k / sqrt(k!)")
    print(f"{'k':>4} {'c_k':>{w}} {'c_k^2':>{w}}")
    for k, ck in enumerate(c):
        print(f"{k:4d} {_num(float(ck), dg):>{w}} {_num(float(ck * ck), dg):>{w}}")
    partial = float(np.sum(c * c))
    print(f"# sum of c_k^2 for k <= {args.k}: {_num(partial, dg)} of E sigma^2 = {_num(m.m2, dg)}")
    rows = [
        ("E sigma^2", m.m2),
        ("c_0 = E sigma", m.c0),
        ("c_1 = E[z sigma]", m.c1),
        ("variance E sigma^2 - c_0^2", m.variance),
    ]
    constant = not m.variance > 1e-14 * max(m.m2, 1e-300)
    if not constant:
        b = hermite.beta0(act, g)
        rows += [
            ("beta0 = c_1^2 / (E sigma^2 - c_0^2)", b),
            ("contraction factor 1 / (2 - beta0)", hermite.contraction_factor(act, g)),
        ]
    for name, value in rows:
        print(f"{name:<40} {_num(value, dg):>{w}}")
    if not constant:
        from ..theory.bounds import fixed_point

        rms_fp = fixed_point(act, kernel="rms", gain=g)
        print("# the contraction factor is for layer (or mf) normalization after the activation:")
        print("#   correlations contract to 0 (isometry) by that factor per layer")
        print(f"# with RMS normalization after the activation instead: {rms_fp.kind}, rho* = {rms_fp.rho_star:.4g},")
        print(f"#   rate {rms_fp.rate:.4g} per layer (isoinit.bounds.predict(net) answers for any network)")
    if constant:
        print("beta0 and kbar are undefined: the activation is constant under N(0, gain^2)")
    print("# kernels at input correlation rho: kbar = centered normalized (layer norm after the")
    print("# activation), kappa = dual E[sigma(u) sigma(v)], rms = kappa / E sigma^2")
    r = np.asarray(rho)
    kappa = hermite.dual_kernel(act, r, gain=g)
    rms = hermite.rms_kernel(act, r, gain=g) if m.m2 > 0 else np.full_like(r, np.nan)
    kbar = np.full_like(r, np.nan) if constant else hermite.centered_kernel(act, r, gain=g)
    print(f"{'rho':>8} {'kbar':>{w}} {'kappa':>{w}} {'rms':>{w}}")
    for i, x in enumerate(rho):
        print(
            f"{x:8.4g} {_num(float(kbar[i]), dg):>{w}} {_num(float(kappa[i]), dg):>{w}} {_num(float(rms[i]), dg):>{w}}"
        )
    return 0


def cmd_meanfield(args: argparse.Namespace) -> int:
    """Print the infinite-width trajectory, optionally beside a simulation."""
    from ..theory.meanfield import trajectory

    if args.compare_runs < 0:
        raise ValueError(f"--compare-runs must be >= 0 (0 = no simulation); got {args.compare_runs}")
    network = mlp_from_args(args)
    x = inputs_from_args(args)
    csv = check_table("--csv", args.csv, args.force) if args.csv else None
    t0 = time.perf_counter()
    mf = trajectory(network, x)
    elapsed = time.perf_counter() - t0
    where = "residual stream"
    if isinstance(network, MLP):
        where = {"act-norm": "after normalization", "norm-act": "after the activation"}[network.order]
    print(
        f"# {network.label()}; depth {network.depth}, batch {args.batch}, input dim {x.shape[1]}, "
        f"degeneracy {args.degeneracy:g}, input seed {args.input_seed}"
    )
    print(
        f"# infinite-width (mean-field) isometry gap -log I(G), isometry I(G) and potential "
        f"of the block outputs ({where}); {elapsed * 1e3:.1f} ms"
    )
    cols = f"{'layer':>5} {'mf gap':>10} {'mf iso':>10} {'mf pot':>10}"
    sim = None
    if args.compare_runs:
        from ..simulate import simulate

        t0 = time.perf_counter()
        traj = simulate(
            network,
            x,
            runs=args.compare_runs,
            seed=check.integer("--seed", args.seed, 0, 2**64 - 1),
            threads=None if args.threads is None else check.integer("--threads", args.threads, 1, 4096),
            progress=None if not args.quiet else False,
        )
        sim = traj.summary("gap")
        print(
            f"# simulated at width {args.width}: mean and standard deviation of the gap over "
            f"{args.compare_runs} runs, seed {args.seed}; {time.perf_counter() - t0:.2f} s"
        )
        cols += f" {'sim gap':>10} {'sim sd':>10}"
    print(cols)
    for layer in range(network.depth + 1):
        line = f"{layer:5d} {fmt(mf.gap[layer])} {fmt(mf.isometry[layer])} {fmt(mf.potential[layer])}"
        if sim is not None:
            line += f" {fmt(sim['mean'][layer])} {fmt(sim['std'][layer])}"
        print(line)
    if csv is not None:
        frame = mf.to_frame()
        if sim is not None:
            frame["sim_gap_mean"] = sim["mean"].to_numpy()
            frame["sim_gap_std"] = sim["std"].to_numpy()
            frame["sim_runs"] = sim["runs"].to_numpy()
        write_table(frame, csv, args.force)  # the mean field's provenance beside it (FILE.json)
        print(f"# wrote {len(frame)} rows to {args.csv}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``hermite`` and ``meanfield`` commands to the ``isoinit`` parser."""
    p = sub.add_parser(
        "hermite",
        help="Hermite coefficients, beta0, contraction factor and kernels of an activation",
        description="Print the normalized Hermite coefficients c_0..c_K of an activation at a "
        "pre-activation gain, E sigma^2, beta0, the contraction factor 1/(2 - beta0) of the "
        "potential, and the centered, dual and RMS kernels at a few correlations.",
        epilog=EPILOG_HERMITE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("activation", metavar="ACTIVATION", help=activation_help())
    p.add_argument("--k", type=int, default=10, help="highest coefficient order K (default: 10)")
    p.add_argument(
        "--gain", type=float, default=1.0, help="pre-activation gain: the activation is x -> sigma(gain x) (default: 1)"
    )
    p.add_argument(
        "--rho",
        default=None,
        metavar="R1,R2,...",
        help="correlations for the kernels (default: 0,0.25,0.5,0.75,0.9,0.99)",
    )
    p.add_argument("--digits", type=int, default=4, help="decimals printed (default: 4)")
    p.set_defaults(func=cmd_hermite)

    p = sub.add_parser(
        "meanfield",
        help="the infinite-width trajectory, optionally beside a simulation",
        description="Print the infinite-width (mean-field) isometry gap, isometry and potential "
        "per layer for the network and input options of 'isoinit simulate', and with "
        "--compare-runs R the simulated mean gap over R runs at the same options.",
        epilog=EPILOG_MEANFIELD,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_network_options(p)
    r = p.add_argument_group("comparison with simulation")
    r.add_argument(
        "--compare-runs",
        type=int,
        default=0,
        metavar="R",
        help="also simulate R networks at --width and print their mean gap (default: 0 = off)",
    )
    r.add_argument("--seed", type=int, default=0, help="seed of the simulated networks (default: 0)")
    r.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: all)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    o = p.add_argument_group("output")
    o.add_argument(
        "--csv", metavar="FILE", help="write the mean-field metrics per layer (and the simulated gap summary)"
    )
    o.add_argument("--force", action="store_true", help="replace an existing --csv file (default: refuse)")
    p.set_defaults(func=cmd_meanfield)
