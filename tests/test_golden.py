"""Golden numbers: the exact metrics of fixed small configurations, to the last bit.

A refactor keeps behaviour: the same seed must give the same numbers. Every float is held
as its hexadecimal representation (``float.hex``), so the comparison is bit-for-bit; Gram
matrices are held by the SHA-256 of their raw bytes. The configurations cover both
samplers, every norm preset, both orders, orthogonal weights, a Hermite-defined
activation, a parametrized activation, non-uniform widths, bias, eps, stages, recorded
Grams, a fixed network run by ``forward``, divergence, the paper's block at its size (n = 10,
d = 1000: the small-n loops and their SIMD versions), odd sizes and float32.

Regenerate (only when a change of numbers is intended, and say so in the commit)::

    python tests/test_golden.py --regenerate
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import isoinit
from isoinit.activations import from_hermite

GOLDEN = Path(__file__).with_name("golden") / "golden.json"


def _x(n: int = 4, d: int = 6) -> np.ndarray:
    return isoinit.inputs.degenerate(n, d, degeneracy=3, seed=5)


def _cases(threads: int | None = None) -> dict[str, Any]:
    """name -> zero-argument callable returning a Trajectory (simulations on ``threads`` threads)."""
    herm = from_hermite([0.1, 0.8, 0.5, 0.2, -0.1])
    x = _x()

    def sim(*args: Any, **kwargs: Any) -> Any:
        return isoinit.simulate(*args, threads=threads, **kwargs)

    return {
        "relu-layer-gram": lambda: sim(isoinit.MLP(4, 8, "relu", "layer"), x, runs=3, seed=1, sampler="gram"),
        "relu-layer-weights": lambda: sim(isoinit.MLP(4, 8, "relu", "layer"), x, runs=3, seed=1, sampler="weights"),
        "tanh-rms-normact-gram": lambda: sim(
            isoinit.MLP(3, 7, "tanh", "rms", order="norm-act"), x, runs=2, seed=2, sampler="gram"
        ),
        "selu-batch-weights-bias": lambda: sim(
            isoinit.MLP(3, (5, 9, 6), "selu", "batch", bias=0.3), x, runs=2, seed=3, sampler="weights"
        ),
        "sin-center-gram-gain": lambda: sim(isoinit.MLP(3, 6, "sin", "center", gain=1.7), x, runs=2, seed=4),
        "gelu-mf-gram": lambda: sim(isoinit.MLP(3, 10, "gelu", "mf"), x, runs=2, seed=5, sampler="gram"),
        "sigmoid-mf-normact-weights": lambda: sim(
            isoinit.MLP(3, 10, "sigmoid", "mf", order="norm-act", bias=0.2), x, runs=2, seed=5, sampler="weights"
        ),
        "elu-none-eps": lambda: sim(isoinit.MLP(3, 8, "elu(0.5)", "none", eps=1e-3), x, runs=2, seed=6),
        "orthogonal-weights": lambda: sim(
            isoinit.MLP(3, (12, 5, 12), "relu", "layer", weights="orthogonal"), x, runs=2, seed=7, sampler="weights"
        ),
        "orthogonal-gram": lambda: sim(
            isoinit.MLP(3, 9, "tanh", "layer", weights="orthogonal"), x, runs=2, seed=7, sampler="gram"
        ),
        "hermite-layer-stages-grams": lambda: sim(
            isoinit.MLP(3, 8, herm, "layer", center="batch"), x, runs=2, seed=8, stages=True, grams=True
        ),
        "leaky-normact-stages": lambda: sim(
            isoinit.MLP(3, 8, "leaky_relu(0.2)", "layer", order="norm-act", scale="mf"),
            x,
            runs=2,
            seed=9,
            stages=True,
            sampler="weights",
        ),
        "he3-none-grams": lambda: sim(isoinit.MLP(2, 6, "he3", "none"), x, runs=2, seed=10, grams=True),
        "exp-divergence": lambda: sim(isoinit.MLP(6, 8, "exp", "none", gain=3.0), x, runs=3, seed=11),
        "exp-divergence-stages": lambda: sim(
            isoinit.MLP(6, 8, "exp", "none", gain=3.0), x, runs=3, seed=11, stages=True
        ),
        # the paper's block at its batch size (the small-n loops, every SIMD path), odd sizes
        # (the loops' tails), and float32
        "relu-layer-gram-n10-d1000": lambda: sim(
            isoinit.MLP(4, 1000, "relu", "layer"), isoinit.inputs.degenerate(10, 1000, 100.0, seed=0), runs=2, seed=12
        ),
        "tanh-layer-gram-n13-d301": lambda: sim(
            isoinit.MLP(3, 301, "tanh", "layer"), isoinit.inputs.gaussian(13, 301, seed=1), runs=2, seed=13
        ),
        "relu-layer-gram-float32": lambda: sim(
            isoinit.MLP(4, 300, "relu", "layer"),
            isoinit.inputs.gaussian(10, 300, seed=2),
            runs=2,
            seed=14,
            dtype="float32",
        ),
        "gelu-layer-weights-float32": lambda: sim(
            isoinit.MLP(3, 77, "gelu", "layer"),
            isoinit.inputs.gaussian(11, 77, seed=3),
            runs=2,
            seed=15,
            sampler="weights",
            dtype="float32",
        ),
        "forward-fixed-network": lambda: isoinit.forward(
            isoinit.MLP(3, 7, "gelu_tanh", "layer", bias=0.1),
            x,
            isoinit.network_weights(isoinit.MLP(3, 7, "gelu_tanh", "layer", bias=0.1), x.shape[1], seed=12, run=1),
            stages=True,
        ),
    }


def _hex(a: np.ndarray) -> list[Any]:
    return np.vectorize(lambda v: float(v).hex(), otypes=[object])(a).tolist()


def _record(traj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {name: _hex(np.asarray(traj.metrics[name])) for name in sorted(traj.metrics)}
    out["norm_bias"] = _hex(traj.norm_bias)
    out["diverged_at"] = np.asarray(traj.diverged_at).tolist()
    out["sampler"] = traj.sampler
    if traj.grams is not None:
        g = np.ascontiguousarray(traj.grams, dtype=np.float64)
        out["grams_shape"] = list(g.shape)
        out["grams_sha256"] = hashlib.sha256(g.tobytes()).hexdigest()
    return out


def _run(name: str, threads: int | None = None) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", isoinit.DivergenceWarning)
        return _record(_cases(threads)[name]())


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


def test_golden_covers_every_case(golden: dict[str, Any]) -> None:
    assert sorted(golden) == sorted(_cases())


@pytest.mark.parametrize("name", sorted(_cases()))
@pytest.mark.parametrize("threads", [1, 2])
def test_golden_numbers(golden: dict[str, Any], name: str, threads: int) -> None:
    got = _run(name, threads)  # the same numbers on any thread count
    want = golden[name]
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == want[key], f"{name}: {key} changed"


def test_golden_divergence_is_recorded(golden: dict[str, Any]) -> None:
    # the golden file itself must hold a diverging case, or the test above proves nothing about it
    assert any(d >= 0 for d in golden["exp-divergence"]["diverged_at"])
    assert any(d >= 0 for d in golden["exp-divergence-stages"]["diverged_at"])


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit("usage: python tests/test_golden.py --regenerate")
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps({name: _run(name) for name in sorted(_cases())}, indent=1) + "\n")
    print(f"wrote {GOLDEN}")
