"""The paper's figures at a reduced size: files, data layout and the qualitative facts of
spec/experiments.md, read from each figure's tidy data (never from the image)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from isoinit import figures
from isoinit.cli import main
from isoinit.theory.bounds import potential_bound
from isoinit.theory.hermite import beta0
from tolerances import (
    BOUND_REL,
    FIGURE_ATTENTION_ABS,
    FIGURE_BOUND_SLACK,
    FIGURE_CENTER_MF_FACTOR,
    FIGURE_FLAT_REL,
    FIGURE_FLAT_REL_RESIDUAL,
    FIGURE_HE2_RATIO_ABS,
    FIGURE_KERNEL_ABS,
    FIGURE_KERNEL_SIM_ABS,
    FIGURE_LN_CHANGE_REL,
    FIGURE_PHASE_ABS,
    FIGURE_PLATEAU_REL,
    FIGURE_SAME_CURVE_REL,
    FIGURE_SCALE_MF_FACTOR,
    FIGURE_SLOPE_ABS,
    GAIN_INVARIANCE_REL,
    RANK_ONE_ABS,
    ROUNDING,
)

RUNS = 5  # networks per configuration in these tests
SIZE = 0.5  # widths x 0.5 (d = 500 instead of 1000); depth and batch as in the paper

# figures whose facts are about large width run at the paper's width
FULL_WIDTH = {"potential-vs-theory", "dual-kernel"}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, figures.FigureResult]:
    out = tmp_path_factory.mktemp("figures")
    return {
        name: figures.make(name, out, runs=RUNS, seed=0, size=1.0 if name in FULL_WIDTH else SIZE)
        for name in figures.NAMES
    }


def curve(data: pd.DataFrame, source: str = "simulation", **where: object) -> np.ndarray:
    """Mean over runs per x of the rows matching ``where`` (NaN-aware)."""
    sel = data[data.source == source]
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel), f"no rows for {source} {where}"
    return sel.groupby("x").value.mean().to_numpy()


# figures of block networks (isoinit.figures.blocks), made by `all` after the paper's 14
BLOCK_FIGURES = ("transformer-ln", "rank-collapse", "residual")
# figures of the theory beyond the paper (made by `all` after the block figures)
THEORY_FIGURES = ("finite-width", "attention-collapse", "attention-variants", "attention-phase")


def test_names_follow_experiments_md() -> None:
    assert len(figures.NAMES) == 14 + len(BLOCK_FIGURES) + len(THEORY_FIGURES)
    assert figures.NAMES[0] == "dual-kernel" and figures.NAMES[13] == "layernorm-vs-batchnorm"
    assert figures.NAMES[14:] == BLOCK_FIGURES + THEORY_FIGURES
    # beyond the paper's figures, made by name only (not by `all`): the training figures
    assert figures.EXTRA_NAMES == ("training-loss", "training-beta", "training-isogap", "training-gain")
    assert set(figures.DESCRIPTIONS) == {*figures.NAMES, *figures.EXTRA_NAMES}


def test_files_and_tidy_columns(made: dict[str, figures.FigureResult]) -> None:
    for name, r in made.items():
        assert r.png == r.png.parent / f"{name}.png" and r.png.stat().st_size > 5000
        assert r.png.stat().st_size < 150_000
        back = pd.read_csv(r.csv)
        assert list(back.columns) == list(r.data.columns)
        assert len(back) == len(r.data)
        # full precision: the CSV's values are the computed doubles, not 6 significant digits
        exact_parse = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
        exact = pd.read_csv(r.csv, usecols=["value"], **exact_parse)
        np.testing.assert_array_equal(exact["value"].to_numpy(), r.data["value"].to_numpy())
        assert set(r.data.source) <= {"simulation", "mean-field", "bound", "theory", "rem"}
        assert (r.data.figure == name).all()


def test_meanfield_overlay_wherever_it_exists(made: dict[str, figures.FigureResult]) -> None:
    for name, r in made.items():
        sim = r.data[r.data.source == "simulation"]
        if name in ("dual-kernel", "transformer-ln", "rank-collapse"):
            continue  # no mean field: a kernel figure, and attention networks
        if name == "residual":
            assert (r.data.source == "mean-field").any() == _residual_meanfield(), name
            continue
        for (panel, label), rows in sim.groupby(["panel", "curve"]):
            mf = r.data[(r.data.source == "mean-field") & (r.data.panel == panel) & (r.data.curve == label)]
            batch = "batch" in (rows.center.iloc[0], rows.scale.iloc[0])
            assert mf.empty == batch, (name, panel, label)


def test_dual_kernel(made: dict[str, figures.FigureResult]) -> None:
    d = made["dual-kernel"].data
    rho = np.linspace(0, 1, 101)
    assert np.allclose(curve(d, "theory", curve="identity"), rho, atol=FIGURE_KERNEL_ABS)
    k = curve(d, "theory", curve="relu")
    assert np.all(k <= rho + ROUNDING) and np.all(np.diff(k, 2) >= -FIGURE_KERNEL_ABS)  # below diagonal, convex
    assert (k[1] - k[0]) / 0.01 == pytest.approx(0.7335, abs=FIGURE_SLOPE_ABS)  # slope beta_0 at 0
    measured = curve(d, "simulation", curve="relu")
    x = np.sort(d[(d.source == "simulation") & (d.curve == "relu")].x.unique())
    assert np.allclose(measured, np.interp(x, rho, k), atol=FIGURE_KERNEL_SIM_ABS)


def test_hermite_polynomials(made: dict[str, figures.FigureResult]) -> None:
    d = made["hermite-poly"].data
    he1 = curve(d, curve="He_1", quantity="gap")
    assert np.all(np.abs(he1[1:] / he1[1] - 1) < FIGURE_FLAT_REL)  # flat after the first layer
    for k in (2, 3):
        gap = curve(d, curve=f"He_{k}", quantity="gap")
        assert gap[-1] < gap[0] / 100  # drops fast to a small floor
        assert gap[-1] > 0
    # He_2 contracts the potential by about 1/2 per layer while correlations are near 1
    pot = curve(d, curve="He_2", quantity="potential")
    mf = curve(d, "mean-field", curve="He_2", quantity="potential")
    bound = curve(d, "bound", curve="He_2")
    assert pot[2] / pot[1] == pytest.approx(0.5, abs=FIGURE_HE2_RATIO_ABS)
    assert mf[2] / mf[1] == pytest.approx(0.5, abs=FIGURE_HE2_RATIO_ABS)
    assert np.allclose(bound[2:] / bound[1:-1], 0.5)


def test_order(made: dict[str, figures.FigureResult]) -> None:
    d = made["order"].data
    act_norm = curve(d, curve="act-norm")
    norm_act = curve(d, curve="norm-act")
    assert act_norm[-1] < act_norm[0] / 10  # layer norm after relu: > 10x over 30 layers
    assert norm_act[-1] > norm_act[1] and norm_act[-1] > 0.8 * norm_act[0]  # no bias to isometry


def test_self_normalize(made: dict[str, figures.FigureResult]) -> None:
    d = made["self-normalize"].data
    relu, tanh, selu = (curve(d, curve=a) for a in ("relu", "tanh", "selu"))
    assert relu.min() < relu[0] / 5 and relu[-1] > 1.3 * relu.min()  # falls, then drifts up
    assert 0.6 < tanh[-1] / tanh[0] < 1.5  # roughly flat
    assert relu.min() < selu[-1] < selu[0]  # declines slowly


def test_centering(made: dict[str, figures.FigureResult]) -> None:
    d = made["centering"].data
    none = {a: curve(d, panel=a, curve="center=none") for a in ("relu", "tanh", "sigmoid", "exp")}
    layer = {a: curve(d, panel=a, curve="center=layer") for a in ("relu", "tanh", "sigmoid", "exp")}
    assert none["relu"][-1] > 0.5 * none["relu"][0]  # without centering relu does not improve
    assert none["exp"][-1] > none["exp"][1]  # exp grows
    assert np.isinf(none["sigmoid"][-1])  # sigmoid collapses to a singular Gram
    assert layer["relu"][-1] < layer["relu"][0] / 100
    assert layer["exp"][-1] < layer["exp"][0] / 100
    assert np.allclose(none["tanh"], layer["tanh"], rtol=FIGURE_SAME_CURVE_REL)  # tanh: the same either way
    assert layer["sigmoid"][-1] > 0.5 * layer["sigmoid"][0]  # barely moves (beta_0 near 1)


def test_centering_mf(made: dict[str, figures.FigureResult]) -> None:
    d = made["centering-mf"].data
    for a in ("relu", "tanh", "sigmoid", "exp"):
        lay, mf = curve(d, panel=a, curve="center=layer"), curve(d, panel=a, curve="center=mf")
        assert np.all(np.abs(np.log(lay / mf)) < math.log(FIGURE_CENTER_MF_FACTOR)), a  # nearly identical


def test_normalization(made: dict[str, figures.FigureResult]) -> None:
    r = made["normalization"]
    d = r.data
    relu_none = curve(d, panel="relu", curve="scale=none")
    assert relu_none[-1] > 5 * relu_none[0]  # climbs
    exp_none = d[(d.source == "simulation") & (d.panel == "exp") & (d.curve == "scale=none")]
    assert (exp_none.diverged_at.between(1, 5)).all()  # breaks down within a few layers
    assert any("exp" in n and "overflowed" in n for n in r.notes)
    for a in ("relu", "tanh", "sigmoid", "exp"):
        lay = curve(d, panel=a, curve="scale=layer")
        assert lay[-1] < lay[0], a  # with layer scaling all decrease


def test_normalization_mf(made: dict[str, figures.FigureResult]) -> None:
    d = made["normalization-mf"].data
    for a in ("tanh", "sigmoid"):
        lay, mf = curve(d, panel=a, curve="scale=layer"), curve(d, panel=a, curve="scale=mf")
        assert np.all(np.abs(np.log(lay / mf)) < math.log(FIGURE_SCALE_MF_FACTOR)), a
    relu_lay, relu_mf = curve(d, panel="relu", curve="scale=layer"), curve(d, panel="relu", curve="scale=mf")
    assert relu_mf[-1] > 3 * relu_lay[-1] and relu_mf[-1] > relu_mf[15]  # drifts up
    exp_mf = d[(d.source == "simulation") & (d.panel == "exp") & (d.curve == "scale=mf")]
    assert (exp_mf.groupby("run").diverged_at.first() >= 0).mean() >= 0.5  # explodes


def test_mf_vs_finite(made: dict[str, figures.FigureResult]) -> None:
    d = made["mf-vs-finite"].data
    widths = sorted(d.width.unique())
    lay = [curve(d, panel="relu, center=mf, scale=layer", width=w)[-1] for w in widths]
    mf = [curve(d, panel="relu, center=mf, scale=mf", width=w)[-1] for w in widths]
    assert lay[0] > lay[-1]  # the floor falls with d
    assert mf[0] > mf[-1]  # fixed constants drift away, worse for small d
    assert all(m > v for m, v in zip(mf, lay, strict=True))


def test_potential_below_bound(made: dict[str, figures.FigureResult]) -> None:
    d = made["potential-vs-theory"].data
    last = {}
    for a in ("relu", "tanh", "sigmoid"):
        pot, bound = curve(d, panel=a), curve(d, "bound", panel=a)
        # measured mean under the bound anchored on it at layer 1, up to the finite-width
        # spread of a max over pairs (sigmoid contracts by only 1.6% per layer)
        assert np.all(pot[1:] <= bound[1:] * (1 + FIGURE_BOUND_SLACK)), a
        # the theorem itself: the mean-field trajectory under the bound anchored on it
        mf = curve(d, "mean-field", panel=a)
        mf_bound = potential_bound(mf[1], beta0(a), len(mf) - 1, start=1)
        assert np.all(mf[1:] <= mf_bound[1:] * (1 + BOUND_REL)), a
        last[a] = pot[-1] / pot[1]
    assert last["relu"] < last["tanh"] < last["sigmoid"]  # relu fastest, sigmoid barely


def test_gain(made: dict[str, figures.FigureResult]) -> None:
    d = made["gain"].data
    relu = [curve(d, panel="relu", curve=f"gain={g:g}") for g in (0.5, 1.0, 2.0)]
    assert np.allclose(relu[0], relu[1], rtol=GAIN_INVARIANCE_REL) and np.allclose(
        relu[2], relu[1], rtol=GAIN_INVARIANCE_REL
    )
    for a in ("sin", "tanh"):
        g05, g1, g2 = (curve(d, panel=a, curve=f"gain={g:g}")[-1] for g in (0.5, 1.0, 2.0))
        assert g2 < g1 < g05, a


def test_beta_vs_gain(made: dict[str, figures.FigureResult]) -> None:
    d = made["beta-vs-gain"].data
    alpha = np.sort(d.x.unique())
    for a in ("sin", "exp"):
        b = curve(d, "theory", curve=a)
        assert np.interp(2.5, alpha, b) < 0.05 and b[0] > 0.95, a
    for a in ("tanh", "sigmoid", "selu"):
        assert curve(d, "theory", curve=a)[-1] > 0.6, a  # saturate lower


def test_mf_vs_xavier(made: dict[str, figures.FigureResult]) -> None:
    d = made["mf-vs-xavier"].data
    for a in ("relu", "leaky_relu(0.01)"):
        rows = d[d.panel == a]
        none = curve(rows, curve=rows[rows["center"] == "none"].curve.iloc[0])
        mf = curve(rows, curve="mf norm, gain 1")
        assert none[-1] > 0.5 * none[0], a  # stays collapsed
        # improves; with fixed mf constants the finite-width drift makes the final gap vary a lot
        # with the seed (d = 500: 6.6x to 40x lower over seeds 0-3), so ask for 5x
        assert mf[-1] < mf[0] / 5, a
    rows = d[d.panel == "selu"]
    for label in rows.curve.unique():
        g = curve(rows, curve=label)
        assert 0.3 < g[-1] / g[0] < 1.5  # flat either way


def test_layernorm_vs_batchnorm(made: dict[str, figures.FigureResult]) -> None:
    d = made["layernorm-vs-batchnorm"].data
    ln = next(p for p in d.panel.unique() if p.startswith("layer norm"))
    bn = next(p for p in d.panel.unique() if p.startswith("batch norm"))
    ident = curve(d, panel=ln, curve="identity")
    assert np.all(np.abs(ident / ident[0] - 1) < FIGURE_FLAT_REL)  # layer norm: identity flat
    relu = curve(d, panel=ln, curve="relu")
    assert relu[-1] < relu[0] / 10
    for a in ("relu", "identity"):  # batch norm orthogonalizes even linear networks
        g = curve(d, panel=bn, curve=a)
        assert np.all(np.isfinite(g)) and g[20] < g[0] / 50 and g[-1] < 2 * g[20], a
    assert (d[d.panel == bn].quantity == "gap_complement").all()


def test_authors_protocol_sits_above(tmp_path: Path) -> None:
    faithful = figures.make("order", tmp_path / "f", runs=3, size=SIZE).data
    authors = figures.make("order", tmp_path / "a", runs=3, size=SIZE, protocol="authors").data
    f, a = curve(faithful, curve="act-norm"), curve(authors, curve="act-norm")
    assert a[0] == f[0] and a[-1] > 3 * f[-1]
    assert authors.stage.str.startswith("authors").all()
    assert (
        curve(authors, "mean-field", curve="act-norm")[1:] > curve(faithful, "mean-field", curve="act-norm")[1:]
    ).all()


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["figure", "beta-vs-gain", "--out", str(tmp_path), "--seed", "1"]) == 0
    assert (tmp_path / "beta-vs-gain.png").exists() and (tmp_path / "beta-vs-gain.csv").exists()
    assert "beta-vs-gain" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["figure", "no-such-figure", "--out", str(tmp_path)])


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="name must be one of"):
        figures.make("orders", tmp_path)
    with pytest.raises(ValueError, match="protocol must be one of"):
        figures.make("order", tmp_path, protocol="published")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="runs must be"):
        figures.make("order", tmp_path, runs=0)


def test_bad_argument_types_raise_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="name must be one of"):
        figures.make(5, tmp_path)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="runs must be an integer"):
        figures.make("order", tmp_path, runs=2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed must be an integer"):
        figures.make("order", tmp_path, seed="0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="size must be a finite number"):
        figures.make("order", tmp_path, size="big")  # type: ignore[arg-type]
    for size in (0.0, -1.0, 10.5, math.nan):
        with pytest.raises(ValueError, match="size must be"):
            figures.make("order", tmp_path, size=size)
    with pytest.raises(ValueError, match="seed must be an integer >= 0; got -1"):
        figures.make("order", tmp_path, seed=-1)


# --------------------------------------------------------------------------------------
# the registry: one record per figure, everything else a view of it
# --------------------------------------------------------------------------------------


def test_names_and_descriptions_are_views_of_the_registry() -> None:
    registered = figures.available()
    assert figures.NAMES == tuple(f.name for f in registered if f.in_all)
    assert figures.EXTRA_NAMES == tuple(f.name for f in registered if not f.in_all)
    assert list(figures.DESCRIPTIONS) == [f.name for f in registered]
    assert all(figures.DESCRIPTIONS[f.name] == f.description for f in registered)
    positions = [f.position for f in registered]
    assert positions == sorted(set(positions))
    assert all(f.published for f in registered)


def test_a_registered_figure_is_made_through_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding a figure is one registered function: compute, make and the CLI find it."""
    from isoinit import MLP
    from isoinit.figures import _registry
    from isoinit.figures._measure import Context, Curve, Panel, Spec

    monkeypatch.setattr(_registry, "_FIGURES", dict(_registry._FIGURES))

    @_registry.register_layers("tiny", "two relu blocks", position=99, published="-")
    def tiny(ctx: Context) -> Spec:
        mlp = MLP(2, ctx.width(40), "relu")
        return Spec((Panel("relu", (Curve("layer norm", mlp, 10.0, ctx.nruns(2)),)),), "gap")

    r = figures.make("tiny", tmp_path, seed=1)
    assert r.png.exists() and r.csv.exists()
    assert list(r.data.columns) == list(pd.read_csv(r.csv).columns)
    assert set(r.data.source) == {"simulation", "mean-field"} and (r.data.figure == "tiny").all()
    assert r.data.run.max() == 1 and r.data.x.max() == 2
    with pytest.raises(ValueError, match="figure name must be new"):
        _registry.register_layers("tiny", "again", position=100, published="-")(tiny)
    with pytest.raises(ValueError, match="figure position must be new"):
        _registry.register_layers("tiny2", "again", position=99, published="-")(tiny)


