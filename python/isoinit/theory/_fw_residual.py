"""A residual MLP block at finite width: the stream's augmented Gram to order ``1/d``.

The state of the residual stream ``X`` (``n x d``) is its *augmented Gram*: the Gram of the
``n`` rows and the all-ones row,

``Kt = [[K, m], [m^T, 1]]``,  ``K = X X^T / d``,  ``m = X 1 / d`` (the rows' means over features).

It is sufficient: the branch sees ``Norm(X)``, whose Gram is a function of ``Kt``, and its
output ``F`` has columns that are iid given the hidden Gram, so the law of
``(X F^T, F F^T)`` depends on ``X`` only through ``Kt``. One block (:class:`ResBlock`) is
``X' = skip X + alpha f(Norm_pre(X))`` followed by ``Norm_post`` (``X' = f(Norm_pre(X))``
without the residual sum) and ``f = Lin2 sigma Lin1`` of hidden width ``H = round(ratio d)``:

- the hidden pre-activations have iid columns ``N(0, Sp)``, ``Sp = gain^2 G_U + bias^2``,
  ``G_U`` the (exact) Gram of ``Norm_pre(X)``; the hidden Gram ``A`` is an average over
  ``H`` of them: mean ``S = E sigma sigma^T``, covariance ``V / H``;
- given ``A`` the branch's columns are iid ``N(0, Sf)``, ``Sf = gain^2 A + bias^2``.

So ``E[Kt' | Kt] = Kt + alpha^2 (gain^2 S + bias^2)`` on the rows' block, exactly (every
average is unbiased, the cross terms have mean 0), and with ``St`` the branch's covariance
padded with a zero row for the all-ones row,

``d Cov[Kt'_ab, Kt'_ce | Kt] = alpha^2 (R_ac St_be + R_ae St_bc + R_bc St_ae + R_be St_ac)
+ alpha^4 (St_ac St_be + St_ae St_bc) + alpha^4 gain^4 ((d / H) V_ab,ce + (V_ac,be + V_ae,bc) / H)``

(cross terms ``X F^T / d``, the Wishart ``F F^T / d`` with ``E[Sf Sf] = St St + Cov(Sf)``, the
hidden Gram; ``R`` the Gram of the residual path ``skip X`` and the all-ones row, or the
all-ones row's ``e e^T`` alone without the residual sum). This is exact at any width; ``V``
is a Monte Carlo average, the rest closed form. A post-norm is a deterministic function of
``Kt'``, carried by the delta method. Both maps are pairwise: an entry ``(i, j)`` depends on
``(K_ii, K_jj, K_ij, m_i, m_j)`` only (a diagonal entry and ``m_i`` on ``(K_ii, m_i)``), so
their derivatives are central differences of the exact kernel in those variables
(docs/finite-width.md, "Residual MLPs").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from ..activations import Activation
from ..networks.blocks import BlockNetwork, Feedforward
from ..networks.mlp import NORM_PRESETS
from ._block_recursion import input_state
from ._fw_block import FD_STEP, _index, _k2, _m1, _pairs, fluctuation
from ._fw_block import Block as MLPBlock

_F = NDArray[np.float64]
_I = NDArray[np.intp]


# ----------------------------------------------------------------------------------------
# the block
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResBlock:
    """One feedforward block of a block network, its constants resolved.

    ``pre`` and ``post``: the norm's ``(center, scale)`` flags where it sits (``None`` where it
    does not); ``alpha`` the branch's scale (1 without the residual sum, which does not scale
    it) and ``skip`` the residual path's (0 without it); ``width`` and ``hidden`` the stream's
    and the branch's hidden widths.
    """

    act: Activation
    gain2: float
    bias2: float
    eps: float
    alpha: float
    skip: float
    pre: tuple[bool, bool] | None
    post: tuple[bool, bool] | None
    width: int
    hidden: int

    @staticmethod
    def of(net: BlockNetwork, b: Feedforward) -> ResBlock:
        """The block ``b`` of ``net``."""
        center, scale = NORM_PRESETS[b.norm]
        flags = (center == "layer", scale == "layer")
        return ResBlock(
            act=net.act,
            gain2=net.gain**2,
            bias2=dict(net.biases or ()).get("mlp", net.bias) ** 2,
            eps=net.eps,
            alpha=net._resolved_alpha(b.alpha) if b.residual else 1.0,
            skip=b.skip if b.residual else 0.0,
            pre=flags if b.norm_position == "pre" else None,
            post=flags if b.norm_position == "post" else None,
            width=net.width,
            hidden=math.floor(b.ratio * net.width + 0.5),  # the kernel's llround
        )

    def kernel_block(self) -> MLPBlock:
        """The hidden layer as an MLP block without normalization (for the Monte Carlo ``V``)."""
        return MLPBlock(self.act, "act-norm", "none", "none", self.gain2, self.bias2, 0.0, 0.0, 1.0)


def check_network(net: BlockNetwork) -> None:
    """Refuse what the mean field covers but the moments here do not derive.

    The mean field's own checks (feedforward blocks only, Gaussian ``init``, no batch norm)
    come first (``isoinit.theory._block_recursion._check_network``).
    """
    if net.positions != "none" or net.token_type:
        raise ValueError(
            "finite_width needs a deterministic layer 0; position and token-type embeddings are drawn "
            f"per run (got positions={net.positions!r}, token_type={net.token_type!r})"
        )
    if net.weights != "gaussian":
        raise ValueError(
            f"finite_width assumes Gaussian weights (iid features given the Gram); got weights={net.weights!r}"
        )
    for k, b in enumerate(net.block_list()):
        if isinstance(b, Feedforward) and b.gated:
            raise ValueError(
                f"finite_width covers the feedforward block Lin2 sigma Lin1; block {k} is gated "
                "(Lin2(sigma(Lin1 U) * Lin3 U)), whose hidden fourth moments are not derived"
            )
        if isinstance(b, Feedforward) and b.one_layer:
            raise ValueError(
                f"finite_width covers the feedforward block Lin2 sigma Lin1; block {k} is the one-layer "
                "form sigma(Lin(U)) (ratio=None), whose row means and third moments are not derived"
            )


# ----------------------------------------------------------------------------------------
# the pairwise maps, on x = (K_ii, K_jj, K_ij, m_i, m_j) or x = (K_ii, m_i)
# ----------------------------------------------------------------------------------------


def _normalized(flags: tuple[bool, bool], eps: float, a: _F, b: _F, c: _F, ma: _F, mb: _F) -> tuple[_F, _F, _F]:
    """``(G_ii, G_jj, G_ij)`` after the norm: centering subtracts ``m m^T``, scaling divides by the mean square."""
    center, scale = flags
    if center:
        a, b, c = a - ma * ma, b - mb * mb, c - ma * mb
    if scale:
        da, db = a + eps, b + eps
        with np.errstate(invalid="ignore", divide="ignore"):
            a, b, c = a / da, b / db, c / np.sqrt(da * db)
    return a, b, c


def branch_pair(blk: ResBlock, a: _F, b: _F, c: _F, ma: _F, mb: _F) -> _F:
    """The branch's Gram ``gain^2 E sigma(h_i) sigma(h_j) + bias^2`` from ``(K_ii, K_jj, K_ij, m_i, m_j)``."""
    if blk.pre is not None:
        a, b, c = _normalized(blk.pre, blk.eps, a, b, c, ma, mb)
    return np.asarray(
        blk.gain2 * _k2(blk.act, blk.gain2 * a + blk.bias2, blk.gain2 * b + blk.bias2, blk.gain2 * c + blk.bias2)
        + blk.bias2
    )


