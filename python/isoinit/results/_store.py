"""Saving and loading results: :meth:`Trajectory.save`, :func:`isoinit.load`, ``to_xarray``.

A result (:class:`~isoinit.Trajectory` or :class:`~isoinit.meanfield.MeanFieldTrajectory`)
is stored as its arrays plus one JSON header:

- ``.npz`` (NumPy, no extra dependency): one array per array field (``metrics.<name>`` for
  each metric) and the header as the 0-d string array ``__isoinit__``; read back with
  ``allow_pickle=False``, so loading never runs code from the file;
- ``.nc`` (NetCDF-4 through xarray and netCDF4, ``pip install 'isoinit[xarray]'``): the
  Dataset of ``to_xarray()``, whose attribute ``isoinit`` is the header.

The header names the class, the format version, the configuration under ``network`` (every
field of the ``MLP`` or block network; the activation by its spec, or by its Hermite
coefficients), the provenance and the fields that are not arrays (seed, sampler, stages,
...). Version 1 (before 0.2.0's renames) named the configuration ``mlp``, a block's norm
position ``position`` and a transformer's ``ratio`` ``mlp_ratio``; version 2 had no
``date``, ``threads`` or ``blas`` in the provenance (they load as ``None``); such files
still load.
Fields are handled generically, so a per-run field added to a result later (e.g. another
breakdown layer next to ``diverged_at``) is saved and loaded without a change here. Files
are written atomically and never replace an existing file unless asked (:mod:`isoinit._io`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import _io
from .. import _validate as check
from ..activations import registered, resolve
from ..activations._registry import _hermite_named
from ..networks import MLP, Attention, BlockNetwork, Feedforward, Network, ResidualMLP, Transformer, TransformerBlock
from ._provenance import Provenance

#: A result: an instance of a subclass of :class:`~isoinit.results.MetricsView` (which
#: registers itself here; the store does not import the view that imports it).
Result = Any

__all__ = ["load", "register_result", "save", "to_xarray"]

FORMAT = "isoinit-result"
#: The version files are written in; :func:`load` reads every version of :data:`READS`.
FORMAT_VERSION = 3
#: Version 2 is version 3 without the provenance's ``date``, ``threads`` and ``blas``
#: (:meth:`Provenance.from_dict` gives ``None`` for them); version 1 is version 2 with the
#: configuration under ``mlp`` (and the old field names of the block networks, which their
#: constructors still take). An older isoinit refuses a newer version by its number.
READS = (1, 2, 3)
#: The file formats by suffix (the one rule of every writer, :func:`isoinit._io.output_format`).
SUFFIXES = tuple(_io.RESULT)
_HEADER = "__isoinit__"


# --------------------------------------------------------------------------------------
# the header: configuration, provenance, non-array fields
# --------------------------------------------------------------------------------------


def network_to_dict(network: MLP | BlockNetwork) -> dict[str, Any]:
    """Every ``MLP`` (or block network) field as JSON; the activation by spec or by its
    Hermite coefficients; a block network's class under ``"architecture"`` and its blocks
    (for :class:`~isoinit.Network`) as one dict each with the block's class under ``"block"``."""
    act = network.act
    out: dict[str, Any] = {}
    for f in dataclasses.fields(network):  # type: ignore[arg-type]
        if f.init:
            v = getattr(network, f.name)
            if f.name == "blocks":
                v = [{"block": type(b).__name__, **_init_fields(b)} for b in v]
            out[f.name] = list(v) if isinstance(v, tuple) else v
    if isinstance(network, BlockNetwork):
        out["architecture"] = type(network).__name__
    given = network.activation  # a spec string stays a string, an Activation an Activation (MLP == compares it)
    if act.hermite is not None:
        out["activation"] = {"hermite": [float(c) for c in act.hermite], "name": act.name}
        if isinstance(given, str):
            out["activation"]["spec"] = given
    elif act.kernel_name is not None:
        spec = act.base if act.param is None else f"{act.base}({act.param!r})"
        out["activation"] = given if isinstance(given, str) else {"spec": spec}
    else:
        # a Python callable: a file holds its registered name, and loading needs the same
        # registration (isoinit.activations.register) in the loading session
        if registered(act.name) is not act:
            raise ValueError(
                f"activation {act.name!r} is a Python callable that is not registered under its name, "
                "which a file cannot hold: register it with isoinit.activations.register(name, fn) "
                "(then a file holds the name) or define it by its Hermite coefficients to save the result"
            )
        out["activation"] = {"registered": act.name, "kinks": list(act.kinks), "as_name": isinstance(given, str)}
    return out


def _init_fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init}


_NETWORKS: dict[str, type[BlockNetwork]] = {c.__name__: c for c in (Network, ResidualMLP, Transformer)}
_BLOCKS: dict[str, Any] = {c.__name__: c for c in (Feedforward, Attention, TransformerBlock)}


