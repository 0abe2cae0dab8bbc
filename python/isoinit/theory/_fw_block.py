"""One MLP block at finite width: the Gram's conditional mean and covariance to order ``1/d``.

Given the block's input Gram ``G`` the output Gram is a function of averages over the ``d``
output features (columns), which are iid: the pre-activations of one column are
``h ~ N(0, Sp)``, ``Sp = gain^2 G + bias^2 11^T`` (Theory §3). So, to order ``1/d``,

``E[G' | G] = K(G) + b(G) / d``  and  ``Cov[G' | G] = Sigma(G) / d``

with ``K`` the mean-field map, ``Sigma = E[psi psi^T]`` the covariance of the influence
function ``psi`` of the statistic (its first-order fluctuation per column) and ``b`` the
delta-method bias of the normalization's ratio of averages (docs/finite-width.md, §1).

Everything here works on the ``P = n (n + 1) / 2`` entries ``G_ij``, ``i <= j`` (the order of
:func:`_pairs`). ``K`` is pairwise: ``K_ij`` depends on ``(G_ii, G_jj, G_ij)`` only, so its
Jacobian and Hessian are sparse and taken by central differences of the exact kernel
(:func:`isoinit.hermite.nngp_kernel`, 1e-12 accurate). ``Sigma`` and ``b`` need fourth
moments of the activation under ``N(0, Sp)``: they are Monte Carlo averages over a fixed set
of standard normal columns (common random numbers across layers), whose standard error is
reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from ..activations import Activation
from ..networks.mlp import MLP
from ._mf_constants import mf_constants
from .hermite import moments, nngp_kernel

_F = NDArray[np.float64]
_I = NDArray[np.intp]

#: Relative step of the central differences of the mean-field map: the kernel is accurate to
#: ~1e-13, so a second difference with step 1e-3 carries ~1e-7 of rounding and ~1e-6
#: (relative) of truncation error, far below the Monte Carlo error of ``Sigma`` and ``b``.
FD_STEP = 1e-3
#: Step of the numerical derivative of the activation (norm-act order only), relative to
#: ``max(1, |x|)``: central differences, error ~1e-10 for smooth activations.
ACT_STEP = 1e-5


@lru_cache(maxsize=16)
def _pairs(n: int) -> tuple[_I, _I]:
    """Row and column of the ``P = n (n + 1) / 2`` entries ``i <= j``, diagonal included."""
    i, j = np.triu_indices(n)
    return i.astype(np.intp), j.astype(np.intp)


@lru_cache(maxsize=16)
def _index(n: int) -> _I:
    """``(n, n)`` array giving the position of ``G_ij`` (either order) among the ``P`` entries."""
    i, j = _pairs(n)
    idx = np.empty((n, n), dtype=np.intp)
    idx[i, j] = np.arange(i.size)
    idx[j, i] = np.arange(i.size)
    return idx


def to_vector(g: _F) -> _F:
    """The ``P`` entries ``G_ij``, ``i <= j``, of a symmetric ``(n, n)`` matrix."""
    i, j = _pairs(g.shape[-1])
    return np.asarray(g[..., i, j])


def to_matrix(v: _F, n: int) -> _F:
    """The symmetric ``(n, n)`` matrix of the ``P`` entries ``v``."""
    return np.asarray(v[..., _index(n)])


@dataclass(frozen=True)
class Block:
    """What one block does, with its constants resolved (``layer`` selects the ``mf`` constants)."""

    act: Activation
    order: str
    centering: str
    scaling: str
    gain2: float
    bias2: float
    eps: float
    mf_center: float
    mf_scale: float

    @staticmethod
    def of(net: MLP, layer: int) -> Block:
        """The block ``layer`` (``1..depth``) of ``net``."""
        centers, scales = mf_constants(net)
        return Block(
            act=net.act,
            order=net.order,
            centering=net.centering,
            scaling=net.scaling,
            gain2=net.gain**2,
            bias2=net.bias**2,
            eps=net.eps,
            mf_center=centers[layer - 1] if centers else 0.0,
            mf_scale=scales[layer - 1] if scales else 1.0,
        )

    @property
    def fixed_diagonal(self) -> bool:
        """Whether every output row has mean square exactly 1 at any width (act-norm, layer scaling, eps 0)."""
        return self.order == "act-norm" and self.scaling == "layer" and self.eps == 0.0


# ----------------------------------------------------------------------------------------
# Gaussian integrals of the activation
# ----------------------------------------------------------------------------------------


def _m1(act: Activation, q: _F) -> tuple[_F, _F]:
    """``E sigma(h)`` and ``E sigma(h)^2`` for ``h ~ N(0, q)``, elementwise (exact, cached by ``q``)."""
    flat = np.asarray(q, dtype=np.float64).ravel()
    uniq, inv = np.unique(flat, return_inverse=True)
    mo = [moments(act, math.sqrt(max(float(v), 0.0))) for v in uniq]
    c0 = np.array([m.c0 for m in mo])[inv.ravel()].reshape(np.shape(q))
    m2 = np.array([m.m2 for m in mo])[inv.ravel()].reshape(np.shape(q))
    return c0, m2


def _k2(act: Activation, a: _F, b: _F, c: _F) -> _F:
    """``E sigma(u) sigma(v)`` for centered Gaussian ``(u, v)`` with variances ``a, b`` and covariance ``c``."""
    a, b, c = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float), np.asarray(c, float))
    den = np.sqrt(a * b)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(den > 0, c / np.where(den > 0, den, 1.0), 0.0)
    return np.asarray(nngp_kernel(act, np.maximum(a, 0.0), np.maximum(b, 0.0), np.clip(rho, -1.0, 1.0)))


# ----------------------------------------------------------------------------------------
# the mean-field map, pairwise, for any diagonal
# ----------------------------------------------------------------------------------------


def _pre(blk: Block, g: _F) -> _F:
    """Pre-activation (co)variance ``gain^2 G + bias^2``, elementwise."""
    return blk.gain2 * g + blk.bias2


def _center_values(blk: Block, mu: _F) -> _F:
    """What act-norm centering subtracts from ``sigma(h_i)`` at infinite width (``mu``: ``E sigma(h_i)``)."""
    if blk.centering == "layer":
        return mu
    if blk.centering == "mf":
        return np.full_like(mu, blk.mf_center)
    return np.zeros_like(mu)


def _act_norm_parts(blk: Block, a: _F, b: _F, c: _F) -> dict[str, _F]:
    """Act-norm: centered second moments ``S_ab``, ``S_aa``, ``S_bb`` and scaling denominators, pairwise."""
    qa, qb, qc = _pre(blk, a), _pre(blk, b), _pre(blk, c)
    mua, m2a = _m1(blk.act, qa)
    mub, m2b = _m1(blk.act, qb)
    za, zb = _center_values(blk, mua), _center_values(blk, mub)
    n2 = _k2(blk.act, qa, qb, qc)
    s_ab = n2 - za * mub - zb * mua + za * zb
    s_aa = m2a - 2.0 * za * mua + za * za
    s_bb = m2b - 2.0 * zb * mub + zb * zb
    if blk.scaling == "layer":
        da, db = s_aa + blk.eps, s_bb + blk.eps
    elif blk.scaling == "mf":
        da = db = np.full_like(s_ab, blk.mf_scale**2)
    else:
        da = db = np.ones_like(s_ab)
    return {"S": s_ab, "Saa": s_aa, "Sbb": s_bb, "Da": da, "Db": db, "mua": mua, "mub": mub, "za": za, "zb": zb}


def _norm_scales(blk: Block, q: _F) -> _F:
    """Norm-act: what the scaling divides the pre-activation ``h_i`` (variance ``q``) by, at infinite width."""
    if blk.scaling == "layer":
        return np.sqrt(q + blk.eps)
    if blk.scaling == "mf":
        return np.full_like(q, blk.mf_scale)
    return np.ones_like(q)


def pair_map(blk: Block, a: _F, b: _F, c: _F) -> _F:
    """Mean-field output ``K_ij`` from ``(G_ii, G_jj, G_ij) = (a, b, c)``, elementwise.

    ``a == b`` and ``c == a`` give the diagonal ``K_ii``. Matches
    :func:`isoinit.meanfield.block_map` on Grams of constant diagonal (tests).
    """
    if blk.order == "act-norm":
        p = _act_norm_parts(blk, a, b, c)
        return np.asarray(p["S"] / np.sqrt(p["Da"] * p["Db"]))
    qa, qb, qc = _pre(blk, a), _pre(blk, b), _pre(blk, c)
    sa, sb = _norm_scales(blk, qa), _norm_scales(blk, qb)
    return _k2(blk.act, qa / sa**2, qb / sb**2, qc / (sa * sb))


def mean_map(blk: Block, g: _F) -> _F:
    """The mean-field map ``K(G)`` on the ``P`` entries (any positive diagonal)."""
    n = g.shape[0]
    i, j = _pairs(n)
    d = np.diag(g)
    return pair_map(blk, d[i], d[j], g[i, j])


# ----------------------------------------------------------------------------------------
# Jacobian and Hessian of the mean-field map by central differences
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Derivatives:
    """``K`` and its derivatives in ``(G_ii, G_jj, G_ij)`` for every entry ``(i, j)``, ``i <= j``.

    ``grad`` has shape ``(P, 3)`` and ``hess`` ``(P, 3, 3)``; for a diagonal entry the three
    variables coincide and only slot 0 (the derivative in ``G_ii``) is non-zero.
    """

    value: _F
    grad: _F
    hess: _F


_MIXED = ((0, 1), (0, 2), (1, 2))


def _stencil() -> _F:
    """Offsets of the central-difference stencil: 0, +-e_k, and +-e_k +-e_l for k < l (19 points)."""
    pts: list[list[float]] = [[0.0, 0.0, 0.0]]
    for k in range(3):
        for sgn in (1.0, -1.0):
            e = [0.0, 0.0, 0.0]
            e[k] = sgn
            pts.append(e)
    for k, l in _MIXED:
        for sk in (1.0, -1.0):
            for sl in (1.0, -1.0):
                e = [0.0, 0.0, 0.0]
                e[k], e[l] = sk, sl
                pts.append(e)
    return np.array(pts)


def _second_order(blk: Block, y0: _F, h: _F, diag_rows: NDArray[np.bool_]) -> tuple[_F, _F, _F]:
    """Value, gradient and Hessian of ``K`` in ``y = (G_ii, G_jj, rho_ij)`` at ``y0`` (``(P, 3)``), steps ``h``."""
    st = _stencil()
    ys = y0[None, :, :] + st[:, None, :] * h[None, :, :]  # (S, P, 3)
    # a diagonal entry is one variable: a, b and c move together
    ys[:, diag_rows, 1] = ys[:, diag_rows, 0]
    a, b = ys[..., 0], ys[..., 1]
    c = np.where(diag_rows[None, :], a, ys[..., 2] * np.sqrt(np.maximum(a * b, 0.0)))
    vals = pair_map(blk, a.ravel(), b.ravel(), c.ravel()).reshape(st.shape[0], -1)
    f0 = vals[0]
    p = y0.shape[0]
    grad = np.zeros((p, 3))
    hess = np.zeros((p, 3, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in range(3):
            fp, fm = vals[1 + 2 * k], vals[2 + 2 * k]
            hk = h[:, k]
            ok = hk > 0
            grad[ok, k] = ((fp - fm) / (2.0 * hk))[ok]
            hess[ok, k, k] = ((fp - 2.0 * f0 + fm) / (hk * hk))[ok]
        for m, (k, l) in enumerate(_MIXED):
            base = 7 + 4 * m
            fpp, fpm, fmp, fmm = vals[base], vals[base + 1], vals[base + 2], vals[base + 3]
            ok = (h[:, k] > 0) & (h[:, l] > 0)
            v = (fpp - fpm - fmp + fmm) / (4.0 * h[:, k] * h[:, l])
            hess[ok, k, l] = v[ok]
            hess[ok, l, k] = v[ok]
    grad[diag_rows, 1:] = 0.0
    hess[diag_rows, 1:, :] = 0.0
    hess[diag_rows, :, 1:] = 0.0
    return f0, grad, hess


def derivatives(blk: Block, g: _F, diagonal: bool) -> Derivatives:
    """Gradient and Hessian of :func:`pair_map` in ``(G_ii, G_jj, G_ij)`` around ``g``.

    Central differences are taken in ``(G_ii, G_jj, rho_ij)``, ``rho = G_ij / sqrt(G_ii G_jj)``,
    and converted by the exact chain rule: a block whose output depends on the correlations
    only (every layer-scaled one) then has derivatives in ``G_ii`` that cancel exactly
    against those in ``G_ij`` where rows are nearly collinear, instead of to the differences'
    truncation error (which the small eigenvalues of a nearly singular Gram would see).
    ``diagonal``: whether to differentiate in the diagonal entries too (unnecessary when the
    diagonal is exactly 1 at every width, :attr:`Block.fixed_diagonal`). Steps: ``FD_STEP``
    times ``G_ii`` on the diagonal, ``FD_STEP`` in ``rho`` reduced to a sixteenth of the
    distance to ``|rho| = 1`` near collinear pairs.
    """
    n = g.shape[0]
    i, j = _pairs(n)
    dg = np.diag(g)
    a, b, c = dg[i], dg[j], g[i, j]
    off = i != j
    root = np.sqrt(a * b)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(off, c / np.where(root > 0, root, 1.0), 1.0)
    room = np.where(off, 1.0 - np.abs(rho), 1.0)
    h = np.stack([FD_STEP * a, FD_STEP * b, np.clip(np.minimum(FD_STEP, room / 16.0), 1e-12, FD_STEP)], axis=1)
    if not diagonal:
        h[:, :2] = 0.0
    h[~off, 2] = 0.0
    f0, gy, hy = _second_order(blk, np.stack([a, b, rho], axis=1), h, ~off)
    # chain rule from y = (a, b, rho) to x = (a, b, c): dy/dx and d^2 rho / dx^2
    p = i.size
    jy = np.zeros((p, 3, 3))
    jy[:, 0, 0] = 1.0
    jy[:, 1, 1] = 1.0
    jy[:, 2, 0] = -rho / (2 * a)
    jy[:, 2, 1] = -rho / (2 * b)
    jy[:, 2, 2] = 1.0 / root
    h_rho = np.zeros((p, 3, 3))
    h_rho[:, 0, 0] = 3 * rho / (4 * a * a)
    h_rho[:, 1, 1] = 3 * rho / (4 * b * b)
    h_rho[:, 0, 1] = h_rho[:, 1, 0] = rho / (4 * a * b)
    h_rho[:, 0, 2] = h_rho[:, 2, 0] = -1.0 / (2 * a * root)
    h_rho[:, 1, 2] = h_rho[:, 2, 1] = -1.0 / (2 * b * root)
    grad = np.einsum("pk,pkx->px", gy, jy)
    hess = np.einsum("pkx,pkl,ply->pxy", jy, hy, jy) + gy[:, 2, None, None] * h_rho
    # a diagonal entry: one variable, G_ii (slot 0), already in those coordinates
    grad[~off] = gy[~off]
    hess[~off] = hy[~off]
    return Derivatives(value=f0, grad=grad, hess=hess)


def jacobian(der: Derivatives, n: int) -> _F:
    """Dense ``(P, P)`` Jacobian ``dK_ij / dG_kl`` from the pairwise gradients."""
    i, j = _pairs(n)
    idx = _index(n)
    p = i.size
    jac = np.zeros((p, p))
    rows = np.arange(p)
    off = i != j
    jac[rows, idx[i, i]] += der.grad[:, 0]
    jac[rows[off], idx[j[off], j[off]]] += der.grad[off, 1]
    jac[rows[off], idx[i[off], j[off]]] += der.grad[off, 2]
    return jac


def _variables(n: int) -> _I:
    """``(P, 3)``: positions of ``(G_ii, G_jj, G_ij)`` among the ``P`` entries, for every entry ``(i, j)``."""
    i, j = _pairs(n)
    idx = _index(n)
    return np.stack([idx[i, i], idx[j, j], idx[i, j]], axis=1)


def propagate_cov(der: Derivatives, cov: _F, n: int) -> _F:
    """``J C J^T``: the input's covariance carried through the linearized mean-field map."""
    jac = jacobian(der, n)
    out = jac @ cov @ jac.T
    return np.asarray(0.5 * (out + out.T))