def branch_diag(blk: ResBlock, a: _F, m: _F) -> _F:
    """The branch's diagonal ``gain^2 E sigma(h_i)^2 + bias^2`` from ``(K_ii, m_i)``."""
    if blk.pre is not None:
        a = _normalized(blk.pre, blk.eps, a, a, a, m, m)[0]
    return np.asarray(blk.gain2 * _m1(blk.act, blk.gain2 * a + blk.bias2)[1] + blk.bias2)


def post_pair(blk: ResBlock, a: _F, b: _F, c: _F, ma: _F, mb: _F) -> _F:
    """A post-norm's ``G_ij`` from the stream's ``(K_ii, K_jj, K_ij, m_i, m_j)`` before it."""
    assert blk.post is not None
    return _normalized(blk.post, blk.eps, a, b, c, ma, mb)[2]


def post_diag(blk: ResBlock, a: _F, m: _F) -> _F:
    """A post-norm's ``G_ii`` from ``(K_ii, m_i)``."""
    assert blk.post is not None
    return _normalized(blk.post, blk.eps, a, a, a, m, m)[0]


def post_mean(blk: ResBlock, a: _F, m: _F) -> _F:
    """A post-norm's row mean from ``(K_ii, m_i)``: 0 after centering, else ``m_i / sqrt(K_ii + eps)`` or ``m_i``."""
    assert blk.post is not None
    center, scale = blk.post
    if center:
        return np.zeros_like(m)
    return np.asarray(m / np.sqrt(a + blk.eps)) if scale else np.asarray(m)


