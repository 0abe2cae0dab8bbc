"""Gram-matrix metrics (Theory §1 of the documentation), on any Gram matrix or representation.

Every function takes either a Gram matrix ``G`` (``n x n``, symmetric PSD) or a
representation ``X`` (``n x d``, rows are samples; its Gram ``X X^T / d`` is used), or a
stack of either (leading axes are kept). Pass ``gram=True``/``False`` to say which when
``X`` happens to be square; by default a square symmetric input is taken as a Gram.

The numbers come from the same compiled code the simulator uses (float64 eigenvalues
of ``G``), so a tool that measures its own network gets exactly the simulator's metrics.

A singular Gram (smallest eigenvalue at most ``n * eps_machine * largest``) has isometry 0
and isometry gap ``+inf``, never NaN; two parallel rows give potential ``+inf``.

Input checks. The functions measure *valid* input and refuse the rest, never returning NaN
for it: entries must be real (complex input is a :class:`TypeError`, never cast) and finite
(NaN and inf are a :class:`ValueError` naming the first bad entry); there must be ``n >= 2``
samples and, for a representation, ``d >= 1`` features. A Gram must be symmetric,
``|G - G^T| <= SYMMETRY_RTOL * max|G|`` (1e-12), and positive semi-definite, smallest
eigenvalue ``>= -n * PSD_RTOL * |lambda|_max`` (1e-12): ``[[1, 2], [2, 1]]`` (eigenvalues
-1 and 3) is refused, not taken as singular. An empty stack ``(0, n, n)`` gives empty arrays.

The all-zero Gram (every sample mapped to 0, the end of a collapse) has defined values:
isometry 0, gap ``+inf``, potential ``+inf``, condition number ``+inf``, effective and stable
rank 0 (the rank of the zero matrix), and absolute correlations 1 (the convention of a
collapsed batch).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from . import _validate as check

__all__ = [
    "METRICS",
    "condition_number",
    "effective_rank",
    "gram",
    "gram_metrics",
    "isometry",
    "isometry_gap",
    "max_abs_correlation",
    "mean_abs_correlation",
    "normalization_bias",
    "potential",
    "stable_rank",
]


def __dir__() -> list[str]:
    return sorted(__all__)


#: Names of the Gram metrics, in the order the compiled kernel returns them.
METRICS: tuple[str, ...] = tuple(_core.metric_names())


#: Tolerances of the checks on a user's Gram matrix (:func:`gram_metrics` and every metric
#: function): symmetric within ``SYMMETRY_RTOL`` times its largest entry, and positive
#: semi-definite: smallest eigenvalue at least ``-n * PSD_RTOL`` times the largest in
#: magnitude (the backward error of a float64 eigensolver, and of ``X X^T / d`` in rounding).
SYMMETRY_RTOL = 1e-12
PSD_RTOL = 1e-12


def gram(x: ArrayLike) -> NDArray[np.float64]:
    """Gram matrix ``X X^T / d`` of a finite real representation ``X`` (``(..., n, d)``, ``d >= 1``)."""
    a = check.array("x", x)
    if a.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (n, d); got shape {a.shape}")
    if a.shape[-1] < 1:
        raise ValueError(f"x must have d >= 1 features (columns); got shape {a.shape}")
    if 0 in a.shape[:-2]:
        return np.zeros((*a.shape[:-1], a.shape[-2]))
    # the kernel's Gram: symmetric, and the same bits on every CPU for n < 16 rows
    flat = _core.gram(a.reshape(-1, *a.shape[-2:]))
    return np.asarray(flat.reshape(*a.shape[:-1], a.shape[-2]))


def _where(lead: tuple[int, ...], flat_index: int) -> str:
    """`` at x[i, j]`` for the matrix of a stack (nothing for a single matrix)."""
    if not lead:
        return ""
    return f" at x[{', '.join(str(int(i)) for i in np.unravel_index(flat_index, lead))}]"


def _asymmetry(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """``|a - a^T|`` over the last two axes (one pass over the transpose, which is the slow part)."""
    d = np.subtract(a, np.swapaxes(a, -1, -2))
    return np.abs(d, out=d)


def _check_symmetric(absg: NDArray[np.float64], asym: NDArray[np.float64]) -> None:
    """Symmetric within :data:`SYMMETRY_RTOL` (``absg``: ``|g|``; ``asym``: :func:`_asymmetry` of g), or ValueError."""
    lead, n = absg.shape[:-2], absg.shape[-1]
    flat = absg.reshape(-1, n, n)
    if flat.shape[0] == 0:
        return
    scale = np.max(flat, axis=(1, 2))
    worst = np.max(asym.reshape(-1, n, n), axis=(1, 2))
    bad = np.flatnonzero(worst > SYMMETRY_RTOL * scale)
    if bad.size:
        k = int(bad[0])
        raise ValueError(
            f"x must be a symmetric Gram matrix (|x - x^T| <= {SYMMETRY_RTOL:g} max|x|); "
            f"its largest asymmetry is {worst[k]:.3g} (largest entry {scale[k]:.3g}){_where(lead, k)}"
        )


def _check_psd(extremes: NDArray[np.float64], lead: tuple[int, ...], n: int, auto: bool) -> None:
    """PSD within :data:`PSD_RTOL`, from each Gram's (smallest, largest |.|) eigenvalue, or ValueError."""
    low, high = extremes[:, 0], extremes[:, 1]
    bad = np.flatnonzero(low < -n * PSD_RTOL * high)
    if bad.size:
        k = int(bad[0])
        hint = " (pass gram=False if x is a representation)" if auto else ""
        raise ValueError(
            f"x must be positive semi-definite (smallest eigenvalue >= -n * {PSD_RTOL:g} * largest){hint}; "
            f"its smallest eigenvalue is {low[k]:.6g} (largest {high[k]:.6g}){_where(lead, k)}"
        )


