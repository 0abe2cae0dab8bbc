"""What the commands share: the network and input options, and number formatting."""

from __future__ import annotations

import argparse
from typing import get_args

import numpy as np

from ..config import MLP, Centering, Norm, Order, Scaling, Weights

__all__ = ["activation_help", "add_network_options", "fmt", "inputs_from_args", "mlp_from_args"]


def activation_help() -> str:
    """The registered activations, as the help of an activation option lists them."""
    from ..activations import available

    return "activation spec: " + ", ".join(available()) + "; a parameter as in 'leaky_relu(0.1)'"


def add_network_options(p: argparse.ArgumentParser) -> None:
    """The options that describe a network and its input batch (shared by simulate,
    meanfield and the figures); their choices are the configuration's option types."""
    g = p.add_argument_group("network")
    g.add_argument("--activation", default="relu", help=activation_help() + " (default: relu)")
    g.add_argument(
        "--norm",
        default="layer",
        choices=get_args(Norm),
        help="normalization preset (default: layer)",
    )
    g.add_argument("--center", choices=get_args(Centering), help="override the preset's centering")
    g.add_argument("--scale", choices=get_args(Scaling), help="override the preset's scaling")
    g.add_argument("--order", default="act-norm", choices=get_args(Order), help="(default: act-norm)")
    g.add_argument("--depth", type=int, default=30, help="number of blocks L (default: 30)")
    g.add_argument("--width", type=int, default=1000, help="width d of every block (default: 1000)")
    g.add_argument("--gain", type=float, default=1.0, help="pre-activation gain (default: 1)")
    g.add_argument("--bias", type=float, default=0.0, help="bias standard deviation (default: 0)")
    g.add_argument("--weights", default="gaussian", choices=get_args(Weights), help="(default: gaussian)")
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
    """The :class:`~isoinit.MLP` of the network options."""
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
    """The degenerate input batch of the input options (``batch x input-dim``)."""
    from ..inputs import degenerate

    return degenerate(args.batch, args.input_dim or args.width, args.degeneracy, seed=args.input_seed)


def fmt(v: float) -> str:
    """A table entry: 4 significant digits in 10 columns (``nan``/``inf`` right-aligned)."""
    return f"{v:10.4g}" if np.isfinite(v) else f"{v!s:>10}"