def hessian_term(der: Derivatives, cov: _F, n: int) -> _F:
    """``(1/2) Hess K_ij : Cov`` for every entry: the mean's shift from the input's fluctuations."""
    i, j = _pairs(n)
    idx = _index(n)
    vars_ = _variables(n)
    sub = cov[vars_[:, :, None], vars_[:, None, :]]  # (P, 3, 3)
    off = i != j
    out = 0.5 * np.einsum("pkl,pkl->p", der.hess, sub)
    # a diagonal entry: one variable
    out[~off] = 0.5 * der.hess[~off, 0, 0] * cov[idx[i[~off], i[~off]], idx[i[~off], i[~off]]]
    return np.asarray(out)


# ----------------------------------------------------------------------------------------
# the fluctuation: Sigma(G) and b(G) by Monte Carlo
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fluctuation:
    """``Sigma(G)`` (``(P, P)``) and ``b(G)`` (``(P,)``): ``Cov[G'|G] = Sigma/d``, ``E[G'|G] = K + b/d``.

    ``sigma_se`` and ``b_se`` are Monte Carlo standard errors of the diagonal of ``Sigma`` and of
    ``b`` (the same shapes as the diagonal and ``b``), ``trace_se`` that of ``tr Sigma``.
    """

    sigma: _F
    b: _F
    sigma_se: _F
    b_se: _F
    trace_se: float


