"""isoinit.hooks: Gram metrics of PyTorch models through forward hooks, on models built here."""

from __future__ import annotations

import subprocess
import sys
import weakref

import numpy as np
import pandas as pd
import pytest

import isoinit
from isoinit.metrics import METRICS, gram_metrics

torch = pytest.importorskip("torch")

from torch import Tensor, nn  # noqa: E402

from isoinit import IsoinitWarning  # noqa: E402
from isoinit.hooks import COLUMNS, INPUT, GramRecorder, measure  # noqa: E402
from tolerances import HOOKS_FLOAT32_REL, ROUNDING, SAME_FORMULA, TORCH_FORWARD_REL  # noqa: E402


def _mlp(d_in: int, width: int, blocks: int, *, seed: int = 0) -> nn.Sequential:
    """Linear -> ReLU -> LayerNorm (no affine, eps 0) blocks at PyTorch's default init."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        for b in range(blocks):
            layers += [
                nn.Linear(d_in if b == 0 else width, width, bias=False),
                nn.ReLU(),
                nn.LayerNorm(width, elementwise_affine=False, eps=0.0),
            ]
    return nn.Sequential(*layers)


def test_import_isoinit_does_not_import_torch() -> None:
    code = "import sys, isoinit, isoinit.hooks; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_torch_message(monkeypatch: pytest.MonkeyPatch) -> None:
    model = nn.Linear(3, 3)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="pip install torch"):
        GramRecorder(model)


def test_layernorm_metrics_match_hand_computation_and_isometry_improves() -> None:
    blocks = 20
    model = _mlp(256, 256, blocks)
    x_np = isoinit.inputs.degenerate(10, 256, 100)
    x = torch.as_tensor(x_np, dtype=torch.float32)
    with GramRecorder(model) as rec, torch.no_grad():
        model(x)
    df = rec.frame()
    assert list(df.columns) == [*COLUMNS, *METRICS]
    assert len(df) == 3 * blocks  # every leaf module, once
    assert df["order"].tolist() == list(range(3 * blocks))
    assert (df["call"] == 0).all() and (df["item"] == 0).all()
    assert (df["n"] == 10).all() and (df["d"] == 256).all()
    assert df["module"].tolist() == [str(i) for i in range(3 * blocks)]
    ln = df[df["type"] == "LayerNorm"]
    assert len(ln) == blocks

    # the same activations, by hand
    h = x
    expected: list[dict[str, np.ndarray]] = []
    with torch.no_grad():
        for module in model:
            h = module(h)
            if isinstance(module, nn.LayerNorm):
                expected.append(gram_metrics(h.double().numpy(), gram=False))
    for (_, row), exp in zip(ln.iterrows(), expected, strict=True):
        for name in METRICS:
            assert row[name] == pytest.approx(float(exp[name]), rel=ROUNDING, abs=SAME_FORMULA), name

    # the paper's effect: layer norms after ReLU drive the batch towards isometry
    gap_in = float(gram_metrics(x_np, gram=False)["gap"])
    assert gap_in > 5.0
    assert ln["gap"].iloc[-1] < 0.1 * gap_in
    assert ln["gap"].iloc[-1] < ln["gap"].iloc[0]

    # measure() converts the float64 NumPy batch to the model's float32 and gives the same frame
    df2 = measure(model, x_np)
    pd.testing.assert_frame_equal(df2, df)


def test_agrees_with_isoinit_forward() -> None:
    mlp = isoinit.MLP(5, 64, "tanh", "layer")
    x = isoinit.inputs.degenerate(10, 100, 10)
    weights = isoinit.network_weights(mlp, x.shape[1], seed=0, run=0)
    ref = isoinit.forward(mlp, x, weights).gap[0, 1:]
    layers: list[nn.Module] = []
    for w, b in weights:
        assert b.size == 0
        lin = nn.Linear(w.shape[0], w.shape[1], bias=False, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T))  # isoinit's W is (d_in, d_out), torch's (out, in)
        layers += [lin, nn.Tanh(), nn.LayerNorm(w.shape[1], elementwise_affine=False, eps=0.0, dtype=torch.float64)]
    model = nn.Sequential(*layers)
    x0 = x / np.sqrt(np.mean(x**2, axis=1, keepdims=True))  # isoinit's layer 0: rows at mean square 1
    df = measure(model, torch.from_numpy(x0), modules=nn.LayerNorm)
    assert df["type"].tolist() == ["LayerNorm"] * 5
    np.testing.assert_allclose(df["gap"].to_numpy(), ref, rtol=TORCH_FORWARD_REL, atol=ROUNDING)


def test_transformer_token_gram_and_hooks_removed() -> None:
    with torch.random.fork_rng():
        torch.manual_seed(1)
        block = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0, batch_first=True)
        tokens = torch.randn(3, 12, 32)
    modules = list(block.modules())
    with GramRecorder(block, modules=(nn.MultiheadAttention, nn.LayerNorm), token_axis=1) as rec:
        assert rec.names == ["self_attn", "norm1", "norm2"]
        assert any(m._forward_hooks for m in modules)
        with torch.no_grad():
            block(tokens)
            block(tokens)
    assert not rec.active
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in modules)
    df = rec.frame()
    assert list(df.columns) == [*COLUMNS, *METRICS]
    assert len(df) == 2 * 3 * 3  # 2 calls x 3 modules x 3 sequences
    assert df["call"].tolist() == [0] * 9 + [1] * 9
    assert df["module"].tolist()[:9] == ["self_attn"] * 3 + ["norm1"] * 3 + ["norm2"] * 3
    assert df["item"].tolist()[:9] == [0, 1, 2] * 3
    assert (df["n"] == 12).all() and (df["d"] == 32).all()
    assert df[list(METRICS)].notna().all().all()
    assert np.isfinite(df["gap"]).all() and (df["gap"] >= 0).all()
    assert ((df["isometry"] > 0) & (df["isometry"] <= 1)).all()
    # token Gram of the first sequence after norm1, by hand
    with torch.no_grad():
        h = block.norm1(tokens + block.self_attn(tokens, tokens, tokens, need_weights=False)[0])
    row = df[(df["module"] == "norm1") & (df["item"] == 0)].iloc[0]
    assert row["gap"] == pytest.approx(
        float(gram_metrics(h[0].double().numpy(), gram=False)["gap"]), rel=HOOKS_FLOAT32_REL
    )
    # the default (leaf modules) with a negative token axis also runs; the calls repeat exactly
    # MultiheadAttention applies out_proj's weights without calling it: the hooks say so
    with pytest.warns(IsoinitWarning, match=r"never ran .*self_attn\.out_proj"):
        df_leaf = measure(block, tokens, token_axis=-2)
    assert {"norm1", "linear1", "linear2", "norm2"} <= set(df_leaf["module"])
    assert df_leaf[list(METRICS)].notna().all().all()
    pd.testing.assert_frame_equal(df[df["call"] == 0], df[df["call"] == 1].assign(call=0).set_axis(range(9)))


def test_flatten_modes_on_conv_and_sequences() -> None:
    conv = nn.Conv2d(2, 3, 3, padding=1)
    x = torch.randn(5, 2, 4, 4)
    df = measure(conv, x)
    assert df[["item", "n", "d"]].values.tolist() == [[0, 5, 3 * 4 * 4]]
    with torch.no_grad():
        y = conv(x).double().numpy()
    assert df["gap"].iloc[0] == pytest.approx(float(gram_metrics(y.reshape(5, -1), gram=False)["gap"]), rel=ROUNDING)
    # flatten=False: the last axis is the features, the middle axes index items (5 samples each)
    df = measure(conv, x, flatten=False)
    assert len(df) == 3 * 4 and (df["n"] == 5).all() and (df["d"] == 4).all()
    assert df["gap"].iloc[5] == pytest.approx(float(gram_metrics(y[:, 1, 1, :], gram=False)["gap"]), rel=ROUNDING)
    # token mode on (B, H, T, D) with flatten=False: one Gram per batch element and head
    ident = nn.Identity()
    z = torch.randn(2, 3, 6, 8, dtype=torch.float64)
    df = measure(ident, z, token_axis=2, flatten=False)
    assert len(df) == 6 and (df["n"] == 6).all() and (df["d"] == 8).all()
    assert df["gap"].iloc[4] == pytest.approx(float(gram_metrics(z[1, 1].numpy(), gram=False)["gap"]), rel=ROUNDING)
    df = measure(ident, z, token_axis=2)  # flatten=True: heads and features flattened
    assert len(df) == 2 and (df["d"] == 3 * 8).all()


class _Odd(nn.Module):
    """Children with tuple, dict, non-tensor and unmeasurable outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.pair = _Pair()
        self.meta = _Meta()
        self.argmax = _Argmax()
        self.scalar = _Scalar()

    def forward(self, x: Tensor) -> Tensor:
        h = self.lin(x)
        h = self.pair(h)[1]
        self.meta(h)
        self.argmax(h)
        self.scalar(h)
        return self.lin(h)  # the same module twice in one call


