"""Results that describe themselves, in every format: the seed and sampler in every table, the
date, threads and BLAS in the provenance, a CSV's provenance beside it, one suffix rule for
every writer, and warnings for a transposed batch and for dropout left on."""

from __future__ import annotations

import dataclasses
import datetime
import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import isoinit
from isoinit import MLP, Provenance, ProvenanceWarning, SingularInputWarning, TrainingModeWarning, _io, sweeps
from isoinit.cli import main

X = isoinit.inputs.degenerate(6, 30, 10, seed=0)
SIM = ["simulate", "--depth", "2", "--width", "20", "--batch", "4", "--runs", "2", "--quiet"]


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


# ---------------------------------------------------------------------------- to_frame


def test_frames_of_several_calls_keep_their_seed_and_sampler() -> None:
    mlp = MLP(3, 30, "tanh")
    a = isoinit.simulate(mlp, X, runs=2, seed=4, sampler="auto")
    b = isoinit.simulate(mlp, X, runs=2, seed=9, sampler="weights")
    both = pd.concat([a.to_frame(), b.to_frame()], ignore_index=True)
    assert list(both.columns[:3]) == ["seed", "run", "layer"]
    for t in (a, b):
        rows = both[both["seed"] == t.seed]
        assert len(rows) == 2 * 4 and (rows["sampler"] == t.sampler).all()
        np.testing.assert_array_equal(rows["gap"].to_numpy(), t.gap.reshape(-1))
    assert set(both["sampler"]) <= {"gram", "weights"}  # what ran, never "auto"
    assert a.to_frame()["sampler"].iloc[0] == a.provenance.sampler == a.sampler  # type: ignore[union-attr]


def test_forward_frames_say_no_seed_and_explicit_weights() -> None:
    mlp = MLP(2, 30, "relu")
    weights = isoinit.network_weights(mlp, X.shape[1], seed=1)
    df = isoinit.forward(mlp, X, weights).to_frame()
    assert df["seed"].isna().all() and (df["sampler"] == "explicit").all()


# ---------------------------------------------------------------------------- provenance


def test_provenance_records_the_date_threads_and_blas() -> None:
    before = _utc_now()
    t = isoinit.simulate(MLP(2, 30), X, runs=3, seed=1, threads=1)
    after = _utc_now()
    p = t.provenance
    assert p is not None and p.date is not None
    when = datetime.datetime.fromisoformat(p.date)
    assert when.tzinfo is not None and before <= when <= after
    assert p.threads == 1
    assert p.blas == isoinit.build_info()["lapack"]
    # the default thread count, capped at the runs
    one_run = isoinit.simulate(MLP(2, 30), X, runs=1).provenance
    assert one_run is not None and one_run.threads == 1
    many = isoinit.simulate(MLP(2, 30), X, runs=64).provenance
    assert many is not None and many.threads == min(isoinit.build_info()["max_threads"], 64)
    # the mean field and sweep tables are dated and name the BLAS too
    mf = isoinit.meanfield.trajectory(MLP(2, 30), X).provenance
    assert mf is not None and mf.date is not None and mf.blas == p.blas
    assert t.to_frame().attrs["isoinit"]["provenance"]["threads"] == 1


def test_equality_ignores_the_environment() -> None:
    """Same recipe, same numbers: == holds whatever the day, thread count and BLAS."""
    mlp = MLP(3, 30, "gelu")
    one = isoinit.simulate(mlp, X, runs=3, seed=2, threads=1)
    two = isoinit.simulate(mlp, X, runs=3, seed=2, threads=2)
    assert one.provenance is not None and two.provenance is not None
    assert one.provenance.threads != two.provenance.threads or isoinit.build_info()["max_threads"] == 1
    assert one == two
    p = one.provenance
    other = dataclasses.replace(p, date="2000-01-01T00:00:00+00:00", threads=64, blas="another")
    assert other == p and other.to_dict() != p.to_dict()
    assert dataclasses.replace(p, seed=3) != p  # the recipe is compared