def _sqrt_psd(s: _F) -> _F:
    """A square root ``R`` with ``R R^T = s`` for a symmetric positive semi-definite ``s``."""
    w, u = np.linalg.eigh(0.5 * (s + s.T))
    return np.asarray(u * np.sqrt(np.clip(w, 0.0, None)))


#: Rows of the Monte Carlo sample used for the standard errors (a diagnostic: 16384 rows give
#: them to a few per cent; more for the heavy-tailed products of nearly collinear rows).
_SE_ROWS = 16384


def _column_means(x: _F) -> _F:
    """Column means of ``x`` by a matrix-vector product (fast for C-ordered ``(N, P)`` arrays)."""
    return np.asarray(np.ones(x.shape[0]) @ x / x.shape[0])


def _cov_and_se(psi: _F) -> tuple[_F, _F, float]:
    """Covariance of the columns of ``psi`` (``(N, P)``, centered here), the SE of its diagonal and of its trace.

    The standard errors come from the first :data:`_SE_ROWS` rows, scaled to ``N``.
    """
    n_s = psi.shape[0]
    psi = psi - _column_means(psi)
    cov = psi.T @ psi / n_s
    se, tr_se = _diag_se(psi[:_SE_ROWS], n_s)
    return 0.5 * (cov + cov.T), se, tr_se


