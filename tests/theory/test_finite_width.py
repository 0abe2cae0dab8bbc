"""Finite-width (order 1/d) predictions: the block's moments, the recursion, against simulation.

Independent checks first (the pairwise mean-field map against ``block_map``; the Monte Carlo
``Sigma`` and ``b`` against two-dimensional quadrature at ``n = 2``, including the exact
Stein/heat-equation bias of norm-act against its direct von Mises form; the delta method
against the closed-form gradient and Hessian of the gap), then whole trajectories against
:func:`isoinit.simulate` with fixed seeds (docs/finite-width.md, "Validation").
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest

import isoinit
from isoinit import MLP
from isoinit.inputs import degenerate
from isoinit.metrics import METRICS
from isoinit.theory import _fw_residual as _res
from isoinit.theory import bounds, meanfield
from isoinit.theory import finite_width as fwm
from isoinit.theory._fw_block import Block, fluctuation, mean_map, to_matrix, to_vector
from isoinit.theory._fw_metrics import delta_moments
from isoinit.theory.finite_width import FiniteWidthWarning, finite_width, plateau, plateau_sd, width_for
from tolerances import (
    FW_BIAS_EXACT_ABS,
    FW_CLOSED_FORM_REL,
    FW_DELTA_REL,
    FW_ENSEMBLE_GAUSSIAN_REL,
    FW_ENSEMBLE_SIGMAS,
    FW_GRAM_COV_REL,
    FW_GRAM_MEAN_SIGMAS,
    FW_MEAN_REL,
    FW_PLATEAU_REL,
    FW_RES_BLOCK_REL,
    FW_RES_BLOCK_SIGMAS,
    FW_RES_BLOCK_TRACE_REL,
    FW_RES_MEAN_SIGMAS,
    FW_SD_REL,
    MC_SIGMAS,
    ROUNDING,
)

X10 = degenerate(10, 1000, 100.0, seed=0)  # the paper's headline input: n = 10, gap 5.28


def _quadrature(nodes: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes for E f(z1, z2), z standard normal in 2-D: (z1, z2, weights)."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / math.sqrt(2.0 * math.pi)
    z1, z2 = np.meshgrid(x, x, indexing="ij")
    return z1.ravel(), z2.ravel(), np.outer(w, w).ravel()


def _draws(n: int, rows: int = 1 << 17, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, n))


# --- the pieces ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"activation": "relu"},
        {"activation": "tanh", "gain": 1.5, "bias": 0.3},
        {"activation": "gelu", "norm": "rms"},
        {"activation": "tanh", "norm": "center"},
        {"activation": "relu", "norm": "mf"},
        {"activation": "sin", "norm": "none"},
        {"activation": "relu", "order": "norm-act"},
        {"activation": "tanh", "order": "norm-act", "norm": "mf", "eps": 1e-3},
        {"activation": "gelu", "order": "norm-act", "norm": "none", "bias": 0.2},
    ],
)
def test_pair_map_is_the_mean_field_block_map(kw: dict[str, object]) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 7))
    g = a @ a.T
    q = np.sqrt(np.diag(g))
    g = 1.7 * g / np.outer(q, q)  # constant diagonal 1.7, as along any MLP trajectory
    net = MLP(depth=2, width=10, **kw)  # type: ignore[arg-type]
    ours = to_matrix(mean_map(Block.of(net, 2), g), 5)
    np.testing.assert_allclose(ours, meanfield.block_map(net, g, 2), atol=ROUNDING, rtol=ROUNDING)


def test_sigma_and_b_at_the_isometry_fixed_point() -> None:
    # At G = I (layer norm after the activation) every correlation of the next layer is an
    # average of d independent products of two standardized activations: Sigma = I on the
    # off-diagonal entries for every activation, and b = 0 (docs/finite-width.md, section 4).
    n = 4
    i, j = np.triu_indices(n)
    off = i != j
    for act in ("relu", "tanh", "sin"):
        fl = fluctuation(Block.of(MLP(depth=1, width=10, activation=act), 1), np.eye(n), _draws(n))
        expected = np.diag(off.astype(float))
        se = np.sqrt(np.outer(fl.sigma_se, fl.sigma_se))  # the diagonal's SE bounds the rest
        assert np.all(np.abs(fl.sigma - expected) <= MC_SIGMAS * np.maximum(se, 1e-12))
        assert np.all(np.abs(fl.b) <= MC_SIGMAS * np.maximum(fl.b_se, 1e-12))


@pytest.mark.parametrize("rho", [0.3, -0.6, 0.95])
def test_act_norm_sigma_and_b_against_quadrature(rho: float) -> None:
    # n = 2, layer norm after tanh: G'_12 = S_12 / sqrt(S_11 S_22) with S = A - mu mu^T. Its
    # influence function and the ratio's bias are polynomials in tanh(u), tanh(v): integrate
    # them with a Gauss-Hermite rule, independently of the package's Monte Carlo.
    z1, z2, w = _quadrature()
    u, v = z1, rho * z1 + math.sqrt(1.0 - rho * rho) * z2
    su, sv = np.tanh(u), np.tanh(v)  # odd: E tanh = 0, so the centering subtracts nothing
    var = float(w @ (su * su))
    kap = float(w @ (su * sv))
    g12 = kap / var
    x12, x11, x22 = su * sv - kap, su * su - var, sv * sv - var
    psi = x12 / var - 0.5 * g12 * (x11 + x22) / var
    sigma = float(w @ (psi * psi))
    # delta method on S_12 (D_1 D_2)^(-1/2): the centering's bias -Cov cancels at first order
    # (T b_S = 0 here), the rest is the second-order term of the ratio
    e12_11, e11_11, e11_22 = float(w @ (x12 * x11)), float(w @ (x11 * x11)), float(w @ (x11 * x22))
    bias = 2 * (-0.5 / var**2) * e12_11 + (0.75 * g12 / var**2) * e11_11 + (0.25 * g12 / var**2) * e11_22
    blk = Block.of(MLP(depth=1, width=10, activation="tanh"), 1)
    fl = fluctuation(blk, np.array([[1.0, rho], [rho, 1.0]]), _draws(2))
    assert abs(fl.sigma[1, 1] - sigma) <= MC_SIGMAS * fl.sigma_se[1]
    assert abs(fl.b[1] - bias) <= MC_SIGMAS * fl.b_se[1]


def _norm_act_direct(rho: float) -> tuple[float, float, float]:
    """Norm-act tanh, layer norm, n = 2, G = [[1, rho], [rho, 1]]: Sigma_12,12, b_12, b_11 by quadrature.

    The direct von Mises expansion with theta = (c_r, s_r), analytic derivatives of tanh:
    ``b = sum_r dK/ds_r E[ds_r] + sum_theta E[d phi/d theta IF_theta] + (1/2) K_theta theta' Cov``.
    """
    z1, z2, w = _quadrature()
    u, v = z1, rho * z1 + math.sqrt(1.0 - rho * rho) * z2  # s = 1, q = 1: x = h
    t_u, t_v = np.tanh(u), np.tanh(v)
    d1_u, d1_v = 1 - t_u**2, 1 - t_v**2  # tanh'
    d2_u, d2_v = -2 * t_u * d1_u, -2 * t_v * d1_v  # tanh''
    e = lambda f: float(w @ f)  # noqa: E731
    es = -0.5 - 0.25  # E[ds] d: -q/(2 s) (centering) - q^2/(4 s^3)
    cov_s = {(0, 0): 0.5, (1, 1): 0.5, (0, 1): rho * rho / 2}  # Sp_ab^2 / (2 s_a s_b)
    cov_c = {(0, 0): 1.0, (1, 1): 1.0, (0, 1): rho}
    # off-diagonal phi = tanh(u) tanh(v); ends r = u (other v) and r = v (other u)
    ends = ((u, d1_u, d2_u, t_v), (v, d1_v, d2_v, t_u))
    b12 = 0.0
    psi = t_u * t_v - e(t_u * t_v)
    for h, d1, d2, to in ends:
        dk_c = e(-d1 * to)
        dk_s = e(-h * d1 * to)
        psi = psi + dk_c * h + dk_s * (h * h - 1) / 2
        b12 += dk_s * es + e(-d1 * to * h) + e(-h * d1 * to * (h * h - 1) / 2)
        # the diagonal terms of (1/2) Hess : Cov
        b12 += 0.5 * (e(d2 * to) * cov_c[(0, 0)] + e((2 * h * d1 + h * h * d2) * to) * cov_s[(0, 0)])
    # the mixed terms (c_u, c_v) and (s_u, s_v), counted twice in the symmetric sum
    b12 += e(d1_u * d1_v) * cov_c[(0, 1)] + e(u * d1_u * v * d1_v) * cov_s[(0, 1)]
    sigma12 = e(psi * psi)
    # diagonal phi = tanh(u)^2, one theta = (c, s)
    dk_c = e(-2 * t_u * d1_u)
    dk_s = e(-2 * u * t_u * d1_u)
    b11 = dk_s * es + e(-2 * t_u * d1_u * u) + e(-2 * u * t_u * d1_u * (u * u - 1) / 2)
    k_cc = e(2 * (d1_u * d1_u + t_u * d2_u))
    k_ss = e(4 * u * t_u * d1_u + 2 * u * u * (d1_u * d1_u + t_u * d2_u))
    b11 += 0.5 * (k_cc * 1.0 + k_ss * 0.5)
    assert abs(dk_c) < 1e-12  # tanh is odd
    return sigma12, b12, b11


@pytest.mark.parametrize("rho", [0.3, 0.9])
def test_norm_act_bias_and_sigma_against_direct_quadrature(rho: float) -> None:
    sigma12, b12, b11 = _norm_act_direct(rho)
    blk = Block.of(MLP(depth=1, width=10, activation="tanh", order="norm-act"), 1)
    fl = fluctuation(blk, np.array([[1.0, rho], [rho, 1.0]]), _draws(2))
    assert fl.b[1] == pytest.approx(b12, abs=FW_BIAS_EXACT_ABS)
    assert fl.b[0] == pytest.approx(b11, abs=FW_BIAS_EXACT_ABS)
    assert fl.b[2] == pytest.approx(b11, abs=FW_BIAS_EXACT_ABS)
    assert abs(fl.sigma[1, 1] - sigma12) <= MC_SIGMAS * fl.sigma_se[1]


def test_delta_method_matches_the_analytic_gap_derivatives() -> None:
    # gap(G) = log(tr G / n) - log det G / n: gradient I / tr G - G^-1 / n and Hessian
    # H[E, F] = -tr E tr F / tr(G)^2 + tr(G^-1 E G^-1 F) / n, in closed form
    rng = np.random.default_rng(3)
    n = 5
    a = rng.standard_normal((n, 9))
    m = a @ a.T / 9
    i, j = np.triu_indices(n)
    p = i.size
    basis = np.zeros((p, n, n))
    basis[np.arange(p), i, j] = 1.0
    basis[np.arange(p), j, i] = 1.0
    b = rng.standard_normal((p, p)) * 0.01
    cov = b @ b.T
    inv = np.linalg.inv(m)
    tr = np.trace(m)
    grad = np.einsum("pij,ji->p", basis, np.eye(n) / tr - inv / n)
    trs = np.einsum("pii->p", basis)
    hess = -np.outer(trs, trs) / tr**2 + np.einsum("ij,pjk,kl,qli->pq", inv, basis, inv, basis) / n
    f0 = math.log(tr / n) - np.linalg.slogdet(m)[1] / n
    mean = f0 + 0.5 * float(np.sum(hess * cov))
    var = float(grad @ cov @ grad) + 0.5 * float(np.trace(hess @ cov @ hess @ cov))
    got_mean, got_sd = delta_moments(m, cov, ("gap",))
    assert got_mean["gap"] - f0 == pytest.approx(mean - f0, rel=FW_DELTA_REL)
    assert got_sd["gap"] == pytest.approx(math.sqrt(var), rel=FW_DELTA_REL)


def test_plateau_closed_form() -> None:
    # (n - 1) / (2 d (1 - beta0^2)): relu 9.74 / d at n = 10; the width for a gap of 0.01
    b = isoinit.hermite.beta0("relu")
    assert plateau("relu", 10, 1000) == pytest.approx(9 / (2000 * (1 - b * b)), rel=ROUNDING)
    assert width_for("relu", 10, 0.01) == 974
    assert plateau("relu", 10, width_for("relu", 10, 0.01)) <= 0.01
    assert plateau("relu", 10, width_for("relu", 10, 0.01) - 1) > 0.01
    assert plateau_sd("relu", 10, 1000) == pytest.approx(plateau("relu", 10, 1000) * 2 / 9 * math.sqrt(90) / 10)
    assert plateau("identity", 10, 1000) == math.inf
    with pytest.raises(ValueError, match="linear"):
        width_for("identity", 10, 0.01)
    with pytest.raises(ValueError):
        width_for("relu", 10, 0.0)


def test_the_recursion_reaches_the_closed_form_plateau() -> None:
    # near-orthogonal input (n = 4): the linear recursion's stationary point is the closed form
    x = np.random.default_rng(1).standard_normal((4, 4000))
    net = MLP(depth=25, width=2000, activation="relu")
    fw = finite_width(net, x, samples=1 << 14, closure_samples=64, closure="gaussian")
    assert fw.closure == "gaussian" and fw.particles == 0
    assert fw.mean("gap")[-1] == pytest.approx(plateau("relu", 4, 2000), rel=FW_CLOSED_FORM_REL)
    assert fw.sd("gap")[-1] == pytest.approx(plateau_sd("relu", 4, 2000), rel=FW_CLOSED_FORM_REL)


# --- against simulation ------------------------------------------------------------------------


def _check_gap(fw: fwm.FiniteWidthTrajectory, tr: isoinit.Trajectory) -> None:
    sim_mean, sim_sd = tr.gap.mean(axis=0), tr.gap.std(axis=0)
    depth = sim_mean.size - 1
    for layer in range(1, depth + 1):
        assert fw.mean("gap")[layer] == pytest.approx(sim_mean[layer], rel=FW_MEAN_REL), layer
        assert fw.sd("gap")[layer] == pytest.approx(sim_sd[layer], rel=FW_SD_REL), layer


@pytest.fixture(scope="module")
def relu_1000() -> tuple[fwm.FiniteWidthTrajectory, isoinit.Trajectory]:
    net = MLP(depth=50, width=1000, activation="relu")
    fw = finite_width(net, X10, samples=1 << 14, closure_samples=256)
    tr = isoinit.simulate(net, X10, runs=4000, seed=11, sampler="gram")
    return fw, tr


def test_headline_relu_width_1000(relu_1000: tuple[fwm.FiniteWidthTrajectory, isoinit.Trajectory]) -> None:
    fw, tr = relu_1000
    _check_gap(fw, tr)
    # the plateau: 0.0099 measured at d = 1000, against 1e-5 at infinite width
    sim = float(tr.gap.mean(axis=0)[40:].mean())
    assert float(fw.mean("gap")[40:].mean()) == pytest.approx(sim, rel=FW_PLATEAU_REL)
    assert plateau("relu", 10, 1000) == pytest.approx(sim, rel=FW_PLATEAU_REL)
    assert fw.meanfield("gap")[40] < 0.01 * sim  # the mean field has converged: the rest is width


def test_tanh_width_1000() -> None:
    net = MLP(depth=40, width=1000, activation="tanh")
    fw = finite_width(net, X10, samples=1 << 14, closure_samples=64)
    tr = isoinit.simulate(net, X10, runs=500, seed=12, sampler="gram")
    _check_gap(fw, tr)


def test_relu_width_256() -> None:
    # through the transition to the plateau (layers 21..35), where the Gaussian closure's sd is
    # 27 % low: the ensemble closure (the default here) meets the target at every layer
    net = MLP(depth=50, width=256, activation="relu")
    fw = finite_width(net, X10, samples=1 << 14, particles=4096)
    assert fw.closure == "ensemble" and fw.particles == 4096
    tr = isoinit.simulate(net, X10, runs=4000, seed=13, sampler="gram")
    _check_gap(fw, tr)


@pytest.mark.parametrize(
    "kw",
    [
        {"activation": "relu", "order": "norm-act"},
        {"activation": "tanh", "norm": "center"},
        {"activation": "relu", "norm": "rms", "order": "norm-act"},
    ],
)
def test_other_normalizations_width_1000(kw: dict[str, object]) -> None:
    net = MLP(depth=15, width=1000, **kw)  # type: ignore[arg-type]
    fw = finite_width(net, X10, samples=1 << 14, closure_samples=64)
    tr = isoinit.simulate(net, X10, runs=1000, seed=14, sampler="gram")
    _check_gap(fw, tr)


def test_gram_moments_against_simulation() -> None:
    net = MLP(depth=30, width=1000, activation="relu")
    fw = finite_width(net, X10, samples=1 << 14, closure_samples=64)
    tr = isoinit.simulate(net, X10, runs=2000, seed=15, sampler="gram", grams=True)
    iu, ju = np.triu_indices(10, 1)
    for layer in (1, 5, 15, 25, 30):
        g = tr.grams[:, layer][:, iu, ju]
        # the simulated mean's standard error and, for the ensemble, its particles' own
        ens = fw.gram_cov[layer][iu, ju, iu, ju] / fw.particles if fw.particles else 0.0
        se = np.sqrt(g.var(axis=0) / g.shape[0] + ens)
        assert np.all(np.abs(fw.gram_mean[layer][iu, ju] - g.mean(axis=0)) <= FW_GRAM_MEAN_SIGMAS * se), layer
        pred = fw.gram_cov[layer][iu, ju, iu, ju].sum()
        assert pred == pytest.approx(g.var(axis=0).sum(), rel=FW_GRAM_COV_REL), layer
    np.testing.assert_allclose(fw.gram_sd()[5][iu, ju], np.sqrt(fw.gram_cov[5][iu, ju, iu, ju]))


# --- the ensemble closure --------------------------------------------------------------------------


def test_ensemble_against_simulation_at_width_256() -> None:
    # gelu at width 256, through its transition to the plateau (layers 30..40), where the
    # Gaussian closure's sd is 30 % low: the ensemble within the target at every layer
    net = MLP(depth=40, width=256, activation="gelu")
    fw = finite_width(net, X10, samples=1 << 13, closure="ensemble", particles=4096)
    tr = isoinit.simulate(net, X10, runs=4000, seed=16, sampler="gram")
    _check_gap(fw, tr)
    assert fw.breakdown_at == -1 and fw.redrawn.sum() == 0
    # the ensemble's own Monte Carlo errors, as documented: sd / sqrt(M) and ~ sd / sqrt(2 M)
    se, sd_se = fw.metric_mean_se["gap"][1:], fw.metric_sd_se["gap"][1:]
    np.testing.assert_allclose(se, fw.sd("gap")[1:] / math.sqrt(fw.particles), rtol=ROUNDING)
    assert np.all(sd_se > 0.5 * fw.sd("gap")[1:] / math.sqrt(2 * fw.particles))


def test_ensemble_agrees_with_the_gaussian_closure_at_large_width() -> None:
    # at d = 20000 the Gram's law is Gaussian to within what the particles resolve: the two
    # closures agree within the ensemble's standard errors (same Sigma and b, same columns)
    net = MLP(depth=12, width=20000, activation="relu")
    kw = {"samples": 1 << 13, "closure_samples": 256}
    ens = finite_width(net, X10, closure="ensemble", **kw)  # type: ignore[arg-type]
    gau = finite_width(net, X10, closure="gaussian", **kw)  # type: ignore[arg-type]
    for m in ("gap", "isometry", "effective_rank"):
        e, g = ens.mean(m)[1:], gau.mean(m)[1:]
        assert np.all(np.abs(e - g) <= FW_ENSEMBLE_SIGMAS * ens.metric_mean_se[m][1:]), m
        assert np.all(np.abs(ens.sd(m)[1:] - gau.sd(m)[1:]) <= FW_ENSEMBLE_SIGMAS * ens.metric_sd_se[m][1:]), m
    # the summed variance of the correlations: the particles' sample against the recursion's
    iu, ju = np.triu_indices(10, 1)
    tr_e = ens.gram_cov[1:, iu, ju, iu, ju].sum(axis=1)
    tr_g = gau.gram_cov[1:, iu, ju, iu, ju].sum(axis=1)
    np.testing.assert_allclose(tr_e, tr_g, rtol=FW_ENSEMBLE_GAUSSIAN_REL)


def test_ensemble_is_reproducible_per_seed() -> None:
    net = MLP(depth=4, width=300, activation="tanh")
    kw = {"samples": 1 << 10, "closure": "ensemble", "particles": 64}
    a = finite_width(net, X10, seed=3, **kw)  # type: ignore[arg-type]
    b = finite_width(net, X10, seed=3, **kw)  # type: ignore[arg-type]
    c = finite_width(net, X10, seed=4, **kw)  # type: ignore[arg-type]
    for m in METRICS:
        np.testing.assert_array_equal(a.mean(m), b.mean(m))
        np.testing.assert_array_equal(a.sd(m), b.sd(m))
    np.testing.assert_array_equal(a.gram_cov, b.gram_cov)
    assert not np.array_equal(a.mean("gap"), c.mean("gap"))
    assert a.mean("gap")[0] == c.mean("gap")[0] and a.sd("gap")[0] == 0.0  # the input, deterministic


def test_ensemble_rejects_bad_parameters() -> None:
    net = MLP(depth=2, width=100, activation="relu")
    with pytest.raises(ValueError, match="closure must be one of"):
        finite_width(net, X10, closure="gauss")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="particles"):
        finite_width(net, X10, particles=3)
    with pytest.raises(ValueError, match=r"closure=.ensemble.*residual"):
        finite_width(isoinit.ResidualMLP(depth=2, width=10), X10, closure="ensemble")
    # a tabulated activation with random diagonals (no layer scaling): one quadrature per pair
    with pytest.raises(ValueError, match=r"closure=.ensemble.*tanh"):
        finite_width(MLP(depth=2, width=100, activation="tanh", norm="center"), X10, closure="ensemble")
    # where the ensemble does not apply, "auto" is the Gaussian closure
    fw = finite_width(MLP(depth=2, width=100, activation="tanh", norm="center"), X10, samples=1 << 10)
    assert fw.closure == "gaussian" and fw.particles == 0


# --- the result and its failures ------------------------------------------------------------------


def test_result_shapes_and_table(relu_1000: tuple[fwm.FiniteWidthTrajectory, isoinit.Trajectory]) -> None:
    fw, _ = relu_1000
    for m in METRICS:
        assert fw.mean(m).shape == (51,) and fw.sd(m).shape == (51,) and fw.meanfield(m).shape == (51,)
        assert np.all(np.isfinite(fw.mean(m)))
    assert fw.gram_mean.shape == (51, 10, 10) and fw.gram_cov.shape == (51, 10, 10, 10, 10)
    assert fw.sd("gap")[0] == 0.0 and fw.mean("gap")[0] == pytest.approx(fw.meanfield("gap")[0])
    assert np.all(fw.fluctuation_size[1:] < 1.0) and fw.breakdown_at == -1
    assert np.nanmax(fw.sigma_rel_se) < 0.05
    df = fw.to_frame()
    assert set(df.columns) == {"layer", "metric", "mean", "sd", "meanfield"} and len(df) == 51 * len(METRICS)
    # the first block's Gram is the mean field plus b / d: symmetric, unit diagonal (layer norm)
    np.testing.assert_array_equal(np.diagonal(fw.gram_mean, axis1=1, axis2=2), 1.0)
    np.testing.assert_allclose(fw.gram_mean, np.swapaxes(fw.gram_mean, 1, 2))
    assert to_vector(fw.gram_mean[3]).shape == (55,)
    with pytest.raises(ValueError):
        fw.mean("no such metric")


def test_too_narrow_warns() -> None:
    net = MLP(depth=40, width=24, activation="relu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fw = finite_width(net, X10, samples=1 << 12, closure_samples=16)
    assert any(issubclass(w.category, FiniteWidthWarning) for w in caught)
    assert fw.breakdown_at > 0 or np.nanmax(fw.fluctuation_size) > fwm.ETA_WARN
    if fw.breakdown_at > 0:
        assert np.all(np.isnan(fw.mean("gap")[fw.breakdown_at :]))
        assert np.all(np.isfinite(fw.mean("gap")[: fw.breakdown_at]))
    # the ensemble (the default here) reports the particles that left the PSD cone
    assert fw.closure == "ensemble" and fw.redrawn.sum() > 0


def test_refuses_what_it_cannot_predict() -> None:
    with pytest.raises(ValueError, match="batch"):
        finite_width(MLP(depth=2, width=10, norm="batch"), X10)
    with pytest.raises(ValueError, match="Gaussian"):
        finite_width(MLP(depth=2, width=10, weights="orthogonal"), X10)
    with pytest.raises(TypeError, match=r"network must be an isoinit\.MLP or a network of feedforward blocks"):
        finite_width("relu", X10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attention"):
        finite_width(isoinit.Transformer(depth=2, width=16, heads=2), X10)
    with pytest.raises(ValueError, match="one-layer"):
        finite_width(isoinit.ResidualMLP(depth=2, width=10, ratio=None), X10)
    with pytest.raises(ValueError, match="gated"):
        finite_width(isoinit.Network(10, [isoinit.blocks.Feedforward(gated=True)]), X10)
    with pytest.raises(ValueError, match="init"):
        finite_width(isoinit.ResidualMLP(depth=2, width=10, init="gpt2"), X10)
    with pytest.raises(ValueError, match="positions"):
        finite_width(isoinit.ResidualMLP(depth=2, width=10, positions="learned"), X10)
    with pytest.raises(ValueError, match="batch"):
        finite_width(isoinit.ResidualMLP(depth=2, width=10, norm="batch"), X10)
    with pytest.raises(ValueError):
        finite_width(MLP(depth=2, width=10), X10, samples=10)


# --- residual MLPs (docs/finite-width.md, "Residual MLPs") -------------------------------------


_RESIDUAL_CASES = [
    {},  # relu, layer norm, pre-norm, ratio 4, alpha 1
    {"activation": "tanh", "norm": "rms", "alpha": 0.6, "skip": 0.9, "bias": 0.2},
    {"activation": "gelu", "norm_position": "post", "ratio": 2.0},
    {"activation": "relu", "norm": "center", "alpha": "1/sqrt(L)"},
    {"activation": "tanh", "norm_position": "none", "alpha": 0.3, "gain": 1.2},
]


def _stream(n: int, d: int, seed: int) -> np.ndarray:
    """Rows with means over features of both signs and unequal mean squares (a residual stream)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) * np.linspace(0.7, 1.4, n)[:, None] + np.linspace(-0.6, 0.4, n)[:, None]


