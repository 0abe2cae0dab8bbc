"""What produced a result: the configuration columns of every table and the provenance record."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _core, _renamed
from .._version import __version__
from ..networks import MLP, BlockNetwork
from ..networks.fields import BLOCK_COLUMNS, TABLE_COLUMNS

__all__ = ["CONFIG_FIELDS", "Provenance", "config_columns", "describe_input"]


#: The configuration columns of every table (``to_frame``, sweeps, the command line's CSV),
#: named as the :class:`~isoinit.MLP` fields (:data:`isoinit.networks.fields.TABLE_COLUMNS`);
#: ``center``/``scale`` are the steps in effect.
CONFIG_FIELDS: tuple[str, ...] = TABLE_COLUMNS


@_renamed.keywords(mlp="network")
def config_columns(network: MLP | BlockNetwork) -> dict[str, Any]:
    """The configuration of ``network`` as table columns (:data:`CONFIG_FIELDS`, in that order).

    ``activation`` is the canonical spec (:attr:`isoinit.activations.Activation.name`),
    ``center``/``scale`` the steps in effect (:attr:`MLP.centering`, :attr:`MLP.scaling`),
    ``width`` an int, or ``"d1,d2,..."`` for per-block widths. ``order`` is an MLP's
    (``"act-norm"`` or ``"norm-act"``; ``None`` for a block network), ``norm_position`` a
    block network's (``"pre"``, ``"post"`` or ``"none"``, its first block's; ``None`` for an
    MLP). For a block network (:mod:`isoinit.blocks`) ``norm``, ``center`` and ``scale`` are
    its first block's; ``architecture`` says which network it is (``"mlp"`` for an
    :class:`~isoinit.MLP`). ``mlp=``, the old keyword of ``network``, is accepted too.

    Parameters
    ----------
    network : MLP or block network
        The configuration.

    Returns
    -------
    dict
        One entry per column of :data:`CONFIG_FIELDS`.
    """
    order: str | None = None
    position: str | None = None
    if isinstance(network, BlockNetwork):
        position, architecture = network.norm_position, network.architecture
    else:
        order, architecture = network.order, "mlp"
    width = network.width if isinstance(network.width, int) else ",".join(str(w) for w in network.width)
    return {
        **_base_columns(network, order, position, width),
        **(_block_columns(network) if isinstance(network, BlockNetwork) else dict.fromkeys(BLOCK_COLUMNS)),
        "architecture": architecture,
    }


def _block_columns(network: BlockNetwork) -> dict[str, Any]:
    """:data:`~isoinit.networks.fields.BLOCK_COLUMNS` of a block network: each block field from
    the first block that has it (``None`` if none has), the network's own fields."""
    out: dict[str, Any] = dict.fromkeys(BLOCK_COLUMNS)
    blocks = network.block_list()
    for name in ("heads", "causal", "ratio", "alpha", "skip", "qk_gain", "out_proj", "centred", "score"):
        out[name] = next((getattr(b, name) for b in blocks if hasattr(b, name)), None)
    out["rope_base"] = next((b.rope_base for b in blocks if hasattr(b, "rope_base")), None)
    out["gated"] = next((b.gated for b in blocks if hasattr(b, "gated")), None)
    if getattr(network, "ratio", 0.0) is None:  # a residual MLP's one-layer form
        out["ratio"] = None
    out["final_norm"] = any(getattr(b, "final_norm", False) for b in blocks)
    out.update(
        init=network.init,
        positions=network.positions,
        position_std=network.position_std if network.positions == "learned" or network.token_type else None,
        token_type=network.token_type,
        biases=None if network.biases is None else ",".join(f"{k}={v:g}" for k, v in dict(network.biases).items()),
        preset=network.preset,
        blocks=_describe_blocks(blocks) if network.architecture == "network" else None,
    )
    return out


def _describe_blocks(blocks: tuple[Any, ...]) -> str:
    """A :class:`~isoinit.Network`'s blocks, compactly: runs of equal blocks as ``3*Attention(...)``."""
    parts: list[str] = []
    for b in blocks:
        text = repr(b)
        if parts and parts[-1].endswith(text):
            head, _, _ = parts[-1].rpartition("*")
            count = int(head) + 1 if head.isdigit() else 2
            parts[-1] = f"{count}*{text}"
        else:
            parts.append(text)
    return "; ".join(parts)


def _base_columns(
    network: MLP | BlockNetwork, order: str | None, position: str | None, width: object
) -> dict[str, Any]:
    """The MLP's columns of ``network``."""
    return {
        "activation": network.act.name,
        "norm": network.norm,
        "center": network.centering,
        "scale": network.scaling,
        "order": order,
        "norm_position": position,
        "depth": network.depth,
        "width": width,
        "gain": network.gain,
        "bias": network.bias,
        "weights": network.weights,
        "eps": network.eps,
        "input_norm": network.input_norm,
    }


