"""Discrete-event Monte Carlo simulation of a training campaign, vectorised over trials.

Each interruption ends a gap: the trial's pending downtime (detection, waiting for a spare,
restart, restore) is served, the rest of the gap runs training with periodic checkpoints,
and an unexpected interruption loses the work since the last durable checkpoint. One pass
of the loop handles up to 64 interruptions of every live trial as (trials x 64) numpy
arrays, so a pass costs a fixed number of array operations whatever the number of trials;
trials that finish (or reach the horizon) are dropped from the arrays. Trials run in chunks
of 4,096 (bounded memory), chunk i seeded by ``SeedSequence(seed).spawn(...)[i]``.

Timeline of one trial between two interruptions at t and t + g (g ~ Exp(rate)):

    t ── downtime D ──┬─ tau compute ─┬ delta ┬─ tau compute ─┬ delta ┬─ ... ─ failure at t+g
                      └──────── cycle c = tau + delta ────────┘

References: Daly (2006, FGCS) for the segment model and its closed forms; facts.md 4.1
(Llama 3) and 4.4 (checkpointing) for the numbers in the catalog.

# MODEL: interruptions arrive as a Poisson process in wall-clock time, also while the job is
# down (a failure during a restart restarts the recovery and counts as an interruption),
# which is how the catalog rates were derived (count / wall-clock exposure).
# MODEL: the job's size (``shrink`` policy) and so its failure rate and throughput change only
# at restarts: a node back from repair rejoins at the next restart.
# MODEL: repair takes a fixed time; nodes return in the order they failed.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from colossim.campaign.checkpoint import (
    CheckpointCosts,
    CheckpointMode,
    IntervalPolicy,
    checkpoint_costs,
    checkpoint_defaults,
    checkpoint_state_bytes,
    choose_interval_s,
    daly_interval_s,
    expected_useful_fraction,
    optimal_interval_s,
    young_interval_s,
)
from colossim.campaign.failures import CauseRate, ClusterCounts, cause_rates, failure_profile
from colossim.catalog import lookup
from colossim.errors import InputError
from colossim.units import SECONDS_PER_DAY, SECONDS_PER_HOUR

__all__ = [
    "CampaignConfig",
    "CampaignResult",
    "CampaignTimeline",
    "GapEnd",
    "IntervalSweep",
    "SimulationMode",
    "SparePolicy",
    "campaign_intervals",
    "expected_interruptions_to_simulate",
    "reference_case_config",
    "simulate_campaign",
    "sweep_checkpoint_intervals",
    "trial_timeline",
]

# Interruptions per trial processed in one pass of the event loop (array width).
_BLOCK_EVENTS = 64
# Trials simulated together (bounds memory: arrays of trials x _BLOCK_EVENTS and the
# repair queues of trials x queue capacity).
_CHUNK_TRIALS = 4096
# Refuse runs that would draw more interruptions than this (about a minute of work on
# one core at ~10 million interruptions/s): an input that makes no progress must not hang.
_MAX_SIMULATED_INTERRUPTIONS = 1e9
# Spawn key of the timeline's random stream (apart from the Monte Carlo chunks' streams).
_TIMELINE_STREAM = 2**31 - 1
# Smallest rate used to turn "no failures" into a finite, astronomically long gap.
_TINY_RATE_PER_S = 1e-300


class SparePolicy(StrEnum):
    """What the job does when a failed node needs a spare and none is left."""

    WAIT = "wait"  # wait for the first node back from repair
    SHRINK = "shrink"  # restart on fewer nodes, at proportionally lower throughput


class SimulationMode(StrEnum):
    """What the simulation measures."""

    TO_TRAIN = "to_train"  # run until the tokens are trained (or the horizon)
    WINDOW = "window"  # run a fixed wall-clock window (Llama 3 style snapshot)


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignConfig:
    """Everything the campaign simulation needs, SI units.

    Attributes:
        tokens: tokens to train (ignored in window mode).
        tokens_per_s: steady-state throughput of the whole job at full size, tokens/s.
        num_gpus: GPUs in the job (spares not included).
        gpus_per_node: GPUs per node.
        causes: job-level interruption rate of every cause (unexpected and planned).
        detection_s: mean time from a failure to the job being torn down, s.
        restart_s: time to reschedule, re-initialise and re-form communicators, s.
        repair_s: time for a failed node to come back to the spare pool, s.
        planned_downtime_s: work done during a planned interruption, on top of the restart, s.
        checkpoint: write/blocking/durability/restore times of one checkpoint.
        interval_policy: how to choose the checkpoint interval.
        fixed_interval_s: compute time between checkpoints for the ``fixed`` policy, s.
        spare_nodes: hot-spare nodes outside the job.
        spare_policy: ``wait`` for repair or ``shrink`` when no spare is left.
        min_active_fraction: under ``shrink``, the job waits below this fraction of its nodes.
        horizon_s: wall-clock limit of a trial in to-train mode, s.
        window_s: if set, window mode: simulate this many seconds of wall clock.
        n_trials: Monte Carlo trials.
        seed: seed of the ``numpy.random.SeedSequence``.
    """

    tokens: float
    tokens_per_s: float
    num_gpus: int
    gpus_per_node: int
    causes: tuple[CauseRate, ...]
    detection_s: float
    restart_s: float
    repair_s: float
    planned_downtime_s: float = 0.0
    checkpoint: CheckpointCosts
    interval_policy: IntervalPolicy = IntervalPolicy.YOUNG
    fixed_interval_s: float | None = None
    spare_nodes: int = 0
    spare_policy: SparePolicy = SparePolicy.WAIT
    min_active_fraction: float = 0.5
    horizon_s: float = 3650.0 * SECONDS_PER_DAY
    window_s: float | None = None
    n_trials: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        def finite(name: str, value: float, *, positive: bool) -> None:
            ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
            if not ok:
                rule = "a finite number > 0" if positive else "a finite number >= 0"
                raise InputError(f"reliability.{name}", f"must be {rule}", value=value)

        finite("tokens_per_s", self.tokens_per_s, positive=True)
        if self.window_s is None:
            finite("tokens", self.tokens, positive=True)
        else:
            finite("window_s", self.window_s, positive=True)
        for name in ("detection_s", "restart_s", "repair_s", "planned_downtime_s"):
            finite(name, getattr(self, name), positive=False)
        finite("horizon_s", self.horizon_s, positive=True)
        for name in ("num_gpus", "gpus_per_node", "n_trials"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise InputError(f"reliability.{name}", "must be a positive integer", value=value)
        if self.num_gpus % self.gpus_per_node:
            raise InputError(
                "reliability.num_gpus",
                f"is not a multiple of gpus_per_node={self.gpus_per_node}",
                value=self.num_gpus,
            )
        if not isinstance(self.spare_nodes, int) or self.spare_nodes < 0:
            raise InputError(
                "reliability.spare_nodes", "must be an integer >= 0", value=self.spare_nodes
            )
        if not 0.0 < self.min_active_fraction <= 1.0:
            raise InputError(
                "reliability.min_active_fraction",
                "must be in (0, 1]",
                value=self.min_active_fraction,
            )
        if not self.causes:
            raise InputError("reliability.failure_profile", "has no failure causes")
        SparePolicy(self.spare_policy)
        IntervalPolicy(self.interval_policy)

    @property
    def num_nodes(self) -> int:
        """Nodes in the job."""
        return self.num_gpus // self.gpus_per_node

    @property
    def mode(self) -> SimulationMode:
        """Window mode if ``window_s`` is set, else to-train mode."""
        return SimulationMode.TO_TRAIN if self.window_s is None else SimulationMode.WINDOW


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignIntervals:
    """Checkpoint intervals for a configuration, s of compute between checkpoints.

    Attributes:
        used_s: the interval the simulation uses (policy, floored at the durability lag).
        young_s: Young's sqrt(2 delta M).
        daly_s: Daly's higher-order optimum.
        optimal_s: maximum of the exact expected useful fraction (Daly 2006 model).
        mtbf_s: mean time between work-losing (unexpected) interruptions M, s.
        recovery_s: downtime after an unexpected interruption R (no waiting), s.
    """

    used_s: float
    young_s: float
    daly_s: float
    optimal_s: float
    mtbf_s: float
    recovery_s: float


def campaign_intervals(config: CampaignConfig) -> CampaignIntervals:
    """Checkpoint intervals of every policy for ``config`` (closed forms, no simulation)."""
    unexpected = sum(c.rate_per_s for c in config.causes if not c.planned)
    # MODEL: with no unexpected failures, checkpoint once a year (any long interval).
    mtbf = 1.0 / unexpected if unexpected > 0 else 365.25 * SECONDS_PER_DAY
    recovery = config.detection_s + config.restart_s + config.checkpoint.restore_s
    delta = max(config.checkpoint.blocking_s, 1e-3)
    used = choose_interval_s(
        config.interval_policy,
        checkpoint_s=delta,
        mtbf_s=mtbf,
        restart_s=recovery,
        fixed_interval_s=config.fixed_interval_s,
    )
    # MODEL: an async checkpoint must be durable before the next one starts.
    used = max(used, config.checkpoint.durable_lag_s)
    return CampaignIntervals(
        used_s=used,
        young_s=young_interval_s(checkpoint_s=delta, mtbf_s=mtbf),
        daly_s=daly_interval_s(checkpoint_s=delta, mtbf_s=mtbf),
        optimal_s=optimal_interval_s(checkpoint_s=delta, mtbf_s=mtbf, restart_s=recovery),
        mtbf_s=mtbf,
        recovery_s=recovery,
    )


class GapEnd(StrEnum):
    """What ends a gap of a trial's timeline."""

    NODE_FAILURE = "node_failure"  # unexpected, the node goes to repair
    OTHER_FAILURE = "other_failure"  # unexpected, restart in place (network, software)
    PLANNED = "planned"  # planned maintenance (checkpoint first, nothing lost)
    END = "end"  # training finished, or the window / horizon ended


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignTimeline:
    """Wall-clock timeline of one example trial, one entry per gap between interruptions
    (for plots). Within gap i the job is down on [start_s, up_s) (detection, waiting for a
    spare, restart, restore) and runs on [up_s, end_s), of which ``kept_s`` compute was kept,
    ``checkpoint_s`` was blocked on checkpoints and ``lost_s`` was lost to the interruption.

    Attributes:
        start_s: wall time the gap starts (0, or the previous interruption), s.
        up_s: wall time training resumes, s.
        end_s: wall time the gap ends, s.
        kept_s: compute time kept in the gap, s.
        checkpoint_s: checkpoint stalls in the gap, s.
        lost_s: training time lost at the end of the gap, s.
        work_s: cumulative useful work at the end of the gap, s at full throughput.
        active_fraction: fraction of the job's nodes running in the gap (``shrink``).
        ends: what ends each gap (values of :class:`GapEnd`).
        wall_s: wall time of the trial (last ``end_s``), s.
        finished: the trial trained all its tokens.
        truncated: the trial had more than ``max_gaps`` gaps; only the first are listed.
    """

    start_s: np.ndarray
    up_s: np.ndarray
    end_s: np.ndarray
    kept_s: np.ndarray
    checkpoint_s: np.ndarray
    lost_s: np.ndarray
    work_s: np.ndarray
    active_fraction: np.ndarray
    ends: tuple[GapEnd, ...]
    wall_s: float
    finished: bool
    truncated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignResult:
    """Outcome of a campaign simulation. Means are over trials; ``*_stderr`` is the
    standard error of the mean (the seed-to-seed spread of the mean); p10/p50/p90 are
    percentiles across trials.

    Attributes:
        mode: to_train or window.
        n_trials: trials run.
        seed: seed used.
        num_gpus: GPUs in the job.
        goodput: mean useful work / (wall time x full throughput).
        goodput_stderr: standard error of ``goodput``.
        goodput_p10: 10th percentile of goodput across trials (p50, p90 likewise).
        effective_training_time: mean fraction of wall time spent on training that was kept.
        effective_training_time_stderr: its standard error.
        wall_fraction_downtime: mean fraction of wall time down (detection, wait, restart).
        wall_fraction_rework: mean fraction of wall time on work lost to failures.
        wall_fraction_checkpoint: mean fraction of wall time blocked on checkpoints.
        interruptions_mean: mean interruptions per trial (unexpected + planned).
        interruptions_p10: 10th percentile (p50, p90, stderr likewise).
        unexpected_interruptions_mean: mean unexpected interruptions.
        planned_interruptions_mean: mean planned interruptions.
        interruptions_by_cause: mean interruptions per trial, by cause.
        expected_interruptions: closed form: total rate x mean wall time (wait policy: exact).
        mtbi_s: closed-form mean time between interruptions (all causes, full job), s.
        wall_days_mean: mean wall-clock days per trial.
        time_to_train_days_p10: to-train mode: percentiles of wall days (p50, p90, mean,
            stderr likewise); trials that hit the horizon count as the horizon (censored).
        fraction_finished: trials that finished before the horizon (1.0 in window mode).
        lost_gpu_hours: mean GPU-hours of the job not turned into useful work.
        checkpoint_interval_s: interval used (compute time between checkpoints), s.
        checkpoint_interval_young_s: Young's interval, s (daly, optimal likewise).
        checkpoint_blocking_s: stall per checkpoint, s.
        per_trial_wall_s: wall time of each trial, s (arrays are not compared).
        per_trial_goodput: goodput of each trial.
        per_trial_interruptions: interruptions of each trial.
        spare_nodes: hot-spare nodes of the configuration.
        timeline: optional timeline of one example trial (:func:`trial_timeline`), e.g.
            attached by ``colossim.scenario.campaign.build_campaign``; None otherwise.
    """

    mode: SimulationMode
    n_trials: int
    seed: int
    num_gpus: int
    goodput: float
    goodput_stderr: float
    goodput_p10: float
    goodput_p50: float
    goodput_p90: float
    effective_training_time: float
    effective_training_time_stderr: float
    wall_fraction_downtime: float
    wall_fraction_rework: float
    wall_fraction_checkpoint: float
    interruptions_mean: float
    interruptions_stderr: float
    interruptions_p10: float
    interruptions_p50: float
    interruptions_p90: float
    unexpected_interruptions_mean: float
    planned_interruptions_mean: float
    interruptions_by_cause: dict[str, float]
    expected_interruptions: float
    mtbi_s: float
    wall_days_mean: float
    time_to_train_days_mean: float
    time_to_train_days_stderr: float
    time_to_train_days_p10: float
    time_to_train_days_p50: float
    time_to_train_days_p90: float
    fraction_finished: float
    lost_gpu_hours: float
    checkpoint_interval_s: float
    checkpoint_interval_young_s: float
    checkpoint_interval_daly_s: float
    checkpoint_interval_optimal_s: float
    checkpoint_blocking_s: float
    per_trial_wall_s: np.ndarray = field(compare=False, repr=False)
    per_trial_goodput: np.ndarray = field(compare=False, repr=False)
    per_trial_interruptions: np.ndarray = field(compare=False, repr=False)
    spare_nodes: int = 0
    timeline: CampaignTimeline | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class _TrialTotals:
    """Per-trial accumulators returned by the event loop (all arrays of n_trials)."""

    wall_s: np.ndarray
    finished: np.ndarray
    work_s: np.ndarray  # useful work, in seconds at full throughput
    useful_s: np.ndarray  # wall time spent on kept training
    checkpoint_s: np.ndarray
    rework_s: np.ndarray
    down_s: np.ndarray
    n_node: np.ndarray  # unexpected interruptions that sent a node to repair
    n_other: np.ndarray  # other unexpected interruptions
    n_planned: np.ndarray