def _as_gram(x: ArrayLike, gram_flag: bool | None) -> tuple[NDArray[np.float64], bool, bool]:
    """The Gram of x, whether x was one (its PSD check is then the caller's), and whether that was guessed."""
    a = check.array("x", x)  # complex -> TypeError; NaN, inf -> ValueError naming the entry
    if gram_flag is not None:
        gram_flag = check.boolean("gram", gram_flag)
    if a.ndim < 2:
        raise ValueError(f"x must be a Gram matrix (n, n) or a representation (n, d); got shape {a.shape}")
    auto = gram_flag is None
    symmetry = None  # (|a|, |a - a^T|) of a square x that may be a Gram
    if gram_flag is not False and a.shape[-1] == a.shape[-2]:
        symmetry = np.abs(a), _asymmetry(a)
        if gram_flag is None:
            # a Gram if symmetric to 1e-12 relative, entry by entry: |a_ij - a_ji| <= 1e-12
            # |a_ji| for all i, j, which is the same set of conditions as <= 1e-12 |a_ij|
            gram_flag = bool(np.all(symmetry[1] <= 1e-12 * symmetry[0]))
    if not gram_flag:
        a = gram(a)
    elif symmetry is None:
        raise ValueError(f"x must be square when gram=True; got shape {a.shape}")
    if a.shape[-1] < 2:
        raise ValueError(f"x must describe n >= 2 samples; got n={a.shape[-1]}")
    if gram_flag and symmetry is not None:
        _check_symmetric(*symmetry)
    return a, bool(gram_flag), auto


def gram_metrics(x: ArrayLike, *, gram: bool | None = None) -> dict[str, NDArray[np.float64]]:
    """All Gram metrics at once, as a dict of arrays over the leading axes.

    Keys are :data:`METRICS`: ``isometry`` ``I = det(G)^(1/n) / (tr G / n)``, ``gap``
    ``-log I``, ``potential`` ``max_{i!=j} |rho|/(1-|rho|)``, ``effective_rank``
    ``exp(entropy(lambda / sum lambda))``, ``stable_rank`` ``tr G / lambda_max``,
    ``mean_abs_corr`` and ``max_abs_corr`` (off-diagonal correlations), ``condition``
    ``lambda_max / lambda_min``.

    The input is checked (see the module docstring): finite and real, ``n >= 2`` samples,
    ``d >= 1`` features; a Gram symmetric within :data:`SYMMETRY_RTOL` and positive
    semi-definite within :data:`PSD_RTOL`.

    Raises
    ------
    TypeError
        For input that is not real numbers (complex, strings, ragged lists).
    ValueError
        For NaN or inf entries, the wrong shape, ``n < 2``, ``d = 0``, or a Gram that is not
        symmetric or not positive semi-definite.
    """
    g, given, auto = _as_gram(x, gram)
    # a Gram given by the caller is checked to be PSD with the eigenvalues its metrics come
    # from (one eigendecomposition, not two); one computed here from a representation is PSD
    return _measure(g, psd_check=auto if given else None)