@pytest.mark.parametrize("suffix", [".npz", ".nc"])
def test_result_files_keep_the_environment(tmp_path: Path, suffix: str) -> None:
    if suffix == ".nc":
        pytest.importorskip("xarray")
        pytest.importorskip("netCDF4")
    t = isoinit.simulate(MLP(2, 30), X, runs=2, seed=1, threads=1)
    back = isoinit.load(t.save(tmp_path / f"t{suffix}"))
    assert back == t and back.provenance is not None and t.provenance is not None
    assert back.provenance.to_dict() == t.provenance.to_dict()  # date, threads and blas too


def test_files_of_format_version_2_load_without_the_environment(tmp_path: Path) -> None:
    """Version 2 wrote the provenance without date, threads and blas: they load as None."""
    t = isoinit.simulate(MLP(2, 30, "tanh"), X, runs=2, seed=1)
    with np.load(t.save(tmp_path / "new.npz")) as z:
        header = json.loads(str(z["__isoinit__"]))
        arrays = {k: z[k] for k in z.files if k != "__isoinit__"}
    assert header["format_version"] == 3
    assert {"date", "threads", "blas"} <= set(header["provenance"])
    old_provenance = {k: v for k, v in header["provenance"].items() if k not in ("date", "threads", "blas")}
    old = {**header, "format_version": 2, "provenance": old_provenance}
    path = tmp_path / "old.npz"
    np.savez(path, __isoinit__=np.array(json.dumps(old)), **arrays)  # type: ignore[arg-type]
    back = isoinit.load(path)
    assert back == t and back.provenance is not None
    assert (back.provenance.date, back.provenance.threads, back.provenance.blas) == (None, None, None)


# ---------------------------------------------------------------------------- a CSV's provenance


def _table() -> pd.DataFrame:
    return isoinit.simulate(MLP(2, 30, "relu"), X, runs=2, seed=5).to_frame()


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_a_csv_keeps_its_provenance_beside_it(tmp_path: Path, suffix: str) -> None:
    df = _table()
    path = sweeps.save(df, tmp_path / f"t{suffix}")
    side = tmp_path / f"t{suffix}.json"
    assert side.exists()
    back = sweeps.load(path)
    assert back.attrs == df.attrs and back.attrs["isoinit"]["provenance"]["seed"] == 5
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    # the CSV itself stays a plain table for pandas
    plain = pd.read_csv(path)
    assert list(plain.columns) == list(df.columns) and len(plain) == len(df)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, side.name])


def test_a_lost_or_stale_provenance_file_is_said(tmp_path: Path) -> None:
    df = _table()
    path = sweeps.save(df, tmp_path / "t.csv")
    side = tmp_path / "t.csv.json"
    # the CSV changed after it was saved: its provenance no longer describes it
    path.write_text(path.read_text().replace(",relu,", ",tanh,"))
    with pytest.warns(ProvenanceWarning, match="another version of the CSV"):
        assert sweeps.load(path).attrs == {}
    side.write_text("{not json")
    with pytest.warns(ProvenanceWarning, match="not readable JSON"):
        assert sweeps.load(path).attrs == {}
    side.write_text(json.dumps({"something": "else"}))
    with pytest.warns(ProvenanceWarning, match="not an isoinit provenance file"):
        assert sweeps.load(path).attrs == {}
    side.unlink()
    with pytest.warns(ProvenanceWarning, match=r"no provenance file 't\.csv\.json' beside it"):
        back = sweeps.load(path)
    assert back.attrs == {} and len(back) == len(df)


def test_the_provenance_file_is_never_overwritten_unasked(tmp_path: Path) -> None:
    df = _table()
    side = tmp_path / "t.csv.json"
    side.write_text("mine")
    with pytest.raises(FileExistsError, match=r"provenance file .*t\.csv\.json' already exists; pass overwrite=True"):
        sweeps.save(df, tmp_path / "t.csv")
    assert side.read_text() == "mine" and not (tmp_path / "t.csv").exists()
    sweeps.save(df, tmp_path / "t.csv", overwrite=True)
    assert json.loads(side.read_text())["attrs"] == df.attrs
    # a frame without provenance replaces the old record: nothing stale is left beside it
    sweeps.save(df.iloc[:3].copy().pipe(_without_attrs), tmp_path / "t.csv", overwrite=True)
    assert sweeps.load(tmp_path / "t.csv").attrs == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.csv.json"]  # no temporary file left