def test_gallery_table_matches_the_registry() -> None:
    """docs/figures.md holds the table that the registry generates (regenerate it with
    ``python -m isoinit.figures.gallery docs/figures.md``), and a section per figure."""
    from isoinit.figures import gallery

    docs = Path(__file__).resolve().parents[2] / "docs"
    text = (docs / "figures.md").read_text(encoding="utf-8")
    assert gallery.update(text) == text, "run: python -m isoinit.figures.gallery docs/figures.md"
    for name in (*figures.NAMES, *figures.EXTRA_NAMES):
        assert f"\n## {name}\n" in text and f"(figures/{name}.png)" in text, name
        assert (docs / "figures" / f"{name}.png").exists(), name


def test_gallery_update_and_check(tmp_path: Path) -> None:
    from isoinit.figures import gallery

    path = tmp_path / "g.md"
    path.write_text(f"# g\n\n{gallery.BEGIN}\nstale\n{gallery.END}\n\ntail\n", encoding="utf-8")
    assert gallery.main([str(path), "--check"]) == 1
    assert gallery.main([str(path)]) == 0
    assert gallery.main([str(path), "--check"]) == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# g\n") and text.endswith("\n\ntail\n") and "stale" not in text
    assert all(f"[{n}](#{n})" in text for n in figures.NAMES)
    with pytest.raises(ValueError, match="table markers"):
        gallery.update("no markers")


