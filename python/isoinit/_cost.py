"""The cost model of a simulated network: seconds per network on one thread, by sampler.

Used by :func:`isoinit.simulate` to pick the faster sampler for ``sampler="auto"`` and to
estimate a call's duration (progress bar, chunking). Per block ``d_in -> d_out`` on a batch
of ``n`` rows:

- ``"gram"``: ``n * d_out`` normals, the product ``L Z`` (``n^2 d_out / 2`` multiply-adds, a
  triangular product) and the Cholesky factor of the input Gram (``n^3 / 6``); with
  orthogonal weights the QR of an ``m x n`` Gaussian (``m = max(d_in, d_out)``) instead of
  the normals;
- ``"weights"``: ``d_in * d_out`` normals and ``X W`` (``n d_in d_out``); with orthogonal
  weights the QR of a ``d_in x d_out`` Gaussian;
- both, per recorded Gram: ``X X^T`` (``n^2 d_out / 2``), the activation and normalization
  (per entry), and the factorizations of the asked metrics: the eigenvalues for the ranks and
  the condition number, the Cholesky factor for the isometry and gap (which the Gram sampler
  already has at every block input).

The rates were measured on one core of an AVX-512 machine (the C++ primitives, isoinit's
normals, OpenBLAS's SkylakeX kernels: ``python bench/bench_factor.py``). Products run in
BLAS from :data:`BLAS_MIN_ROWS` rows on when the kernel has LAPACK (``build_info()["lapack"]``),
in the hand-written loops below, and in Eigen's products without LAPACK. Only the ratio
of the two samplers' costs decides ``auto``; the common terms matter for the duration.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import pairwise

from . import _core

#: Seconds per standard normal (isoinit's ziggurat, AVX2), and per normal of a weight matrix
#: too large for the caches (over BIG_MATRIX entries: written to fresh memory).
NORMAL = 2e-9
NORMAL_BIG = 6e-9
BIG_MATRIX = 2**20
#: Seconds per multiply-add of a BLAS-3 product (dgemm, dsyrk, dtrmm) at large sizes; at ``k``
#: rows (the short side) it is ``BLAS_FMA * (1 + BLAS_SHORT / k)``.
BLAS_FMA = 60e-12
BLAS_SHORT = 6.0
#: The hand-written loops (n < BLAS_MIN_ROWS with LAPACK; every n without).
LOOP_FMA = 170e-12
#: Eigen's general product (the weights sampler's X W without LAPACK), ``* (1 + EIGEN_SHORT / n)``.
EIGEN_FMA = 200e-12
EIGEN_SHORT = 4.0
#: Cholesky (n^3 / 6 multiply-adds, plus a per-entry overhead); Eigen's LLT is ~2x slower.
#: A rank-deficient Gram (n > d_in) takes the semidefinite Cholesky after the failed one:
#: SEMIDEFINITE times the cost.
CHOLESKY_FMA = 80e-12
CHOLESKY_ENTRY = 2e-9
SEMIDEFINITE = 3.0
#: Eigenvalues without vectors: EIG_CUBE n^3 + EIG_SQUARE n^2 (LAPACK dsyevd); Eigen's ~2x.
EIG_CUBE = 4.5e-11
EIG_SQUARE = 2.9e-8
#: Householder QR of the orthogonal weights or frame (Eigen), per multiply-add.
QR_FMA = 300e-12
#: Activation, normalization and checks, per entry of a block's output.
ENTRY = 1.5e-9
_CONSTANTS = _core.constants()
#: With LAPACK, batches of at least this many rows take the BLAS products (the kernel's).
BLAS_MIN_ROWS: int = _CONSTANTS["BLAS_MIN_ROWS"]


@functools.cache
def have_lapack() -> bool:
    """Whether the compiled kernel has LAPACK/BLAS (``isoinit.build_info()["lapack"]``)."""
    return _core.build_info().get("lapack") is not None


# the metrics that need the Cholesky log-determinant, and the eigenvalues (the kernel's groups)
_DETERMINANT: tuple[str, ...] = _CONSTANTS["METRIC_GROUPS"]["determinant"]
_SPECTRAL: tuple[str, ...] = _CONSTANTS["METRIC_GROUPS"]["spectral"]


def network_seconds(
    sampler: str,
    n: int,
    dims: Sequence[int],
    *,
    orthogonal: bool = False,
    metrics: Sequence[str] | None = None,
    stages: bool = False,
    lapack: bool | None = None,
    maps: Sequence[tuple[int, int]] | None = None,
) -> float:
    """Estimated seconds for one network on one thread.

    Parameters
    ----------
    sampler : {"gram", "weights"}
    n : int
        Rows of the batch.
    dims : sequence of int
        ``d_0, d_1, ..., d_L``: the input width, then every block's width.
    orthogonal : bool
        Haar semi-orthogonal weights instead of Gaussian ones.
    metrics : sequence of str, optional
        The metrics computed (default: all).
    stages : bool
        Three recorded Grams per block instead of one.
    lapack : bool, optional
        Whether the compiled kernel has LAPACK/BLAS (default: :func:`have_lapack`).
    maps : sequence of (int, int), optional
        ``(d_in, d_out)`` of every linear map, for a block network (each map counted as a
        block of the MLP: the Gram of its input, its factorization, its product); default
        the consecutive pairs of ``dims``.
    """
    if lapack is None:
        lapack = have_lapack()
    blas = lapack and n >= BLAS_MIN_ROWS

    def fma(count: float, short: int) -> float:
        if not lapack:
            return count * EIGEN_FMA * (1 + EIGEN_SHORT / max(short, 1))
        return count * BLAS_FMA * (1 + BLAS_SHORT / max(short, 1))

    def small_fma(count: float) -> float:  # the sampler's two n x n x d products
        return fma(count, n) if blas else count * LOOP_FMA

    slow = 1.0 if lapack else 2.0
    cholesky = slow * (CHOLESKY_FMA * n**3 / 6 + CHOLESKY_ENTRY * n * n)
    eig = slow * (EIG_CUBE * n**3 + EIG_SQUARE * n * n)
    wanted = set(metrics) if metrics is not None else set(_DETERMINANT + _SPECTRAL)
    per_gram = (eig if wanted & set(_SPECTRAL) else 0.0) + (
        cholesky if sampler == "weights" and wanted & set(_DETERMINANT) else 0.0
    )
    recorded = 3 if stages else 1
    total = per_gram  # layer 0
    for a, b in pairwise(dims) if maps is None else maps:
        total += recorded * (small_fma(n * n * b / 2) + per_gram) + ENTRY * n * b
        if sampler == "gram":
            total += cholesky * (SEMIDEFINITE if n > a else 1.0) + small_fma(n * n * b / 2)
            m = max(a, b)
            total += QR_FMA * 2 * m * n * n + NORMAL * m * n if orthogonal else NORMAL * n * b
        else:
            total += fma(n * a * b, n) + (NORMAL_BIG if a * b > BIG_MATRIX else NORMAL) * a * b
            total += QR_FMA * 2 * max(a, b) * min(a, b) ** 2 if orthogonal else 0.0
    return total
