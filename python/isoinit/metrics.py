"""Gram-matrix metrics (Theory §1 of the documentation), on any Gram matrix or representation.

Every function takes either a Gram matrix ``G`` (``n x n``, symmetric PSD) or a
representation ``X`` (``n x d``, rows are samples; its Gram ``X X^T / d`` is used), or a
stack of either (leading axes are kept). Pass ``gram=True``/``False`` to say which when
``X`` happens to be square; by default a square input symmetric within the tolerance of its
precision (below) is taken as a Gram, a clearly asymmetric one as a representation, and one
in between (asymmetric beyond the tolerance but within :data:`NEAR_SYMMETRY_RTOL` of its
largest entry) is refused with a message asking for ``gram=``, never guessed.

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

The tolerances follow the precision the Gram was computed in, read from the array's dtype:
1e-12 is about 4500 float64 ulps, and a float32 (or float16) Gram gets as many of its own
ulps, ``1e-12 * eps(dtype) / eps(float64)`` (5.4e-4 for float32; at most
:data:`NEAR_SYMMETRY_RTOL`). Integer input is exact and gets the float64 tolerances.

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
    "mean_correlation",
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
#: Both are for float64 input (about 4500 ulps); a Gram given in a lower precision gets as many
#: of its own ulps, ``rtol * eps(dtype) / eps(float64)`` (float32: 5.4e-4), at most
#: :data:`NEAR_SYMMETRY_RTOL`.
SYMMETRY_RTOL = 1e-12
PSD_RTOL = 1e-12
#: With ``gram=None``, a square input asymmetric beyond the tolerance of its dtype but within
#: this fraction of its largest entry is refused instead of guessed: it may be a Gram computed
#: in a lower precision than its dtype says, or a nearly symmetric representation. Also the
#: largest tolerance of a low-precision dtype.
NEAR_SYMMETRY_RTOL = 1e-2
_EPS64 = float(np.finfo(np.float64).eps)


def _tolerances(dtype: np.dtype[Any]) -> tuple[float, float]:
    """The (symmetry, PSD) tolerances of a Gram given as ``dtype``.

    :data:`SYMMETRY_RTOL` and :data:`PSD_RTOL` in units of its machine epsilon (float64's for
    integers and wider floats), at most :data:`NEAR_SYMMETRY_RTOL`.
    """
    if dtype.kind != "f" or float(np.finfo(dtype).eps) <= _EPS64:
        return SYMMETRY_RTOL, PSD_RTOL
    ratio = float(np.finfo(dtype).eps) / _EPS64
    return min(SYMMETRY_RTOL * ratio, NEAR_SYMMETRY_RTOL), min(PSD_RTOL * ratio, NEAR_SYMMETRY_RTOL)


def _with_dtype(x: ArrayLike) -> tuple[Any, np.dtype[Any]]:
    """``x`` as an ndarray and the dtype it came in (float64 for Python numbers).

    ``x`` itself when NumPy cannot hold it, for check.array's message.
    """
    if isinstance(x, np.ndarray):
        return x, x.dtype
    try:
        raw = np.asarray(x)
    except Exception:  # ragged lists, objects NumPy cannot hold: check.array words the error
        return x, np.dtype(np.float64)
    return raw, raw.dtype


def gram(x: ArrayLike) -> NDArray[np.float64]:
    """Gram matrix ``X X^T / d`` of a finite real representation ``X`` (``(..., n, d)``, ``d >= 1``).

    Parameters
    ----------
    x : array_like
        The representation ``X``, ``(..., n, d)``: rows are samples, columns features.

    Returns
    -------
    ndarray
        ``(..., n, n)``, float64.
    """
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


def _symmetry(a: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per matrix of a stack ``(..., n, n)``, flattened: the largest ``|a - a^T|`` and the largest ``|a|``."""
    if a.size == 0:  # an empty stack, or 0 x 0 matrices (refused later: n >= 2)
        count = int(np.prod(a.shape[:-2]))
        return np.zeros(count), np.zeros(count)
    n = a.shape[-1]
    flat = a.reshape(-1, n, n)
    return np.max(_asymmetry(flat), axis=(1, 2)), np.max(np.abs(flat), axis=(1, 2))


