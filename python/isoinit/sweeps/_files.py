"""Sweep tables on disk: CSV or Parquet, written atomically, with their provenance.

A Parquet file holds ``df.attrs["isoinit"]`` in its schema metadata. A CSV cannot hold it
and stay readable by a plain :func:`pandas.read_csv`, so it goes beside the CSV: ``x.csv``
gets ``x.csv.json``, written atomically after the CSV, refused like it when it exists
(unless ``overwrite``), holding ``df.attrs``, the SHA-256 of the CSV's bytes and the
names of its text columns (so that a column of ``None`` reads back as ``None``, not NaN).
:func:`load` reads it back, and warns (:class:`~isoinit.ProvenanceWarning`) when it is
missing or describes another version of the CSV.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import _io
from .. import _validate as check
from .._warnings import ProvenanceWarning

#: The configuration columns that are empty for some networks (``order`` for a block
#: network, ``norm_position`` for an MLP): text, read back as ``None`` when a CSV holds
#: none of them (rather than as a float column of NaN). The provenance file names every
#: other column of ``None`` (an ``object`` column) that comes back so.
_OPTIONAL_TEXT = ("order", "norm_position")

#: The ``format`` of a CSV's provenance file (the JSON beside it).
SIDECAR_FORMAT = "isoinit-table-attrs"


def sidecar(path: Path) -> Path:
    """The provenance file of the CSV ``path``: its name plus ``.json`` (``x.csv.json``)."""
    return path.with_name(path.name + ".json")


def _format(path: Path, name: str = "path") -> str:
    """``"csv"`` or ``"parquet"``, from the suffix (:data:`isoinit._io.TABLE`)."""
    return _io.output_format(name, path, _io.TABLE)


def _need_parquet() -> None:
    """ImportError naming the extra when pyarrow, an optional dependency, is missing."""
    if importlib.util.find_spec("pyarrow") is None:
        raise ImportError(
            "reading and writing Parquet needs pyarrow: pip install 'isoinit[parquet]' (or use a .csv path)"
        )


def _check_path(
    path: object,
    *,
    overwrite: bool,
    name: str = "path",
    flag: str = "overwrite=True",
    formats: Mapping[str, str] = _io.TABLE,
) -> Path:
    """The output path of :func:`save`, checked before any work.

    Suffix (one of ``formats``), pyarrow, directory, no existing file (nor, for a CSV, an
    existing provenance file) unless ``overwrite``; ``name`` and ``flag`` as the caller
    spells them.
    """
    p = _io.check_output(name, path, overwrite=overwrite, flag=flag, suffixes=formats)
    if _io.output_format(name, p, formats) == "parquet":
        _need_parquet()
    else:
        _io.check_output(f"{name}'s provenance file", sidecar(p), overwrite=overwrite, flag=flag)
    return p


def save(df: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a sweep table to ``path``; returns the path.

    CSV (``.csv``, ``.csv.gz``, ``.csv.bz2``, ``.csv.xz``) or Parquet (``.parquet``/``.pq``,
    needs pyarrow). Floats are written so that :func:`load` reads them back exactly. The file
    is written atomically (a temporary file beside it, renamed over it when complete), so an
    interrupted save never leaves a truncated table.

    The table's provenance (``df.attrs``, e.g. :func:`sweep`'s or ``to_frame()``'s
    ``attrs["isoinit"]``) is kept: in a Parquet file's metadata, or for a CSV in a JSON file
    beside it, ``path`` + ``.json`` (``x.csv.json``), so the CSV itself stays a plain table
    for :func:`pandas.read_csv`. Keep the two files together; :func:`load` reads both.

    Parameters
    ----------
    df : pandas.DataFrame
        The table (:func:`sweep`'s, or any).
    path : str or Path
        Target file; its directory must exist.
    overwrite : bool
        Replace an existing file (and a CSV's provenance file) (default: refuse with
        :class:`FileExistsError`).

    Raises
    ------
    FileExistsError
        If ``path`` (or, for a CSV, ``path.json``) exists and ``overwrite`` is false.
    FileNotFoundError, PermissionError
        If its directory is missing or not writable.
    ValueError
        If the suffix is not one of the formats.

    Warns
    -----
    ProvenanceWarning
        When an entry of ``df.attrs`` is not JSON (numbers, strings, lists and dicts of them)
        and so cannot be kept beside a CSV; the others are.
    """
    check.instance("df", df, pd.DataFrame, "a pandas DataFrame")
    overwrite = check.boolean("overwrite", overwrite)
    p = _check_path(path, overwrite=overwrite)
    return write_table(df, p, overwrite=overwrite)


