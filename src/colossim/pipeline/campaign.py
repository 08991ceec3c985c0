"""The campaign of a scenario: its reliability section resolved against the estimate
(throughput, GPUs used, DP degree, step time) and the cluster, and how many trials to run."""

from __future__ import annotations

import dataclasses
import math

from colossim.campaign import (
    CampaignConfig,
    CauseRate,
    FailureUnit,
    campaign_intervals,
    expected_interruptions_to_simulate,
    failure_profile,
)
from colossim.errors import InputError
from colossim.perf.estimate import Context, Estimate
from colossim.scenario.schema import Scenario
from colossim.units import SECONDS_PER_DAY

__all__ = [
    "CAMPAIGN_INTERRUPTION_LIMIT",
    "DEFAULT_INTERRUPTION_BUDGET",
    "MIN_DEFAULT_TRIALS",
    "TIMELINE_MAX_GAPS",
    "campaign_config",
    "check_default_work",
    "default_trials",
]

# A campaign that would draw more interruptions than this (closed-form estimate over all
# trials) is left out of `plan`, `compare` and `report` (goodput None, with a note);
# `colossim campaign` always runs it. About 2-4 s of work on one core.
CAMPAIGN_INTERRUPTION_LIMIT = 1e7
# When the trial count is not given (neither `reliability.trials` nor `--trials`), the
# default is lowered so that the simulation draws at most about this many interruptions
# (~1-2 s on one core); the standard errors grow accordingly and are reported.
DEFAULT_INTERRUPTION_BUDGET = 5e6
# ... but never fewer trials than this (percentiles need some trials).
MIN_DEFAULT_TRIALS = 20
# Gaps between interruptions kept in the example timeline (a plot cannot show more).
TIMELINE_MAX_GAPS = 5_000


# ---- campaign configuration --------------------------------------------------------------


