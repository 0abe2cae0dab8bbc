"""The classification tasks of :func:`isoinit.training.train`.

scikit-learn's bundled handwritten digits, a synthetic Gaussian mixture, the labels of a
random teacher network (:func:`teacher_task`), user arrays or PyTorch ``DataLoader`` s, as one
:class:`Dataset` of float64 features and integer labels.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from .. import _validate as check
from ..activations import resolve
from ._optional import _sklearn, _torch

__all__ = ["Dataset", "load_data", "teacher_task"]

_F = NDArray[np.float64]
DataName = Literal["digits", "mixture", "teacher"]


@dataclass(frozen=True)
class Dataset:
    """A classification task: float64 features, integer labels ``0..classes-1``.

    Attributes
    ----------
    name : str
        ``"digits"``, ``"mixture"``, ``"teacher"`` or ``"user"``.
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
        500 test points. ``"teacher"``: :func:`teacher_task` at its defaults (labels of a
        random depth-3 network on 4000 training and 1000 test Gaussian points, a task that
        is far from solved after a few epochs), drawn with ``seed``. A tuple
        ``(X_train, y_train, X_test, y_test)``: used as given (``X`` real ``(n, d)``, ``y``
        integer labels ``>= 0``). A
        :class:`torch.utils.data.DataLoader` yielding ``(inputs, labels)``: materialized
        (inputs flattened) and split as the digits are; a pair of loaders
        ``(train_loader, test_loader)``: materialized as they are. A :class:`Dataset`:
        returned as is.
    seed : int
        Seed of the split (and of the mixture's and the teacher's draws).
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
        if name == "teacher":
            return teacher_task(seed=seed)
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
        "data must be 'digits', 'mixture', 'teacher', a tuple (X_train, y_train, X_test, y_test), a DataLoader, "
        f"a pair of DataLoaders or an isoinit.training.Dataset; got {type(data).__name__}"
    )


def _layer_norm(h: _F) -> _F:
    c = h - h.mean(axis=1, keepdims=True)
    out: _F = c / np.sqrt((c * c).mean(axis=1, keepdims=True))
    return out


def teacher_task(
    depth: int = 3,
    *,
    width: int = 64,
    dim: int = 64,
    classes: int = 10,
    n_train: int = 4000,
    n_test: int = 1000,
    activation: str = "relu",
    seed: int = 0,
) -> Dataset:
    """A classification task labelled by a random teacher network (synthetic, offline).

    Inputs ``x ~ N(0, I_dim)``. The teacher is ``depth`` blocks ``LayerNorm -> Linear ->
    activation`` of width ``width`` (weights ``N(0, 1/fan_in)``, no biases), a last layer norm
    and a read-out ``N(0, 1)`` to ``classes`` logits; each logit is standardized over the
    ``n_train + n_test`` points (so the classes are about equally frequent) and the label is
    the largest. ``depth = 0`` gives a linear teacher. Deeper teachers draw more intricate
    boundaries: at the defaults a 10-block student of width 256 needs many epochs to fit the
    training set, and the test accuracy stays far from 1 (the training set is too small to
    learn the teacher), so the training loss measures how fast the network fits, the
    paper's trainability.

    Parameters
    ----------
    depth : int
        Teacher blocks, ``>= 0``.
    width, dim : int
        The teacher's width and the input dimension, ``>= 2`` (a layer norm needs 2 features).
    classes : int
        Number of classes, ``>= 2``.
    n_train, n_test : int
        Training and test points, ``>= 1``.
    activation : str
        The teacher's activation (any spec of :mod:`isoinit.activations`).
    seed : int
        Seed of the inputs and the teacher's weights.

    Returns
    -------
    Dataset
        Named ``"teacher"``; features standardized with the training set's mean and standard
        deviation.
    """
    depth = check.integer("depth", depth, 0)
    width = check.integer("width", width, 2)
    dim = check.integer("dim", dim, 2)
    classes = check.integer("classes", classes, 2)
    n_train = check.integer("n_train", n_train, 1)
    n_test = check.integer("n_test", n_test, 1)
    act = resolve(activation)
    seed = check.integer("seed", seed, 0, 2**32 - 1)
    rng = np.random.default_rng([seed, 0x7EAC])  # a stream of its own, apart from the mixture's
    x = rng.standard_normal((n_train + n_test, dim))
    h = x
    for _ in range(depth):
        h = act(_layer_norm(h) @ (rng.standard_normal((h.shape[1], width)) / np.sqrt(h.shape[1])))
    logits = _layer_norm(h) @ rng.standard_normal((h.shape[1], classes))
    logits = (logits - logits.mean(axis=0)) / logits.std(axis=0)
    y = np.argmax(logits, axis=1).astype(np.int64)
    xtr, xte = _standardize(x[:n_train], x[n_train:])
    return _arrays(xtr, y[:n_train], xte, y[n_train:], "teacher")
