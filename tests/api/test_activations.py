"""The one activation table: compiled kernel and NumPy agree on names and values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from isoinit import _core, activations
from isoinit.activations import BUILTIN
from tolerances import ACTIVATION_REL, HERMITE_REL, TORCH_ACTIVATION_REL32, TORCH_ACTIVATION_REL64

SPECS = [*BUILTIN, "leaky_relu(0.3)", "elu(0.4)", "celu(2.5)", *(f"he{k}" for k in range(0, 31))]
GRID = np.concatenate([np.linspace(-8, 8, 2001), [0.0, -0.0, 1e-300, -1e-300, 30.0, -30.0, 700.0, -745.0]])


def test_names_are_shared() -> None:
    core = set(_core.activation_names())
    assert core == {*BUILTIN, "he", "hermite", "table"}


@pytest.mark.parametrize("spec", SPECS)
def test_compiled_equals_numpy(spec: str) -> None:
    act = activations.resolve(spec)
    x = GRID if not act.base.startswith("he") else np.linspace(-8, 8, 2001)
    with np.errstate(over="ignore"):
        ref = act(x)
    got = _core.activation_apply(act.kernel_name, act.kernel_param, [], x)
    both_inf = np.isinf(ref) & (got == ref)
    err = np.abs(got - ref) / np.maximum(1.0, np.abs(ref))
    assert np.all(both_inf | (err <= ACTIVATION_REL))


@pytest.mark.parametrize("spec", [*SPECS, "hermite"])
def test_torch_equals_numpy(spec: str) -> None:
    """Builtin.torch (the PyTorch half, used by isoinit.training) is the NumPy formula."""
    torch = pytest.importorskip("torch", reason="PyTorch (isoinit[torch]) is not installed")
    act = activations.from_hermite([0.3, -0.5, 0.8, 0.1, -0.05]) if spec == "hermite" else activations.resolve(spec)
    assert act.torch is not None
    grid = np.linspace(-8, 8, 2001) if act.base.startswith("he") else np.linspace(-30, 30, 6001)
    for dtype, tol in ((torch.float64, TORCH_ACTIVATION_REL64), (torch.float32, TORCH_ACTIVATION_REL32)):
        if dtype == torch.float32 and act.base not in BUILTIN:
            continue  # polynomials: float32 loses ~1e-5 to cancellation in the recurrence at |x| ~ 8
        x = torch.as_tensor(grid, dtype=dtype)
        got = act.torch(x)
        assert got.dtype == dtype and got.shape == x.shape
        ref = act(x.double().numpy())  # the NumPy function at the same (rounded) points
        err = np.abs(got.double().numpy() - ref) / np.maximum(1.0, np.abs(ref))
        assert np.all(err <= tol), (spec, dtype, float(err.max()))


def test_hermite_defined_activation() -> None:
    c = [0.3, -0.5, 0.8, 0.1, -0.05]
    act = activations.from_hermite(c)
    x = np.linspace(-5, 5, 101)
    expected = sum(ck * activations.hermite_he(k, x) / np.sqrt(math.factorial(k)) for k, ck in enumerate(c))
    np.testing.assert_allclose(act(x), expected, rtol=HERMITE_REL, atol=HERMITE_REL)
    got = _core.activation_apply("hermite", 0.0, c, x)
    np.testing.assert_allclose(got, expected, rtol=HERMITE_REL, atol=HERMITE_REL)


def test_specs_resolve_canonically() -> None:
    assert activations.resolve("leaky_relu").name == "leaky_relu(0.01)"
    assert activations.resolve("leaky_relu(0.01)") == activations.resolve(" leaky_relu( 0.01 ) ")
    assert activations.resolve("ReLU").name == "relu"
    assert activations.resolve("he3").kernel_param == 3.0


def test_register_user_activation() -> None:
    act = activations.register("softsign_test", lambda x: x / (1 + np.abs(x)), kinks=[0.0], overwrite=True)
    assert activations.resolve("softsign_test") is act
    assert act.kernel_name is None
    with pytest.raises(ValueError, match="already registered"):
        activations.register("softsign_test", np.tanh)
    with pytest.raises(ValueError, match="built-in"):
        activations.register("relu", np.tanh)
    with pytest.raises(ValueError, match="elementwise"):
        activations.register("bad_sum_test", lambda x: np.sum(x))


@pytest.mark.parametrize("spec", [*SPECS, "leaky_relu(0.123456789012345)"])
def test_activations_and_configurations_pickle(spec: str) -> None:
    import pickle

    import isoinit

    act = activations.resolve(spec)
    back = pickle.loads(pickle.dumps(act))
    assert back == act and back.param == act.param
    np.testing.assert_array_equal(back(GRID[:50]), act(GRID[:50]))
    mlp = isoinit.MLP(2, 4, spec)
    assert pickle.loads(pickle.dumps(mlp)) == mlp


def test_hermite_activation_pickles_by_coefficients() -> None:
    import pickle

    act = activations.from_hermite([0.2, -0.4, 0.3])
    back = pickle.loads(pickle.dumps(act))
    assert back == act and back.hermite == act.hermite
    np.testing.assert_array_equal(back(GRID[:50]), act(GRID[:50]))
