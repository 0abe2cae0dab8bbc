"""sampler="weights" against the independent NumPy forward pass, with the same weights."""

from __future__ import annotations

import numpy as np
import pytest

import isoinit
from isoinit.activations import BUILTIN
from reference import simulated_and_reference
from tolerances import FORWARD_REL

ACTIVATIONS = [*BUILTIN, "leaky_relu(0.2)", "elu(0.5)", "celu(2)", "he1", "he2", "he3", "he5"]
NORMS = ["layer", "rms", "batch", "center", "mf", "none"]


def _compare(mlp: isoinit.MLP, x: np.ndarray, seed: int = 3, run: int = 1) -> None:
    got, ref = simulated_and_reference(mlp, x, seed, run)
    assert got.shape == ref.shape
    scale = np.max(np.abs(ref), axis=(-1, -2), keepdims=True)
    np.testing.assert_array_less(np.abs(got - ref) / scale, FORWARD_REL)


@pytest.mark.parametrize("order", ["act-norm", "norm-act"])
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_weights_sampler_equals_numpy(activation: str, norm: str, order: str) -> None:
    x = isoinit.inputs.degenerate(5, 24, 5.0, seed=11)
    depth = 2 if norm in ("none", "center") else 4  # unscaled exp/he5 grow doubly exponentially
    _compare(isoinit.MLP(depth, 32, activation, norm, order=order), x)


@pytest.mark.parametrize("center", ["none", "layer", "batch", "mf"])
@pytest.mark.parametrize("scale", ["none", "layer", "batch", "mf"])
@pytest.mark.parametrize("order", ["act-norm", "norm-act"])
def test_every_centering_and_scaling_pair_equals_numpy(center: str, scale: str, order: str) -> None:
    # the presets are six of these sixteen pairs; the kernel runs all of them through one path
    x = isoinit.inputs.degenerate(5, 24, 5.0, seed=13)
    _compare(isoinit.MLP(3, 20, "tanh", center=center, scale=scale, order=order, bias=0.2), x)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(gain=1.7, bias=0.3),
        dict(weights="orthogonal"),
        dict(width=(40, 16, 64)),
        dict(weights="orthogonal", width=(40, 16, 64), bias=0.5),
        dict(eps=1e-2, norm="batch"),
        dict(center="mf", scale="layer", activation="tanh", gain=2.0),
        dict(center="batch", scale="none"),
        dict(activation=isoinit.activations.from_hermite([0.1, 0.5, 0.7, -0.2])),
    ],
)
def test_weights_sampler_options(kwargs: dict) -> None:
    kwargs = {"activation": "relu", "norm": "layer", "width": 32} | kwargs
    x = isoinit.inputs.gaussian(6, 20, seed=2)
    _compare(isoinit.MLP(3, **kwargs), x)


def test_forward_rejects_bad_weights() -> None:
    mlp = isoinit.MLP(2, 8)
    x = isoinit.inputs.gaussian(3, 5, seed=0)
    good = isoinit.network_weights(mlp, 5)
    with pytest.raises(ValueError, match="weights"):
        isoinit.forward(mlp, x, good[:1])
    bad = [(np.ones((5, 9)), np.array([])), good[1]]
    with pytest.raises(ValueError, match=r"weights\[0\] must have shape \(5, 8\)"):
        isoinit.forward(mlp, x, bad)
    bad = [(good[0][0], np.ones(3)), good[1]]
    with pytest.raises(ValueError, match=r"biases\[0\]"):
        isoinit.forward(mlp, x, bad)