def _mean_and_se(x: _F) -> tuple[_F, _F]:
    """Column means of the per-sample values ``x`` (``(N, P)``) and their standard errors (from a subsample)."""
    return _column_means(x), np.asarray(x[:_SE_ROWS].std(axis=0) / math.sqrt(x.shape[0]))


def fluctuation(blk: Block, g: _F, z: _F) -> Fluctuation:
    """``Sigma(G)`` and ``b(G)`` of one block at the input Gram ``g``, from standard normal draws ``z`` (``(N, n)``)."""
    if blk.order == "act-norm":
        return _fluct_act_norm(blk, g, z)
    return _fluct_norm_act(blk, g, z)


def _fluct_act_norm(blk: Block, g: _F, z: _F) -> Fluctuation:
    """Act-norm: ``G'_ij = S_ij / sqrt(D_i D_j)`` with ``S = A - zeta mu^T - mu zeta^T + zeta zeta^T``.

    ``A`` and the row means ``mu`` are averages over the columns of ``sigma(h)``; centering by
    the empirical row mean (``zeta = mu``) fluctuates like centering by the exact one to first
    order, and biases ``S_ij`` by ``-Cov(sigma_i, sigma_j) / d`` exactly. The first-order
    fluctuation of ``S_ij`` per column is ``(sigma_i - zeta_i)(sigma_j - zeta_j) - S_ij``, and
    ``G'`` follows by the delta method on ``S_ij / sqrt(D_i D_j)`` (layer scaling; ``D`` is
    constant for ``mf`` and no scaling, where ``G'`` is linear in ``S``).
    """
    n = g.shape[0]
    i, j = _pairs(n)
    idx = _index(n)
    off = i != j
    sp = _pre(blk, g)
    h = z @ _sqrt_psd(sp).T
    dg = np.diag(g)
    parts = _act_norm_parts(blk, dg[i], dg[j], g[i, j])
    s_vec = parts["S"]  # S_ij, the diagonal entries included (a == b)
    zeta = _center_values(blk, _m1(blk.act, np.diag(sp))[0])
    a = blk.act.fn(h) - zeta  # (N, n)
    psi_s = np.take(a, i, axis=1) * np.take(a, j, axis=1)  # (N, P): per-column S_ij, before centering
    psi_s -= _column_means(psi_s)
    n_s = psi_s.shape[0]
    v_s = psi_s.T @ psi_s / n_s  # covariance of the per-column fluctuation of S
    v_s = 0.5 * (v_s + v_s.T)
    # exact bias of S from the empirical centering: -Cov(sigma_i, sigma_j) = -(N_ij - mu_i mu_j)
    if blk.centering == "layer":
        n2 = s_vec + parts["za"] * parts["mub"] + parts["zb"] * parts["mua"] - parts["za"] * parts["zb"]
        b_s = -(n2 - parts["mua"] * parts["mub"])
    else:
        b_s = np.zeros_like(s_vec)
    p = i.size
    rows = np.arange(p)
    t = np.zeros((p, p))  # dG'/dS
    sub = psi_s[:_SE_ROWS]
    if blk.scaling == "layer":
        d_diag = s_vec[idx[np.arange(n), np.arange(n)]] + blk.eps  # D_k = S_kk + eps
        da, db = d_diag[i], d_diag[j]
        root = np.sqrt(da * db)
        gval = s_vec / root
        ii, jj = idx[i, i], idx[j, j]
        # off-diagonal: G' = S_ij (D_i D_j)^(-1/2); diagonal: G'_ii = S_ii / (S_ii + eps)
        t[rows, rows] = np.where(off, 1.0 / root, blk.eps / (da * da))
        t[rows[off], ii[off]] += -0.5 * gval[off] / da[off]
        t[rows[off], jj[off]] += -0.5 * gval[off] / db[off]
        # second-order terms of the ratio: E of the quadratic form in (dS_ij, dS_ii, dS_jj)
        f_sa = np.where(off, -0.5 / (root * da), 0.0)
        f_sb = np.where(off, -0.5 / (root * db), 0.0)
        f_aa = np.where(off, 0.75 * gval / (da * da), 0.0)
        f_bb = np.where(off, 0.75 * gval / (db * db), 0.0)
        f_ab = np.where(off, 0.25 * gval / (da * db), 0.0)
        f_ss = np.where(off, 0.0, -2.0 * blk.eps / da**3)  # diagonal: d^2/dS^2 of S / (S + eps)
        diag = np.diagonal(v_s)
        second = (
            f_sa * v_s[rows, ii]
            + f_sb * v_s[rows, jj]
            + 0.5 * f_aa * v_s[ii, ii]
            + 0.5 * f_bb * v_s[jj, jj]
            + f_ab * v_s[ii, jj]
            + 0.5 * f_ss * diag
        )
        per = (
            f_sa * sub * sub[:, ii]
            + f_sb * sub * sub[:, jj]
            + 0.5 * f_aa * sub[:, ii] ** 2
            + 0.5 * f_bb * sub[:, jj] ** 2
            + f_ab * sub[:, ii] * sub[:, jj]
            + 0.5 * f_ss * sub * sub
        )
        b = t @ b_s + second
        b_se = np.asarray(per.std(axis=0) / math.sqrt(n_s))
    else:
        den = 1.0 if blk.scaling == "none" else blk.mf_scale**2
        t[rows, rows] = 1.0 / den
        b = b_s / den
        b_se = np.zeros_like(b)
    sigma = t @ v_s @ t.T
    sigma_se, trace_se = _diag_se(sub @ t.T, n_s)
    return Fluctuation(sigma=0.5 * (sigma + sigma.T), b=b, sigma_se=sigma_se, b_se=b_se, trace_se=trace_se)


