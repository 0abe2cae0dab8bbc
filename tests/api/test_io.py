"""Output files: checked before the work, never overwritten without ``overwrite=True``/
``--force``, written atomically (a crash leaves the old file, no temp file)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from isoinit import _io, figures, sweeps
from isoinit.cli import main

TABLE = pd.DataFrame({"layer": [0, 1, 2], "gap": [1.0, 0.5, 0.25]})
TOML = """
[sweep]
runs = 2
[inputs]
n = 4
[grid]
depth = 2
width = 20
activation = ["relu", "tanh"]
"""
SIM = ["simulate", "--depth", "2", "--width", "20", "--batch", "4", "--runs", "2", "--quiet"]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".partial" in p.name)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet", ".pq"])
def test_save_refuses_to_overwrite_unless_asked(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"t{suffix}"
    sweeps.save(TABLE, path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=r"t\..*already exists; pass overwrite=True"):
        sweeps.save(TABLE.iloc[:1], path)
    assert path.read_bytes() == before
    sweeps.save(TABLE.iloc[:1], path, overwrite=True)
    assert len(sweeps.load(path)) == 1
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_crash_mid_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    path = tmp_path / f"t{suffix}"
    sweeps.save(TABLE, path)
    before = path.read_bytes()
    if suffix == ".parquet":  # written by pyarrow, to carry the provenance in the schema metadata
        import pyarrow.parquet as pq

        real_table = pq.write_table

        def half_table_then_crash(table: Any, target: object, *args: object, **kwargs: object) -> None:
            real_table(table.slice(0, table.num_rows // 2), target, *args, **kwargs)
            raise KeyboardInterrupt

        monkeypatch.setattr(pq, "write_table", half_table_then_crash)
    else:
        real = pd.DataFrame.to_csv

        def half_then_crash(self: pd.DataFrame, target: object, *args: object, **kwargs: object) -> None:
            real(self.iloc[: len(self) // 2], target, *args, **kwargs)  # part of the file is on disk
            raise KeyboardInterrupt  # killed (Ctrl-C) in the middle of the write

        monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_crash)
    for _ in range(2):  # also repeated: no temp file accumulates
        with pytest.raises(KeyboardInterrupt):
            sweeps.save(TABLE.iloc[::-1], path, overwrite=True)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []
    # and a crash on a fresh path leaves no file at all
    with pytest.raises(KeyboardInterrupt):
        sweeps.save(TABLE, tmp_path / f"new{suffix}")
    assert not (tmp_path / f"new{suffix}").exists() and leftovers(tmp_path) == []


def test_write_atomic_on_any_error(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("old")

    def broken(tmp: Path) -> None:
        tmp.write_text("new but incomplete")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _io.write_atomic(path, broken)
    assert path.read_text() == "old" and leftovers(tmp_path) == []
    assert _io.write_atomic(path, lambda tmp: tmp.write_text("new")) == 3
    assert path.read_text() == "new"


@pytest.mark.parametrize(
    ("target", "error", "match"),
    [
        ("missing/t.csv", FileNotFoundError, r"directory .*missing' does not exist"),
        ("deep/er/t.csv", FileNotFoundError, "does not exist"),
        ("file.txt/t.csv", NotADirectoryError, "is not a directory"),
        ("adir", IsADirectoryError, "is a directory"),
        ("t.xlsx", ValueError, r"path must end in \.csv"),
        ("t", ValueError, r"path must end in \.csv"),
    ],
)
def test_save_checks_the_path(tmp_path: Path, target: str, error: type[Exception], match: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "adir").mkdir()
    with pytest.raises(error, match=match):
        sweeps.save(TABLE, tmp_path / target)


@pytest.mark.parametrize("bad", [5, None, b"t.csv", ["t.csv"]])
def test_save_path_type(bad: object) -> None:
    with pytest.raises(TypeError, match="path must be a file path"):
        sweeps.save(TABLE, bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="overwrite must be True or False"):
        sweeps.save(TABLE, "t.csv", overwrite="yes")  # type: ignore[arg-type]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_directory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="not writable"):
            sweeps.save(TABLE, ro / "t.csv")
    finally:
        ro.chmod(0o700)


# ------------------------------------------------------------------------- command line


def test_cli_simulate_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv, png = tmp_path / "t.csv", tmp_path / "t.png"
    assert main([*SIM, "--csv", str(csv), "--plot", str(png)]) == 0
    capsys.readouterr()
    stamp = csv.read_bytes(), png.read_bytes()
    for extra in (["--csv", str(csv)], ["--plot", str(png)]):
        assert main([*SIM, *extra]) == 2
        err = capsys.readouterr()
        assert f"{extra[0]} '{extra[1]}' already exists; pass --force" in err.err
        assert "layer" not in err.out  # refused before simulating
    assert (csv.read_bytes(), png.read_bytes()) == stamp
    assert main([*SIM, "--csv", str(csv), "--plot", str(png), "--force"]) == 0
    capsys.readouterr()
    for extra, match in (
        (["--csv", str(tmp_path / "no" / "t.csv")], "--csv .* does not exist"),
        (["--plot", str(tmp_path / "t.txt")], r"--plot must end in \.png"),
        (["--plot", str(tmp_path / "no" / "t.png")], "--plot .* does not exist"),
    ):
        assert main([*SIM, *extra]) == 2
        err = capsys.readouterr()
        assert re.search(match, err.err), err.err
        assert "layer" not in err.out
    assert leftovers(tmp_path) == []


def test_cli_meanfield_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "mf.csv"
    args = ["meanfield", "--depth", "3", "--batch", "4", "--csv", str(csv)]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr()
    assert "--csv" in err.err and "already exists; pass --force" in err.err and "layer" not in err.out
    assert main([*args, "--force"]) == 0


def test_cli_sweep_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text(TOML)
    out = tmp_path / "out.csv"
    assert main(["sweep", str(toml), "--out", str(out), "--quiet"]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert main(["sweep", str(toml), "--out", str(out), "--quiet", "--runs", "3"]) == 2
    err = capsys.readouterr()
    assert "--out" in err.err and "already exists; pass --force" in err.err and "configurations x" not in err.out
    assert out.read_bytes() == before
    assert main(["sweep", str(toml), "--out", str(out), "--quiet", "--runs", "3", "--force"]) == 0
    assert out.read_bytes() != before
    assert main(["sweep", str(toml), "--out", str(tmp_path / "none" / "o.csv"), "--quiet"]) == 2
    assert "--out" in capsys.readouterr().err


def test_figures_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = figures.make("beta-vs-gain", tmp_path)
    stamp = r.png.read_bytes()
    figures.make("beta-vs-gain", tmp_path)  # the API's default: regenerate in place
    with pytest.raises(FileExistsError, match=r"beta-vs-gain\.png' already exists; pass overwrite=True"):
        figures.make("beta-vs-gain", tmp_path, overwrite=False)
    assert main(["figure", "beta-vs-gain", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr()
    assert "already exists; pass --force" in err.err and "beta-vs-gain " not in err.out
    assert main(["figure", "beta-vs-gain", "--out", str(tmp_path), "--force"]) == 0
    assert r.png.read_bytes() == stamp  # the same seed draws the same image
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match="out_dir must be a directory"):
        figures.make("beta-vs-gain", tmp_path / "f")
    assert leftovers(tmp_path) == []


def test_figure_crash_keeps_old_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = figures.make("beta-vs-gain", tmp_path)
    stamp = r.png.read_bytes(), r.csv.read_bytes()

    def crash(*args: object, **kwargs: object) -> None:
        Path(str(args[1])).write_bytes(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(figures, "compute", crash)
    with pytest.raises(KeyboardInterrupt):
        figures.make("beta-vs-gain", tmp_path)
    assert (r.png.read_bytes(), r.csv.read_bytes()) == stamp
    assert leftovers(tmp_path) == []