def write_table(df: pd.DataFrame, path: Path, *, overwrite: bool, flag: str = "overwrite=True") -> Path:
    """Write ``df`` to ``path`` checked by :func:`_check_path` (CSV with its provenance file, or Parquet)."""
    if _format(path) == "parquet":
        _io.write_atomic(path, lambda tmp: _write_parquet(df, tmp), overwrite=overwrite, flag=flag)
        return path
    attrs = _json_attrs(df.attrs)  # before writing: the warning comes whatever happens next
    digest = _io.write_atomic(path, lambda tmp: _write_csv(df, tmp), overwrite=overwrite, flag=flag)
    # the object columns: one that holds only None reads back as NaN, which load() turns back
    columns = [str(c) for c in df.columns if df[c].dtype == object]
    record = {"format": SIDECAR_FORMAT, "table": path.name, "sha256": digest, "attrs": attrs, "text": columns}
    text = json.dumps(record, indent=1) + "\n"
    _io.write_atomic(sidecar(path), lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=overwrite, flag=flag)
    return path


def _write_csv(df: pd.DataFrame, path: Path) -> str:
    """The table as CSV; returns the SHA-256 of the file's bytes."""
    df.to_csv(path, index=False)
    return _sha256(path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _json_attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    """The entries of ``attrs`` JSON can hold; a :class:`ProvenanceWarning` names the others."""
    kept: dict[str, Any] = {}
    dropped = []
    for key, value in attrs.items():
        try:
            json.dumps(value, allow_nan=True)
        except (TypeError, ValueError):
            dropped.append(key)
            continue
        if isinstance(key, str):
            kept[key] = value
        else:
            dropped.append(key)
    if dropped:
        warnings.warn(
            f"isoinit.sweeps.save: df.attrs entries {dropped} are not JSON (numbers, strings, lists, "
            "dicts with string keys), so the CSV's provenance file cannot hold them: they are not saved",
            ProvenanceWarning,
            stacklevel=4,
        )
    return kept


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

    The provenance comes back as ``df.attrs``: a Parquet file's from its metadata
    (``df.attrs["isoinit"]``), a CSV's from the JSON file beside it (``x.csv.json``).

    Parameters
    ----------
    path : str or Path
        A ``.csv`` or ``.parquet`` file.

    Returns
    -------
    pandas.DataFrame
        The table, with its provenance in ``df.attrs``.

    Warns
    -----
    ProvenanceWarning
        For a CSV whose provenance file is missing (moved without it, or a CSV written by
        another program), unreadable, or written for another version of the CSV (its
        SHA-256 differs): ``df.attrs`` is empty then, and the message says why.
    """
    p = _io.as_path("path", path)
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
    attrs, text = _read_sidecar(p)
    for name in (*_OPTIONAL_TEXT, *text):
        if name in df and df[name].isna().all():
            df[name] = pd.Series([None] * len(df), index=df.index, dtype=object)
    df.attrs.update(attrs)
    return df


def _read_sidecar(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The ``attrs`` and the text columns of the CSV ``path`` from its provenance file;
    ``{}`` and ``[]`` with a warning when it is lost."""
    side = sidecar(path)

    def lost(why: str) -> tuple[dict[str, Any], list[str]]:
        warnings.warn(
            f"isoinit.sweeps.load: {str(path)!r}: {why}, so the table's provenance (df.attrs) is empty",
            ProvenanceWarning,
            stacklevel=4,
        )
        return {}, []

    if not side.exists():
        return lost(
            f"no provenance file {side.name!r} beside it (isoinit.sweeps.save writes one with every CSV; "
            "was the CSV moved without it, or written by another program?)"
        )
    try:
        record = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return lost(f"its provenance file {side.name!r} is not readable JSON ({err})")
    if (
        not isinstance(record, dict)
        or record.get("format") != SIDECAR_FORMAT
        or not isinstance(record.get("attrs"), dict)
    ):
        return lost(f"{side.name!r} is not an isoinit provenance file (no format {SIDECAR_FORMAT!r})")
    if record.get("sha256") != _sha256(path):
        return lost(f"its provenance file {side.name!r} was written for another version of the CSV (SHA-256 differs)")
    text = record.get("text", [])
    return dict(record["attrs"]), [str(c) for c in text] if isinstance(text, list) else []
