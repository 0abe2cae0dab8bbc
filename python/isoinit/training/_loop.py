"""The training loop of :func:`isoinit.training.train` and its tidy table.

Plain SGD on the cross-entropy for every activation and rerun; per epoch the loss and
accuracy on both sets and the isometry gaps on a fixed evaluation batch.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from .. import _progress
from .. import _validate as check
from ..activations import Activation, ActivationSpec
from ..hooks import GramRecorder
from ..sweeps import load as _load
from ..sweeps import save as _save
from ..theory.hermite import beta0
from ._data import load_data
from ._model import Protocol, _activation, _hidden, build_mlp, meanfield_gaps
from ._optional import _torch

__all__ = ["COLUMNS", "DEFAULT_ACTIVATIONS", "DOSE_ACTIVATION", "DOSE_GAINS", "TrainingResult", "load", "save", "train"]

#: The activations of :func:`trainability` by default (the paper's CIFAR-10 set).
DEFAULT_ACTIVATIONS: tuple[str, ...] = ("identity", "sigmoid", "tanh", "selu", "elu", "silu", "gelu", "relu")

#: The activation and the gains of the dose-response of ``isoinit train`` and of the figure
#: ``training-gain``: tanh's ``beta_0`` from 0.998 (gain 0.25) to 0.784 (gain 3).
DOSE_ACTIVATION: str = "tanh"
DOSE_GAINS: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)

#: Columns of the tidy table of :func:`train`.
COLUMNS: tuple[str, ...] = ("activation", "gain", "beta0", "rerun", "epoch", "split", "metric", "layer", "value")


def _rerun_seed(seed: int, rerun: int) -> int:
    """The seed of a rerun, from ``(seed, rerun)`` alone: every activation gets the same draws."""
    return int(np.random.SeedSequence([seed, rerun]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


@dataclass(frozen=True)
class TrainingResult:
    """What :func:`train` returns.

    Attributes
    ----------
    frame : pandas.DataFrame
        The tidy table, columns :data:`COLUMNS`, one row per (activation, gain, rerun, epoch,
        split, metric, layer); ``beta0`` is that of the activation at that pre-activation gain;
        ``split`` is ``train`` or ``test`` for the metrics ``loss`` (mean
        cross-entropy) and ``accuracy`` (``layer`` -1), ``eval`` for the isometry gaps on the
        evaluation batch (``gap``: after the layer norm of block ``layer``; ``gap_act``:
        after the activation of block ``layer``), and ``mean-field`` for the
        infinite-width prediction of ``gap`` at initialization (``rerun`` -1, ``epoch`` 0).
    settings : dict
        The arguments of the run (data, hidden widths, epochs, reruns, lr, ...).
    seconds : float
        Wall time.
    """

    frame: pd.DataFrame = field(repr=False)
    settings: dict[str, Any]
    seconds: float

    def to_frame(self) -> pd.DataFrame:
        """The tidy table (a copy of :attr:`frame`)."""
        out: pd.DataFrame = self.frame.copy()
        return out


def save(frame: pd.DataFrame | TrainingResult, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a training table as CSV or Parquet (as :func:`isoinit.sweeps.save`).

    Written atomically; an existing file is replaced only with ``overwrite=True``.

    Parameters
    ----------
    frame : DataFrame or TrainingResult
    path : str or Path
        The format follows the suffix: ``.csv`` (or ``.csv.gz``, ...), ``.parquet`` or ``.pq``.
    overwrite : bool

    Returns
    -------
    Path
        The file written.
    """
    df = frame.frame if isinstance(frame, TrainingResult) else frame
    return _save(df, path, overwrite=overwrite)


