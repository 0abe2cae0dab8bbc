"""Golden numbers: the exact metrics of fixed small configurations, to the last bit.

A refactor keeps behaviour: the same seed must give the same numbers. Every float is held
as its hexadecimal representation (``float.hex``), Grams included. The configurations cover
both samplers, every norm preset, both orders, orthogonal weights, a Hermite-defined
activation, a parametrized activation, non-uniform widths, bias, eps, stages, recorded
Grams, a fixed network run by ``forward``, divergence, the paper's block at its size (n = 10,
d = 1000: the small-n loops and their SIMD versions), odd sizes and float32.

The comparison follows the reproducibility contract (docs/errors.md): ``golden.json`` (every
batch below 16 rows) is compared bit for bit on every CPU, except the cases whose activation
calls the C library's transcendental functions when this machine's libm gives other bits
than the recording machine's (the fingerprint ``libm``); those, and ``golden_blas.json``
(n >= 16: OpenBLAS's kernels, picked per CPU) on another OpenBLAS kernel or release, are
compared to the cross-CPU tolerances of tests/tolerances.py. Nothing is skipped.

Regenerate (only when a change of numbers is intended, and say so in the commit)::

    python tests/core/test_golden.py --regenerate

Measure the largest difference between CPU kernels on this machine (OpenBLAS's kernels,
glibc's non-FMA libm, isoinit's scalar loops; each in a child process)::

    python tests/core/test_golden.py --cross-kernel
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import isoinit
from isoinit import _core
from isoinit.activations import from_hermite

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "golden.json"
GOLDEN_BLAS = Path(__file__).resolve().parents[1] / "golden" / "golden_blas.json"


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


#: The activation each case runs (libm: whether its last bits can depend on the CPU's libm).
_ACTIVATIONS = {
    "relu-layer-gram": "relu",
    "relu-layer-weights": "relu",
    "tanh-rms-normact-gram": "tanh",
    "selu-batch-weights-bias": "selu",
    "sin-center-gram-gain": "sin",
    "gelu-mf-gram": "gelu",
    "sigmoid-mf-normact-weights": "sigmoid",
    "elu-none-eps": "elu",
    "orthogonal-weights": "relu",
    "orthogonal-gram": "tanh",
    "hermite-layer-stages-grams": "hermite",
    "leaky-normact-stages": "leaky_relu",
    "he3-none-grams": "he",
    "exp-divergence": "exp",
    "exp-divergence-stages": "exp",
    "relu-layer-gram-n10-d1000": "relu",
    "tanh-layer-gram-n13-d301": "tanh",
    "relu-layer-gram-float32": "relu",
    "gelu-layer-weights-float32": "gelu",
    "forward-fixed-network": "gelu_tanh",
    "relu-layer-gram-n40": "relu",
    "tanh-layer-weights-n40": "tanh",
    "relu-layer-gram-n40-float32": "relu",
    "gelu-layer-dual-n64-d40": "gelu",
}


def _libm_fingerprint() -> str:
    """SHA-256 (first 16 hex digits) of every C-library activation on fixed arguments, as the engine computes them."""
    x = np.linspace(-30.0, 30.0, 200_001)
    h = hashlib.sha256()
    for name in sorted(set(_core.activation_names()) - set(_core.exact_activations())):
        param = 1.0 if name in ("elu", "celu") else 0.0
        h.update(_core.activation_apply(name, param, [], x).tobytes())
    return h.hexdigest()[:16]


def _blas_build() -> dict[str, str]:
    """What the BLAS path's last bits depend on: the OpenBLAS kernel and release, and the libm."""
    from importlib.metadata import version

    return {
        "lapack": str(isoinit.build_info()["lapack"]),
        "scipy-openblas32": version("scipy-openblas32"),
        "libm": _libm_fingerprint(),
    }


def _hex(a: np.ndarray) -> list[Any]:
    return np.vectorize(lambda v: float(v).hex(), otypes=[object])(a).tolist()


