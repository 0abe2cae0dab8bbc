"""Simulating random networks at initialization: the Python face of the compiled kernel."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from . import _core, _cost, _progress, _renamed
from . import _validate as check
from ._warnings import CollapseWarning, DivergenceWarning, SingularInputWarning
from .activations._registry import _kernel_table
from .metrics import METRICS
from .networks.blocks import BlockNetwork
from .networks.mlp import MLP
from .results import MetricsView, Provenance, config_columns, describe_input
from .theory.meanfield import mf_constants

__all__ = ["STAGES", "Dtype", "NetworkWeights", "Sampler", "Trajectory", "forward", "network_weights", "simulate"]


def __dir__() -> list[str]:
    return sorted(__all__)


Sampler = Literal["auto", "gram", "weights"]
#: The arithmetic of :func:`simulate` and :func:`forward` (``dtype``).
Dtype = Literal["float64", "float32"]
#: What :func:`simulate`, :func:`forward` and :func:`network_weights` run: a plain MLP or a
#: block network (:class:`isoinit.ResidualMLP`, :class:`isoinit.Transformer`,
#: :class:`isoinit.Network`).
Model = MLP | BlockNetwork
_MODEL_TYPES = (MLP, BlockNetwork)
_MODEL_DESC = "an isoinit.MLP or a block network (isoinit.ResidualMLP, isoinit.Transformer, isoinit.Network)"
#: Names of the recorded stages (axis 2 of the metric arrays when ``stages=True``).
STAGES: tuple[str, ...] = tuple(_core.constants()["STAGES"])


@_renamed.fields(mlp="network")
@dataclass(frozen=True, eq=False)
class Trajectory(MetricsView):
    """Per-layer Gram metrics of a batch through many random networks.

    Metric arrays (``isometry``, ``gap``, ``potential``, ``effective_rank``,
    ``stable_rank``, ``mean_abs_corr``, ``max_abs_corr``, ``condition``; see
    :mod:`isoinit.metrics`) have shape ``(runs, depth + 1)``: layer 0 is the input after
    scaling its rows to mean square 1, layer ``l`` the output of block ``l``. With
    ``stages=True`` they have shape ``(runs, depth + 1, 3)``, the last axis being
    :data:`STAGES`: after the linear map ``H``, after the activation, after the
    normalization (the block output is the later of the last two, depending on
    ``network.order``; at layer 0 all three are the input).

    For a block network (:mod:`isoinit.blocks`) layer ``l`` is the output of block ``l``,
    and with ``stages=True`` the last axis runs over the network's named stages
    (``stages``, e.g. ``ln1, attn, resid1, ...`` for a transformer); a stage a block does
    not have is NaN there (``block_stages`` lists each block's; :meth:`output` picks each
    block's output, its last one).

    Attributes
    ----------
    network : MLP or block network
        The network simulated (``mlp`` is its old name, kept as an alias).
    seed : int
    sampler : {"gram", "weights"}
        The sampler that ran (``"auto"`` resolved).
    metrics : dict of str to ndarray
        Every metric array, by name (also available as typed attributes: ``traj.gap``,
        ``traj.stable_rank``, ...; see :class:`~isoinit.results.MetricsView`).
    norm_bias : ndarray, shape (runs, depth + 1)
        ``Var(a) / mean(a)^2`` with the *population* variance of the norms ``a`` that the
        block's scaling step divides by (per-sample RMS after centering for layer/none/mf
        scaling, per-feature RMS for batch scaling); layer 0: the raw input's row norms.
    grams : ndarray or None
        ``(runs, depth + 1, n, n)`` (``(runs, depth + 1, 3, n, n)`` with stages) if asked for.
    diverged_at : ndarray of int, shape (runs,)
        First layer at which a run broke down numerically: a value made in that block (after
        the linear map, the activation or the normalization) is infinite or NaN. Its
        metrics, norm_bias and Grams are NaN from that layer on; -1 if never. Checked at
        every stage of every layer, so it does not depend on ``stages``.
    collapsed_at : ndarray of int, shape (runs,)
        First layer whose block output is the zero matrix (every sample mapped to 0, a Gram
        of rank 0), -1 if never. Such a layer's metrics are those of the zero Gram:
        isometry 0, gap, condition and potential ``+inf``, effective and stable rank 0,
        mean and max ``|rho|`` 1, normalization bias 0 (never NaN); the run goes on.
    stages : tuple of str or None
        :data:`STAGES` (a block network: its stage names) when stages were recorded.
    block_stages : tuple of tuple of int or None
        A block network with stages: per block, the indices into ``stages`` it records, in
        order (the last is its output).
    computed : tuple of str or None
        The metrics computed (``simulate(..., metrics=[...])``); ``None``: every metric. The
        others' arrays are NaN, and reading one through its typed property (``traj.stable_rank``),
        :meth:`output`, ``summary`` or ``plot`` raises :class:`ValueError`.
    provenance : Provenance or None
        The input (shape and SHA-256 of the batch), seed, runs, sampler, precision and
        package version, and the date, threads and BLAS kernel of the computation
        (:class:`~isoinit.Provenance`).

    Notes
    -----
    ``summary(metric)`` gives per-layer statistics over runs at the block outputs (finite
    values only; infinite ones counted in ``inf_runs``; see
    :func:`isoinit.results.summarize`). ``==`` compares the configuration, seed, sampler
    and every array element-wise (NaN equal to NaN); results pickle (see
    :class:`~isoinit.results.MetricsView`).
    """

    network: Model
    seed: int
    sampler: str
    metrics: dict[str, NDArray[np.float64]] = field(repr=False)
    norm_bias: NDArray[np.float64] = field(repr=False)
    grams: NDArray[np.float64] | None = field(repr=False)
    diverged_at: NDArray[np.int64] = field(repr=False)
    collapsed_at: NDArray[np.int64] = field(repr=False)
    stages: tuple[str, ...] | None = None
    provenance: Provenance | None = field(default=None, repr=False)
    computed: tuple[str, ...] | None = None
    block_stages: tuple[tuple[int, ...], ...] | None = field(default=None, repr=False)

    @property
    def runs(self) -> int:
        """Number of runs (independent networks)."""
        return int(self.diverged_at.shape[0])

    def output(self, metric: str = "gap") -> NDArray[np.float64]:
        """A metric of the block outputs, ``(runs, depth + 1)``, whether or not stages were recorded.

        Parameters
        ----------
        metric : str
            One of :data:`isoinit.metrics.METRICS`.

        Returns
        -------
        ndarray
            ``(runs, depth + 1)``.
        """
        a = self._metric(metric)
        if self.stages is None:
            return a
        if self.block_stages is not None:  # a block network: each block's last recorded stage
            index = np.array([0, *(b[-1] for b in self.block_stages)])
            return a[:, np.arange(a.shape[1]), index]
        assert isinstance(self.network, MLP)  # block networks record block_stages
        return a[:, :, STAGES.index(self.network.output_stage)]

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per (run, layer[, stage]) with every metric as a column.

        Columns ``seed``, ``run``, ``layer``, [``stage``], the metrics, ``norm_bias``,
        ``sampler``, then the configuration (:data:`isoinit.results.CONFIG_FIELDS`, named as
        the ``MLP`` fields). ``seed`` and ``sampler`` are the seed and the sampler that ran
        (``"gram"`` or ``"weights"``, never ``"auto"``; for :func:`forward`, seed ``None`` and
        sampler ``"explicit"``), so the tables of several calls concatenate into one that
        still says which rows came from which networks. ``df.attrs["isoinit"]`` holds the
        provenance, as for sweep tables (:func:`isoinit.sweeps.save` keeps it: in a Parquet
        file's metadata, beside a CSV in a JSON file).
        """
        runs, layers = self.norm_bias.shape
        if self.stages is None:
            idx = pd.MultiIndex.from_product([range(runs), range(layers)], names=["run", "layer"])
            cols = {m: self.metrics[m].reshape(-1) for m in METRICS}
            cols["norm_bias"] = self.norm_bias.reshape(-1)
        else:
            s = len(self.stages)
            idx = pd.MultiIndex.from_product([range(runs), range(layers), self.stages], names=["run", "layer", "stage"])
            cols = {m: self.metrics[m].reshape(-1) for m in METRICS}
            cols["norm_bias"] = np.repeat(self.norm_bias.reshape(-1), s)
        df: pd.DataFrame = pd.DataFrame(cols, index=idx).reset_index()
        if self.stages is not None and self.block_stages is not None:
            # a block network: only the stages each block has (layer 0, the input, has all)
            present = np.ones((layers, len(self.stages)), dtype=bool)
            present[1:] = False
            for layer, recorded in enumerate(self.block_stages, start=1):
                present[layer, list(recorded)] = True
            df = df[np.tile(present.reshape(-1), runs)].reset_index(drop=True)
        prov = self.provenance
        df.insert(0, "seed", self.seed if prov is None else prov.seed)
        df["sampler"] = self.sampler if prov is None or prov.sampler is None else prov.sampler
        for key, value in config_columns(self.network).items():
            df[key] = value
        if prov is not None:
            df.attrs["isoinit"] = {"provenance": prov.to_dict()}
        return df

    def _outputs(self, metric: str) -> NDArray[np.float64]:
        return self.output(metric)

    def _values(self, metric: str, stage: str | None) -> NDArray[np.float64]:
        if stage is None:
            return self.output(metric)
        if self.stages is None:
            raise ValueError(f"stage must be None for a Trajectory simulated without stages; got {stage!r}")
        check.choice("stage", stage, self.stages)
        return self._metric(metric)[:, :, self.stages.index(stage)]