def _run_trials(config: CampaignConfig, interval_s: float) -> _TrialTotals:
    """All trials, in chunks of ``_CHUNK_TRIALS`` (each with its own spawned seed)."""
    n_chunks = -(-config.n_trials // _CHUNK_TRIALS)
    seeds = np.random.SeedSequence(config.seed).spawn(n_chunks)
    parts = [
        _run_chunk(
            config,
            interval_s,
            n_trials=min(_CHUNK_TRIALS, config.n_trials - i * _CHUNK_TRIALS),
            seed=seeds[i],
        )
        for i in range(n_chunks)
    ]
    if len(parts) == 1:
        return parts[0]
    return _TrialTotals(
        **{
            f.name: np.concatenate([getattr(p, f.name) for p in parts])
            for f in dataclasses.fields(_TrialTotals)
        }
    )


def _run_chunk(
    config: CampaignConfig, interval_s: float, *, n_trials: int, seed: np.random.SeedSequence
) -> _TrialTotals:
    """The event loop over all live trials at once, ``L`` interruptions per trial per pass.

    Each pass draws up to ``_BLOCK_EVENTS`` interruptions for every live trial as an
    (n_live, L) array and processes them with array operations along both axes: event
    times are a cumulative sum of the gaps; the work kept in a gap depends only on the gap,
    the downtime owed at its start and the kind of interruption that ends it. This is exact
    as long as every interruption finds a spare. A cheap upper bound on the nodes in repair
    says when one may not: under ``wait`` the nodes in repair are then counted exactly at
    every interruption of the pass and the waits added to the downtimes (waiting does not
    move later interruptions); under ``shrink`` (the job size, so the rate, changes) the
    pass is cut after the first such interruption and the shrink applied there. Either way
    the result is the same as one interruption at a time. Trials that finish or reach the
    horizon are dropped.

    Its arrays are local scratch; the function is pure from outside.
    """
    rate_u = float(sum(c.rate_per_s for c in config.causes if not c.planned))
    rate_p = float(sum(c.rate_per_s for c in config.causes if c.planned))
    rate_node = float(sum(c.rate_per_s for c in config.causes if c.replaces_node and not c.planned))

    tau = float(interval_s)
    delta = config.checkpoint.blocking_s
    cycle = tau + delta
    lag = config.checkpoint.durable_lag_s
    restore = config.checkpoint.restore_s
    down_unexpected = config.detection_s + config.restart_s + restore
    # MODEL: a planned interruption checkpoints first (one blocking write), then stops for
    # the planned work and restarts like any other; no work is lost.
    down_planned = delta + config.planned_downtime_s + config.restart_s + restore
    repair = config.repair_s
    nodes = config.num_nodes
    spares = config.spare_nodes
    shrink = config.spare_policy is SparePolicy.SHRINK
    # Nodes that may be in repair before the job must wait: the spares, plus (shrink) the
    # nodes the job may lose and still run.
    max_in_repair = spares
    if shrink:
        max_in_repair += int(math.floor((1.0 - config.min_active_fraction) * nodes))
    window = config.mode is SimulationMode.WINDOW
    horizon = float(config.window_s if window else config.horizon_s)
    track_repairs = rate_node > 0

    rng = np.random.Generator(np.random.PCG64(seed))

    # Live state, one entry per live trial; `ids` maps a live position to its trial.
    ids = np.arange(n_trials)
    t = np.zeros(n_trials)  # time of the last interruption (0 at the start)
    down = np.zeros(n_trials)  # downtime owed after t (0 at the start: the job is up)
    frac = np.ones(n_trials)  # active fraction of the job's nodes
    lam = np.full(n_trials, max(rate_u + rate_p, _TINY_RATE_PER_S))
    work_left = np.full(n_trials, 0.0 if window else config.tokens / config.tokens_per_s)
    acc = np.zeros((5, n_trials))  # work, useful, checkpoint, rework, down
    counts = np.zeros((3, n_trials), dtype=np.int64)  # node-replacing, other unexpected, planned
    # Repair queue: per trial, a ring buffer of the failure times of the nodes sent to
    # repair, in time order; row i (trial id i) is ring[i * cap : (i + 1) * cap], rows are
    # never compacted, and the last element is a dump slot for masked writes. `tail` counts
    # nodes sent to repair, `head` nodes known to be back. `head` is refreshed only when the
    # count in repair (`tail - head`, an upper bound while `head` is stale) could exceed
    # the spares, so most passes never look at the queue.
    head = np.zeros(n_trials, dtype=np.int64)
    tail = np.zeros(n_trials, dtype=np.int64)
    mean_in_repair = rate_node * repair
    cap = 1 << max(
        6,
        math.ceil(math.log2(mean_in_repair + 8.0 * math.sqrt(mean_in_repair) + 2 * _BLOCK_EVENTS)),
    )
    ring = np.zeros(n_trials * cap + 1 if track_repairs else 1)

    out_acc = np.zeros((5, n_trials))
    out_counts = np.zeros((3, n_trials), dtype=np.int64)
    out_wall = np.zeros(n_trials)
    out_finished = np.zeros(n_trials, dtype=bool)

    while ids.size:
        n = ids.size
        frac_pass = frac  # job size during this pass (shrink may change it at its end)
        gaps_e = rng.standard_exponential((n, _BLOCK_EVENTS))
        kinds_u = rng.random((n, _BLOCK_EVENTS))
        # Kind of each interruption (competing Poisson risks): node-replacing unexpected,
        # other unexpected, or planned (under shrink, unexpected rates scale with `frac`).
        node = kinds_u < (rate_node * frac / lam)[:, None]
        planned = kinds_u >= (rate_u * frac / lam)[:, None]
        n_events = _BLOCK_EVENTS
        exact_waits = False
        if track_repairs:
            # Upper bound on the nodes in repair at each interruption of the pass.
            node_cum = np.cumsum(node, axis=1)
            short = (tail - head)[:, None] + node_cum > spares
            if short.any():
                head = _pop_returned(ring, cap, ids, head, tail, t - repair)
                short = (tail - head)[:, None] + node_cum > spares
            if short.any():
                if shrink:
                    # The job size (so its rate and the event times) would change: cut the
                    # pass after the first interruption that may find no spare.
                    first_short = np.where(short.any(axis=1), short.argmax(axis=1), n_events)
                    n_events = int(first_short.min()) + 1
                else:
                    # Waiting only lengthens downtimes: count the nodes in repair exactly at
                    # every interruption of the pass and add the waits.
                    exact_waits = True
        if shrink and bool((frac < 1.0).any()):
            n_events = 1  # the job size (so rate and throughput) changes at the next restart
        node = node[:, :n_events]
        planned = planned[:, :n_events]

        # Event times and the span of each gap, cut at the horizon.
        ends = t[:, None] + np.cumsum(gaps_e[:, :n_events] / lam[:, None], axis=1)
        starts = np.empty_like(ends)
        starts[:, 0] = t
        starts[:, 1:] = ends[:, :-1]
        at_horizon = ends >= horizon
        span = np.maximum(np.minimum(ends, horizon) - starts, 0.0)
        owed = np.empty_like(ends)  # downtime owed at the start of each gap
        owed[:, 0] = down
        owed[:, 1:] = np.where(planned[:, :-1], down_planned, down_unexpected)
        if exact_waits:
            waits = _waits_in_pass(
                ring=ring,
                cap=cap,
                ids=ids,
                head=head,
                tail=tail,
                t=t,
                ends=ends,
                node=node,
                node_cum=node_cum,
                max_in_repair=max_in_repair,
                repair_s=repair,
            )
            owed[:, 1:] += waits[:, :-1]
        served = np.minimum(span, owed)
        run = span - served

        # Training in `run`: k full cycles (tau compute + delta checkpoint), then `rem`.
        k = np.floor(run / cycle)
        rem = run - k * cycle
        partial = np.minimum(rem, tau)
        # async: checkpoint k is durable only `lag` s after its stall ends.
        kept_lossy = (k - ((rem < lag) & (k >= 1.0))) * tau if lag > 0.0 else k * tau
        # An unexpected interruption loses the work since the last durable checkpoint; a
        # planned one (checkpoint first) and the end of the run lose nothing.
        kept = np.where(planned, k * tau + partial, kept_lossy)
        ckpt = k * delta + np.where(planned, rem - partial, 0.0)

        if window:
            ended_in = at_horizon
            done = need = t_done = n_ck = None
        else:
            # Work left at the start of each gap; finishing takes `need` compute seconds
            # plus a checkpoint after every full interval but the last.
            left = work_left[:, None] - frac[:, None] * (np.cumsum(kept, axis=1) - kept)
            need = left / frac[:, None]
            n_ck = np.maximum(np.ceil(need / tau) - 1.0, 0.0)
            t_done = need + n_ck * delta
            done = run >= t_done
            ended_in = done | at_horizon
        ends_here = ended_in.any(axis=1)
        last = np.where(ends_here, ended_in.argmax(axis=1), n_events)  # index of ending gap
        cols = np.arange(n_events)[None, :]
        interrupted = cols < last[:, None]  # gaps that end with an interruption

        gained = (kept * interrupted).sum(axis=1)
        acc[0] += frac_pass * gained
        acc[1] += gained
        acc[2] += (ckpt * interrupted).sum(axis=1)
        acc[3] += ((run - kept - ckpt) * interrupted).sum(axis=1)
        acc[4] += (served * (cols <= last[:, None])).sum(axis=1)
        work_left = work_left - frac_pass * gained
        n_planned = (planned & interrupted).sum(axis=1)
        n_node = (node & interrupted).sum(axis=1)
        counts[0] += n_node
        counts[1] += interrupted.sum(axis=1) - n_planned - n_node
        counts[2] += n_planned

        if track_repairs:
            if int((tail - head).max(initial=0)) + n_events >= cap:
                head = _pop_returned(ring, cap, ids, head, tail, t - repair)
                if int((tail - head).max(initial=0)) + n_events >= cap:
                    ring, cap = _grow_ring(ring, cap, ids, head)
            # Push the failure time of every node-replacing interruption: its queue slot
            # (cap is a power of two, so `& (cap - 1)` is `% cap`), or the dump slot.
            # Trials that ended in this pass may push past their end: they are dropped.
            slot = ids[:, None] * cap + ((tail[:, None] + node_cum[:, :n_events] - 1) & (cap - 1))
            ring.put(np.where(node, slot, ring.size - 1), ends)
            tail = tail + n_node

        # Trials that go on: their last gap ended with an interruption at ends[:, -1].
        t = ends[:, -1]
        down = np.where(planned[:, -1], down_planned, down_unexpected)
        if track_repairs and int((tail - head).max(initial=0)) > spares:
            # Some trial may lack a spare after its last interruption: count exactly.
            head = _pop_returned(ring, cap, ids, head, tail, t - repair)
            in_repair = tail - head
            over = in_repair - max_in_repair
            waiting = ~ends_here & (over > 0)
            if waiting.any():
                # MODEL: the job restarts when the `over`-th oldest node in repair is back.
                w = np.nonzero(waiting)[0]
                back = ring[ids[w] * cap + ((head[w] + over[w] - 1) & (cap - 1))] + repair
                down[w] += np.maximum(back - t[w], 0.0)
            if shrink:
                healthy = nodes + spares - np.minimum(in_repair, max_in_repair)
                frac = np.minimum(healthy, nodes) / nodes
                lam = np.maximum(rate_u * frac + rate_p, _TINY_RATE_PER_S)
        elif shrink:
            frac = np.ones(ids.size)
            lam = np.full(ids.size, max(rate_u + rate_p, _TINY_RATE_PER_S))

        if ends_here.any():
            e = np.nonzero(ends_here)[0]
            f = last[e]
            k_f, rem_f, part_f = k[e, f], rem[e, f], partial[e, f]
            if window:
                fin = np.zeros(e.size, dtype=bool)
                kept_f = k_f * tau + part_f
                ckpt_f = k_f * delta + (rem_f - part_f)
                wall_f = np.full(e.size, horizon)
            else:
                fin = done[e, f]
                kept_f = np.where(fin, need[e, f], k_f * tau + part_f)
                ckpt_f = np.where(fin, n_ck[e, f] * delta, k_f * delta + (rem_f - part_f))
                wall_f = np.where(fin, starts[e, f] + served[e, f] + t_done[e, f], horizon)
            acc[0, e] += frac_pass[e] * kept_f
            acc[1, e] += kept_f
            acc[2, e] += ckpt_f
            trial = ids[e]
            out_wall[trial] = wall_f
            out_finished[trial] = fin
            out_acc[:, trial] = acc[:, e]
            out_counts[:, trial] = counts[:, e]
            live = ~ends_here
            ids, t, down, frac, lam, work_left, head, tail = (
                a[live] for a in (ids, t, down, frac, lam, work_left, head, tail)
            )
            acc, counts = acc[:, live], counts[:, live]

    return _TrialTotals(
        wall_s=out_wall,
        finished=out_finished,
        work_s=out_acc[0],
        useful_s=out_acc[1],
        checkpoint_s=out_acc[2],
        rework_s=out_acc[3],
        down_s=out_acc[4],
        n_node=out_counts[0],
        n_other=out_counts[1],
        n_planned=out_counts[2],
    )


def _waits_in_pass(
    *,
    ring: np.ndarray,
    cap: int,
    ids: np.ndarray,
    head: np.ndarray,
    tail: np.ndarray,
    t: np.ndarray,
    ends: np.ndarray,
    node: np.ndarray,
    node_cum: np.ndarray,
    max_in_repair: int,
    repair_s: float,
) -> np.ndarray:
    """Wait for a healthy node after each interruption of a pass (wait policy), s.

    The nodes in repair at an interruption at time T are the queue entries (failures before
    the pass, then the pass's own node failures, all in time order) that failed after
    T - repair. `head` must be current at the pass start (every entry failed after
    t - repair). The count of entries back by T is a per-row ``searchsorted``, done for all
    rows at once on one flat array: each row's times are shifted into its own disjoint
    interval (relative to the row's pass start, plus row x stride), padding sorts last.
    Only the oldest entries of each queue are searched (those that can come back in the
    pass); the entry waited for is read directly from its queue position.
    """
    n, n_events = ends.shape
    rows = np.arange(n)[:, None]
    in_queue = tail - head
    longest = max(int(in_queue.max(initial=0)), 1)
    cum = node_cum[:, :n_events]
    # Column n_events of `fresh` is a dump slot for the other interruptions.
    fresh = np.zeros((n, n_events + 1))
    fresh[rows, np.where(node, cum - 1, n_events)] = ends
    fresh = fresh[:, :n_events]
    fresh_valid = np.arange(n_events)[None, :] < cum[:, -1:]
    # Relative times x - t + repair lie in (0, repair + pass span]; queries T - t too.
    top = repair_s + float((ends[:, -1] - t).max()) + 1.0
    offset = rows * (2.0 * top)
    start = t[:, None] - repair_s
    query = (offset + (ends - t[:, None])).ravel()
    keys_f = np.where(fresh_valid, offset + (fresh - start), offset + top + 0.5).ravel()
    back_f = np.searchsorted(keys_f, query, side="right").reshape(n, n_events) - rows * n_events
    # Old entries that may come back during the pass form a prefix of each queue: search a
    # window of the oldest entries, doubled while some row may have more coming back.
    width = min(longest, 2 * n_events + 16)
    while True:
        queued = ring.take(ids[:, None] * cap + ((head[:, None] + np.arange(width)) & (cap - 1)))
        valid = np.arange(width)[None, :] < in_queue[:, None]
        keys_q = np.where(valid, offset + (queued - start), offset + top + 0.5).ravel()
        back_q = np.searchsorted(keys_q, query, side="right").reshape(n, n_events) - rows * width
        if width == longest or not bool(((in_queue[:, None] > width) & (back_q == width)).any()):
            break
        width = min(2 * width, longest)
    back = back_q + back_f
    in_repair = in_queue[:, None] + cum - back
    over = in_repair - max_in_repair
    # The job restarts when the `over`-th oldest node in repair is back: queue position
    # back + over - 1, among the old entries or the pass's own failures.
    pos = back + over - 1
    old = pos < in_queue[:, None]
    when_old = ring.take(ids[:, None] * cap + ((head[:, None] + np.maximum(pos, 0)) & (cap - 1)))
    when_new = fresh[rows, np.clip(pos - in_queue[:, None], 0, n_events - 1)]
    when = np.where(old, when_old, when_new)
    return np.where(over > 0, np.maximum(when + repair_s - ends, 0.0), 0.0)


def _pop_returned(
    ring: np.ndarray,
    cap: int,
    ids: np.ndarray,
    head: np.ndarray,
    tail: np.ndarray,
    failed_before: np.ndarray,
) -> np.ndarray:
    """Advance each queue head past the nodes that failed at or before ``failed_before``
    (they are back from repair). The entries of a queue are in time order, so the ones back
    form a prefix of it; look at a window of the oldest entries, wider if it all came back."""
    width = min(max(int((tail - head).max(initial=0)), 1), 2 * _BLOCK_EVENTS)
    while True:
        pos = head[:, None] + np.arange(width)[None, :]
        times = ring.take(ids[:, None] * cap + (pos & (cap - 1)))
        back = (pos < tail[:, None]) & (times <= failed_before[:, None])
        n_back = back.sum(axis=1)
        head = head + n_back
        if not bool((n_back == width).any()):
            return head
        width *= 2


def _grow_ring(
    ring: np.ndarray, cap: int, ids: np.ndarray, head: np.ndarray
) -> tuple[np.ndarray, int]:
    """Copy the live trials' queues into a ring of twice the capacity."""
    new_cap = cap * 2
    n_rows = (ring.size - 1) // cap
    new_ring = np.zeros(n_rows * new_cap + 1)
    pos = head[:, None] + np.arange(cap)[None, :]  # absolute queue positions of each row
    rows = ids[:, None]
    new_ring[rows * new_cap + (pos & (new_cap - 1))] = ring[rows * cap + (pos & (cap - 1))]
    return new_ring, new_cap


def _stderr(values: np.ndarray) -> float:
    if values.size < 2:
        return 0.0
    return float(np.std(values, ddof=1) / math.sqrt(values.size))


def _pcts(values: np.ndarray) -> tuple[float, float, float]:
    p10, p50, p90 = np.percentile(values, [10.0, 50.0, 90.0])
    return float(p10), float(p50), float(p90)


def _by_cause(causes: tuple[CauseRate, ...], totals: _TrialTotals) -> dict[str, float]:
    """Mean interruptions per trial by cause.

    The simulation draws only the kind of each interruption (node-replacing, other
    unexpected, planned); given its kind, the cause is that kind's causes in proportion to
    their rates (competing Poisson risks), so the mean by cause is the kind's mean count
    times the cause's share of the kind's rate: unbiased, and with less noise than drawing
    the cause of every interruption.
    """
    kinds = (
        (totals.n_node, [c for c in causes if c.replaces_node and not c.planned]),
        (totals.n_other, [c for c in causes if not c.replaces_node and not c.planned]),
        (totals.n_planned, [c for c in causes if c.planned]),
    )
    out: dict[str, float] = {}
    for count, members in kinds:
        rate = sum(c.rate_per_s for c in members)
        for c in members:
            out[c.name] = float(count.mean()) * (c.rate_per_s / rate if rate > 0 else 0.0)
    return {c.name: out[c.name] for c in causes}


def expected_interruptions_to_simulate(config: CampaignConfig, interval_s: float) -> float:
    """Closed-form estimate of the interruptions a simulation will draw (all trials).

    Expected wall time per trial: the window, or the work divided by the exact expected
    useful fraction (Daly 2006), capped at the horizon. If the spares are chronically short
    (more nodes in repair on average, rate x repair time, than the job can do without), a
    trial may wait for repairs most of the time: it is counted as running to the horizon.
    """
    rate = sum(c.rate_per_s for c in config.causes)
    node_rate = sum(c.rate_per_s for c in config.causes if c.replaces_node and not c.planned)
    can_lose = config.spare_nodes
    if config.spare_policy is SparePolicy.SHRINK:
        can_lose += int(math.floor((1.0 - config.min_active_fraction) * config.num_nodes))
    starved = node_rate * config.repair_s > can_lose
    if config.window_s is not None:
        wall = config.window_s
    elif starved:
        wall = config.horizon_s
    else:
        unexpected = sum(c.rate_per_s for c in config.causes if not c.planned)
        work = config.tokens / config.tokens_per_s
        if unexpected > 0:
            useful = float(
                expected_useful_fraction(
                    interval_s=interval_s,
                    checkpoint_s=config.checkpoint.blocking_s,
                    mtbf_s=1.0 / unexpected,
                    restart_s=config.detection_s + config.restart_s + config.checkpoint.restore_s,
                )
            )
            wall = work / useful if useful > work / config.horizon_s else config.horizon_s
        else:
            wall = work
        wall = min(wall, config.horizon_s)
    return rate * wall * config.n_trials


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


def simulate_campaign(config: CampaignConfig) -> CampaignResult:
    """Monte Carlo simulation of the campaign, all trials at once.

    Args:
        config: the campaign (see :class:`CampaignConfig`).

    Returns:
        A :class:`CampaignResult`; deterministic for a given ``config.seed``.
    """
    intervals = campaign_intervals(config)
    _check_budget(config, intervals.used_s)
    totals = _run_trials(config, intervals.used_s)
    wall = totals.wall_s
    # Every trial runs for a positive wall time (the horizon, the window, or the finish
    # time, which is at least the work at full throughput); guard anyway against 0.
    safe_wall = np.maximum(wall, 1e-9)
    goodput = totals.work_s / safe_wall
    effective = totals.useful_s / safe_wall
    unexpected = totals.n_node + totals.n_other
    interruptions = unexpected + totals.n_planned
    days = wall / SECONDS_PER_DAY
    total_rate = sum(c.rate_per_s for c in config.causes)
    by_cause = _by_cause(config.causes, totals)
    g10, g50, g90 = _pcts(goodput)
    i10, i50, i90 = _pcts(interruptions.astype(float))
    d10, d50, d90 = _pcts(days)
    return CampaignResult(
        mode=config.mode,
        n_trials=config.n_trials,
        seed=config.seed,
        num_gpus=config.num_gpus,
        goodput=float(goodput.mean()),
        goodput_stderr=_stderr(goodput),
        goodput_p10=g10,
        goodput_p50=g50,
        goodput_p90=g90,
        effective_training_time=float(effective.mean()),
        effective_training_time_stderr=_stderr(effective),
        wall_fraction_downtime=float((totals.down_s / safe_wall).mean()),
        wall_fraction_rework=float((totals.rework_s / safe_wall).mean()),
        wall_fraction_checkpoint=float((totals.checkpoint_s / safe_wall).mean()),
        interruptions_mean=float(interruptions.mean()),
        interruptions_stderr=_stderr(interruptions.astype(float)),
        interruptions_p10=i10,
        interruptions_p50=i50,
        interruptions_p90=i90,
        unexpected_interruptions_mean=float(unexpected.mean()),
        planned_interruptions_mean=float(totals.n_planned.mean()),
        interruptions_by_cause=by_cause,
        expected_interruptions=float(total_rate * wall.mean()),
        mtbi_s=float(1.0 / total_rate) if total_rate > 0 else float(config.horizon_s),
        wall_days_mean=float(days.mean()),
        time_to_train_days_mean=float(days.mean()),
        time_to_train_days_stderr=_stderr(days),
        time_to_train_days_p10=d10,
        time_to_train_days_p50=d50,
        time_to_train_days_p90=d90,
        fraction_finished=float(totals.finished.mean()) if config.window_s is None else 1.0,
        lost_gpu_hours=float((config.num_gpus * (wall - totals.work_s)).mean() / SECONDS_PER_HOUR),
        checkpoint_interval_s=intervals.used_s,
        checkpoint_interval_young_s=intervals.young_s,
        checkpoint_interval_daly_s=intervals.daly_s,
        checkpoint_interval_optimal_s=intervals.optimal_s,
        checkpoint_blocking_s=config.checkpoint.blocking_s,
        per_trial_wall_s=wall,
        per_trial_goodput=goodput,
        per_trial_interruptions=interruptions,
        spare_nodes=config.spare_nodes,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class IntervalSweep:
    """Simulated goodput for a set of fixed checkpoint intervals (same seed for all:
    common random numbers, so differences between intervals are not seed noise).

    Attributes:
        intervals_s: the candidate intervals, s.
        goodput: mean goodput at each interval.
        goodput_stderr: its standard error at each interval.
        best_interval_s: the candidate with the highest mean goodput, s.
    """

    intervals_s: np.ndarray
    goodput: np.ndarray
    goodput_stderr: np.ndarray
    best_interval_s: float


def sweep_checkpoint_intervals(config: CampaignConfig, *, intervals_s: np.ndarray) -> IntervalSweep:
    """Simulate the campaign at each fixed checkpoint interval ("optimal by simulation").

    Args:
        config: the campaign; its interval policy is ignored.
        intervals_s: candidate compute intervals between checkpoints, s.
    """
    candidates = np.asarray(intervals_s, dtype=float)
    if candidates.size == 0 or not np.all(np.isfinite(candidates)) or np.any(candidates <= 0):
        raise InputError("intervals_s", "must be a non-empty array of finite times > 0 s")
    for interval in candidates:
        _check_budget(config, float(interval))
    means, errs = [], []
    for interval in candidates:
        totals = _run_trials(config, max(float(interval), config.checkpoint.durable_lag_s))
        goodput = totals.work_s / np.maximum(totals.wall_s, 1e-9)
        means.append(goodput.mean())
        errs.append(_stderr(goodput))
    goodput = np.array(means)
    return IntervalSweep(
        intervals_s=candidates,
        goodput=goodput,
        goodput_stderr=np.array(errs),
        best_interval_s=float(candidates[int(np.argmax(goodput))]),
    )


def trial_timeline(
    config: CampaignConfig, *, interval_s: float | None = None, max_gaps: int = 10_000
) -> CampaignTimeline:
    """Timeline of one example trial, one interruption at a time (for plots).

    The same model as :func:`simulate_campaign` (same formulas per gap, spares, waits,
    shrink), run as a plain loop on its own random stream
    (``SeedSequence(seed, spawn_key=(_TIMELINE_STREAM,))``): deterministic for a seed, but
    not one of the Monte Carlo trials. Cost: a few microseconds per interruption.

    Args:
        config: the campaign.
        interval_s: compute time between checkpoints, s (default: the config's policy).
        max_gaps: gaps listed at most; a longer trial is cut there (``truncated``).
    """
    if not isinstance(max_gaps, int) or max_gaps <= 0:
        raise InputError("max_gaps", "must be a positive integer", value=max_gaps)
    if interval_s is None:
        tau = campaign_intervals(config).used_s
    else:
        if not (math.isfinite(interval_s) and interval_s > 0):
            raise InputError("interval_s", "must be a finite time > 0 s", value=interval_s)
        tau = max(float(interval_s), config.checkpoint.durable_lag_s)
    rate_u = sum(c.rate_per_s for c in config.causes if not c.planned)
    rate_p = sum(c.rate_per_s for c in config.causes if c.planned)
    rate_node = sum(c.rate_per_s for c in config.causes if c.replaces_node and not c.planned)
    delta, lag = config.checkpoint.blocking_s, config.checkpoint.durable_lag_s
    restore = config.checkpoint.restore_s
    down_unexpected = config.detection_s + config.restart_s + restore
    down_planned = delta + config.planned_downtime_s + config.restart_s + restore
    cycle = tau + delta
    nodes, spares, repair = config.num_nodes, config.spare_nodes, config.repair_s
    limit = spares
    if config.spare_policy is SparePolicy.SHRINK:
        limit += int(math.floor((1.0 - config.min_active_fraction) * nodes))
    window = config.mode is SimulationMode.WINDOW
    horizon = float(config.window_s if window else config.horizon_s)
    seed = np.random.SeedSequence(config.seed, spawn_key=(_TIMELINE_STREAM,))
    rng = np.random.Generator(np.random.PCG64(seed))

    rows: list[tuple[float, float, float, float, float, float, float, float]] = []
    ends: list[GapEnd] = []
    t, down, frac, work = 0.0, 0.0, 1.0, 0.0
    work_left = 0.0 if window else config.tokens / config.tokens_per_s
    queue: collections.deque[float] = collections.deque()  # failure times of nodes in repair
    finished = False
    while len(rows) < max_gaps:
        lam = max(rate_u * frac + rate_p, _TINY_RATE_PER_S)
        end = t + rng.standard_exponential() / lam
        span = max(min(end, horizon) - t, 0.0)
        served = min(span, down)
        run = span - served
        k = math.floor(run / cycle)
        rem = run - k * cycle
        partial = min(rem, tau)
        if not window:
            need = work_left / frac
            n_ck = max(math.ceil(need / tau) - 1, 0)
            t_done = need + n_ck * delta
            if run >= t_done:  # the last checkpoint is not needed: training is done
                work += frac * need
                rows.append(
                    (t, t + served, t + served + t_done, need, n_ck * delta, 0.0, work, frac)
                )
                ends.append(GapEnd.END)
                finished = True
                break
        if end >= horizon:  # the window (or horizon) ends while running: nothing lost
            work += frac * (k * tau + partial)
            rows.append(
                (
                    t,
                    t + served,
                    horizon,
                    k * tau + partial,
                    k * delta + rem - partial,
                    0.0,
                    work,
                    frac,
                )
            )
            ends.append(GapEnd.END)
            break
        u = rng.random() * lam
        if u >= rate_u * frac:  # planned: checkpoint first, nothing lost
            kept, ckpt, kind, next_down = (
                k * tau + partial,
                k * delta + rem - partial,
                GapEnd.PLANNED,
                down_planned,
            )
        else:
            # The checkpoint written last is durable only `lag` s after its stall ends.
            kept = (k - (1 if (lag > 0.0 and rem < lag and k >= 1) else 0)) * tau
            ckpt, next_down = k * delta, down_unexpected
            kind = GapEnd.NODE_FAILURE if u < rate_node * frac else GapEnd.OTHER_FAILURE
        work += frac * kept
        work_left -= frac * kept
        rows.append((t, t + served, end, kept, ckpt, run - kept - ckpt, work, frac))
        ends.append(kind)
        t, down = end, next_down
        if kind is GapEnd.NODE_FAILURE:
            queue.append(t)
        while queue and queue[0] + repair <= t:
            queue.popleft()
        over = len(queue) - limit
        if over > 0:
            # MODEL: the job restarts when the `over`-th oldest node in repair is back.
            down += max(queue[over - 1] + repair - t, 0.0)
        frac = min(nodes + spares - min(len(queue), limit), nodes) / nodes
    cols = np.array(rows, dtype=float).reshape(-1, 8).T
    return CampaignTimeline(
        start_s=cols[0],
        up_s=cols[1],
        end_s=cols[2],
        kept_s=cols[3],
        checkpoint_s=cols[4],
        lost_s=cols[5],
        work_s=cols[6],
        active_fraction=cols[7],
        ends=tuple(ends),
        wall_s=float(cols[2, -1]),
        finished=finished,
        truncated=ends[-1] is not GapEnd.END,
    )


def reference_case_config(
    case_id: str = "llama3-405b-54d", *, n_trials: int = 1000, seed: int = 0
) -> CampaignConfig:
    """Window-mode config of a published reference run (``kind: validation_case`` in
    ``catalog/reliability.yaml``), with the recovery and checkpoint assumptions it names.

    Args:
        case_id: catalog id of the case.
        n_trials: Monte Carlo trials.
        seed: random seed.
    """
    case = lookup("reliability", case_id, field="campaign.case").values
    if case.get("kind") != "validation_case":
        raise InputError("campaign.case", "is not a validation case", value=case_id)
    profile = failure_profile(str(case["failure_profile"]))
    ref = profile.reference_counts
    counts = ClusterCounts(
        num_gpus=int(case["num_gpus"]),
        gpus_per_node=int(case["gpus_per_node"]),
        nics_per_node=ref.nics_per_node if ref else 0,
        cpus_per_node=ref.cpus_per_node if ref else 0,
    )
    recovery = lookup("reliability", str(case["recovery"]), field="campaign.case").values
    defaults = checkpoint_defaults(str(case["checkpoint"]))
    params = float(case["params"])
    costs = checkpoint_costs(
        state_bytes=checkpoint_state_bytes(
            params=params, bytes_per_param=defaults.bytes_per_param[str(case["optimizer_state"])]
        ),
        mode=CheckpointMode(case["checkpoint_mode"]),
        write_bytes_per_s=defaults.storage_write_bytes_per_s,
        read_bytes_per_s=defaults.storage_read_bytes_per_s,
        defaults=defaults,
    )
    # Training FLOPs per token ~ 6 x parameters (Kaplan et al. 2020, dense transformer);
    # the throughput does not affect the interruption counts of a window.
    flop_per_s = float(case["model_tflops_per_gpu"]) * 1e12 * counts.num_gpus
    window_s = float(case["window_days"]) * SECONDS_PER_DAY
    return CampaignConfig(
        tokens=flop_per_s / (6.0 * params) * window_s,
        tokens_per_s=flop_per_s / (6.0 * params),
        num_gpus=counts.num_gpus,
        gpus_per_node=counts.gpus_per_node,
        causes=cause_rates(profile, counts),
        detection_s=float(recovery["detection_s"]),
        restart_s=float(recovery["restart_s"]),
        repair_s=float(recovery["repair_h"]) * SECONDS_PER_HOUR,
        planned_downtime_s=float(recovery["planned_downtime_s"]),
        checkpoint=costs,
        interval_policy=IntervalPolicy(case["checkpoint_policy"]),
        spare_nodes=int(case["spare_nodes"]),
        spare_policy=SparePolicy(case["spare_policy"]),
        min_active_fraction=float(recovery["min_active_fraction"]),
        window_s=window_s,
        n_trials=n_trials,
        seed=seed,
    )
