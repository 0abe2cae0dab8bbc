"""What the commands share: the network and input options, and number formatting."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np

from ..networks.blocks import Architecture, BlockNetwork, Init, Position
from ..networks.fields import field
from ..networks.mlp import MLP
from ..results import CONFIG_FIELDS

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "NETWORK_OPTIONS",
    "activation_help",
    "add_network_options",
    "check_table",
    "configurations_from_args",
    "fmt",
    "inputs_from_args",
    "mlp_from_args",
    "write_table",
]

#: The values of ``--architecture``.
ARCHITECTURES: tuple[str, ...] = get_args(Architecture)

#: The depth and width of the command line's networks (the paper's block: an MLP has no default).
DEFAULT_DEPTH, DEFAULT_WIDTH = 30, 1000

#: The destinations of the network options: the :class:`~isoinit.MLP` fields, as the
#: configuration columns of every table name them.
NETWORK_OPTIONS: tuple[str, ...] = CONFIG_FIELDS


def activation_help() -> str:
    """The registered activations, as the help of an activation option lists them."""
    from ..activations import available

    return "activation spec: " + ", ".join(available()) + "; a parameter as in 'leaky_relu(0.1)'"


def add_network_options(p: argparse.ArgumentParser, *, multi: bool = False) -> None:
    """The options that describe a network and its input batch (shared by simulate,
    meanfield and the figures); their choices are the configuration's option types.

    With ``multi``, every network option takes one or more values (``nargs="+"``);
    ``configurations_from_args`` expands them to one namespace per combination.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The (sub)command's parser.
    multi : bool
        Whether each network option takes several values.
    """
    g = _Multi(p.add_argument_group("network"), multi)
    g.add_argument(
        "--activation",
        default=field("activation").default,
        action=_Explicit,
        help=activation_help() + "; a transformer's default is Transformer's (gelu)",
    )
    g.add_argument("--norm", default=field("norm").default, choices=field("norm").choices, help="normalization preset")
    g.add_argument("--center", choices=field("center").choices, help="override the preset's centering")
    g.add_argument("--scale", choices=field("scale").choices, help="override the preset's scaling")
    g.add_argument("--order", default=field("order").default, choices=field("order").choices)
    g.add_argument("--depth", type=int, default=DEFAULT_DEPTH, action=_Explicit, help="number of blocks L")
    g.add_argument("--width", type=int, default=DEFAULT_WIDTH, action=_Explicit, help="width d of every block")
    g.add_argument("--gain", type=float, default=field("gain").default, help="pre-activation gain")
    g.add_argument("--bias", type=float, default=field("bias").default, help="bias standard deviation")
    g.add_argument("--weights", default=field("weights").default, choices=field("weights").choices)
    g.add_argument("--eps", type=float, default=field("eps").default, help="epsilon of layer/batch scaling")
    g.add_argument(
        "--architecture",
        default="mlp",
        choices=ARCHITECTURES,
        help="mlp (the paper's), residual-mlp or transformer (blocks; default: mlp)",
    )
    a = p.add_argument_group("blocks (--architecture residual-mlp or transformer, or --preset)")
    a.add_argument(
        "--preset",
        choices=sorted(PRESET_NAMES),
        default=None,
        help="a transformer as the transformers package builds it (isoinit.presets): the preset's "
        "depth, width and heads unless --depth, --width or --heads are given; the input is taken as "
        "token embeddings at the models' scale (rows N(0, 0.02^2), --batch tokens)",
    )
    a.add_argument(
        "--heads", type=int, default=1, action=_Explicit, help="attention heads, must divide --width (default: 1)"
    )
    a.add_argument("--ratio", type=float, default=4.0, help="hidden width / width of the MLP blocks (default: 4)")
    a.add_argument("--one-layer", action="store_true", help="residual-mlp: the one-layer block sigma(Lin(U))")
    a.add_argument("--norm-position", default="pre", choices=get_args(Position), help="(default: pre)")
    a.add_argument("--alpha", default="1", help="residual scale: a number or 1/sqrt(L) (default: 1)")
    a.add_argument("--init", default="gaussian", choices=get_args(Init), help="(default: gaussian)")
    a.add_argument("--causal", action="store_true", help="transformer: causal attention mask")
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


#: The presets of --preset (isoinit.presets.PRESETS' names).
PRESET_NAMES = ("gpt2", "bert", "llama")


class _Explicit(argparse.Action):
    """Store the value and remember that the user gave it (``args._explicit``), so that an
    option the user did not give can take the chosen network's own default."""

    def __call__(
        self, parser: argparse.ArgumentParser, ns: argparse.Namespace, values: Any, option: Any = None
    ) -> None:
        setattr(ns, self.dest, values)
        explicit = set(getattr(ns, "_explicit", ()))
        explicit.add(self.dest)
        ns._explicit = explicit