class _Pair(nn.Module):
    def forward(self, x: Tensor) -> tuple[int, Tensor]:
        return 7, x * 2


class _Meta(nn.Module):
    def forward(self, x: Tensor) -> dict[str, object]:
        return {"shape": tuple(x.shape), "note": None}


class _Argmax(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.argmax(dim=1, keepdim=True)


class _Scalar(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.sum()


def test_odd_outputs_are_skipped_or_unpacked() -> None:
    # skipped outputs are rows with a reason, numbered in execution order like every output,
    # and warn once per module
    model = _Odd()
    x = torch.randn(6, 4)
    with GramRecorder(model) as rec, pytest.warns(isoinit.IsoinitWarning) as caught:
        out = model(x)
    assert sorted(str(w.message).split("'")[1] for w in caught) == ["argmax", "meta", "scalar"]
    df = rec.frame()
    assert df["module"].tolist() == ["lin", "pair", "meta", "argmax", "scalar", "lin"]
    assert df["order"].tolist() == [0, 1, 2, 3, 4, 5]
    measured = df[df["reason"] == ""]
    assert measured["module"].tolist() == ["lin", "pair", "lin"]
    with torch.no_grad():
        h = model.pair(model.lin(x))[1]
    assert measured["gap"].iloc[1] == pytest.approx(
        float(gram_metrics(h.double().numpy(), gram=False)["gap"]), rel=ROUNDING
    )
    assert df.loc[df["reason"] != "", METRICS].isna().all().all()
    assert [name for _, name, _ in rec.skipped] == ["meta", "argmax", "scalar"]
    assert "no tensor" in rec.skipped[0][2] and "non-floating" in rec.skipped[1][2] and "rank 0" in rec.skipped[2][2]
    assert out.requires_grad  # recording does not interfere with autograd
    # batch of one: fewer than 2 samples, a skipped row; the frame keeps its columns
    with GramRecorder(model, modules="lin") as rec, pytest.warns(isoinit.IsoinitWarning, match="fewer than 2"):
        model(torch.randn(1, 4))
    assert list(rec.frame().columns) == [*COLUMNS, *METRICS] and (rec.frame()["reason"] != "").all()
    assert rec.skipped and "fewer than 2" in rec.skipped[0][2]


def test_no_tensor_references_kept() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
    refs: list[weakref.ref[Tensor]] = []
    model[1].register_forward_hook(lambda m, a, o: refs.append(weakref.ref(o)))
    try:
        with GramRecorder(model) as rec:
            out = model(torch.randn(4, 8))
            assert refs[0]() is out
            del out
        assert refs[0]() is None
        assert len(rec.frame()) == 2
    finally:
        model[1]._forward_hooks.clear()


# (the input is unseeded: LayerNorm with eps 0 of an all-zero relu row is NaN, a skipped row with a warning)
@pytest.mark.filterwarnings("ignore::isoinit.IsoinitWarning")
def test_selection_and_calls() -> None:
    model = _mlp(6, 6, 3)
    x = torch.randn(4, 6)
    df = measure(model, x, modules=lambda name, m: name in {"2", "5"})
    assert df["module"].tolist() == ["2", "5"]
    df = measure(model, (x,), modules=["0", nn.ReLU])
    assert df["module"].tolist() == ["0", "1", "4", "7"]
    df = measure(model, x, modules=nn.Sequential)  # the model itself, named ""
    assert df["module"].tolist() == [""] and df["type"].tolist() == ["Sequential"]
    rec = GramRecorder(model, modules=nn.LayerNorm)
    for _ in range(3):
        model(x)
    assert rec.calls == 3 and rec.frame()["call"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    rec.clear()
    assert rec.calls == 0 and rec.frame().empty
    rec.remove()
    rec.remove()  # idempotent
    model(x)
    assert rec.frame().empty
    with pytest.raises(RuntimeError, match="removed"), rec:
        pass


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"modules": ["nope"]}, ValueError, "modules"),
        ({"modules": [3]}, TypeError, "modules"),
        ({"modules": nn.Conv2d}, ValueError, "modules"),
        ({"modules": 3.5}, TypeError, "modules"),
        ({"token_axis": 0}, ValueError, "token_axis"),
        ({"token_axis": 1.0}, TypeError, "token_axis"),
        ({"token_axis": True}, TypeError, "token_axis"),
        ({"flatten": 1}, TypeError, "flatten"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    model = _mlp(4, 4, 1)
    with pytest.raises(error, match=match):
        GramRecorder(model, **kwargs)  # type: ignore[arg-type]
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_bad_model() -> None:
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        GramRecorder(lambda x: x)  # type: ignore[arg-type]


class _Const(nn.Module):
    """Returns a fixed tensor whatever the input (to feed the recorder odd outputs)."""

    def __init__(self, value: Tensor) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        return self.value


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        (torch.zeros(0, 4), "batch of 0 samples"),
        (torch.zeros(0, 3, 5), "batch of 0 samples"),
        (torch.randn(1, 4), "fewer than 2 samples (n=1)"),
        (torch.randn(3, 0), "empty output"),
        (torch.full((3, 4), float("nan")), "non-finite output"),
        (torch.tensor([[1.0, float("inf")], [0.0, 1.0]]), "non-finite output"),
        (torch.tensor([[1.0, 2.0], [3.0, float("-inf")]], dtype=torch.float16), "non-finite output"),
        (torch.randn(3, 4).to_sparse(), "non-strided"),
        (torch.ones(3, 4, dtype=torch.int64), "non-floating"),
    ],
)
def test_unmeasurable_outputs_are_skipped_rows(output: Tensor, reason: str) -> None:
    model = nn.Sequential(_Const(output))
    with GramRecorder(model, modules="0") as rec, pytest.warns(isoinit.IsoinitWarning, match="'0'") as caught:
        for _ in range(3):  # the user's forward pass never breaks; one warning per module
            model(torch.randn(2, 2))
    assert len(caught) == 1
    df = rec.frame()
    assert len(df) == 3 and df["reason"].str.contains(reason, regex=False).all(), df["reason"].tolist()
    assert df[list(METRICS)].isna().all().all() and len(rec.skipped) == 3


