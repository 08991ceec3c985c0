"""Efficiency constants of the step-time model, loaded from ``catalog/efficiency.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, fields

from colossim.catalog import load_catalog
from colossim.errors import InputError, did_you_mean

__all__ = ["Efficiency", "StackProfile", "efficiency", "framework_ids", "stack_profile"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Efficiency:
    """Global constants (see catalog/efficiency.yaml for meaning and source)."""

    gemm_half_dim: float
    attention_efficiency: float
    elementwise_bw_efficiency: float
    layer_overhead_s: float
    step_overhead_s: float
    power_cap_factor: float
    fp8_gemm_factor: float
    grouped_gemm_factor: float
    moe_layer_overhead_s: float
    nic_efficiency: float
    runtime_memory_bytes: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StackProfile:
    """Per software stack: compute factor, fraction of TP/DP/EP communication hidden,
    and the width of reduced gradients (bytes)."""

    name: str
    compute_factor: float
    tp_overlap: float
    dp_overlap: float
    ep_overlap: float
    grad_reduce_bytes: float
    # What the stack can run (catalog ``parallel`` and ``sharding``): the search keeps
    # every other dimension at 1 and only these sharding modes.
    parallel_dims: tuple[str, ...] = ("tp", "pp", "cp", "ep")
    sharding: tuple[str, ...] = ("none", "zero1", "zero2", "zero3")


def efficiency() -> Efficiency:
    values = load_catalog("efficiency")["global"].values
    return Efficiency(**{f.name: float(values[f.name]) for f in fields(Efficiency)})


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
    caps = ("name", "parallel_dims", "sharding")
    kw = {f.name: float(values[f.name]) for f in fields(StackProfile) if f.name not in caps}
    if "parallel" in values:
        kw["parallel_dims"] = tuple(str(d) for d in values["parallel"])
    if "sharding" in values:
        kw["sharding"] = tuple(str(m) for m in values["sharding"])
    return StackProfile(name=name, **kw)
