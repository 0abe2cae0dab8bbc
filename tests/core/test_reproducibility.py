"""The reproducibility contract across CPUs (docs/errors.md, "Reproducibility").

Each test runs the same computation in a child process under another CPU's code path on this
machine (another OpenBLAS kernel, glibc's non-FMA libm, isoinit's baseline loops) and
compares the bits. tests/core/test_golden.py holds the recorded numbers; these tests also pass on
a machine whose golden file was recorded elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import isoinit
from isoinit import _core
from tolerances import FEW_ULPS, GRAM_PRODUCT_REL, ROUNDING

#: Environments that run another CPU's code here (all run on any x86-64 CPU).
FOREIGN = {
    "openblas-prescott": {"OPENBLAS_CORETYPE": "Prescott"},
    "openblas-sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
    "glibc-no-fma": {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX"},
    "isoinit-scalar": {"ISOINIT_SIMD": "off"},
}

# Small batches (the contract's bitwise part) and one large one, with an exact activation:
# simulate with both samplers and float32, forward, metrics on a Gram and on a representation.
_SCRIPT = """
import hashlib, sys, warnings
import numpy as np
import isoinit
from isoinit import _core

h = hashlib.sha256()
def add(a):
    h.update(np.ascontiguousarray(np.asarray(a, dtype=np.float64)).tobytes())

n = int(sys.argv[1])
x = isoinit.inputs.degenerate(n, 300, degeneracy=50.0, seed=3)
add(x)
for sampler in ("gram", "weights"):
    for dtype in ("float64", "float32"):
        t = isoinit.simulate(isoinit.MLP(5, 300, "relu", "layer"), x, runs=2, seed=4, sampler=sampler, dtype=dtype,
                             grams=True)
        add(t.grams)
        for v in t.metrics.values():
            add(v)
t = isoinit.simulate(isoinit.MLP(4, (300, 120, 300, 200), "leaky_relu(0.1)", "rms", weights="orthogonal"), x, runs=2,
                     seed=5, sampler="weights", grams=True)
add(t.grams)
net = isoinit.MLP(3, 64, "he3", "batch", bias=0.1)
add(isoinit.forward(net, x, isoinit.network_weights(net, 300, seed=6), grams=True).grams)
g = isoinit.metrics.gram(x)
add(g)
add(list(isoinit.metrics.gram_metrics(g).values()))
for name in _core.exact_activations():
    param = 0.3 if name in ("leaky_relu",) else (3.0 if name == "he" else 0.0)
    coeffs = [0.1, 0.8, 0.5] if name == "hermite" else []
    if name != "table":
        add(_core.activation_apply(name, param, coeffs, np.linspace(-30.0, 30.0, 200001)))
print(h.hexdigest())
"""


#: The environment of this machine's own CPU path (without the foreign switches this suite may run under).
_NATIVE = {k: v for k, v in os.environ.items() if k not in {name for env in FOREIGN.values() for name in env}}


def _digest(n: int, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(n)],
        env={**_NATIVE, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture(scope="module")
def native() -> dict[int, str]:
    return {n: _digest(n, {}) for n in (10, 15)}


@pytest.mark.parametrize("label", sorted(FOREIGN))
@pytest.mark.parametrize("n", [10, 15])
def test_small_batches_give_the_same_bits_under_a_foreign_cpu_path(native: dict[int, str], label: str, n: int) -> None:
    assert _digest(n, FOREIGN[label]) == native[n]


def test_the_comparison_sees_the_blas_path() -> None:
    # at n >= 16 the products are OpenBLAS's: another kernel gives other bits, which shows that
    # the comparison above would see a CPU-dependent step (the goal is 0 only below 16 rows)
    code = "import isoinit; print(isoinit.build_info()['lapack'])"
    native = subprocess.run([sys.executable, "-c", code], env=_NATIVE, capture_output=True, text=True).stdout
    if "Prescott" in native:
        pytest.skip(f"this CPU's own OpenBLAS kernel is the foreign one ({native.strip()})")
    assert _digest(40, {}) != _digest(40, FOREIGN["openblas-prescott"])


def test_exact_activations_are_the_basic_operation_ones() -> None:
    exact = set(_core.exact_activations())
    assert {"relu", "leaky_relu", "identity", "he", "hermite", "table"} <= exact
    assert not exact & {"tanh", "sigmoid", "sin", "cos", "exp", "erf", "gelu", "gelu_tanh", "elu", "softplus"}
    assert exact <= set(_core.activation_names())


def test_libm_activations_can_differ_under_glibc_without_fma() -> None:
    # the reason the contract leaves them to a tolerance: the C library's exp changes bits
    code = (
        "import math, hashlib; "
        "print(hashlib.sha256(repr([math.exp(i / 997.0 - 30) for i in range(60000)]).encode()).hexdigest())"
    )
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    masked = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **FOREIGN["glibc-no-fma"]}, capture_output=True, text=True
    ).stdout
    cpuinfo = Path("/proc/cpuinfo")
    if " fma " not in (cpuinfo.read_text() if cpuinfo.exists() else ""):
        pytest.skip("this CPU has no FMA: glibc runs its non-FMA functions either way")
    assert plain != masked


def test_isoinit_simd_switch_is_checked_and_reported() -> None:
    bad = subprocess.run(
        [sys.executable, "-c", "import isoinit"],
        env={**os.environ, "ISOINIT_SIMD": "avx9"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "ISOINIT_SIMD must be 'auto' or 'off'; got 'avx9'" in bad.stderr
    off = subprocess.run(
        [sys.executable, "-c", "import isoinit; i = isoinit.build_info(); print(i['kernels'], i['normals'])"],
        env={**os.environ, "ISOINIT_SIMD": "off"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert off.stdout.split() == ["baseline", "scalar"]


def test_degenerate_is_the_papers_construction() -> None:
    # the kernel's rank-one update against the thin SVD route of the paper's definition
    for n, d in ((10, 1000), (4, 6), (40, 30), (7, 7)):
        x0 = isoinit.inputs.gaussian(n, d, seed=2)
        u, s, vt = np.linalg.svd(x0, full_matrices=False)
        s[0] *= 37.0
        want = (u * s) @ vt
        want /= np.sqrt(np.mean(want**2))
        np.testing.assert_allclose(isoinit.inputs.degenerate(n, d, 37.0, seed=2), want, rtol=0, atol=ROUNDING)
    x = isoinit.inputs.gaussian(5, 9, seed=1)
    np.testing.assert_allclose(isoinit.inputs.degenerate(5, 9, 1.0, seed=1), x / np.sqrt(np.mean(x**2)), rtol=FEW_ULPS)


def test_gram_of_a_representation_is_the_kernels() -> None:
    rng = np.random.default_rng(0)
    for shape in ((10, 37), (3, 20, 51), (2, 2, 5, 8)):
        a = rng.standard_normal(shape)
        g = isoinit.metrics.gram(a)
        np.testing.assert_allclose(
            g, a @ np.swapaxes(a, -1, -2) / shape[-1], rtol=GRAM_PRODUCT_REL, atol=GRAM_PRODUCT_REL
        )
        np.testing.assert_array_equal(g, np.swapaxes(g, -1, -2))  # exactly symmetric
    assert isoinit.metrics.gram(np.zeros((0, 3, 4))).shape == (0, 3, 3)
    digest = hashlib.sha256(isoinit.metrics.gram(np.ones((3, 4))).tobytes()).hexdigest()
    assert digest == hashlib.sha256(np.ones((3, 3)).tobytes()).hexdigest()
