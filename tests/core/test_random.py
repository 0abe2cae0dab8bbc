"""The counter-based normal sampler draws standard normals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from isoinit import _core
from tolerances import MOMENT_SIGMAS, NORMAL_KS_ALPHA


def test_normals_pass_ks_and_moments() -> None:
    z = _core.standard_normal(2023, 0, 0, 4_000_000)
    assert stats.kstest(z[:1_000_000], "norm").pvalue > NORMAL_KS_ALPHA
    n = z.size
    # standard errors of the first four sample moments of N(0, 1)
    for k, (expected, var) in {1: (0.0, 1.0), 2: (1.0, 2.0), 3: (0.0, 15.0), 4: (3.0, 96.0)}.items():
        assert abs(np.mean(z**k) - expected) < MOMENT_SIGMAS * np.sqrt(var / n), k
    # the tail beyond the ziggurat's base layer (R = 3.654) has the right mass
    tail = np.mean(np.abs(z) > 3.6541528853610088)
    p = 2 * stats.norm.sf(3.6541528853610088)
    assert abs(tail - p) < MOMENT_SIGMAS * np.sqrt(p * (1 - p) / n)


def test_uniforms_are_uniform_and_independent_of_neighbours() -> None:
    u = _core.uniform(7, 1, 2, 1_000_000)
    assert stats.kstest(u, "uniform").pvalue > NORMAL_KS_ALPHA
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < MOMENT_SIGMAS / np.sqrt(u.size)


def _by(path: str, seed: int, run: int, layer: int, count: int, start: int = 0) -> np.ndarray:
    """Normals start+1 .. start+count of the stream (seed, run, layer) by one implementation."""
    out = np.full(count, np.nan)
    _core._fill_normal_path(out, seed, run, layer, path, start)
    return out


def test_normal_paths_give_the_same_numbers() -> None:
    """Every implementation this CPU runs (AVX-512, AVX2, scalar) draws the same 10^6 normals,
    about 15000 of them by the slow path (wedges and tail), from counter 0 and from a counter
    near 2^40 where the side streams' counters wrap."""
    paths = _core._normal_paths()
    assert paths[-1] == "scalar"
    for start in (0, 2**40 - 3):
        ref = _by("scalar", 11, 2, 5, 1_000_000, start)
        assert np.mean(np.abs(ref) > 3.6541528853610088) > 1e-4  # tail draws are among them
        for path in paths[:-1]:
            np.testing.assert_array_equal(_by(path, 11, 2, 5, 1_000_000, start), ref)
    np.testing.assert_array_equal(_core.standard_normal(11, 2, 5, 1000), _by("scalar", 11, 2, 5, 1000))


@pytest.mark.parametrize("cut", [1, 7, 8, 9, 1023, 1024, 1025, 2049, 4999])
def test_normal_splits_across_blocks(cut: int) -> None:
    """Normal i depends on i alone: a split at a vector-width (8) or slow-path block (1024)
    boundary, or off one, gives the numbers of one call, on every path."""
    whole = _core.standard_normal(3, 1, 4, 5000)
    for path in _core._normal_paths():
        parts = np.concatenate([_by(path, 3, 1, 4, cut), _by(path, 3, 1, 4, 5000 - cut, start=cut)])
        np.testing.assert_array_equal(parts, whole)


def test_fill_normal_path_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="unknown normal path"):
        _by("neon", 0, 0, 0, 4)
    with pytest.raises(TypeError):  # no silent copy: the array must be C-contiguous float64
        _core._fill_normal_path(np.zeros(8, dtype=np.float32), 0, 0, 0, "scalar")
    with pytest.raises(TypeError):
        _core._fill_normal_path(np.zeros(16)[::2], 0, 0, 0, "scalar")