def _core_config(
    network: Model,
    sampler: str,
    stages: bool,
    grams: bool,
    dtype: str = "float64",
    metrics: Sequence[str] | None = None,
) -> _core.Config:
    """The kernel's configuration of ``network``: the one object every compiled entry point takes."""
    act = network.act
    name, coeffs = act.kernel_name, list(act.hermite or ())
    if isinstance(network, BlockNetwork):
        # the blocks carry the norms; a user callable is tabulated over the pre-activations'
        # range (a layer norm's output times the largest gain)
        std = max(1.0, network.gain, 0.02 * math.sqrt(network.width)) * 4.0
        center = scale = "none"
        mf_c: list[float] = []
        mf_s: list[float] = []
        shape: dict[str, Any] = {
            "blocks": [_core.BlockSpec(**kw) for kw in network._core_blocks()],
            "init": network.init,
            **network._core_input(),
        }
    else:
        std = _preactivation_std(network) if name is None else 1.0
        center, scale = network.centering, network.scaling
        mf_c, mf_s = mf_constants(network)
        mf_c, mf_s = (mf_c if center == "mf" else []), (mf_s if scale == "mf" else [])
        shape = {"order": network.order, "input_rows": network.input_norm == "rows"}
    if name is None:  # a user callable: its table (isoinit.activations.tabulate), cached
        name, coeffs = "table", _kernel_table(act, std).packed.tolist()
    return _core.Config(
        activation=name,
        act_param=act.kernel_param,
        coeffs=coeffs,
        center=center,
        scale=scale,
        weights=network.weights,
        sampler=sampler,
        gain=network.gain,
        bias=network.bias,
        eps=network.eps,
        widths=list(network.widths()),
        mf_center=mf_c,
        mf_scale=mf_s,
        stages=stages,
        grams=grams,
        dtype=dtype,
        metrics=None if metrics is None else list(metrics),
        **shape,
    )