def _precision_hint(dtype: np.dtype[Any]) -> str:
    """What to do with a Gram that is asymmetric beyond the tolerance of its dtype."""
    if dtype.kind == "f" and float(np.finfo(dtype).eps) <= _EPS64:
        return (
            "if it was computed in lower precision, give it in that dtype (e.g. x.astype(np.float32)) "
            "or symmetrize it, (x + x.T) / 2"
        )
    return "symmetrize it, (x + x.T) / 2"


def _check_symmetric(
    worst: NDArray[np.float64], scale: NDArray[np.float64], rtol: float, dtype: np.dtype[Any], lead: tuple[int, ...]
) -> None:
    """Each matrix symmetric within ``rtol`` of its largest entry (from :func:`_symmetry`), or ValueError."""
    bad = np.flatnonzero(worst > rtol * scale)
    if bad.size:
        k = int(bad[0])
        hint = f"; {_precision_hint(dtype)}" if worst[k] <= NEAR_SYMMETRY_RTOL * scale[k] else ""
        raise ValueError(
            f"x must be a symmetric Gram matrix (|x - x^T| <= {rtol:.2g} max|x| for {dtype} input); "
            f"its largest asymmetry is {worst[k]:.3g} (largest entry {scale[k]:.3g}){_where(lead, k)}{hint}"
        )


def _check_psd(extremes: NDArray[np.float64], lead: tuple[int, ...], n: int, auto: bool, rtol: float) -> None:
    """PSD within ``rtol`` (the input's precision's), from each Gram's extreme eigenvalues, or ValueError."""
    low, high = extremes[:, 0], extremes[:, 1]
    bad = np.flatnonzero(low < -n * rtol * high)
    if bad.size:
        k = int(bad[0])
        hint = " (pass gram=False if x is a representation)" if auto else ""
        raise ValueError(
            f"x must be positive semi-definite (smallest eigenvalue >= -n * {rtol:.2g} * largest){hint}; "
            f"its smallest eigenvalue is {low[k]:.6g} (largest {high[k]:.6g}){_where(lead, k)}"
        )


def _guess_gram(
    worst: NDArray[np.float64], scale: NDArray[np.float64], rtol: float, dtype: np.dtype[Any], lead: tuple[int, ...]
) -> bool:
    """Whether a square input is a Gram (``gram=None``): every matrix symmetric within ``rtol``.

    A representation if some matrix is clearly asymmetric (beyond :data:`NEAR_SYMMETRY_RTOL`);
    in between, ValueError asking for ``gram=``.
    """
    within = worst <= rtol * scale
    if np.all(within):
        return True
    if np.any(worst > NEAR_SYMMETRY_RTOL * scale):
        return False
    k = int(np.flatnonzero(~within)[0])
    raise ValueError(
        f"x is square and nearly symmetric{_where(lead, k)}: its largest asymmetry {worst[k]:.3g} "
        f"(largest entry {scale[k]:.3g}) is beyond the {rtol:.2g} relative that {dtype} rounding allows "
        "a Gram, yet too small for a typical representation; pass gram=False if x is a representation "
        f"(rows are samples), or gram=True if it is a Gram and {_precision_hint(dtype)}"
    )


def _as_gram(x: ArrayLike, gram_flag: bool | None) -> tuple[NDArray[np.float64], bool, bool, float]:
    """The Gram of x, whether x was one, whether that was guessed, and x's PSD tolerance.

    The PSD check of a Gram given by the caller is the caller's (with the eigenvalues of its metrics).
    """
    raw, dtype = _with_dtype(x)
    a = check.array("x", raw)  # complex -> TypeError; NaN, inf -> ValueError naming the entry
    if gram_flag is not None:
        gram_flag = check.boolean("gram", gram_flag)
    if a.ndim < 2:
        raise ValueError(f"x must be a Gram matrix (n, n) or a representation (n, d); got shape {a.shape}")
    auto = gram_flag is None
    sym_rtol, psd_rtol = _tolerances(dtype)
    symmetry = None  # (largest |a - a^T|, largest |a|) per matrix of a square x that may be a Gram
    if gram_flag is not False and a.shape[-1] == a.shape[-2]:
        symmetry = _symmetry(a)
        if gram_flag is None:
            gram_flag = _guess_gram(*symmetry, sym_rtol, dtype, a.shape[:-2])
    if not gram_flag:
        a = gram(a)
    elif symmetry is None:
        raise ValueError(f"x must be square when gram=True; got shape {a.shape}")
    if a.shape[-1] < 2:
        raise ValueError(f"x must describe n >= 2 samples; got n={a.shape[-1]}")
    if gram_flag and symmetry is not None:
        _check_symmetric(*symmetry, sym_rtol, dtype, a.shape[:-2])
    return a, bool(gram_flag), auto, psd_rtol