# ----------------------------------------------------------------------------------------
# central differences in the centered coordinates, and the chain rule back
# ----------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _stencil(k: int) -> _F:
    """Offsets of the central-difference stencil in ``k`` variables: 0, +-e_i, and +-e_i +-e_j for i < j."""
    pts = [np.zeros(k)]
    eye = np.eye(k)
    for i in range(k):
        pts += [eye[i], -eye[i]]
    for i in range(k):
        for j in range(i + 1, k):
            for si in (1.0, -1.0):
                for sj in (1.0, -1.0):
                    pts.append(si * eye[i] + sj * eye[j])
    return np.array(pts)


def _differences(fn: Callable[[_F], _F], y0: _F, h: _F) -> tuple[_F, _F, _F]:
    """Value, gradient and Hessian of ``fn`` (``(M, k) -> (M,)``) at the rows of ``y0`` (``(P, k)``), steps ``h``.

    A zero step marks a variable the entry does not have (its derivatives are 0).
    """
    p, k = y0.shape
    st = _stencil(k)
    ys = y0[None, :, :] + st[:, None, :] * h[None, :, :]
    vals = np.asarray(fn(ys.reshape(-1, k))).reshape(st.shape[0], p)
    f0 = vals[0]
    grad = np.zeros((p, k))
    hess = np.zeros((p, k, k))
    with np.errstate(invalid="ignore", divide="ignore"):
        for i in range(k):
            fp, fm = vals[1 + 2 * i], vals[2 + 2 * i]
            ok = h[:, i] > 0
            grad[ok, i] = ((fp - fm) / (2 * h[:, i]))[ok]
            hess[ok, i, i] = ((fp - 2 * f0 + fm) / h[:, i] ** 2)[ok]
        base = 1 + 2 * k
        for i in range(k):
            for j in range(i + 1, k):
                fpp, fpm, fmp, fmm = vals[base : base + 4]
                base += 4
                ok = (h[:, i] > 0) & (h[:, j] > 0)
                v = (fpp - fpm - fmp + fmm) / (4 * h[:, i] * h[:, j])
                hess[ok, i, j] = hess[ok, j, i] = v[ok]
    return f0, grad, hess


@dataclass(frozen=True)
class Pairwise:
    """A pairwise map's value and derivatives in the state's entries.

    ``where`` (``(P_out, k)``): the positions among the state's entries of each output entry's
    ``k`` variables; ``grad`` ``(P_out, k)`` and ``hess`` ``(P_out, k, k)`` its derivatives in them.
    """

    value: _F
    grad: _F
    hess: _F
    where: _I


