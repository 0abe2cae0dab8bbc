"""Benchmark: mean-field Gram trajectory of tanh with layer norm, against the 2-D
Gauss-Hermite method that neural-tangents uses for its numerical kernels.

Both compute the same map (Joudaki, Daneshmand and Bach 2023, section 4): every
off-diagonal correlation evolves by ``rho' = kbar(rho) = (kappa(rho) - c_0^2) /
(E sigma^2 - c_0^2)``, with ``kappa(rho) = E tanh(u) tanh(v)``. The peer evaluates
``kappa`` for every entry of every layer by a tensor-product Gauss-Hermite rule on
``(u, v) = (z_1, rho z_1 + sqrt(1 - rho^2) z_2)``; isoinit tabulates ``kappa`` once
(kink-split polar quadrature, Chebyshev series in ``arccos rho``) and evaluates the table.
The reference is isoinit's map with the table checked against the Mehler series.

Run: ``python bench/bench_meanfield.py`` (full: n = 200, 20 layers) or ``--smoke``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from isoinit import MLP, hermite, meanfield
from isoinit.inputs import degenerate


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes for CI")
    args = parser.parse_args()
    n, depth = (20, 4) if args.smoke else (200, 20)
    x = degenerate(n, 400, 5.0, seed=0)
    mlp = MLP(depth=depth, width=1000, activation="tanh", norm="layer")
    g0 = meanfield.input_gram(x)

    # reference: isoinit's map, checked here against the Mehler series on |rho| <= 0.8
    ref = meanfield.trajectory(mlp, x).grams
    rho = np.linspace(-0.8, 0.8, 101)
    c = hermite.coefficients("tanh", 200)
    series = np.polynomial.polynomial.polyval(rho, c**2)
    table_err = float(np.abs(hermite.dual_kernel("tanh", rho) - series).max())

    hermite._table.cache_clear()  # time isoinit from a cold kernel table
    hermite._moments_cached.cache_clear()
    t = time.perf_counter()
    ours = meanfield.trajectory(mlp, x).grams
    t_ours = time.perf_counter() - t
    iu = np.triu_indices(n, 1)

    results = {}
    for nodes in (10, 20, 40) if args.smoke else (10, 20, 40):
        t = time.perf_counter()
        peer = gauss_hermite_trajectory(g0, depth, nodes)
        results[nodes] = (time.perf_counter() - t, float(np.abs(peer - ref)[:, iu[0], iu[1]].max()))
    ours_err = float(np.abs(ours - ref).max())

    print(f"mean-field trajectory, tanh + layer norm, n={n}, depth={depth}")
    print(f"  kernel table vs Mehler series (|rho|<=0.8): {table_err:.1e}")
    print(f"  isoinit (cold table):   {t_ours * 1e3:8.1f} ms   max error {ours_err:.1e}")
    for nodes, (tp, err) in results.items():
        print(f"  Gauss-Hermite {nodes:3d}^2:  {tp * 1e3:8.1f} ms   max error {err:.1e}"
              f"   ratio {tp / t_ours:6.1f}x")
    best = min(results, key=lambda k: results[k][1])
    tp, err = results[best]
    print(f"  peer at its best accuracy ({best}^2 nodes, {err:.1e}): isoinit is "
          f"{tp / t_ours:.0f}x faster")
    assert table_err < 1e-10
    assert err < 1e-4, "peer and isoinit disagree"
    if not args.smoke:
        assert t_ours < 0.1 * 2, f"isoinit took {t_ours:.3f} s"


if __name__ == "__main__":
    main()
