"""The names 0.2.0 renamed keep working, without a warning (CHANGELOG.md, "Renamed").

Each old name is an alias: a keyword the function or class still takes (both names at once
are a TypeError), an attribute that reads the renamed one, and a pickle of an earlier version
that still unpickles. Equality, repr, pickling and files use the new names.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import isoinit
from isoinit import MLP, Network, ResidualMLP, Transformer, activations, bounds, meanfield
from isoinit.figures._measure import Curve
from isoinit.networks import Attention, Feedforward, TransformerBlock
from isoinit.results import config_columns

X = isoinit.inputs.degenerate(5, 16, 10.0, seed=0)
NET = MLP(3, 16, "tanh", "layer")


class _Pickled:
    """Pickles as ``obj`` did in a version that named its fields ``old`` (new name -> old)."""

    def __init__(self, obj: object, old: dict[str, str]) -> None:
        self.obj, self.old = obj, old

    def __reduce__(self) -> tuple[Any, ...]:
        state = {self.old.get(k, k): v for k, v in vars(self.obj).items()}
        return object.__new__, (type(self.obj),), state


def _from_old_pickle(obj: object, old: dict[str, str]) -> Any:
    return pickle.loads(pickle.dumps(_Pickled(obj, old)))


# --- the network parameter of the functions: network (was mlp; compare's was net) ---------

CALLS: dict[str, tuple[Callable[..., Any], str, tuple[Any, ...], dict[str, Any]]] = {
    "simulate": (isoinit.simulate, "mlp", (X,), {"runs": 2, "seed": 1}),
    "network_weights": (isoinit.network_weights, "mlp", (16,), {"seed": 1}),
    "meanfield.trajectory": (meanfield.trajectory, "mlp", (X,), {}),
    "meanfield.block_map": (meanfield.block_map, "mlp", (np.eye(3),), {"layer": 2}),
    "meanfield.mf_constants": (meanfield.mf_constants, "mlp", (), {}),
    "bounds.predict": (bounds.predict, "mlp", (), {}),
    "config_columns": (config_columns, "mlp", (), {}),
    "compare": (isoinit.compare, "net", (X,), {"runs": 2}),
}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return bool(np.array_equal(a, b))
    if isinstance(a, isoinit.Comparison):
        return a.simulation == b.simulation and a.prediction == b.prediction
    return bool(a == b)


@pytest.mark.parametrize("name", list(CALLS))
def test_old_keyword_of_the_network_parameter(name: str) -> None:
    fn, old, args, kw = CALLS[name]
    new = fn(NET, *args, **kw)
    assert _same(fn(**{old: NET}, **dict(zip(_positional(fn, len(args)), args, strict=True)), **kw), new)
    assert _same(fn(network=NET, **dict(zip(_positional(fn, len(args)), args, strict=True)), **kw), new)
    with pytest.raises(TypeError, match=rf"got both 'network' and '{old}', its old name"):
        fn(network=NET, **{old: NET}, **dict(zip(_positional(fn, len(args)), args, strict=True)), **kw)
    with pytest.raises(TypeError, match="multiple values"):
        fn(NET, *args, **{old: NET}, **kw)


def _positional(fn: Callable[..., Any], k: int) -> list[str]:
    """The names of the k parameters after ``network``."""
    import inspect

    names = list(inspect.signature(fn).parameters)
    assert names[0] == "network"
    return names[1 : 1 + k]


def test_forward_takes_the_old_keyword() -> None:
    weights = isoinit.network_weights(NET, 16, seed=2)
    assert isoinit.forward(mlp=NET, X=X, weights=weights) == isoinit.forward(NET, X, weights)


# --- results and records: network (was mlp) ----------------------------------------------


def test_results_read_the_network_under_its_old_name() -> None:
    t = isoinit.simulate(NET, X, runs=2)
    mf = meanfield.trajectory(NET, X)
    c = isoinit.compare(NET, X, runs=2)
    p = bounds.predict(NET)
    curve = Curve("relu", NET, 10.0, 2)
    for r in (t, mf, c, p, curve):
        assert r.network is NET and r.mlp is NET
        assert "network" in {f.name for f in dataclasses.fields(r)}
        assert "mlp" not in {f.name for f in dataclasses.fields(r)} and "mlp=" not in repr(r)
        with pytest.raises(AttributeError):
            r.mlp = NET  # type: ignore[misc]  # read-only
    assert type(t)(mlp=NET, **{f.name: getattr(t, f.name) for f in dataclasses.fields(t)[1:]}) == t
    assert Curve("relu", mlp=NET, degeneracy=10.0, runs=2) == curve


def test_the_bound_reads_an_object_that_holds_the_network_under_its_old_name() -> None:
    mf = meanfield.trajectory(NET, X)
    own = SimpleNamespace(mlp=NET, potential=mf.potential)  # a caller's own object, old-style
    np.testing.assert_array_equal(bounds.trajectory_potential_bound(own), bounds.trajectory_potential_bound(mf))


def test_pickles_of_results_with_the_old_field_name_unpickle() -> None:
    t = isoinit.simulate(NET, X, runs=2)
    mf = meanfield.trajectory(NET, X)
    for r in (t, mf):
        back = _from_old_pickle(r, {"network": "mlp"})
        assert back == r and back.network == NET and "mlp" not in vars(back)
    p = bounds.predict(NET)
    assert _from_old_pickle(p, {"network": "mlp"}) == p


# --- block networks: ratio (was Transformer.mlp_ratio), norm_position (was position) -------


def test_transformer_ratio_and_its_old_name() -> None:
    t = Transformer(2, 16, heads=2, mlp_ratio=2)
    assert t == Transformer(2, 16, heads=2, ratio=2) == Transformer(2, 16, 2, 2.0)
    assert t.ratio == t.mlp_ratio == 2.0 and "ratio=2.0" in repr(t) and "mlp_ratio" not in repr(t)
    assert [b.ratio for b in t.block_list()] == [2.0, 2.0]
    assert pickle.loads(pickle.dumps(t)) == t
    assert _from_old_pickle(t, {"ratio": "mlp_ratio"}) == t
    assert dataclasses.replace(t, ratio=3).ratio == 3.0
    with pytest.raises(TypeError, match="got both 'ratio' and 'mlp_ratio'"):
        Transformer(2, 16, heads=2, ratio=2, mlp_ratio=2)
    with pytest.raises(AttributeError):
        t.mlp_ratio = 3  # type: ignore[misc]


@pytest.mark.parametrize("block", [Feedforward, Attention, TransformerBlock])
def test_blocks_norm_position_and_its_old_name(block: type[Any]) -> None:
    b = block(position="post")
    assert b == block(norm_position="post") and b.norm_position == b.position == "post"
    assert "norm_position='post'" in repr(b) and "position=" not in repr(b).replace("norm_position=", "")
    assert pickle.loads(pickle.dumps(b)) == b
    assert _from_old_pickle(b, {"norm_position": "position"}) == b
    with pytest.raises(TypeError, match="got both 'norm_position' and 'position'"):
        block(position="pre", norm_position="post")
    with pytest.raises(ValueError, match="norm_position must be one of"):
        block(position="middle")


def test_block_networks_norm_position_order_and_block_list() -> None:
    net = Network(16, [Attention(norm_position="none", residual=False), Feedforward(norm_position="post")])
    assert net.blocks_() == net.block_list() == net.blocks
    assert net.norm_position == "none" and net.order == "no-norm"  # order: the old form, kept
    r = ResidualMLP(2, 16, norm_position="post")
    assert r.norm_position == "post" and r.order == "post-norm" and r.blocks_() == r.block_list()
    cols = config_columns(r)
    assert cols["order"] is None and cols["norm_position"] == "post"
    cols = config_columns(NET)
    assert cols["order"] == "act-norm" and cols["norm_position"] is None


# --- activations: kernel_name, kernel_param (were engine, engine_param) --------------------


def test_activation_kernel_name_and_its_old_names() -> None:
    act = activations.resolve("leaky_relu(0.2)")
    assert act.kernel_name == act.engine == "leaky_relu" and act.kernel_param == act.engine_param == 0.2
    assert activations.resolve("he3").engine_param == 3.0
    copy = activations.Activation(act.name, act.base, act.param, act.fn, act.kinks, engine="leaky_relu")
    assert copy == act and "kernel_name='leaky_relu'" in repr(copy)
    with pytest.raises(AttributeError):
        act.engine = "relu"  # type: ignore[misc]
