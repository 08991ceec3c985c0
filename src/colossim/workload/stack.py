"""Efficiency constants of the step-time model, loaded from ``catalog/efficiency.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, fields

from colossim.catalog import load_catalog
from colossim.errors import InputError, did_you_mean

__all__ = [
    "Efficiency",
    "StackDefaults",
    "StackProfile",
    "default_memory_headroom",
    "efficiency",
    "framework_ids",
    "stack_profile",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Efficiency:
    """Global constants (see catalog/efficiency.yaml for meaning and source)."""

    gemm_half_dim: float
    elementwise_bw_efficiency: float
    layer_overhead_s: float
    step_overhead_s: float
    dvfs_power_exponent: float
    fp8_gemm_factor: float
    moe_layer_overhead_s: float
    nic_efficiency: float
    runtime_memory_bytes: float
    overlap_compute_slowdown: float = 0.0
    alloc_pressure_start: float = 1.0
    alloc_pressure_penalty: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StackDefaults:
    """How a stack runs a field that a published run leaves blank (catalog ``defaults``).

    Attributes:
        micro_batch: sequences per micro-batch; 0 = the whole local batch (no gradient
            accumulation) without pipeline parallelism, 1 with it.
        vp: virtual pipeline stages per rank.
        interleaved_vp: virtual stages per rank of a run that says it interleaves its
            pipeline but not how many (2, the smallest interleave, where the stack has no
            default of its own).
        recompute: recompute modes in the order the stack escalates to them when the
            default does not fit in memory (first = default).
        sharding: sharding modes, same order rule.
    """

    micro_batch: int = 1
    vp: int = 1
    interleaved_vp: int = 2
    recompute: tuple[str, ...] = ("none", "selective", "full")
    sharding: tuple[str, ...] = ("none", "zero1", "zero2", "zero3")


@dataclass(frozen=True, slots=True, kw_only=True)
class StackProfile:
    """Per software stack: compute factor, fraction of TP/DP/EP communication hidden,
    and the width of reduced gradients (bytes)."""

    name: str
    compute_factor: float
    tp_overlap: float
    # Share of TP communication hidden when a run enables TP overlap explicitly
    # (Training.tp_comm_overlap True); tp_overlap is the stack's default.
    tp_overlap_enabled: float = 0.0
    dp_overlap: float
    ep_overlap: float
    grad_reduce_bytes: float
    # Host (CPU) seconds to issue one layer's forward + backward kernels per micro-batch;
    # a micro-batch never runs faster than its launches (0 = never launch-bound).
    layer_host_s: float = 0.0
    # Data-parallel bucket size (bytes of gradients per collective call); 0 = one call per
    # layer (FSDP units).
    dp_bucket_bytes: float = 0.0
    # Host time of one blocking pipeline p2p call (metadata handshake, CPU sync).
    pp_p2p_host_s: float = 0.0
    # Exposed wait of one TP collective per node its group spans (blocking, eager hosts).
    tp_node_sync_s: float = 0.0
    # Exposed wait of one TP collective per ring step (tp - 1) when the stack's pipeline
    # receive synchronises host and device (pp > 1): hosts cannot run ahead.
    tp_pp_sync_s: float = 0.0
    # Activation memory relative to the fused-kernel count of parallel/memory.py: eager
    # PyTorch modules keep unfused intermediates (fp32 norm inputs, separate SiLU and
    # product outputs, rotary copies); 1 = fused kernels (Transformer Engine, compile).
    activation_memory_factor: float = 1.0
    # What "selective" recompute means in the stack: 0 = Megatron's (the attention core
    # and the activation functions are recomputed, Korthikanti et al. 2022); k >= 2 = whole
    # layers, every k-th one recomputed in full and the others kept (torchtitan's default
    # selective activation checkpointing).
    selective_layer_period: float = 0.0
    # 1: the stack runs PyTorch's default caching allocator, whose cudaMalloc retries slow
    # a step near full memory (global alloc_pressure_*); 0: expandable segments or a
    # stack with no measured collapse.
    alloc_pressure: float = 0.0
    # Pipeline split: "uniform" (ceil(L/pp) layers per stage, LM head on the last) or
    # "cost" (blocks assigned to stages by compute cost).
    pp_balance: str = "uniform"
    # What the stack can run (catalog ``parallel`` and ``sharding``): the search keeps
    # every other dimension at 1 and only these sharding modes.
    parallel_dims: tuple[str, ...] = ("tp", "pp", "cp", "ep")
    sharding: tuple[str, ...] = ("none", "zero1", "zero2", "zero3")
    # Activation recompute modes the stack can run (catalog ``recompute_modes``).
    recompute_modes: tuple[str, ...] = ("none", "selective", "full")
    defaults: StackDefaults = StackDefaults()
    # FP8 recipe the stack runs when the run names none (catalog ``fp8_recipe``; recipes
    # in catalog fp8.yaml).
    fp8_recipe: str = "tensorwise"
    # Attention-core kernel family the stack runs (catalog ``attention_kernel``; families
    # and their measured efficiency in catalog attention.yaml).
    attention_kernel: str = "flash-attention-2"
    # 1: FP8 weights are cast once per step and reused by the step's later micro-batches
    # (Transformer Engine ``is_first_microbatch``); 0: cast at every micro-batch.
    fp8_weight_cache: float = 0.0
    # ZeRO-1/2 gradient synchronisation: 0 = reduce-scatter (each rank receives its
    # shard: Megatron distributed optimizer, DeepSpeed); 1 = a full all-reduce before each
    # rank updates its shard (nanotron: DDP all-reduces, the optimizer is sharded only).
    zero_grad_all_reduce: float = 0.0
    # 1: the parameter all-gather after a ZeRO-1/2 optimizer step overlaps the next
    # step's forward (Megatron --overlap-param-gather, FSDP prefetch); 0: it blocks after
    # the step (nanotron, DeepSpeed ZeRO-1/2).
    param_gather_overlap: float = 1.0
    # 1: Q, K, V run as one column-parallel GEMM, and gate and up as one (Megatron
    # linear_qkv / linear_fc1, nanotron qkv_proj / gate_up_proj); 0: separate linears.
    fused_projections: float = 1.0


def efficiency() -> Efficiency:
    values = load_catalog("efficiency")["global"].values
    return Efficiency(
        **{f.name: float(values[f.name]) for f in fields(Efficiency) if f.name in values}
    )


def default_memory_headroom() -> float:
    """Share of HBM a search keeps free when the scenario sets none (catalog
    ``efficiency.yaml`` global ``memory_headroom``, with its source)."""
    return float(load_catalog("efficiency")["global"].values["memory_headroom"])


def framework_ids() -> list[str]:
    return [k for k in load_catalog("efficiency") if k != "global"]


def stack_profile(name: str, *, field: str = "workload.framework") -> StackProfile:
    entries = load_catalog("efficiency")
    if name == "global" or name not in entries:
        ids = framework_ids()
        hint = did_you_mean(name, ids)
        raise InputError(
            field, "unknown software stack", value=name, fix=f"{hint}known: {', '.join(ids)}"
        )
    values = entries[name].values
    seen = {name}
    while "alias_of" in values:
        target = values["alias_of"]
        if target in seen:
            raise ValueError(f"alias loop in efficiency.yaml at {target!r}")
        seen.add(target)
        values = entries[target].values
    caps = ("name", "parallel_dims", "sharding", "recompute_modes", "defaults", "pp_balance")
    caps += ("fp8_recipe", "attention_kernel")
    kw = {
        f.name: float(values[f.name])
        for f in fields(StackProfile)
        if f.name not in caps and f.name in values
    }
    for key in ("pp_balance", "fp8_recipe", "attention_kernel"):
        if key in values:
            kw[key] = str(values[key])
    # A stack that overlaps TP by default hides the same share when a run asks for it.
    kw.setdefault("tp_overlap_enabled", kw.get("tp_overlap", 0.0))
    if "parallel" in values:
        kw["parallel_dims"] = tuple(str(d) for d in values["parallel"])
    if "sharding" in values:
        kw["sharding"] = tuple(str(m) for m in values["sharding"])
    if "recompute_modes" in values:
        kw["recompute_modes"] = tuple(str(m) for m in values["recompute_modes"])
    if "defaults" in values:
        kw["defaults"] = _defaults(values["defaults"])
    return StackProfile(name=name, **kw)


def _defaults(raw: dict) -> StackDefaults:
    base = StackDefaults()  # what a stack's catalog defaults leave unsaid
    mb = raw.get("micro_batch", 1)
    return StackDefaults(
        micro_batch=0 if mb == "local" else int(mb),
        vp=int(raw.get("vp", base.vp)),
        interleaved_vp=int(raw.get("interleaved_vp", base.interleaved_vp)),
        recompute=tuple(str(m) for m in raw.get("recompute", ("none",))),
        sharding=tuple(str(m) for m in raw.get("sharding", ("none",))),
    )
