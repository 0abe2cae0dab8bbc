"""Benchmark: mean-field Gram trajectory of tanh with layer norm, against the 2-D
Gauss-Hermite method that neural-tangents uses for its numerical kernels.

Both compute the same map (Joudaki, Daneshmand and Bach 2023, section 4): every
off-diagonal correlation evolves by ``rho' = kbar(rho) = (kappa(rho) - c_0^2) /
(E sigma^2 - c_0^2)``, with ``kappa(rho) = E tanh(u) tanh(v)``. The peer evaluates
``kappa`` for every entry of every layer by a tensor-product Gauss-Hermite rule on
``(u, v) = (z_1, rho z_1 + sqrt(1 - rho^2) z_2)``; isoinit tabulates ``kappa`` once
(kink-split polar quadrature, Chebyshev series in ``arccos rho``) and evaluates the table.
The reference is the Mehler series with 400 Hermite coefficients.
It also times a call of ``hermite.moments`` answered from its cache.

Second part: the NNGP kernel ``hermite.nngp_kernel`` of an activation without a closed-form
kernel at unequal variances ``(q, 1.3 q)``, the graded polar rule against the uniform one it
replaced beyond a standard deviation of 3 (the peer: the same code with the graded rule
switched off), median times and their ratio at q = 1, 100, 1000, 3000; and the mean field of
a GELU residual MLP without norm, whose stream's variance reaches thousands by block 20.

Run: ``python bench/bench_meanfield.py`` (full: n = 200, 20 layers) or ``--smoke``;
``--uniform-residual`` also times the residual mean field with the uniform rule (minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time
from collections.abc import Iterator

import numpy as np

from bench_simulate import median_time
from isoinit import MLP, ResidualMLP
from isoinit.inputs import degenerate
from isoinit.theory import _quadrature, hermite, meanfield


def gauss_hermite_trajectory(g0: np.ndarray, depth: int, nodes: int) -> np.ndarray:
    """The peer: 2-D Gauss-Hermite (``nodes x nodes``) for every entry of every layer."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    z1, z2 = z[:, None], z[None, :]
    w2 = (w[:, None] * w[None, :]).ravel()
    c0 = float(np.tanh(z) @ w)
    m2 = float(np.tanh(z) ** 2 @ w)
    n = g0.shape[0]
    iu = np.triu_indices(n, 1)
    grams = [g0]
    rho = g0[iu]
    u = np.broadcast_to(z1, (nodes, nodes)).ravel()
    t1 = np.tanh(u)
    zz1, zz2 = u[None, :], np.broadcast_to(z2, (nodes, nodes)).ravel()[None, :]
    chunk = max(1, 2_000_000 // (nodes * nodes))
    for _ in range(depth):
        kappa = np.empty_like(rho)
        for s in range(0, rho.size, chunk):
            r = rho[s : s + chunk, None]
            v = r * zz1 + np.sqrt(np.maximum(1 - r * r, 0)) * zz2
            kappa[s : s + chunk] = (t1[None, :] * np.tanh(v)) @ w2
        rho = np.clip((kappa - c0 * c0) / (m2 - c0 * c0), -1, 1)
        g = np.eye(n)
        g[iu] = rho
        g[iu[1], iu[0]] = rho
        grams.append(g)
    return np.array(grams)


@contextlib.contextmanager
def uniform_rule() -> Iterator[None]:
    """The peer: ``_polar_kernel`` with the graded rule switched off (uniform panels at every scale)."""
    graded = _quadrature._graded_plan
    _quadrature._graded_plan = lambda act, s: None
    try:
        yield
    finally:
        _quadrature._graded_plan = graded


def bench_scale(variances: tuple[float, ...], repeat: int) -> None:
    """Median time of one NNGP kernel at ``(q, 1.3 q)``, graded against uniform, and their agreement."""
    print("\nNNGP kernel at unequal variances (q, 1.3 q), rho = 0.7 (median of runs after a warm-up)")
    print(f"  {'activation':10s} {'q':>6s} {'graded':>10s} {'uniform':>10s} {'ratio':>7s} {'difference / scale':>19s}")
    for act in ("gelu", "tanh"):
        for q in variances:

            def call(q: float = q, act: str = act) -> np.ndarray:
                return hermite.nngp_kernel(act, q, 1.3 * q, 0.7)

            t_new, new = median_time(call, repeat), call()
            with uniform_rule():
                t_old, old = median_time(call, repeat), call()
            scale = math.sqrt(hermite.moments(act, math.sqrt(q)).m2 * hermite.moments(act, math.sqrt(1.3 * q)).m2)
            diff = float(abs(new - old)) / scale
            print(f"  {act:10s} {q:6g} {t_new * 1e3:8.2f}ms {t_old * 1e3:8.1f}ms {t_old / t_new:7.1f} {diff:19.1e}")
            assert diff <= 1e-12, f"graded and uniform rules disagree for {act} at q = {q}: {diff:.1e}"


def bench_residual(depth: int, n: int, uniform: bool) -> None:
    """The mean field of a GELU residual MLP without norm: a 2-D quadrature per pair and block."""
    net = ResidualMLP(depth=depth, width=400, activation="gelu", norm="none", norm_position="none")
    x = degenerate(n, 400, 5.0, seed=0)
    t = time.perf_counter()
    traj = meanfield.trajectory(net, x)
    t_new = time.perf_counter() - t
    top = float(np.max(np.diagonal(traj.grams[-1])))
    print(f"\nmean field, GELU residual MLP without norm, depth {depth}, n = {n} (largest variance {top:.0f}):")
    print(f"  graded rule:  {t_new:8.2f} s (one run)")
    if uniform:
        with uniform_rule():
            t = time.perf_counter()
            old = meanfield.trajectory(net, x)
            t_old = time.perf_counter() - t
        rel = float(np.max(np.abs(old.grams - traj.grams)) / np.max(np.abs(traj.grams)))
        print(
            f"  uniform rule: {t_old:8.2f} s (one run), ratio {t_old / t_new:.1f}; Grams differ by {rel:.1e} relative"
        )
        assert rel <= 1e-12, f"the two rules' mean fields disagree: {rel:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes for CI")
    parser.add_argument("--uniform-residual", action="store_true", help="time the residual mean field's peer too")
    args = parser.parse_args()
    n, depth = (20, 4) if args.smoke else (200, 20)
    x = degenerate(n, 400, 5.0, seed=0)
    mlp = MLP(depth=depth, width=1000, activation="tanh", norm="layer")
    g0 = meanfield.input_gram(x)

    # reference: the Mehler series sum_k c_k^2 rho^k with 400 coefficients (tanh's c_k^2
    # decay like exp(-pi sqrt(2k)), so the truncation error is below 1e-30 on [-1, 1]; the
    # coefficients are tested against 30-digit integration)
    c2 = hermite.coefficients("tanh", 400) ** 2
    var = float(c2[1:].sum())
    iu = np.triu_indices(n, 1)
    rho_ref = g0[iu]
    ref = [rho_ref]
    for _ in range(depth):
        rho_ref = np.polynomial.polynomial.polyval(rho_ref, c2)
        rho_ref = np.clip((rho_ref - c2[0]) / var, -1, 1)
        ref.append(rho_ref)
    ref_rho = np.array(ref)

    def err(grams: np.ndarray) -> float:
        return float(np.abs(grams[:, iu[0], iu[1]] - ref_rho).max())

    def best_of(repeats: int, cold: bool) -> tuple[float, np.ndarray]:
        times = []
        for _ in range(repeats):
            if cold:  # time isoinit from a cold kernel table
                hermite._table.cache_clear()
                hermite._moments_cached.cache_clear()
            t = time.perf_counter()
            grams = meanfield._grams(mlp, x)[0]  # (grams, diverged_at, reason)
            times.append(time.perf_counter() - t)
        return min(times), grams

    t_cold, ours = best_of(3, cold=True)
    t_warm, _ = best_of(5, cold=False)
    t = time.perf_counter()
    traj = meanfield.trajectory(mlp, x)
    t_full = time.perf_counter() - t
    ours_err = err(ours)

    results = {}
    for nodes in (10, 20, 40):
        t = time.perf_counter()
        peer = gauss_hermite_trajectory(g0, depth, nodes)
        results[nodes] = (time.perf_counter() - t, err(peer), peer)

    print(f"mean-field trajectory, tanh + layer norm, n={n}, depth={depth}")
    print("  (isoinit: best of 3-5 runs; the peer: one run)")
    print(f"  isoinit Grams, cold kernel table: {t_cold * 1e3:8.1f} ms   max error {ours_err:.1e}")
    print(f"  isoinit Grams, warm table:        {t_warm * 1e3:8.1f} ms")
    print(f"  isoinit trajectory with metrics:  {t_full * 1e3:8.1f} ms (warm; metrics from _core)")
    for nodes, (tp, e, _) in results.items():
        print(
            f"  Gauss-Hermite {nodes:3d}^2 nodes:     {tp * 1e3:8.1f} ms   max error {e:.1e}"
            f"   {tp / t_cold:6.1f}x isoinit's cold time"
        )
    best = min(results, key=lambda k: results[k][1])
    tp, e, peer = results[best]
    print(f"  peer at its best accuracy here ({best}^2 nodes, {e:.1e}) / isoinit cold: {tp / t_cold:.0f}x")
    # hermite.moments from its cache: the mean-field maps ask for it at every block
    calls = 2000
    per_call = median_time(lambda: [hermite.moments("tanh", gain=1.234) for _ in range(calls)], 5) / calls
    print(f"  hermite.moments, cached:          {per_call * 1e6:8.2f} us per call (median of 5 x {calls} calls)")
    assert ours_err < 1e-8, f"isoinit misses 1e-8: {ours_err:.1e}"
    assert np.abs(peer - ours).max() < 1e-4, "peer and isoinit disagree"
    assert np.allclose(traj.grams, ours, atol=1e-15)

    if args.smoke:
        bench_scale((1.0, 100.0), repeat=3)
        bench_residual(depth=4, n=4, uniform=True)
    else:
        bench_scale((1.0, 100.0, 1000.0, 3000.0), repeat=5)
        bench_residual(depth=20, n=4, uniform=args.uniform_residual)
        bench_residual(depth=20, n=10, uniform=False)


if __name__ == "__main__":
    main()
