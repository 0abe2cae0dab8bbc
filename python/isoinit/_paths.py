"""Where the C++ kernel's headers and CMake package are installed.

The kernel (``isoinit/simulate.hpp`` and the headers it includes) is header-only; a pip
install puts it in ``site-packages/isoinit/include`` and a CMake package config in
``site-packages/isoinit/share/cmake/isoinit`` (``find_package(isoinit CONFIG)`` then gives the
target ``isoinit::kernel``; see ``docs/cpp.md``). For build scripts::

    python -m isoinit._paths --includedir
    cmake -S . -B build -Disoinit_DIR="$(python -m isoinit._paths --cmakedir)"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["get_cmake_dir", "get_include"]

_HEADER = Path("isoinit") / "simulate.hpp"
_CONFIG = "isoinitConfig.cmake"


def _package_dirs() -> list[Path]:
    # every directory of the package: one for a regular install; for an editable install
    # (scikit-build-core's redirect mode) also site-packages/isoinit, which holds the
    # installed non-Python files
    package = sys.modules[__package__ or "isoinit"]
    return [Path(p) for p in getattr(package, "__path__", [Path(__file__).parent])]


def _source_include() -> Path:
    # python/isoinit/_paths.py -> <repository>/cpp/include
    return Path(__file__).resolve().parents[2] / "cpp" / "include"


def _first_holding(candidates: list[Path], file: Path, what: str) -> str:
    """The first of ``candidates`` that holds ``file``, or a FileNotFoundError naming them all."""
    for c in candidates:
        if (c / file).is_file():
            return str(c)
    raise FileNotFoundError(
        f"isoinit's {what} ({file.as_posix()}) is not installed: looked in "
        + ", ".join(str(c) for c in candidates)
        + "; reinstall isoinit (pip install --force-reinstall isoinit)"
    )


def get_include() -> str:
    """The directory to put on the include path for ``#include "isoinit/simulate.hpp"``.

    Returns
    -------
    str
        ``<package>/include`` of the installed package; in a source checkout whose package
        directory holds no headers (an editable install that has not installed them), the
        repository's ``cpp/include`` instead.

    Raises
    ------
    FileNotFoundError
        If neither holds ``isoinit/simulate.hpp`` (a broken install).
    """
    candidates = [d / "include" for d in _package_dirs()] + [_source_include()]
    return _first_holding(candidates, _HEADER, "C++ headers")


def get_cmake_dir() -> str:
    """The directory holding ``isoinitConfig.cmake``, for ``-Disoinit_DIR=...``.

    Adding the package's ``share/cmake`` parent to ``CMAKE_PREFIX_PATH`` works too;
    ``find_package(isoinit CONFIG REQUIRED)`` then defines ``isoinit::kernel``.

    Returns
    -------
    str
        ``<package>/share/cmake/isoinit`` of the installed package (of ``site-packages/isoinit``
        for an editable install). There is no source-tree fallback: the config is generated
        when the package is built and installed.

    Raises
    ------
    FileNotFoundError
        If no package directory holds ``isoinitConfig.cmake`` (a broken install).
    """
    candidates = [d / "share" / "cmake" / "isoinit" for d in _package_dirs()]
    return _first_holding(candidates, Path(_CONFIG), "CMake package")


def main(argv: list[str] | None = None) -> int:
    """``python -m isoinit._paths --includedir | --cmakedir``: print one location."""
    parser = argparse.ArgumentParser(prog="python -m isoinit._paths", description=main.__doc__)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--includedir", action="store_true", help="print the C++ include directory")
    which.add_argument("--cmakedir", action="store_true", help="print the directory of isoinitConfig.cmake")
    args = parser.parse_args(argv)
    try:
        print(get_include() if args.includedir else get_cmake_dir())
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