def _without_attrs(df: pd.DataFrame) -> pd.DataFrame:
    df.attrs.clear()
    return df


def test_attrs_json_cannot_hold_are_named(tmp_path: Path) -> None:
    df = _table()
    df.attrs["array"] = np.arange(3)
    with pytest.warns(ProvenanceWarning, match=r"\['array'\] are not JSON"):
        path = sweeps.save(df, tmp_path / "t.csv")
    back = sweeps.load(path)
    assert set(back.attrs) == {"isoinit"} and back.attrs["isoinit"] == df.attrs["isoinit"]


def test_the_command_line_csv_keeps_the_provenance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert main([*SIM, "--seed", "3", "--csv", str(one)]) == 0
    back = sweeps.load(one)
    prov = back.attrs["isoinit"]["provenance"]
    assert prov["seed"] == 3 and prov["runs"] == 2 and prov["sampler"] in ("gram", "weights")
    assert (back["seed"] == 3).all() and (back["sampler"] == prov["sampler"]).all()
    assert list(back.columns[:4]) == ["config", "seed", "run", "layer"]
    assert main([*SIM[:1], "--activation", "relu", "tanh", *SIM[1:], "--csv", str(two)]) == 0
    by_config = sweeps.load(two).attrs["isoinit"]["provenance_by_config"]
    assert len(by_config) == 2 and all(p["seed"] == 0 for p in by_config)
    mf = tmp_path / "mf.csv"
    assert main(["meanfield", "--depth", "2", "--width", "20", "--batch", "4", "--csv", str(mf)]) == 0
    assert sweeps.load(mf).attrs["isoinit"]["provenance"]["sampler"] == "meanfield"
    (tmp_path / "three.csv.json").write_text("mine")
    assert main([*SIM, "--csv", str(tmp_path / "three.csv")]) == 2
    err = capsys.readouterr().err
    assert "three.csv.json' already exists; pass --force" in err and not (tmp_path / "three.csv").exists()


# ---------------------------------------------------------------------------- one suffix rule


@pytest.mark.parametrize(
    ("name", "formats", "ok", "bad"),
    [
        ("path", _io.TABLE, {"t.csv": "csv", "T.CSV.GZ": "csv", "t.csv.xz": "csv", "t.pq": "parquet"}, "t.txt"),
        ("--csv", _io.CSV, {"t.csv.bz2": "csv"}, "t.parquet"),
        ("path", _io.RESULT, {"r.npz": "npz", "r.NC": "netcdf"}, "r.npy"),
        ("--plot", _io.IMAGE, {"p.png": "png", "p.SVG": "svg"}, "p.jpg"),
    ],
)
def test_one_suffix_rule(name: str, formats: dict[str, str], ok: dict[str, str], bad: str) -> None:
    for path, fmt in ok.items():
        assert _io.output_format(name, path, formats) == fmt
    with pytest.raises(ValueError, match=rf"^{name} must end in {', '.join(formats)}; got '{bad}'$"):
        _io.output_format(name, bad, formats)
    assert _io.output_format(name, "t.csv.gz", [".csv.gz"]) == ".csv.gz"  # endings as their own format


def test_every_writer_refuses_an_unknown_suffix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = _io.TABLE
    with pytest.raises(ValueError, match=rf"^path must end in {', '.join(table)}; got "):
        sweeps.save(_table(), tmp_path / "x.txt")
    with pytest.raises(ValueError, match=rf"^path must end in {', '.join(_io.RESULT)}; got "):
        isoinit.simulate(MLP(2, 30), X).save(tmp_path / "x.txt")
    toml = tmp_path / "s.toml"
    toml.write_text("[inputs]\nn = 4\n[grid]\ndepth = 2\nwidth = 20\n")
    for argv, option, formats in (
        ([*SIM, "--csv", str(tmp_path / "out.txt")], "--csv", _io.CSV),
        ([*SIM, "--plot", str(tmp_path / "p.jpg")], "--plot", _io.IMAGE),
        (["meanfield", "--depth", "2", "--width", "20", "--csv", str(tmp_path / "m.txt")], "--csv", _io.CSV),
        (["sweep", str(toml), "--out", str(tmp_path / "s.txt")], "--out", _io.TABLE),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"error: {option} must end in {', '.join(formats)}; got " in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]  # nothing written