def test_cli_lists_every_registered_figure(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["figure", "--help"])
    out = capsys.readouterr().out
    for name, description in figures.DESCRIPTIONS.items():
        assert f"  {name:<24}{description}" in out


# --------------------------------------------------------------------------------------
# figures of block networks
# --------------------------------------------------------------------------------------


def _residual_meanfield() -> bool:
    """Whether isoinit.meanfield.trajectory covers residual MLPs (it raises ValueError where it does not)."""
    from isoinit import ResidualMLP
    from isoinit.inputs import degenerate
    from isoinit.theory import meanfield

    try:
        meanfield.trajectory(ResidualMLP(2, 20), degenerate(4, 20, 5.0))
    except ValueError:
        return False
    return True


def test_transformer_ln(made: dict[str, figures.FigureResult]) -> None:
    d = made["transformer-ln"].data
    assert set(d.x_name) == {"norm"} and d.x.min() == 1 and d.x.max() == 25  # ln1.l, ln2.l of 12 blocks, ln_f
    assert d.order.isna().all() and (d.norm_position == "pre").all() and (d.activation == "gelu_tanh").all()
    before = curve(d, panel="Gaussian tokens", curve="just before the norm")
    after = curve(d, panel="Gaussian tokens", curve="just after the norm")
    # GPT-2 (the gpt2 preset) on embeddings at its scale: every norm lowers the gap (it
    # equalizes the rows' norms, which the embeddings, positions and updates make unequal),
    # while the causal attention correlates the tokens, so the stream's gap grows with depth
    assert np.all(after < before)
    assert before[-1] > before[0]
    rep_before = curve(d, panel="repeated tokens", curve="just before the norm")
    rep_after = curve(d, panel="repeated tokens", curve="just after the norm")
    assert rep_before[0] > before[0]  # nearly equal tokens: a larger gap
    # rows of equal norm: a norm has almost nothing to equalize
    assert np.all(np.abs(rep_after / rep_before - 1) < FIGURE_LN_CHANGE_REL)