def default_trials(config: CampaignConfig, *, requested: int) -> int:
    """Trials to run when the user did not choose: ``requested`` (the scenario default),
    lowered to stay within :data:`DEFAULT_INTERRUPTION_BUDGET` simulated interruptions."""
    interval_s = campaign_intervals(config).used_s
    per_trial = expected_interruptions_to_simulate(
        dataclasses.replace(config, n_trials=1), interval_s
    )
    if per_trial <= 0:
        return requested
    affordable = int(DEFAULT_INTERRUPTION_BUDGET // per_trial)
    # The floor of trials gives way when trials are so long that it alone would exceed the
    # limit (a 100,000-day window on 1M GPUs: 48M interruptions per trial).
    floor = min(requested, MIN_DEFAULT_TRIALS, int(CAMPAIGN_INTERRUPTION_LIMIT // per_trial))
    return max(min(requested, affordable), floor, 1)


def check_default_work(config: CampaignConfig) -> None:
    """Refuse a campaign whose trial count was chosen by default but whose single trial
    already simulates more than :data:`CAMPAIGN_INTERRUPTION_LIMIT` interruptions
    (minutes of work): the user insists with ``--trials`` or ``reliability.trials``."""
    work = expected_interruptions_to_simulate(config, campaign_intervals(config).used_s)
    if work <= CAMPAIGN_INTERRUPTION_LIMIT:
        return
    window = config.window_s is not None
    raise InputError(
        "reliability.window_days" if window else "reliability.horizon_days",
        f"{config.n_trials:,} trial(s) would simulate about {work:,.2g} interruptions (more "
        f"than {CAMPAIGN_INTERRUPTION_LIMIT:,.0f}: minutes of work)",
        value=(config.window_s if window else config.horizon_s) / SECONDS_PER_DAY,
        fix="shorten it, lower the failure rate or speed up recovery; or insist with --trials",
    )


def campaign_config(
    sc: Scenario, ctx: Context, est: Estimate, *, trials: int | None, seed: int | None
) -> CampaignConfig:
    """The campaign of a scenario, run at the throughput of a plan estimate."""
    rel = sc.reliability
    gpn = ctx.cluster.gpus_per_node
    # MODEL: the job occupies whole nodes: a plan whose GPU count is not a multiple of the
    # node size still loses a whole node to a node failure.
    job_nodes = math.ceil(est.num_gpus_used / gpn)
    idle_nodes = max(ctx.cluster.num_gpus // gpn - job_nodes, 0)
    gpu_id = ctx.cluster.gpu.id
    profile = failure_profile(rel.profile_id(gpu_id))
    switch_failures = any(c.unit is FailureUnit.SWITCH for c in profile.causes)
    fabric = ctx.fabric
    num_switches = int(sum(fabric.switches_per_tier)) if switch_failures and fabric else 0
    leaf_switches = leaf_gpus = None
    if fabric is not None:
        # A leaf failure takes down the nodes under its downlinks (rail-aware: a stripe
        # of rail leaves serves whole nodes, fabric.gpus_per_level[1]); the job uses its
        # share of the fabric's leaves.
        leaf_gpus = int(fabric.gpus_per_level[1])
        share = job_nodes * gpn / max(fabric.config.num_gpus, 1)
        leaf_switches = math.ceil(fabric.switches_per_tier[0] * min(share, 1.0))
    config = rel.to_config(
        num_gpus=job_nodes * gpn,
        gpus_per_node=gpn,
        tokens=float(ctx.training.tokens),
        tokens_per_s=float(est.tokens_per_s),
        params=float(ctx.model.total_params),
        num_switches=num_switches,
        # MODEL: whole nodes the plan leaves idle are hot spares too.
        idle_nodes=idle_nodes,
        gpu_id=gpu_id,
        scaleup_domain=ctx.cluster.scaleup_domain,
        dp=est.plan.dp,
        step_s=est.step_time_s,
        leaf_switches=leaf_switches,
        leaf_gpus=leaf_gpus,
    )
    if seed is not None:
        config = dataclasses.replace(config, seed=int(seed))
    if trials is not None:
        return dataclasses.replace(config, n_trials=int(trials))
    if "trials" in rel.model_fields_set:
        return config
    return dataclasses.replace(config, n_trials=default_trials(config, requested=rel.trials))


def partition_causes(
    sc: Scenario, config: CampaignConfig, est: Estimate, *, job_share: list[float]
) -> tuple[CauseRate, ...]:
    """The failure causes of a job over several partitions (GPU types).

    ``config`` is the whole job's campaign at the first partition's GPU (its fabric's
    switches, leaves and job-level causes counted once); for each partition at its share of
    the job's GPUs (``job_share``), its own GPU's failure profile and node size replace the
    reference's. Exact when every partition has the first's GPU; linear in each
    partition's size otherwise."""
    rel = sc.reliability
    parts = sc.cluster.partitions or []
    rates: dict[tuple, float] = {}
    kinds: dict[tuple, CauseRate] = {}

    def add(causes: tuple[CauseRate, ...], sign: float) -> None:
        for c in causes:
            key = (c.name, c.category, c.replaces_node, c.planned, c.domain)
            kinds.setdefault(key, c)
            rates[key] = rates.get(key, 0.0) + sign * c.rate_per_s

    def at(num_gpus: int, gpn: int, gpu_id: str) -> tuple[CauseRate, ...]:
        return rel.to_config(
            num_gpus=max(num_gpus, 1),
            gpus_per_node=gpn,
            tokens=config.tokens,
            tokens_per_s=config.tokens_per_s,
            params=1.0,
            gpu_id=gpu_id,
            dp=est.plan.dp,
            step_s=est.step_time_s,
        ).causes

    gpn = config.gpus_per_node
    ref_gpu = parts[0].gpu if parts else sc.cluster.gpu
    add(config.causes, 1.0)
    for p, share in zip(parts, job_share, strict=True):
        p_gpn = p.gpus_per_node or sc.cluster.gpus_per_node or gpn
        n = max(round(config.num_gpus * share / p_gpn), 1) * p_gpn
        # This partition's own profile and node shape in place of the reference's.
        add(at(n, p_gpn, p.gpu), 1.0)
        add(at(n, p_gpn, ref_gpu), -1.0)
    return tuple(dataclasses.replace(kinds[k], rate_per_s=max(r, 0.0)) for k, r in rates.items())
