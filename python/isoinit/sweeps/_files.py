"""Sweep tables on disk: CSV or Parquet, written atomically, the provenance kept in Parquet's metadata."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd

from .. import _io
from .. import _validate as check

#: The configuration columns that are empty for some networks (``order`` for a block
#: network, ``norm_position`` for an MLP): text, read back as ``None`` when a CSV holds
#: none of them (rather than as a float column of NaN).
_OPTIONAL_TEXT = ("order", "norm_position")


def _format(path: Path) -> str:
    """``"csv"`` or ``"parquet"``, from the suffix."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return "parquet"
    if ".csv" in suffixes[-2:]:
        return "csv"  # also .csv.gz, .csv.bz2, ... (compression by pandas)
    raise ValueError(f"path must end in .csv (optionally compressed, e.g. .csv.gz), .parquet or .pq; got {str(path)!r}")


def _need_parquet() -> None:
    """ImportError naming the extra when pyarrow, an optional dependency, is missing."""
    if importlib.util.find_spec("pyarrow") is None:
        raise ImportError(
            "reading and writing Parquet needs pyarrow: pip install 'isoinit[parquet]' (or use a .csv path)"
        )


def _check_path(path: object, *, overwrite: bool, name: str = "path", flag: str = "overwrite=True") -> Path:
    """The output path of :func:`save`, checked before any work.

    Suffix, pyarrow, directory, no existing file unless ``overwrite``; ``name`` and ``flag``
    as the caller spells them.
    """
    p = _io.check_output(name, path, overwrite=overwrite, flag=flag)
    try:
        if _format(p) == "parquet":
            _need_parquet()
    except ValueError as err:
        raise ValueError(str(err).replace("path must", f"{name} must", 1)) from None
    return p


def save(df: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a sweep table to ``path``; returns the path.

    CSV (``.csv``, ``.csv.gz``, ...) or Parquet (``.parquet``/``.pq``, needs pyarrow).
    Floats are written so that :func:`load` reads them back exactly. The file is written
    atomically (a temporary file beside it, renamed over it when complete), so an
    interrupted save never leaves a truncated table.

    Parameters
    ----------
    df : pandas.DataFrame
        The table (:func:`sweep`'s, or any).
    path : str or Path
        Target file; its directory must exist.
    overwrite : bool
        Replace an existing file (default: refuse with :class:`FileExistsError`).

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    FileNotFoundError, PermissionError
        If its directory is missing or not writable.
    ValueError
        If the suffix is not one of the formats.
    """
    check.instance("df", df, pd.DataFrame, "a pandas DataFrame")
    overwrite = check.boolean("overwrite", overwrite)
    p = _check_path(path, overwrite=overwrite)
    if _format(p) == "parquet":
        _io.write_atomic(p, lambda tmp: _write_parquet(df, tmp), overwrite=overwrite)
    else:
        _io.write_atomic(p, lambda tmp: df.to_csv(tmp, index=False), overwrite=overwrite)
    return p


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    """The table as Parquet, with ``df.attrs["isoinit"]`` as JSON in the schema metadata.

    The key is ``b"isoinit"``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = df.attrs.get("isoinit")
    if meta is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"isoinit": json.dumps(meta).encode()})
    pq.write_table(table, path)


def load(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`save` (format from the suffix, as there).

    A Parquet file's provenance (see :func:`sweep`) comes back as ``df.attrs["isoinit"]``.
    """
    p = Path(path)
    fmt = _format(p)
    if not p.exists():
        raise FileNotFoundError(f"no such sweep file: {str(p)!r}")
    if fmt == "parquet":
        _need_parquet()
        import pyarrow.parquet as pq

        table = pq.read_table(p)
        frame: pd.DataFrame = table.to_pandas()
        raw = (table.schema.metadata or {}).get(b"isoinit")
        if raw is not None:
            frame.attrs["isoinit"] = json.loads(raw)
        return frame
    # exact float round trip: pandas >= 3 parses that way by default (and deprecates the option)
    exact = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    df: pd.DataFrame = pd.read_csv(p, keep_default_na=False, na_values=["", "NaN", "nan"], **exact)  # type: ignore[call-overload]
    for name in _OPTIONAL_TEXT:
        if name in df and df[name].isna().all():
            df[name] = pd.Series([None] * len(df), index=df.index, dtype=object)
    return df
