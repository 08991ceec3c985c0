"""Parameter counts match published totals; FLOPs formula matches Narayanan et al."""

from __future__ import annotations

import pytest

from colossim.catalog import load_catalog
from colossim.errors import InputError
from colossim.workload.model import TransformerSpec, model_ids, preset

REQUIRED = ["gpt3-175b", "megatron-1t", "llama3-8b", "llama3-70b", "llama3-405b", "grok-1", "deepseek-v3",
            "mixtral-8x22b", "nemotron4-340b"]  # fmt: skip


@pytest.mark.parametrize("model_id", model_ids())
def test_params_within_one_percent_of_published(model_id: str) -> None:
    published = load_catalog("models")[model_id].values["params_b"] * 1e9
    assert preset(model_id).total_params == pytest.approx(published, rel=0.01)


def test_required_presets_exist() -> None:
    assert set(REQUIRED) <= set(model_ids())


def test_active_params_of_moe_models() -> None:
    assert preset("deepseek-v3").active_params == pytest.approx(
        37e9, rel=0.03
    )  # DeepSeek-V3: 37B active
    assert preset("mixtral-8x22b").active_params == pytest.approx(
        39e9, rel=0.03
    )  # Mistral: 39B active
    dense = preset("llama3-70b")
    assert dense.active_params == pytest.approx(dense.total_params, rel=1e-3)


def test_flops_match_narayanan_formula() -> None:
    # Narayanan et al. 2021 eq. 3 without recompute: 72 l h^2 (1 + s/6h + V/12lh) per token
    m = preset("gpt3-175b")
    s, lyr, h, v = 2048, m.layers, m.hidden, m.vocab
    expected = 72 * lyr * h * h * (1 + s / (6 * h) + v / (12 * lyr * h))
    assert m.model_flops_per_token(s) == pytest.approx(expected, rel=0.002)


def test_invalid_specs_raise_input_error() -> None:
    base = dict(
        name="x",
        layers=2,
        hidden=64,
        heads=8,
        kv_heads=8,
        head_dim=8,
        ffn_hidden=256,
        gated_mlp=True,
        vocab=100,
    )
    with pytest.raises(InputError, match="kv_heads"):
        TransformerSpec(**{**base, "kv_heads": 3})
    with pytest.raises(InputError, match="layers"):
        TransformerSpec(**{**base, "layers": -1})
    with pytest.raises(InputError, match="top_k"):
        TransformerSpec(**{**base, "experts": 4, "top_k": 5, "moe_ffn_hidden": 32})