def test_rank_collapse(made: dict[str, figures.FigureResult]) -> None:
    r = made["rank-collapse"]
    d = r.data
    gap = {
        c: curve(d, panel="gap", curve=c) for c in ("attention only", "attention + residual", "pre-norm transformer")
    }
    rank = {c: curve(d, panel="effective rank", curve=c) for c in gap}
    # attention alone collapses the tokens to rank one within a few blocks: a singular Gram
    assert np.isinf(gap["attention only"][5:]).all() and np.allclose(rank["attention only"][5:], 1.0, atol=RANK_ONE_ABS)
    assert any("attention only" in n and "singular" in n for n in r.notes)
    # with a residual the gap stays finite but grows steadily; the pre-norm transformer slows it most
    assert np.isfinite(gap["attention + residual"]).all() and gap["attention + residual"][-1] > 5
    assert np.isfinite(gap["pre-norm transformer"]).all()
    assert gap["pre-norm transformer"][-1] < gap["attention + residual"][-1] / 3
    assert rank["pre-norm transformer"][-1] > 2 > rank["attention + residual"][-1]


def test_residual(made: dict[str, figures.FigureResult]) -> None:
    d = made["residual"].data
    assert set(d.norm_position[d.source == "simulation"]) == {"pre", "post"}
    relu_post, tanh_post = (curve(d, panel=a, curve="post-norm, alpha=1") for a in ("relu", "tanh"))
    assert relu_post[-1] > 2 * relu_post[0]  # relu, post-norm: the gap grows
    assert tanh_post[-1] < 0.8 * tanh_post[0]  # tanh, post-norm: it falls
    for act in ("relu", "tanh"):
        for pos in ("pre", "post"):
            small = curve(d, panel=act, curve=f"{pos}-norm, alpha=1/sqrt(L)")
            assert np.all(np.abs(small / small[0] - 1) < FIGURE_FLAT_REL_RESIDUAL), (
                act,
                pos,
            )  # alpha = 1/sqrt(L): nearly flat