# ---------------------------------------------------------------------------- a transposed batch


def test_more_rows_than_features_warns_once_naming_the_shape() -> None:
    x = isoinit.inputs.gaussian(20, 8, seed=0)
    for call in (
        lambda: isoinit.simulate(MLP(3, 10, "relu"), x, runs=2),
        lambda: isoinit.forward(MLP(1, 10, "relu"), x, isoinit.network_weights(MLP(1, 10), 8)),
    ):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            t = call()
        singular = [w for w in seen if issubclass(w.category, SingularInputWarning)]
        assert len(singular) == 1, [str(w.message) for w in seen]
        assert "shape (20, 8)" in str(singular[0].message) and "X.T" in str(singular[0].message)
        assert singular[0].filename == __file__  # points at the caller
        assert np.isposinf(t.gap[:, 0]).all()  # what it warns about
    # as many rows as features, or fewer: no warning (pytest turns warnings into errors)
    isoinit.simulate(MLP(2, 10), isoinit.inputs.gaussian(8, 8, seed=0), runs=2)


# ---------------------------------------------------------------------------- dropout left on


def test_measure_warns_when_dropout_is_active_and_records_the_mode() -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    from isoinit.hooks import GramRecorder, measure

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(30, 40), nn.ReLU(), nn.Dropout(0.5), nn.Linear(40, 20))
    assert model.training  # a fresh module is in training mode
    with pytest.warns(TrainingModeWarning, match=r"training mode with dropout active \(1 module\(s\): '2'\)"):
        df = measure(model, X)
    assert df["training"].dtype == bool and df["training"].all()
    model.eval()
    df = measure(model, X)  # no warning (pytest turns warnings into errors)
    assert not df["training"].any()
    # a model in training mode without active dropout measures the same network: no warning
    plain = nn.Sequential(nn.Linear(30, 40), nn.ReLU(), nn.Dropout(0.0))
    assert measure(plain, X)["training"].all()
    attention = nn.MultiheadAttention(30, 3, dropout=0.1, batch_first=True)
    tokens = torch.randn(4, 5, 30)
    with pytest.warns(TrainingModeWarning, match="'<model>'"):  # its dropout is a rate, not a module
        measure(attention, (tokens, tokens, tokens), modules="")
    # the recorder says the mode of every forward pass
    with GramRecorder(model, modules=nn.Linear) as rec, torch.no_grad():
        xt = torch.as_tensor(X, dtype=torch.float32)
        model.train()
        model(xt)
        model.eval()
        model(xt)
    frame = rec.frame()
    assert frame.groupby("call")["training"].agg(["all", "any"]).to_numpy().tolist() == [
        [True, True],
        [False, False],
    ]


def test_pickles_of_an_earlier_version_load_without_the_environment() -> None:
    p = isoinit.simulate(MLP(2, 30), X, runs=2).provenance
    assert p is not None and pickle.loads(pickle.dumps(p)).to_dict() == p.to_dict()
    old = {k: v for k, v in p.__dict__.items() if k not in ("date", "threads", "blas")}

    class Earlier:  # pickles as 0.2.0 pickled a Provenance: its state without the new fields
        def __reduce__(self) -> tuple[object, ...]:
            return (object.__new__, (Provenance,), old)

    back = pickle.loads(pickle.dumps(Earlier()))
    assert type(back) is Provenance and back == p
    assert (back.date, back.threads, back.blas) == (None, None, None)


def test_columns_of_none_come_back_as_none(tmp_path: Path) -> None:
    """A CSV cannot tell None from NaN; the provenance file names the text columns."""
    df = _table()
    df["note"] = pd.Series([None] * len(df), dtype=object)
    back = sweeps.load(sweeps.save(df, tmp_path / "t.csv"))
    assert back["note"].dtype == object and back["note"].isna().all()
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    (tmp_path / "t.csv.json").unlink()
    with pytest.warns(ProvenanceWarning):
        assert sweeps.load(tmp_path / "t.csv")["note"].dtype == np.float64  # without it: NaN