def _preactivation_std(mlp: MLP) -> float:
    """The largest standard deviation of the activation's inputs, in the mean field.

    With a scaling step the rows entering each block have mean square 1, so the
    pre-activations have variance ``gain^2 + bias^2`` (1 after a norm-act normalization);
    without one, the second moment follows ``q <- gain^2 E[sigma(sqrt(q_h) z)^2] + bias^2``
    (an upper bound when a centering step precedes). Infinite if it overflows.
    """
    top = math.hypot(mlp.gain, mlp.bias)
    if mlp.scaling != "none":
        return max(top, 1.0) if mlp.order == "norm-act" else top
    z, w = np.polynomial.hermite_e.hermegauss(64)
    w = w / math.sqrt(2.0 * math.pi)
    q = 1.0
    for _ in range(mlp.depth):
        qh = mlp.gain**2 * q + mlp.bias**2
        top = max(top, math.sqrt(qh))
        with np.errstate(all="ignore"):
            q = float(np.sum(w * np.asarray(mlp.act.fn(math.sqrt(qh) * z), dtype=np.float64) ** 2))
        if not math.isfinite(q):
            return math.inf
    return top


def _map_shapes(cfg: _core.Config, d0: int) -> list[tuple[int, int]]:
    """``(d_in, d_out)`` of every linear map of the configuration (attention's Q, K and V are three)."""
    return [(int(a), int(b)) for a, b in cfg.map_shapes(d0)]


