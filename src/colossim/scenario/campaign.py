"""Scenario -> campaign simulation: the glue between the scenario's ``reliability:`` section,
the step-time estimate (steady-state throughput) and :mod:`colossim.campaign`.

Used by ``colossim campaign`` and by the HTML report's campaign section::

    loaded, ctx = load(path, overrides)
    est = best_estimate(loaded, ctx)
    result = build_campaign(loaded.scenario, ctx, est)
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from colossim.campaign.failures import FailureUnit, failure_profile
from colossim.campaign.simulate import (
    CampaignConfig,
    CampaignResult,
    campaign_intervals,
    expected_interruptions_to_simulate,
    simulate_campaign,
    trial_timeline,
)
from colossim.errors import InputError

if TYPE_CHECKING:
    from colossim.perf.estimate import Context, Estimate
    from colossim.scenario.schema import Scenario

__all__ = [
    "DEFAULT_INTERRUPTION_BUDGET",
    "MIN_DEFAULT_TRIALS",
    "TIMELINE_MAX_GAPS",
    "build_campaign",
    "build_campaign_config",
    "default_trials",
]

# When the trial count is not given (neither `reliability.trials` in the scenario nor
# `--trials`), the default (1,000) is lowered so that the simulation draws at most about
# this many interruptions: ~1-2 s of work on one core (the event loop runs at several
# million interruptions per second). A job that almost never progresses (spares short, a
# 10-year horizon) would otherwise take minutes. The standard errors grow accordingly and
# are reported.
DEFAULT_INTERRUPTION_BUDGET = 5e6
# ... but never fewer trials than this (percentiles need some trials).
MIN_DEFAULT_TRIALS = 20
# Gaps between interruptions listed in the example timeline (a plot cannot show more).
TIMELINE_MAX_GAPS = 5_000


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
    return max(min(requested, affordable), min(requested, MIN_DEFAULT_TRIALS))


def build_campaign_config(
    sc: Scenario,
    ctx: Context,
    est: Estimate,
    *,
    trials: int | None = None,
    seed: int | None = None,
) -> CampaignConfig:
    """The campaign config of a scenario, with the throughput of a plan estimate.

    Args:
        sc: the validated scenario (``loaded.scenario``).
        ctx: its context (``build_context(sc)``).
        est: the plan estimate whose ``tokens_per_s`` is the steady-state throughput.
        trials: Monte Carlo trials; None: the scenario's ``reliability.trials`` if it sets
            it, else the default lowered to a bounded amount of work (:func:`default_trials`).
        seed: random seed; None: the scenario's ``reliability.seed``.

    Returns:
        A :class:`CampaignConfig` for :func:`colossim.campaign.simulate_campaign`.
    """
    rel = sc.reliability
    if trials is not None and (isinstance(trials, bool) or trials <= 0):
        raise InputError("--trials", "must be a positive integer", value=trials)
    if seed is not None and (isinstance(seed, bool) or seed < 0):
        raise InputError("--seed", "must be an integer >= 0", value=seed)
    gpn = ctx.cluster.gpus_per_node
    # MODEL: the job occupies whole nodes: a plan whose GPU count is not a multiple of the
    # node size still loses a whole node to a node failure.
    job_nodes = math.ceil(est.num_gpus_used / gpn)
    idle_nodes = max(ctx.cluster.num_gpus // gpn - job_nodes, 0)
    num_switches = 0
    profile = failure_profile(rel.failure_profile)
    if any(c.unit is FailureUnit.SWITCH for c in profile.causes):
        from colossim.scenario.build import build_fabric

        num_switches = int(sum(build_fabric(sc, ctx).switches_per_tier))
    config = rel.to_config(
        num_gpus=job_nodes * gpn,
        gpus_per_node=gpn,
        tokens=float(ctx.training.tokens),
        tokens_per_s=float(est.tokens_per_s),
        params=float(ctx.model.total_params),
        num_switches=num_switches,
        # MODEL: whole nodes the plan leaves idle are hot spares too.
        idle_nodes=idle_nodes,
    )
    if seed is not None:
        config = dataclasses.replace(config, seed=int(seed))
    if trials is not None:
        return dataclasses.replace(config, n_trials=int(trials))
    if "trials" in rel.model_fields_set:
        return config
    return dataclasses.replace(config, n_trials=default_trials(config, requested=rel.trials))


def build_campaign(
    sc: Scenario,
    ctx: Context,
    est: Estimate,
    *,
    trials: int | None = None,
    seed: int | None = None,
) -> CampaignResult:
    """Simulate the scenario's training campaign (failures, restarts, checkpoints, spares).

    Args:
        sc: the validated scenario (``loaded.scenario``).
        ctx: its context.
        est: the plan estimate (the fixed plan or the best searched one) giving the
            steady-state throughput, tokens/s.
        trials: Monte Carlo trials (see :func:`build_campaign_config`).
        seed: random seed overriding the scenario's; same seed, same result.

    Returns:
        The :class:`CampaignResult` (means, p10/p50/p90, standard errors, per-trial arrays,
        and the timeline of trial 0).
    """
    config = build_campaign_config(sc, ctx, est, trials=trials, seed=seed)
    result = simulate_campaign(config)
    return dataclasses.replace(result, timeline=trial_timeline(config, max_gaps=TIMELINE_MAX_GAPS))
