"""Potential bound, normalization identity, fixed points, rates and the residual kernel."""

from __future__ import annotations

import math

import numpy as np
import pytest

import isoinit
from isoinit import MLP, activations
from isoinit.inputs import degenerate
from isoinit.metrics import isometry
from isoinit.theory import bounds, hermite, meanfield
from tolerances import (
    BOUND_REL,
    FEW_ULPS,
    FIXED_POINT_ABS,
    FIXED_POINT_ITER_ABS,
    FIXED_POINT_RATE_REL,
    IDENTITY_REL,
    ISOMETRY_RATIO_REL,
    LOCAL_RATE_REL,
    PREDICTION_CONVERGED_ABS,
    PREDICTION_CONVERGED_FACTOR,
    PREDICTION_POLYNOMIAL_ABS,
    ROUNDING,
    SAME_FORMULA,
    UNDERFLOW_ABS,
)

X = degenerate(10, 64, 10.0, seed=2)


@pytest.mark.parametrize("act", [*activations.BUILTIN, "he2", "he3", "leaky_relu(0.5)"])
def test_potential_bound_holds_along_mean_field(act: str) -> None:
    for gain in (1.0, 1.8):
        mlp = MLP(depth=15, width=10, activation=act, norm="layer", gain=gain)
        traj = meanfield.trajectory(mlp, X)
        for start in (0, 1):
            bound = bounds.trajectory_potential_bound(traj, start=start)
            assert np.all(np.isnan(bound[:start]))
            assert np.all(traj.potential[start:] <= bound[start:] * (1 + BOUND_REL) + UNDERFLOW_ABS)


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
        np.testing.assert_allclose(b, expected, rtol=ROUNDING)
        np.testing.assert_allclose(b, bounds.trajectory_potential_bound(plain, start=start), rtol=BOUND_REL)


def test_scaling_isometry_identity() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        h = rng.standard_normal((6, 40)) * rng.uniform(0.2, 3.0, size=(6, 1))
        a = np.linalg.norm(h, axis=1)
        g = h @ h.T
        g2 = g / np.outer(a, a)
        ratio = isometry(g2, gram=True) / isometry(g, gram=True)
        assert ratio == pytest.approx(bounds.scaling_isometry_ratio(a), rel=ISOMETRY_RATIO_REL)
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
    assert (1 - traj[-1]) / (1 - traj[-2]) == pytest.approx(sig.rate, rel=FIXED_POINT_RATE_REL)
    relu = bounds.fixed_point("relu")  # kappa'(1) = E step^2 / E relu^2 = 1
    assert relu.kind == "collapse-polynomial"
    assert relu.a == pytest.approx(1 - 1 / math.pi - 0.5, rel=ROUNDING)
    traj = _iterate("relu", 0.0, 100)
    assert np.all(1 - traj <= bounds.polynomial_rate(0.0, 100, relu.a) * (1 + BOUND_REL))
    assert bounds.fixed_point("relu", kernel="centered").kind == "isometry"


def test_interior_fixed_point() -> None:
    act = activations.from_hermite([0.5, 0.0, 0.0, 1.0])  # f = (0.25 + rho^3) / 1.25
    fp = bounds.fixed_point(act)
    assert fp.kind == "interior" and 0 < fp.rho_star < 1
    f = float(hermite.rms_kernel(act, fp.rho_star))
    assert f == pytest.approx(fp.rho_star, abs=FIXED_POINT_ABS)
    for rho0 in (-0.5, 0.3, 0.95):
        r = rho0
        for _ in range(200):
            r = float(hermite.rms_kernel(act, r))
        assert r == pytest.approx(fp.rho_star, abs=FIXED_POINT_ITER_ABS)


def test_indistinguishable_depth() -> None:
    assert bounds.indistinguishable_depth(0.5, 1e-8) == pytest.approx(math.log(1e8) / math.log(2))
    assert bounds.indistinguishable_depth(1.0) == math.inf
    with pytest.raises(ValueError, match="eps"):
        bounds.indistinguishable_depth(0.5, 0.0)


def test_residual_kernel() -> None:
    rho = np.linspace(-1, 1, 11)
    k = hermite.centered_kernel("tanh", rho)
    np.testing.assert_allclose(bounds.residual_kernel("tanh", rho, 0.0), k, atol=FEW_ULPS)
    np.testing.assert_allclose(bounds.residual_kernel("tanh", rho, 1.0), rho, atol=FEW_ULPS)
    np.testing.assert_allclose(bounds.residual_kernel("tanh", rho, 0.6), 0.64 * k + 0.36 * rho, atol=FEW_ULPS)
    with pytest.raises(ValueError, match="r must"):
        bounds.residual_kernel("tanh", rho, 1.5)


