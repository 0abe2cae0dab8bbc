"""Every path argument of every command: a bad path is one line on stderr naming the option,
exit status 2, nothing computed and no traceback (docs/errors.md, isoinit.cli._pathargs)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import isoinit
from isoinit import sweeps
from isoinit.cli import _pathargs, build_parser, main

TOO_LONG = "a" * 300  # beyond the 255 bytes of a file name on Linux and macOS
SMALL = ["--depth", "2", "--width", "8", "--batch", "3"]
TOML = "[grid]\ndepth = 2\nwidth = 16\nactivation = 'relu'\n"

#: (command, argv with PATH where the path goes, the option as messages name it, kind, suffix a
#: good file name needs)
PATHS: list[tuple[str, list[str], str, str, str]] = [
    ("simulate", ["simulate", *SMALL, "--quiet", "--csv", "PATH"], "--csv", "file", ".csv"),
    ("simulate", ["simulate", *SMALL, "--quiet", "--plot", "PATH"], "--plot", "file", ".png"),
    ("meanfield", ["meanfield", *SMALL, "--csv", "PATH"], "--csv", "file", ".csv"),
    ("sweep", ["sweep", "s.toml", "--out", "PATH", "--quiet"], "--out", "file", ".csv"),
    ("figure", ["figure", "order", "--out", "PATH", "--size", "0.01", "--runs", "1"], "--out", "dir", ""),
    ("train", ["train", "--out", "PATH", "--quiet"], "--out", "dir", ""),
    ("sweep", ["sweep", "PATH", "--out", "o.csv"], "FILE.toml", "input", ".toml"),
]

#: (kind, how the bad path is made in the working directory, what the message says)
BAD: list[tuple[str, Callable[[str], str], str]] = [
    ("file", lambda suffix: _mkdir(f"d{suffix}"), "is a directory; give a file path"),
    ("file", lambda suffix: _touch("f.txt") + f"/x{suffix}", "'f.txt' is not a directory"),
    ("file", lambda suffix: TOO_LONG + suffix, "file name too long"),
    ("file", lambda suffix: "", "must be a file path; got ''"),
    ("file", lambda suffix: f"missing/x{suffix}", "the directory 'missing' does not exist"),
    ("dir", lambda suffix: _touch("f.txt"), "must be a directory; got the file 'f.txt'"),
    ("dir", lambda suffix: _touch("f.txt") + "/sub", "'f.txt' is a file, not a directory"),
    ("dir", lambda suffix: TOO_LONG, "file name too long"),
    ("dir", lambda suffix: "", "must be a directory path; got ''"),
    ("input", lambda suffix: _mkdir(f"d{suffix}"), "is a directory; give a sweep file"),
    ("input", lambda suffix: f"missing{suffix}", "must be an existing sweep file; got 'missing.toml'"),
    ("input", lambda suffix: TOO_LONG + suffix, "file name too long"),
    ("input", lambda suffix: "", "must be a file path; got ''"),
]


def _mkdir(name: str) -> str:
    Path(name).mkdir()
    return name


def _touch(name: str) -> str:
    Path(name).write_text("not a directory\n")
    return name


CASES = [
    pytest.param(argv, option, make, says, suffix, id=f"{argv[0]}-{option}-{i}")
    for argv, option, kind, suffix in ((p[1], p[2], p[3], p[4]) for p in PATHS)
    for i, (bad_kind, make, says) in enumerate(BAD)
    if bad_kind == kind
]


@pytest.mark.parametrize(("argv", "option", "make", "says", "suffix"), CASES)
def test_a_bad_path_is_one_line_naming_the_option(
    argv: list[str],
    option: str,
    make: Callable[[str], str],
    says: str,
    suffix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("s.toml").write_text(TOML)
    path = make(suffix)
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main([path if a == "PATH" else a for a in argv])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""  # refused before any work
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith(f"isoinit {argv[0]}: error: {option}")
    assert says in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_every_path_argument_is_covered() -> None:
    """The table above lists every path argument the parser has (a new one must be added)."""
    parser = build_parser()
    commands = {"simulate", "info", "hermite", "meanfield", "sweep", "figure", "train"}
    found = {(c, o) for c in commands for o in _pathargs.path_options(parser, c).values()}
    assert found == {(p[0], p[2]) for p in PATHS}


def test_figure_targets_are_checked_under_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("figs/order.png").mkdir(parents=True)
    assert main(["figure", "order", "--out", "figs", "--size", "0.01", "--runs", "1"]) == 2
    assert capsys.readouterr().err == "isoinit figure: error: --out 'figs/order.png' is a directory; give a file path\n"
    Path("figs/order.png").rmdir()
    Path("figs/order.csv").write_text("old\n")
    assert main(["figure", "order", "--out", "figs", "--size", "0.01", "--runs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("isoinit figure: error: --out 'figs/order.csv' already exists; pass --force")
    assert Path("figs/order.csv").read_text() == "old\n"


def test_a_file_system_error_while_writing_names_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the file system refuses after the checks (a full disk while writing the table) is
    worded ``OPTION 'PATH' ('FILE'): reason``."""
    monkeypatch.chdir(tmp_path)
    Path("s.toml").write_text(TOML)

    def full_disk(df: object, path: Path, **kwargs: object) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path.parent / f".{path.name}.1a2b.partial.csv"))

    monkeypatch.setattr(sweeps, "save", full_disk)
    assert main(["sweep", "s.toml", "--out", "t.csv", "--quiet", "--runs", "1"]) == 2
    assert capsys.readouterr().err == (
        "isoinit sweep: error: --out 't.csv' ('.t.csv.1a2b.partial.csv'): no space left on device\n"
    )


def test_describe_words_an_os_error_by_the_argument_it_concerns() -> None:
    parser = build_parser()
    args = parser.parse_args(["figure", "order", "--out", "figs"])
    under = OSError(errno.EACCES, os.strerror(errno.EACCES), "figs/order.png")
    assert _pathargs.describe(parser, args, under) == ("--out 'figs' ('figs/order.png'): permission denied", 2)
    elsewhere = OSError(errno.EACCES, os.strerror(errno.EACCES), "/etc/other")
    assert _pathargs.describe(parser, args, elsewhere) == ("'/etc/other': permission denied", 1)
    own = IsADirectoryError("--out 'x' is a directory; give a file path")
    assert _pathargs.describe(parser, args, own) == ("--out 'x' is a directory; give a file path", 2)


def test_the_installed_entry_point_prints_no_traceback(tmp_path: Path) -> None:
    """``python -m isoinit.cli``, the process the ``isoinit`` script runs: status and stderr."""
    (tmp_path / "d").mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(isoinit.__file__).parents[1]), *sys.path])}
    proc = subprocess.run(
        [sys.executable, "-m", "isoinit.cli", "sweep", "d", "--out", "o.csv"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr == "isoinit sweep: error: FILE.toml 'd' is a directory; give a sweep file\n"
    assert proc.stdout == ""
