"""A fuzz of the compiled boundary: random small configurations, valid and invalid, passed
straight to ``_core.Config``, ``_core.simulate``, ``_core.forward`` and ``_core.gram_metrics``.

Whatever comes in, the call returns a result or raises a Python exception; it never crashes
the interpreter, and a result holds no NaN outside a diverged run. CI runs this file under
AddressSanitizer and UndefinedBehaviorSanitizer (``.ci/run``), where a memory error or
undefined behaviour anywhere on these paths fails the job.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isoinit import _core

ACTIVATIONS = ["relu", "tanh", "exp", "sin", "step", "identity", "elu", "he0", "he3", "hermite", "softplus", "sigmoid"]
EXPECTED = (ValueError, TypeError, MemoryError, OverflowError)
RESULTS: dict[str, int] = {"simulate": 0, "simulate-ok": 0}
reals = st.sampled_from([1.0, 0.5, 1e-300, 1e300, 0.0, -1.0, math.nan, math.inf])

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
    if draw(st.integers(0, 3)) == 0:  # a quarter of the draws: one field invalid
        field = draw(st.sampled_from(sorted(BAD)))
        cfg[field] = draw(st.sampled_from(BAD[field]))
    return cfg


def _batch(draw: Any) -> np.ndarray:
    n, d = draw(st.sampled_from([2, 3, 5, 2, 3, 5, 1, 0])), draw(st.sampled_from([1, 3, 4, 1, 3, 4, 0]))
    x = draw(st.sampled_from(["normal"] * 5 + ["huge", "tiny", "zero", "nan"]))
    a = np.random.default_rng(draw(st.integers(0, 3))).standard_normal((n, d))
    scale = {"normal": 1.0, "zero": 0.0, "nan": math.nan, "huge": 1e300, "tiny": 1e-300}[x]
    return np.ascontiguousarray(a * scale)


def _check(res: dict[str, Any]) -> None:
    metrics, div = res["metrics"], res["diverged_at"]
    for r in range(metrics.shape[0]):
        upto = div[r] if div[r] >= 0 else metrics.shape[1]
        assert not np.isnan(metrics[r, :upto]).any()
        assert not np.isnan(res["norm_bias"][r, :upto]).any()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), data=st.data())
def test_simulate_never_crashes(cfg: dict[str, Any], data: Any) -> None:
    x = _batch(data.draw)
    runs = data.draw(st.sampled_from([1, 2, 3, 1, 2, 3, 0, -1]))
    offset = data.draw(st.sampled_from([0, 0, 5, 2**63 - 2, 2**63 - 1, -1]))
    threads = data.draw(st.sampled_from([0, 1, 2, 1000, -3]))
    try:
        config = _core.Config(**cfg)
        RESULTS["simulate"] += 1
        res = _core.simulate(x, data.draw(st.integers(0, 2**64 - 1)), offset, runs, threads, config)
    except EXPECTED:
        return
    RESULTS["simulate-ok"] += 1
    _check(res)


@settings(max_examples=60, deadline=None)
@given(cfg=configs(), data=st.data())
def test_forward_never_crashes(cfg: dict[str, Any], data: Any) -> None:
    x = _batch(data.draw)
    rng = np.random.default_rng(0)
    d_in = x.shape[1] if x.ndim == 2 else 1
    ws, bs = [], []
    for w in cfg["widths"]:
        shape = (d_in, w) if data.draw(st.integers(0, 5)) else (max(w, 0), d_in)
        ws.append(rng.standard_normal((max(shape[0], 0), max(shape[1], 0))) * data.draw(reals))
        bs.append(np.full(max(w, 0), data.draw(reals)) if data.draw(st.booleans()) else np.empty(0))
        d_in = max(w, 0)
    try:
        res = _core.forward(x, ws, bs, _core.Config(**cfg))
    except EXPECTED:
        return
    _check(res)


@settings(max_examples=100, deadline=None)
@given(
    k=st.integers(0, 3),
    n=st.integers(0, 5),
    kind=st.sampled_from(["psd", "zero", "nan", "inf", "huge", "asym", "neg"]),
    ndim=st.sampled_from([3, 2, 4]),
)
def test_gram_metrics_never_crashes(k: int, n: int, kind: str, ndim: int) -> None:
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
    try:
        out = _core.gram_metrics(np.ascontiguousarray(g))
    except EXPECTED:
        return
    assert out.shape == (k, len(_core.metric_names()))
    if kind in ("psd", "zero"):
        assert not np.isnan(out).any()


def test_the_fuzz_reached_the_kernel() -> None:
    # run after the fuzz above (pytest keeps file order): most draws must get past validation
    if RESULTS["simulate"]:
        assert RESULTS["simulate-ok"] >= 0.2 * RESULTS["simulate"], RESULTS