def gram_metrics(x: ArrayLike, *, gram: bool | None = None) -> dict[str, NDArray[np.float64]]:
    """All Gram metrics at once, as a dict of arrays over the leading axes.

    Keys are :data:`METRICS`: ``isometry`` ``I = det(G)^(1/n) / (tr G / n)``, ``gap``
    ``-log I``, ``potential`` ``max_{i!=j} |rho|/(1-|rho|)``, ``effective_rank``
    ``exp(entropy(lambda / sum lambda))``, ``stable_rank`` ``tr G / lambda_max``,
    ``mean_abs_corr`` and ``max_abs_corr`` (off-diagonal correlations), ``condition``
    ``lambda_max / lambda_min``.

    The input is checked (see the module docstring): finite and real, ``n >= 2`` samples,
    ``d >= 1`` features; a Gram symmetric within :data:`SYMMETRY_RTOL` and positive
    semi-definite within :data:`PSD_RTOL` (both in units of the precision of its dtype).

    Parameters
    ----------
    x : array_like
        A Gram matrix ``G`` (``(..., n, n)``, symmetric PSD) or a representation ``X``
        (``(..., n, d)``, rows are samples), or a stack of either.
    gram : bool, optional
        Whether ``x`` is a Gram (``True``) or a representation (``False``); by default a
        square symmetric input is taken as a Gram.

    Returns
    -------
    dict of str to ndarray
        One array per metric, of the leading axes' shape (``()`` for one matrix).

    Raises
    ------
    TypeError
        For input that is not real numbers (complex, strings, ragged lists).
    ValueError
        For NaN or inf entries, the wrong shape, ``n < 2``, ``d = 0``, a Gram that is not
        symmetric or not positive semi-definite, or (with ``gram=None``) a square input too
        nearly symmetric to guess.
    """
    g, given, auto, psd_rtol = _as_gram(x, gram)
    # a Gram given by the caller is checked to be PSD with the eigenvalues its metrics come
    # from (one eigendecomposition, not two); one computed here from a representation is PSD
    return _measure(g, psd_check=auto if given else None, psd_rtol=psd_rtol)


def _measure(
    g: NDArray[np.float64], psd_check: bool | None = None, psd_rtol: float = PSD_RTOL
) -> dict[str, NDArray[np.float64]]:
    """The metrics of a stack of Grams ``(..., n, n)`` as the simulator computes them.

    Unchecked for the package's own Grams (the mean field's, which are NaN after a
    breakdown); with ``psd_check`` (whether the input was guessed to be a Gram, for the
    error's hint), a Gram that is not PSD within ``psd_rtol`` raises ValueError. Only
    the all-zero Gram is given its documented ranks (0) instead of the kernel's 0/0.
    """
    lead = g.shape[:-2]
    n = g.shape[-1]
    flat = np.ascontiguousarray(g.reshape(-1, n, n))
    if psd_check is None:
        out = _core.gram_metrics(flat)
    else:
        out, extremes = _core.gram_metrics_extremes(flat)
        _check_psd(extremes, lead, n, psd_check, psd_rtol)
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
    """Isometry ``det(G)^(1/n) / (tr(G)/n)`` in ``[0, 1]`` (Joudaki et al. 2023, eq. 1).

    Parameters
    ----------
    x : array_like
        A Gram matrix ``G`` (``(..., n, n)``, symmetric PSD) or a representation ``X``
        (``(..., n, d)``, rows are samples), or a stack of either; checked as
        :func:`gram_metrics` does.
    gram : bool, optional
        Whether ``x`` is a Gram (``True``) or a representation (``False``); by default a
        square symmetric input is taken as a Gram.

    Returns
    -------
    float or ndarray
        One value per matrix: a float for one matrix, an array over the leading axes of a stack.
    """
    return _one("isometry", x, gram)