def test_residual_draws_the_mean_field_when_it_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The residual figure draws the mean field dashed when isoinit.meanfield.trajectory
    covers residual MLPs, and leaves it out while that raises ValueError."""
    from isoinit.metrics import METRICS
    from isoinit.theory import meanfield
    from isoinit.theory.meanfield import MeanFieldTrajectory

    def unavailable(mlp: object, x: object) -> MeanFieldTrajectory:
        raise ValueError("the mean field of a residual-mlp is not implemented")

    monkeypatch.setattr(meanfield, "trajectory", unavailable)
    without = figures.make("residual", tmp_path / "a", runs=2, size=0.1).data
    assert set(without.source) == {"simulation"}

    def flat(mlp: object, x: object) -> MeanFieldTrajectory:
        depth = 30
        metrics = {m: np.full(depth + 1, 0.5) for m in METRICS}
        return MeanFieldTrajectory(mlp=mlp, grams=np.zeros((depth + 1, 2, 2)), metrics=metrics)  # type: ignore[arg-type]

    monkeypatch.setattr(meanfield, "trajectory", flat)
    r = figures.make("residual", tmp_path / "b", runs=2, size=0.1)
    mf = r.data[r.data.source == "mean-field"]
    assert len(mf) == 8 * 31 and (mf.value == 0.5).all()  # 2 panels x 4 curves x layers 0..30


# --------------------------------------------------------------------------------------
# finite-width: the plateau against the width
# --------------------------------------------------------------------------------------


def test_finite_width(made: dict[str, figures.FigureResult]) -> None:
    r = made["finite-width"]
    d = r.data
    right = d[d.panel == "plateau against width"]
    widths = np.sort(right[right.source == "simulation"].x.unique())
    measured = curve(right, panel="plateau against width")
    closed = right[(right.source == "theory") & (right.curve == "closed form")]
    closed_at = np.interp(np.log(widths), np.log(closed.x), np.log(closed.value))
    wide = widths >= 250  # n / d small: the closed form's O(1/d^2) terms below 4 % (docs/finite-width.md)
    np.testing.assert_allclose(np.log(measured[wide]), closed_at[wide], atol=np.log1p(FIGURE_PLATEAU_REL))
    slope = np.polyfit(np.log(widths[wide]), np.log(measured[wide]), 1)[0]
    assert slope == pytest.approx(-1.0, abs=FIGURE_PLATEAU_REL)  # a 1/d effect
    # the prediction's plateau where it holds (at the test's smallest width, 32 for n = 10, it
    # breaks down: a note)
    rec = right[(right.source == "theory") & (right.curve == "1/d prediction")].sort_values("x")
    ok = rec.x >= 250
    closed_rec = np.exp(np.interp(np.log(rec.x[ok]), np.log(closed.x), np.log(closed.value)))
    np.testing.assert_allclose(rec.value[ok], closed_rec, rtol=FIGURE_PLATEAU_REL)
    assert np.isnan(rec.value.iloc[0]) and any("broke down" in n for n in r.notes)
    # left: the mean field falls far below the plateau the simulation and the prediction reach
    left = d[d.panel == "gap against depth"]
    for label in left[left.source == "simulation"].curve.unique():
        w = int(label.split("=")[1])
        sim = curve(left, curve=label)
        pred = left[(left.source == "theory") & (left.curve == label) & (left.quantity == "gap")].value.to_numpy()
        mf = curve(left, "mean-field", curve=label)
        assert mf[-1] < 1e-3 * sim[-1], label
        if w >= 250:
            assert pred[40:].mean() == pytest.approx(sim[40:].mean(), rel=FIGURE_PLATEAU_REL), label


def _attention_routes(d: pd.DataFrame, **where: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean token cosine per layer: the simulation's mean, the mean field, the REM recursion."""
    rows = d[d.quantity == "mean_cosine"]
    return tuple(curve(rows, source, **where) for source in ("simulation", "mean-field", "rem"))  # type: ignore[return-value]


