"""Mean field of attention (Theory §6): the expectation over random scores against isoinit's own
simulation, closed forms, independent brute-force expectations, and the REM limit.

1. Giorlandino and Goldt's encoder (post- and pre-norm, beta in {0.5, 1, 3}, plain and
   gain-controlled attention): the mean token cosine of the mean field agrees with the mean
   of 16 simulated networks at every block (CI size: T = 16, width 2048, 4 heads, 8 blocks;
   the full size of the issue, T = 64, width 4096, 8 heads, 16 blocks, is bench/bench_attention.py);
2. ``score="linear"``: uniform averaging, in closed form;
3. the Monte Carlo expectation ``E_S[A K_V A^T]`` against a quadrature (two tokens) and against
   a brute-force Monte Carlo from the explicit covariance of the scores (three tokens);
4. determinism, the standard error's calibration, PSD output, refusals;
5. the REM limit: the participation, Giorlandino and Goldt's own recursion, the regimes.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

import isoinit
from isoinit.metrics import mean_correlation
from isoinit.networks.blocks import Attention, Feedforward, Network, Transformer, TransformerBlock
from isoinit.theory import _attention, bounds, finite_width, meanfield
from tolerances import (
    ATTENTION_MF_ABS,
    ATTENTION_MF_ISSUE_ABS,
    EXCHANGEABLE_METRICS_REL,
    MC_SIGMAS,
    MEANFIELD_MAP_ABS,
    ROUNDING,
    SAME_FORMULA,
    STDERR_CALIBRATION,
)

Array = NDArray[np.float64]


def encoder(depth: int, width: int, heads: int, tokens: int, beta: float, position: str, centred: bool) -> Transformer:
    """Giorlandino and Goldt's encoder block: no Wo, ReLU MLP of width d, value and MLP weights
    N(0, 0.2 / d), biases N(0, 0.02^2), queries and keys N(0, beta sqrt(log T) / d)."""
    gain = math.sqrt(0.2)
    return Transformer(
        depth,
        width,
        heads=heads,
        norm_position=position,  # type: ignore[arg-type]
        ratio=1.0,
        activation="relu",
        out_proj=False,
        gain=gain,
        qk_gain=bounds.rem_qk_gain(beta, tokens, gain=gain),
        biases={"value": 0.02, "mlp": 0.02},
        centred=centred,
        final_norm=False,
    )


def correlated_tokens(tokens: int, width: int, rho: float, seed: int) -> Array:
    rng = np.random.default_rng(seed)
    return np.asarray(
        math.sqrt(rho) * rng.standard_normal((1, width)) + math.sqrt(1 - rho) * rng.standard_normal((tokens, width))
    )


def with_gram(k: Array, width: int, seed: int = 0) -> Array:
    """A batch whose Gram X X^T / width is ``k`` (to rounding), rows of mean 0 over features."""
    z = np.random.default_rng(seed).standard_normal((width, k.shape[0]))
    q, _ = np.linalg.qr(z - z.mean(axis=0))  # orthonormal columns orthogonal to the ones vector
    return np.asarray(math.sqrt(width) * np.linalg.cholesky(k) @ q.T)


# ---------------------------------------------------------------------------------------
# 1. against isoinit's simulation
# ---------------------------------------------------------------------------------------

T, WIDTH, HEADS, DEPTH, RUNS = 16, 2048, 4, 8, 16
X = correlated_tokens(T, WIDTH, 0.2, seed=1)
CONFIGS = [(p, b, c) for p in ("post", "pre") for b in (0.5, 1.0, 3.0) for c in (False, True)]


#: The issue's size (T = 64, width 4096, 8 heads, 16 blocks, 16 networks).
ISSUE_T, ISSUE_WIDTH, ISSUE_HEADS, ISSUE_DEPTH = 64, 4096, 8, 16
#: (tokens, width, heads, blocks, batch, tolerance) of each size the comparison runs at
SIZES = {
    "small": (T, WIDTH, HEADS, DEPTH, X, ATTENTION_MF_ABS),
    "issue": (
        ISSUE_T,
        ISSUE_WIDTH,
        ISSUE_HEADS,
        ISSUE_DEPTH,
        correlated_tokens(64, 4096, 0.2, seed=1),
        ATTENTION_MF_ISSUE_ABS,
    ),
}


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize(
    ("position", "beta", "centred"), CONFIGS, ids=[f"{p}-beta{b:g}-{'gc' if c else 'plain'}" for p, b, c in CONFIGS]
)
def test_mean_token_cosine_agrees_with_simulation(position: str, beta: float, centred: bool, size: str) -> None:
    tokens, width, heads, depth, x, tol = SIZES[size]
    net = encoder(depth, width, heads, tokens, beta, position, centred)
    mf = meanfield.trajectory(net, x)
    sim = isoinit.simulate(net, x, runs=RUNS, seed=0, sampler="gram", grams=True, progress=False)
    assert sim.grams is not None and mf.stderr is not None and mf.samples == 1024
    err = np.abs(mean_correlation(mf.grams) - mean_correlation(sim.grams).mean(axis=0))
    assert err.max() < tol, err
    assert np.all(mf.metric_stderr["mean_abs_corr"][1:] < tol / 10)  # type: ignore[index]


def test_the_comparison_has_power() -> None:
    """The mean field of a network whose queries and keys are half as large (beta / 4)
    misses the simulation by more than the tolerance."""
    net = encoder(DEPTH, WIDTH, HEADS, T, 3.0, "post", False)
    wrong = encoder(DEPTH, WIDTH, HEADS, T, 3.0 / 4, "post", False)
    sim = isoinit.simulate(net, X, runs=RUNS, seed=0, sampler="gram", grams=True, progress=False)
    assert sim.grams is not None
    err = np.abs(mean_correlation(meanfield.trajectory(wrong, X).grams) - mean_correlation(sim.grams).mean(axis=0))
    assert err.max() > 2 * ATTENTION_MF_ABS


def test_attention_only_stack_collapses_as_in_simulation() -> None:
    """No residual, no norm: attention averages the tokens to rank one (Dong et al. 2021)."""
    net = Network(WIDTH, [Attention(heads=HEADS, residual=False, norm_position="none")] * 6)
    mf = meanfield.trajectory(net, X)
    sim = isoinit.simulate(net, X, runs=4, seed=0, sampler="gram", grams=True, progress=False)
    assert sim.grams is not None
    assert mean_correlation(mf.grams)[-1] > 0.999
    assert abs(mean_correlation(mf.grams)[-1] - mean_correlation(sim.grams)[:, -1].mean()) < ATTENTION_MF_ABS


# ---------------------------------------------------------------------------------------
# 2. 1/d_h scores: uniform averaging, exactly
# ---------------------------------------------------------------------------------------


def test_linear_scores_average_uniformly_in_closed_form() -> None:
    """Attention-only, no norm, 1/d_h scores: K_l = gain^(4 l) mean(K_0) 1 1^T, with no Monte Carlo."""
    g, depth = 1.3, 3
    net = Network(64, [Attention(heads=2, score="linear", residual=False, norm_position="none")] * depth, gain=g)
    x = correlated_tokens(6, 64, 0.3, seed=2)
    traj = meanfield.trajectory(net, x)
    assert traj.samples == 0 and traj.stderr is None and traj.metric_stderr is None
    k0 = x @ x.T / 64
    for layer in range(1, depth + 1):
        np.testing.assert_allclose(traj.grams[layer], g ** (4 * layer) * k0.mean() * np.ones((6, 6)), rtol=ROUNDING)


def test_linear_scores_causal_with_biases_residual_and_post_norm() -> None:
    """The test's own recursion: K' = LN(skip^2 K + alpha^2 (gain^2 U (gain^2 K + b_v^2) U^T + b_o^2))
    with U the causal averaging matrix and LN acting on the centred Gram and the rows' means."""
    gain, skip, alpha, bv, bo, n, d = 0.9, 0.8, 0.6, 0.3, 0.2, 5, 32
    blk = Attention(heads=2, causal=True, score="linear", norm_position="post", skip=skip, alpha=alpha)
    net = Network(d, [blk] * 3, gain=gain, biases={"value": bv, "out": bo})
    x = correlated_tokens(n, d, 0.3, seed=3) + np.linspace(-0.5, 0.5, n)[:, None]  # rows with means
    u = np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]
    m = x.mean(axis=1)
    c = (x - m[:, None]) @ (x - m[:, None]).T / d
    expected = [c + np.outer(m, m)]
    for _ in range(3):
        k = c + np.outer(m, m)
        branch = gain**2 * (u @ (gain**2 * k + bv**2) @ u.T) + bo**2
        c, m = skip**2 * c + alpha**2 * branch, skip * m
        s = 1 / np.sqrt(np.diag(c))  # layer norm: centring drops m, scaling divides by the rows' norms
        c, m = c * np.outer(s, s), np.zeros(n)
        expected.append(c)
    np.testing.assert_allclose(
        meanfield.trajectory(net, x).grams, np.array(expected), rtol=SAME_FORMULA * 100, atol=1e-15
    )


