"""The counter-based normal sampler draws standard normals."""

from __future__ import annotations

import numpy as np
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