def _given(args: argparse.Namespace, name: str) -> bool:
    return name in getattr(args, "_explicit", ())


class _Multi:
    """An argument group whose options take ``nargs="+"`` when ``multi`` is set."""

    def __init__(self, group: argparse._ArgumentGroup, multi: bool) -> None:
        self.group, self.multi = group, multi

    def add_argument(self, *names: str, **kw: object) -> None:
        default = kw.get("default")
        if default is not None:  # the default, as the API declares it
            shown = f"{default:g}" if isinstance(default, float) else str(default)
            kw["help"] = f"{kw['help']} (default: {shown})" if kw.get("help") else f"(default: {shown})"
        if self.multi:
            kw["nargs"] = "+"
            if isinstance(kw.get("help"), str):
                kw["help"] = f"{kw['help']}; several values: one configuration each"
        self.group.add_argument(*names, **kw)  # type: ignore[arg-type]


def configurations_from_args(args: argparse.Namespace) -> list[argparse.Namespace]:
    """One namespace per combination of the network options' values (cartesian product,
    in the order given; a single value everywhere gives ``[args]``)."""
    import itertools

    values = {k: getattr(args, k) for k in NETWORK_OPTIONS if hasattr(args, k)}
    lists = {k: v for k, v in values.items() if isinstance(v, list)}
    out = []
    for combo in itertools.product(*lists.values()):
        ns = argparse.Namespace(**vars(args))
        for k, v in zip(lists, combo, strict=True):
            setattr(ns, k, v)
        out.append(ns)
    return out


def _option(name: str, err: Exception) -> Exception:
    """The library's error for a parameter, re-worded with the command-line option's name."""
    text = str(err)
    if text.startswith(name + " ") or text.startswith(name + "["):
        text = f"--{name}{text[len(name) :]}"
    else:
        text = f"--{name}: {text}"
    return type(err)(text)


def mlp_from_args(args: argparse.Namespace) -> MLP | BlockNetwork:
    """The :class:`~isoinit.MLP` (or block network, ``--architecture``) of the network options.

    Each option is checked under its own name (``--depth``, ``--activation``, ...), so a
    message names what the user typed.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of a parser that :func:`add_network_options` set up.

    Returns
    -------
    MLP or block network
    """
    from .. import _validate as check
    from ..activations import resolve
    from ..networks.mlp import MAX_DEPTH, MAX_WIDTH

    depth = check.integer("--depth", args.depth, 1, MAX_DEPTH)
    width = check.integer("--width", args.width, 1, MAX_WIDTH)
    gain = check.real("--gain", args.gain, 0.0)
    bias = check.real("--bias", args.bias, 0.0)
    eps = check.real("--eps", args.eps, 0.0)
    try:
        resolve(args.activation)
    except (TypeError, ValueError) as err:
        raise _option("activation", err) from None
    if getattr(args, "preset", None):
        return _preset_from_args(args)
    architecture = getattr(args, "architecture", "mlp")
    if architecture != "mlp":
        return _network_from_args(args, architecture, depth, width, gain, bias, eps)
    return MLP(
        depth,
        width,
        args.activation,
        args.norm,
        center=args.center,
        scale=args.scale,
        order=args.order,
        gain=gain,
        bias=bias,
        weights=args.weights,
        eps=eps,
    )


