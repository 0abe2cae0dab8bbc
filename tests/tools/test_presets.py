"""The presets (isoinit.presets) against the models the ``transformers`` package builds.

1. Same weights: each preset's ``forward`` with ``network_weights`` loaded into the
   ``transformers`` model (``GPT2Model``, ``BertModel``, ``LlamaModel`` from their configs,
   float64, dropout off, no download) gives the same hidden states' Grams at every block, to
   FORWARD_REL. LLaMA's modules compute their RMS norm and rotary angles in float32 whatever
   the model's dtype; the float64 comparison lifts exactly those two casts (the formulas
   stay the library's), and the unpatched model is compared at FLOAT32_REL.
2. Same distribution: isoinit's Gram sampler against the models' own random initialization
   (fresh models, realistic input embeddings N(0, 0.02^2), not unit rows): two-sample KS
   tests of the isometry gap at several blocks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from scipy import stats

import isoinit
from isoinit import metrics, presets
from tolerances import FLOAT32_MODEL_REL, FORWARD_REL, PRESET_KS_ALPHA, PRESET_KS_TESTS

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

DEPTH, WIDTH, HEADS, N = 3, 64, 4, 12
LLAMA_INTERMEDIATE = 96


def _configs() -> dict[str, tuple[isoinit.Transformer, Callable[[], Any]]]:
    """Each preset at a small size, with the function building the matching model."""
    gpt2 = presets.gpt2(DEPTH, WIDTH, HEADS, max_positions=32)
    bert = presets.bert(DEPTH, WIDTH, HEADS, max_positions=32)
    llama = presets.llama(DEPTH, WIDTH, HEADS, intermediate=LLAMA_INTERMEDIATE)

    def gpt2_model() -> Any:
        cfg = transformers.GPT2Config(
            n_layer=DEPTH,
            n_embd=WIDTH,
            n_head=HEADS,
            n_positions=32,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            vocab_size=8,
            bos_token_id=0,
            eos_token_id=0,
        )
        return transformers.GPT2Model(cfg)

    def bert_model() -> Any:
        cfg = transformers.BertConfig(
            num_hidden_layers=DEPTH,
            hidden_size=WIDTH,
            num_attention_heads=HEADS,
            intermediate_size=4 * WIDTH,
            max_position_embeddings=32,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            vocab_size=8,
        )
        return transformers.BertModel(cfg, add_pooling_layer=False)

    def llama_model() -> Any:
        cfg = transformers.LlamaConfig(
            num_hidden_layers=DEPTH,
            hidden_size=WIDTH,
            num_attention_heads=HEADS,
            num_key_value_heads=HEADS,
            intermediate_size=LLAMA_INTERMEDIATE,
            max_position_embeddings=32,
            vocab_size=8,
        )
        return transformers.LlamaModel(cfg)

    return {"gpt2": (gpt2, gpt2_model), "bert": (bert, bert_model), "llama": (llama, llama_model)}


CONFIGS = _configs()


def _hidden_grams(model: Any, x: np.ndarray) -> list[np.ndarray]:
    """The Gram ``H H^T / d`` of the model's hidden states: the embedding output, then every block."""
    model.eval()
    with torch.no_grad():
        out = model(inputs_embeds=torch.from_numpy(x)[None], output_hidden_states=True)
    return [metrics.gram(h[0].double().numpy()) for h in out.hidden_states]


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


class _Float64Llama:
    """LLaMA's RMS norm and rotary angles in the model's dtype instead of float32."""

    def __enter__(self) -> None:
        from transformers.models.llama import modeling_llama as ml

        self.ml = ml
        self.saved = (ml.LlamaRMSNorm.forward, ml.LlamaRotaryEmbedding.forward)

        def rms(module: Any, h: Any) -> Any:
            return module.weight * (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + module.variance_epsilon))

        def rotary(module: Any, x: Any, position_ids: Any) -> Any:
            dim = module.inv_freq.numel() * 2
            base = module.config.rope_parameters["rope_theta"]
            inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
            freqs = position_ids[..., None].double() * inv
            emb = torch.cat((freqs, freqs), dim=-1)
            return emb.cos().to(x.dtype), emb.sin().to(x.dtype)

        ml.LlamaRMSNorm.forward = rms
        ml.LlamaRotaryEmbedding.forward = rotary

    def __exit__(self, *exc: object) -> None:
        self.ml.LlamaRMSNorm.forward, self.ml.LlamaRotaryEmbedding.forward = self.saved