def load(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`save` (as :func:`isoinit.sweeps.load`).

    A table written before the ``gain`` column existed is read with ``gain`` 1 (what it was).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    pandas.DataFrame
    """
    df = _load(path)
    if "gain" not in df.columns and "activation" in df.columns:
        df.insert(list(df.columns).index("activation") + 1, "gain", 1.0)
    return df


class _TorchState:
    """Deterministic algorithms (and a thread count) for a ``with`` block; restored after."""

    def __init__(self, threads: int | None) -> None:
        self.threads = threads

    def __enter__(self) -> None:
        torch = _torch()
        self.saved = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.get_num_threads(),
        )
        torch.use_deterministic_algorithms(True)
        if self.threads is not None:
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc: object) -> None:
        torch = _torch()
        det, warn_only, threads = self.saved
        torch.use_deterministic_algorithms(det, warn_only=warn_only)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def _evaluate(model: Any, x: Any, y: Any, chunk: int = 1024) -> tuple[float, float]:
    torch = _torch()
    with torch.no_grad():
        total, correct = 0.0, 0
        for start in range(0, x.shape[0], chunk):
            out = model(x[start : start + chunk])
            yy = y[start : start + chunk]
            total += float(torch.nn.functional.cross_entropy(out, yy, reduction="sum"))
            correct += int((out.argmax(dim=1) == yy).sum())
    return total / x.shape[0], correct / x.shape[0]


def _gaps(model: Any, x_eval: Any, depth: int) -> list[tuple[str, int, float]]:
    torch = _torch()
    names = [f"block{l}.{part}" for l in range(1, depth + 1) for part in ("norm", "act")]
    with GramRecorder(model, modules=names) as rec, torch.no_grad():
        model(x_eval)
    df = rec.frame()
    out = []
    for module, gap in zip(df["module"], df["gap"], strict=True):
        block, part = str(module).split(".")
        out.append(("gap" if part == "norm" else "gap_act", int(block[5:]), float(gap)))
    return out


def train(
    activations: Sequence[ActivationSpec] = DEFAULT_ACTIVATIONS,
    data: object = "digits",
    *,
    hidden: Sequence[int] = (256,) * 10,
    epochs: int = 10,
    reruns: int = 3,
    lr: float = 0.05,
    momentum: float = 0.0,
    batch_size: int = 64,
    seed: int = 0,
    protocol: Protocol = "faithful",
    bias: bool = True,
    eval_batch: int = 32,
    dtype: Literal["float32", "float64"] = "float32",
    threads: int | None = 1,
    progress: bool | None = None,
    gains: Sequence[float] = (1.0,),
) -> TrainingResult:
    """Train the MLP of :func:`build_mlp` with SGD for every activation, gain and rerun.

    Parameters
    ----------
    activations : sequence of str or Activation
        Activations to compare (default :data:`DEFAULT_ACTIVATIONS`).
    data : str, tuple, DataLoader or Dataset
        The task (:func:`load_data`; default the digits).
    hidden : sequence of int
        Widths of the blocks (default 10 blocks of width 256).
    epochs : int
        Passes over the training set, ``>= 1``; epoch 0 is the initialization.
    reruns : int
        Independent networks (and mini-batch orders) per activation, ``>= 1``.
    lr : float
        SGD learning rate, ``> 0``.
    momentum : float
        SGD momentum in ``[0, 1)`` (default 0: plain SGD).
    batch_size : int
        Mini-batch size, ``>= 1`` (the last, smaller batch of an epoch is kept).
    seed : int
        Seed of the weights and mini-batch orders (rerun ``r`` uses ``(seed, r)``) and of the
        data split.
    protocol : {"faithful", "authors"}
        ``"authors"``: ``sigma`` applied to the logits too (the authors' code).
    bias : bool
        Linear layers with PyTorch's default biases (default) or none.
    eval_batch : int
        Size of the fixed evaluation batch (the first rows of the training set), on which
        the isometry gaps are measured, ``>= 2``, at most the training set's size.
    dtype : {"float32", "float64"}
    threads : int or None
        ``torch.set_num_threads`` for the duration of the call (restored after); ``None``
        keeps the session's setting. Default 1: the networks are small, so one thread is the
        fastest (more threads mostly wait on each other, badly so on a busy machine), and
        results are bit-reproducible for a fixed seed and thread count.
    progress : bool, optional
        A progress bar (default: only on an interactive terminal).
    gains : sequence of float
        Pre-activation gains ``> 0`` (:func:`build_mlp`); every activation is trained at every
        gain (default: gain 1 only). Varying the gain of one activation moves ``beta_0``
        continuously (:func:`isoinit.training.dose_response`).

    Returns
    -------
    TrainingResult

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong type or value (the message names it).
    """
    t0 = time.perf_counter()
    torch = _torch()
    if isinstance(activations, (str, Activation)) or not isinstance(activations, Sequence):
        raise TypeError(f"activations must be a sequence of activation specs; got {type(activations).__name__}")
    acts = [_activation(a) for a in activations]
    if not acts:
        raise ValueError("activations must name at least one activation; got an empty sequence")
    widths = _hidden(hidden)
    epochs = check.integer("epochs", epochs, 1)
    reruns = check.integer("reruns", reruns, 1)
    lr = check.real("lr", lr, 0.0, low_open=True)
    momentum = check.real("momentum", momentum, 0.0, 1.0)
    if momentum >= 1.0:
        raise ValueError(f"momentum must be in [0, 1); got {momentum}")
    batch_size = check.integer("batch_size", batch_size, 1)
    seed = check.integer("seed", seed, 0, 2**32 - 1)
    protocol = check.choice("protocol", protocol, get_args(Protocol))  # type: ignore[assignment]
    bias = check.boolean("bias", bias)
    dtype = check.choice("dtype", dtype, ("float32", "float64"))  # type: ignore[assignment]
    if threads is not None:
        threads = check.integer("threads", threads, 1)
    if isinstance(gains, (str, bytes)) or not isinstance(gains, Sequence):
        raise TypeError(f"gains must be a sequence of numbers; got {type(gains).__name__}")
    gain_list = [check.real(f"gains[{i}]", g, 0.0, low_open=True) for i, g in enumerate(gains)]
    if not gain_list:
        raise ValueError("gains must hold at least one gain; got an empty sequence")
    show = _progress.wanted(progress)
    ds = load_data(data, seed=seed)
    eval_batch = check.integer("eval_batch", eval_batch, 2, ds.X_train.shape[0])
    conditions = [(a, g, float(beta0(a, g))) for a in acts for g in gain_list]
    dt = torch.float64 if dtype == "float64" else torch.float32
    x_tr, x_te = torch.as_tensor(ds.X_train, dtype=dt), torch.as_tensor(ds.X_test, dtype=dt)
    y_tr, y_te = torch.as_tensor(ds.y_train), torch.as_tensor(ds.y_test)
    x_eval = x_tr[:eval_batch]
    depth = len(widths)
    rows: list[tuple[str, float, float, int, int, str, str, int, float]] = []
    bar = _progress.bar(len(conditions) * reruns * epochs, "isoinit.train", "epoch", show=show)
    with _TorchState(threads):
        for act, gain, b0 in conditions:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a breakdown shows as NaN in the prediction
                mf = meanfield_gaps(act, ds.X_train[:eval_batch], depth, gain=gain)
            rows.extend((act.name, gain, b0, -1, 0, "mean-field", "gap", l + 1, float(v)) for l, v in enumerate(mf))
            for r in range(reruns):
                s = _rerun_seed(seed, r)
                model = build_mlp(
                    act, ds.dim, ds.classes, widths, protocol=protocol, bias=bias, seed=s, dtype=dtype, gain=gain
                )
                gen = torch.Generator().manual_seed(s + 1)
                opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)

                def record(
                    epoch: int, a: str = act.name, g: float = gain, b: float = b0, rerun: int = r, m: Any = model
                ) -> None:
                    for split, (xx, yy) in (("train", (x_tr, y_tr)), ("test", (x_te, y_te))):
                        loss, acc = _evaluate(m, xx, yy)
                        rows.append((a, g, b, rerun, epoch, split, "loss", -1, loss))
                        rows.append((a, g, b, rerun, epoch, split, "accuracy", -1, acc))
                    for metric, layer, gap in _gaps(m, x_eval, depth):
                        rows.append((a, g, b, rerun, epoch, "eval", metric, layer, gap))

                record(0)
                for epoch in range(1, epochs + 1):
                    order = torch.randperm(x_tr.shape[0], generator=gen)
                    for start in range(0, x_tr.shape[0], batch_size):
                        idx = order[start : start + batch_size]
                        opt.zero_grad(set_to_none=True)
                        loss = torch.nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
                        loss.backward()
                        opt.step()
                    record(epoch)
                    bar.update(1)
    bar.close()
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    settings = {
        "activations": [a.name for a in acts],
        "gains": gain_list,
        "data": ds.name,
        "hidden": list(widths),
        "epochs": epochs,
        "reruns": reruns,
        "lr": lr,
        "momentum": momentum,
        "batch_size": batch_size,
        "seed": seed,
        "protocol": protocol,
        "bias": bias,
        "eval_batch": eval_batch,
        "dtype": dtype,
        "threads": threads,
    }
    return TrainingResult(frame, settings, time.perf_counter() - t0)