def _pair_derivatives(fn5: Callable[[_F, _F, _F, _F, _F], _F], x: _F, center: bool, where: _I) -> Pairwise:
    """Derivatives of ``fn5(a, b, c, ma, mb)`` at the rows of ``x`` (``(P, 5)``).

    Central differences in ``y = (a_u, b_u, rho_u, m_a, m_b)``, the centered coordinates
    ``a_u = a - m_a^2``, ``rho_u = (c - m_a m_b) / sqrt(a_u b_u)`` (uncentered, ``m = 0`` in
    them, when ``center`` is false), converted by the exact chain rule: a map of the
    normalized rows depends on ``rho_u`` alone and its derivatives in the rest vanish exactly
    instead of to the differences' truncation error (which the small eigenvalues of nearly
    collinear rows would see). Steps: ``FD_STEP`` times ``a_u`` and ``b_u``, ``FD_STEP`` in
    ``rho_u`` (a sixteenth of the distance to ``|rho_u| = 1`` where that is less), ``FD_STEP``
    times ``sqrt(a_u)`` in ``m_a``.
    """
    z = 1.0 if center else 0.0
    a, b, c, ma, mb = x.T
    au, bu = a - z * ma * ma, b - z * mb * mb
    w = 1.0 / np.sqrt(au * bu)
    u = c - z * ma * mb
    r = u * w
    room = 1.0 - np.abs(r)
    h = np.stack(
        [
            FD_STEP * au,
            FD_STEP * bu,
            np.clip(np.minimum(FD_STEP, room / 16.0), 1e-12, FD_STEP),
            FD_STEP * np.sqrt(au),
            FD_STEP * np.sqrt(bu),
        ],
        axis=1,
    )

    def from_y(y: _F) -> _F:
        au_, bu_, r_, ma_, mb_ = y.T
        return np.asarray(
            fn5(au_ + z * ma_ * ma_, bu_ + z * mb_ * mb_, r_ * np.sqrt(au_ * bu_) + z * ma_ * mb_, ma_, mb_)
        )

    f0, gy, hy = _differences(from_y, np.stack([au, bu, r, ma, mb], axis=1), h)
    p = x.shape[0]
    e = np.eye(5)
    g_au = np.broadcast_to(e[0], (p, 5)).copy()
    g_au[:, 3] = -2 * z * ma
    g_bu = np.broadcast_to(e[1], (p, 5)).copy()
    g_bu[:, 4] = -2 * z * mb
    g_u = np.broadcast_to(e[2], (p, 5)).copy()
    g_u[:, 3], g_u[:, 4] = -z * mb, -z * ma
    h_au = np.zeros((p, 5, 5))
    h_au[:, 3, 3] = -2 * z
    h_bu = np.zeros((p, 5, 5))
    h_bu[:, 4, 4] = -2 * z
    h_u = np.zeros((p, 5, 5))
    h_u[:, 3, 4] = h_u[:, 4, 3] = -z
    # w = (a_u b_u)^(-1/2) and rho_u = u w
    w_a, w_b = -w / (2 * au), -w / (2 * bu)
    w_aa, w_bb, w_ab = 3 * w / (4 * au * au), 3 * w / (4 * bu * bu), w / (4 * au * bu)
    g_w = w_a[:, None] * g_au + w_b[:, None] * g_bu
    h_w = (
        w_aa[:, None, None] * np.einsum("pi,pj->pij", g_au, g_au)
        + w_bb[:, None, None] * np.einsum("pi,pj->pij", g_bu, g_bu)
        + w_ab[:, None, None] * (np.einsum("pi,pj->pij", g_au, g_bu) + np.einsum("pi,pj->pij", g_bu, g_au))
        + w_a[:, None, None] * h_au
        + w_b[:, None, None] * h_bu
    )
    g_r = w[:, None] * g_u + u[:, None] * g_w
    h_r = (
        w[:, None, None] * h_u
        + np.einsum("pi,pj->pij", g_u, g_w)
        + np.einsum("pi,pj->pij", g_w, g_u)
        + u[:, None, None] * h_w
    )
    jy = np.stack([g_au, g_bu, g_r, np.broadcast_to(e[3], (p, 5)), np.broadcast_to(e[4], (p, 5))], axis=1)
    grad = np.einsum("pk,pkx->px", gy, jy)
    hess = np.einsum("pkx,pkl,ply->pxy", jy, hy, jy)
    hess += gy[:, 0, None, None] * h_au + gy[:, 1, None, None] * h_bu + gy[:, 2, None, None] * h_r
    return Pairwise(f0, grad, hess, where)


