"""One place for writing output files: checked before any work, written atomically.

Every writer of the package (:func:`isoinit.sweeps.save`, :func:`isoinit.figures.make`,
the ``--csv``/``--plot``/``--out`` files of the command line) goes through this module:

* :func:`output_format` is the one suffix rule of every writer: it maps a file name's
  ending to a format of the writer's table (:data:`CSV`, :data:`TABLE`, :data:`RESULT`,
  :data:`IMAGE`) or raises :class:`ValueError` naming the parameter (or option) and the
  allowed endings.
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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

__all__ = ["CSV", "IMAGE", "RESULT", "TABLE", "as_path", "check_output", "output_format", "write_atomic"]

T = TypeVar("T")

#: The writers' formats by file-name ending (compared case-insensitively). A CSV may be
#: compressed (pandas infers the compression from the ending, also on read).
CSV: Mapping[str, str] = {".csv": "csv", ".csv.gz": "csv", ".csv.bz2": "csv", ".csv.xz": "csv"}
#: Tables (:func:`isoinit.sweeps.save`, ``isoinit sweep --out``): CSV or Parquet.
TABLE: Mapping[str, str] = {**CSV, ".parquet": "parquet", ".pq": "parquet"}
#: Results (:meth:`Trajectory.save`, :func:`isoinit.load`).
RESULT: Mapping[str, str] = {".npz": "npz", ".nc": "netcdf"}
#: Plots (``isoinit simulate --plot``): matplotlib picks the format from the ending.
IMAGE: Mapping[str, str] = {".png": "png", ".pdf": "pdf", ".svg": "svg"}


def as_path(name: str, path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or os.PathLike); got {type(path).__name__}")
    p = Path(path)
    if str(path) == "":
        raise ValueError(f"{name} must be a file path; got ''")
    return p


def output_format(name: str, path: str | os.PathLike[str], formats: Mapping[str, str] | Sequence[str]) -> str:
    """The format of ``path`` by the ending of its name: the one suffix rule of every writer.

    Parameters
    ----------
    name : str
        How the caller calls the path in messages (``"path"``, ``"--csv"``).
    path : str or os.PathLike
        The file.
    formats : mapping of str to str, or sequence of str
        Allowed endings (``".csv.gz"``, compared case-insensitively, the longest that
        matches wins) and the format of each (:data:`TABLE`, ...); a sequence of endings is
        its own format.

    Returns
    -------
    str
        The format, e.g. ``"csv"`` for ``"t.CSV.gz"``.

    Raises
    ------
    ValueError
        ``"<name> must end in .csv, .csv.gz, ...; got 't.txt'"``.
    """
    table = formats if isinstance(formats, Mapping) else {s: s for s in formats}
    low = Path(path).name.lower()
    for suffix in sorted(table, key=len, reverse=True):
        if low.endswith(suffix.lower()):
            return table[suffix]
    raise ValueError(f"{name} must end in {', '.join(table)}; got {str(path)!r}")


def check_output(
    name: str,
    path: object,
    *,
    overwrite: bool,
    flag: str = "overwrite=True",
    suffixes: Mapping[str, str] | Sequence[str] | None = None,
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
    suffixes : mapping or sequence of str, optional
        Allowed endings of the file name, as :func:`output_format` takes them (:data:`CSV`,
        :data:`TABLE`, :data:`RESULT`, :data:`IMAGE`).

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
    parent = p.parent
    if not parent.exists():
        raise FileNotFoundError(f"{name} {str(p)!r}: the directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise NotADirectoryError(f"{name} {str(p)!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{name} {str(p)!r}: the directory {str(parent)!r} is not writable")
    if p.is_dir():
        raise IsADirectoryError(f"{name} {str(p)!r} is a directory; give a file path")
    if suffixes is not None:
        output_format(name, p, suffixes)
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