def _diag_se(psi_sub: _F, n_s: int) -> tuple[_F, float]:
    """Standard errors of the diagonal and the trace of a covariance estimated from ``n_s`` rows, by a subsample."""
    x = psi_sub - psi_sub.mean(axis=0)
    sq = x * x
    se = np.sqrt(np.maximum(sq.var(axis=0), 0.0) / n_s)
    return np.asarray(se), float(np.sqrt(sq.sum(axis=1).var() / n_s))


def _dact(act: Activation, x: _F) -> _F:
    """Numerical derivative of the activation (central differences, step ``ACT_STEP * max(1, |x|)``)."""
    hstep = ACT_STEP * np.maximum(1.0, np.abs(x))
    return np.asarray((act.fn(x + hstep) - act.fn(x - hstep)) / (2.0 * hstep))


def _fluct_norm_act(blk: Block, g: _F, z: _F) -> Fluctuation:
    """Norm-act: ``G'_ij = mean_k sigma((h_ik - c_i)/s_i) sigma((h_jk - c_j)/s_j)``.

    ``c_i`` (layer centering: the row mean of ``h_i``) and ``s_i`` (layer scaling: the row's
    RMS after centering, plus ``eps``) are themselves averages. By the von Mises expansion
    the influence function of ``G'_ij`` is ``phi - K + dK/dc_r h_r + dK/ds_r (h_r^2 - q_r)/(2 s_r)``
    summed over both ends ``r``; ``Sigma`` is its covariance, by Monte Carlo (``dK/dc`` as the
    sample mean of ``-sigma'(x_r) sigma(x_o) / s_r``, with the numerical derivative of the
    activation: right for any continuous activation, very noisy for the jumps of ``step`` and
    ``sign``). The bias is exact (:func:`_norm_act_bias`).
    """
    n = g.shape[0]
    i, j = _pairs(n)
    sp = _pre(blk, g)
    q = np.diag(sp)
    s = _norm_scales(blk, q)
    h = z @ _sqrt_psd(sp).T
    x = h / s
    a = blk.act.fn(x)
    psi = np.take(a, i, axis=1) * np.take(a, j, axis=1)  # (N, P)
    center = blk.centering == "layer"
    scale = blk.scaling == "layer"
    if center or scale:
        da = _dact(blk.act, x)
        dk_s = _norm_act_ds(blk, g, s) if scale else None  # exact dK/ds_r, both ends
        # pair (i, j): theta = (c_i, s_i, c_j, s_j); a diagonal pair has theta = (c_i, s_i), whose
        # derivatives are twice those of one end: the loop over both ends adds them twice
        for end, (r_idx, o_idx) in enumerate(((i, j), (j, i))):
            sr = s[r_idx]
            if center:
                dk_c = _column_means(-(np.take(da, r_idx, axis=1) * np.take(a, o_idx, axis=1)) / sr)
                psi += dk_c * np.take(h, r_idx, axis=1)  # influence of c_r = mean_k h_rk
            if scale and dk_s is not None:
                hr = np.take(h, r_idx, axis=1)
                psi += dk_s[end] * (hr * hr - q[r_idx]) / (2.0 * sr)  # influence of s_r
    sigma, sigma_se, trace_se = _cov_and_se(psi)
    b = _norm_act_bias(blk, g, s, center, scale)
    return Fluctuation(sigma=sigma, b=b, sigma_se=sigma_se, b_se=np.zeros_like(b), trace_se=trace_se)