def network_from_dict(data: dict[str, Any]) -> MLP | BlockNetwork:
    """The ``MLP`` (or block network) of :func:`network_to_dict` (or of a version-1 file:
    the constructors take the old field names)."""
    kw = dict(data)
    cls: Any = _NETWORKS[kw.pop("architecture")] if "architecture" in kw else MLP
    if "blocks" in kw:
        kw["blocks"] = tuple(_BLOCKS[b.pop("block")](**b) for b in (dict(x) for x in kw["blocks"]))
    act = kw.get("activation")
    if isinstance(act, dict):
        if "hermite" in act:
            # a Hermite-defined activation given by its spec string is registered under that
            # name in the session that saved it: rebuild it under the name, as unpickling does
            kw["activation"] = _hermite_named(tuple(act["hermite"]), act["name"])
            if "spec" in act:
                try:
                    same = resolve(act["spec"]).hermite == tuple(act["hermite"])
                except (TypeError, ValueError):  # not registered in this session
                    same = False
                if same:
                    kw["activation"] = act["spec"]
        elif "registered" in act:
            name = act["registered"]
            if registered(name) is None:
                raise LookupError(
                    f"the file's activation {name!r} is a Python callable registered in the session that "
                    f"saved it: register it again (isoinit.activations.register({name!r}, fn, "
                    f"kinks={act['kinks']})) before loading"
                )
            kw["activation"] = name if act.get("as_name", True) else resolve(name)
        else:
            kw["activation"] = resolve(act["spec"])
    if isinstance(kw.get("width"), list):
        kw["width"] = tuple(kw["width"])
    return cls(**kw)  # type: ignore[no-any-return]


#: The result classes a file can name, by class name (every subclass of MetricsView).
_RESULT_CLASSES: dict[str, type[Result]] = {}


def register_result(cls: type[Result]) -> None:
    """Let files hold results of ``cls`` (MetricsView registers each subclass)."""
    _RESULT_CLASSES[cls.__name__] = cls


def _classes() -> dict[str, type[Result]]:
    return dict(_RESULT_CLASSES)


def _json_value(v: Any) -> Any:
    if isinstance(v, tuple):
        return {"tuple": [_json_value(x) for x in v]}
    if isinstance(v, np.generic):
        return v.item()
    return v


def _from_json(v: Any) -> Any:
    if isinstance(v, dict) and set(v) == {"tuple"}:
        return tuple(_from_json(x) for x in v["tuple"])
    return v