def _row_derivatives(fn2: Callable[[_F, _F], _F], x: _F, center: bool, where: _I) -> Pairwise:
    """Derivatives of ``fn2(a, m)`` at the rows of ``x`` (``(P, 2)``), as :func:`_pair_derivatives`.

    Central differences in ``y = (a - m^2, m)`` (``(a, m)`` uncentered), steps ``FD_STEP``
    times ``a - m^2`` and times its root.
    """
    z = 1.0 if center else 0.0
    a, m = x.T
    au = a - z * m * m
    h = np.stack([FD_STEP * au, FD_STEP * np.sqrt(au)], axis=1)

    def from_y(y: _F) -> _F:
        return np.asarray(fn2(y[:, 0] + z * y[:, 1] ** 2, y[:, 1]))

    f0, gy, hy = _differences(from_y, np.stack([au, m], axis=1), h)
    p = x.shape[0]
    jy = np.zeros((p, 2, 2))
    jy[:, 0, 0], jy[:, 0, 1], jy[:, 1, 1] = 1.0, -2 * z * m, 1.0
    grad = np.einsum("pk,pkx->px", gy, jy)
    hess = np.einsum("pkx,pkl,ply->pxy", jy, hy, jy)
    hess[:, 1, 1] += gy[:, 0] * (-2 * z)
    return Pairwise(f0, grad, hess, where)


# ----------------------------------------------------------------------------------------
# the augmented state
# ----------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _layout(n: int) -> tuple[_I, _I, _I, _I, _I]:
    """Positions among the ``(n + 1)(n + 2) / 2`` augmented entries.

    Returns ``index`` (``(n + 1, n + 1)``: the position of entry ``(a, b)``), and the
    positions of the off-diagonal row pairs, the rows' diagonal, the rows' means and the
    rows' ``P = n (n + 1) / 2`` entries in the order of :func:`isoinit.theory._fw_block._pairs` ``(n)``.
    """
    i, j = _pairs(n + 1)
    idx = np.empty((n + 1, n + 1), dtype=np.intp)
    idx[i, j] = np.arange(i.size)
    idx[j, i] = np.arange(i.size)
    ri, rj = _pairs(n)
    rows = idx[ri, rj]
    off = rows[ri != rj]
    diag = idx[np.arange(n), np.arange(n)]
    means = idx[np.arange(n), n]
    return idx, off, diag, means, rows


def _pair_vars(n: int) -> tuple[_I, _I]:
    """For the off-diagonal row pairs, the positions of ``(K_ii, K_jj, K_ij, m_i, m_j)``; for a row, of ``(K_ii, m_i)``.

    Returns ``off_where`` (``(n (n - 1) / 2, 5)``) and ``diag_where`` (``(n, 2)``).
    """
    idx = _layout(n)[0]
    ri, rj = _pairs(n)
    sel = ri != rj
    i, j = ri[sel], rj[sel]
    off_where = np.stack([idx[i, i], idx[j, j], idx[i, j], idx[i, n], idx[j, n]], axis=1)
    r = np.arange(n)
    diag_where = np.stack([idx[r, r], idx[r, n]], axis=1)
    return off_where, diag_where


def augmented(k: _F, m: _F) -> _F:
    """The augmented Gram ``[[K, m], [m^T, 1]]``."""
    n = k.shape[0]
    out = np.empty((n + 1, n + 1))
    out[:n, :n] = k
    out[:n, n] = out[n, :n] = m
    out[n, n] = 1.0
    return out


