"""An independent NumPy implementation of the network of theory.md section 2, for tests.

Written from the spec, not from the package: explicit weights, plain NumPy operations.
"""

from __future__ import annotations

import numpy as np


def rms_rows(x: np.ndarray) -> np.ndarray:
    return x / np.sqrt(np.mean(x**2, axis=1, keepdims=True))


def normalize(m, center, scale, eps=0.0, c_mf=0.0, s_mf=1.0):
    if center == "layer":
        m = m - m.mean(axis=1, keepdims=True)
    elif center == "batch":
        m = m - m.mean(axis=0, keepdims=True)
    elif center == "mf":
        m = m - c_mf
    if scale in ("layer", "batch"):
        # an all-zero row/column stays zero (the eps -> 0 limit), it is not divided by 0
        ms = np.mean(m**2, axis=1 if scale == "layer" else 0, keepdims=True) + eps
        m = m * np.where(ms > 0, 1.0 / np.sqrt(np.where(ms > 0, ms, 1.0)), 0.0)
    elif scale == "mf":
        m = m / s_mf
    return m


def gram(x: np.ndarray) -> np.ndarray:
    return x @ x.T / x.shape[1]


def forward(x, weights, act, *, center, scale, order="act-norm", gain=1.0, eps=0.0, mf_center=None, mf_scale=None):
    """Grams per layer and stage: returns (out_grams (L+1, n, n), stage_grams (L+1, 3, n, n))
    with stages (linear, activation, normalization)."""
    x = rms_rows(np.asarray(x, dtype=np.float64))
    g0 = gram(x)
    outs, stages = [g0], [np.stack([g0, g0, g0])]
    for k, (w, b) in enumerate(weights):
        h = gain * (x @ w)
        if b is not None and np.size(b):
            h = h + b
        c = 0.0 if mf_center is None else mf_center[k]
        s = 1.0 if mf_scale is None else mf_scale[k]
        if order == "act-norm":
            a = act(h)
            y = normalize(a, center, scale, eps, c, s)
            st = [gram(h), gram(a), gram(y)]
        else:
            nrm = normalize(h, center, scale, eps, c, s)
            y = act(nrm)
            st = [gram(h), gram(y), gram(nrm)]
        outs.append(gram(y))
        stages.append(np.stack(st))
        x = y
    return np.stack(outs), np.stack(stages)


def draw_weights(rng, d_in, d_out, kind="gaussian"):
    """Explicit weights with NumPy's generator: N(0, 1/d_in), or Haar semi-orthogonal with
    unit-norm columns in expectation."""
    if kind == "gaussian":
        return rng.standard_normal((d_in, d_out)) / np.sqrt(d_in)
    m, k = max(d_in, d_out), min(d_in, d_out)
    q, r = np.linalg.qr(rng.standard_normal((m, k)))
    q = q * np.sign(np.diag(r))
    return q if d_in >= d_out else np.sqrt(d_out / d_in) * q.T


def isometry(g: np.ndarray) -> float:
    lam = np.linalg.eigvalsh(g)
    return float(np.exp(np.mean(np.log(lam))) / np.mean(lam))


def user_copy(spec: str):
    """The same function as an activation a user registered (no closed forms, no kernel
    name): the theory then computes everything by its kink-split quadrature."""
    from isoinit import activations

    act = activations.resolve(spec)
    return activations.Activation(
        name=f"copy_{act.name}", base=f"copy_{act.base}", param=None, fn=act.fn, kinks=act.kinks, kernel_name=None
    )


def simulated_and_reference(mlp, x, seed, run):
    """Run ``run`` of ``isoinit.simulate(mlp, x, sampler="weights")`` and the NumPy forward pass
    of :func:`forward` with the same weights and the activation's own function ``mlp.act.fn``
    (for a registered callable: the callable, not the kernel's table): the stage Grams
    ``(got, ref)``, each ``(L + 1, 3, n, n)``. Also checks that ``isoinit.forward`` of the
    same weights gives exactly the simulator's numbers."""
    import isoinit
    from isoinit.theory.meanfield import mf_constants

    traj = isoinit.simulate(mlp, x, runs=run + 1, seed=seed, sampler="weights", stages=True, grams=True)
    weights = isoinit.network_weights(mlp, x.shape[1], seed=seed, run=run)
    mf_c, mf_s = mf_constants(mlp)
    _, ref = forward(
        x,
        weights,
        mlp.act.fn,
        center=mlp.centering,
        scale=mlp.scaling,
        order=mlp.order,
        gain=1.0,  # network_weights gives W with its gain
        eps=mlp.eps,
        mf_center=mf_c or None,
        mf_scale=mf_s or None,
    )
    got = traj.grams[run]
    fixed = isoinit.forward(mlp, x, weights, stages=True, grams=True)
    np.testing.assert_array_equal(fixed.grams[0], got)
    return got, ref
