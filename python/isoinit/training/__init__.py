"""Trainability: whether isometry at initialization predicts how fast a network trains.

The paper's second claim (Joudaki, Daneshmand and Bach, NeurIPS 2023, section 6 and its
CIFAR-10 notebook) is empirical: in layer-normalized MLPs trained with SGD, activations
with a larger non-linearity strength (smaller ``beta_0``, so a faster contraction towards
isometry) train faster, and training keeps the ordering of the isometry gaps. This module
runs that experiment on data that ships with scikit-learn (no download) and turns the claim
into numbers.

* :func:`build_mlp`: the authors' training MLP, blocks ``LayerNorm -> Linear -> sigma``
  (PyTorch's ``LayerNorm``, ``eps = 1e-5``, affine; weights re-initialized ``N(0, 1/fan_in)``,
  PyTorch's default biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``), then a linear read-out.
  ``protocol="authors"`` also applies ``sigma`` to the logits, as the authors' code did;
  ``"faithful"`` (default) does not. Any activation of :mod:`isoinit.activations` with a
  PyTorch function (every built-in, ``heK``, :func:`~isoinit.activations.from_hermite`).
* :func:`load_data`: scikit-learn's handwritten digits (1797 images of 8x8, standardized
  with the training set's mean and standard deviation per pixel, a fixed stratified split of
  1347 training and 450 test images), a synthetic Gaussian mixture, user arrays
  ``(X_train, y_train, X_test, y_test)``, or PyTorch ``DataLoader`` s.
* :func:`train`: plain SGD on the cross-entropy, for several activations and reruns; one tidy
  table (:data:`COLUMNS`) with, per epoch (``epoch 0`` is the initialization), the loss and
  accuracy on the training and test sets, the isometry gap after every ``LayerNorm`` and
  after every block's activation on a fixed evaluation batch (measured with
  :class:`isoinit.hooks.GramRecorder`), and the mean-field prediction of the gaps after the
  layer norms at initialization.
* :func:`trainability`: the rank correlations (Spearman) of ``beta_0`` and of the gap at
  initialization with the training loss after ``k`` epochs, with bootstrap intervals over
  reruns.

Reproducibility
---------------
Rerun ``r`` draws its weights and its mini-batch order from a :class:`torch.Generator`
seeded from ``(seed, r)`` only, so every activation sees the same draws in rerun ``r``
(common random numbers) and nothing touches the global generator.
:func:`train` switches on ``torch.use_deterministic_algorithms`` and, with ``threads``, sets
``torch.set_num_threads`` for its duration and restores both afterwards. Results are
bit-reproducible for a given seed and a fixed number of threads
(``torch.get_num_threads()``); a different thread count may change the last bits of the
reductions, and with them (slowly) the trajectories.

The mean-field prediction
-------------------------
After the first layer norm, each block is ``Linear -> sigma -> LayerNorm`` (the next
block's norm), which is isoinit's ``act-norm`` block ``MLP(L - 1, width, sigma, "layer")``
applied to the layer-normalized batch. The gap after layer norm ``l`` is therefore
predicted by :func:`isoinit.meanfield.trajectory` at layer ``l - 1`` of that network. The
prediction takes the biases to be zero: PyTorch's default biases have standard deviation
``1 / sqrt(3 fan_in)``, which vanishes in the infinite-width limit (0.036 at width 256,
against pre-activations of variance 1). The affine parameters of ``LayerNorm`` are the
identity at initialization.

PyTorch and scikit-learn are optional: ``pip install "isoinit[torch]"``. ``import isoinit``
never imports them; the functions here do when called.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .. import _progress
from .. import _validate as check
from ..activations import Activation, ActivationSpec, resolve
from ..hooks import GramRecorder
from ..metrics import gram_metrics
from ..networks.mlp import MLP
from ..sweeps import load as _load
from ..sweeps import save as _save
from ..theory.hermite import beta0
from ..theory.meanfield import trajectory

if TYPE_CHECKING:
    import torch

__all__ = [
    "COLUMNS",
    "DEFAULT_ACTIVATIONS",
    "Correlation",
    "Dataset",
    "Protocol",
    "Trainability",
    "TrainingResult",
    "build_mlp",
    "load",
    "load_data",
    "meanfield_gaps",
    "save",
    "train",
    "trainability",
]


def __dir__() -> list[str]:
    return sorted(__all__)


_F = NDArray[np.float64]
Protocol = Literal["faithful", "authors"]
DataName = Literal["digits", "mixture"]

#: The activations of :func:`trainability` by default (the paper's CIFAR-10 set).
DEFAULT_ACTIVATIONS: tuple[str, ...] = ("identity", "sigmoid", "tanh", "selu", "elu", "silu", "gelu", "relu")

#: Columns of the tidy table of :func:`train`.
COLUMNS: tuple[str, ...] = ("activation", "beta0", "rerun", "epoch", "split", "metric", "layer", "value")

_INSTALL = 'pip install "isoinit[torch]"'


def _torch() -> Any:
    try:
        import torch
    except ImportError as err:  # pragma: no cover - exercised by monkeypatching sys.modules
        raise ImportError(f"isoinit.training needs PyTorch, an optional dependency of isoinit: {_INSTALL}") from err
    return torch


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """A classification task: float64 features, integer labels ``0..classes-1``.

    Attributes
    ----------
    name : str
        ``"digits"``, ``"mixture"`` or ``"user"``.
    X_train, X_test : ndarray, shape (n_train, d), (n_test, d)
    y_train, y_test : ndarray of int64, shape (n_train,), (n_test,)
    classes : int
        Number of classes (one more than the largest label).
    """

    name: str
    X_train: _F = field(repr=False)
    y_train: NDArray[np.int64] = field(repr=False)
    X_test: _F = field(repr=False)
    y_test: NDArray[np.int64] = field(repr=False)
    classes: int

    @property
    def dim(self) -> int:
        """Number of input features ``d``."""
        return int(self.X_train.shape[1])


def _sklearn() -> Any:
    try:
        import sklearn
    except ImportError as err:  # pragma: no cover
        raise ImportError(f"the digits task needs scikit-learn: {_INSTALL}") from err
    return sklearn


def _standardize(x_train: _F, x_test: _F) -> tuple[_F, _F]:
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0  # constant pixels (always blank) stay 0
    return (x_train - mean) / std, (x_test - mean) / std


def _split(x: _F, y: NDArray[np.int64], test_size: float, seed: int) -> tuple[_F, NDArray[np.int64], _F, Any]:
    _sklearn()
    from sklearn.model_selection import train_test_split

    parts: list[Any] = train_test_split(x, y, test_size=test_size, stratify=y, random_state=seed)
    return parts[0], parts[2], parts[1], parts[3]


def _labels(name: str, y: object, n: int) -> NDArray[np.int64]:
    a = np.asarray(y)
    if a.ndim != 1 or a.shape[0] != n:
        raise ValueError(f"{name} must be 1-D with one label per row of its X ({n}); got shape {a.shape}")
    if a.dtype.kind not in "iu" and not (a.dtype.kind == "f" and np.all(a == np.round(a))):
        raise TypeError(f"{name} must hold integer class labels; got dtype {a.dtype}")
    out = a.astype(np.int64)
    if out.size and out.min() < 0:
        raise ValueError(f"{name} must hold class labels >= 0; got {int(out.min())}")
    return out


def _arrays(x_train: object, y_train: object, x_test: object, y_test: object, name: str = "user") -> Dataset:
    xtr = check.array("X_train", x_train, ndim=2)
    xte = check.array("X_test", x_test, ndim=2)
    if xtr.shape[0] < 1:
        raise ValueError(f"X_train must have at least 1 row (sample); got shape {xtr.shape}")
    if xte.shape[0] < 1:
        raise ValueError(f"X_test must have at least 1 row (sample); got shape {xte.shape}")
    if xtr.shape[1] < 1:
        raise ValueError(f"X_train must have at least 1 column (feature); got shape {xtr.shape}")
    if xte.shape[1] != xtr.shape[1]:
        raise ValueError(f"X_test must have the {xtr.shape[1]} columns of X_train; got shape {xte.shape}")
    ytr, yte = _labels("y_train", y_train, xtr.shape[0]), _labels("y_test", y_test, xte.shape[0])
    classes = int(max(ytr.max(), yte.max())) + 1
    if classes < 2:
        raise ValueError(f"y_train must hold at least 2 classes; got labels {sorted(set(ytr.tolist()))}")
    return Dataset(name, xtr, ytr, xte, yte, classes)


def load_data(data: object = "digits", *, seed: int = 0, test_size: float = 0.25) -> Dataset:
    """The classification task of :func:`train`.

    Parameters
    ----------
    data : str, tuple, DataLoader or Dataset
        ``"digits"`` (default): scikit-learn's bundled handwritten digits
        (:func:`sklearn.datasets.load_digits`: 1797 images of 8x8 pixels, 10 classes, no
        download), split into training and test sets (stratified, ``test_size``, fixed by
        ``seed``) and standardized per pixel with the training set's mean and standard
        deviation. ``"mixture"``: a synthetic Gaussian mixture, 10 classes in 64 dimensions,
        class means of norm 4 drawn with ``seed``, unit-variance noise, 1500 training and
        500 test points. A tuple ``(X_train, y_train, X_test, y_test)``: used as given
        (``X`` real ``(n, d)``, ``y`` integer labels ``>= 0``). A
        :class:`torch.utils.data.DataLoader` yielding ``(inputs, labels)``: materialized
        (inputs flattened) and split as the digits are; a pair of loaders
        ``(train_loader, test_loader)``: materialized as they are. A :class:`Dataset`:
        returned as is.
    seed : int
        Seed of the split (and of the mixture's draws).
    test_size : float
        Fraction of the samples held out for testing, in ``(0, 1)`` (digits and a single
        loader).

    Returns
    -------
    Dataset

    Raises
    ------
    TypeError
        If ``data`` is of none of these kinds, or arrays are not real numbers.
    ValueError
        For an unknown name, mismatched shapes, or an empty set.
    """
    seed = check.integer("seed", seed, 0, 2**32 - 1)
    test_size = check.real("test_size", test_size, 0.0, 1.0, low_open=True)
    if test_size >= 1.0:
        raise ValueError(f"test_size must be in (0, 1); got {test_size}")
    if isinstance(data, Dataset):
        return data
    if isinstance(data, str):
        name = check.choice("data", data, get_args(DataName))
        if name == "digits":
            _sklearn()
            from sklearn.datasets import load_digits

            bunch: Any = load_digits()
            x, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)
            xtr, ytr, xte, yte = _split(x, y, test_size, seed)
            xtr, xte = _standardize(xtr, xte)
            return _arrays(xtr, ytr, xte, yte, "digits")
        rng = np.random.default_rng(seed)
        classes, dim, n_train, n_test = 10, 64, 1500, 500
        means = rng.standard_normal((classes, dim))
        means *= 4.0 / np.linalg.norm(means, axis=1, keepdims=True)
        y = rng.integers(0, classes, n_train + n_test)
        x = means[y] + rng.standard_normal((y.size, dim))
        xtr, xte = _standardize(x[:n_train], x[n_train:])
        return _arrays(xtr, y[:n_train], xte, y[n_train:], "mixture")
    if isinstance(data, tuple) and len(data) == 4:
        return _arrays(*data)
    torch = _torch() if "torch" in sys.modules else None
    if torch is not None:
        from torch.utils.data import DataLoader

        from .. import _torchnet

        if isinstance(data, DataLoader):
            xt, yt = _torchnet.materialize(data)
            x, y = xt.numpy(), _labels("labels", yt.numpy(), xt.shape[0])
            if x.shape[0] < 4:
                raise ValueError(f"data must hold at least 4 samples to split; got {x.shape[0]}")
            xtr, ytr, xte, yte = _split(x, y, test_size, seed)
            return _arrays(xtr, ytr, xte, yte)
        if isinstance(data, tuple) and len(data) == 2 and all(isinstance(d, DataLoader) for d in data):
            (xtr_t, ytr_t), (xte_t, yte_t) = (_torchnet.materialize(d) for d in data)
            return _arrays(xtr_t.numpy(), ytr_t.numpy(), xte_t.numpy(), yte_t.numpy())
    raise TypeError(
        "data must be 'digits', 'mixture', a tuple (X_train, y_train, X_test, y_test), a DataLoader, "
        f"a pair of DataLoaders or an isoinit.training.Dataset; got {type(data).__name__}"
    )


# --------------------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------------------


def _activation(spec: ActivationSpec) -> Activation:
    act = resolve(spec)
    if act.torch is None:
        raise ValueError(
            f"activation must have a PyTorch function (a built-in, heK or from_hermite); got {act.name!r}, "
            "a Python callable"
        )
    return act


def _hidden(hidden: object) -> tuple[int, ...]:
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of widths; got {type(hidden).__name__}")
    widths = tuple(check.integer(f"hidden[{i}]", w, 1) for i, w in enumerate(hidden))
    if not widths:
        raise ValueError("hidden must hold at least one width; got an empty sequence")
    return widths


def build_mlp(
    activation: ActivationSpec,
    d_in: int,
    classes: int,
    hidden: Sequence[int] = (256,) * 10,
    *,
    protocol: Protocol = "faithful",
    bias: bool = True,
    eps: float = 1e-5,
    seed: int = 0,
    dtype: Literal["float32", "float64"] = "float32",
) -> torch.nn.Sequential:
    """The training MLP: ``L`` blocks ``LayerNorm -> Linear -> sigma``, then a linear read-out.

    Parameters
    ----------
    activation : str or Activation
        Any activation with a PyTorch function (:attr:`isoinit.activations.Activation.torch`).
    d_in, classes : int
        Input features and classes (the read-out's width).
    hidden : sequence of int
        The widths of the blocks (default: 10 blocks of width 256).
    protocol : {"faithful", "authors"}
        ``"authors"`` also applies ``sigma`` to the logits, as the authors' code did.
    bias : bool
        PyTorch's default biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (default), or none.
    eps : float
        The layer norms' epsilon (PyTorch's default ``1e-5``).
    seed : int
        Seed of the weights (a :class:`torch.Generator` of its own).
    dtype : {"float32", "float64"}

    Returns
    -------
    torch.nn.Sequential
        Children ``block1..blockL`` (each a ``Sequential`` of ``norm``, ``linear``, ``act``),
        ``readout``, and ``logit_act`` under the authors' protocol.
    """
    torch = _torch()
    from .. import _torchnet

    act = _activation(activation)
    d_in = check.integer("d_in", d_in, 1)
    classes = check.integer("classes", classes, 2)
    widths = _hidden(hidden)
    protocol = check.choice("protocol", protocol, get_args(Protocol))  # type: ignore[assignment]
    bias = check.boolean("bias", bias)
    eps = check.real("eps", eps, 0.0)
    seed = check.integer("seed", seed, 0, 2**63 - 1)
    dt = {"float32": torch.float32, "float64": torch.float64}[check.choice("dtype", dtype, ("float32", "float64"))]
    g = torch.Generator().manual_seed(seed)
    return _torchnet.build(
        act, d_in, classes, widths, authors=protocol == "authors", bias=bias, eps=eps, generator=g, dtype=dt
    )


def _rerun_seed(seed: int, rerun: int) -> int:
    return int(np.random.SeedSequence([seed, rerun]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def meanfield_gaps(activation: ActivationSpec, X: object, depth: int, *, eps: float = 1e-5) -> _F:
    """Infinite-width isometry gaps after the ``depth`` layer norms of the training MLP.

    After the first layer norm every block is ``Linear -> sigma -> LayerNorm``: isoinit's
    ``act-norm`` network ``MLP(depth - 1, width, sigma, "layer")`` on the layer-normalized
    batch (module notes: biases taken as zero, their variance vanishing at infinite width).

    Parameters
    ----------
    activation : str or Activation
    X : array_like, shape (n, d)
        The batch (before the first layer norm).
    depth : int
        Number of blocks ``L``.
    eps : float
        Epsilon of the first layer norm (applied to the batch here).

    Returns
    -------
    ndarray, shape (depth,)
        Entry ``l - 1``: the gap after layer norm ``l``.
    """
    x = check.batch("X", X)
    depth = check.integer("depth", depth, 1)
    centered = x - x.mean(axis=1, keepdims=True)
    ln = centered / np.sqrt((centered**2).mean(axis=1, keepdims=True) + eps)
    if depth == 1:
        return np.asarray([gram_metrics(ln, gram=False)["gap"]], dtype=np.float64).reshape(1)
    mf = trajectory(MLP(depth - 1, max(2, x.shape[0]), _activation(activation), "layer"), ln)
    return np.asarray(mf.gap, dtype=np.float64).reshape(-1)


# --------------------------------------------------------------------------------------
# the training loop
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingResult:
    """What :func:`train` returns.

    Attributes
    ----------
    frame : pandas.DataFrame
        The tidy table, columns :data:`COLUMNS`, one row per (activation, rerun, epoch, split,
        metric, layer): ``split`` is ``train`` or ``test`` for the metrics ``loss`` (mean
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
    """Write a training table as CSV or Parquet (as :func:`isoinit.sweeps.save`); the path.

    Written atomically; an existing file is replaced only with ``overwrite=True``.
    """
    df = frame.frame if isinstance(frame, TrainingResult) else frame
    return _save(df, path, overwrite=overwrite)


def load(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`save` (as :func:`isoinit.sweeps.load`)."""
    return _load(path)


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
) -> TrainingResult:
    """Train the MLP of :func:`build_mlp` with SGD for every activation and rerun.

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
    show = _progress.wanted(progress)
    ds = load_data(data, seed=seed)
    eval_batch = check.integer("eval_batch", eval_batch, 2, ds.X_train.shape[0])
    betas = {a.name: float(beta0(a)) for a in acts}
    dt = torch.float64 if dtype == "float64" else torch.float32
    x_tr, x_te = torch.as_tensor(ds.X_train, dtype=dt), torch.as_tensor(ds.X_test, dtype=dt)
    y_tr, y_te = torch.as_tensor(ds.y_train), torch.as_tensor(ds.y_test)
    x_eval = x_tr[:eval_batch]
    depth = len(widths)
    rows: list[tuple[str, float, int, int, str, str, int, float]] = []
    bar = _progress.bar(len(acts) * reruns * epochs, "isoinit.train", "epoch", show=show)
    with _TorchState(threads):
        for act in acts:
            b0 = betas[act.name]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a breakdown shows as NaN in the prediction
                mf = meanfield_gaps(act, ds.X_train[:eval_batch], depth)
            rows.extend((act.name, b0, -1, 0, "mean-field", "gap", l + 1, float(v)) for l, v in enumerate(mf))
            for r in range(reruns):
                s = _rerun_seed(seed, r)
                model = build_mlp(act, ds.dim, ds.classes, widths, protocol=protocol, bias=bias, seed=s, dtype=dtype)
                gen = torch.Generator().manual_seed(s + 1)
                opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)

                def record(epoch: int, act_name: str = act.name, b: float = b0, rerun: int = r, m: Any = model) -> None:
                    for split, (xx, yy) in (("train", (x_tr, y_tr)), ("test", (x_te, y_te))):
                        loss, acc = _evaluate(m, xx, yy)
                        rows.append((act_name, b, rerun, epoch, split, "loss", -1, loss))
                        rows.append((act_name, b, rerun, epoch, split, "accuracy", -1, acc))
                    for metric, layer, gap in _gaps(m, x_eval, depth):
                        rows.append((act_name, b, rerun, epoch, "eval", metric, layer, gap))

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


# --------------------------------------------------------------------------------------
# the claim as a number
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Correlation:
    """A rank correlation with its bootstrap interval.

    Attributes
    ----------
    x, y : str
        What is correlated (e.g. ``"beta0"`` and ``"loss"``).
    rho : float
        Spearman's rank correlation of the per-activation means.
    low, high : float
        The percentile bootstrap interval at :attr:`Trainability.confidence`.
    """

    x: str
    y: str
    rho: float
    low: float
    high: float


@dataclass(frozen=True)
class Trainability:
    """What :func:`trainability` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per activation (sorted by ``beta0``): ``activation``, ``beta0``,
        ``gap_init`` (mean over reruns of the measured gap after the last layer norm at
        initialization), ``gap_meanfield`` (its infinite-width prediction), ``gap_final``
        (the measured gap after the last layer norm at epoch ``k``), ``loss`` and
        ``loss_sd`` (mean and standard deviation over reruns of the training loss at epoch
        ``k``), ``reruns``.
    k : int
        The epoch at which the loss is read.
    beta : Correlation
        Spearman's rho of ``beta0`` and ``loss`` (the claim: positive).
    gap : Correlation
        Spearman's rho of ``gap_init`` and ``loss`` (the claim: positive).
    confidence : float
        Level of the bootstrap intervals.
    boots : int
        Bootstrap resamples.
    """

    table: pd.DataFrame = field(repr=False)
    k: int
    beta: Correlation
    gap: Correlation
    confidence: float
    boots: int

    def to_frame(self) -> pd.DataFrame:
        """The per-activation table with the correlations as columns (one row per activation)."""
        df: pd.DataFrame = self.table.copy()
        for c, name in ((self.beta, "beta0"), (self.gap, "gap")):
            df[f"rho_{name}_loss"] = c.rho
            df[f"rho_{name}_loss_low"] = c.low
            df[f"rho_{name}_loss_high"] = c.high
        df["k"] = self.k
        return df


def _spearman(x: _F, y: _F) -> float:
    from scipy.stats import spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: rho is NaN, which is what we report
        return float(spearmanr(x, y).statistic)


_Draw = list[NDArray[np.intp]] | None  # per activation, the reruns drawn (None: the data itself)


def _correlation(
    x_name: str, y_name: str, x: Callable[[_Draw], _F], y: Callable[[_Draw], _F], draws: list[_Draw], confidence: float
) -> Correlation:
    rho = _spearman(x(None), y(None))
    boot = np.array([_spearman(x(d), y(d)) for d in draws])
    tail = 100 * (1 - confidence) / 2
    low = high = float("nan")
    if np.isfinite(boot).any():
        low, high = (float(v) for v in np.nanpercentile(boot, [tail, 100 - tail]))
    return Correlation(x_name, y_name, rho, low, high)


def trainability(
    result: TrainingResult | pd.DataFrame | None = None,
    *,
    k: int | None = None,
    boots: int = 1000,
    confidence: float = 0.9,
    seed: int = 0,
    **train_options: Any,
) -> Trainability:
    """The paper's trainability claim as rank correlations with bootstrap intervals.

    For each activation: ``beta_0``, the isometry gap after the last layer norm at
    initialization (measured on the evaluation batch, mean over reruns) beside its
    mean-field prediction, and the training loss after ``k`` epochs (mean over reruns).
    Then Spearman's rank correlation of ``beta_0`` with the loss and of the gap with the loss
    (the paper's claim: both positive), each with a percentile bootstrap interval: every
    resample draws each activation's reruns with replacement (a seeded generator, the same
    draw for the gap and the loss of a rerun) and recomputes the correlation of the
    per-activation means.

    Parameters
    ----------
    result : TrainingResult, DataFrame or None
        The output of :func:`train` (or its table, e.g. from :func:`load`); ``None``: run
        ``train(**train_options)``.
    k : int, optional
        The epoch at which the loss is read (default: the last).
    boots : int
        Bootstrap resamples, ``>= 1``.
    confidence : float
        Level of the intervals, in ``(0, 1)``.
    seed : int
        Seed of the bootstrap.
    **train_options
        Passed to :func:`train` when ``result`` is ``None``.

    Returns
    -------
    Trainability
    """
    if result is None:
        result = train(**train_options)
    elif train_options:
        raise TypeError(f"train options are only used when result is None; got {sorted(train_options)}")
    df = (
        result.frame
        if isinstance(result, TrainingResult)
        else check.instance("result", result, pd.DataFrame, "a TrainingResult, a DataFrame or None")
    )
    missing = set(COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"result must have the columns {list(COLUMNS)}; missing {sorted(missing)}")
    boots = check.integer("boots", boots, 1)
    confidence = check.real("confidence", confidence, 0.0, 1.0, low_open=True)
    if confidence >= 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    seed = check.integer("seed", seed, 0)
    measured = df[df.rerun >= 0]
    last = int(measured.epoch.max())
    k = last if k is None else check.integer("k", k, 0, last)
    gaps = measured[(measured.metric == "gap") & (measured.split == "eval")]
    depth = int(gaps.layer.max()) if len(gaps) else -1
    loss = measured[(measured.metric == "loss") & (measured.split == "train") & (measured.epoch == k)]
    acts = list(dict.fromkeys(loss.activation))
    if len(acts) < 2:
        raise ValueError(f"result must hold at least 2 activations to correlate; got {acts}")

    def per_rerun(sel: pd.DataFrame, act: str) -> _F:
        s = sel[sel.activation == act].sort_values("rerun")
        out: _F = s.value.to_numpy(dtype=np.float64)
        return out

    g0 = gaps[(gaps.epoch == 0) & (gaps.layer == depth)]
    gk = gaps[(gaps.epoch == k) & (gaps.layer == depth)]
    mf = df[(df.split == "mean-field") & (df.metric == "gap") & (df.layer == depth)]
    losses = {a: per_rerun(loss, a) for a in acts}
    gap0 = {a: per_rerun(g0, a) for a in acts}
    beta = {a: float(df[df.activation == a].beta0.iloc[0]) for a in acts}
    rows = []
    for a in acts:
        mf_a = mf[mf.activation == a].value
        rows.append(
            {
                "activation": a,
                "beta0": beta[a],
                "gap_init": float(gap0[a].mean()) if gap0[a].size else float("nan"),
                "gap_meanfield": float(mf_a.iloc[0]) if len(mf_a) else float("nan"),
                "gap_final": float(per_rerun(gk, a).mean()) if len(gk) else float("nan"),
                "loss": float(losses[a].mean()),
                "loss_sd": float(losses[a].std(ddof=1)) if losses[a].size > 1 else float("nan"),
                "reruns": int(losses[a].size),
            }
        )
    table = pd.DataFrame(rows).sort_values(["beta0", "activation"], kind="stable").reset_index(drop=True)
    acts = list(table.activation)
    rng = np.random.default_rng(seed)
    # one draw per (resample, activation): indices of that activation's reruns
    draws: list[_Draw] = [[rng.integers(0, losses[a].size, losses[a].size) for a in acts] for _ in range(boots)]

    def means(values: dict[str, _F]) -> Callable[[_Draw], _F]:
        def f(d: _Draw) -> _F:
            if d is None:
                return np.array([values[a].mean() for a in acts])
            # a rerun's gap and loss are drawn together (same indices)
            return np.array([values[a][i].mean() for a, i in zip(acts, d, strict=True)])

        return f

    betas = np.array([beta[a] for a in acts])
    rho_beta = _correlation("beta0", "loss", lambda d: betas, means(losses), draws, confidence)
    rho_gap = _correlation("gap_init", "loss", means(gap0), means(losses), draws, confidence)
    return Trainability(table, k, rho_beta, rho_gap, confidence, boots)