def _resolve_sampler(
    sampler: object,
    network: Model,
    cfg: _core.Config,
    n: int,
    d0: int,
    shapes: list[tuple[int, int]],
    metrics: Sequence[str] | None = None,
) -> str:
    """The sampler to run: ``sampler``, or for ``"auto"`` the cheaper one that can run."""
    check.choice("sampler", sampler, get_args(Sampler))
    refusal = cfg.gram_refusal(n, d0)
    if sampler == "gram" and refusal is not None:
        raise ValueError(refusal)
    if sampler != "auto":
        return str(sampler)
    if refusal is not None:
        return "weights"
    # the measured cost model (isoinit._cost): products, factorizations and normals
    ortho = network.weights == "orthogonal"
    maps = None if isinstance(network, MLP) else shapes
    dims = [d0, *network.widths()]
    gram_cost = _cost.network_seconds("gram", n, dims, orthogonal=ortho, metrics=metrics, maps=maps)
    weights_cost = _cost.network_seconds("weights", n, dims, orthogonal=ortho, metrics=metrics, maps=maps)
    return "gram" if gram_cost <= weights_cost else "weights"


def _threads(threads: object) -> int:
    if threads is None:
        return 0
    return check.integer("threads", threads, 1, 4096)


def _threads_used(nthreads: int, runs: int) -> int:
    """The threads a call runs on: as asked (0: the default), capped at the runs and the processors.

    The processors are those this process may use, as the kernel caps them (``omp_get_num_procs``).
    """
    procs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(nthreads or _core.max_threads(), runs, procs))


def _warn_singular_input(x: NDArray[np.float64], where: str) -> None:
    """One :class:`SingularInputWarning` when the batch has more rows than columns."""
    n, d = x.shape
    if n > d:
        warnings.warn(
            f"{where}: X has shape ({n}, {d}), more samples (rows) than features (columns), so its "
            f"{n} x {n} Gram has rank at most {d}: the gap is +inf at layer 0, and at every layer "
            f"narrower than {n} or with a linear activation. If the rows are features, pass X.T",
            SingularInputWarning,
            stacklevel=4,  # past simulate or forward and their keyword-renaming wrapper
        )