def isometry_gap(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Isometry gap ``-log I(G) = log mean(lambda) - mean(log lambda)``, ``+inf`` if singular.

    Parameters
    ----------
    x : array_like
        A Gram matrix ``G`` (``(..., n, n)``, symmetric PSD) or a representation ``X``
        (``(..., n, d)``, rows are samples), or a stack of either; checked as
        :func:`gram_metrics` does.
    gram : bool, optional
        Whether ``x`` is a Gram (``True``) or a representation (``False``); by default a
        square symmetric input is taken as a Gram.

    Returns
    -------
    float or ndarray
        One value per matrix: a float for one matrix, an array over the leading axes of a stack.
    """
    return _one("gap", x, gram)


def potential(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Potential ``max_{i != j} |rho_ij| / (1 - |rho_ij|)`` (Joudaki et al. 2023, section 4).

    Parameters
    ----------
    x : array_like
        A Gram matrix ``G`` (``(..., n, n)``, symmetric PSD) or a representation ``X``
        (``(..., n, d)``, rows are samples), or a stack of either; checked as
        :func:`gram_metrics` does.
    gram : bool, optional
        Whether ``x`` is a Gram (``True``) or a representation (``False``); by default a
        square symmetric input is taken as a Gram.

    Returns
    -------
    float or ndarray
        One value per matrix: a float for one matrix, an array over the leading axes of a stack.
    """
    return _one("potential", x, gram)


def effective_rank(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Effective rank ``exp(entropy(lambda / sum lambda))`` in ``[1, n]``.

    Parameters
    ----------
    x : array_like
        A Gram matrix ``G`` (``(..., n, n)``, symmetric PSD) or a representation ``X``
        (``(..., n, d)``, rows are samples), or a stack of either; checked as
        :func:`gram_metrics` does.
    gram : bool, optional
        Whether ``x`` is a Gram (``True``) or a representation (``False``); by default a
        square symmetric input is taken as a Gram.

    Returns
    -------
    float or ndarray
        One value per matrix: a float for one matrix, an array over the leading axes of a stack.
    """
    return _one("effective_rank", x, gram)


def stable_rank(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Stable rank ``tr(G) / lambda_max`` in ``[1, n]``.

    Parameters
    ----------
    x : array_like
        A Gram matrix ``G`` (``(..., n, n)``, symmetric PSD) or a representation ``X``
        (``(..., n, d)``, rows are samples), or a stack of either; checked as
        :func:`gram_metrics` does.
    gram : bool, optional
        Whether ``x`` is a Gram (``True``) or a representation (``False``); by default a
        square symmetric input is taken as a Gram.

    Returns
    -------
    float or ndarray
        One value per matrix: a float for one matrix, an array over the leading axes of a stack.
    """
    return _one("stable_rank", x, gram)


def mean_abs_correlation(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Mean of ``|rho_ij|`` over ``i != j``.

    Parameters
    ----------
    x : array_like
        A Gram matrix ``G`` (``(..., n, n)``, symmetric PSD) or a representation ``X``
        (``(..., n, d)``, rows are samples), or a stack of either; checked as
        :func:`gram_metrics` does.
    gram : bool, optional
        Whether ``x`` is a Gram (``True``) or a representation (``False``); by default a
        square symmetric input is taken as a Gram.

    Returns
    -------
    float or ndarray
        One value per matrix: a float for one matrix, an array over the leading axes of a stack.
    """
    return _one("mean_abs_corr", x, gram)


def mean_correlation(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Mean of ``rho_ij`` over ``i != j``: the mean cosine between samples (tokens), signed.

    The quantity studies of attention's rank collapse report (the tokens' mean cosine
    similarity); unlike :func:`mean_abs_correlation` it is not among :data:`METRICS` (the
    simulator does not record it per layer: keep the Grams, ``grams=True``). Checked as
    :func:`gram_metrics` checks its input, except positive semi-definiteness (no eigenvalues
    are computed); a zero row gives NaN.

    Parameters
    ----------
    x : array_like
        A Gram matrix ``G`` (``(..., n, n)``, symmetric) or a representation ``X``
        (``(..., n, d)``, rows are samples), or a stack of either.
    gram : bool, optional
        Whether ``x`` is a Gram (``True``) or a representation (``False``); by default a
        square symmetric input is taken as a Gram.

    Returns
    -------
    float or ndarray
        One value per matrix: a float for one matrix, an array over the leading axes of a stack.
    """
    g, _, _, _ = _as_gram(x, gram)
    v = _mean_correlation(g)
    return float(v) if v.ndim == 0 else v


def _mean_correlation(g: NDArray[np.float64]) -> NDArray[np.float64]:
    """:func:`mean_correlation` of the package's own Grams, unchecked (NaN Grams give NaN)."""
    d = np.sqrt(np.einsum("...ii->...i", g))
    with np.errstate(invalid="ignore", divide="ignore"):
        c = g / (d[..., :, None] * d[..., None, :])
    n = g.shape[-1]
    return np.asarray((c.sum(axis=(-1, -2)) - np.trace(c, axis1=-2, axis2=-1)) / (n * (n - 1)))


def max_abs_correlation(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """Max of ``|rho_ij|`` over ``i != j``.

    Parameters
    ----------
    x : array_like
        A Gram matrix ``G`` (``(..., n, n)``, symmetric PSD) or a representation ``X``
        (``(..., n, d)``, rows are samples), or a stack of either; checked as
        :func:`gram_metrics` does.
    gram : bool, optional
        Whether ``x`` is a Gram (``True``) or a representation (``False``); by default a
        square symmetric input is taken as a Gram.

    Returns
    -------
    float or ndarray
        One value per matrix: a float for one matrix, an array over the leading axes of a stack.
    """
    return _one("max_abs_corr", x, gram)


def condition_number(x: ArrayLike, *, gram: bool | None = None) -> Any:
    """``lambda_max / lambda_min`` (``+inf`` if singular).

    Parameters
    ----------
    x : array_like
        A Gram matrix ``G`` (``(..., n, n)``, symmetric PSD) or a representation ``X``
        (``(..., n, d)``, rows are samples), or a stack of either; checked as
        :func:`gram_metrics` does.
    gram : bool, optional
        Whether ``x`` is a Gram (``True``) or a representation (``False``); by default a
        square symmetric input is taken as a Gram.

    Returns
    -------
    float or ndarray
        One value per matrix: a float for one matrix, an array over the leading axes of a stack.
    """
    return _one("condition", x, gram)


def normalization_bias(x: ArrayLike, *, ddof: int = 0, kind: str = "norms", axis: int = -1) -> Any:
    """Normalization bias ``Var(a) / mean(a)^2`` of the norms ``a`` a normalization divides by.

    Parameters
    ----------
    x : array_like
        With ``kind="norms"`` (default): the norms ``a_1..a_k`` along ``axis`` (per-sample
        norms for layer norm, per-feature norms for batch norm), ``>= 0``, at least 2. With
        ``kind="gram"``: a Gram matrix ``(..., n, n)``, whose per-sample norms are
        ``sqrt(G_ii)``, checked as every metric checks a Gram (symmetric, positive
        semi-definite, ``n >= 2``). With ``kind="rows"``/``"columns"``: a representation
        ``(..., n, d)`` whose per-sample (layer norm; ``n >= 2``, ``d >= 1``) or per-feature
        (batch norm; ``d >= 2``, ``n >= 1``) root mean squares are used.
    ddof : int
        0 (default) for the population variance, which the inequality
        ``I(G')/I(G) >= 1 + Var(a)/mean(a)^2`` of Theory §5 uses and the simulator's
        ``Trajectory.norm_bias`` reports; 1 for the unbiased variance the authors' code prints.
    kind : {"norms", "gram", "rows", "columns"}
        What ``x`` holds.
    axis : int
        The axis of the norms with ``kind="norms"`` (the others use the matrix axes).

    Returns
    -------
    float or ndarray
        Over the leading axes. All norms 0 (a collapsed layer) gives 0.

    Raises
    ------
    TypeError
        For input that is not real numbers.
    ValueError
        For NaN or inf entries, negative norms, too few norms or the wrong shape, or a Gram
        that is not symmetric or not positive semi-definite.
    """
    ddof = check.integer("ddof", ddof, 0, 1)
    check.choice("kind", kind, ("norms", "gram", "rows", "columns"))
    if kind == "gram":
        g, _, _, psd_rtol = _as_gram(x, True)  # finite, real, square, n >= 2, symmetric
        n = g.shape[-1]
        _, extremes = _core.gram_metrics_extremes(np.ascontiguousarray(g.reshape(-1, n, n)))
        _check_psd(extremes, g.shape[:-2], n, False, psd_rtol)
        # PSD within rounding: a diagonal entry may be -0 or a rounding error below 0
        return _bias(np.sqrt(np.maximum(np.diagonal(g, axis1=-2, axis2=-1), 0.0)), ddof)
    a = check.array("x", x)  # complex -> TypeError; NaN, inf -> ValueError naming the entry
    if kind == "norms":
        if a.ndim < 1:
            raise ValueError(
                f"x must hold the norms along an axis (at least 1-D) with kind='norms'; got shape {a.shape}"
            )
        axis = check.integer("axis", axis, -a.ndim, a.ndim - 1)
        if a.shape[axis] < 2:
            raise ValueError(f"x must hold k >= 2 norms along axis {axis}; got shape {a.shape}")
        if np.any(a < 0):
            where = ", ".join(str(int(i)) for i in np.argwhere(a < 0)[0])
            raise ValueError(f"x must be norms (>= 0) with kind='norms'; got {float(a[a < 0][0])!r} at x[{where}]")
        return _bias(np.moveaxis(a, axis, -1), ddof)
    if a.ndim < 2:
        raise ValueError(f"x must be a representation (..., n, d) with kind={kind!r}; got shape {a.shape}")
    n, d = a.shape[-2:]
    if kind == "rows" and (n < 2 or d < 1):
        raise ValueError(f"x must have n >= 2 rows (samples) and d >= 1 features with kind='rows'; got shape {a.shape}")
    if kind == "columns" and (d < 2 or n < 1):
        raise ValueError(
            f"x must have d >= 2 columns (features) and n >= 1 rows with kind='columns'; got shape {a.shape}"
        )
    # each matrix scaled by a power of 2 near its largest entry: exact (the same bits), and the
    # squares neither overflow (entries above 1e154) nor underflow (below 1e-154)
    a = _power_of_two_scaled(a, (-2, -1))
    rms = np.sqrt(np.mean(a * a, axis=-1 if kind == "rows" else -2))
    return _bias(rms, ddof)


def _power_of_two_scaled(a: NDArray[np.float64], axes: tuple[int, ...]) -> NDArray[np.float64]:
    """``a`` times ``2^-e``, ``e`` the binary exponent of the largest ``|a|`` over ``axes``.

    Exact for every entry that stays a normal float64, so every ratio of sums of ``a``
    (the normalization bias) keeps its bits, while the largest entry becomes ``[0.5, 1)``.
    """
    if a.size == 0:
        return a
    top = np.max(np.abs(a), axis=axes, keepdims=True)
    scaled: NDArray[np.float64] = np.ldexp(a, -np.frexp(top)[1])
    return scaled


def _bias(norms: NDArray[np.float64], ddof: int) -> Any:
    """``Var / mean^2`` over the last axis of non-negative ``norms`` (0 where all are 0)."""
    a = _power_of_two_scaled(norms, (-1,))
    mean = a.mean(axis=-1)
    var = a.var(axis=-1, ddof=ddof)
    out = np.divide(var, mean * mean, out=np.zeros_like(var), where=mean > 0)
    return float(out) if out.ndim == 0 else out
