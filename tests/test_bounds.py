"""Potential bound, normalization identity, fixed points, rates and the residual kernel."""

from __future__ import annotations

import math

import numpy as np
import pytest

import isoinit
from isoinit import MLP, activations, bounds, hermite, meanfield
from isoinit.inputs import degenerate
from isoinit.metrics import isometry
from tolerances import BOUND_REL, IDENTITY_REL

X = degenerate(10, 64, 10.0, seed=2)


@pytest.mark.parametrize("act", [*activations.BUILTIN, "he2", "he3", "leaky_relu(0.5)"])
def test_potential_bound_holds_along_mean_field(act: str) -> None:
    for gain in (1.0, 1.8):
        mlp = MLP(depth=15, width=10, activation=act, norm="layer", gain=gain)
        traj = meanfield.trajectory(mlp, X)
        for start in (0, 1):
            bound = bounds.trajectory_potential_bound(traj, start=start)
            assert np.all(np.isnan(bound[:start]))
            assert np.all(traj.potential[start:] <= bound[start:] * (1 + BOUND_REL) + 1e-300)


def test_potential_bound_values() -> None:
    b = bounds.potential_bound(4.0, 0.5, 3)
    np.testing.assert_allclose(b, [4, 4 / 1.5, 4 / 1.5**2, 4 / 1.5**3])
    b1 = bounds.potential_bound(2.0, 0.0, 3, start=1)
    assert np.isnan(b1[0]) and b1[1:].tolist() == [2.0, 1.0, 0.5]
    with pytest.raises(ValueError, match="beta_0"):
        bounds.potential_bound(1.0, 1.5, 3)
    with pytest.raises(ValueError, match="start"):
        bounds.potential_bound(1.0, 0.5, 3, start=4)
    with pytest.raises(ValueError, match="potential bound"):
        bounds.trajectory_potential_bound(meanfield.trajectory(MLP(depth=2, width=5, norm="rms"), X))


def test_potential_bound_on_simulated_trajectories_with_stages() -> None:
    """The anchor is the block output's potential (mean over runs), also when the
    simulator recorded stages (metrics of shape (runs, depth + 1, 3))."""
    mlp = MLP(depth=6, width=200, activation="tanh", norm="layer")
    plain = isoinit.simulate(mlp, X, runs=3, seed=4)
    staged = isoinit.simulate(mlp, X, runs=3, seed=4, stages=True)
    assert staged.potential.shape == (3, 7, 3)
    for start in (0, 2):
        expected = bounds.potential_bound(
            float(staged.output("potential")[:, start].mean()), hermite.beta0("tanh", 1.0), 6, start=start
        )
        b = bounds.trajectory_potential_bound(staged, start=start)
        assert b.shape == (7,)
        np.testing.assert_allclose(b, expected, rtol=1e-12)
        np.testing.assert_allclose(b, bounds.trajectory_potential_bound(plain, start=start), rtol=1e-9)


def test_scaling_isometry_identity() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        h = rng.standard_normal((6, 40)) * rng.uniform(0.2, 3.0, size=(6, 1))
        a = np.linalg.norm(h, axis=1)
        g = h @ h.T
        g2 = g / np.outer(a, a)
        ratio = isometry(g2, gram=True) / isometry(g, gram=True)
        assert ratio == pytest.approx(bounds.scaling_isometry_ratio(a), rel=1e-9)
        assert bounds.scaling_isometry_ratio(a) >= bounds.scaling_isometry_lower_bound(a) >= 1.0
    assert bounds.scaling_isometry_ratio([2.0, 2.0, 2.0]) == pytest.approx(1.0, rel=IDENTITY_REL)
    with pytest.raises(ValueError, match="norms"):
        bounds.scaling_isometry_ratio([1.0, 0.0])


def _iterate(spec: str, rho0: float, layers: int) -> np.ndarray:
    out = [rho0]
    for _ in range(layers):
        out.append(float(hermite.rms_kernel(spec, out[-1])))
    return np.array(out)


def test_fixed_point_kinds() -> None:
    tanh = bounds.fixed_point("tanh")  # odd: kappa(0) = 0
    assert tanh.kind == "isometry" and tanh.rate == pytest.approx(hermite.contraction_factor("tanh"))
    sig = bounds.fixed_point("sigmoid")
    assert sig.kind == "collapse" and sig.rho_star == 1.0
    traj = _iterate("sigmoid", 0.0, 12)
    assert (1 - traj[-1]) / (1 - traj[-2]) == pytest.approx(sig.rate, rel=1e-3)
    relu = bounds.fixed_point("relu")  # kappa'(1) = E step^2 / E relu^2 = 1
    assert relu.kind == "collapse-polynomial"
    assert relu.a == pytest.approx(1 - 1 / math.pi - 0.5, rel=1e-12)
    traj = _iterate("relu", 0.0, 100)
    assert np.all(1 - traj <= bounds.polynomial_rate(0.0, 100, relu.a) * (1 + 1e-9))
    assert bounds.fixed_point("relu", kernel="centered").kind == "isometry"


def test_interior_fixed_point() -> None:
    act = activations.from_hermite([0.5, 0.0, 0.0, 1.0])  # f = (0.25 + rho^3) / 1.25
    fp = bounds.fixed_point(act)
    assert fp.kind == "interior" and 0 < fp.rho_star < 1
    f = float(hermite.rms_kernel(act, fp.rho_star))
    assert f == pytest.approx(fp.rho_star, abs=1e-12)
    for rho0 in (-0.5, 0.3, 0.95):
        r = rho0
        for _ in range(200):
            r = float(hermite.rms_kernel(act, r))
        assert r == pytest.approx(fp.rho_star, abs=1e-9)


def test_indistinguishable_depth() -> None:
    assert bounds.indistinguishable_depth(0.5, 1e-8) == pytest.approx(math.log(1e8) / math.log(2))
    assert bounds.indistinguishable_depth(1.0) == math.inf
    with pytest.raises(ValueError, match="eps"):
        bounds.indistinguishable_depth(0.5, 0.0)


def test_residual_kernel() -> None:
    rho = np.linspace(-1, 1, 11)
    k = hermite.centered_kernel("tanh", rho)
    np.testing.assert_allclose(bounds.residual_kernel("tanh", rho, 0.0), k, atol=1e-15)
    np.testing.assert_allclose(bounds.residual_kernel("tanh", rho, 1.0), rho, atol=1e-15)
    np.testing.assert_allclose(bounds.residual_kernel("tanh", rho, 0.6), 0.64 * k + 0.36 * rho, atol=1e-15)
    with pytest.raises(ValueError, match="r must"):
        bounds.residual_kernel("tanh", rho, 1.5)
