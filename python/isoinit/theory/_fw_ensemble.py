"""The ensemble closure: the Gram's Markov chain in its diffusion approximation, solved with particles.

Given the input Gram ``G`` of a block, the output Gram has conditional mean ``K(G) + b(G) / d``
and covariance ``Sigma(G) / d`` (``_fw_block``). The Gaussian closure of ``finite_width``
propagates only the mean and covariance of the Gram; here the *law* of the Gram is carried
by ``M`` particles (Gram matrices, ``n x n`` each, so the cost does not depend on ``d``):

``G'_p = K(G_p) + T_p (b(m) / d + E_p) T_p``,  ``E_p ~ N(0, Sigma(m) / d)``,

with ``m`` the ensemble's mean, ``K`` the exact mean-field map applied to every particle (all
orders of its nonlinearity: the networks that lag behind in a transient, the skew of the
correlations near 1), and ``T_p`` the optimal-transport map between the Gaussians of
covariances ``K(m)`` and ``K(G_p)`` (symmetric positive definite, ``T_p K(m) T_p = K(G_p)``).
The transport carries the noise computed at the mean to the particle's own geometry: exact
for Gaussian features (a sample covariance is congruence-equivariant), it keeps the noise of
a nearly collinear particle inside its own thin directions, hence inside the PSD cone, where
the untransported noise pushes most particles out. It changes ``Sigma`` by ``O(G_p - m)``,
the order the diffusion approximation drops anyway (docs/finite-width.md, "The ensemble
closure"). With layer scaling the particle is put back on the unit diagonal.

A particle whose Gram leaves the cone all the same (the Gaussian noise has unbounded support)
gets its noise redrawn, which conditions the noise on the cone, the true law's support; the
redraws are counted per layer and reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..metrics import METRICS, _measure
from ..networks.mlp import MLP
from ._fw_block import Block, _pairs, _sqrt_psd, fluctuation, mean_map, pair_map, to_matrix, to_vector
from .hermite import _closed_kernel

_F = NDArray[np.float64]

#: Default number of particles: the predicted mean's Monte Carlo error is ``sd / 45`` and the
#: predicted sd's about 1.6 % of itself (2 % where the gap's law is skewed, near a transition).
PARTICLES = 2048
#: Redraws of a particle's noise that left the PSD cone before the ensemble is declared broken.
MAX_REDRAWS = 8
#: Particles processed at once (bounds the memory of the batched ``n x n`` algebra).
_CHUNK = 4096


def unsupported(network: MLP) -> str | None:
    """Why the ensemble cannot run ``network`` in reasonable time, or ``None`` if it can.

    Every particle needs the mean-field kernel at its own diagonal. That is a closed form for
    the activations that have one at unequal variances (relu, sin, erf, step, ...), and a
    cached table of one variance otherwise (tanh, gelu, elu, ...), which requires the unit
    diagonal of layer normalization after the activation (``eps = 0``) at every block that
    feeds another.
    """
    if network.depth == 1 or Block.of(network, 1).fixed_diagonal:
        return None
    one = np.ones(1)
    if _closed_kernel(network.act, one, 1.5 * one, 0.5 * one, deriv=False) is not None:
        return None
    return (
        f"the activation {network.act.name!r} has no closed-form kernel at unequal variances and the Grams' "
        "diagonals are random (the ensemble needs one, or layer scaling after the activation with eps = 0)"
    )


@dataclass(frozen=True)
class EnsembleMoments:
    """What the ensemble gives per layer ``0..depth``.

    ``means`` ``(L+1, n, n)`` and ``covs`` ``(L+1, P, P)``: the particles' mean Gram and the
    covariance of their ``P`` entries; ``values``: every metric of every particle,
    ``(L+1, M)``; ``rel_se``: Monte Carlo relative error of ``tr Sigma``; ``redrawn``: noise
    draws redrawn because the particle left the PSD cone, per layer; ``breakdown_at``: first
    layer at which a particle could not be kept in the cone (``-1``: none).
    """

    means: _F
    covs: _F
    values: dict[str, _F]
    rel_se: _F
    redrawn: NDArray[np.int64]
    breakdown_at: int


def _sym_sqrt(a: _F) -> tuple[_F, _F]:
    """Symmetric square root of a stack of positive definite matrices and of its inverse."""
    w, u = np.linalg.eigh(a)
    w = np.clip(w, 0.0, None)
    r = np.sqrt(w)
    ut = np.swapaxes(u, -1, -2)
    with np.errstate(divide="ignore"):
        ri = np.where(r > 0, 1.0 / np.where(r > 0, r, 1.0), 0.0)
    return (u * r[..., None, :]) @ ut, (u * ri[..., None, :]) @ ut


def transport_maps(k_mean: _F, k_parts: _F) -> _F:
    """Optimal-transport maps ``T_p`` from ``N(0, k_mean)`` to ``N(0, k_parts[p])``: ``T_p k_mean T_p = k_parts[p]``.

    ``T = A^(-1/2) (A^(1/2) B A^(1/2))^(1/2) A^(-1/2)`` (symmetric positive semi-definite; the
    identity when ``B = A``), ``A = k_mean`` positive definite, ``B`` any PSD stack.
    """
    r, ri = _sym_sqrt(k_mean)
    mid, _ = _sym_sqrt(r @ k_parts @ r)
    t = ri @ mid @ ri
    return np.asarray(0.5 * (t + np.swapaxes(t, -1, -2)))


def _particle_map(blk: Block, parts: _F) -> _F:
    """The mean-field map ``K`` of every particle, ``(M, n, n)`` in and out."""
    n = parts.shape[-1]
    i, j = _pairs(n)
    dg = np.diagonal(parts, axis1=-2, axis2=-1)
    if np.all(dg == dg[:1]):
        # one diagonal for all (layer scaling, or the input): the one-variance moments once per
        # entry, broadcast against every particle's off-diagonal entries
        vals = pair_map(blk, dg[:1, i], dg[:1, j], parts[:, i, j])
    else:
        vals = pair_map(blk, dg[:, i], dg[:, j], parts[:, i, j])
    return to_matrix(np.asarray(vals).reshape(parts.shape[0], -1), n)


def _positive(g: _F) -> NDArray[np.bool_]:
    """Whether each Gram of the stack is finite and positive definite."""
    ok = np.all(np.isfinite(g), axis=(-2, -1))
    out = np.zeros(g.shape[0], dtype=bool)
    if ok.any():
        out[ok] = np.linalg.eigvalsh(g[ok])[:, 0] > 0
    return out


def _step(blk: Block, parts: _F, d: float, z: _F, rng: np.random.Generator) -> tuple[_F, float, int, bool]:
    """One block for every particle: the new particles, ``tr Sigma``'s relative error, redraws, success."""
    n = parts.shape[-1]
    m = parts.mean(axis=0)
    m = 0.5 * (m + m.T)
    if not blk.fixed_diagonal:
        # Sigma and b at the mean, its diagonal averaged (every row has the same law; as in
        # the Gaussian recursion, one kernel table instead of one quadrature per pair)
        np.fill_diagonal(m, np.mean(np.diag(m)))
    fl = fluctuation(blk, m, z)
    root = _sqrt_psd(fl.sigma)
    k_mean = to_matrix(mean_map(blk, m), n)
    bias = to_matrix(fl.b, n) / d
    out = np.empty_like(parts)
    redrawn = 0
    for lo in range(0, parts.shape[0], _CHUNK):
        sl = slice(lo, min(lo + _CHUNK, parts.shape[0]))
        k_parts = _particle_map(blk, parts[sl])
        t = transport_maps(k_mean, k_parts)
        todo = np.arange(k_parts.shape[0])
        new = np.empty_like(k_parts)
        for attempt in range(MAX_REDRAWS + 1):
            xi = rng.standard_normal((todo.size, root.shape[0]))
            e = bias + to_matrix(xi @ root.T, n) / np.sqrt(d)
            g = k_parts[todo] + t[todo] @ e @ t[todo]
            if blk.fixed_diagonal:
                s = np.sqrt(np.diagonal(g, axis1=-2, axis2=-1))
                g = g / s[:, :, None] / s[:, None, :]
                g[:, np.arange(n), np.arange(n)] = 1.0
            g = 0.5 * (g + np.swapaxes(g, -1, -2))
            ok = _positive(g)
            new[todo[ok]] = g[ok]
            todo = todo[~ok]
            if todo.size == 0:
                break
            if attempt < MAX_REDRAWS:
                redrawn += int(todo.size)
        if todo.size:
            return parts, 0.0, redrawn, False
        out[sl] = new
    tr = float(np.trace(fl.sigma))
    return out, (fl.trace_se / tr if tr > 0 else 0.0), redrawn, True