def _entry_variances(blk: Block, g: _F, sa: _F, sb: _F) -> tuple[NDArray[np.bool_], _F, _F, _F, _F]:
    """Per entry ``(i, j)``: off-diagonal mask, ``V_ii, V_jj, V_ij`` of ``Sp / (s s^T)``, ``sqrt(V_ii V_jj)``."""
    i, j = _pairs(g.shape[0])
    sp = _pre(blk, g)
    va, vb, vab = sp[i, i] / sa**2, sp[j, j] / sb**2, sp[i, j] / (sa * sb)
    return i != j, va, vb, vab, np.sqrt(va * vb)


def _norm_act_kernel(
    blk: Block, g: _F, sa: _F, sb: _F, dv: tuple[_F | float, _F | float, _F | float] = (0.0, 0.0, 0.0)
) -> _F:
    """``F(V) = E sigma(x_i) sigma(x_j)``, ``x ~ N(0, V)``, ``V = Sp / (s s^T)`` (+ relative ``dv``), per entry.

    ``dv`` moves ``(V_ii, V_jj, V_ij)`` by those fractions of ``(V_ii, V_jj, sqrt(V_ii V_jj))``.
    A diagonal entry is ``E sigma(x_i)^2`` with ``V_ii`` moved by ``dv[0]`` (all three together).
    """
    off, va, vb, vab, root = _entry_variances(blk, g, sa, sb)
    va2, vb2, vab2 = va * (1 + dv[0]), vb * (1 + dv[1]), vab + dv[2] * root
    out = np.empty(off.size)
    out[off] = _k2(blk.act, va2[off], vb2[off], vab2[off])
    out[~off] = _m1(blk.act, va2[~off])[1]
    return out


