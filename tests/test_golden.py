"""Golden numbers: the exact metrics of fixed small configurations, to the last bit.

A refactor keeps behaviour: the same seed must give the same numbers. Every float is held
as its hexadecimal representation (``float.hex``), so the comparison is bit-for-bit; Gram
matrices are held by the SHA-256 of their raw bytes. The configurations cover both
samplers, every norm preset, both orders, orthogonal weights, a Hermite-defined
activation, a parametrized activation, non-uniform widths, bias, eps, stages, recorded
Grams, a fixed network run by ``forward``, divergence, the paper's block at its size (n = 10,
d = 1000: the small-n loops and their SIMD versions), odd sizes and float32.

The BLAS/LAPACK path (n >= 16: OpenBLAS's products; n > 32: its blocked tridiagonal
reduction; n > d: the spectrum from the dual) has its own file, ``golden_blas.json``: its
last bits depend on the OpenBLAS kernel the CPU selects and on the OpenBLAS release, so it is
compared only where both match the ones it was recorded with, and skipped (saying why)
elsewhere.

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
GOLDEN_BLAS = Path(__file__).with_name("golden") / "golden_blas.json"


def _x(n: int = 4, d: int = 6) -> np.ndarray:
    return isoinit.inputs.degenerate(n, d, degeneracy=3, seed=5)


def _simulator(threads: int | None) -> Any:
    """isoinit.simulate on ``threads`` threads."""

    def sim(*args: Any, **kwargs: Any) -> Any:
        return isoinit.simulate(*args, threads=threads, **kwargs)

    return sim


def _cases(threads: int | None = None) -> dict[str, Any]:
    """name -> zero-argument callable returning a Trajectory (simulations on ``threads`` threads)."""
    herm = from_hermite([0.1, 0.8, 0.5, 0.2, -0.1])
    x = _x()
    sim = _simulator(threads)
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


def _blas_cases(threads: int | None = None) -> dict[str, Any]:
    """The BLAS-path configurations (see the module docstring), name -> callable."""
    sim = _simulator(threads)
    x40 = isoinit.inputs.degenerate(40, 120, degeneracy=10.0, seed=6)
    return {
        "relu-layer-gram-n40": lambda: sim(isoinit.MLP(3, 120, "relu", "layer"), x40, runs=2, seed=16),
        "tanh-layer-weights-n40": lambda: sim(
            isoinit.MLP(3, 120, "tanh", "layer"), x40, runs=2, seed=17, sampler="weights"
        ),
        "relu-layer-gram-n40-float32": lambda: sim(
            isoinit.MLP(3, 120, "relu", "layer"), x40, runs=2, seed=18, dtype="float32"
        ),
        # n = 64 > d = 40: the spectrum from the 40 x 40 dual
        "gelu-layer-dual-n64-d40": lambda: sim(
            isoinit.MLP(3, 40, "gelu", "layer"), isoinit.inputs.gaussian(64, 40, seed=7), runs=2, seed=19
        ),
    }


def _blas_build() -> dict[str, str]:
    """What the BLAS path's last bits depend on: the OpenBLAS kernel and release."""
    from importlib.metadata import version

    return {"lapack": str(isoinit.build_info()["lapack"]), "scipy-openblas32": version("scipy-openblas32")}


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


def _run(name: str, threads: int | None = None, cases: Any = _cases) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", isoinit.DivergenceWarning)
        return _record(cases(threads)[name]())


def _assert_same(name: str, got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == want[key], f"{name}: {key} changed"


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


def test_golden_covers_every_case(golden: dict[str, Any]) -> None:
    assert sorted(golden) == sorted(_cases())


@pytest.mark.parametrize("name", sorted(_cases()))
@pytest.mark.parametrize("threads", [1, 2])
def test_golden_numbers(golden: dict[str, Any], name: str, threads: int) -> None:
    _assert_same(name, _run(name, threads), golden[name])  # the same numbers on any thread count


@pytest.fixture(scope="module")
def golden_blas() -> dict[str, Any]:
    return json.loads(GOLDEN_BLAS.read_text())


def test_golden_blas_covers_every_case(golden_blas: dict[str, Any]) -> None:
    assert sorted(golden_blas["cases"]) == sorted(_blas_cases())
    assert golden_blas["build"].keys() == _blas_build().keys()


@pytest.mark.parametrize("name", sorted(_blas_cases()))
@pytest.mark.parametrize("threads", [1, 2])
def test_golden_blas_numbers(golden_blas: dict[str, Any], name: str, threads: int) -> None:
    here = _blas_build()
    if here != golden_blas["build"]:
        pytest.skip(f"BLAS-path golden numbers were recorded with {golden_blas['build']}; this build has {here}")
    _assert_same(name, _run(name, threads, _blas_cases), golden_blas["cases"][name])


def test_golden_divergence_is_recorded(golden: dict[str, Any]) -> None:
    # the golden file itself must hold a diverging case, or the test above proves nothing about it
    assert any(d >= 0 for d in golden["exp-divergence"]["diverged_at"])
    assert any(d >= 0 for d in golden["exp-divergence-stages"]["diverged_at"])


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit("usage: python tests/test_golden.py --regenerate")
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps({name: _run(name) for name in sorted(_cases())}, indent=1) + "\n")
    blas = {name: _run(name, cases=_blas_cases) for name in sorted(_blas_cases())}
    GOLDEN_BLAS.write_text(json.dumps({"build": _blas_build(), "cases": blas}, indent=1) + "\n")
    print(f"wrote {GOLDEN} and {GOLDEN_BLAS}")
