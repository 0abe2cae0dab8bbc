"""Sweeps: grid expansion, the tidy table, local vs Dask, files, TOML and ``isoinit sweep``."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import isoinit
from isoinit import MLP, DivergenceWarning, sweeps
from isoinit.cli import main
from isoinit.metrics import METRICS

INPUTS = dict(kind="degenerate", n=6, degeneracy=10, seed=0)
GRID = {"activation": ["relu", "tanh"], "order": ["act-norm", "norm-act"], "depth": 4, "width": 40}
# a grid where exp without normalization overflows within a few layers (inf and NaN in the table)
DIVERGING = {"activation": ["relu", "exp"], "norm": "none", "depth": 6, "width": 30}


# ---------------------------------------------------------------------------- expansion


def test_grid_expands_to_the_cartesian_product_last_key_fastest() -> None:
    configs = sweeps.expand(GRID)
    assert [(m.act.name, m.order) for m in configs] == [
        ("relu", "act-norm"),
        ("relu", "norm-act"),
        ("tanh", "act-norm"),
        ("tanh", "norm-act"),
    ]
    assert all(m.depth == 4 and m.width == 40 for m in configs)


def test_explicit_list_of_dicts_and_mlps_and_per_block_widths() -> None:
    mlp = MLP(3, 20, "selu")
    configs = sweeps.expand([{"depth": 2, "width": 10}, mlp])
    assert configs == [MLP(2, 10), mlp]
    per_block = sweeps.expand({"depth": 3, "width": [(10, 20, 30), 15]})
    assert [m.width for m in per_block] == [(10, 20, 30), 15]
    assert sweeps.expand(mlp) == [mlp]


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"depth": 2, "width": 10, "activaton": "relu"}, ValueError, "'activaton'"),
        ({"depth": 2, "width": 10, "gain": []}, ValueError, r"grid\['gain'\]"),
        ({"depth": 2}, ValueError, "depth and width"),
        ({"depth": 2, "width": 10, "activation": ["relu", "rleu"]}, ValueError, "activation must be one of"),
        ([{"depth": 2, "width": 10}, 3], TypeError, r"grid_or_list\[1\]"),
        ([], ValueError, "at least one configuration"),
        ("relu", TypeError, "grid_or_list must be"),
    ],
)
def test_bad_grids_name_the_parameter(bad: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        sweeps.expand(bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- the table


def test_tidy_shape_columns_and_values_match_simulate() -> None:
    runs = 3
    df = sweeps.sweep(GRID, inputs=INPUTS, runs=runs, seed=7, progress=False)
    configs = sweeps.expand(GRID)
    assert len(df) == len(configs) * runs * (4 + 1)
    assert list(df.columns) == [
        *sweeps.CONFIG_COLUMNS, "seed", "run", "layer", *METRICS, "norm_bias", "sampler", "diverged_at"
    ]  # fmt: skip
    assert (df["seed"] == 7).all() and set(df["sampler"]) <= {"gram", "weights"}
    assert (df["diverged_at"] == -1).all()
    x = isoinit.inputs.degenerate(6, 40, 10, seed=0)
    for i, mlp in enumerate(configs):
        part = df[df["config"] == i]
        assert part["activation"].eq(mlp.act.name).all() and part["order"].eq(mlp.order).all()
        traj = isoinit.simulate(mlp, x, runs=runs, seed=7)
        np.testing.assert_array_equal(part["gap"].to_numpy(), traj.gap.reshape(-1))
        np.testing.assert_array_equal(part["norm_bias"].to_numpy(), traj.norm_bias.reshape(-1))


def test_stages_metrics_subset_and_every_config_column() -> None:
    # every MLP field is a column of every table (bias, weights, eps too, not only when set)
    grid = {"depth": 2, "width": 20, "bias": [0.0, 0.5]}
    df = sweeps.sweep(grid, inputs=INPUTS, runs=2, stages=True, metrics=["gap", "isometry"], progress=False)
    assert len(df) == 2 * 2 * 3 * 3
    assert {"bias", "weights", "eps"} <= set(sweeps.CONFIG_COLUMNS)
    assert list(df.columns) == [
        *sweeps.CONFIG_COLUMNS,
        "seed",
        "run",
        "layer",
        "stage",
        "isometry",
        "gap",
        "norm_bias",
        "sampler",
        "diverged_at",
    ]
    assert set(df["stage"]) == set(isoinit.STAGES)
    with pytest.raises(ValueError, match=r"metrics\[0\] must be one of.*'gapp'"):
        sweeps.sweep(grid, inputs=INPUTS, metrics=["gapp"], progress=False)


def test_input_dimension_defaults_to_each_configurations_width() -> None:
    df = sweeps.sweep({"depth": 2, "width": [20, 30]}, inputs=dict(n=5, degeneracy=5, seed=3), runs=2, progress=False)
    for i, w in enumerate((20, 30)):
        x = isoinit.inputs.degenerate(5, w, 5, seed=3)
        traj = isoinit.simulate(MLP(2, w), x, runs=2)
        np.testing.assert_array_equal(df.loc[df["config"] == i, "gap"], traj.gap.reshape(-1))
    x = isoinit.inputs.gaussian(5, 12, seed=1)
    direct = sweeps.sweep({"depth": 2, "width": [20, 30]}, inputs=x, runs=2, progress=False)
    by_spec = sweeps.sweep(
        {"depth": 2, "width": [20, 30]}, inputs=dict(kind="gaussian", n=5, d=12, seed=1), runs=2, progress=False
    )
    pd.testing.assert_frame_equal(direct, by_spec)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(inputs=dict(kind="uniform")), "inputs kind must be one of"),
        (dict(inputs=dict(kind="gaussian", degeneracy=3)), "'degeneracy'"),
        (dict(inputs=np.ones(5)), "2-D"),
        (dict(inputs=INPUTS, runs=0), "runs must be"),
        (dict(inputs=INPUTS, backend="spark"), "backend must be"),
    ],
)
def test_bad_options_name_the_parameter(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sweeps.sweep({"depth": 2, "width": 10}, progress=False, **kwargs)  # type: ignore[arg-type]


def test_divergence_is_one_warning_and_a_column() -> None:
    with pytest.warns(DivergenceWarning, match="1 of 2 configurations"):
        df = sweeps.sweep(DIVERGING, inputs=INPUTS, runs=3, progress=False)
    assert (df.loc[df["config"] == 0, "diverged_at"] == -1).all()
    bad = df[df["config"] == 1]
    assert (bad["diverged_at"] > 0).all()
    assert bad.loc[bad["layer"] >= bad["diverged_at"] + 1, "gap"].isna().all()


# ---------------------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    # in-process and small: one worker thread; no dashboard (it would need bokeh and a port)
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_dask_backend_gives_the_local_table(dask_client: Any) -> None:
    local = sweeps.sweep(GRID, inputs=INPUTS, runs=3, seed=5, stages=True, progress=False)
    remote = sweeps.sweep(GRID, inputs=INPUTS, runs=3, seed=5, stages=True, backend=dask_client, progress=False)
    pd.testing.assert_frame_equal(local, remote, check_exact=True)


def test_dask_backend_warns_like_local(dask_client: Any) -> None:
    with pytest.warns(DivergenceWarning, match="1 of 2 configurations"):
        remote = sweeps.sweep(DIVERGING, inputs=INPUTS, runs=2, backend=dask_client, progress=True)
    with pytest.warns(DivergenceWarning):
        local = sweeps.sweep(DIVERGING, inputs=INPUTS, runs=2, progress=False)
    pd.testing.assert_frame_equal(local, remote, check_exact=True)


# ---------------------------------------------------------------------------- files


@pytest.fixture(scope="module", params=["uniform", "per-block"])
def table(request: pytest.FixtureRequest) -> pd.DataFrame:
    configs = sweeps.expand(DIVERGING)
    if request.param == "per-block":  # the width column holds "30,20,..." strings
        configs.append(MLP(6, (30, 20, 10, 10, 20, 30), center="mf", bias=0.1))
    with pytest.warns(DivergenceWarning):  # inf and NaN must survive the round trip too
        return sweeps.sweep(configs, inputs=INPUTS, runs=2, progress=False)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_save_load_round_trip(table: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    if suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        pytest.skip("pyarrow not installed")
    path = sweeps.save(table, tmp_path / f"t{suffix}")
    back = sweeps.load(path)
    pd.testing.assert_frame_equal(back, table, check_exact=True)
    assert np.isinf(back["gap"]).any() and back["gap"].isna().any()


def test_save_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = pd.DataFrame({"layer": [0, 1], "gap": [1.0, 0.5]})
    with pytest.raises(ValueError, match=r"path must end in \.csv.*t\.xlsx'"):
        sweeps.save(table, tmp_path / "t.xlsx")
    with pytest.raises(FileNotFoundError):
        sweeps.load(tmp_path / "missing.csv")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    with pytest.raises(ImportError, match=r"pyarrow.*isoinit\[parquet\]"):
        sweeps.save(table, tmp_path / "t.parquet")


# ---------------------------------------------------------------------------- TOML and CLI

TOML = """
[sweep]
runs = 2
seed = 3
metrics = ["gap", "potential"]