# --------------------------------------------------------------------------------------
# predict: the map, fixed point and rate of one network, checked against the mean field
# --------------------------------------------------------------------------------------

_PREDICTED = [
    dict(activation="relu", norm="layer"),
    dict(activation="tanh", norm="layer", gain=1.5),
    dict(activation="gelu", norm="rms"),
    dict(activation="tanh", norm="rms"),
    dict(activation="relu", norm="rms"),
    dict(activation="selu", norm="mf"),
    dict(activation="gelu", norm="layer", order="norm-act"),
    dict(activation="sin", norm="rms", order="norm-act", bias=0.2),
    dict(activation="relu", norm="layer", bias=0.3),
]


@pytest.mark.parametrize("kwargs", _PREDICTED, ids=lambda k: "-".join(f"{v}" for v in k.values()))
def test_prediction_matches_the_mean_field(kwargs: dict) -> None:
    mlp = isoinit.MLP(300, 100, **kwargs)
    p = bounds.predict(mlp)
    assert p.kernel is not None and p.fixed_point is not None and p.rate is not None
    assert mlp.label() in p.statement
    fp = p.fixed_point
    x = isoinit.inputs.degenerate(2, 50, degeneracy=3.0, seed=1)
    corr = meanfield.trajectory(mlp, x).correlations[:, 0, 1]
    star = fp.rho_star
    if mlp.order == "norm-act":  # the map acts on the normalized H; the output is sigma of it
        star = float(hermite.rms_kernel(mlp.act, star))
    dist = np.abs(corr - star)
    if fp.kind == "collapse-polynomial":  # relu + RMS: slowly, monotonically towards 1
        assert corr[-1] > corr[100] > corr[10] > corr[1] and dist[-1] < PREDICTION_POLYNOMIAL_ABS
        return
    assert dist[-1] < PREDICTION_CONVERGED_FACTOR * dist[1] or dist[-1] < PREDICTION_CONVERGED_ABS
    if mlp.order == "norm-act":
        return  # the output's distance is not the map's (sigma in between); the limit is checked
    # the local factor near the fixed point: f'(0) = beta_0 for isometry (the bound's rate
    # 1 / (2 - beta_0) is larger), f'(1) for collapse, f'(rho*) for an interior point
    local = {"isometry": fp.slope0, "collapse": fp.slope1, "interior": fp.rate}[fp.kind]
    tail = (dist[:-1] > 1e-9) & (dist[:-1] < 1e-3)
    ratios = dist[1:][tail] / dist[:-1][tail]
    assert ratios.size >= 5
    assert np.median(ratios) == pytest.approx(local, rel=LOCAL_RATE_REL)
    if fp.kind == "isometry":
        assert local <= p.rate + ROUNDING


def test_prediction_names_the_normalization_it_applies_to() -> None:
    layer = bounds.predict(isoinit.MLP(3, 8, "gelu", "layer"))
    rms = bounds.predict(isoinit.MLP(3, 8, "gelu", "rms"))
    assert layer.fixed_point is not None and layer.fixed_point.kind == "isometry" and layer.potential_bound
    assert layer.rate == pytest.approx(hermite.contraction_factor("gelu"), rel=SAME_FORMULA)
    assert rms.fixed_point is not None and rms.fixed_point.kind == "interior" and not rms.potential_bound
    assert 0.5 < rms.fixed_point.rho_star < 1.0  # gelu with RMS norm does not reach isometry
    assert rms.rate == pytest.approx(hermite.contraction_factor("gelu", norm="rms"), rel=ROUNDING)
    for norm in ("batch", "none", "center"):
        p = bounds.predict(isoinit.MLP(3, 8, "gelu", norm))
        assert p.kernel is None and p.fixed_point is None and p.rate is None
        assert "meanfield" in p.statement or "large width" in p.statement
    with pytest.raises(ValueError, match="norm must be one of layer, mf, rms"):
        hermite.contraction_factor("gelu", norm="batch")
    with pytest.raises(TypeError, match=r"network must be an isoinit\.MLP"):
        bounds.predict("relu")  # type: ignore[arg-type]