def test_centred_linear_attention_is_the_identity_branch() -> None:
    """Gain-controlled attention with 1/d_h scores is exactly 0: K_l = skip^(2 l) K_0."""
    net = Network(32, [Attention(heads=4, score="linear", centred=True, norm_position="none", skip=0.7)] * 4)
    x = correlated_tokens(5, 32, 0.3, seed=4)
    grams = meanfield.trajectory(net, x).grams
    for layer in range(5):
        np.testing.assert_allclose(grams[layer], 0.7 ** (2 * layer) * (x @ x.T / 32), rtol=SAME_FORMULA)


# ---------------------------------------------------------------------------------------
# 3. the Monte Carlo expectation against independent routes
# ---------------------------------------------------------------------------------------


def one_attention(d: int, qk_gain: float, causal: bool = False, centred: bool = False) -> Network:
    """One head, no residual, norm or Wo, gain 1: G^1 = E_S[A K A^T] with K_qk = qk_gain^2 K."""
    blk = Attention(
        heads=1, residual=False, norm_position="none", out_proj=False, qk_gain=qk_gain, causal=causal, centred=centred
    )
    return Network(d, [blk])


def two_token_quadrature(k: Array, kqk: Array, causal: bool, nodes: int = 120) -> Array:
    """E[a_i^T K a_k] for two tokens by Gauss-Hermite quadrature: row i's softmax is
    (sigmoid(d_i), sigmoid(-d_i)) with d_i = s_i1 - s_i2, and (d_1, d_2) is Gaussian with
    Cov(d_i, d_k) = K_qk[i, k] (K_qk[0, 0] + K_qk[1, 1] - 2 K_qk[0, 1])."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    v = kqk[0, 0] + kqk[1, 1] - 2 * kqk[0, 1]
    chol = np.linalg.cholesky(v * kqk + 1e-300 * np.eye(2))
    d1 = chol[0, 0] * z[:, None] + 0 * z[None, :]
    d2 = chol[1, 0] * z[:, None] + chol[1, 1] * z[None, :]
    ww = w[:, None] * w[None, :]

    def rows(d: Array) -> Array:
        p = 1 / (1 + np.exp(-d))
        return np.stack([p, 1 - p])

    a = [np.stack([np.ones_like(d1), np.zeros_like(d1)]) if causal else rows(d1), rows(d2)]
    return np.array([[np.sum(ww * np.einsum("a...,ab,b...->...", a[i], k, a[j])) for j in range(2)] for i in range(2)])


@pytest.mark.parametrize(
    ("k", "causal"),
    [
        (np.array([[1.0, 0.3], [0.3, 1.0]]), False),  # exchangeable: two rows per draw
        (np.array([[1.4, 0.5], [0.5, 0.7]]), False),  # whole score matrices
        (np.array([[1.4, 0.5], [0.5, 0.7]]), True),
    ],
    ids=["exchangeable", "general", "causal"],
)
def test_two_tokens_against_quadrature(k: Array, causal: bool) -> None:
    qk = 1.7
    traj = meanfield.trajectory(one_attention(16, qk, causal), with_gram(k, 16), samples=1 << 15)
    assert traj.stderr is not None
    exact = two_token_quadrature(k, qk**2 * k, causal)
    err = np.abs(traj.grams[1] - exact)
    assert np.all(err <= MC_SIGMAS * traj.stderr[1] + ROUNDING), (err, traj.stderr[1])


@pytest.mark.parametrize(
    ("causal", "centred"), [(False, False), (False, True), (True, False)], ids=["plain", "centred", "causal"]
)  # causal and centred: token 0's row is exactly 0, a zero diagonal (the trajectory stops there)
def test_three_tokens_against_brute_force_monte_carlo(causal: bool, centred: bool) -> None:
    """Scores drawn from their 9 x 9 covariance Cov(s_ij, s_kl) = K_qk[i,k] K_qk[j,l] written
    out entry by entry (NumPy's generator), softmax by rows, mean of A K A^T."""
    k = np.array([[1.0, 0.6, 0.1], [0.6, 1.3, -0.2], [0.1, -0.2, 0.8]])
    qk = 1.5
    kqk = qk**2 * k
    traj = meanfield.trajectory(one_attention(24, qk, causal, centred), with_gram(k, 24), samples=1 << 14)
    assert traj.stderr is not None
    cov = np.array(
        [[kqk[i, kk] * kqk[j, ll] for kk in range(3) for ll in range(3)] for i in range(3) for j in range(3)]
    )
    draws = 400_000
    s = np.random.default_rng(5).multivariate_normal(np.zeros(9), cov, size=draws, method="eigh").reshape(draws, 3, 3)
    mask = np.tril(np.ones((3, 3), bool)) if causal else np.ones((3, 3), bool)
    s = np.where(mask, s, -np.inf)
    a = np.exp(s - s.max(axis=2, keepdims=True))
    a /= a.sum(axis=2, keepdims=True)
    if centred:
        a -= mask / mask.sum(axis=1, keepdims=True)
    each = np.einsum("mij,jk,mlk->mil", a, k, a)
    brute, brute_se = each.mean(axis=0), each.std(axis=0) / math.sqrt(draws)
    err = np.abs(traj.grams[1] - brute)
    assert np.all(err <= MC_SIGMAS * np.sqrt(traj.stderr[1] ** 2 + brute_se**2) + ROUNDING), err


# ---------------------------------------------------------------------------------------
# 4. determinism, standard errors, PSD output, refusals
# ---------------------------------------------------------------------------------------

SMALL = Network(
    64,
    [
        TransformerBlock(heads=2, norm_position="post", qk_gain=1.5, causal=True),
        Feedforward(),
        Attention(heads=4, qk_gain=2.0, out_proj=False),
    ]
    * 2,
    activation="gelu",
    biases={"qk": 0.1, "value": 0.05, "out": 0.05, "mlp": 0.05},
)
XS = correlated_tokens(8, 64, 0.3, seed=6)


def test_a_seed_reproduces_the_result_and_another_seed_varies_within_the_standard_error() -> None:
    a, b = meanfield.trajectory(SMALL, XS, seed=3), meanfield.trajectory(SMALL, XS, seed=3)
    assert a == b
    c = meanfield.trajectory(SMALL, XS, seed=4)
    assert a.stderr is not None and c.stderr is not None
    off = ~np.eye(8, dtype=bool)
    se = np.sqrt(a.stderr**2 + c.stderr**2)[1:][:, off]
    z = (a.grams - c.grams)[1:][:, off] / se
    rms = float(np.sqrt(np.mean(z**2)))
    assert STDERR_CALIBRATION[0] < rms < STDERR_CALIBRATION[1], rms


def test_grams_are_symmetric_psd_and_finite() -> None:
    traj = meanfield.trajectory(SMALL, XS)
    assert traj.diverged_at == -1 and np.all(np.isfinite(traj.grams))
    np.testing.assert_array_equal(traj.grams, np.swapaxes(traj.grams, 1, 2))
    lam = np.linalg.eigvalsh(traj.grams)
    assert np.all(lam >= -ROUNDING * lam.max(axis=1, keepdims=True))


def test_exchangeable_input_stays_exchangeable() -> None:
    """Bidirectional attention on equally correlated tokens: the fast path keeps the Gram
    exchangeable (constant diagonal, constant off-diagonal) through every block."""
    n, d = 12, 48
    x = with_gram(0.25 + 0.75 * np.eye(n), d)
    traj = meanfield.trajectory(encoder(4, d, 2, n, 3.0, "post", False), x)
    for g in traj.grams[1:]:
        assert _attention.exchangeable(g) is not None


@pytest.mark.parametrize(
    ("net", "match"),
    [
        (Transformer(2, 16, heads=2, rope_base=10000.0), r"rotary embeddings \(block 0: rope_base=10000\)"),
        (Transformer(2, 16, heads=2, init="gpt2"), r"init='gaussian'"),
        (Network(16, [Attention(heads=2, norm="batch")]), r"batch normalization \(block 0\)"),
    ],
    ids=["rope", "gpt2", "batch"],
)
def test_refusals_name_the_reason(net: Network, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        meanfield.trajectory(net, correlated_tokens(4, 16, 0.2, seed=0))


def test_samples_and_seed_are_validated() -> None:
    net = Network(16, [Attention(heads=2)])
    x = correlated_tokens(4, 16, 0.2, seed=0)
    with pytest.raises(ValueError, match="samples"):
        meanfield.trajectory(net, x, samples=8)
    with pytest.raises(ValueError, match="seed"):
        meanfield.trajectory(net, x, seed=-1)
    assert meanfield.trajectory(net, x, samples=100).samples == 96  # rounded down to a multiple of 16


def test_monte_carlo_results_save_and_load(tmp_path: Path) -> None:
    traj = meanfield.trajectory(Network(16, [Attention(heads=2)] * 2), correlated_tokens(5, 16, 0.2, seed=0))
    traj.save(tmp_path / "mf.npz")
    back = isoinit.load(tmp_path / "mf.npz")
    assert back == traj and back.samples == 1024 and back.stderr is not None


def test_finite_width_still_refuses_attention() -> None:
    with pytest.raises(ValueError, match=r"1/d correction.*block 0 is an attention block"):
        finite_width.finite_width(Network(16, [Attention(heads=2)]), correlated_tokens(4, 16, 0.2, seed=0))


# ---------------------------------------------------------------------------------------
# 5. the REM limit (Giorlandino and Goldt)
# ---------------------------------------------------------------------------------------


def test_rem_participation_and_beta_c() -> None:
    tokens = 512
    for beta in (0.5, 1.0, math.sqrt(2)):
        assert _attention.rem_participation(beta**2 * math.log(tokens), tokens) == 0.0
    for beta in (2.0, 3.0):
        assert _attention.rem_participation(beta**2 * math.log(tokens), tokens) == pytest.approx(
            1 - math.sqrt(2) / beta, rel=SAME_FORMULA
        )
    assert bounds.rem_beta_c(0.0) == pytest.approx(math.sqrt(2), rel=SAME_FORMULA)
    assert bounds.rem_beta_c(0.5) == pytest.approx(2.0, rel=SAME_FORMULA)
    assert bounds.rem_beta_c(1.0) == math.inf
    net = encoder(2, 32, 1, tokens, 3.0, "post", False)
    assert bounds.rem_beta(net, tokens) == pytest.approx(3.0, rel=SAME_FORMULA)


def test_rem_conversions_validate_their_arguments() -> None:
    assert bounds.rem_qk_gain(2.0, 64, gain=0.5) == pytest.approx(math.sqrt(2 * math.sqrt(math.log(64))) / 0.5)
    for call, match in [
        (lambda: bounds.rem_qk_gain(1.0, 64, gain=0.0), "gain must be > 0"),
        (lambda: bounds.rem_qk_gain(-1.0, 64), "beta must be >= 0"),
        (lambda: bounds.rem_qk_gain(1.0, 1), "tokens must be an integer >= 2"),
        (lambda: bounds.rem_beta_c(1.5), r"rho must be in \[-1, 1\]"),
        (lambda: bounds.rem_beta(isoinit.ResidualMLP(2, 16), 64), "net must have an attention block"),
        (lambda: bounds.predict(Network(16, [Attention()]), n=64).rem(2.0), r"rho0 must be in \[-1, 1\]"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()


def gg_post_ln(
    p: float, beta: float, var_w: float, var_v: float, var_b: float, alpha_sa: float, alpha_mlp: float
) -> float:
    """Giorlandino and Goldt's post-LN block update with a ReLU MLP, written from their paper's
    recursion: attention (REM), value variance var_v and bias var_b, residual, LN; ReLU MLP."""
    beta_c = math.sqrt(2 / (1 - p))
    q_att = p if beta < beta_c else p + (1 - p) * (1 - beta_c / beta)
    p0 = (var_v * p + var_b + alpha_sa**2 * p) / (var_v * q_att + var_b + alpha_sa**2)
    q1, p1 = var_w + var_b, var_w * p0 + var_b
    c = p1 / q1
    relu = (math.sqrt(1 - c * c) + c * (math.pi - math.acos(c))) / math.pi
    q_mlp, p_mlp = var_w * q1 / 2 + var_b, var_w * q1 / 2 * relu + var_b
    return (p_mlp + alpha_mlp**2 * p0) / (q_mlp + alpha_mlp**2)


@pytest.mark.parametrize("beta", [0.5, 3.0])
def test_rem_recursion_is_giorlandino_and_goldts(beta: float) -> None:
    tokens, depth = 512, 12
    pred = bounds.predict(encoder(depth, 720, 1, tokens, beta, "post", False), n=tokens)
    rem = pred.rem(0.2)
    expected = [0.2]
    for _ in range(depth):
        expected.append(gg_post_ln(expected[-1], beta, 0.2, 0.2, 0.02**2, 1.0, 1.0))
    np.testing.assert_allclose(rem, expected, atol=MEANFIELD_MAP_ABS * depth)


def test_rem_regimes_of_their_figure_1() -> None:
    """Their Figure 1: beta = 0.5 averages the tokens into rank collapse over 50 blocks; beta = 3
    freezes attention on a few tokens (entropy collapse) and collapses more slowly; 4 blocks at
    beta = 0.5 keep the tokens apart."""
    tokens = 512
    low = bounds.predict(encoder(50, 720, 1, tokens, 0.5, "post", False), n=tokens)
    high = bounds.predict(encoder(50, 720, 1, tokens, 3.0, "post", False), n=tokens)
    short = bounds.predict(encoder(4, 720, 1, tokens, 0.5, "post", False), n=tokens)
    assert low.regime == "rank collapse" and "rank collapse" in low.statement and low.participation == 0
    assert low.rho_out >= _attention.RANK_COLLAPSE_RHO and low.rho_star == pytest.approx(1.0)
    assert high.regime == "entropy collapse" and high.participation > 0
    assert high.beta_c == bounds.rem_beta_c(high.rho_out)
    assert short.regime == "signal preserved" and short.rho_out < _attention.RANK_COLLAPSE_RHO
    assert low.rem(0.2)[20] > high.rem(0.2)[20]


def test_rem_participation_per_block() -> None:
    """``participations`` gives every attention block's Y_2 along the recursion (NaN for the
    feedforward halves): the first block's is the REM value at the input's correlation, and
    the largest is the prediction's ``participation``."""
    tokens, rho0 = 512, 0.2
    pred = bounds.predict(isoinit.presets.gg_encoder(10, 720, tokens, 3.0), n=tokens)
    y2 = pred.participations(rho0)
    assert y2.shape == (20,) and np.isnan(y2[1::2]).all()
    beta_eff2 = 3.0**2 * (1 - rho0)  # the independent parts' variance over log T
    assert y2[0] == pytest.approx(1 - math.sqrt(2 / beta_eff2), rel=SAME_FORMULA)
    assert np.all(np.diff(y2[::2]) <= 0)  # the tokens correlate, beta_c rises, attention thaws
    assert np.nanmax(pred.participations(0.0)) == pred.participation
    # the freezing ratio beta_eff / sqrt(2) is above 1 exactly where Y_2 = 1 - 1 / ratio > 0
    # (30 layers: attention thaws after about 20)
    _, y2, ratio = _attention.rem_run(isoinit.presets.gg_encoder(30, 720, tokens, 3.0), tokens, rho0)
    np.testing.assert_array_equal(np.isnan(ratio), np.isnan(y2))
    frozen = ratio[::2] > 1
    assert frozen.any() and not frozen.all()
    np.testing.assert_allclose(y2[::2][frozen], 1 - 1 / ratio[::2][frozen], rtol=SAME_FORMULA)
    assert np.all(y2[::2][~frozen] == 0)
    with pytest.raises(ValueError, match="rho0"):
        pred.participations(1.5)


@pytest.mark.parametrize("kw", [{}, {"norm_position": "pre"}, {"centred": True}], ids=["post", "pre", "centred"])
def test_exchangeable_tokens_run_as_one_pair(kw: dict[str, object]) -> None:
    """An exchangeable input runs the recursion on one pair of tokens with the same draws:
    the Grams, their standard errors and the metrics' standard errors of all the tokens."""
    x = isoinit.inputs.correlated(24, 64, 0.2, seed=3)
    net = isoinit.presets.gg_encoder(6, 64, 24, 3.0, **kw)  # type: ignore[arg-type]
    g0 = x @ x.T / 64
    pair = _attention.monte_carlo_grams(net, x, g0, samples=256, seed=1)
    full = _attention.monte_carlo_grams(net, x, g0, samples=256, seed=1, reduce=False)
    assert pair.stderr is not None and full.stderr is not None
    np.testing.assert_allclose(pair.grams, full.grams, rtol=0, atol=ROUNDING)
    np.testing.assert_allclose(pair.stderr, full.stderr, rtol=0, atol=ROUNDING)
    assert pair.metric_stderr is not None and full.metric_stderr is not None
    for name, se in full.metric_stderr.items():
        np.testing.assert_allclose(pair.metric_stderr[name], se, rtol=0, atol=ROUNDING * max(1.0, np.nanmax(se)))
    # a causal block, or tokens that are not exchangeable, keep every token
    causal = Network(64, [Attention(heads=2, causal=True)])
    assert _attention._pair_state(causal, _attention.input_state(causal, x, g0)[0]) is None
    y = correlated_tokens(24, 64, 0.2, seed=1)
    assert _attention._pair_state(net, _attention.input_state(net, y, y @ y.T / 64)[0]) is None


def test_exchangeable_metrics_in_closed_form() -> None:
    from isoinit.metrics import METRICS, _measure

    rng = np.random.default_rng(0)
    for n in (2, 3, 17, 300):
        q = rng.uniform(0.1, 5.0, 40)
        rho = np.concatenate([rng.uniform(-1 / (n - 1) + 1e-3, 1 - 1e-6, 36), [0.0, 1.0, 1 - 1e-15, -1 / (n - 1)]])
        pairs = np.empty((40, 2, 2))
        pairs[:, 0, 0] = pairs[:, 1, 1] = q
        pairs[:, 0, 1] = pairs[:, 1, 0] = rho * q
        full = np.empty((40, n, n))
        full[:] = (rho * q)[:, None, None]
        full[:, np.arange(n), np.arange(n)] = q[:, None]
        got, want = _attention.exchangeable_metrics(pairs, n), _measure(full)
        for name in METRICS:
            finite = np.isfinite(want[name])
            np.testing.assert_array_equal(np.isfinite(got[name]), finite, err_msg=name)  # singular ones alike
            np.testing.assert_allclose(
                got[name][finite], want[name][finite], rtol=EXCHANGEABLE_METRICS_REL, atol=ROUNDING, err_msg=name
            )


def test_rem_refusals() -> None:
    with pytest.raises(ValueError, match="bidirectional"):
        bounds.predict(Network(16, [Attention(heads=2, causal=True)]), n=64)
    with pytest.raises(ValueError, match="number of tokens"):
        bounds.predict(Network(16, [Attention(heads=2)]))
    with pytest.raises(TypeError, match="block network with attention"):
        bounds.predict(isoinit.ResidualMLP(2, 16), n=8)  # type: ignore[call-overload]


def test_rem_is_the_large_t_limit_of_the_mean_field() -> None:
    """The exact mean field's participation Y_2 = E sum_j A_ij^2 approaches the REM value as T
    grows, from above (T^(-1) tokens share the weight below beta_c; above it, the finite-T
    corrections are O(1 / log T))."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for beta in (1.0, 3.0):
            gaps = []
            for tokens in (16, 256, 4096):
                mc = _attention.MonteCarlo(0, 0, 128)
                qk = (beta * math.sqrt(math.log(tokens)), 0.0)
                y2, _ = mc._exchangeable(1, tokens, qk, (1.0, 0.0), False)  # the diagonal: Y_2
                gaps.append(y2 - _attention.rem_participation(beta**2 * math.log(tokens), tokens))
            assert 0 < gaps[2] < gaps[1] < gaps[0], gaps