def _trajectory(
    network: Model,
    cfg: _core.Config,
    seed: int,
    sampler: str,
    stages: bool,
    parts: Sequence[dict[str, Any]],
    provenance: Provenance | None = None,
    computed: tuple[str, ...] | None = None,
) -> Trajectory:
    def joined(key: str) -> Any:
        """The chunks' arrays of ``key`` as one array over runs (no copy for one chunk)."""
        return np.concatenate([p[key] for p in parts]) if len(parts) > 1 else parts[0][key]

    metrics, norm_bias, diverged = joined("metrics"), joined("norm_bias"), joined("diverged_at")
    collapsed = joined("collapsed_at")
    grams = None
    if parts[0]["grams"] is not None:
        grams = joined("grams")
        if not stages:
            grams = grams[:, :, 0]
    if not stages:
        metrics = metrics[:, :, 0]
    by_name = {name: metrics[..., k] for k, name in enumerate(METRICS)}
    names, block_stages = STAGES, None
    if stages and isinstance(network, BlockNetwork):
        names = tuple(cfg.stage_names)
        block_stages = tuple(tuple(b) for b in cfg.block_stages)
    bad = diverged >= 0
    if bad.any():
        warnings.warn(
            f"{int(bad.sum())} of {bad.size} runs broke down numerically (first at layer "
            f"{int(diverged[bad].min())}; {network.label()}): values overflowed to non-finite numbers; "
            "their metrics from that layer on are NaN (see Trajectory.diverged_at)",
            DivergenceWarning,
            stacklevel=4,
        )
    flat = collapsed >= 0
    if flat.any():
        warnings.warn(
            f"{int(flat.sum())} of {flat.size} runs collapsed (first at layer {int(collapsed[flat].min())}; "
            f"{network.label()}): a block mapped every sample to 0 (Gram of rank 0); such layers have isometry 0, "
            "gap +inf and rank 0 (see Trajectory.collapsed_at)",
            CollapseWarning,
            stacklevel=4,
        )
    return Trajectory(
        network=network,
        seed=seed,
        sampler=sampler,
        metrics=by_name,
        norm_bias=norm_bias,
        grams=grams,
        diverged_at=diverged.astype(np.int64),
        collapsed_at=collapsed.astype(np.int64),
        stages=names if stages else None,
        provenance=provenance,
        block_stages=block_stages,
        computed=computed,
    )