def _split(result: Result) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and the named arrays of a result."""
    if type(result).__name__ not in _classes():
        raise TypeError(f"result must be an isoinit.Trajectory or MeanFieldTrajectory; got {type(result).__name__}")
    header: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(result).__name__,
        "fields": {},
        "arrays": [],
    }
    arrays: dict[str, np.ndarray] = {}
    for f in dataclasses.fields(result):
        v = getattr(result, f.name)
        if f.name == "network":
            header["network"] = network_to_dict(v)
        elif f.name == "provenance":
            header["provenance"] = None if v is None else v.to_dict()
        elif isinstance(v, np.ndarray):
            arrays[f.name] = v
            header["arrays"].append(f.name)
        elif isinstance(v, dict):
            header["fields"][f.name] = {"dict": list(v)}
            for k, a in v.items():
                arrays[f"{f.name}.{k}"] = np.asarray(a)
        else:
            header["fields"][f.name] = _json_value(v)
    return header, arrays


def _join(header: Any, arrays: dict[str, np.ndarray], where: str) -> Result:
    """The result of a header and its arrays (``where`` names the file in errors)."""
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{where} is not an isoinit result file (no isoinit header)")
    if header.get("format_version") not in READS:
        raise ValueError(
            f"{where} has isoinit result format version {header.get('format_version')!r}; "
            f"this isoinit reads versions {', '.join(map(str, READS))}"
        )
    classes = _classes()
    cls = classes.get(str(header.get("class")))
    if cls is None:
        raise ValueError(f"{where}: class must be one of {', '.join(classes)}; got {header.get('class')!r}")
    try:
        kw: dict[str, Any] = {"network": network_from_dict(header["network" if "network" in header else "mlp"])}
        prov = header.get("provenance")
        kw["provenance"] = None if prov is None else Provenance.from_dict(prov)
        for name in header["arrays"]:
            kw[name] = arrays[name]
        for name, v in header["fields"].items():
            if isinstance(v, dict) and set(v) == {"dict"}:
                kw[name] = {k: arrays[f"{name}.{k}"] for k in v["dict"]}
            else:
                kw[name] = _from_json(v)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kw) - known)
        if unknown:
            raise ValueError(f"fields {unknown} that this version of isoinit's {cls.__name__} does not have")
        return cls(**kw)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{where} is a damaged isoinit result file: {err}") from err


# --------------------------------------------------------------------------------------
# xarray
# --------------------------------------------------------------------------------------


def _need_xarray() -> Any:
    try:
        import xarray
    except ImportError as err:
        raise ImportError("to_xarray and .nc files need xarray (and netCDF4): pip install 'isoinit[xarray]'") from err
    return xarray


def _dims(result: Result, name: str, shape: tuple[int, ...]) -> tuple[str, ...]:
    """Dimension names of an array: ``run``, ``layer``, ``stage``, then ``row``/``col``."""
    runs = getattr(result, "runs", None)
    lead = ["layer"] if runs is None else ["run", "layer"]
    if getattr(result, "stages", None) is not None:
        lead.append("stage")
    known = {"norm_bias": ["run", "layer"], "diverged_at": ["run"] if runs is not None else []}
    names = known.get(name, [*lead, "row", "col"] if name == "grams" else lead)
    if len(names) == len(shape):
        return tuple(names)
    if runs is not None and shape == (runs,):  # a per-run field added later (a breakdown layer)
        return ("run",)
    return tuple(f"{name}_{k}" for k in range(len(shape)))


def to_xarray(result: Result) -> Any:
    """The result as an :class:`xarray.Dataset` (see :meth:`MetricsView.to_xarray`)."""
    xr = _need_xarray()
    header, arrays = _split(result)
    data_vars = {}
    for key, a in arrays.items():
        var = key.removeprefix("metrics.") if key.startswith("metrics.") else key
        data_vars[var] = (_dims(result, key, a.shape), a)
    coords: dict[str, Any] = {}
    stages = getattr(result, "stages", None)
    if stages is not None:
        coords["stage"] = list(stages)
    ds = xr.Dataset(data_vars, coords=coords)
    if "layer" in ds.dims:
        ds = ds.assign_coords(layer=np.arange(ds.sizes["layer"]))
    if "run" in ds.dims:
        ds = ds.assign_coords(run=np.arange(ds.sizes["run"]))
    # the metrics are variables named as the metrics; the header lists them under their keys
    ds.attrs["isoinit"] = json.dumps(header)
    ds.attrs["configuration"] = result.network.label()
    return ds


# --------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------


def _kind(path: Path, name: str = "path") -> str:
    """``"npz"`` or ``"netcdf"``, from the suffix."""
    return _io.output_format(name, path, _io.RESULT)


def save(result: Result, path: object, *, overwrite: bool = False) -> Path:
    """Write ``result`` to ``path`` (``.npz``, or ``.nc`` with xarray); returns the path."""
    overwrite = check.boolean("overwrite", overwrite)
    p = _io.check_output("path", path, overwrite=overwrite, suffixes=_io.RESULT)
    if _kind(p) == "netcdf":
        ds = to_xarray(result)
        if importlib.util.find_spec("netCDF4") is None:
            raise ImportError("writing .nc needs netCDF4: pip install 'isoinit[xarray]' (or use a .npz path)")
        _io.write_atomic(p, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4"), overwrite=overwrite)
        return p
    header, arrays = _split(result)
    payload = {k: np.ascontiguousarray(a) for k, a in arrays.items()}
    payload[_HEADER] = np.array(json.dumps(header))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)  # type: ignore[arg-type]

    _io.write_atomic(p, write, overwrite=overwrite)
    return p


def load(path: object) -> Result:
    """Read a result written by ``save`` (format from the suffix)."""
    p = _io.as_path("path", path)
    kind = _kind(p)
    if not p.exists():
        raise FileNotFoundError(f"no such result file: {str(p)!r}")
    where = repr(str(p))
    if kind == "netcdf":
        xr = _need_xarray()
        try:
            ds = xr.load_dataset(p, engine="netcdf4")
        except (OSError, ValueError) as err:
            raise ValueError(f"{where} is not a readable NetCDF file: {err}") from err
        try:
            nc_header = json.loads(ds.attrs["isoinit"])
        except (KeyError, TypeError, json.JSONDecodeError):
            raise ValueError(f"{where} is not an isoinit result file (no isoinit header)") from None
        arrays = {}
        for key in _array_keys(nc_header):
            var = key.removeprefix("metrics.") if key.startswith("metrics.") else key
            if var in ds:
                arrays[key] = np.asarray(ds[var].values)
        return _join(nc_header, arrays, where)
    header: Any = None
    try:
        with open(p, "rb") as fh:
            z = np.load(fh, allow_pickle=False)
            if isinstance(z, np.lib.npyio.NpzFile):
                with z:
                    if _HEADER in z.files:
                        header = json.loads(str(z[_HEADER]))
                        arrays = {k: z[k] for k in z.files if k != _HEADER}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{where} is not a readable isoinit result file: {err}") from err
    if header is None:
        raise ValueError(f"{where} is not an isoinit result file (no isoinit header)")
    return _join(header, arrays, where)


def _array_keys(header: Any) -> list[str]:
    if not isinstance(header, dict):
        return []
    keys = list(header.get("arrays", []))
    for name, v in header.get("fields", {}).items():
        if isinstance(v, dict) and set(v) == {"dict"}:
            keys += [f"{name}.{k}" for k in v["dict"]]
    return keys
