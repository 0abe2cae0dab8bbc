"""Input batches: the paper's degenerate batch, Gaussian, repeated or equally correlated tokens (Theory §2)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from . import _core
from . import _validate as check

__all__ = ["correlated", "degenerate", "gaussian", "repeated_tokens"]


def __dir__() -> list[str]:
    return sorted(__all__)


def gaussian(n: int, d: int, *, seed: int = 0) -> NDArray[np.float64]:
    """An ``n x d`` batch of iid standard normals (rows are samples).

    Parameters
    ----------
    n : int
        Samples (rows), ``>= 2``.
    d : int
        Features (columns), ``>= 1``.
    seed : int
        Seed of NumPy's default generator.

    Returns
    -------
    ndarray
        ``(n, d)``, float64.
    """
    n = check.integer("n", n, 2, 10**7)
    d = check.integer("d", d, 1, 10**7)
    return np.random.default_rng(check.integer("seed", seed, 0, 2**64 - 1)).standard_normal((n, d))


# Degeneracies above this give the batch of this one: the part of X0 off its top singular
# direction is then below sqrt(min(n, d)) / 1e30 (< 1e-26) of the batch, far below float64
# rounding, and the kernel's unscaled update (degeneracy - 1) u u^T X0 and its sum of squares
# stay far from overflow (which they reach above about 1e150).
_RANK_ONE_DEGENERACY = 1e30


def degenerate(n: int, d: int, degeneracy: float, *, seed: int = 0) -> NDArray[np.float64]:
    """The paper's nearly rank-one batch (Joudaki, Daneshmand, Bach 2023, section 5).

    Draw ``X0 ~ N(0, 1)^(n x d)``, multiply its largest singular value by ``degeneracy``
    (``X0 + (degeneracy - 1) u u^T X0`` for the top left singular vector ``u``), and rescale to
    global mean square 1. Larger
    ``degeneracy`` makes the rows more nearly parallel: at ``n = 10`` the isometry gap of the
    input is about 1.0, 2.0 and 6.1 for degeneracy 5, 10 and 100.

    Parameters
    ----------
    n, d : int
        Batch size (``>= 2``) and feature dimension.
    degeneracy : float
        Factor ``>= 1`` on the largest singular value (1 gives a plain Gaussian batch), finite.
        Above 1e30 the batch is rank one to float64 precision and is computed at 1e30, so
        that nothing overflows up to the largest float64.
    seed : int
        Seed of NumPy's ``default_rng`` that draws ``X0``.

    Returns
    -------
    ndarray, shape (n, d)
    """
    degeneracy = check.real("degeneracy", degeneracy, 1.0)
    # the compiled kernel's own Gram and eigensolver: the same bits on every CPU at n < 16
    x0 = gaussian(n, d, seed=seed)
    return np.asarray(_core.degenerate_batch(x0, min(degeneracy, _RANK_ONE_DEGENERACY)))


def repeated_tokens(n: int, d: int, *, noise: float = 0.01, seed: int = 0) -> NDArray[np.float64]:
    """``n`` tokens that are one random token up to small noise: the rank-collapse start.

    Every row is ``t + noise * e_i`` with ``t`` and ``e_i`` iid standard normal vectors
    (``d`` entries), rescaled to global mean square 1: a Gram close to the rank-one all-ones
    matrix (correlations about ``1 / (1 + noise^2)``), the classical starting point of
    rank-collapse studies of attention (Dong, Cordonnier, Loukas 2021).

    Parameters
    ----------
    n, d : int
        Number of tokens (``>= 2``) and model width.
    noise : float
        Relative size of each token's own part (``> 0``; 0 would make every row equal and the
        Gram singular).
    seed : int
        Seed of NumPy's ``default_rng``.

    Returns
    -------
    ndarray, shape (n, d)
    """
    n = check.integer("n", n, 2, 10**7)
    d = check.integer("d", d, 1, 10**7)
    noise = check.real("noise", noise)
    if not noise > 0:
        raise ValueError(f"noise must be > 0; got {noise!r}")
    rng = np.random.default_rng(check.integer("seed", seed, 0, 2**64 - 1))
    x = rng.standard_normal(d) + noise * rng.standard_normal((n, d))
    return np.asarray(x / np.sqrt(np.mean(x**2)))


def correlated(n: int, d: int, rho: float, *, seed: int = 0) -> NDArray[np.float64]:
    """``n`` tokens of equal norm and equal pairwise correlation ``rho``, exactly.

    The Gram ``X X^T / d`` is ``(1 - rho) I + rho 1 1^T`` to rounding and every row has mean 0
    over its features (as a layer norm leaves it): ``sqrt(d)`` times orthonormal directions
    ``sqrt(rho) q_0 + sqrt(1 - rho) q_i``, drawn at random in the complement of the all-ones
    vector. The exchangeable start of the studies of attention's rank and entropy collapse
    (Giorlandino and Goldt 2026), on which :func:`isoinit.meanfield.trajectory` takes its
    fast path.

    Parameters
    ----------
    n, d : int
        Number of tokens (``>= 2``) and model width (``>= n + 2``: ``n + 1`` orthonormal
        directions orthogonal to the all-ones vector).
    rho : float
        The correlation, in ``[0, 1]``.
    seed : int
        Seed of NumPy's ``default_rng``.

    Returns
    -------
    ndarray, shape (n, d)
    """
    n = check.integer("n", n, 2, 10**6)
    d = check.integer("d", d, n + 2, 10**7)
    rho = check.real("rho", rho, 0.0, 1.0)
    rng = np.random.default_rng(check.integer("seed", seed, 0, 2**64 - 1))
    z = rng.standard_normal((d, n + 1))
    q, _ = np.linalg.qr(z - z.mean(axis=0))  # columns orthonormal and orthogonal to the ones vector
    x = np.sqrt(d) * (np.sqrt(rho) * q[:, :1] + np.sqrt(1.0 - rho) * q[:, 1:]).T
    return np.ascontiguousarray(x)
