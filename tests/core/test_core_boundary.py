"""The compiled boundary: ``_core.Config``, ``_core.simulate``, ``_core.forward`` and
``_core.gram_metrics`` called directly, as the Python layer calls them.

The compiled layer validates its arguments on its own: a bad option comes back as a ValueError
(raised before, never inside, the OpenMP region). Then a fuzz of random small configurations,
valid and invalid: whatever comes in, the call returns a result or raises a Python exception;
it never crashes the interpreter, and a result holds no NaN outside a diverged run. CI runs this
file under AddressSanitizer and UndefinedBehaviorSanitizer (``.ci/run``), where a memory error
or undefined behaviour anywhere on these paths fails the job.

Most draws are valid (a quarter of the configurations, batches, call arguments and networks
carry one invalid value each), and each fuzz counts the draws that got through validation to
a result: a fuzz that validation refuses wholesale would check nothing, so it fails.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import isoinit
from isoinit import _core

ACTIVATIONS = ["relu", "tanh", "exp", "sin", "step", "identity", "elu", "he0", "he3", "hermite", "softplus", "sigmoid"]
EXPECTED = (ValueError, TypeError, MemoryError, OverflowError)
#: Scales of the weights and biases given to forward: all valid (extreme ones diverge).
SCALES = [1.0, 0.5, -1.0, 0.0, 1e-300, 1e300]

#: One invalid value per field: a drawn configuration is valid, or valid but for one field.
BAD = {
    "activation": ["rleu", "he31", ""],
    "act_param": [math.nan, -1.0],
    "coeffs": [[math.nan], [1.0] * 40],
    "center": ["row"],
    "scale": ["std"],
    "order": ["x"],
    "weights": ["haar"],
    "sampler": ["auto"],
    "gain": [-1.0, math.nan, math.inf, 0.0],
    "bias": [-1.0, math.inf, math.nan],
    "eps": [-1.0, math.nan],
    "widths": [[0], [3, -1], []],
    "mf_center": [[math.nan] * 4],
    "mf_scale": [[0.0] * 4, [-1.0] * 4],
}


# --- explicit bad options ------------------------------------------------------------------

X = isoinit.inputs.gaussian(4, 8, seed=0)


def test_core_rejects_bad_options_without_crashing() -> None:
    """Errors raised by the compiled layer's own checks (never inside the OpenMP region) come
    back as ValueError."""
    with pytest.raises(ValueError, match="sampler must be one of gram, weights; got 'x'"):
        _core.Config(activation="relu", widths=[4], sampler="x")
    with pytest.raises(ValueError, match="activation must be one of"):
        _core.Config(activation="nope", widths=[4])
    relu = _core.Config(activation="relu", widths=[4])
    with pytest.raises(ValueError, match="mf scaling needs one constant per block"):
        _core.simulate(X, 0, 0, 2, 0, _core.Config(activation="relu", widths=[4], scale="mf"))
    with pytest.raises(ValueError, match="runs must be >= 1"):
        _core.simulate(X, 0, 0, 0, 0, relu)
    with pytest.raises(ValueError, match="X must be finite"):
        bad = np.array([[np.nan, 1.0], [1.0, 1.0]])
        _core.simulate(bad, 0, 0, 1, 0, relu)


# --- the fuzz ------------------------------------------------------------------------------


def _faulty(draw: Any) -> bool:
    """True in a quarter of the draws, and not for the simplest one, which Hypothesis favours."""
    return bool(draw(st.integers(0, 3)) == 3)


@st.composite
def configs(draw: Any) -> dict[str, Any]:
    depth = draw(st.integers(1, 4))
    act = draw(st.sampled_from(ACTIVATIONS))
    cfg: dict[str, Any] = dict(
        activation=act,
        act_param=draw(st.sampled_from([0.5, 1.0])),
        coeffs=draw(st.lists(st.floats(-2, 2), min_size=1, max_size=4)) if act == "hermite" else [],
        center=draw(st.sampled_from(["none", "layer", "batch", "mf"])),
        scale=draw(st.sampled_from(["none", "layer", "batch", "mf"])),
        order=draw(st.sampled_from(["act-norm", "norm-act"])),
        weights=draw(st.sampled_from(["gaussian", "orthogonal"])),
        sampler=draw(st.sampled_from(["gram", "weights"])),
        gain=draw(st.sampled_from([1.0, 0.5, 2.0, 1e-300, 1e300, 1e308, 0.0])),
        bias=draw(st.sampled_from([0.0, 0.3])),
        eps=draw(st.sampled_from([0.0, 1e-5])),
        widths=draw(st.lists(st.integers(1, 6), min_size=depth, max_size=depth)),
        stages=draw(st.booleans()),
        grams=draw(st.booleans()),
    )
    cfg["mf_center"] = [0.1] * depth if cfg["center"] == "mf" else []
    cfg["mf_scale"] = [0.9] * depth if cfg["scale"] == "mf" else []
    if _faulty(draw):  # one field invalid
        field = draw(st.sampled_from(sorted(BAD)))
        cfg[field] = draw(st.sampled_from(BAD[field]))
    return cfg


def _batch(draw: Any) -> np.ndarray:
    n, d = draw(st.sampled_from([2, 3, 5])), draw(st.sampled_from([1, 3, 4]))
    x = draw(st.sampled_from(["normal"] * 5 + ["huge", "tiny", "zero"]))
    if _faulty(draw):  # too few rows, no column, or NaN
        n, d, x = draw(st.sampled_from([(0, d, x), (1, d, x), (n, 0, x), (n, d, "nan")]))
    a = np.random.default_rng(draw(st.integers(0, 3))).standard_normal((n, d))
    scale = {"normal": 1.0, "zero": 0.0, "nan": math.nan, "huge": 1e300, "tiny": 1e-300}[x]
    return np.ascontiguousarray(a * scale)


def _call(draw: Any) -> tuple[int, int, int]:
    """``runs``, ``offset`` and ``threads`` of _core.simulate; a quarter of the draws has one out of range."""
    runs, offset, threads = (
        draw(st.sampled_from([1, 2, 3])),
        draw(st.sampled_from([0, 0, 5, 2**63 - 2, 2**63 - 1])),
        draw(st.sampled_from([0, 1, 2, 1000])),
    )
    if _faulty(draw):
        runs, offset, threads = draw(
            st.sampled_from([(0, offset, threads), (-1, offset, threads), (runs, -1, threads), (runs, offset, -3)])
        )
    return runs, offset, threads


def _network(draw: Any, d_in: int, widths: list[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights and biases through ``widths`` (an empty bias: none); a quarter of the draws has one
    fault: a matrix or a bias of the wrong size, or a non-finite weight or bias."""
    rng = np.random.default_rng(0)
    ws, bs = [], []
    for w in (max(w, 0) for w in widths):
        ws.append(rng.standard_normal((d_in, w)) * draw(st.sampled_from(SCALES)))
        bs.append(np.full(w, draw(st.sampled_from(SCALES))) if draw(st.booleans()) else np.empty(0))
        d_in = w
    if ws and _faulty(draw):
        k = draw(st.integers(0, len(ws) - 1))
        rows, cols = ws[k].shape
        fault = draw(st.sampled_from(["rows", "columns", "bias length", math.nan, math.inf]))
        if fault == "rows":
            ws[k] = np.ones((rows + 1, cols))
        elif fault == "columns":
            ws[k] = np.ones((rows, cols + 1))
        elif fault == "bias length":
            bs[k] = np.ones(cols + 1)
        elif ws[k].size and draw(st.booleans()):  # one non-finite weight
            ws[k] = ws[k].copy()
            ws[k].flat[draw(st.integers(0, ws[k].size - 1))] = fault
        else:
            bs[k] = np.full(cols, fault)
    return ws, bs


