"""Plausibility checks on a scenario's answers: results outside them carry a warning."""

from __future__ import annotations

from colossim.campaign import (
    CampaignResult,
)
from colossim.perf.estimate import Context, Estimate
from colossim.pipeline.records import WithFailures
from colossim.units import GB

__all__ = ["campaign_warnings", "estimate_warnings"]

# Sanity bounds: results outside them are printed with a warning, not refused. They are
# plausibility checks on the answer, not model constants.
# More idle GPUs than this share: the GPU count does not factor well for this model.
IDLE_GPU_WARN_SHARE = 0.05
# MFU outside this range is implausible for LLM training: the best published runs sit
# near 40-60% (Chowdhery et al. 2022, PaLM, Table 3: 46.2%; Narayanan et al. 2021, Table
# 1: up to 52% of peak); below 5% the layout or the batch is pathological.
MFU_WARN_RANGE = (0.05, 0.65)
# Memory above this share of HBM leaves too little for the allocator's fragmentation and
# NCCL/cuBLAS workspaces that the memory model does not itemise.
MEMORY_WARN_SHARE = 0.95
# Wall-clock days with failures above this multiple of the failure-free figure.
FAILURE_SLOWDOWN_WARN = 2.0


def estimate_warnings(est: Estimate, ctx: Context) -> list[str]:
    out = []
    share = est.idle_gpus / ctx.cluster.num_gpus
    if share > IDLE_GPU_WARN_SHARE:
        out.append(
            f"{est.idle_gpus:,} GPUs ({share:.0%}) sit idle: the GPU count does not factor "
            "into a good layout for this model (try a nearby count or another batch)"
        )
    lo, hi = MFU_WARN_RANGE
    if not lo <= est.mfu <= hi:
        out.append(
            f"MFU {est.mfu:.1%} is outside the plausible {lo:.0%}-{hi:.0%}: check the "
            "batch, sequence length and GPU count"
        )
    use = est.memory_per_gpu_bytes / est.memory_capacity_bytes
    if not est.fits:
        out.append(
            f"the plan does not fit in GPU memory ({est.memory_per_gpu_bytes / GB:,.1f} GB "
            f"of {est.memory_capacity_bytes / GB:,.1f} GB)"
        )
    elif use > MEMORY_WARN_SHARE:
        out.append(
            f"the plan uses {use:.0%} of GPU memory: too little headroom for allocator "
            "fragmentation and communication buffers in practice"
        )
    return out


def campaign_warnings(camp: CampaignResult, wf: WithFailures, est: Estimate) -> list[str]:
    out = []
    if wf.days > FAILURE_SLOWDOWN_WARN * est.days_to_train:
        out.append(
            f"with failures the run takes {wf.days:,.1f} days against "
            f"{est.days_to_train:,.1f} without: recovery dominates (see `colossim campaign`)"
        )
    if camp.fraction_finished < 1.0:
        out.append(f"only {camp.fraction_finished:.0%} of campaign trials finished in the horizon")
    return out
