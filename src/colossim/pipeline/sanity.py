"""Plausibility checks on a scenario's answers: results outside them carry a warning."""

from __future__ import annotations

import math
from dataclasses import dataclass

from colossim.campaign import (
    CampaignResult,
)
from colossim.perf.estimate import Context, Estimate
from colossim.pipeline.records import WithFailures
from colossim.scenario.schema import Scenario
from colossim.units import GB
from colossim.workload.stack import default_memory_headroom

__all__ = [
    "Headroom",
    "campaign_warnings",
    "duration_text",
    "estimate_warnings",
    "memory_headroom",
]

# Sanity bounds: results outside them are printed with a warning, not refused. They are
# plausibility checks on the answer, not model constants.
# More idle GPUs than this share: the GPU count does not factor well for this model.
IDLE_GPU_WARN_SHARE = 0.05
# MFU outside this range is implausible for LLM training: the best published runs sit
# near 40-60% (Chowdhery et al. 2022, PaLM, Table 3: 46.2%; Narayanan et al. 2021, Table
# 1: up to 52% of peak); below 5% the layout or the batch is pathological.
MFU_WARN_RANGE = (0.05, 0.65)
# Wall-clock days with failures above this multiple of the failure-free figure.
FAILURE_SLOWDOWN_WARN = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Headroom:
    """Share of HBM a plan must leave free, and the setting it comes from."""

    share: float
    field: str  # the scenario field that set it, or the catalog entry of the default


def memory_headroom(scenario: Scenario) -> Headroom:
    """The scenario's memory headroom: ``plan.memory_headroom`` (a fixed plan), else
    ``search.memory_headroom``, else the catalog default (``efficiency.yaml``). The
    search rejects plans above ``(1 - share) * HBM`` and a fixed plan above it is warned
    about: the same margin for both."""
    plan = scenario.plan
    if plan != "search" and plan.memory_headroom is not None:
        return Headroom(share=plan.memory_headroom, field="plan.memory_headroom")
    if scenario.search.memory_headroom is not None:
        return Headroom(share=scenario.search.memory_headroom, field="search.memory_headroom")
    share = default_memory_headroom()
    where = "search" if plan == "search" else "plan"
    return Headroom(share=share, field=f"{where}.memory_headroom (default)")


def estimate_warnings(est: Estimate, ctx: Context, *, headroom: Headroom) -> list[str]:
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
    elif use > 1.0 - headroom.share:
        out.append(
            f"the plan uses {use:.1%} of GPU memory, above the {1.0 - headroom.share:.0%} "
            f"that leaves {headroom.share:.0%} free ({headroom.field}): too little headroom "
            "for allocator fragmentation and workspaces in practice"
        )
    return out


def duration_text(days: float) -> str:
    """A duration given in days, in the largest unit it fills (a failure-free run at
    scale may take minutes): days, hours, minutes or seconds."""
    if days >= 1:
        return f"{days:,.1f} days"
    for scale, unit in ((24, "hours"), (24 * 60, "minutes")):
        if days * scale >= 1:
            return f"{days * scale:,.1f} {unit}"
    return f"{days * 86_400:,.3g} s"


def campaign_warnings(
    camp: CampaignResult, wf: WithFailures, est: Estimate, *, horizon_days: float
) -> list[str]:
    out = []
    unfinished = (
        f"only {camp.fraction_finished:.0%} of trials finished within {horizon_days:,.0f} "
        "days (reliability.horizon_days)"
    )
    if not math.isfinite(wf.days):  # a window in which no work completes (goodput 0)
        out.append(
            "with failures no training work completes in the simulated window (goodput 0%): "
            "recovery dominates (see `colossim campaign`)"
        )
    elif camp.fraction_finished < 0.5:  # the median run never ends: no "days with failures"
        out.append(
            f"with failures most runs do not finish: {unfinished}, against "
            f"{duration_text(est.days_to_train)} without failures; recovery dominates (see "
            "`colossim campaign`)"
        )
    elif wf.days > FAILURE_SLOWDOWN_WARN * est.days_to_train:
        out.append(
            f"with failures the run takes {duration_text(wf.days)} against "
            f"{duration_text(est.days_to_train)} without: recovery dominates (see `colossim campaign`)"
        )
    if 0.5 <= camp.fraction_finished < 1.0:
        out.append(unfinished)
    return out
