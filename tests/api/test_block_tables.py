"""Block networks everywhere an MLP goes: their configuration in every table, in sweeps'
grids, and on the command line with the API's defaults and the presets."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import isoinit
from isoinit.blocks import Attention, Feedforward, Network
from isoinit.networks.fields import BLOCK_COLUMNS
from isoinit.results import CONFIG_FIELDS

X = 0.02 * isoinit.inputs.gaussian(6, 16, seed=0)


def _config(frame: pd.DataFrame) -> dict[str, object]:
    return frame[list(CONFIG_FIELDS)].iloc[0].to_dict()


def test_every_block_field_is_a_column_and_two_transformers_differ() -> None:
    a = isoinit.Transformer(2, 16, heads=2, causal=True, init="gpt2", alpha=0.5)
    frame = isoinit.simulate(a, X, runs=2).to_frame()
    assert set(BLOCK_COLUMNS) <= set(frame.columns)
    row = _config(frame)
    assert (row["heads"], row["causal"], row["init"], row["alpha"], row["ratio"], row["final_norm"]) == (
        2,
        True,
        "gpt2",
        0.5,
        4.0,
        True,
    )
    for change in ({"heads": 4}, {"causal": False}, {"ratio": 2.0}, {"final_norm": False}, {"qk_gain": 2.0}):
        other = dataclasses.replace(a, **change)
        assert _config(isoinit.simulate(other, X, runs=2).to_frame()) != row, change


def test_an_mlp_has_no_block_columns_and_a_network_lists_its_blocks() -> None:
    mlp = _config(isoinit.simulate(isoinit.MLP(2, 16), X, runs=1).to_frame())
    assert all(mlp[c] is None or pd.isna(mlp[c]) for c in BLOCK_COLUMNS)
    assert mlp["input_norm"] == "rows"
    net = Network(16, [Attention(heads=2, centred=True)] * 2 + [Feedforward(gated=True)], biases={"value": 0.1})
    row = _config(isoinit.simulate(net, X, runs=1).to_frame())
    assert row["blocks"].startswith("2*Attention(heads=2") and "gated=True" in row["blocks"]
    assert row["biases"] == "value=0.1" and row["centred"] is True and row["gated"] is True


def test_a_preset_names_itself_in_the_table_and_in_a_saved_file(tmp_path: Path) -> None:
    net = isoinit.presets.bert(2, 16, 2, max_positions=8)
    traj = isoinit.simulate(net, X, runs=2, seed=1)
    row = _config(traj.to_frame())
    assert (row["preset"], row["input_norm"], row["positions"], row["token_type"]) == ("bert", "layer", "learned", True)
    traj.save(tmp_path / "bert.npz")
    back = isoinit.load(tmp_path / "bert.npz")
    assert back == traj and back.network == net


def test_sweep_grids_over_block_network_fields() -> None:
    grid = {"architecture": "transformer", "depth": 2, "width": 16, "heads": [1, 2], "qk_gain": [1.0, 3.0]}
    frame = isoinit.sweep(grid, inputs=X, runs=2)
    combos = frame[["heads", "qk_gain"]].drop_duplicates().to_numpy().tolist()
    assert combos == [[1, 1.0], [1, 3.0], [2, 1.0], [2, 3.0]]
    assert set(frame["architecture"]) == {"transformer"}
    presets = isoinit.sweep({"preset": ["gpt2", "llama"], "depth": 1, "width": 16, "heads": 2}, inputs=X, runs=2)
    assert list(dict.fromkeys(presets["preset"])) == ["gpt2", "llama"]


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({"architecture": "transformer", "depth": 2, "width": 16, "heads": 2, "one_layer": True}, "one_layer"),
        ({"architecture": "resnet", "depth": 2, "width": 16}, "architecture"),
        ({"preset": "gpt3", "depth": 2, "width": 16}, "preset"),
        ({"architecture": "mlp", "depth": 2, "width": 16, "heads": 2}, "heads"),
    ],
)
def test_bad_block_grids_name_the_key(grid: dict[str, object], match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        isoinit.sweep(grid, inputs=X, runs=1)


def test_cli_transformer_takes_the_apis_defaults_and_presets_run(tmp_path: Path) -> None:
    from isoinit.cli import main

    csv = tmp_path / "t.csv"
    argv = ["simulate", "--architecture", "transformer", "--depth", "2", "--width", "16", "--heads", "2"]
    assert main([*argv, "--batch", "4", "--runs", "2", "--quiet", "--csv", str(csv)]) == 0
    assert set(pd.read_csv(csv)["activation"]) == {"gelu"}  # Transformer's default, not the MLP's relu
    csv2 = tmp_path / "p.csv"
    argv = ["simulate", "--preset", "llama", "--depth", "2", "--width", "32", "--heads", "4", "--batch", "6"]
    assert main([*argv, "--runs", "2", "--quiet", "--csv", str(csv2)]) == 0
    table = pd.read_csv(csv2)
    assert set(table["preset"]) == {"llama"} and set(table["width"]) == {32} and set(table["gated"]) == {True}
    x = 0.02 * isoinit.inputs.gaussian(6, 32, seed=0)  # --preset's input: embeddings at the models' scale
    want = isoinit.simulate(isoinit.presets.llama(2, 32, 4), x, runs=2, seed=0).output("gap")
    np.testing.assert_allclose(table.pivot(index="run", columns="layer", values="gap").to_numpy(), want, rtol=1e-12)