def _record(traj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {name: _hex(np.asarray(traj.metrics[name])) for name in sorted(traj.metrics)}
    out["norm_bias"] = _hex(traj.norm_bias)
    out["diverged_at"] = np.asarray(traj.diverged_at).tolist()
    out["sampler"] = traj.sampler
    if traj.grams is not None:
        out["grams"] = _hex(np.asarray(traj.grams, dtype=np.float64))
    return out


def _run(name: str, threads: int | None = None, cases: Any = _cases) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", isoinit.DivergenceWarning)
        warnings.simplefilter("ignore", isoinit.SingularInputWarning)  # the dual cases: n > d on purpose
        return _record(cases(threads)[name]())


def _values(hexes: Any) -> np.ndarray:
    return np.vectorize(float.fromhex, otypes=[np.float64])(np.asarray(hexes, dtype=object))


def _relative(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| / max(|got|, |want|) where both are finite (0 where both are 0)."""
    both = np.isfinite(got) & np.isfinite(want)
    g, w = np.where(both, got, 0.0), np.where(both, want, 0.0)
    scale = np.maximum(np.abs(g), np.abs(w))
    return np.divide(np.abs(g - w), scale, out=np.zeros_like(scale), where=scale > 0)


def _tolerance(name: str, key: str) -> float:
    # imported here, not at the top: the script modes (--regenerate, --cross-kernel, --dump) run
    # from tests/core/, where tests/tolerances.py is not on sys.path (pytest's conftest puts it there)
    from tolerances import (
        GOLDEN_CROSS_CPU_REL,
        GOLDEN_CROSS_CPU_REL_CONDITION,
        GOLDEN_CROSS_CPU_REL_FLOAT32,
        GOLDEN_CROSS_CPU_REL_FLOAT32_CONDITION,
    )

    if name.endswith("float32"):
        return GOLDEN_CROSS_CPU_REL_FLOAT32_CONDITION if key == "condition" else GOLDEN_CROSS_CPU_REL_FLOAT32
    return GOLDEN_CROSS_CPU_REL_CONDITION if key == "condition" else GOLDEN_CROSS_CPU_REL


def _assert_close(name: str, got: dict[str, Any], want: dict[str, Any]) -> None:
    """The cross-CPU tolerance: the same non-finite pattern, divergence and sampler; finite values within tolerance."""
    assert got.keys() == want.keys()
    for key in want:
        if key in ("diverged_at", "sampler"):
            assert got[key] == want[key], f"{name}: {key} changed"
            continue
        g, w = _values(got[key]), _values(want[key])
        assert g.shape == w.shape, f"{name}: {key} changed shape"
        for pattern in (np.isnan, np.isposinf, np.isneginf):
            np.testing.assert_array_equal(pattern(g), pattern(w), err_msg=f"{name}: {key}: non-finite entries moved")
        worst = float(np.max(_relative(g, w), initial=0.0))
        assert worst <= _tolerance(name, key), f"{name}: {key} differs by {worst:.3g} relative"


def _assert_same(name: str, got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == want[key], f"{name}: {key} changed"


def _libm_dependent(name: str) -> bool:
    return _ACTIVATIONS[name] not in _core.exact_activations()


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def same_libm(golden: dict[str, Any]) -> bool:
    return bool(golden["build"]["libm"] == _libm_fingerprint())


def test_golden_covers_every_case(golden: dict[str, Any]) -> None:
    assert sorted(golden["cases"]) == sorted(_cases())
    assert sorted(_ACTIVATIONS) == sorted([*_cases(), *_blas_cases()])


@pytest.mark.parametrize("name", sorted(_cases()))
@pytest.mark.parametrize("threads", [1, 2])
def test_golden_numbers(golden: dict[str, Any], same_libm: bool, name: str, threads: int) -> None:
    got, want = _run(name, threads), golden["cases"][name]
    if same_libm or not _libm_dependent(name):
        _assert_same(name, got, want)  # bit for bit on any CPU and thread count
    else:
        _assert_close(name, got, want)


@pytest.fixture(scope="module")
def golden_blas() -> dict[str, Any]:
    return json.loads(GOLDEN_BLAS.read_text())


def test_golden_blas_covers_every_case(golden_blas: dict[str, Any]) -> None:
    assert sorted(golden_blas["cases"]) == sorted(_blas_cases())
    assert golden_blas["build"].keys() == _blas_build().keys()


@pytest.mark.parametrize("name", sorted(_blas_cases()))
@pytest.mark.parametrize("threads", [1, 2])
def test_golden_blas_numbers(golden_blas: dict[str, Any], name: str, threads: int) -> None:
    got, want = _run(name, threads, _blas_cases), golden_blas["cases"][name]
    build, here = golden_blas["build"], _blas_build()
    same_blas = all(here[key] == build[key] for key in ("lapack", "scipy-openblas32"))
    if same_blas and (here["libm"] == build["libm"] or not _libm_dependent(name)):
        _assert_same(name, got, want)  # the recorded kernel: bit for bit
    else:
        _assert_close(name, got, want)


def test_cross_cpu_comparison_detects_a_change(golden: dict[str, Any]) -> None:
    # the tolerance comparison must fail on a real change and on a moved inf, or it proves nothing
    want = golden["cases"]["relu-layer-gram"]
    moved = dict(want, gap=[[float.hex(float.fromhex(v) * (1 + 1e-9)) for v in row] for row in want["gap"]])
    with pytest.raises(AssertionError, match="gap differs"):
        _assert_close("relu-layer-gram", moved, want)
    div = golden["cases"]["exp-divergence"]
    finite = dict(div, gap=[["0x1.0p+0" for _ in row] for row in div["gap"]])
    with pytest.raises(AssertionError, match="non-finite"):
        _assert_close("exp-divergence", finite, div)


def test_golden_divergence_is_recorded(golden: dict[str, Any]) -> None:
    # the golden file itself must hold a diverging case, or the test above proves nothing about it
    assert any(d >= 0 for d in golden["cases"]["exp-divergence"]["diverged_at"])
    assert any(d >= 0 for d in golden["cases"]["exp-divergence-stages"]["diverged_at"])


#: The foreign CPU kernels that one machine can run (the default is the first).
ENVIRONMENTS = {
    "default": {},
    "OpenBLAS Haswell": {"OPENBLAS_CORETYPE": "Haswell"},
    "OpenBLAS Sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
    "OpenBLAS Prescott": {"OPENBLAS_CORETYPE": "Prescott"},
    "glibc non-FMA libm": {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX"},
    "isoinit scalar loops": {"ISOINIT_SIMD": "off"},
}
_CPUINFO = Path("/proc/cpuinfo")
if _CPUINFO.exists() and "avx512f" in _CPUINFO.read_text():  # OpenBLAS's AVX-512 kernels run here too
    ENVIRONMENTS["OpenBLAS SkylakeX"] = {"OPENBLAS_CORETYPE": "SkylakeX"}


def _cross_kernel() -> None:
    """Print the largest difference per metric between each foreign kernel and the default."""
    runs = {}
    for label, env in ENVIRONMENTS.items():
        out = subprocess.run(
            [sys.executable, __file__, "--dump"], env={**os.environ, **env}, capture_output=True, text=True, check=True
        )
        runs[label] = json.loads(out.stdout)
    base = runs["default"]
    small = set(_cases())
    print(f"largest relative difference from the default kernel ({base['build']['lapack']}), per metric")
    for label in list(ENVIRONMENTS)[1:]:
        groups = {
            "n < 16": [n for n in sorted(small) if not n.endswith("float32")],
            "n < 16, float32": [n for n in sorted(small) if n.endswith("float32")],
            "n >= 16": [n for n in sorted(_blas_cases()) if not n.endswith("float32")],
            "n >= 16, float32": [n for n in sorted(_blas_cases()) if n.endswith("float32")],
        }
        for part, names in groups.items():
            worst: dict[str, float] = {}
            for name in names:
                got, want = runs[label]["cases"][name], base["cases"][name]
                for key in want:
                    if key in ("diverged_at", "sampler"):
                        if got[key] != want[key]:
                            worst[key] = float("inf")
                        continue
                    rel = _relative(_values(got[key]), _values(want[key]))
                    fin = np.isfinite(_values(got[key])) == np.isfinite(_values(want[key]))
                    worst[key] = max(worst.get(key, 0.0), float(np.max(rel, initial=0.0)), 0.0 if fin.all() else np.inf)
            cells = "  ".join(f"{k} {v:.1e}" for k, v in sorted(worst.items()))
            print(f"{label:22s} {part:17s} {cells}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--dump"]:
        cases = {name: _run(name) for name in sorted(_cases())}
        cases.update({name: _run(name, cases=_blas_cases) for name in sorted(_blas_cases())})
        print(json.dumps({"build": _blas_build(), "cases": cases}))
        sys.exit(0)
    if sys.argv[1:] == ["--cross-kernel"]:
        _cross_kernel()
        sys.exit(0)
if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit("usage: python tests/core/test_golden.py --regenerate | --cross-kernel")
    GOLDEN.parent.mkdir(exist_ok=True)
    build = _blas_build()
    small = {name: _run(name) for name in sorted(_cases())}
    GOLDEN.write_text(json.dumps({"build": build, "cases": small}, indent=1) + "\n")
    blas = {name: _run(name, cases=_blas_cases) for name in sorted(_blas_cases())}
    GOLDEN_BLAS.write_text(json.dumps({"build": build, "cases": blas}, indent=1) + "\n")
    print(f"wrote {GOLDEN} and {GOLDEN_BLAS}")