def test_errors_inside_the_hook_never_reach_the_forward_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    import isoinit.hooks as hooks

    def boom(*args: object, **kwargs: object) -> None:
        raise MemoryError("no room for the Gram")

    monkeypatch.setattr(hooks, "gram_metrics", boom)
    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
    with GramRecorder(model) as rec, pytest.warns(isoinit.IsoinitWarning, match="MemoryError: no room") as caught:
        out = model(torch.randn(5, 4))
    assert out.shape == (5, 4) and len(caught) == 2  # one per module
    assert rec.frame()["reason"].tolist() == ["MemoryError: no room for the Gram"] * 2


def test_nonfinite_items_are_skipped_one_by_one() -> None:
    z = torch.randn(3, 6, 8, dtype=torch.float64)
    z[1, 2, 3] = float("nan")
    with pytest.warns(isoinit.IsoinitWarning, match="non-finite"):
        df = measure(nn.Identity(), z, token_axis=1)
    assert df["reason"].tolist() == ["", "non-finite output (NaN or inf)", ""]
    assert np.isfinite(df.loc[[0, 2], "gap"]).all() and np.isnan(df.loc[1, "gap"])
    assert df.loc[2, "gap"] == pytest.approx(float(gram_metrics(z[2].numpy(), gram=False)["gap"]), rel=ROUNDING)


