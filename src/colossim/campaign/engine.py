"""Discrete-event Monte Carlo simulation of a training campaign, vectorised over trials.

Each interruption ends a gap: the trial's pending downtime (detection, waiting for a spare,
restart, restore) is served, the rest of the gap runs training with periodic checkpoints,
and an unexpected interruption loses the work since the last durable checkpoint. One pass
of the event loop (:mod:`~colossim.campaign.chunk`) handles up to 64 interruptions of every
live trial as (trials x 64) numpy arrays, so a pass costs a fixed number of array operations
whatever the number of trials; trials that finish (or reach the horizon) are dropped from the
arrays. Trials run in chunks of 4,096 (bounded memory), chunk i seeded by
``SeedSequence(seed).spawn(...)[i]``.

Timeline of one trial between two interruptions at t and t + g (g ~ Exp(rate)):

    t ── downtime D ──┬─ tau compute ─┬ delta ┬─ tau compute ─┬ delta ┬─ ... ─ failure at t+g
                      └──────── cycle c = tau + delta ────────┘

References: Daly (2006), "A higher order estimate of the optimum checkpoint interval for
restart dumps", Future Generation Computer Systems 22(3), for the segment model and its
closed forms; the Llama 3 paper (Dubey et al. 2024, arXiv:2407.21783, sec. 3.3.4, Table 5)
for the interruption counts of the catalog (docs/sources.md: GK-WEB).

# MODEL: interruptions arrive as a Poisson process in wall-clock time, also while the job is
# down (a failure during a restart restarts the recovery and counts as an interruption),
# which is how the catalog rates were derived (count / wall-clock exposure).
# MODEL: the job's size (``shrink`` policy) and so its failure rate and throughput change only
# at restarts: a node back from repair rejoins at the next restart.
# MODEL: repair takes a fixed time; nodes return in the order they failed.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from colossim.campaign.checkpoint import candidate_intervals_s, expected_useful_fraction
from colossim.campaign.chunk import run_chunk
from colossim.campaign.config import CampaignConfig, RunScalars, campaign_intervals
from colossim.campaign.results import (
    CampaignResult,
    IntervalSweep,
    TrialTotals,
    stderr_of_mean,
    summarise,
)
from colossim.errors import InputError

__all__ = ["expected_interruptions_to_simulate", "simulate_campaign", "sweep_checkpoint_intervals"]

# Trials simulated together (bounds memory: arrays of trials x chunk.BLOCK_EVENTS and the
# repair queues of trials x queue capacity).
_CHUNK_TRIALS = 4096
# Refuse runs that would draw more interruptions than this (about a minute of work on
# one core at ~10 million interruptions/s): an input that makes no progress must not hang.
_MAX_SIMULATED_INTERRUPTIONS = 1e9


def simulate_campaign(config: CampaignConfig) -> CampaignResult:
    """Monte Carlo simulation of the campaign, all trials at once.

    Args:
        config: the campaign (see :class:`~colossim.campaign.config.CampaignConfig`).

    Returns:
        A :class:`~colossim.campaign.results.CampaignResult`; deterministic for a given
        ``config.seed``.
    """
    intervals = campaign_intervals(config)
    _check_budget(config, intervals.used_s)
    return summarise(config, intervals, _run_trials(config, intervals.used_s))


def sweep_checkpoint_intervals(config: CampaignConfig, *, intervals_s: np.ndarray) -> IntervalSweep:
    """Simulate the campaign at each fixed checkpoint interval ("optimal by simulation").

    Args:
        config: the campaign; its interval policy is ignored.
        intervals_s: candidate compute intervals between checkpoints, s.
    """
    candidates = candidate_intervals_s("intervals_s", intervals_s)
    for interval in candidates:
        _check_budget(config, float(interval))
    means, errs = [], []
    for interval in candidates:
        totals = _run_trials(config, max(float(interval), config.checkpoint.durable_lag_s))
        goodput = totals.goodput
        means.append(goodput.mean())
        errs.append(stderr_of_mean(goodput))
    goodput = np.array(means)
    return IntervalSweep(
        intervals_s=candidates,
        goodput=goodput,
        goodput_stderr=np.array(errs),
        best_interval_s=float(candidates[int(np.argmax(goodput))]),
    )


def expected_interruptions_to_simulate(config: CampaignConfig, interval_s: float) -> float:
    """Closed-form estimate of the interruptions a simulation will draw (all trials).

    Expected wall time per trial: the window, or the work divided by the exact expected
    useful fraction (Daly 2006), capped at the horizon. If the spares are chronically short
    (more nodes in repair on average, rate x repair time, than the job can do without), a
    trial may wait for repairs most of the time: it is counted as running to the horizon.
    """
    starved = config.nodes_in_repair_mean > config.max_nodes_in_repair
    if config.window_s is not None:
        wall = config.window_s
    elif starved:
        wall = config.horizon_s
    else:
        work = config.work_to_train_s
        useful = _useful_fraction_estimate(config, interval_s)
        wall = work / useful if useful > work / config.horizon_s else config.horizon_s
        wall = min(wall, config.horizon_s)
    return config.total_rate_per_s * wall * config.n_trials


def _useful_fraction_estimate(config: CampaignConfig, interval_s: float) -> float:
    """Closed-form useful fraction: Daly's exact fraction for the failures that fall back
    to the persistent checkpoint, times exp(-rate x (stop + loss)) for those restored from
    peer replicas (:func:`~colossim.campaign.recovery.fixed_loss_goodput` with one kind),
    times the running throughput, less the elastic debt rate."""
    costs = config.interruption_costs
    lossy = config.lossy_rate_per_s
    useful = 1.0
    if lossy > 0:
        useful = float(
            expected_useful_fraction(
                interval_s=interval_s,
                checkpoint_s=config.checkpoint.blocking_s,
                mtbf_s=1.0 / lossy,
                restart_s=config.unplanned_recovery_s,
            )
        )
    exposure = 0.0
    for rate, stop, loss in (
        (config.node_replacing_rate_per_s, costs.node_stop_s, costs.node_max_loss_s),
        (config.other_unplanned_rate_per_s, costs.other_stop_s, costs.other_max_loss_s),
    ):
        if math.isfinite(loss):
            exposure += rate * (stop + loss)
    debt = config.node_replacing_rate_per_s * costs.node_debt_s
    for d, dc in zip(config.domains, config.domain_costs, strict=True):
        if math.isfinite(dc.max_loss_s):
            exposure += d.rate_per_s * (dc.stop_s + dc.max_loss_s)
        debt += d.rate_per_s * dc.debt_s
    return useful * math.exp(-exposure) * config.speed_factor - debt


def _check_budget(config: CampaignConfig, interval_s: float) -> None:
    expected = expected_interruptions_to_simulate(config, interval_s)
    if expected > _MAX_SIMULATED_INTERRUPTIONS:
        raise InputError(
            "reliability.trials",
            f"the simulation would draw ~{expected:.2g} interruptions (more than "
            f"{_MAX_SIMULATED_INTERRUPTIONS:.0e}, minutes of work): the job barely makes "
            "progress or the horizon is long",
            value=config.n_trials,
            fix="use fewer trials, a shorter horizon_days or window_days, or faster recovery",
        )


def _run_trials(config: CampaignConfig, interval_s: float) -> TrialTotals:
    """All trials, in chunks of ``_CHUNK_TRIALS`` (each with its own spawned seed)."""
    scalars = RunScalars.of(config, interval_s)
    n_chunks = -(-config.n_trials // _CHUNK_TRIALS)
    seeds = np.random.SeedSequence(config.seed).spawn(n_chunks)
    parts = [
        run_chunk(
            scalars,
            n_trials=min(_CHUNK_TRIALS, config.n_trials - i * _CHUNK_TRIALS),
            seed=seeds[i],
        )
        for i in range(n_chunks)
    ]
    if len(parts) == 1:
        return parts[0]
    return TrialTotals(
        **{
            f.name: np.concatenate([getattr(p, f.name) for p in parts], axis=-1)
            for f in dataclasses.fields(TrialTotals)
        }
    )
