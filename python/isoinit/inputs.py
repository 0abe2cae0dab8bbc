"""Input batches: the paper's degenerate batch and a plain Gaussian one (Theory §2 of the documentation)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from . import _validate as check

__all__ = ["degenerate", "gaussian"]


def __dir__() -> list[str]:
    return sorted(__all__)


def gaussian(n: int, d: int, *, seed: int = 0) -> NDArray[np.float64]:
    """An ``n x d`` batch of iid standard normals (rows are samples)."""
    n = check.integer("n", n, 2, 10**7)
    d = check.integer("d", d, 1, 10**7)
    return np.random.default_rng(check.integer("seed", seed, 0, 2**64 - 1)).standard_normal((n, d))


def degenerate(n: int, d: int, degeneracy: float, *, seed: int = 0) -> NDArray[np.float64]:
    """The paper's nearly rank-one batch (Joudaki, Daneshmand, Bach 2023, section 5).

    Draw ``X0 ~ N(0, 1)^(n x d)``, take its thin SVD ``U diag(s) V^T``, multiply the largest
    singular value by ``degeneracy``, rebuild, and rescale to global mean square 1. Larger
    ``degeneracy`` makes the rows more nearly parallel: at ``n = 10`` the isometry gap of the
    input is about 1.0, 2.0 and 6.1 for degeneracy 5, 10 and 100.

    Parameters
    ----------
    n, d : int
        Batch size (``>= 2``) and feature dimension.
    degeneracy : float
        Factor ``>= 1`` on the largest singular value (1 gives a plain Gaussian batch).
    seed : int
        Seed of NumPy's ``default_rng`` that draws ``X0``.

    Returns
    -------
    ndarray, shape (n, d)
    """
    degeneracy = check.real("degeneracy", degeneracy, 1.0)
    x0 = gaussian(n, d, seed=seed)
    u, s, vt = np.linalg.svd(x0, full_matrices=False)
    s = s.copy()
    s[0] *= degeneracy
    x = (u * s) @ vt
    return np.asarray(x / np.sqrt(np.mean(x**2)))
