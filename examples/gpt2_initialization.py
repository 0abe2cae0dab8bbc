"""isoinit's GPT-2 preset against a randomly initialized ``GPT2Model`` of GPT-2 small's shape.

Repeats the measurement of the issue that introduced the presets: the isometry gap after
blocks 3, 6 and 12 (the last after ``ln_f``) of 30 fresh ``GPT2Model`` s (the
``transformers`` package, no download, dropout off) and of 30 isoinit runs of
``isoinit.presets.gpt2()`` on the same 64 tokens, with the two-sample KS p-value per block.
Two inputs: the issue's (``isoinit.inputs.degenerate(64, 768, 100, seed=0)``, unit-scale
rows, position embeddings off), and token embeddings at GPT-2's scale (rows
``N(0, 0.02^2)``, learned positions on).

Run: ``python examples/gpt2_initialization.py`` (about two minutes on 2 cores; needs torch
and transformers).
"""

from __future__ import annotations

import numpy as np
import torch
import transformers
from scipy import stats

import isoinit

SEEDS, BLOCKS, TOKENS = 30, (3, 6, 12), 64


def model_gaps(x: np.ndarray, positions: bool) -> np.ndarray:
    """The gap after BLOCKS of SEEDS fresh GPT2Model's on the tokens ``x`` (``wpe`` zeroed unless ``positions``)."""
    out = []
    for seed in range(SEEDS):
        torch.manual_seed(seed)
        cfg = transformers.GPT2Config(
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, vocab_size=8, bos_token_id=0, eos_token_id=0
        )
        model = transformers.GPT2Model(cfg).double().eval()
        if not positions:
            with torch.no_grad():
                model.wpe.weight.zero_()
        with torch.no_grad():
            hidden = model(inputs_embeds=torch.from_numpy(x)[None], output_hidden_states=True).hidden_states
        out.append([isoinit.metrics.isometry_gap(isoinit.metrics.gram(hidden[b][0].numpy())) for b in BLOCKS])
    return np.array(out)


def main() -> None:
    """Print the table of both inputs."""
    inputs = {
        "unit rows, no positions (the issue's)": (isoinit.inputs.degenerate(TOKENS, 768, 100, seed=0), False),
        "embeddings N(0, 0.02^2), positions": (0.02 * isoinit.inputs.gaussian(TOKENS, 768, seed=0), True),
    }
    print(f"{'input':40s} {'block':>5s} {'GPT2Model gap':>14s} {'isoinit gap':>12s} {'KS p':>8s}")
    for label, (x, positions) in inputs.items():
        net = isoinit.presets.gpt2(positions=positions)
        ours = isoinit.simulate(net, x, runs=SEEDS, seed=0).output("gap")[:, list(BLOCKS)]
        theirs = model_gaps(x, positions)
        for k, b in enumerate(BLOCKS):
            p = stats.ks_2samp(ours[:, k], theirs[:, k]).pvalue
            print(f"{label:40s} {b:5d} {theirs[:, k].mean():14.3f} {ours[:, k].mean():12.3f} {p:8.3f}")


if __name__ == "__main__":
    main()
