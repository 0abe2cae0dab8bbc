"""One place for writing output files: checked before any work, written atomically.

Every writer of the package (:func:`isoinit.sweeps.save`, :func:`isoinit.figures.make`,
the ``--csv``/``--plot``/``--out`` files of the command line) goes through this module:

* :func:`check_output` checks a target path *before* the work that produces it: its
  directory exists and is writable, its suffix is one the writer knows, it is not a
  directory, and it does not exist unless ``overwrite`` is given. A file that exists
  raises :class:`FileExistsError` naming the path and the flag that allows replacing it
  (``overwrite=True`` in the API, ``--force`` on the command line).
* :func:`write_atomic` writes through a temporary file in the target's directory
  (``.NAME.<random>.partial`` + the target's suffixes, so that pandas and matplotlib still
  infer the format and compression), flushes and fsyncs it, then renames it over the
  target with :func:`os.replace`. A crash, an exception or Ctrl-C during the write leaves
  the old file (or no file) at the target and removes the temporary file: never a
  half-written file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

__all__ = ["as_path", "check_output", "write_atomic"]

T = TypeVar("T")


def as_path(name: str, path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or os.PathLike); got {type(path).__name__}")
    p = Path(path)
    if str(path) == "":
        raise ValueError(f"{name} must be a file path; got ''")
    return p


def check_output(
    name: str,
    path: object,
    *,
    overwrite: bool,
    flag: str = "overwrite=True",
    suffixes: Sequence[str] | None = None,
) -> Path:
    """Check that ``path`` can be written, before computing what goes there.

    Parameters
    ----------
    name : str
        How the caller calls the path in messages (``"path"``, ``"--csv"``).
    path : str or os.PathLike
        The target file.
    overwrite : bool
        Whether an existing file may be replaced.
    flag : str
        What allows replacing it, for the message (``"overwrite=True"``, ``"--force"``).
    suffixes : sequence of str, optional
        Allowed endings of the file name (case-insensitive), e.g. ``(".csv", ".png")``.

    Returns
    -------
    Path

    Raises
    ------
    TypeError
        If ``path`` is not a path.
    ValueError
        If its suffix is not among ``suffixes``.
    FileNotFoundError, NotADirectoryError, PermissionError
        If its directory is missing, not a directory or not writable.
    IsADirectoryError
        If ``path`` is a directory.
    FileExistsError
        If it exists and ``overwrite`` is false.
    """
    p = as_path(name, path)
    if suffixes is not None and not any(p.name.lower().endswith(s.lower()) for s in suffixes):
        raise ValueError(f"{name} must end in {', '.join(suffixes)}; got {str(p)!r}")
    parent = p.parent
    if not parent.exists():
        raise FileNotFoundError(f"{name} {str(p)!r}: the directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise NotADirectoryError(f"{name} {str(p)!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{name} {str(p)!r}: the directory {str(parent)!r} is not writable")
    if p.is_dir():
        raise IsADirectoryError(f"{name} {str(p)!r} is a directory; give a file path")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{name} {str(p)!r} already exists; pass {flag} to replace it")
    return p


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, writer: Callable[[Path], T], *, overwrite: bool = True, flag: str = "overwrite=True") -> T:
    """Run ``writer(tmp)`` on a temporary path beside ``path``, then move it onto ``path``.

    The temporary file is flushed to disk (``fsync``) and renamed over ``path`` with
    :func:`os.replace` (atomic on POSIX and Windows); on any exception, including
    :class:`KeyboardInterrupt`, it is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : Path
        The target (checked by :func:`check_output` beforehand).
    writer : callable
        Writes the whole file to the path it is given (``df.to_csv``, ``fig.savefig``...);
        its return value is returned.
    overwrite, flag
        If ``overwrite`` is false and ``path`` appeared while writing, raise
        :class:`FileExistsError` (naming ``flag``) instead of replacing it.
    """
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.partial{''.join(path.suffixes)}"
    try:
        result = writer(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if not overwrite and path.exists():
            raise FileExistsError(f"{str(path)!r} already exists; pass {flag} to replace it")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return result