def _loaded(name: str, seed: int) -> tuple[isoinit.Transformer, Any, isoinit.NetworkWeights]:
    net, build = CONFIGS[name]
    torch.manual_seed(seed)
    model = build().double()
    weights = isoinit.network_weights(net, WIDTH, seed=seed, run=0)
    state = {k: torch.from_numpy(v) for k, v in presets.state_dict(net, weights).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected
    # what is left is the norms (1 and 0 at initialization), the token embeddings and rotary buffers
    assert all(
        ("norm" in k or "ln_" in k or "LayerNorm" in k or "wte" in k or "word_embeddings" in k or "embed_tokens" in k)
        for k in missing
    ), missing
    return net, model, weights


def _embeddings(seed: int) -> np.ndarray:
    """Input embeddings at a realistic scale: rows N(0, 0.02^2), as a token embedding table's."""
    return 0.02 * np.random.default_rng(seed).standard_normal((N, WIDTH))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_forward_equals_the_transformers_model_with_the_same_weights(name: str) -> None:
    x = _embeddings(1)
    for seed in (0, 1):
        net, model, weights = _loaded(name, seed)
        ours = isoinit.forward(net, x, weights, grams=True)
        assert ours.grams is not None
        if name == "llama":
            with _Float64Llama():
                theirs = _hidden_grams(model, x)
        else:
            theirs = _hidden_grams(model, x)
        assert len(theirs) == DEPTH + 1
        for layer, want in enumerate(theirs):
            err = _rel(ours.grams[0, layer], want)
            assert err < FORWARD_REL, f"{name} seed {seed} layer {layer}: relative error {err:.2e}"


def test_unpatched_llama_agrees_at_float32_precision() -> None:
    x = _embeddings(2)
    net, model, weights = _loaded("llama", 3)
    ours = isoinit.forward(net, x, weights, grams=True)
    assert ours.grams is not None
    for layer, want in enumerate(_hidden_grams(model, x)):
        assert _rel(ours.grams[0, layer], want) < FLOAT32_MODEL_REL


def test_gpt2_input_scale_matters_as_in_the_model() -> None:
    # the input as given: scaling the embeddings changes the representation, as in GPT-2
    net, model, weights = _loaded("gpt2", 0)
    x = _embeddings(4)
    small = isoinit.forward(net, x, weights).gap[0]
    large = isoinit.forward(net, 10 * x, weights).gap[0]
    assert np.max(np.abs(small[1:] - large[1:])) > 0.01
    theirs = [metrics.isometry_gap(g) for g in _hidden_grams(model, 10 * x)]
    np.testing.assert_allclose(large, theirs, rtol=1e-9)


def _model_gaps(name: str, x: np.ndarray, seeds: Iterator[int], blocks: tuple[int, ...]) -> np.ndarray:
    """The gap after ``blocks`` of fresh randomly initialized models (their own init)."""
    _, build = CONFIGS[name]
    out = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = build().double()
        grams = _hidden_grams(model, x) if name != "llama" else _with_float64(model, x)
        out.append([metrics.isometry_gap(grams[b]) for b in blocks])
    return np.array(out)


def _with_float64(model: Any, x: np.ndarray) -> list[np.ndarray]:
    with _Float64Llama():
        return _hidden_grams(model, x)


KS_RUNS = 150
KS_BLOCKS = (1, 2, 3)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_gram_sampler_matches_the_models_own_initialization(name: str) -> None:
    net, _ = CONFIGS[name]
    x = _embeddings(5)
    ours = isoinit.simulate(net, x, runs=KS_RUNS, seed=0, sampler="gram").gap[:, list(KS_BLOCKS)]
    theirs = _model_gaps(name, x, iter(range(1000, 1000 + KS_RUNS)), KS_BLOCKS)
    for k, block in enumerate(KS_BLOCKS):
        p = stats.ks_2samp(ours[:, k], theirs[:, k]).pvalue
        assert p > PRESET_KS_ALPHA / PRESET_KS_TESTS, f"{name} block {block}: KS p = {p:.2e}"


def test_ks_test_has_power_against_rescaled_rows() -> None:
    # the old behaviour (rows rescaled to mean square 1 before the first block) is rejected
    net, _ = CONFIGS["gpt2"]
    x = _embeddings(5)
    wrong = isoinit.simulate(dataclasses.replace(net, input_norm="rows"), x, runs=KS_RUNS, seed=0).gap[:, 3]
    theirs = _model_gaps("gpt2", x, iter(range(1000, 1000 + KS_RUNS)), (3,))[:, 0]
    assert stats.ks_2samp(wrong, theirs).pvalue < PRESET_KS_ALPHA / PRESET_KS_TESTS
