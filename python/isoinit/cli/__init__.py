"""The command line ``isoinit COMMAND ...``.

One module per group of subcommands, each with a ``register(subparsers)`` that adds its
commands (setting ``func`` to the function that runs one), listed once in :data:`COMMANDS`:

* :mod:`._simulate`: ``simulate``, ``info``
* :mod:`._theory`: ``hermite``, ``meanfield``
* :mod:`._sweep`: ``sweep``
* :mod:`._figure`: ``figure``
* :mod:`._train`: ``train`` (PyTorch: :mod:`isoinit.training`)

:mod:`._common` holds the network options shared by ``simulate``, ``meanfield`` (and any
command that builds a network). A command raises :class:`TypeError` or
:class:`ValueError` for bad input, and the errors of :mod:`isoinit._io` for an output file
it must not or cannot write (:class:`FileExistsError` without ``--force``, a missing or
read-only directory); :func:`main` prints it as ``isoinit COMMAND: error: MESSAGE`` and
returns 2. ``docs/developing.md`` says how to add
a command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import _figure, _simulate, _sweep, _theory, _train
from ._common import add_network_options, mlp_from_args

__all__ = ["COMMANDS", "add_network_options", "build_parser", "main", "mlp_from_args"]


def __dir__() -> list[str]:
    return sorted(__all__)


#: The subcommand groups, in the order ``isoinit --help`` lists them.
COMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    _simulate.register,
    _theory.register,
    _sweep.register,
    _figure.register,
    _train.register,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``isoinit`` parser with every subcommand of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="isoinit",
        description="Gram-matrix geometry of deep networks at initialization (Joudaki, Daneshmand, Bach 2023).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="run 'isoinit COMMAND --help' for the options and examples of each command",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``isoinit`` with ``argv`` (default: the process arguments); the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (TypeError, ValueError, FileExistsError, FileNotFoundError, NotADirectoryError, PermissionError) as err:
        print(f"isoinit {args.command}: error: {err}", file=sys.stderr)
        return 2