def test_attention_collapse(made: dict[str, figures.FigureResult]) -> None:
    from isoinit.theory.bounds import rem_beta_c

    d = made["attention-collapse"].data
    low = _attention_routes(d, panel="beta = 0.5")
    high = _attention_routes(d, panel="beta = 3")
    for sim, mf, rem in (low, high):
        assert sim.size == 51 and sim[0] == pytest.approx(0.2)  # layer 0: the input's correlation
        assert np.max(np.abs(mf - sim)) < FIGURE_ATTENTION_ABS
        assert np.max(np.abs(rem - sim)) < FIGURE_ATTENTION_ABS
    # below beta_c the attention averages (no freezing) and the tokens collapse; above it the
    # first layers freeze on a few tokens and the cosine climbs more slowly
    y2 = {b: curve(d, "rem", panel=f"beta = {b}", quantity="participation") for b in ("0.5", "3")}
    assert 0.5 < rem_beta_c(0.2) < 3
    assert np.all(y2["0.5"] == 0) and y2["3"][0] > 0.3
    assert low[0][-1] > 0.99
    assert high[0][10] < low[0][10] - 0.1


def test_attention_variants(made: dict[str, figures.FigureResult]) -> None:
    d = made["attention-variants"].data
    routes = {
        (panel, beta): _attention_routes(d, panel=panel, curve=f"beta = {beta}")
        for panel in ("post-norm", "pre-norm", "gain-controlled (centred), post-norm")
        for beta in ("0.5", "3")
    }
    for sim, mf, rem in routes.values():
        assert np.max(np.abs(mf - sim)) < FIGURE_ATTENTION_ABS
        assert np.max(np.abs(rem - sim)) < FIGURE_ATTENTION_ABS
    for beta in ("0.5", "3"):
        post, pre = routes[("post-norm", beta)][0], routes[("pre-norm", beta)][0]
        centred = routes[("gain-controlled (centred), post-norm", beta)][0]
        assert post[-1] > 0.99  # post-norm collapses the tokens
        assert pre[-1] < post[-1] - 0.05  # pre-norm keeps them further apart
        assert centred[-1] < 0.6  # gain-controlled attention does not collapse them
    # frozen gain-controlled attention moves the tokens apart
    assert routes[("gain-controlled (centred), post-norm", "3")][0][-1] < 0.2


def test_attention_phase(made: dict[str, figures.FigureResult]) -> None:
    from isoinit.figures.attention import PHASE_BETAS, PHASE_SKIPS, REM_BETAS
    from isoinit.theory.bounds import rem_beta_c

    d = made["attention-phase"].data
    cells = d[(d.curve != "REM grid") & (d.quantity == "mean_cosine")]
    means = cells.groupby(["panel", "curve", "source"]).value.mean().unstack("source")
    assert len(means) == len(PHASE_BETAS) * len(PHASE_SKIPS)
    assert (means["mean-field"] - means["simulation"]).abs().max() < FIGURE_PHASE_ABS
    # no skip: rank collapse at every beta, in every route
    assert (means.loc["alpha_SA = 0"] >= 0.99).all().all()
    # a strong skip keeps the tokens apart below beta_c
    assert (means.loc[("alpha_SA = 2", "beta = 0.5")] < 0.95).all()
    # the REM freezes exactly where beta exceeds beta_c of the input's correlation (layer 1 sees it)
    y2 = d[(d.curve == "REM grid") & (d.quantity == "participation")]
    frozen = y2.groupby("x").value.max() > 0
    np.testing.assert_array_equal(frozen.to_numpy(), REM_BETAS > rem_beta_c(0.2))
