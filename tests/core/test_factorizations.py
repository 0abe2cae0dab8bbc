"""The Gram sampler's Cholesky square root and the metric selection (the kernel's factor.hpp).

Exactness of the square root: for any R with R R^T = G the sampler's H = gain R Z has
E[H H^T] / d_out = gain^2 G; checked on the mean of the recorded linear-stage Grams over
runs, on regular Grams (hand-written loops below 16 rows, BLAS above) and on singular ones
(n > d: the semidefinite Cholesky), within 6 Monte Carlo standard errors per entry
(Var (H H^T / d)_ij = gain^4 (G_ii G_jj + G_ij^2) / d for Gaussian weights; false-failure
rate ~2e-9 per entry). A KS test against the weights sampler covers a collapsed batch. The
metric selection: asked metrics are the full computation's values, the others NaN and refused
by name. The spectrum of a Gram of rank d < n (d <= 0.85 n) comes from the d x d dual X^T X:
checked against the n x n Gram's own eigenvalues (metrics.gram_metrics on the recorded Grams).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import isoinit
from isoinit.metrics import METRICS
from tolerances import DUAL_SPECTRUM_REL, FLOAT32_GAP_REL, KS_ALPHA, MC_SIGMAS, METRIC_RANGE_SLACK, ROUNDING


def _input_gram(x: np.ndarray) -> np.ndarray:
    x = x / np.sqrt(np.mean(x**2, axis=1, keepdims=True))  # layer 0 scales rows to mean square 1
    return x @ x.T / x.shape[1]


@pytest.mark.parametrize(
    ("n", "d0", "weights"),
    [(8, 30, "gaussian"), (24, 40, "gaussian"), (40, 10, "gaussian"), (20, 30, "orthogonal")],
)
@pytest.mark.filterwarnings("ignore::isoinit.SingularInputWarning")  # (40, 10): a singular input Gram on purpose
def test_gram_sampler_covariance_is_exact(n: int, d0: int, weights: str) -> None:
    gain, d_out, runs = 1.3, 50, 400
    x = np.random.default_rng(n).standard_normal((n, d0)) + 0.5
    mlp = isoinit.MLP(1, d_out, "identity", "none", gain=gain, weights=weights)
    t = isoinit.simulate(mlp, x, runs=runs, seed=3, sampler="gram", stages=True, grams=True)
    assert t.grams is not None
    hh = t.grams[:, 1, 0]  # the linear stage of block 1: H H^T / d_out per run
    g = _input_gram(x)
    want = gain**2 * g
    se = gain**2 * np.sqrt((np.outer(np.diag(g), np.diag(g)) + g**2) / (d_out * runs))
    err = np.abs(hh.mean(axis=0) - want)
    assert np.all(err <= MC_SIGMAS * se + ROUNDING), float(np.max(err / se))


@pytest.mark.parametrize(("activation", "norm"), [("tanh", "layer"), ("identity", "rms")])
def test_gram_sampler_on_a_collapsed_batch_matches_the_weights_sampler(activation: str, norm: str) -> None:
    """A batch of rank 3 (n = 20 rows): the input Gram is singular, and so is every Gram of
    the linear network; the Cholesky fails and the semidefinite square root draws the same
    laws as explicit weights."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 3)) @ rng.standard_normal((3, 48))
    mlp = isoinit.MLP(3, 48, activation, norm)
    fast = isoinit.simulate(mlp, x, runs=400, seed=1, sampler="gram")
    ref = isoinit.simulate(mlp, x, runs=400, seed=2, sampler="weights")
    assert np.all(np.isinf(fast.gap[:, 0]))
    if activation == "identity":
        assert np.all(np.isinf(fast.gap)) and np.all(np.isinf(ref.gap))
    for metric in ("mean_abs_corr", "effective_rank", "stable_rank"):
        for layer in (1, 3):
            p = stats.ks_2samp(fast.metrics[metric][:, layer], ref.metrics[metric][:, layer]).pvalue
            assert p > KS_ALPHA, f"{metric} at layer {layer}: KS p-value {p:.2e}"


@pytest.mark.parametrize("sampler", ["gram", "weights"])
@pytest.mark.parametrize("n", [6, 40])
def test_blas_results_do_not_depend_on_threads(sampler: str, n: int) -> None:
    x = isoinit.inputs.degenerate(n, 60, 10.0, seed=0)
    mlp = isoinit.MLP(3, 60, "relu", "layer")
    one = isoinit.simulate(mlp, x, runs=6, seed=5, sampler=sampler, threads=1, grams=True)
    two = isoinit.simulate(mlp, x, runs=6, seed=5, sampler=sampler, threads=2, grams=True)
    assert one == two


CASES = [
    (isoinit.MLP(4, 30, "relu", "layer"), "gram", False),
    (isoinit.MLP(4, 30, "tanh", "rms"), "weights", True),
    (isoinit.MLP(3, 30, "relu", "batch"), "gram", False),  # singular Grams (batch centering)
]


