"""Results carry their configuration and provenance; save/load round trips; to_xarray."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import isoinit
from isoinit import MLP, DivergenceWarning, Provenance, sweeps
from isoinit.activations import from_hermite
from isoinit.networks import Attention, Feedforward
from isoinit.results import CONFIG_FIELDS
from isoinit.theory import meanfield

X = isoinit.inputs.degenerate(6, 30, 10, seed=0)

CASES = {
    "plain": (MLP(3, 30, "tanh"), {}),
    "stages+grams": (MLP(3, 30, "relu", "rms", order="norm-act"), {"stages": True, "grams": True}),
    "hermite": (MLP(2, 30, from_hermite([0.0, 1.0, 0.5])), {"grams": True}),
    "per-block widths": (MLP(3, (20, 40, 30), "gelu", "batch", bias=0.3, eps=1e-5), {}),
    "orthogonal": (MLP(2, 30, "leaky_relu(0.1)", center="mf", scale="layer", weights="orthogonal"), {}),
}


def simulated(case: str) -> isoinit.Trajectory:
    mlp, kw = CASES[case]
    return isoinit.simulate(mlp, X, runs=3, seed=5, **kw)


def test_provenance_of_a_simulation() -> None:
    t = simulated("plain")
    p = t.provenance
    assert isinstance(p, Provenance)
    assert p.input["kind"] == "array" and (p.input["n"], p.input["d"]) == X.shape
    assert len(p.input["sha256"]) == 64
    assert (p.seed, p.runs, p.sampler, p.precision, p.version) == (5, 3, t.sampler, "float64", isoinit.__version__)
    # the same batch gives the same description; another batch another hash
    assert isoinit.simulate(t.network, X.copy(), runs=3, seed=5) == t
    other = isoinit.simulate(t.network, X + 1e-12, runs=3, seed=5).provenance
    assert other is not None and other.input["sha256"] != p.input["sha256"]
    assert Provenance.from_dict(p.to_dict()) == p
    mf = meanfield.trajectory(t.network, X).provenance
    assert mf is not None and mf.input == p.input and mf.sampler == "meanfield" and mf.seed is None


def test_to_frame_has_the_configuration_named_as_the_mlp_fields() -> None:
    t = simulated("per-block widths")
    df = t.to_frame()
    assert list(df.columns[-len(CONFIG_FIELDS) :]) == list(CONFIG_FIELDS)
    row = df.iloc[0]
    assert (row["width"], row["norm"], row["center"], row["scale"]) == ("20,40,30", "batch", "batch", "batch")
    assert (row["bias"], row["eps"], row["activation"]) == (0.3, 1e-5, "gelu")
    mf = meanfield.trajectory(MLP(2, 10, "relu", "rms"), X).to_frame()
    assert (mf["center"] == "none").all() and (mf["scale"] == "layer").all()


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("suffix", [".npz", ".nc"])
def test_trajectory_round_trip(tmp_path: Path, case: str, suffix: str) -> None:
    if suffix == ".nc":
        pytest.importorskip("xarray")
        pytest.importorskip("netCDF4")
    t = simulated(case)
    path = t.save(tmp_path / f"t{suffix}")
    back = isoinit.load(path)
    assert type(back) is isoinit.Trajectory and back == t
    assert back.network == t.network and back.provenance == t.provenance and back.stages == t.stages
    assert back.network.act.hermite == t.network.act.hermite
    if t.grams is not None:
        assert back.grams is not None and back.grams.shape == t.grams.shape
    else:
        assert back.grams is None


def test_diverged_runs_round_trip(tmp_path: Path) -> None:
    with pytest.warns(DivergenceWarning):
        t = isoinit.simulate(MLP(60, 30, "exp", "none"), X, runs=2)
    assert (t.diverged_at >= 0).all()
    for suffix in (".npz", ".nc") if _has_netcdf() else (".npz",):
        back = isoinit.load(t.save(tmp_path / f"d{suffix}"))
        assert back == t and np.array_equal(back.diverged_at, t.diverged_at)
        assert back.diverged_at.dtype == np.int64


def _has_netcdf() -> bool:
    try:
        import netCDF4  # noqa: F401
        import xarray  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("suffix", [".npz", ".nc"])
def test_meanfield_round_trip(tmp_path: Path, suffix: str) -> None:
    if suffix == ".nc":
        pytest.importorskip("xarray")
        pytest.importorskip("netCDF4")
    mf = meanfield.trajectory(MLP(4, 10, from_hermite([0.1, 1.0, 0.3]), "rms"), X)
    back = isoinit.load(mf.save(tmp_path / f"m{suffix}"))
    assert type(back) is meanfield.MeanFieldTrajectory and back == mf


def test_save_refuses_to_overwrite_and_writes_atomically(tmp_path: Path) -> None:
    t = simulated("plain")
    path = t.save(tmp_path / "t.npz")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=r"already exists; pass overwrite=True"):
        simulated("hermite").save(path)
    assert path.read_bytes() == before
    simulated("hermite").save(path, overwrite=True)
    assert isoinit.load(path) == simulated("hermite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.npz"]
    with pytest.raises(ValueError, match=r"path must end in \.npz, \.nc"):
        t.save(tmp_path / "t.csv")
    with pytest.raises(TypeError, match="overwrite must be"):
        t.save(tmp_path / "u.npz", overwrite="yes")  # type: ignore[arg-type]


def test_corrupted_or_foreign_files_give_a_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "g.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="is not a readable isoinit result file"):
        isoinit.load(garbage)
    foreign = tmp_path / "f.npz"
    np.savez(foreign, a=np.arange(3))
    with pytest.raises(ValueError, match=r"is not an isoinit result file \(no isoinit header\)"):
        isoinit.load(foreign)
    truncated = tmp_path / "t.npz"
    simulated("plain").save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ValueError, match="is not a readable isoinit result file"):
        isoinit.load(truncated)
    with pytest.raises(FileNotFoundError, match="no such result file"):
        isoinit.load(tmp_path / "missing.npz")


#: The configurations of files written before 0.2.0's renames (format version 1), as that
#: version wrote them: under the key "mlp", a block's norm position as "position", a
#: transformer's ratio as "mlp_ratio".
_VERSION_1 = {
    "mlp": {
        "depth": 2, "width": 8, "activation": "tanh", "norm": "layer", "center": None, "scale": None,
        "order": "act-norm", "gain": 1.0, "bias": 0.0, "weights": "gaussian", "eps": 0.0,
    },
    "network": {
        "width": 8,
        "blocks": [
            {"block": "Attention", "heads": 2, "causal": False, "norm": "layer", "position": "none",
             "residual": False, "alpha": 1.0},
            {"block": "Feedforward", "ratio": 2.0, "one_layer": False, "norm": "layer", "position": "post",
             "residual": True, "alpha": 1.0},
        ],
        "activation": "relu", "init": "gaussian", "gain": 1.0, "bias": 0.0, "weights": "gaussian", "eps": 0.0,
        "architecture": "Network",
    },
    "transformer": {
        "depth": 2, "width": 8, "heads": 2, "mlp_ratio": 2.0, "norm_position": "post", "causal": False,
        "init": "gaussian", "activation": "gelu", "norm": "layer", "alpha": 1.0, "final_norm": False, "gain": 1.0,
        "bias": 0.0, "weights": "gaussian", "eps": 0.0, "architecture": "Transformer",
    },
}  # fmt: skip
_VERSION_1_NETWORKS = {
    "mlp": MLP(2, 8, "tanh", "layer"),
    "network": isoinit.Network(
        8,
        [Attention(heads=2, norm_position="none", residual=False), Feedforward(ratio=2, norm_position="post")],
    ),
    "transformer": isoinit.Transformer(2, 8, heads=2, ratio=2, norm_position="post"),
}


@pytest.mark.parametrize("case", list(_VERSION_1))
def test_files_of_format_version_1_still_load(tmp_path: Path, case: str) -> None:
    """A file of the old format (the header's configuration under "mlp", the blocks' old field
    names) loads to the result it holds; files are now written with the key "network"."""
    x = isoinit.inputs.degenerate(4, 8, 10.0, seed=0)
    t = isoinit.simulate(_VERSION_1_NETWORKS[case], x, runs=2, seed=3, sampler="weights")
    with np.load(t.save(tmp_path / "new.npz")) as z:
        header = json.loads(str(z["__isoinit__"]))
        arrays = {k: z[k] for k in z.files if k != "__isoinit__"}
    assert header["format_version"] == 3 and "mlp" not in header
    written = json.dumps(header["network"])
    assert '"position"' not in written and '"mlp_ratio"' not in written  # the new names only
    # the header version 1 wrote: the same result, its configuration under the old key and names,
    # its provenance without the environment (date, threads, blas: version 3)
    del header["network"]
    old_provenance = {k: v for k, v in header["provenance"].items() if k not in ("date", "threads", "blas")}
    old = {**header, "format_version": 1, "mlp": _VERSION_1[case], "provenance": old_provenance}
    path = tmp_path / "old.npz"
    np.savez(path, __isoinit__=np.array(json.dumps(old)), **arrays)  # type: ignore[arg-type]
    back = isoinit.load(path)
    assert back == t and back.network == t.network and repr(back.network) == repr(t.network)
    wrong = {**old, "format_version": 4}
    np.savez(path, __isoinit__=np.array(json.dumps(wrong)), **arrays)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="format version 4; this isoinit reads versions 1, 2, 3"):
        isoinit.load(path)


def test_unregistered_python_callable_cannot_be_saved(tmp_path: Path) -> None:
    mf = meanfield.trajectory(MLP(2, 10, isoinit.activations.resolve("relu")), X)
    assert isoinit.load(mf.save(tmp_path / "ok.npz")) == mf
    from isoinit.activations import Activation

    act = Activation(name="mine", base="mine", param=None, fn=np.tanh, kinks=())
    mf = meanfield.trajectory(MLP(2, 10, act), X)
    with pytest.raises(ValueError, match="Python callable that is not registered under its name"):
        mf.save(tmp_path / "no.npz")
    assert not (tmp_path / "no.npz").exists()


def test_to_xarray_dimensions_and_attributes() -> None:
    pytest.importorskip("xarray")
    t = simulated("stages+grams")
    ds = t.to_xarray()
    assert ds["gap"].dims == ("run", "layer", "stage") and list(ds["stage"].values) == list(isoinit.STAGES)
    assert ds["grams"].dims == ("run", "layer", "stage", "row", "col")
    assert ds["norm_bias"].dims == ("run", "layer") and ds["diverged_at"].dims == ("run",)
    assert "isoinit" in ds.attrs and ds.attrs["configuration"] == t.network.label()
    np.testing.assert_array_equal(ds["gap"].values, t.gap)
    mf = meanfield.trajectory(t.network, X).to_xarray()
    assert mf["gap"].dims == ("layer",) and mf["grams"].dims == ("layer", "row", "col")


def test_results_with_provenance_still_pickle() -> None:
    t = simulated("hermite")
    assert pickle.loads(pickle.dumps(t)) == t


def test_sweep_tables_carry_their_provenance(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    spec = dict(kind="degenerate", n=5, d=20, degeneracy=10, seed=1)
    df = sweeps.sweep({"depth": 2, "width": 20, "activation": ["relu", "tanh"]}, inputs=spec, runs=2, progress=False)
    prov = df.attrs["isoinit"]["provenance"]
    assert prov["input"] == spec and (prov["seed"], prov["runs"]) == (0, 2)
    assert prov["version"] == isoinit.__version__ and prov["precision"] == "float64"
    back = sweeps.load(sweeps.save(df, tmp_path / "s.parquet"))
    pd.testing.assert_frame_equal(back, df)
    assert back.attrs["isoinit"] == df.attrs["isoinit"]
    arr = sweeps.sweep({"depth": 2, "width": 20}, inputs=X[:, :20], runs=1, progress=False)
    assert arr.attrs["isoinit"]["provenance"]["input"]["kind"] == "array"


def test_plot_methods_return_axes() -> None:
    t = simulated("stages+grams")
    ax = t.plot()
    assert len(ax.get_lines()) == 1 and ax.get_yscale() == "log"
    ax = t.plot("isometry", stage="linear", ax=ax, band=False, log=False)
    assert len(ax.get_lines()) == 2
    mf = meanfield.trajectory(t.network, X)
    ax = mf.plot("gap")
    assert len(ax.get_lines()) == 1 and ax.get_lines()[0].get_linestyle() == "--"
    with pytest.raises(ValueError, match="stage must be one of"):
        t.plot(stage="lin")
    with pytest.raises(ValueError, match="stage must be None"):
        mf.plot(stage="linear")
    with pytest.raises(ValueError, match="metric must be one of"):
        t.plot("gapp")
    import matplotlib.pyplot as plt

    plt.close("all")


def test_registered_callable_round_trips_by_name(tmp_path: Path) -> None:
    from isoinit import activations

    x = isoinit.inputs.degenerate(4, 16, 10.0, seed=0)
    act = activations.register("store_xtanh", lambda v: v * np.tanh(v), overwrite=True)
    by_name = isoinit.simulate(isoinit.MLP(2, 16, "store_xtanh"), x, runs=2, seed=3)
    by_object = isoinit.simulate(isoinit.MLP(2, 16, act), x, runs=2, seed=3)
    for k, traj in enumerate((by_name, by_object)):
        path = traj.save(tmp_path / f"user{k}.npz")
        assert isoinit.load(path) == traj
    # a callable that is not registered under its name cannot be saved; an unknown name cannot be loaded
    stray = activations.Activation(name="stray_fn", base="stray_fn", param=None, fn=np.sin)
    with pytest.raises(ValueError, match="not registered under its name"):
        isoinit.simulate(isoinit.MLP(2, 16, stray), x, runs=1).save(tmp_path / "stray.npz")
    activations._USER.pop("store_xtanh")
    try:
        with pytest.raises(LookupError, match=r"register it again \(isoinit.activations.register\('store_xtanh'"):
            isoinit.load(tmp_path / "user0.npz")
    finally:
        activations.register("store_xtanh", lambda v: v * np.tanh(v), overwrite=True)


def test_frames_carry_the_provenance_into_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    traj = isoinit.simulate(MLP(3, 16, "tanh"), X, runs=2, seed=4)
    mf = meanfield.trajectory(MLP(3, 16, "tanh"), X)
    for result in (traj, mf):
        df = result.to_frame()
        assert result.provenance is not None
        assert df.attrs["isoinit"] == {"provenance": result.provenance.to_dict()}
        back = sweeps.load(sweeps.save(df, tmp_path / f"{type(result).__name__}.parquet"))
        assert back.attrs["isoinit"] == df.attrs["isoinit"]
        pd.testing.assert_frame_equal(back, df, check_dtype=False)
