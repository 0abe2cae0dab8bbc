"""What produced a result: the configuration columns of every table and the provenance record."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _renamed
from .._version import __version__
from ..networks import MLP, BlockNetwork
from ..networks.fields import TABLE_COLUMNS

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
    """
    order: str | None = None
    position: str | None = None
    if isinstance(network, BlockNetwork):
        position, architecture = network.norm_position, network.architecture
    else:
        order, architecture = network.order, "mlp"
    width = network.width if isinstance(network.width, int) else ",".join(str(w) for w in network.width)
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
        "architecture": architecture,
    }


def describe_input(x: NDArray[np.float64]) -> dict[str, Any]:
    """Provenance of a batch given as an array: its shape and the SHA-256 of its float64 bytes.

    ``{"kind": "array", "n": n, "d": d, "sha256": "..."}``: two batches with the same
    description are the same numbers (C order, native float64).
    """
    a = np.ascontiguousarray(x, dtype=np.float64)
    return {
        "kind": "array",
        "n": int(a.shape[0]),
        "d": int(a.shape[1]),
        "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
    }


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

    Notes
    -----
    No timestamp: two results computed alike have equal provenance, so ``==`` of results
    keeps meaning "same numbers from the same recipe".
    """

    input: dict[str, Any]
    seed: int | None = None
    runs: int | None = None
    sampler: str | None = None
    precision: str = "float64"
    version: str = __version__

    __hash__ = None  # type: ignore[assignment]  # holds a dict

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict of the fields (the form files store)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Provenance:
        """The record of :meth:`to_dict`'s output (unknown keys are refused)."""
        names = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(data) - names)
        if bad or "input" not in data:
            raise ValueError(f"provenance must have the keys {', '.join(sorted(names))}; got {sorted(data)}")
        return cls(**dict(data))