def _norm_act_ds(blk: Block, g: _F, s: _F) -> tuple[_F, _F]:
    """Exact ``dK/ds_i`` and ``dK/ds_j`` per entry, by central differences in ``log s``.

    A diagonal entry has one ``s``: its derivative is split in half between the two slots.
    """
    n = g.shape[0]
    i, j = _pairs(n)
    off = i != j
    e = FD_STEP
    sa, sb = s[i], s[j]

    def k(fa: float, fb: float) -> _F:
        # a diagonal entry has one s: scale it by the product of both factors
        ta = np.where(off, fa, fa * fb)
        tb = np.where(off, fb, fa * fb)
        return _norm_act_kernel(blk, g, sa * ta, sb * tb)

    ka = (k(math.exp(e), 1.0) - k(math.exp(-e), 1.0)) / (2 * e * sa)
    kb = (k(1.0, math.exp(e)) - k(1.0, math.exp(-e))) / (2 * e * sb)
    # a diagonal entry: each difference moved its one s fully; split the derivative between the ends
    ka = np.where(off, ka, 0.5 * ka)
    kb = np.where(off, kb, 0.5 * kb)
    return ka, kb


def _c_hessian(blk: Block, g: _F, sa: _F, sb: _F) -> tuple[_F, _F, _F]:
    """``d^2 K / dc_a dc_b`` per entry as ``(M_ii, M_jj, M_ij)``, by the heat equation on the exact kernel.

    ``x = (h - c) / s``: a shift of ``c`` is a shift of the mean of ``x``, and a second
    derivative in the mean is a first derivative in the covariance: ``M_aa = 2 F_aa / s_a^2``,
    ``M_ab = F_ab / (s_a s_b)`` with ``F_ab = dF/dV_ab``. A diagonal entry's single ``M`` is in
    ``M_ii`` (``M_jj = M_ij = 0``).
    """
    off, va, vb, vab, root = _entry_variances(blk, g, sa, sb)
    # moving V_ii by the fraction e moves the correlation by about e / 2: stay a quarter of the
    # way from |rho| = 1 for the most collinear pair (one step for all: the kernel of a pair of
    # unequal variances is a separate quadrature for every distinct pair of variances)
    room = np.where(off, 1.0 - np.abs(vab) / root, 1.0)
    e = np.full(off.size, float(np.clip(np.min(room) / 4.0, 1e-8, FD_STEP)))
    z0 = np.zeros_like(e)

    def diff(k: int) -> _F:
        up = [z0, z0, z0]
        dn = [z0, z0, z0]
        up[k], dn[k] = e, -e
        kp = _norm_act_kernel(blk, g, sa, sb, (up[0], up[1], up[2]))
        km = _norm_act_kernel(blk, g, sa, sb, (dn[0], dn[1], dn[2]))
        return np.asarray((kp - km) / (2 * e))

    f_a = diff(0) / va
    f_b = diff(1) / vb
    f_c = diff(2) / root
    m_ii = 2.0 * f_a / sa**2
    m_jj = np.where(off, 2.0 * f_b / sb**2, 0.0)
    m_ij = np.where(off, f_c / (sa * sb), 0.0)
    return m_ii, m_jj, m_ij


