"""isoinit.compare: simulation, mean field, bound and prediction in one table and one plot."""

from __future__ import annotations

import numpy as np
import pytest

import isoinit
from isoinit import MLP
from isoinit.comparison import FW_CLOSURE_SAMPLES, FW_SAMPLES, Z90
from isoinit.theory import bounds, meanfield
from isoinit.theory.finite_width import finite_width, plateau
from tolerances import ROUNDING

X = isoinit.inputs.degenerate(6, 60, 20, seed=0)
DEPTH = 6


@pytest.fixture(autouse=True)
def _close_figures() -> object:
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


# (network, the sources expected in the table)
CASES = {
    "layer": (MLP(DEPTH, 60, "tanh", "layer"), {"simulation", "meanfield", "bound", "prediction"}),
    "rms": (MLP(DEPTH, 60, "gelu", "rms"), {"simulation", "meanfield", "prediction"}),
    "batch": (MLP(DEPTH, 60, "relu", "batch"), {"simulation"}),
    "none": (MLP(DEPTH, 60, "tanh", "none"), {"simulation", "meanfield"}),
    "norm-act": (MLP(DEPTH, 60, "relu", "layer", order="norm-act"), {"simulation", "meanfield", "prediction"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_one_call_table(case: str) -> None:
    mlp, sources = CASES[case]
    c = isoinit.compare(mlp, X, runs=3, seed=1, metric=["gap", "potential"])
    df = c.to_frame()
    assert set(df["source"]) == sources
    assert list(df.columns[:9]) == ["source", "quantity", "statement", "layer", "mean", "std", "q10", "q90", "runs"]
    assert (df["center"] == mlp.centering).all() and (df["scale"] == mlp.scaling).all()
    assert (df["statement"].str.len() > 10).all()
    # the simulation rows are the simulation's own summary
    sim = df[(df.source == "simulation") & (df.quantity == "gap")]
    expected = isoinit.simulate(mlp, X, runs=3, seed=1).summary("gap")
    np.testing.assert_array_equal(sim["mean"].to_numpy(), expected["mean"].to_numpy())
    np.testing.assert_array_equal(sim["q90"].to_numpy(), expected["q90"].to_numpy())
    assert c.simulation == isoinit.simulate(mlp, X, runs=3, seed=1)
    if "meanfield" in sources:
        assert c.meanfield == meanfield.trajectory(mlp, X) and c.meanfield_reason == ""
        mf = df[(df.source == "meanfield") & (df.quantity == "potential")]
        np.testing.assert_array_equal(mf["mean"].to_numpy(), c.meanfield.potential)
    else:
        assert c.meanfield is None and "batch" in c.meanfield_reason
        assert df.attrs["meanfield_reason"] == c.meanfield_reason
    if "bound" in sources:
        b = df[df.source == "bound"]
        assert (b.quantity == "potential").all()
        np.testing.assert_array_equal(b["mean"].to_numpy(), bounds.trajectory_potential_bound(c.meanfield))
    if "prediction" in sources:
        p = df[df.source == "prediction"]
        # the prediction for this batch's size (with the finite-width plateau where it applies)
        assert (p.statement == bounds.predict(mlp, n=X.shape[0]).statement).all() and (
            p.quantity == "mean_abs_corr"
        ).all()
        fp = bounds.predict(mlp).fixed_point
        assert fp is not None
        if fp.kind != "collapse-polynomial":
            assert p["mean"].iloc[-1] == pytest.approx(
                fp.rho_star + (p["mean"].iloc[0] - fp.rho_star) * fp.rate**DEPTH, rel=ROUNDING
            )


def test_prediction_follows_the_mean_field_for_layer_norm() -> None:
    c = isoinit.compare(MLP(20, 60, "tanh", "layer"), X, runs=2, metric="mean_abs_corr")
    assert c.correlation is not None and c.meanfield is not None
    # both contract to isometry (the geometric rate is the asymptotic one: near rho = 1 the
    # mean field contracts more slowly than the prediction)
    pred, mf = c.correlation, c.meanfield.mean_abs_corr
    assert pred[0] == pytest.approx(mf[0], rel=ROUNDING)  # the same input correlation, two code paths
    assert (np.diff(pred) < 0).all() and (np.diff(mf) < 0).all()
    assert pred[-1] < 0.6 * pred[0] and mf[-1] < 0.6 * mf[0] and (pred[1:] < mf[1:]).all()


@pytest.mark.parametrize(
    ("case", "metric", "lines"),
    [
        ("layer", "gap", 2),  # simulation, mean field
        ("layer", "potential", 3),  # + the bound, dotted
        ("rms", "mean_abs_corr", 3),  # + the predicted correlation
        ("batch", "gap", 1),  # simulation only
        ("norm-act", "mean_abs_corr", 3),
    ],
)
def test_plot_lines(case: str, metric: str, lines: int) -> None:
    c = isoinit.compare(CASES[case][0], X, runs=3)
    ax = c.plot(metric=metric)
    drawn = ax.get_lines()
    assert len(drawn) == lines
    styles = [ln.get_linestyle() for ln in drawn]
    assert styles[0] == "-" and styles[1:] == ["--", ":"][: lines - 1] if case != "batch" else styles == ["-"]
    assert ax.get_yscale() == "log"


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"network must be an isoinit\.MLP"):
        isoinit.compare("relu", X)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="metric must be one of"):
        isoinit.compare(MLP(2, 10), X, metric="gapp")
    with pytest.raises(ValueError, match=r"metric\[1\] must be one of"):
        isoinit.compare(MLP(2, 10), X, metric=["gap", "x"])
    assert isoinit.compare is isoinit.comparison.compare
    assert "compare" in dir(isoinit) and "load" in dir(isoinit)


# --------------------------------------------------------------------------------------
# the finite-width prediction (compare(..., finite_width=True))
# --------------------------------------------------------------------------------------


def test_finite_width_is_opt_in() -> None:
    c = isoinit.compare(CASES["layer"][0], X, runs=2)
    assert c.finite_width is None and c.finite_width_reason == ""
    assert "finite_width" not in set(c.to_frame()["source"])
    with pytest.raises(TypeError, match="finite_width must be"):
        isoinit.compare(CASES["layer"][0], X, runs=2, finite_width="yes")  # type: ignore[arg-type]


def test_finite_width_rows_and_band() -> None:
    mlp = CASES["layer"][0]
    c = isoinit.compare(mlp, X, runs=3, seed=1, metric=["gap", "isometry"], finite_width=True)
    assert c.finite_width is not None and c.finite_width.network == mlp
    df = c.to_frame()
    assert set(df["source"]) == CASES["layer"][1] | {"finite_width"}
    for m in ("gap", "isometry"):
        fw = df[(df.source == "finite_width") & (df.quantity == m)]
        np.testing.assert_array_equal(fw["mean"].to_numpy(), c.finite_width.mean(m))
        np.testing.assert_array_equal(fw["std"].to_numpy(), c.finite_width.sd(m))
        # the Gaussian equivalent of the simulation's 10%-90% band
        np.testing.assert_allclose(fw["q90"] - fw["mean"], Z90 * fw["std"], rtol=ROUNDING, atol=ROUNDING)
        np.testing.assert_allclose(fw["mean"] - fw["q10"], Z90 * fw["std"], rtol=ROUNDING, atol=ROUNDING)
        assert (fw.runs == 0).all() and (fw.statement.str.contains("1/d")).all()
    # the same prediction as finite_width itself at compare's Monte Carlo sizes and seed
    own = finite_width(mlp, X, samples=FW_SAMPLES, closure_samples=FW_CLOSURE_SAMPLES, seed=1)
    np.testing.assert_array_equal(own.mean("gap"), c.finite_width.mean("gap"))
    # the prediction states the closed-form plateau for this batch (layer norm after tanh, no bias)
    p = c.prediction
    assert p.n == X.shape[0] and p.plateau == pytest.approx(plateau("tanh", X.shape[0], 60), rel=ROUNDING)
    assert f"{p.plateau:.3g}" in p.statement and f"from width {p.width_for}" in p.statement


def test_finite_width_where_undefined() -> None:
    c = isoinit.compare(CASES["batch"][0], X, runs=2, finite_width=True)
    assert c.finite_width is None and "batch" in c.finite_width_reason
    df = c.to_frame()
    assert "finite_width" not in set(df["source"]) and df.attrs["finite_width_reason"] == c.finite_width_reason


def test_finite_width_plot() -> None:
    c = isoinit.compare(CASES["layer"][0], X, runs=3, finite_width=True)
    ax = c.plot(metric="gap")
    styles = [ln.get_linestyle() for ln in ax.get_lines()]
    # simulation, mean field, the finite-width mean (dash-dot) and the closed-form plateau (dotted)
    assert styles == ["-", "--", "-.", ":"]
    plateau_line = ax.get_lines()[-1]
    assert plateau_line.get_ydata()[0] == pytest.approx(c.prediction.plateau, rel=ROUNDING)
    assert len(ax.collections) == 2  # the simulation's band and the prediction's hatched band
    ax = c.plot(metric="isometry")  # no plateau for other metrics
    assert [ln.get_linestyle() for ln in ax.get_lines()] == ["-", "--", "-."]