@pytest.mark.parametrize(("mlp", "sampler", "stages"), CASES)
@pytest.mark.parametrize(
    "asked",
    [("gap",), ("isometry", "potential"), ("stable_rank",), ("condition", "gap"), ("mean_abs_corr", "max_abs_corr")],
)
def test_asked_metrics_equal_the_full_computation(
    mlp: isoinit.MLP, sampler: str, stages: bool, asked: tuple[str, ...]
) -> None:
    x = isoinit.inputs.degenerate(20, 30, 10.0, seed=1)
    full = isoinit.simulate(mlp, x, runs=3, seed=2, sampler=sampler, stages=stages)
    part = isoinit.simulate(mlp, x, runs=3, seed=2, sampler=sampler, stages=stages, metrics=list(asked))
    assert part.computed == tuple(m for m in METRICS if m in asked)
    for name in METRICS:
        if name in asked:
            np.testing.assert_allclose(part.metrics[name], full.metrics[name], rtol=ROUNDING, atol=0, err_msg=name)
            np.testing.assert_array_equal(getattr(part, name), part.metrics[name])
        else:
            assert np.isnan(part.metrics[name]).all()
            with pytest.raises(ValueError, match=rf"{name} was not computed.*metrics=\["):
                getattr(part, name)
    np.testing.assert_array_equal(part.norm_bias, full.norm_bias)
    np.testing.assert_array_equal(part.diverged_at, full.diverged_at)


def test_metric_selection_is_checked_and_kept() -> None:
    x = isoinit.inputs.degenerate(5, 12, 3.0, seed=0)
    mlp = isoinit.MLP(2, 12, "relu", "layer")
    with pytest.raises(ValueError, match="metrics must be names among isometry, gap"):
        isoinit.simulate(mlp, x, metrics=["gap", "rank"])
    with pytest.raises(ValueError, match="at least one"):
        isoinit.simulate(mlp, x, metrics=[])
    with pytest.raises(TypeError, match="metrics must be a list of names"):
        isoinit.simulate(mlp, x, metrics=3)  # type: ignore[arg-type]
    t = isoinit.simulate(mlp, x, metrics="gap")  # one name
    assert t.computed == ("gap",)
    assert isoinit.simulate(mlp, x).computed is None
    with pytest.raises(ValueError, match="stable_rank was not computed"):
        t.summary("stable_rank")
    with pytest.raises(ValueError, match="condition was not computed"):
        t.output("condition")
    assert t.summary("gap").shape[0] == 3


@pytest.mark.parametrize("suffix", [".npz", ".nc"])
def test_metric_selection_survives_save_and_load(tmp_path, suffix: str) -> None:  # type: ignore[no-untyped-def]
    if suffix == ".nc":
        pytest.importorskip("xarray")
        pytest.importorskip("netCDF4")
    x = isoinit.inputs.degenerate(5, 12, 3.0, seed=0)
    t = isoinit.simulate(isoinit.MLP(2, 12, "relu", "layer"), x, runs=2, metrics=["gap", "condition"])
    back = isoinit.load(t.save(tmp_path / f"t{suffix}"))
    assert back == t and back.computed == ("gap", "condition")


def test_build_info_names_the_lapack() -> None:
    info = isoinit.build_info()
    assert "lapack" in info
    assert info["lapack"] is None or info["lapack"].startswith("OpenBLAS")


@pytest.mark.parametrize(("n", "d", "stages"), [(40, 20, False), (64, 50, True), (12, 10, False)])
def test_rank_deficient_spectrum_from_the_dual(n: int, d: int, stages: bool) -> None:
    # n > d: the Gram X X^T / d has rank <= d; its eigenvalues come from the d x d X^T X / d
    # (plus n - d zeros) and must be the n x n Gram's
    mlp = isoinit.MLP(depth=3, width=d, activation="relu", norm="layer")
    x = isoinit.inputs.gaussian(n, d, seed=0)
    with pytest.warns(isoinit.SingularInputWarning, match=rf"shape \({n}, {d}\)"):
        traj = isoinit.simulate(mlp, x, runs=2, seed=3, grams=True, stages=stages)
    direct = isoinit.metrics.gram_metrics(np.asarray(traj.grams).reshape(-1, n, n))
    for name in METRICS:
        got = np.asarray(traj.metrics[name]).reshape(-1)
        want = np.asarray(direct[name])
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want), err_msg=name)
        finite = np.isfinite(want)
        np.testing.assert_allclose(got[finite], want[finite], rtol=DUAL_SPECTRUM_REL, atol=0, err_msg=name)
    assert np.isinf(traj.gap).all() and (traj.isometry == 0).all()  # rank <= d < n: singular
    assert (traj.effective_rank <= d + METRIC_RANGE_SLACK).all()


def test_rank_deficient_spectrum_in_float32() -> None:
    # float32: the n x n Gram's null space carries float32 rounding (eigenvalues ~1e-7 of the
    # largest, of either sign); the dual's zeros are exact, so the Gram is singular at every
    # layer and the ranks are float64's within float32 accuracy
    n, d = 48, 30
    mlp = isoinit.MLP(depth=3, width=d, activation="relu", norm="layer")
    x = isoinit.inputs.gaussian(n, d, seed=0)
    with pytest.warns(isoinit.SingularInputWarning):  # n = 48 > d = 30, on purpose
        t32 = isoinit.simulate(mlp, x, runs=2, seed=3, dtype="float32")
    with pytest.warns(isoinit.SingularInputWarning):
        t64 = isoinit.simulate(mlp, x, runs=2, seed=3)
    assert np.isinf(t32.gap).all() and np.isinf(t32.condition).all()
    np.testing.assert_allclose(t32.effective_rank, t64.effective_rank, rtol=FLOAT32_GAP_REL, atol=0)
    np.testing.assert_allclose(t32.stable_rank, t64.stable_rank, rtol=FLOAT32_GAP_REL, atol=0)