def _measure(g: NDArray[np.float64], psd_check: bool | None = None) -> dict[str, NDArray[np.float64]]:
    """The metrics of a stack of Grams ``(..., n, n)`` as the simulator computes them.

    Unchecked for the package's own Grams (the mean field's, which are NaN after a
    breakdown); with ``psd_check`` (whether the input was guessed to be a Gram, for the
    error's hint), a Gram that is not PSD within :data:`PSD_RTOL` raises ValueError. Only
    the all-zero Gram is given its documented ranks (0) instead of the kernel's 0/0.
    """
    lead = g.shape[:-2]
    n = g.shape[-1]
    flat = np.ascontiguousarray(g.reshape(-1, n, n))
    if psd_check is None:
        out = _core.gram_metrics(flat)
    else:
        out, extremes = _core.gram_metrics_extremes(flat)
        _check_psd(extremes, lead, n, psd_check)
    zero = ~np.any(flat != 0, axis=(1, 2))
    if zero.any():
        out = np.array(out)
        for name in ("effective_rank", "stable_rank"):
            out[zero, METRICS.index(name)] = 0.0
    return {name: out[:, k].reshape(lead) for k, name in enumerate(METRICS)}


def _one(name: str, x: ArrayLike, gram: bool | None) -> Any:
    v = gram_metrics(x, gram=gram)[name]
    return float(v) if v.ndim == 0 else v


def isometry(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Isometry ``det(G)^(1/n) / (tr(G)/n)`` in ``[0, 1]`` (Joudaki et al. 2023, eq. 1)."""
    return _one("isometry", x, gram)


def isometry_gap(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Isometry gap ``-log I(G) = log mean(lambda) - mean(log lambda)``, ``+inf`` if singular."""
    return _one("gap", x, gram)


def potential(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Potential ``max_{i != j} |rho_ij| / (1 - |rho_ij|)`` (Joudaki et al. 2023, section 4)."""
    return _one("potential", x, gram)


def effective_rank(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Effective rank ``exp(entropy(lambda / sum lambda))`` in ``[1, n]``."""
    return _one("effective_rank", x, gram)


def stable_rank(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Stable rank ``tr(G) / lambda_max`` in ``[1, n]``."""
    return _one("stable_rank", x, gram)


def mean_abs_correlation(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Mean of ``|rho_ij|`` over ``i != j``."""
    return _one("mean_abs_corr", x, gram)


def max_abs_correlation(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Max of ``|rho_ij|`` over ``i != j``."""
    return _one("max_abs_corr", x, gram)


def condition_number(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """``lambda_max / lambda_min`` (``+inf`` if singular)."""
    return _one("condition", x, gram)


def normalization_bias(x: ArrayLike, *, ddof: int = 0, kind: str = "norms", axis: int = -1) -> Any:
    """Normalization bias ``Var(a) / mean(a)^2`` of the norms ``a`` a normalization divides by.

    Parameters
    ----------
    x : array_like
        With ``kind="norms"`` (default): the norms ``a_1..a_k`` along ``axis`` (per-sample
        norms for layer norm, per-feature norms for batch norm). With ``kind="gram"``: a Gram
        matrix ``(..., n, n)``, whose per-sample norms are ``sqrt(G_ii)``. With
        ``kind="rows"``/``"columns"``: a representation ``(..., n, d)`` whose per-sample
        (layer norm) or per-feature (batch norm) root mean squares are used.
    ddof : int
        0 (default) for the population variance, which the inequality
        ``I(G')/I(G) >= 1 + Var(a)/mean(a)^2`` of Theory §5 uses and the simulator's
        ``Trajectory.norm_bias`` reports; 1 for the unbiased variance the authors' code prints.
    """
    check.integer("ddof", ddof, 0, 1)
    check.choice("kind", kind, ("norms", "gram", "rows", "columns"))
    a = check.array("x", x, finite=False)
    if kind == "gram":
        if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
            raise ValueError(f"x must be a Gram matrix (..., n, n) with kind='gram'; got shape {a.shape}")
        a, axis = np.sqrt(np.diagonal(a, axis1=-2, axis2=-1)), -1
    elif kind in ("rows", "columns"):
        if a.ndim < 2:
            raise ValueError(f"x must be a representation (..., n, d) with kind={kind!r}; got shape {a.shape}")
        a, axis = np.sqrt(np.mean(a**2, axis=-1 if kind == "rows" else -2)), -1
    mean = a.mean(axis=axis)
    out = a.var(axis=axis, ddof=ddof) / mean**2
    return float(out) if np.ndim(out) == 0 else out