def run(network: MLP, g0: _F, z: _F, particles: int, seed: int) -> EnsembleMoments:
    """Carry ``particles`` copies of the input Gram ``g0`` through ``network``'s blocks (module docstring).

    ``z`` (``(N, n)`` standard normals) are the Monte Carlo columns of ``Sigma`` and ``b``;
    the particles' noise comes from a generator seeded with ``(seed, 1)``, a stream apart
    from ``z``'s.
    """
    n = g0.shape[0]
    depth = network.depth
    widths = network.widths()
    p = n * (n + 1) // 2
    rng = np.random.default_rng([seed, 1])
    means = np.full((depth + 1, n, n), np.nan)
    covs = np.full((depth + 1, p, p), np.nan)
    values = {k: np.full((depth + 1, particles), np.nan) for k in METRICS}
    rel_se = np.full(depth + 1, np.nan)
    redrawn = np.zeros(depth + 1, dtype=np.int64)
    parts = np.broadcast_to(g0, (particles, n, n)).copy()

    def record(layer: int) -> None:
        means[layer] = parts.mean(axis=0)
        vec = to_vector(parts)
        covs[layer] = np.cov(vec, rowvar=False) if particles > 1 else 0.0
        vals = _measure(parts)
        for k in METRICS:
            values[k][layer] = vals[k]

    record(0)
    rel_se[0] = 0.0
    for layer in range(1, depth + 1):
        blk = Block.of(network, layer)
        parts, rel_se[layer], redrawn[layer], ok = _step(blk, parts, float(widths[layer - 1]), z, rng)
        if not ok:
            return EnsembleMoments(means, covs, values, rel_se, redrawn, layer)
        record(layer)
    return EnsembleMoments(means, covs, values, rel_se, redrawn, -1)


def summary(values: _F) -> tuple[float, float, float, float]:
    """Mean, sd, and their Monte Carlo standard errors, of one metric over the particles.

    The sd's standard error is the delta method's ``sqrt(Var((x - mean)^2) / M) / (2 sd)``.
    Infinite values (a Gram singular in float64) make the mean and sd infinite.
    """
    x = np.asarray(values, dtype=np.float64)
    m = x.size
    if np.all(x == x[0]):
        return float(x[0]), 0.0, 0.0, 0.0  # a deterministic layer (the input), exactly
    if not np.all(np.isfinite(x)):
        return float(np.mean(x)), float("inf"), float("inf"), float("inf")
    mu = float(x.mean())
    dev2 = (x - mu) ** 2
    var = float(dev2.mean())
    sd = float(np.sqrt(var))
    mean_se = sd / np.sqrt(m)
    sd_se = float(np.sqrt(dev2.var() / m) / (2.0 * sd)) if sd > 0 else 0.0
    return mu, sd, float(mean_se), sd_se
