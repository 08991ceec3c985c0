"""Parallel plans, their validity rules and the per-GPU memory model.

Everything here works on a :class:`PlanBatch`: numpy arrays of plans (one entry per
candidate), so the single-plan ``estimate`` and the search share one implementation.

Memory model (per GPU, bytes), for the most loaded pipeline stage:
- weights 2 B/param, gradients ``grad_bytes``/param, Adam states 12 B/param (fp32 master,
  m, v), each divided by the data-parallel degree according to the ZeRO stage
  (Rajbhandari et al. 2020, sec. 5: stage 1 shards optimizer states, 2 also gradients,
  3 also parameters);
- activations per layer and token from the tensors kept for backward (Korthikanti et
  al. 2022, sec. 4.1, re-derived for flash attention, GQA/MLA, gated MLPs and MoE), split by
  TP (with sequence parallelism) and CP, times the micro-batches in flight on the first
  stage: min(m, pp) for 1F1B, times (1 + (pp-1)/(pp*vp)) for the interleaved schedule
  (Korthikanti et al. 2022, sec. 4.2.3);
- logits of the LM head in 16 + 32 bit, communication/runtime buffers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import IntEnum, StrEnum

import numpy as np

from colossim.errors import InputError
from colossim.model import TransformerSpec
from colossim.perf.profile import Efficiency, StackProfile
from colossim.workload import Cluster, Training

__all__ = [
    "Infeasible",
    "MemoryBreakdown",
    "Plan",
    "PlanBatch",
    "Recompute",
    "Sharding",
    "check_plans",
    "memory_breakdown",
]

BF16_BYTES = 2  # 16-bit weights and activations
ADAM_STATE_BYTES = 12  # fp32 master weights + m + v (Rajbhandari et al. 2020, sec. 3.1: K = 12)
FP32_BYTES = 4


class Recompute(IntEnum):
    """Activation recomputation (Korthikanti et al. 2022)."""

    NONE = 0
    SELECTIVE = 1
    FULL = 2


class Sharding(IntEnum):
    """ZeRO stage / FSDP sharding of training state across data-parallel ranks."""

    NONE = 0
    ZERO1 = 1
    ZERO2 = 2
    ZERO3 = 3


RECOMPUTE_NAMES = {r: r.name.lower() for r in Recompute}
SHARDING_NAMES = {
    Sharding.NONE: "none",
    Sharding.ZERO1: "zero1",
    Sharding.ZERO2: "zero2",
    Sharding.ZERO3: "zero3",
}


class Infeasible(StrEnum):
    """Why a plan cannot run. Search counts rejections by these reasons."""

    GPU_COUNT = "gpu_count"  # degrees multiply to more GPUs than the cluster has
    HEADS_NOT_DIVISIBLE = "heads_not_divisible"  # tp does not divide heads / kv heads
    LAYERS = "layers"  # pp * vp exceeds the layers
    VP_WITHOUT_PP = "vp_without_pp"
    SEQ_NOT_DIVISIBLE = "seq_not_divisible"  # seq_len not divisible by 2*cp (or tp for SP)
    EXPERTS_NOT_DIVISIBLE = "experts_not_divisible"  # ep does not divide experts or dp*cp
    EP_WITHOUT_MOE = "ep_without_moe"
    BATCH = "batch"  # global batch not reachable with dp * micro_batch
    MEMORY = "memory"  # does not fit in HBM


class PlanField(StrEnum):
    TP = "tp"
    PP = "pp"
    DP = "dp"
    CP = "cp"
    EP = "ep"
    VP = "vp"


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """One parallel layout.

    Attributes:
        tp, pp, dp, cp: tensor, pipeline, data and context parallel degrees.
        ep: expert-parallel degree, carved out of dp*cp (MoE only; 1 for dense).
        vp: virtual pipeline stages per rank (interleaved 1F1B); 1 = plain 1F1B.
        micro_batch: sequences per micro-batch.
        global_batch: sequences per optimizer step.
        recompute: activation recomputation.
        sharding: ZeRO stage of the data-parallel state.
    """

    tp: int = 1
    pp: int = 1
    dp: int = 1
    cp: int = 1
    ep: int = 1
    vp: int = 1
    micro_batch: int = 1
    global_batch: int
    recompute: Recompute = Recompute.NONE
    sharding: Sharding = Sharding.ZERO1

    def __post_init__(self) -> None:
        for f in ("tp", "pp", "dp", "cp", "ep", "vp", "micro_batch", "global_batch"):
            value = getattr(self, f)
            if not isinstance(value, int | np.integer) or value < 1:
                raise InputError(f"plan.{f}", "must be an integer >= 1", value=value)

    @property
    def num_gpus(self) -> int:
        return self.tp * self.pp * self.dp * self.cp

    @property
    def num_microbatches(self) -> float:
        return self.global_batch / (self.dp * self.micro_batch)

    def as_dict(self) -> dict:
        return {
            "tp": self.tp,
            "pp": self.pp,
            "dp": self.dp,
            "cp": self.cp,
            "ep": self.ep,
            "vp": self.vp,
            "micro_batch": self.micro_batch,
            "global_batch": self.global_batch,
            "recompute": RECOMPUTE_NAMES[Recompute(self.recompute)],
            "sharding": SHARDING_NAMES[Sharding(self.sharding)],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanBatch:
    """Arrays of plans (int64, equal length). ``global_batch`` is the batch each plan
    actually trains with (the search may round a target to reach it)."""

    tp: np.ndarray
    pp: np.ndarray
    dp: np.ndarray
    cp: np.ndarray
    ep: np.ndarray
    vp: np.ndarray
    micro_batch: np.ndarray
    global_batch: np.ndarray
    recompute: np.ndarray
    sharding: np.ndarray

    @classmethod
    def from_plans(cls, plans: list[Plan]) -> PlanBatch:
        return cls(
            **{
                f.name: np.array([int(getattr(p, f.name)) for p in plans], dtype=np.int64)
                for f in fields(cls)
            }
        )

    def __len__(self) -> int:
        return int(self.tp.shape[0])

    @property
    def num_gpus(self) -> np.ndarray:
        return self.tp * self.pp * self.dp * self.cp

    @property
    def num_microbatches(self) -> np.ndarray:
        return self.global_batch // (self.dp * self.micro_batch)

    def take(self, index: np.ndarray) -> PlanBatch:
        return PlanBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def plan(self, i: int) -> Plan:
        kw = {f.name: int(getattr(self, f.name)[i]) for f in fields(self)}
        kw["recompute"] = Recompute(kw["recompute"])
        kw["sharding"] = Sharding(kw["sharding"])
        return Plan(**kw)


# ---- validity -------------------------------------------------------------------------


def packed_key(columns: list[np.ndarray] | tuple[np.ndarray, ...]) -> np.ndarray | None:
    """One int64 per row of non-negative integer ``columns`` (mixed radix, first column
    most significant), so sorting keys sorts rows lexicographically and equal rows get
    equal keys; ``None`` when the key would not fit in 62 bits."""
    radices = [int(col.max(initial=0)) + 1 for col in columns]
    if math.prod(radices) >= 2**62:
        return None
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for col, radix in zip(columns, radices, strict=True):
        key = key * radix + col.astype(np.int64)
    return key


def check_plans(
    model: TransformerSpec, training: Training, cluster: Cluster, plans: PlanBatch
) -> dict[Infeasible, np.ndarray]:
    """Structural validity of each plan (memory is checked separately).

    Returns:
        For each reason, a boolean array marking the plans rejected for it. A plan may
        fail several rules; :func:`first_reason` picks one to report.
    """
    tp, pp, dp, cp, ep, vp = plans.tp, plans.pp, plans.dp, plans.cp, plans.ep, plans.vp
    mb, gb = plans.micro_batch, plans.global_batch
    s = training.seq_len
    kv_ok = (model.kv_heads % tp == 0) | (tp % model.kv_heads == 0)
    out = {
        Infeasible.GPU_COUNT: plans.num_gpus > cluster.num_gpus,
        Infeasible.HEADS_NOT_DIVISIBLE: (model.heads % tp != 0) | ~kv_ok,
        Infeasible.LAYERS: pp * vp > model.layers,
        Infeasible.VP_WITHOUT_PP: (vp > 1) & (pp == 1),
        # Load-balanced causal CP splits each sequence in 2*cp chunks (Megatron-Core CP);
        # sequence parallelism splits it in tp parts.
        Infeasible.SEQ_NOT_DIVISIBLE: ((cp > 1) & (s % (2 * cp) != 0)) | (s % (tp * cp) != 0),
        Infeasible.BATCH: (gb % (dp * mb) != 0) | (gb < dp * mb),
    }
    if model.is_moe:
        out[Infeasible.EXPERTS_NOT_DIVISIBLE] = (model.experts % ep != 0) | ((dp * cp) % ep != 0)
    else:
        out[Infeasible.EP_WITHOUT_MOE] = ep != 1
    return out


# ---- memory ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryBreakdown:
    """Per-GPU memory of each plan, bytes (arrays)."""

    weights: np.ndarray
    gradients: np.ndarray
    optimizer: np.ndarray
    activations: np.ndarray
    logits: np.ndarray
    buffers: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return (
            self.weights
            + self.gradients
            + self.optimizer
            + self.activations
            + self.logits
            + self.buffers
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StageShape:
    """How a plan cuts the model: layers and parameters on the most loaded stage."""

    layers: np.ndarray  # layers on the stage (ceil(L / pp))
    dense_layers: np.ndarray  # of which with a dense MLP (float: proportional share)
    moe_layers: np.ndarray
    dense_params: (
        np.ndarray
    )  # parameters per GPU replicated over dp*cp (sharded by ZeRO over dp*cp)
    expert_params: np.ndarray  # routed-expert parameters per GPU (sharded over dp*cp/ep)
    layer_params: np.ndarray  # unsharded parameters of one layer on this GPU (FSDP gather)


def stage_shape(model: TransformerSpec, plans: PlanBatch) -> StageShape:
    """Layers and parameters per GPU on the most loaded pipeline stage."""
    tp, pp, ep = plans.tp, plans.pp, plans.ep
    layers = -(-model.layers // pp)
    # MODEL: MoE and dense layers are spread over stages in proportion; the stage holding
    # the embedding or LM head carries V*h/tp parameters on top of its layers.
    moe_share = model.moe_layers / model.layers
    moe_layers = layers * moe_share
    dense_layers = layers - moe_layers
    vocab_params = model.vocab * model.hidden * np.where(pp == 1, 1 + (model.head_params > 0), 1)
    shared = model.shared_experts * model.expert_params + model.hidden * model.experts
    dense = (
        dense_layers * (model.attention_params + model.dense_mlp_params)
        + moe_layers * (model.attention_params + shared)
        + vocab_params
    ) / tp
    # MODEL: expert tensor-parallel degree = tp (Megatron-Core default), so routed experts
    # are split over ep * tp GPUs.
    routed = moe_layers * model.experts * model.expert_params / (ep * tp)
    per_layer = np.where(
        model.moe_layers > 0,
        (model.attention_params + shared) / tp + model.experts * model.expert_params / (ep * tp),
        (model.attention_params + model.dense_mlp_params) / tp,
    )
    return StageShape(
        layers=layers.astype(np.float64),
        dense_layers=dense_layers,
        moe_layers=moe_layers,
        dense_params=dense,
        expert_params=routed,
        layer_params=per_layer,
    )


def activation_bytes_per_token(
    model: TransformerSpec, recompute: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bytes kept for backward per token, per dense layer and per MoE layer, before any
    parallel split (16-bit tensors, no dropout, flash attention: no s^2 term).

    Korthikanti et al. 2022, sec. 4.1 counts 34*s*b*h per GPT layer with dropout and
    materialised attention; here each kept tensor is listed for modern blocks.
    """
    h, q, kv = model.hidden, model.q_dim, model.kv_dim
    # attention: LN input, QKV-projection input, Q, K, V (flash attention keeps them), output
    attn = h + h + q + 2 * kv + q
    act_out = 1  # activation output (input of the down projection)
    act_in = 2 if model.gated_mlp else 1  # gate and up outputs / fc1 output
    mlp_dense = h + h + (act_in + act_out) * model.ffn_hidden
    per_expert_tok = h + (act_in + act_out) * model.moe_ffn_hidden
    mlp_moe = h + h + (model.top_k + model.shared_experts) * per_expert_tok + model.experts
    # MODEL: selective recompute drops the activation-function output and attention
    # internals that kernels can recompute (Megatron-Core --recompute-modules core_attn,
    # mlp act); full recompute keeps only each layer's input (Korthikanti eq. 6: 2sbh).
    sel_attn = attn - q  # attention output recomputed from Q, K, V
    sel_dense = mlp_dense - act_out * model.ffn_hidden
    sel_moe = mlp_moe - (model.top_k + model.shared_experts) * act_out * model.moe_ffn_hidden
    dense = np.select(
        [recompute == Recompute.NONE, recompute == Recompute.SELECTIVE],
        [attn + mlp_dense, sel_attn + sel_dense],
        default=h,
    )
    moe = np.select(
        [recompute == Recompute.NONE, recompute == Recompute.SELECTIVE],
        [attn + mlp_moe, sel_attn + sel_moe],
        default=h,
    )
    return BF16_BYTES * dense.astype(np.float64), BF16_BYTES * moe.astype(np.float64)