def describe_input(x: NDArray[np.float64]) -> dict[str, Any]:
    """Provenance of a batch given as an array: its shape and the SHA-256 of its float64 bytes.

    ``{"kind": "array", "n": n, "d": d, "sha256": "..."}``: two batches with the same
    description are the same numbers (C order, native float64).

    Parameters
    ----------
    x : ndarray
        The batch, ``(n, d)``.

    Returns
    -------
    dict
    """
    a = np.ascontiguousarray(x, dtype=np.float64)
    return {
        "kind": "array",
        "n": int(a.shape[0]),
        "d": int(a.shape[1]),
        "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
    }


def _now() -> str:
    """The current time in UTC, ISO 8601 to the second (``"2025-06-01T12:34:56+00:00"``)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


@functools.cache
def _blas() -> str | None:
    """The BLAS/LAPACK the compiled kernel runs and the CPU kernel it picked at load time.

    ``isoinit.build_info()["lapack"]``, e.g. ``"OpenBLAS (Haswell)"`` (``OPENBLAS_CORETYPE``
    changes it); ``None`` for a kernel built without one. It is the kernel's own library,
    which NumPy's (what ``threadpoolctl`` lists first) need not be.
    """
    lapack = _core.build_info().get("lapack")
    return None if lapack is None else str(lapack)


#: The fields that describe the machine and the moment, not the recipe: recorded, not compared.
ENVIRONMENT: tuple[str, ...] = ("date", "threads", "blas")


@dataclasses.dataclass(frozen=True)
class Provenance:
    """What produced a result, beyond its configuration: enough to reproduce it.

    Attributes
    ----------
    input : dict
        The batch: ``{"kind": "array", "n", "d", "sha256"}`` for an array (see
        :func:`describe_input`), or the input specification of a sweep such as
        ``{"kind": "degenerate", "n": 10, "d": 1000, "degeneracy": 100, "seed": 0}``.
    seed : int or None
        The seed of the networks (``None``: no random network, e.g. the mean field or
        :func:`isoinit.forward`'s explicit weights).
    runs : int or None
        Independent networks (``None`` for the mean field).
    sampler : str or None
        ``"gram"`` or ``"weights"`` (the resolved sampler), ``"meanfield"`` for the
        infinite-width recursion, ``"explicit"`` for :func:`isoinit.forward`.
    precision : str
        Floating-point precision of the representations (``"float64"``, or ``"float32"``
        for ``simulate(..., dtype="float32")``; Grams and metrics are float64 either way).
    version : str
        ``isoinit.__version__`` of the package that computed the result.
    date : str or None
        When it was computed: UTC, ISO 8601 to the second (``"2025-06-01T12:34:56+00:00"``);
        the time of construction by default. ``None`` in files of format version 2.
    threads : int or None
        The threads the compiled kernel ran on (``None``: not recorded, e.g. a sweep's
        table or a version-2 file).
    blas : str or None
        The compiled kernel's BLAS and the CPU kernel it picked, ``build_info()["lapack"]``
        (e.g. ``"OpenBLAS (Haswell)"``): results of 16 rows or more may differ in the last
        bits between kernels (docs/errors.md, "Reproducibility").

    Notes
    -----
    ``date``, ``threads`` and ``blas`` (``ENVIRONMENT``) describe the machine and the
    moment, not the recipe: they are recorded, saved and loaded, but ``==`` ignores them, so
    two results computed alike (on any thread count, on any day) are equal and ``==`` of
    results keeps meaning "same numbers from the same recipe".
    """

    input: dict[str, Any]
    seed: int | None = None
    runs: int | None = None
    sampler: str | None = None
    precision: str = "float64"
    version: str = __version__
    date: str | None = dataclasses.field(default_factory=_now, compare=False)
    threads: int | None = dataclasses.field(default=None, compare=False)
    blas: str | None = dataclasses.field(default_factory=_blas, compare=False)

    __hash__ = None  # type: ignore[assignment]  # holds a dict

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a pickle of an earlier version has no date, threads or blas: None, as in its files
        self.__dict__.update({**dict.fromkeys(ENVIRONMENT), **state})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict of the fields (the form files store)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Provenance:
        """The record of :meth:`to_dict`'s output (unknown keys are refused).

        The ``ENVIRONMENT`` keys may be missing (a file of format version 2): they are
        ``None`` then, not this machine's values.

        Parameters
        ----------
        data : mapping
            What :meth:`to_dict` returned (after a round trip through JSON, say).

        Returns
        -------
        Provenance

        Raises
        ------
        ValueError
            For an unknown key, or without ``input``.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(data) - names)
        if bad or "input" not in data:
            raise ValueError(f"provenance must have the keys {', '.join(sorted(names))}; got {sorted(data)}")
        return cls(**{**dict.fromkeys(ENVIRONMENT), **dict(data)})
