"""The activation names of the ``transformers`` package as aliases, and "did you mean"."""

from __future__ import annotations

import numpy as np
import pytest

from isoinit import activations

ALIASES = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "swish": "silu", "GELU_NEW": "gelu_tanh"}


@pytest.mark.parametrize(("alias", "name"), ALIASES.items())
def test_aliases_resolve_to_the_same_function(alias: str, name: str) -> None:
    act = activations.resolve(alias)
    assert act.name == name
    x = np.linspace(-4, 4, 101)
    np.testing.assert_array_equal(act.fn(x), activations.resolve(name).fn(x))


def test_quick_gelu_is_x_sigmoid_1702x() -> None:
    x = np.linspace(-6, 6, 101)
    np.testing.assert_allclose(activations.resolve("quick_gelu").fn(x), x / (1 + np.exp(-1.702 * x)), rtol=1e-15)


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("rleu", "relu"), ("gelu_tahn", "gelu_tanh"), ("swissh", "swish"), ("sigmod", "sigmoid"), ("Tanhh", "tanh")],
)
def test_a_misspelled_name_gets_a_suggestion(typo: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match=rf"did you mean .*'{suggestion}'"):
        activations.resolve(typo)


def test_no_suggestion_for_a_name_far_from_every_activation() -> None:
    with pytest.raises(ValueError, match="activation must be one of") as err:
        activations.resolve("qqqqqqq")
    assert "did you mean" not in str(err.value)