def _preset_from_args(args: argparse.Namespace) -> BlockNetwork:
    """The network of ``--preset``: the preset's shape unless --depth, --width, --heads are given.

    Sets ``args.width`` to the network's width (the input batch's dimension)."""
    from .. import presets

    kw = {k: getattr(args, k) for k in ("depth", "width", "heads") if _given(args, k)}
    try:
        net = presets.PRESETS[args.preset](**kw)
    except (TypeError, ValueError) as err:
        text = str(err)
        name = text.split(" ", 1)[0].replace("_", "-")
        raise type(err)(f"--{name} {text.split(' ', 1)[1]}" if " " in text else text) from None
    args.width = net.width
    return net


def _network_from_args(
    args: argparse.Namespace, architecture: str, depth: int, width: int, gain: float, bias: float, eps: float
) -> BlockNetwork:
    """The block network of ``--architecture residual-mlp`` or ``transformer``."""
    from ..networks.blocks import ResidualMLP, Transformer

    if args.norm == "mf":
        raise ValueError("--norm mf is only defined for --architecture mlp")
    alpha: Any = args.alpha
    try:
        alpha = float(args.alpha)
    except ValueError:
        pass
    common = {"gain": gain, "bias": bias, "eps": eps, "weights": args.weights, "init": args.init}
    target = ResidualMLP if architecture == "residual-mlp" else Transformer
    # an option the user did not give takes the network's own default (one source: the API)
    activation = args.activation if _given(args, "activation") else _default(target, "activation")
    try:
        if architecture == "residual-mlp":
            return ResidualMLP(
                depth,
                width,
                activation,
                args.norm,
                norm_position=args.norm_position,
                ratio=None if args.one_layer else args.ratio,
                alpha=alpha,
                **common,
            )
        if args.norm_position == "none":
            raise ValueError("norm_position must be 'pre' or 'post' for a transformer; got 'none'")
        return Transformer(
            depth,
            width,
            args.heads,
            ratio=args.ratio,
            norm_position=args.norm_position,
            causal=args.causal,
            activation=activation,
            norm=args.norm,
            alpha=alpha,
            **common,
        )
    except (TypeError, ValueError) as err:
        text = str(err)
        name = text.split(" ", 1)[0].replace("_", "-")
        raise type(err)(f"--{name} {text.split(' ', 1)[1]}" if " " in text else text) from None


def _default(cls: type, name: str) -> Any:
    """The dataclass field default of ``cls.name``."""
    import dataclasses

    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def inputs_from_args(args: argparse.Namespace) -> np.ndarray:
    """The degenerate input batch of the input options (``batch x input-dim``).

    Each option is checked under its own name (``--batch``, ``--input-dim``, ...).
    """
    from .. import _validate as check
    from ..inputs import degenerate

    n = check.integer("--batch", args.batch, 2, 10**7)
    if getattr(args, "preset", None):  # token embeddings at the models' scale
        from ..inputs import gaussian

        return 0.02 * gaussian(n, args.width, seed=check.integer("--input-seed", args.input_seed, 0, 2**64 - 1))
    d = args.width if args.input_dim is None else check.integer("--input-dim", args.input_dim, 1, 10**7)
    degeneracy = check.real("--degeneracy", args.degeneracy, 1.0)
    seed = check.integer("--input-seed", args.input_seed, 0, 2**64 - 1)
    return degenerate(n, d, degeneracy, seed=seed)


def fmt(v: float) -> str:
    """A table entry: 4 significant digits in 10 columns (``nan``/``inf`` right-aligned)."""
    return f"{v:10.4g}" if np.isfinite(v) else f"{v!s:>10}"


def check_table(option: str, path: object, force: bool) -> Path:
    """The CSV file of ``option`` (``--csv``) and its provenance file ``FILE.json``, checked
    before any work as :func:`isoinit.sweeps.save` checks them (suffix, directory, ``--force``)."""
    from .. import _io
    from ..sweeps._files import _check_path

    return _check_path(path, overwrite=force, name=option, flag="--force", formats=_io.CSV)


def write_table(table: pd.DataFrame, path: Path, force: bool) -> None:
    """Write ``table`` to the CSV ``path`` (from :func:`check_table`) and its ``attrs`` (the
    provenance) beside it in ``path.json``, as :func:`isoinit.sweeps.save` does."""
    from ..sweeps._files import write_table as write

    write(table, path, overwrite=force, flag="--force")
