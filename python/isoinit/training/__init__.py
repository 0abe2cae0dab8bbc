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
  1347 training and 450 test images), a synthetic Gaussian mixture, the labels of a random
  teacher network (:func:`teacher_task`: a task far from solved after a few epochs), user
  arrays ``(X_train, y_train, X_test, y_test)``, or PyTorch ``DataLoader`` s.
* :func:`train`: plain SGD on the cross-entropy, for several activations, pre-activation
  gains and reruns; one tidy
  table (:data:`COLUMNS`) with, per epoch (``epoch 0`` is the initialization), the loss and
  accuracy on the training and test sets, the isometry gap after every ``LayerNorm`` and
  after every block's activation on a fixed evaluation batch (measured with
  :class:`isoinit.hooks.GramRecorder`), and the mean-field prediction of the gaps after the
  layer norms at initialization.
* :func:`trainability`: the rank correlations (Spearman) of ``beta_0`` and of the gap at
  initialization with the training loss after ``k`` epochs, over all activations and without
  the near-linear ones, with two-level bootstrap intervals (activations and reruns redrawn)
  and reruns-only ones.
* :func:`dose_response`: one activation at several gains (its ``beta_0`` moved
  continuously): the slope of ``log10`` of the training loss against ``beta_0``, with its
  intervals. It separates the strength of the non-linearity from the identity of the
  function.

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

from ._data import Dataset, load_data, teacher_task
from ._loop import COLUMNS, DEFAULT_ACTIVATIONS, DOSE_ACTIVATION, DOSE_GAINS, TrainingResult, load, save, train
from ._model import Protocol, build_mlp, meanfield_gaps
from ._statistics import NEAR_LINEAR, Correlation, DoseResponse, Trainability, dose_response, trainability

__all__ = [
    "COLUMNS",
    "DEFAULT_ACTIVATIONS",
    "DOSE_ACTIVATION",
    "DOSE_GAINS",
    "NEAR_LINEAR",
    "Correlation",
    "Dataset",
    "DoseResponse",
    "Protocol",
    "Trainability",
    "TrainingResult",
    "build_mlp",
    "dose_response",
    "load",
    "load_data",
    "meanfield_gaps",
    "save",
    "teacher_task",
    "train",
    "trainability",
]


def __dir__() -> list[str]:
    return sorted(__all__)