def _check(res: dict[str, Any]) -> None:
    metrics, div = res["metrics"], res["diverged_at"]
    for r in range(metrics.shape[0]):
        upto = div[r] if div[r] >= 0 else metrics.shape[1]
        assert not np.isnan(metrics[r, :upto]).any()
        assert not np.isnan(res["norm_bias"][r, :upto]).any()


def test_simulate_never_crashes() -> None:
    seen = {"draws": 0, "results": 0}

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cfg=configs(), data=st.data())
    def fuzz(cfg: dict[str, Any], data: Any) -> None:
        x = _batch(data.draw)
        runs, offset, threads = _call(data.draw)
        seen["draws"] += 1
        try:
            config = _core.Config(**cfg)
            res = _core.simulate(x, data.draw(st.integers(0, 2**64 - 1)), offset, runs, threads, config)
        except EXPECTED:
            return
        seen["results"] += 1
        _check(res)

    fuzz()
    assert seen["results"] >= 0.2 * seen["draws"], seen  # validation let a fair share through


def test_forward_never_crashes() -> None:
    seen = {"draws": 0, "results": 0}

    @settings(max_examples=60, deadline=None)
    @given(cfg=configs(), data=st.data())
    def fuzz(cfg: dict[str, Any], data: Any) -> None:
        x = _batch(data.draw)
        ws, bs = _network(data.draw, x.shape[1], cfg["widths"])
        seen["draws"] += 1
        try:
            res = _core.forward(x, ws, bs, _core.Config(**cfg))
        except EXPECTED:
            return
        seen["results"] += 1
        _check(res)

    fuzz()
    assert seen["results"] >= 0.2 * seen["draws"], seen  # validation let a fair share through


def test_gram_metrics_never_crashes() -> None:
    seen = {"valid": 0}

    @settings(max_examples=100, deadline=None)
    @given(
        k=st.integers(0, 3),
        n=st.integers(0, 5),
        kind=st.sampled_from(["psd", "zero", "nan", "inf", "huge", "asym", "neg"]),
        ndim=st.sampled_from([3, 2, 4]),
    )
    def fuzz(k: int, n: int, kind: str, ndim: int) -> None:
        a = np.random.default_rng(k).standard_normal((k, n, n))
        g = a @ np.swapaxes(a, 1, 2)
        g = {
            "psd": g,
            "zero": 0 * g,
            "nan": g + math.nan,
            "inf": g + math.inf,
            "huge": g * 1e300,
            "asym": a,
            "neg": -g,
        }[kind]
        if ndim == 2:
            g = g.reshape(-1, n) if g.size else np.zeros((0, 0))
        elif ndim == 4:
            g = g[None]
        if ndim == 3 and n >= 2 and kind in ("psd", "zero"):
            # a well-formed stack of Grams must give metrics, without NaN
            seen["valid"] += 1
            out = _core.gram_metrics(np.ascontiguousarray(g))
            assert out.shape == (k, len(_core.metric_names()))
            assert not np.isnan(out).any()
            return
        try:
            out = _core.gram_metrics(np.ascontiguousarray(g))
        except EXPECTED:
            return
        assert out.shape == (k, len(_core.metric_names()))

    fuzz()
    assert seen["valid"] >= 5, seen  # the well-formed branch ran
