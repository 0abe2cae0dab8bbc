"""The public simulate API: shapes, tidy frames, samplers, mean-field constants."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import isoinit
from isoinit.simulate import mf_constants
from tolerances import FINITE_WIDTH_DIAG_ABS, MF_CONSTANT_ABS, ROUNDING

X = isoinit.inputs.degenerate(6, 50, 10.0, seed=0)


def test_shapes_and_frame() -> None:
    mlp = isoinit.MLP(4, 50, "tanh", "layer")
    t = isoinit.simulate(mlp, X, runs=3, seed=1, grams=True)
    assert t.gap.shape == t.isometry.shape == t.potential.shape == t.effective_rank.shape == (3, 5)
    assert t.norm_bias.shape == (3, 5)
    assert t.grams is not None and t.grams.shape == (3, 5, 6, 6)
    assert t.diverged_at.shape == (3,) and t.stages is None
    assert t.metrics["stable_rank"] is t.stable_rank
    np.testing.assert_allclose(np.diagonal(t.grams[:, 1:], axis1=-2, axis2=-1), 1.0, rtol=ROUNDING)
    f = t.to_frame()
    assert list(f.columns[:3]) == ["seed", "run", "layer"] and len(f) == 15
    assert (f["seed"] == 1).all() and (f["sampler"] == t.sampler).all()
    assert f.loc[(f.run == 2) & (f.layer == 3), "gap"].item() == t.gap[2, 3]
    s = t.summary("gap")
    np.testing.assert_allclose(s["mean"], t.gap.mean(0))


def test_stages() -> None:
    for order, out in (("act-norm", "normalization"), ("norm-act", "activation")):
        t = isoinit.simulate(isoinit.MLP(3, 50, "relu", "layer", order=order), X, runs=2, stages=True, grams=True)
        assert t.stages == isoinit.STAGES
        assert t.gap.shape == (2, 4, 3)
        assert t.grams is not None and t.grams.shape == (2, 4, 3, 6, 6)
        np.testing.assert_array_equal(t.output("gap"), t.gap[:, :, isoinit.STAGES.index(out)])
        # layer 0: every stage is the input
        assert np.all(t.gap[:, 0, :] == t.gap[:, 0, :1])
        plain = isoinit.simulate(isoinit.MLP(3, 50, "relu", "layer", order=order), X, runs=2)
        np.testing.assert_array_equal(plain.gap, t.output("gap"))
        f = t.to_frame()
        assert set(f.stage) == set(isoinit.STAGES) and len(f) == 2 * 4 * 3


def test_layer_norm_output_has_unit_diagonal_and_relu_stage_is_uncentered() -> None:
    t = isoinit.simulate(isoinit.MLP(2, 400, "relu", "layer"), X, runs=1, stages=True, grams=True)
    assert t.grams is not None
    act = t.grams[0, 1, isoinit.STAGES.index("activation")]
    # E relu(z)^2 = 1/2 on the diagonal, and relu outputs are positively correlated
    np.testing.assert_allclose(np.diag(act), 0.5, atol=FINITE_WIDTH_DIAG_ABS)
    assert np.all(act > 0)


def test_auto_sampler_choice() -> None:
    assert isoinit.simulate(isoinit.MLP(2, 200), isoinit.inputs.gaussian(8, 200)).sampler == "gram"
    with pytest.warns(isoinit.SingularInputWarning, match=r"shape \(300, 8\)"):  # n > d: a singular input Gram
        assert isoinit.simulate(isoinit.MLP(2, 8), isoinit.inputs.gaussian(300, 8)).sampler == "weights"


def _gauss_moments(f, s: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    mpmath.mp.dps = 30
    dens = lambda z: mpmath.exp(-z * z / 2) / mpmath.sqrt(2 * mpmath.pi)  # noqa: E731
    m1 = mpmath.quad(lambda z: f(s * z) * dens(z), [-mpmath.inf, 0, mpmath.inf])
    m2 = mpmath.quad(lambda z: f(s * z) ** 2 * dens(z), [-mpmath.inf, 0, mpmath.inf])
    return float(m1), float(mpmath.sqrt(m2 - m1 * m1))


@pytest.mark.parametrize(
    ("activation", "f"),
    [
        ("relu", lambda z: mpmath.mpf(0) if z < 0 else z),
        ("tanh", mpmath.tanh),
        ("exp", mpmath.exp),
        ("sigmoid", lambda z: 1 / (1 + mpmath.exp(-z))),
    ],
)
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_mf_constants_are_gaussian_moments(activation: str, f, gain: float) -> None:  # type: ignore[no-untyped-def]
    mlp = isoinit.MLP(3, 10, activation, "mf", gain=gain, bias=0.5)
    c, s = mf_constants(mlp)
    c0, sd = _gauss_moments(f, math.hypot(gain, 0.5))
    assert c == pytest.approx([c0] * 3, abs=MF_CONSTANT_ABS)
    assert s == pytest.approx([sd] * 3, abs=MF_CONSTANT_ABS)


def test_mf_constants_norm_act() -> None:
    c, s = mf_constants(isoinit.MLP(3, 10, "relu", "mf", order="norm-act", gain=2.0))
    assert c == [0.0, 0.0, 0.0]
    assert s == pytest.approx([2.0, 2.0 * math.sqrt(0.5), 2.0 * math.sqrt(0.5)], abs=MF_CONSTANT_ABS)


def test_mf_normalization_keeps_rows_near_unit_scale() -> None:
    t = isoinit.simulate(isoinit.MLP(5, 2000, "relu", "mf"), X, runs=2, grams=True)
    assert t.grams is not None
    # exactly 1 at infinite width after the first block (inputs have unit mean square); at
    # finite width the constants let the diagonal drift like a random walk over layers
    np.testing.assert_allclose(np.diagonal(t.grams[:, 1], axis1=-2, axis2=-1), 1.0, atol=FINITE_WIDTH_DIAG_ABS)


def test_build_info() -> None:
    info = isoinit.build_info()
    assert info["version"] == isoinit.__version__
    assert isinstance(info["openmp"], bool) and info["max_threads"] >= 1