def _norm_act_bias(blk: Block, g: _F, s: _F, center: bool, scale: bool) -> _F:
    """Exact ``b`` (times ``d``, order ``1/d``) of norm-act with layer centering and/or scaling.

    ``theta = (c_i, s_i, c_j, s_j)`` with influences ``h_r`` and ``(h_r^2 - q_r) / (2 s_r)``;
    ``b = dK/ds . d E[s] + sum_theta Cov(d phi / d theta, IF_theta) + (1/2) d^2 K : Cov(IF)``.
    Stein's identities turn the covariances into derivatives of ``K`` in the mean of ``h``
    (``Cov(f, h_a) = sum_t Sp_at E d_t f``, ``Cov(f, h_a^2) = sum_tu Sp_at Sp_au E d_t d_u f``),
    and the heat equation those into derivatives in the covariance: everything is central
    differences of the exact kernel, no Monte Carlo. Centering alone gives
    ``-(V_ii dF/dV_ii + V_jj dF/dV_jj + V_ij dF/dV_ij)``: a centered column is
    ``N(0, (1 - 1/d) Sp)``.
    """
    n = g.shape[0]
    i, j = _pairs(n)
    off = i != j
    sp = _pre(blk, g)
    sa, sb = s[i], s[j]
    out = np.zeros(i.size)
    m_ii, m_jj, m_ij = _c_hessian(blk, g, sa, sb)
    if center:
        # Cov(d phi/dc_a, h_a) = -sum_t Sp_at M_ta, plus (1/2) sum_ab M_ab Sp_ab: -(1/2) M : Sp
        out += np.where(
            off,
            -0.5 * (m_ii * sp[i, i] + m_jj * sp[j, j] + 2.0 * m_ij * sp[i, j]),
            -0.5 * m_ii * sp[i, i],
        )
    if scale:
        e = FD_STEP
        q_a, q_b, q_ab = sp[i, i], sp[j, j], sp[i, j]
        ka, kb = _norm_act_ds(blk, g, s)
        # (i) dK/ds times the O(1/d) bias of s: -q/(2 s) from the empirical centering, -q^2/(4 s^3) from the root
        es_a = -(q_a**2) / (4.0 * sa**3) - (q_a / (2.0 * sa) if center else 0.0)
        es_b = -(q_b**2) / (4.0 * sb**3) - (q_b / (2.0 * sb) if center else 0.0)
        out += np.where(off, ka * es_a + kb * es_b, (ka + kb) * es_a)
        # (ii) Cov(d phi/ds_a, (h_a^2 - q_a)/(2 s_a)) = (1/(2 s_a)) sum_tu Sp_at Sp_au dM_tu/ds_a
        up, dn = math.exp(e), math.exp(-e)
        mp, mm = _c_hessian(blk, g, sa * up, sb), _c_hessian(blk, g, sa * dn, sb)
        a_ii, a_jj, a_ij = ((u - w) / (2 * e * sa) for u, w in zip(mp, mm, strict=True))
        mp, mm = _c_hessian(blk, g, sa, sb * up), _c_hessian(blk, g, sa, sb * dn)
        b_ii, b_jj, b_ij = ((u - w) / (2 * e * sb) for u, w in zip(mp, mm, strict=True))
        cross_a = (q_a**2 * a_ii + 2 * q_a * q_ab * a_ij + q_ab**2 * a_jj) / (2 * sa)
        cross_b = (q_b**2 * b_jj + 2 * q_b * q_ab * b_ij + q_ab**2 * b_ii) / (2 * sb)
        # a diagonal entry has one s, which the first difference moves (M_jj = M_ij = 0 there)
        out += np.where(off, cross_a + cross_b, q_a**2 * a_ii / (2 * sa))
        # (iii) (1/2) d^2 K / ds_a ds_b Cov(s_a, s_b), Cov = Sp_ab^2 / (2 s_a s_b)
        out += _s_hessian_term(blk, g, s)
    return out


def _s_hessian_term(blk: Block, g: _F, s: _F) -> _F:
    """``(1/2) d^2 K / ds_a ds_b Cov(s_a, s_b)`` with ``Cov(s_a, s_b) = Sp_ab^2 / (2 s_a s_b)``.

    Central differences in ``alpha = log s`` (``d/ds = (1/s) d/dalpha``,
    ``d^2/ds^2 = (d^2/dalpha^2 - d/dalpha) / s^2``); a diagonal entry has one ``s``.
    """
    n = g.shape[0]
    i, j = _pairs(n)
    off = i != j
    sp = _pre(blk, g)
    sa, sb = s[i], s[j]
    e = FD_STEP

    def kk(da: float, db: float) -> _F:
        fa, fb = math.exp(da), math.exp(db)
        return _norm_act_kernel(blk, g, sa * np.where(off, fa, fa * fb), sb * np.where(off, fb, fa * fb))

    f0 = kk(0, 0)
    fa_p, fa_m, fb_p, fb_m = kk(e, 0), kk(-e, 0), kk(0, e), kk(0, -e)
    faa = (fa_p - 2 * f0 + fa_m) / e**2
    fbb = (fb_p - 2 * f0 + fb_m) / e**2
    fab = (kk(e, e) - kk(e, -e) - kk(-e, e) + kk(-e, -e)) / (4 * e * e)
    fa = (fa_p - fa_m) / (2 * e)
    fb = (fb_p - fb_m) / (2 * e)
    k_aa = (faa - fa) / sa**2
    k_bb = (fbb - fb) / sb**2
    k_ab = fab / (sa * sb)
    cov_aa = sp[i, i] ** 2 / (2 * sa * sa)
    cov_bb = sp[j, j] ** 2 / (2 * sb * sb)
    cov_ab = sp[i, j] ** 2 / (2 * sa * sb)
    term_off = 0.5 * (k_aa * cov_aa + k_bb * cov_bb + 2 * k_ab * cov_ab)
    term_diag = 0.5 * k_aa * cov_aa  # kk(e, 0) moves the diagonal entry's one s fully
    return np.asarray(np.where(off, term_off, term_diag))
