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

from colossim.cluster import Cluster
from colossim.errors import InputError
from colossim.workload.model import TransformerSpec
from colossim.workload.training import Training

__all__ = [
    "Infeasible",
    "Plan",
    "PlanBatch",
    "Recompute",
    "Sharding",
    "check_plans",
]

BF16_BYTES = 2  # 16-bit weights and activations
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
    MEMORY_HEADROOM = "memory_headroom"  # fits in HBM but not within the kept-free share


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