def test_model_input_is_layer_0_and_silent_modules_are_named() -> None:
    net = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.LayerNorm(16))
    x = isoinit.inputs.degenerate(6, 16, 10.0, seed=2)
    df = measure(net, x, record_input=True)
    assert df["module"].tolist() == [INPUT, "0", "1", "2"]
    assert df["type"].iloc[0] == "input" and df["order"].tolist() == [0, 1, 2, 3]
    assert df["gap"].iloc[0] == pytest.approx(float(gram_metrics(x, gram=False)["gap"]), rel=HOOKS_FLOAT32_REL)

    class Skips(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.unused = nn.Linear(16, 16), nn.Linear(16, 16)

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return self.used(t)

    model = Skips()
    rec = GramRecorder(model, modules=nn.Linear)
    assert rec.silent == ["used", "unused"]
    with torch.no_grad():
        model(torch.randn(4, 16))
    assert rec.silent == ["unused"]
    with pytest.warns(IsoinitWarning, match=r"1 selected module\(s\) never ran in 1 forward pass.*'unused'"):
        rec.remove()
    rec.remove()  # idempotent, and no second warning
    unused = GramRecorder(Skips(), modules=nn.Linear)
    unused.remove()  # never called: nothing to warn about
    with pytest.raises(TypeError, match="record_input must be True or False"):
        GramRecorder(model, record_input="yes")  # type: ignore[arg-type]