@pytest.mark.parametrize("kw", _RESIDUAL_CASES, ids=lambda k: "-".join(f"{v}" for v in k.values()) or "default")
def test_residual_mean_map_is_the_mean_field(kw: dict[str, object]) -> None:
    # At infinite width (no fluctuations: C = 0 and a width of 1e300) one block of the
    # augmented-Gram recursion is the mean field, which isoinit.meanfield computes on the
    # centered Gram and the row means (another route)
    x = _stream(5, 300, 1)
    net = isoinit.ResidualMLP(depth=6, width=300, **kw)  # type: ignore[arg-type]
    mf = meanfield.trajectory(net, x)
    kt = _res.initial_state(net, x, meanfield.input_gram(x))
    z = _draws(5, rows=1 << 11)
    for layer, b in enumerate(net.block_list(), start=1):
        blk = dataclasses.replace(_res.ResBlock.of(net, b), width=10**300, hidden=10**300)
        kt = _res.step(blk, kt, np.zeros((21, 21)), z).mean
        np.testing.assert_allclose(kt[:5, :5], mf.grams[layer], rtol=ROUNDING, atol=ROUNDING)


#: Weight draws of the explicit one-block check.
FW_RES_BLOCK_DRAWS = 8000


def _explicit_blocks(x: np.ndarray, net: isoinit.blocks.BlockNetwork, draws: int, seed: int) -> np.ndarray:
    """The augmented Gram ``(K_ij, m_i)`` of one block's output over ``draws`` independent weight draws.

    Explicit weights in NumPy (``Lin1``, ``Lin2`` with their biases, the norm as the simulator
    computes it): independent of the package's formulas. Returns ``(draws, P~)`` entries in the
    order of ``triu_indices(n + 1)`` (the all-ones row last).
    """
    b = net.block_list()[0]
    n, d = x.shape
    hidden = round(b.ratio * d)
    act = net.act.fn
    alpha, skip = (net._resolved_alpha(b.alpha), b.skip) if b.residual else (1.0, 0.0)

    def norm(v: np.ndarray) -> np.ndarray:
        center, scale = {"layer": (True, True), "rms": (False, True), "center": (True, False)}.get(
            b.norm, (False, False)
        )
        if center:
            v = v - v.mean(axis=-1, keepdims=True)
        if scale:
            v = v / np.sqrt(np.mean(v * v, axis=-1, keepdims=True) + net.eps)
        return v

    rng = np.random.default_rng(seed)
    i, j = np.triu_indices(n + 1)
    out = []
    chunk = 200
    for _ in range(draws // chunk):
        u = norm(x) if b.norm_position == "pre" else x
        w1 = rng.standard_normal((chunk, d, hidden)) * (net.gain / math.sqrt(d))
        w2 = rng.standard_normal((chunk, hidden, d)) * (net.gain / math.sqrt(hidden))
        b1 = rng.standard_normal((chunk, 1, hidden)) * net.bias
        b2 = rng.standard_normal((chunk, 1, d)) * net.bias
        f = act(u @ w1 + b1) @ w2 + b2
        y = skip * x + alpha * f
        if b.norm_position == "post":
            y = norm(y)
        aug = np.concatenate([y, np.ones((chunk, 1, d))], axis=1)
        out.append((aug @ np.swapaxes(aug, 1, 2) / d)[:, i, j])
    return np.concatenate(out)


@pytest.mark.parametrize(
    ("kw", "d"),
    [
        ({"activation": "tanh", "alpha": 0.7, "skip": 0.9, "bias": 0.2, "ratio": 2.0}, 24),
        ({"activation": "relu", "norm": "rms", "gain": 1.3, "ratio": 1.5}, 24),
        ({"activation": "gelu", "residual": False}, 24),
        ({"activation": "gelu", "norm_position": "post", "ratio": 1.0}, 60),
    ],
)
def test_residual_block_moments_against_explicit_weights(kw: dict[str, object], d: int) -> None:
    # One block's conditional mean and covariance of the augmented Gram (the cross terms
    # X F^T / d, the Wishart F F^T / d and the hidden Gram's V / H: exact at any width; a
    # post-norm by the delta method, to O(1/d)) against explicit Gaussian weights in NumPy
    n = 3
    x = _stream(n, d, 2)
    residual = kw.pop("residual", True)
    if residual:
        net = isoinit.ResidualMLP(depth=1, width=d, **kw)  # type: ignore[arg-type]
    else:
        net = isoinit.Network(d, [isoinit.blocks.Feedforward(residual=False)], **kw)  # type: ignore[arg-type]
    kt = _res.initial_state(net, x, meanfield.input_gram(x))
    size = (n + 1) * (n + 2) // 2
    st = _res.step(_res.ResBlock.of(net, net.block_list()[0]), kt, np.zeros((size, size)), _draws(n, rows=1 << 16))
    g = _explicit_blocks(x, net, FW_RES_BLOCK_DRAWS, 3)
    i, j = np.triu_indices(n + 1)
    # the all-ones row's entry is 1 exactly, and so are a post-norm's diagonal and its m (0)
    live = g.std(axis=0) > ROUNDING
    fixed = ~live
    np.testing.assert_allclose(st.mean[i, j][fixed], g[0, fixed], atol=ROUNDING)
    se_mean = g.std(axis=0) / math.sqrt(g.shape[0])
    assert np.all(np.abs(g.mean(axis=0) - st.mean[i, j])[live] <= FW_RES_BLOCK_SIGMAS * se_mean[live])
    g = g[:, live]
    dev = g - g.mean(axis=0)
    emp = dev.T @ dev / g.shape[0]
    se = (dev[:, :, None] * dev[:, None, :]).std(axis=0) / math.sqrt(g.shape[0])
    pred = st.cov[np.ix_(live, live)]  # the recursion's entries are in the order of triu_indices(n + 1)
    assert np.all(np.abs(emp - pred) <= FW_RES_BLOCK_SIGMAS * se + FW_RES_BLOCK_REL * np.abs(pred))
    assert np.trace(pred) == pytest.approx(np.trace(emp), rel=FW_RES_BLOCK_TRACE_REL)
    assert np.all(np.abs(st.cov[fixed]) <= ROUNDING)


# --- bounds.predict states the plateau -------------------------------------------------------------


def test_predict_states_the_plateau_and_the_width() -> None:
    net = MLP(depth=50, width=1000, activation="relu")
    p = bounds.predict(net, n=10)
    assert p.plateau == plateau("relu", 10, 1000) and p.plateau_sd == plateau_sd("relu", 10, 1000)
    assert p.width_for == width_for("relu", 10, 0.01) == 974 and p.eps == 0.01 and p.n == 10
    assert "settles at the plateau" in p.statement and "0.00974" in p.statement and "from width 974" in p.statement
    assert bounds.predict(net, n=10, eps=0.001).width_for == width_for("relu", 10, 0.001)
    # the last block's width sets the plateau (the noise of the last ~1 / (1 - beta_0^2) layers)
    assert bounds.predict(MLP(depth=2, width=(4000, 500), activation="relu"), n=10).plateau == plateau("relu", 10, 500)
    # without n, or where the fixed point is not G = I, nothing is stated
    bare = bounds.predict(net)
    assert bare.plateau is None and bare.width_for is None and "plateau" not in bare.statement
    assert p.statement.startswith(bare.statement)
    for other in (
        MLP(depth=5, width=100, activation="relu", norm="rms"),  # collapse, not isometry
        MLP(depth=5, width=100, activation="relu", bias=0.3),  # an interior fixed point
        MLP(depth=5, width=100, activation="relu", norm="mf"),  # fixed constants drift
        MLP(depth=5, width=100, activation="relu", order="norm-act"),
        MLP(depth=5, width=100, activation="relu", norm="batch"),
    ):
        q = bounds.predict(other, n=10)
        assert q.plateau is None and q.width_for is None and "plateau" not in q.statement, other.label()
    lin = bounds.predict(MLP(depth=5, width=100, activation="identity"), n=10)
    assert lin.plateau == math.inf and lin.width_for is None and "grows with depth" in lin.statement
    with pytest.raises(ValueError, match="eps must be > 0"):
        bounds.predict(net, n=10, eps=0.0)
    with pytest.raises(ValueError, match="n must be"):
        bounds.predict(net, n=1)


def _check_residual(net: isoinit.ResidualMLP, runs: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gap of a residual MLP on the headline input: mean within FW_MEAN_REL and FW_RES_MEAN_SIGMAS
    standard errors, sd within FW_SD_REL, at every layer; returns the simulated mean, its
    standard error and the mean field."""
    x = degenerate(10, net.width, 100.0, seed=0)
    fw = finite_width(net, x, samples=1 << 14, closure_samples=64)
    tr = isoinit.simulate(net, x, runs=runs, seed=seed, sampler="gram")
    sim_mean, sim_sd = tr.gap.mean(axis=0), tr.gap.std(axis=0)
    se = sim_sd / math.sqrt(runs)
    for layer in range(1, net.depth + 1):
        assert fw.mean("gap")[layer] == pytest.approx(sim_mean[layer], rel=FW_MEAN_REL), layer
        assert abs(fw.mean("gap")[layer] - sim_mean[layer]) <= FW_RES_MEAN_SIGMAS * se[layer], layer
        assert fw.sd("gap")[layer] == pytest.approx(sim_sd[layer], rel=FW_SD_REL), layer
    assert fw.breakdown_at == -1
    return sim_mean, se, fw.meanfield("gap")


def test_residual_width_1000() -> None:
    # the default residual MLP: relu, pre-norm layer norm, ratio 4, alpha 1, depth 50
    _check_residual(isoinit.ResidualMLP(depth=50, width=1000), runs=1000, seed=21)


@pytest.mark.slow
def test_residual_width_4000() -> None:
    _check_residual(isoinit.ResidualMLP(depth=50, width=4000), runs=300, seed=24)


def test_residual_width_256_resolves_the_finite_width_shift() -> None:
    # at width 256 the simulated mean sits 1.4 % above the mean field, 11 standard errors or more
    # with 1000 runs: the mean field fails the check the prediction passes
    sim_mean, se, mf = _check_residual(isoinit.ResidualMLP(depth=50, width=256), runs=1000, seed=25)
    assert np.all(np.abs(mf[3:] - sim_mean[3:]) > FW_RES_MEAN_SIGMAS * se[3:])


def test_residual_post_norm() -> None:
    # post-norm at width 256, where the mean field is 4 % (20 standard errors) off
    _check_residual(isoinit.ResidualMLP(depth=20, width=256, activation="tanh", norm_position="post"), 500, 28)
