"""Transformer specifications (dense, MoE, GQA, MLA), parameter and FLOP counts.

Formulas:
- Parameter counts: weight matrices of attention (Q, K, V, O projections, or DeepSeek MLA's
  low-rank projections), MLP (2 matrices, or 3 for gated SwiGLU/GeGLU), MoE experts and
  router, norms, embedding and LM head (tied or not). Biases are ignored (<0.1%).
- Model FLOPs per token (used for MFU everywhere, docs/glossary.md): 3 x forward, where
  forward = 2 x (weight-matrix parameters a token touches, LM head included, embedding
  lookup excluded) + attention scores and values 2*s*n_heads*(d_qk + d_v) per layer,
  counted without the causal halving (Narayanan et al. 2021, eq. 3; PaLM, Chowdhery et
  al. 2022, App. B). For a dense GPT this is exactly Narayanan's 72*l*h^2*(1 + s/6h +
  V/12lh) per token without recomputation.
"""

from __future__ import annotations

from dataclasses import dataclass

from colossim.catalog import load_catalog, lookup
from colossim.errors import InputError, require_int

__all__ = ["MLA", "TransformerSpec", "model_ids", "preset"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MLA:
    """DeepSeek multi-head latent attention dimensions (DeepSeek-V2/V3)."""

    q_lora_rank: int
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TransformerSpec:
    """A decoder-only transformer.

    Attributes:
        layers: transformer blocks.
        hidden: model width d_model.
        heads: query heads.
        kv_heads: key/value heads (GQA); equal to ``heads`` for MHA.
        head_dim: per-head width (default hidden / heads).
        ffn_hidden: dense MLP inner width.
        gated_mlp: True for 3-matrix SwiGLU/GeGLU MLPs.
        vocab: vocabulary size.
        tied_embeddings: LM head shares the input embedding matrix.
        experts: routed experts per MoE layer (0 = dense model).
        top_k: experts per token.
        moe_ffn_hidden: inner width of one expert.
        shared_experts: always-active experts per MoE layer.
        dense_layers: leading layers with a dense MLP in an MoE model.
        mla: MLA dimensions, or None for standard attention.
    """

    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn_hidden: int
    gated_mlp: bool
    vocab: int
    tied_embeddings: bool = False
    experts: int = 0
    top_k: int = 0
    moe_ffn_hidden: int = 0
    shared_experts: int = 0
    dense_layers: int = 0
    mla: MLA | None = None
    # Multi-token prediction modules trained with the model (DeepSeek-V3: 1), each a
    # transformer block of the model's last kind plus one more pass of the LM head.
    mtp_layers: int = 0

    def __post_init__(self) -> None:
        for name in ("layers", "hidden", "heads", "kv_heads", "head_dim", "vocab"):
            require_int(
                f"workload.model.{name}", getattr(self, name), minimum=1, whole_floats=False
            )
        if self.ffn_hidden < 0 or self.experts < 0 or self.top_k < 0:
            raise InputError("workload.model", "sizes must be >= 0")
        require_int("workload.model.mtp_layers", self.mtp_layers, minimum=0, whole_floats=False)
        if self.heads % self.kv_heads:
            raise InputError(
                "workload.model.kv_heads",
                f"must divide heads ({self.heads})",
                value=self.kv_heads,
                fix="use a divisor of heads (GQA groups)",
            )
        if self.experts:
            if not 1 <= self.top_k <= self.experts:
                raise InputError(
                    "workload.model.top_k",
                    f"must be in 1..experts ({self.experts})",
                    value=self.top_k,
                )
            if self.moe_ffn_hidden <= 0:
                raise InputError("workload.model.moe_ffn_hidden", "must be > 0 for MoE", value=0)
            if not 0 <= self.dense_layers <= self.layers:
                raise InputError("workload.model.dense_layers", "must be in 0..layers")
        elif self.ffn_hidden <= 0:
            raise InputError("workload.model.ffn_hidden", "must be > 0 for a dense model", value=0)

    # ---- shapes -------------------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def moe_layers(self) -> int:
        return self.layers - self.dense_layers if self.is_moe else 0

    @property
    def q_dim(self) -> int:
        """Width of the query projection output (= attention output width)."""
        if self.mla:
            return self.heads * (self.mla.qk_nope_head_dim + self.mla.qk_rope_head_dim)
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of K (and of V) per token as stored for attention."""
        if self.mla:
            return self.heads * self.mla.qk_nope_head_dim  # decompressed per head (training path)
        return self.kv_heads * self.head_dim

    @property
    def attn_qk_dim(self) -> int:
        """Per-head dimension of the QK^T product."""
        return self.mla.qk_nope_head_dim + self.mla.qk_rope_head_dim if self.mla else self.head_dim

    @property
    def attn_v_dim(self) -> int:
        return self.mla.v_head_dim if self.mla else self.head_dim

    @property
    def mlp_matrices(self) -> int:
        return 3 if self.gated_mlp else 2

    # ---- parameter counts ---------------------------------------------------------------
    @property
    def attention_params(self) -> int:
        """Weight parameters of one attention block."""
        h = self.hidden
        if self.mla:
            m = self.mla
            qk = m.qk_nope_head_dim + m.qk_rope_head_dim
            # DeepSeek-V2 sec. 2.1.2: W_DQ, W_UQ(+rope), W_DKV(+shared rope key), W_UK, W_UV, W_O
            return (
                h * m.q_lora_rank
                + m.q_lora_rank * self.heads * qk
                + h * (m.kv_lora_rank + m.qk_rope_head_dim)
                + m.kv_lora_rank * self.heads * (m.qk_nope_head_dim + m.v_head_dim)
                + self.heads * m.v_head_dim * h
            )
        return h * self.q_dim + 2 * h * self.kv_dim + self.q_dim * h

    @property
    def dense_mlp_params(self) -> int:
        return self.mlp_matrices * self.hidden * self.ffn_hidden

    @property
    def expert_params(self) -> int:
        """Parameters of one routed expert."""
        return self.mlp_matrices * self.hidden * self.moe_ffn_hidden

    @property
    def moe_layer_mlp_params(self) -> int:
        """All MLP parameters of one MoE layer: routed + shared experts + router."""
        return (
            self.experts + self.shared_experts
        ) * self.expert_params + self.hidden * self.experts

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden

    @property
    def head_params(self) -> int:
        """LM-head parameters not shared with the embedding."""
        return 0 if self.tied_embeddings else self.vocab * self.hidden

    @property
    def total_params(self) -> int:
        norms = (2 * self.layers + 1) * self.hidden
        dense = self.layers - self.moe_layers
        return (
            self.layers * self.attention_params
            + dense * self.dense_mlp_params
            + self.moe_layers * self.moe_layer_mlp_params
            + self.embedding_params
            + self.head_params
            + norms
        )

    @property
    def active_matmul_params(self) -> int:
        """Weight-matrix parameters one token passes through (LM head included, embedding
        lookup excluded): the N of 'FLOPs = 6 N' for an MoE model."""
        active_moe = (
            self.top_k + self.shared_experts
        ) * self.expert_params + self.hidden * self.experts
        dense = self.layers - self.moe_layers
        return (
            self.layers * self.attention_params
            + dense * self.dense_mlp_params
            + self.moe_layers * active_moe
            + self.vocab * self.hidden
        )

    @property
    def active_params(self) -> int:
        """Parameters a token uses, embedding included (the published 'active' count)."""
        return (
            self.active_matmul_params
            + self.embedding_params
            - (0 if not self.tied_embeddings else self.embedding_params)
        )

    def attention_flops_per_token(self, seq_len: int) -> float:
        """Forward FLOPs of QK^T and AV per token, all layers, no causal halving."""
        return 2.0 * seq_len * self.heads * (self.attn_qk_dim + self.attn_v_dim) * self.layers

    def model_flops_per_token(self, seq_len: int) -> float:
        """Training FLOPs per token by the documented convention (3 x forward)."""
        return 3.0 * (2.0 * self.active_matmul_params + self.attention_flops_per_token(seq_len))


def preset(model_id: str, *, field: str = "workload.model") -> TransformerSpec:
    """A preset architecture from ``catalog/models.yaml``."""
    entry = lookup("models", model_id, field=field)
    return spec_from_dict(entry.values, name=entry.values.get("name", model_id), field=field)


def spec_from_dict(values: dict, *, name: str, field: str = "workload.model") -> TransformerSpec:
    """Build a spec from a plain mapping (catalog entry or inline scenario architecture)."""
    v = dict(values)
    heads = int(v["heads"])
    mla = v.get("mla")
    return TransformerSpec(
        name=name,
        layers=int(v["layers"]),
        hidden=int(v["hidden"]),
        heads=heads,
        kv_heads=int(v.get("kv_heads") or heads),
        head_dim=int(v.get("head_dim") or int(v["hidden"]) // heads),
        ffn_hidden=int(v.get("ffn_hidden") or 0),
        gated_mlp=bool(v.get("gated_mlp", False)),
        vocab=int(v["vocab"]),
        tied_embeddings=bool(v.get("tied_embeddings", False)),
        experts=int(v.get("experts") or 0),
        top_k=int(v.get("top_k") or 0),
        moe_ffn_hidden=int(v.get("moe_ffn_hidden") or 0),
        shared_experts=int(v.get("shared_experts") or 0),
        dense_layers=int(v.get("dense_layers") or 0),
        mla=MLA(**mla) if mla else None,
        mtp_layers=int(v.get("mtp_layers") or 0),
    )


def model_ids() -> list[str]:
    return list(load_catalog("models"))
