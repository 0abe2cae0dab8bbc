"""The path arguments of the commands: checked before any work, refused in one line naming the option.

Every path a command takes (``--csv``, ``--plot``, ``--out``, ``FILE.toml``) is checked before
the work that needs it: output files by ``isoinit._io.check_output`` (which names the
option), output directories by :func:`output_dir`, input files by :func:`input_file`. What
the file system still refuses later (a name too long, a path through a file, a directory
that became unwritable) is an :class:`OSError` carrying the path; :func:`describe` words it
as ``OPTION 'PATH': reason`` for :func:`isoinit.cli.main`, which prints it on one line and
returns 2, never a traceback.

A path argument is an option whose metavar is ``FILE``, ``DIR`` or ``FILE.<suffix>``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import _io

__all__ = ["check_given", "describe", "input_file", "output_dir", "path_options"]


def output_dir(option: str, value: object) -> Path:
    """A directory for output files, created by the command if missing.

    Raises
    ------
    NotADirectoryError
        If ``value`` is a file, or a file lies on its path.
    PermissionError
        If it (or the directory it would be created in) is not writable.
    """
    p = _io.as_path(option, value)
    if p.exists() and not p.is_dir():
        raise NotADirectoryError(f"{option} must be a directory; got the file {str(p)!r}")
    existing = p
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(f"{option} {str(p)!r}: {str(existing)!r} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"{option} {str(p)!r}: the directory {str(existing)!r} is not writable")
    return p


def input_file(option: str, value: object, what: str = "file") -> Path:
    """An existing, readable file (``what`` names it in messages: ``"sweep file"``).

    Raises
    ------
    FileNotFoundError
        If it does not exist.
    IsADirectoryError
        If it is a directory.
    PermissionError
        If it is not readable.
    """
    p = _io.as_path(option, value)
    if not p.exists():
        raise FileNotFoundError(f"{option} must be an existing {what}; got {str(p)!r}")
    if p.is_dir():
        raise IsADirectoryError(f"{option} {str(p)!r} is a directory; give a {what}")
    if not os.access(p, os.R_OK):
        raise PermissionError(f"{option} {str(p)!r} is not readable")
    return p


def _is_path(action: argparse.Action) -> bool:
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    return metavar in ("FILE", "DIR") or metavar.startswith("FILE.")


def _path_actions(parser: argparse.ArgumentParser, command: str) -> list[argparse.Action]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return [a for a in action.choices[command]._actions if _is_path(a)]
    return []


def _metavar(parser: argparse.ArgumentParser, command: str, dest: str) -> str:
    return next(str(a.metavar) for a in _path_actions(parser, command) if a.dest == dest)


def path_options(parser: argparse.ArgumentParser, command: str) -> dict[str, str]:
    """``{dest: option}`` of the path arguments of ``command`` (``"--csv"``; a positional by its metavar)."""
    return {
        a.dest: (a.option_strings[-1] if a.option_strings else str(a.metavar)) for a in _path_actions(parser, command)
    }


def check_given(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse an empty path argument (``--csv ''``), which a command would take as not given."""
    for dest, option in path_options(parser, args.command).items():
        if getattr(args, dest, None) == "":
            what = "a directory" if _metavar(parser, args.command, dest) == "DIR" else "a file"
            raise ValueError(f"{option} must be {what} path; got ''")


def _concerns(target: str, value: str) -> bool:
    """Whether the file system's ``target`` is the path argument ``value``, lies under it, or
    is the temporary file ``isoinit._io.write_atomic`` writes beside it."""
    if target == value or target.startswith(value.rstrip(os.sep) + os.sep):
        return True
    t, v = Path(target), Path(value)
    return t.parent == v.parent and t.name.startswith(f".{v.name}.")


def describe(parser: argparse.ArgumentParser, args: argparse.Namespace, err: OSError) -> tuple[str, int]:
    """One line for ``err`` and the exit status.

    The package's own message (it names the option) and an error of the file system about a
    path argument (worded ``OPTION 'PATH': reason``) are usage errors, status 2; any other
    error of the file system is status 1.
    """
    if err.filename is None:  # raised with a message by the package, which names the option
        return str(err), 2
    reason = (err.strerror or type(err).__name__).lower()
    name = err.filename
    target = os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else str(name)
    best: tuple[int, str, str] | None = None  # (length, option, value) of the closest argument
    for dest, option in path_options(parser, args.command).items():
        value = getattr(args, dest, None)
        if isinstance(value, str) and value and _concerns(target, value) and (best is None or len(value) > best[0]):
            best = (len(value), option, value)
    if best is None:
        return f"{target!r}: {reason}", 1
    _, option, value = best
    shown = repr(value) if target == value else f"{value!r} ({target!r})"
    return f"{option} {shown}: {reason}", 2