def memory_breakdown(
    model: TransformerSpec,
    training: Training,
    plans: PlanBatch,
    stack: StackProfile,
    eff: Efficiency,
) -> MemoryBreakdown:
    """Per-GPU memory of each plan on its most loaded stage (bytes)."""
    tp, pp, dp, cp, ep, vp = plans.tp, plans.pp, plans.dp, plans.cp, plans.ep, plans.vp
    mb, sh, rc = plans.micro_batch, plans.sharding, plans.recompute
    shape = stage_shape(model, plans)
    d_dense = (dp * cp).astype(np.float64)
    d_expert = np.maximum(d_dense / ep, 1.0)

    def sharded(stage_min: int, degree: np.ndarray) -> np.ndarray:
        return np.where(sh >= stage_min, degree, 1.0)

    weights = BF16_BYTES * (
        shape.dense_params / sharded(3, d_dense) + shape.expert_params / sharded(3, d_expert)
    )
    grads = stack.grad_reduce_bytes * (
        shape.dense_params / sharded(2, d_dense) + shape.expert_params / sharded(2, d_expert)
    )
    optim = ADAM_STATE_BYTES * (
        shape.dense_params / sharded(1, d_dense) + shape.expert_params / sharded(1, d_expert)
    )

    tokens = mb * training.seq_len / (tp * cp)  # tokens of one micro-batch held per GPU
    dense_b, moe_b = activation_bytes_per_token(model, rc)
    per_mb_layers = shape.dense_layers * dense_b + shape.moe_layers * moe_b
    m = plans.num_microbatches
    in_flight = np.minimum(np.maximum(m, 1), pp) * np.where(vp > 1, 1.0 + (pp - 1) / (pp * vp), 1.0)
    act = in_flight * tokens * per_mb_layers
    # Full recompute re-materialises one whole layer at a time during backward.
    full_layer, full_moe = activation_bytes_per_token(model, np.zeros_like(rc))
    worst_layer = np.where(model.moe_layers > 0, full_moe, full_layer)
    act = act + np.where(rc == Recompute.FULL, tokens * worst_layer, 0.0)
    # MODEL: logits in 16 bit plus fp32 for the loss on the stage with the LM head.
    logits = mb * training.seq_len / cp * model.vocab / tp * (BF16_BYTES + FP32_BYTES)
    # ZeRO-3 gathers the current and the prefetched layer's full parameters.
    gather = np.where(sh == Sharding.ZERO3, 2 * BF16_BYTES * shape.layer_params, 0.0)
    # Sequence-parallel all-gather output buffer of one layer input.
    sp_buffer = np.where(tp > 1, tokens * tp * model.hidden * BF16_BYTES, 0.0)
    buffers = eff.runtime_memory_bytes + gather + sp_buffer
    return MemoryBreakdown(
        weights=weights,
        gradients=grads,
        optimizer=optim,
        activations=act,
        logits=logits,
        buffers=buffers,
    )