@_renamed.keywords(mlp="network")
def simulate(
    network: Model,
    X: ArrayLike,
    *,
    runs: int = 1,
    seed: int = 0,
    sampler: Sampler = "auto",
    stages: bool = False,
    grams: bool = False,
    threads: int | None = None,
    progress: bool | None = None,
    dtype: Dtype = "float64",
    metrics: Sequence[str] | None = None,
) -> Trajectory:
    """Simulate ``runs`` independent random networks on the batch ``X``.

    Each run draws a fresh network from the stream ``(seed, run, layer)`` of a
    counter-based generator, so a seed gives bit-identical results on any thread count,
    and runs ``0..k-1`` of a larger call equal a call with ``runs=k``.

    Parameters
    ----------
    network : MLP or block network
        The network configuration: an :class:`~isoinit.MLP`, or a block network
        (:class:`~isoinit.ResidualMLP`, :class:`~isoinit.Transformer`,
        :class:`~isoinit.Network`, whose width must equal ``X``'s). ``mlp=``, its old
        keyword, is accepted too.
    X : array_like, shape (n, d)
        The batch, rows are samples (``n >= 2``), finite, no zero row. Rows are scaled to
        mean square 1 before the first block (layer 0).
    runs : int
        Number of independent networks, ``>= 1``.
    seed : int
        Non-negative seed.
    sampler : {"auto", "gram", "weights"}
        ``"gram"`` draws each block's pre-activations from the ``n x n`` Gram of its input
        (exact in distribution, Theory §3 of the documentation; ``O(n^2 d + n^3)`` per
        block: a product and a Cholesky factorization); ``"weights"`` draws explicit
        ``d_in x d_out`` weights (``O(n d^2)``; cheaper when ``n`` is about ``d`` or larger).
        ``"auto"`` picks the one a measured cost model says is faster.
    stages : bool
        Also record the Gram after the linear map and after each of activation and
        normalization (adds an axis of length 3, :data:`STAGES`).
    grams : bool
        Return the Gram matrices (``runs x (depth + 1) x n x n`` doubles).
    threads : int, optional
        OpenMP threads (default: all). Capped at ``runs`` and at the processors the machine
        has (``os.cpu_count()``; ``isoinit.build_info()["max_threads"]``); the results do not
        depend on it.
    progress : bool, optional
        A progress bar: ``True``/``False`` as asked; ``None`` (default) only on an interactive
        terminal and for a call expected to take over 2 seconds (``isoinit._progress``).
    dtype : {"float64", "float32"}
        The arithmetic of the representations: ``"float32"`` keeps every representation,
        linear map and normal in float32 (the normals are the float64 stream's, rounded, so
        a seed draws the same network in both), while the Grams are accumulated and the
        metrics computed in float64. It shows the breakdowns float32 training would see
        (a Gram that becomes singular at float32 resolution has gap ``+inf``). It is faster
        than float64, though not twice: the normals, the Grams' factorizations and the
        metrics cost the same in both precisions (docs/performance.md has the ratios).
    metrics : list of str, optional
        The metrics to compute, names from :data:`isoinit.metrics.METRICS` (default: all).
        What each costs per recorded ``n x n`` Gram: ``potential``, ``mean_abs_corr`` and
        ``max_abs_corr`` need only its entries (``O(n^2)``); ``isometry`` and ``gap`` its
        Cholesky factorization (``n^3 / 3`` flops, which the Gram sampler computes anyway);
        ``effective_rank``, ``stable_rank`` and ``condition`` its eigenvalues (an
        eigendecomposition without vectors, ``~ 4 n^3 / 3`` flops and more: at ``n >= 256``
        the largest single cost of a layer). The others are NaN in the result, and reading
        them through :class:`Trajectory`'s typed properties raises :class:`ValueError`
        (``Trajectory.computed`` names the computed ones). The computed values equal those of
        a call with every metric and the same sampler; ``sampler="auto"`` weighs the cost of
        the metrics asked for, so it may pick the other sampler for a subset (name the
        sampler to compare calls).

    Returns
    -------
    Trajectory

    Raises
    ------
    ValueError
        For a configuration that cannot work: ``gain=0`` with ``bias=0``, a width of 1 with
        layer centering, a constant activation (``he0``) centered after it.
    MemoryError
        Before any work, when the call would need more memory than the machine has (the
        message names the parameter: ``runs``, ``grams=True``, the batch size, the widths).
    KeyboardInterrupt
        On Ctrl-C, within about 0.1 s plus one layer of one run.

    Warns
    -----
    SingularInputWarning
        Once, when ``X`` has more rows than columns (``n > d``, often a transposed batch):
        its Gram is singular, so the gap is ``+inf`` at layer 0 (and beyond, see the message).
    DivergenceWarning
        When some runs break down (a non-finite value); ``Trajectory.diverged_at`` says where.
    CollapseWarning
        When some runs collapse to the zero matrix; ``Trajectory.collapsed_at`` says where.
    """
    check.instance("network", network, _MODEL_TYPES, _MODEL_DESC)
    x = check.batch("X", X)
    runs = check.integer("runs", runs, 1, 10**9)
    seed = check.integer("seed", seed, 0, 2**64 - 1)
    nthreads = _threads(threads)
    stages, grams = check.boolean("stages", stages), check.boolean("grams", grams)
    precision = check.choice("dtype", dtype, get_args(Dtype))
    computed = None if metrics is None else check.names("metrics", metrics, METRICS)
    n, d0 = x.shape
    cfg = _core_config(network, "weights", stages, grams, precision, computed)  # the call's one configuration
    shapes = _map_shapes(cfg, d0)
    chosen = _resolve_sampler(sampler, network, cfg, n, d0, shapes, computed)
    cfg.sampler = chosen
    # the whole call's memory, before any chunk is computed (MemoryError naming the parameter)
    _core.check_memory(cfg, n, d0, runs, nthreads)
    _warn_singular_input(x, "isoinit.simulate")
    workers = _threads_used(nthreads, runs)
    # cost in seconds (products, factorizations, normals), to decide on a progress bar and chunking
    per_run = _cost.network_seconds(
        chosen,
        n,
        [d0, *network.widths()],
        orthogonal=network.weights == "orthogonal",
        metrics=computed,
        stages=stages,
        maps=None if isinstance(network, MLP) else shapes,
    )
    show = _progress.wanted(progress, seconds=per_run * runs / workers)
    prov = Provenance(describe_input(x), seed=seed, runs=runs, sampler=chosen, precision=precision, threads=workers)
    if not show:
        part = _core.simulate(x, seed, 0, runs, nthreads, cfg)
        return _trajectory(network, cfg, seed, chosen, stages, [part], prov, computed=computed)
    chunk = max(workers, min(runs, math.ceil(runs / 50)))
    parts = []
    with _progress.bar(runs, "isoinit.simulate", "run", show=True) as bar:
        for start in range(0, runs, chunk):
            k = min(chunk, runs - start)
            parts.append(_core.simulate(x, seed, start, k, nthreads, cfg))
            bar.update(k)
    return _trajectory(network, cfg, seed, chosen, stages, parts, prov, computed=computed)


