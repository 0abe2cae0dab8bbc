"""The package's own house rules: one version, dir() = __all__, a clear error for a bad kernel."""

from __future__ import annotations

import importlib
import sys
from importlib import metadata

import pytest

import isoinit

# every public module (isoinit.simulate the module, not the function of the same name)
PUBLIC = [
    "isoinit",
    *(f"isoinit.{m}" for m in isoinit.__all__ if isinstance(getattr(isoinit, m), type(isoinit))),
    "isoinit.cli",
    "isoinit.config",
    "isoinit.networks.blocks",
    "isoinit.networks.mlp",
    "isoinit.results",
    "isoinit.simulate",
    "isoinit.theory.bounds",
    "isoinit.theory.hermite",
    "isoinit.theory.meanfield",
]


def test_version_comes_from_the_package_metadata() -> None:
    assert isoinit.__version__ == metadata.version("isoinit")
    assert isoinit.build_info()["version"] == isoinit.__version__  # the compiled kernel, same source


@pytest.mark.parametrize("name", PUBLIC)
def test_dir_matches_all(name: str) -> None:
    mod = importlib.import_module(name)
    assert sorted(dir(mod)) == sorted(mod.__all__)
    for attr in mod.__all__:
        assert hasattr(mod, attr), f"{name}.__all__ names {attr!r}, which does not exist"


def test_stale_kernel_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from isoinit import _core

    monkeypatch.setattr(_core, "API", -1)
    with pytest.raises(ImportError, match=r"compiled kernel is stale: .*interface -1.*reinstall isoinit"):
        isoinit._load_core()
    monkeypatch.setattr(_core, "API", isoinit._CORE_API)
    monkeypatch.setattr(_core, "__version__", "0.0.1")
    with pytest.raises(ImportError, match=r"built for version 0.0.1"):
        isoinit._load_core()


def test_missing_kernel_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "isoinit._core", None)  # what a deleted .so looks like to import
    monkeypatch.delattr(isoinit, "_core")
    with pytest.raises(ImportError, match=r"compiled kernel \(isoinit._core\) is missing.*reinstall isoinit"):
        isoinit._load_core()


def test_option_types_name_the_kernels_options() -> None:
    # the Literal types (for type checkers and argument checks) and the kernel's option tables
    # (cpp/bindings/options.hpp) declare the same names; this holds them together
    from typing import get_args

    from isoinit import _core
    from isoinit.networks import blocks, mlp
    from isoinit.simulate import Dtype, Sampler

    options = {k: set(v) for k, v in _core.constants()["OPTIONS"].items()}
    assert set(get_args(mlp.Centering)) == options["center"]
    assert set(get_args(mlp.Scaling)) == options["scale"]
    assert set(get_args(mlp.Order)) == options["order"]
    assert set(get_args(mlp.Weights)) == options["weights"]
    assert set(get_args(Sampler)) - {"auto"} == options["sampler"]
    assert set(get_args(Dtype)) == options["dtype"]
    assert set(get_args(blocks.Init)) == options["init"]
    assert set(get_args(blocks.Position)) == options["position"]