[inputs]
kind = "degenerate"
n = 6
degeneracy = 10

[grid]
depth = 4
width = 40
activation = ["relu", "tanh"]
order = ["act-norm", "norm-act"]

[[config]]
depth = 4
width = 40
activation = "selu"
center = "mf"
"""


def test_from_toml_matches_the_python_sweep(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(TOML)
    configs, options = sweeps.from_toml(path)
    assert configs == [*sweeps.expand(GRID), MLP(4, 40, "selu", center="mf")]
    assert options == dict(
        runs=2, seed=3, metrics=["gap", "potential"], inputs=dict(kind="degenerate", n=6, degeneracy=10)
    )
    df = sweeps.sweep(configs, progress=False, **options)
    direct = sweeps.sweep(
        [*sweeps.expand(GRID), MLP(4, 40, "selu", center="mf")],
        inputs=INPUTS,
        runs=2,
        seed=3,
        metrics=["potential", "gap"],
        progress=False,
    )
    pd.testing.assert_frame_equal(df, direct, check_exact=True)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[grid]\ndepth = 2\nwidth = 5\nactivaton = 'relu'\n", "'activaton'"),
        ("[sweep]\nruns = 2\nrepeats = 3\n", "'repeats'"),
        ("[sweep]\nruns = 2\n", "defines no configuration"),
        ("[grids]\ndepth = 2\n", "'grids'"),
        ("[inputs]\nkind = 'gaussian'\ndegeneracy = 2\n[grid]\ndepth = 2\nwidth = 5\n", "'degeneracy'"),
        ("[grid\n", "not valid TOML"),
    ],
)
def test_bad_toml_names_the_key(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        sweeps.from_toml(path)


def test_example_sweep_file_parses() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "sweep.toml"
    configs, options = sweeps.from_toml(example)
    assert len(configs) == 5 and options["runs"] == 10


def test_cli_sweep_writes_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(TOML)
    out = tmp_path / "out.csv"
    assert main(["sweep", str(path), "--out", str(out), "--runs", "3", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "5 configurations x 3 runs" in printed and str(out) in printed
    configs, options = sweeps.from_toml(path)
    expected = sweeps.sweep(configs, progress=False, **{**options, "runs": 3})
    pd.testing.assert_frame_equal(sweeps.load(out), expected, check_exact=True, check_dtype=False)
    assert main(["sweep", str(path), "--list"]) == 0
    assert "selu, center=mf" in capsys.readouterr().out


def test_cli_sweep_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(TOML)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out.xlsx")]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o.csv")]) == 2
    assert "FILE.toml" in capsys.readouterr().err
    assert main(["sweep", str(path)]) == 2
    assert "--out is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--help"])
    assert info.value.code == 0
    assert "examples:" in capsys.readouterr().out


# ---------------------------------------------------------------------------- schema

_G = "[grid]\ndepth = 2\nwidth = 5\n"


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("grid = 5\n", TypeError, r"grid in .* must be a table \[grid\] or an array of tables \[\[grid\]\]; got 5"),
        ("grid = [5]\n", TypeError, r"grid\[0\] in .* must be a table"),
        ("grid = 'relu'\n", TypeError, "grid in .* must be a table"),
        ("config = 5\n", TypeError, r"config in .* must be an array of tables \(\[\[config\]\]\); got 5"),
        ("config = [1, 2]\n", TypeError, r"config\[0\] in .* must be a table"),
        ("sweep = [1]\n" + _G, TypeError, r"\[sweep\] in .* must be a table"),
        (_G + "[sweep]\nstages = 'no'\n", TypeError, r"\[sweep\] stages in .* must be True or False; got 'no'"),
        (_G + "[sweep]\nstages = 1\n", TypeError, r"\[sweep\] stages in .* must be True or False; got 1"),
        (_G + "[sweep]\nmetrics = 5\n", TypeError, r"\[sweep\] metrics in .* must be an array of metric names"),
        (_G + "[sweep]\nmetrics = 'gap'\n", TypeError, r"\[sweep\] metrics in .* must be an array"),
        (_G + "[sweep]\nmetrics = ['gap', 'gapp']\n", ValueError, r"\[sweep\] metrics in .*\[1\] must be one of"),
        (_G + "[sweep]\nmetrics = [1]\n", TypeError, r"metrics in .*\[0\] must be one of"),
        (_G + "[sweep]\nmetrics = []\n", ValueError, "at least one metric"),
        (_G + "[sweep]\nruns = '10'\n", TypeError, r"\[sweep\] runs in .* must be an integer"),
        (_G + "[sweep]\nruns = 2.5\n", TypeError, r"\[sweep\] runs in .* must be an integer"),
        (_G + "[sweep]\nruns = 0\n", ValueError, r"\[sweep\] runs in .* must be an integer in \[1, "),
        (_G + "[sweep]\nseed = -1\n", ValueError, r"\[sweep\] seed in .* must be an integer >= 0"),
        (_G + "[sweep]\nthreads = [2]\n", TypeError, r"\[sweep\] threads in .* must be an integer"),
        (_G + "[inputs]\nn = '10'\n", TypeError, r"\[inputs\] n in .* must be an integer >= 2; got '10'"),
        (_G + "[inputs]\nn = 1\n", ValueError, r"\[inputs\] n in .* must be an integer >= 2; got 1"),
        (_G + "[inputs]\nd = 2.5\n", TypeError, r"\[inputs\] d in .* must be an integer"),
        (_G + "[inputs]\ndegeneracy = 'x'\n", TypeError, r"\[inputs\] degeneracy in .* must be a finite number"),
        (_G + "[inputs]\nkind = 5\n", TypeError, r"\[inputs\] kind in .* must be one of degenerate, gaussian"),
        ("[grid]\ndepth = '30'\nwidth = 5\n", TypeError, r"\[grid\]\['depth'\] in .* must be an integer; got '30'"),
        ("[grid]\ndepth = [2, 'x']\nwidth = 5\n", TypeError, r"\[grid\]\['depth'\]\[1\] in .* must be an integer"),
        ("[grid]\ndepth = 2\nwidth = [[[3]]]\n", TypeError, r"\[grid\]\['width'\]\[0\] in .*per-block widths"),
        ("[grid]\ndepth = 2\nwidth = [[10, [20]]]\n", TypeError, r"\['width'\]\[0\] in .* an array of integers"),
        ("[grid]\ndepth = 2\nwidth = []\n", ValueError, r"\[grid\]\['width'\] in .* at least one value"),
        (_G + "activation = 5\n", TypeError, r"\['activation'\] in .* must be an activation spec string; got 5"),
        (_G + "activation = [['relu']]\n", TypeError, r"\['activation'\]\[0\] in .* activation spec"),
        (_G + "gain = true\n", TypeError, r"\['gain'\] in .* must be a number; got True"),
        (_G + "gain = ['1']\n", TypeError, r"\['gain'\]\[0\] in .* must be a number"),
        (_G + "center = 3\n", TypeError, r"\['center'\] in .* must be a string"),
        (_G + "norm = 'lyer'\n", ValueError, r"\[grid\] in .*: norm must be one of"),
        ("[[config]]\ndepth = '3'\nwidth = 5\n", TypeError, r"\[\[config\]\] #1\['depth'\] in .* must be an integer"),
        ("[[config]]\ndepth = 3\nwidth = [10, 20]\n", ValueError, r"\[\[config\]\] #1 in .*: width must be"),
        (
            "[[grid]]\ndepth = 2\nwidth = 5\n[[grid]]\ndepth = 2\nwidth = 'x'\n",
            TypeError,
            r"\[\[grid\]\] #2\['width'\]",
        ),
        ("[grid]\ndepth = 2\nwidth = " + "[" * 3000 + "3" + "]" * 3000 + "\n", ValueError, "nested too deeply"),
    ],
)
def test_toml_schema_errors_are_one_line_and_name_key_and_file(
    tmp_path: Path, text: str, error: type[Exception], match: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(error, match=match) as info:
        sweeps.from_toml(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message


def test_toml_real_booleans_and_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(_G + "[sweep]\nstages = false\nmetrics = ['gap']\n")
    assert sweeps.from_toml(path)[1]["stages"] is False
    path.write_bytes(b"[grid]\ndepth = 2\nwidth = \xff\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        sweeps.from_toml(path)
    with pytest.raises(TypeError, match="path must be a file path"):
        sweeps.from_toml(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"metrics": 5}, TypeError, r"metrics must be a metric name or a list of metric names .*; got 5"),
        ({"metrics": 2.5}, TypeError, "metrics must be a metric name or a list"),
        ({"metrics": {"gap": 1}}, TypeError, "metrics must be a metric name or a list"),
        ({"metrics": [None]}, TypeError, r"metrics\[0\] must be one of"),
        ({"metrics": "gapp"}, ValueError, r"metrics\[0\] must be one of"),
        ({"stages": "no"}, TypeError, "stages must be True or False; got 'no'"),
        ({"stages": 1}, TypeError, "stages must be True or False"),
    ],
)
def test_sweep_options_are_checked(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        sweeps.sweep({"depth": 2, "width": 5}, inputs=INPUTS, runs=1, progress=False, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({"depth": 2, "width": [[[3, 3]]]}, r"grid\['width'\]\[0\] must be an integer or an array of integers"),
        ({"depth": [2, [3]], "width": 5}, r"grid\['depth'\]\[1\] must be an integer"),
        ({"depth": 2, "width": 5, "activation": [["relu"]]}, r"grid\['activation'\]\[0\]"),
        ({"depth": 2, "width": 5, "gain": "1"}, r"grid\['gain'\] must be a number; got '1'"),
        ({"depth": 2.0, "width": 5}, r"grid\['depth'\] must be an integer; got 2.0"),
    ],
)
def test_api_grids_use_the_same_schema(grid: dict[str, object], match: str) -> None:
    with pytest.raises(TypeError, match=match):
        sweeps.expand(grid)