def _vector(kt: _F) -> _F:
    i, j = _pairs(kt.shape[0])
    return np.asarray(kt[i, j])


def _matrix(v: _F, n: int) -> _F:
    return np.asarray(v[_layout(n)[0]])


def _hessian_term(part: Pairwise, cov: _F) -> _F:
    """``(1/2) Hess : Cov`` for every output entry of ``part``."""
    w = part.where
    sub = cov[w[:, :, None], w[:, None, :]]
    return np.asarray(0.5 * np.einsum("pkl,pkl->p", part.hess, sub))


@dataclass(frozen=True)
class Step:
    """One block's moments: the output's mean and covariance, and the Monte Carlo error of the noise."""

    mean: _F  # (n + 1, n + 1)
    cov: _F  # (Pt, Pt)
    noise_rel_se: float


def _branch_gram(blk: ResBlock, kt: _F) -> tuple[_F, _F]:
    """The Gram ``G_U`` the branch sees and its covariance ``gain^2 S + bias^2`` (``n x n``), at the mean state."""
    n = kt.shape[0] - 1
    k, m = kt[:n, :n], kt[:n, n]
    if blk.pre is not None:
        d = np.diag(k)
        a, b = np.meshgrid(d, d, indexing="ij")
        mm = np.meshgrid(m, m, indexing="ij")
        g = np.array(_normalized(blk.pre, blk.eps, a, b, k, mm[0], mm[1])[2])
        np.fill_diagonal(g, _normalized(blk.pre, blk.eps, d, d, d, m, m)[0])
    else:
        g = k.copy()
    i, j = np.triu_indices(n, 1)
    s = np.empty((n, n))
    dg = np.diag(g)
    s[i, j] = s[j, i] = _k2(
        blk.act, blk.gain2 * dg[i] + blk.bias2, blk.gain2 * dg[j] + blk.bias2, blk.gain2 * g[i, j] + blk.bias2
    )
    s[np.arange(n), np.arange(n)] = _m1(blk.act, blk.gain2 * dg + blk.bias2)[1]
    return g, blk.gain2 * s + blk.bias2


def _noise(blk: ResBlock, kt: _F, z: _F) -> tuple[_F, float]:
    """``d Cov[Kt' | Kt]`` of the residual update (before a post-norm) on the augmented entries.

    Returns the ``(Pt, Pt)`` matrix and the Monte Carlo relative standard error of its trace.
    """
    n = kt.shape[0] - 1
    g, sf = _branch_gram(blk, kt)
    st = np.zeros((n + 1, n + 1))
    st[:n, :n] = sf
    r = np.zeros((n + 1, n + 1))  # the Gram of the residual path and the all-ones row
    r[:n, :n] = blk.skip**2 * kt[:n, :n]
    r[:n, n] = r[n, :n] = blk.skip * kt[:n, n]
    r[n, n] = 1.0
    a, b = _pairs(n + 1)
    pa, pb = a[:, None], b[:, None]
    qa, qb = a[None, :], b[None, :]
    al2 = blk.alpha**2
    out = al2 * (r[pa, qa] * st[pb, qb] + r[pa, qb] * st[pb, qa] + r[pb, qa] * st[pa, qb] + r[pb, qb] * st[pa, qa])
    out += al2 * al2 * (st[pa, qa] * st[pb, qb] + st[pa, qb] * st[pb, qa])
    fl = fluctuation(blk.kernel_block(), g, z)  # V = Cov(sigma_i sigma_j, sigma_k sigma_l) on G_U
    rows = _layout(n)[4]
    scale = al2 * al2 * blk.gain2**2 / blk.hidden
    out[np.ix_(rows, rows)] += scale * blk.width * fl.sigma
    # the Wishart part's E[Sf Sf] = St St + Cov(Sf): its O(1 / H) part makes the covariance exact
    v4 = np.zeros((n + 1,) * 4)
    v4[:n, :n, :n, :n] = fl.sigma[_index(n)[:, :, None, None], _index(n)[None, None, :, :]]
    out += scale * (v4[pa, qa, pb, qb] + v4[pa, qb, pb, qa])
    tr = float(np.trace(out))
    return 0.5 * (out + out.T), (scale * blk.width * fl.trace_se / tr if tr > 0 else 0.0)