class NetworkWeights(list[tuple[NDArray[np.float64], NDArray[np.float64]]]):
    """The ``(W, b)`` of every explicit matrix of one network, a list with their names.

    ``names[k]`` names entry ``k`` after its block and map: ``"blocks.3.attn.q"``,
    ``"blocks.3.attn.k"``, ``"blocks.3.attn.v"``, ``"blocks.3.attn.out"``, ``"blocks.3.mlp.in"``
    (the activated map), ``"blocks.3.mlp.up"`` (the gated feedforward's other map),
    ``"blocks.3.mlp.out"``, ``"blocks.3.linear"`` (an MLP's block); the embedding's come
    first: ``"positions"`` (``max_positions x d``) and ``"token_type"`` (``1 x d``), with empty
    ``b``. :func:`isoinit.presets.state_dict` renames them for the ``transformers`` models.
    """

    def __init__(self, pairs: Sequence[tuple[NDArray[np.float64], NDArray[np.float64]]], names: Sequence[str]) -> None:
        super().__init__(pairs)
        self.names: tuple[str, ...] = tuple(names)

    def named(self) -> dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]:
        """``{name: (W, b)}`` in order."""
        return dict(zip(self.names, self, strict=True))


def _map_names(cfg: _core.Config, d0: int) -> list[str]:
    """The names of :class:`NetworkWeights`, from the kernel's ``(block, map)`` list."""
    out = []
    for block, name in cfg.map_names(d0):
        if block == 0:
            out.append("positions" if name == "positions" else "token_type")
        else:
            out.append(f"blocks.{block - 1}.{name}")
    return out


@_renamed.keywords(mlp="network")
def network_weights(network: Model, d_in: int, *, seed: int = 0, run: int = 0) -> NetworkWeights:
    """The explicit ``(W, b)`` of every linear map of run ``run``, as drawn.

    Exactly as ``sampler="weights"`` draws them and with their scale, so that ``x W + b`` is
    the map (``W`` is ``d_in x d_out``; ``b`` is empty when the map's bias is 0): ``W`` is
    ``N(0, gain^2 / d_in)`` for ``init="gaussian"`` (orthogonal: ``gain`` times a Haar
    frame), GPT-2's ``N(0, 0.02^2)`` for ``init="gpt2"`` with attention's output map and
    the feedforward's second map ``N(0, 0.02^2 / (2 depth))``; queries and keys times
    ``qk_gain``. One per block for an :class:`~isoinit.MLP`; for a block network, the
    embedding's matrices first (learned positions, the token-type row), then in the blocks'
    order: attention's ``Wq, Wk, Wv`` then ``Wo``, the feedforward's ``Lin1, [Lin3,] Lin2``
    (the gated map ``Lin3`` comes before ``Lin1``). The result is a list with the
    matrices' names (:class:`NetworkWeights`); :func:`isoinit.presets.state_dict` loads them
    into the ``transformers`` model of a preset.

    ``simulate(network, X, seed=seed, runs=run + 1, sampler="weights")`` at run ``run`` equals
    ``forward(network, X, network_weights(network, X.shape[1], seed=seed, run=run))`` bit
    for bit. ``mlp=``, the old keyword of ``network``, is accepted too.

    Raises :class:`MemoryError` (naming ``d_in`` and the widths) before drawing anything when
    the weight matrices would not fit in memory; Ctrl-C stops it between blocks.

    Parameters
    ----------
    network : MLP or block network
        The network (:class:`~isoinit.MLP`, :class:`~isoinit.ResidualMLP`,
        :class:`~isoinit.Transformer`, :class:`~isoinit.Network`).
    d_in : int
        The input's width (the batch's columns).
    seed : int
        The seed, as given to :func:`simulate`.
    run : int
        Which run of that seed, ``>= 0``.

    Returns
    -------
    NetworkWeights
        One ``(W, b)`` per linear map, in order, with their names.
    """
    check.instance("network", network, _MODEL_TYPES, _MODEL_DESC)
    d_in = check.integer("d_in", d_in, 1, 10**7)
    cfg = _core_config(network, "weights", False, False)
    seed = check.integer("seed", seed, 0, 2**64 - 1)
    run = check.integer("run", run, 0, 2**63 - 1)
    return NetworkWeights([(w, b) for w, b in _core.network_weights(d_in, seed, run, cfg)], _map_names(cfg, d_in))


