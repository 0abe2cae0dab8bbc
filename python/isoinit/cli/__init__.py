"""The command line ``isoinit COMMAND ...``.

One module per group of subcommands, each with a ``register(subparsers)`` that adds its
commands (setting ``func`` to the function that runs one), listed once in :data:`COMMANDS`:

* ``_simulate``: ``simulate``, ``info``
* ``_theory``: ``hermite``, ``meanfield``
* ``_sweep``: ``sweep``
* ``_figure``: ``figure``
* ``_train``: ``train`` (PyTorch: :mod:`isoinit.training`)

``_common`` holds the network options shared by ``simulate``, ``meanfield`` (and any
command that builds a network). A command raises :class:`TypeError` or
:class:`ValueError` for bad input, and the errors of ``isoinit._io`` for an output file
it must not or cannot write (:class:`FileExistsError` without ``--force``, a missing or
read-only directory, a directory given for a file); :func:`main` prints it as
``isoinit COMMAND: error: MESSAGE`` and returns 2. ``_pathargs`` checks the path arguments
and words what the file system refuses later as ``OPTION 'PATH': reason``.
Ctrl-C (:class:`KeyboardInterrupt`) ends a command with one line on stderr and status 130
(128 + SIGINT, as shells report it), not a traceback; output files are written atomically,
so none is left half-written. ``docs/developing.md`` says how to add
a command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import _figure, _pathargs, _simulate, _sweep, _theory, _train
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
    """Run ``isoinit`` with ``argv`` (default: the process arguments); the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``isoinit`` (``["simulate", "--depth", "10"]``).

    Returns
    -------
    int
        0 on success, 2 for bad input, 130 after Ctrl-C.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _pathargs.check_given(parser, args)
        return int(args.func(args))
    except KeyboardInterrupt:  # the API raises it; a command ends with one line (a progress bar clears itself)
        print(f"isoinit {args.command}: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except (TypeError, ValueError) as err:
        print(f"isoinit {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a path argument (isoinit.cli._pathargs): one line naming the option
        message, status = _pathargs.describe(parser, args, err)
        print(f"isoinit {args.command}: error: {message}", file=sys.stderr)
        return status