def step(blk: ResBlock, kt: _F, cov: _F, z: _F) -> Step:
    """One block on the state's mean ``kt`` (``(n + 1, n + 1)``) and covariance ``cov`` (``(Pt, Pt)``).

    ``m' = U(m) + (1/2) Hess U : C``, ``C' = J C J^T + Sigma / d`` for the residual update
    ``U``, then the same (without noise) for a post-norm.
    """
    n = kt.shape[0] - 1
    size = cov.shape[0]
    idx, off, diag, _, _ = _layout(n)
    off_where, diag_where = _pair_vars(n)
    v = _vector(kt)
    center = blk.pre is not None and blk.pre[0]
    x5 = v[off_where]
    x2 = v[diag_where]
    bo = _pair_derivatives(lambda a, b, c, ma, mb: branch_pair(blk, a, b, c, ma, mb), x5, center, off_where)
    bd = _row_derivatives(lambda a, m: branch_diag(blk, a, m), x2, center, diag_where)
    al2 = blk.alpha**2
    jac = np.zeros((size, size))
    carry = np.full(size, blk.skip)  # the residual path: skip^2 K, skip m, and the all-ones row's 1
    carry[off], carry[diag], carry[idx[n, n]] = blk.skip**2, blk.skip**2, 1.0
    new = carry * v
    jac[np.arange(size), np.arange(size)] = carry
    new[off] += al2 * (bo.value + _hessian_term(bo, cov))
    new[diag] += al2 * (bd.value + _hessian_term(bd, cov))
    for part, rows in ((bo, off), (bd, diag)):
        for k in range(part.where.shape[1]):
            np.add.at(jac, (rows, part.where[:, k]), al2 * part.grad[:, k])
    noise, rel_se = _noise(blk, kt, z)
    c_new = jac @ cov @ jac.T + noise / blk.width
    if blk.post is not None:
        new, c_new = _post(blk, new, c_new, n)
    return Step(_matrix(new, n), 0.5 * (c_new + c_new.T), rel_se)


def _post(blk: ResBlock, v: _F, cov: _F, n: int) -> tuple[_F, _F]:
    """A post-norm on the state's mean ``v`` and covariance ``cov``, by the second-order delta method."""
    idx, off, diag, means, _ = _layout(n)
    off_where, diag_where = _pair_vars(n)
    assert blk.post is not None
    center = blk.post[0]
    po = _pair_derivatives(lambda a, b, c, ma, mb: post_pair(blk, a, b, c, ma, mb), v[off_where], center, off_where)
    pd_ = _row_derivatives(lambda a, m: post_diag(blk, a, m), v[diag_where], center, diag_where)
    pm = _row_derivatives(lambda a, m: post_mean(blk, a, m), v[diag_where], center, diag_where)
    size = v.size
    out = np.zeros(size)
    out[idx[n, n]] = 1.0
    jac = np.zeros((size, size))
    for part, rows in ((po, off), (pd_, diag), (pm, means)):
        out[rows] = part.value + _hessian_term(part, cov)
        for k in range(part.where.shape[1]):
            np.add.at(jac, (rows, part.where[:, k]), part.grad[:, k])
    return out, jac @ cov @ jac.T


def initial_state(net: BlockNetwork, x: _F, g0: _F) -> _F:
    """Layer 0's augmented Gram, that of the mean field (its input norm included; ``g0`` the scaled rows' Gram)."""
    state, k = input_state(net, x, g0)
    return augmented(np.asarray(k), np.asarray(state.m))


def rows_cov(cov: _F, n: int) -> _F:
    """The covariance of the rows' ``P`` Gram entries (order of ``_pairs(n)``) from the augmented one."""
    rows = _layout(n)[4]
    return np.asarray(cov[np.ix_(rows, rows)])