@_renamed.keywords(mlp="network")
def forward(
    network: Model,
    X: ArrayLike,
    weights: Sequence[tuple[ArrayLike, ArrayLike]],
    *,
    stages: bool = False,
    grams: bool = False,
    dtype: Dtype = "float64",
) -> Trajectory:
    """Run one fixed network (explicit ``(W, b)`` per linear map) on the batch ``X``.

    Every map is ``x W + b`` with ``W`` as given (its scale inside, as
    :func:`network_weights` draws it); a block network's embedding matrices come first.
    Use it to measure the same network on several batches; :func:`network_weights` gives
    the networks :func:`simulate` draws. Returns a :class:`Trajectory` with one run.

    Weights and biases must be finite (:class:`ValueError` naming ``weights[k]`` or
    ``biases[k]``); the configuration is checked as by :func:`simulate`, breakdown,
    collapse and a batch of more rows than columns are reported the same way, and Ctrl-C
    stops it between blocks. ``dtype`` as for :func:`simulate` (the weights are rounded to
    float32 for ``"float32"``). ``mlp=``, the old keyword of ``network``, is accepted too.

    Parameters
    ----------
    network : MLP or block network
        The network the weights belong to.
    X : array_like
        The batch, ``n x d_in``: rows are samples.
    weights : sequence of (W, b)
        One pair per linear map, as :func:`network_weights` returns them.
    stages : bool
        Record the metrics at every stage of every block, as :func:`simulate` does.
    grams : bool
        Keep the Gram matrix of every layer, as :func:`simulate` does.
    dtype : {"float64", "float32"}
        The arithmetic, as for :func:`simulate`.

    Returns
    -------
    Trajectory
        The metrics of one run.
    """
    check.instance("network", network, _MODEL_TYPES, _MODEL_DESC)
    x = check.batch("X", X)
    stages, grams = check.boolean("stages", stages), check.boolean("grams", grams)
    precision = check.choice("dtype", dtype, get_args(Dtype))
    cfg = _core_config(network, "weights", stages, grams, precision)
    maps = len(_map_shapes(cfg, x.shape[1]))
    pairs = check.pairs("weights", weights, maps, "(W, b)")  # one per linear map (per block for an MLP)
    ws = [check.array(f"weights[{i}][0] (W)", w, ndim=2) for i, (w, _) in enumerate(pairs)]
    bs = [check.array(f"weights[{i}][1] (b)", [] if b is None else b).reshape(-1) for i, (_, b) in enumerate(pairs)]
    _warn_singular_input(x, "isoinit.forward")
    prov = Provenance(describe_input(x), seed=None, runs=1, sampler="explicit", precision=precision)
    return _trajectory(network, cfg, 0, "weights", stages, [_core.forward(x, ws, bs, cfg)], prov)
