"""Outcomes of a campaign simulation: the per-trial totals of the engine, their summary
(:class:`CampaignResult`: means, standard errors, percentiles, closed-form cross-checks) and
the checkpoint-interval sweep (:class:`IntervalSweep`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from colossim.campaign.config import CampaignConfig, CampaignIntervals, SimulationMode
from colossim.campaign.recovery import DomainCosts, InterruptionCosts
from colossim.campaign.timeline import CampaignTimeline, GapEnd, gap_end_of
from colossim.units import SECONDS_PER_DAY, SECONDS_PER_HOUR

__all__ = ["CampaignResult", "IntervalSweep", "TrialTotals", "summarise", "stderr_of_mean"]

# Floor of a trial's wall time in ratios (every trial runs for a positive wall time: the
# horizon, the window, or the finish time, at least the work at full throughput; guard
# anyway against 0).
MIN_WALL_S = 1e-9


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
        interruptions_by_domain: mean interruptions per trial, by what they take down:
            ``node``, ``nvlink_domain``, ``leaf_switch``, ``power_zone``, ``in_place``
            (restart in place: software, network links) and ``planned``.
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
        work_fraction_degraded: mean work lost to running at reduced throughput (elastic DP
            without the failed replicas), as a fraction of wall time x full throughput.
        speed_factor: throughput while running relative to the steady state (in-memory
            snapshots, stragglers).
        recovery_policy: what a hardware failure triggers (``full_restart``, ...).
        partial_restart: in-place failures restart only the affected replica group.
        costs: stop, loss and debt of each kind of unexpected interruption.
        domain_costs: stop, loss and debt of a failure of each failure domain, by name.
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
    work_fraction_degraded: float = 0.0
    speed_factor: float = 1.0
    recovery_policy: str = "full_restart"
    partial_restart: bool = False
    costs: InterruptionCosts | None = None
    interruptions_by_domain: dict[str, float] = field(default_factory=dict)
    domain_costs: dict[str, DomainCosts] = field(default_factory=dict)
    timeline: CampaignTimeline | None = field(default=None, compare=False, repr=False)

    @property
    def wall_days_p50(self) -> float:
        """Median wall-clock days per trial (the time to train in to-train mode)."""
        return self.time_to_train_days_p50

    @property
    def outages_s(self) -> np.ndarray:
        """Outages of the example trial (``timeline``) as (n, 2) [start, back up) wall
        times, s: where the job drew no training power. Empty without a timeline."""
        tl = self.timeline
        if tl is None:
            return np.zeros((0, 2))
        down = tl.up_s > tl.start_s
        return np.stack([tl.start_s[down], tl.up_s[down]], axis=1)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialTotals:
    """Per-trial accumulators returned by the engine (all arrays of n_trials).

    Attributes:
        wall_s: wall time of each trial, s.
        finished: the trial trained all its tokens.
        work_s: useful work, in seconds at full throughput.
        useful_s: wall time spent on kept training, s.
        checkpoint_s: wall time blocked on checkpoints, s.
        rework_s: wall time on training lost to interruptions, s.
        down_s: wall time down (detection, waits, restart, restore), s.
        debt_s: work lost to running at reduced throughput (elastic DP), s of full job.
        n_node: unexpected interruptions that sent a node to repair.
        n_other: other unexpected interruptions.
        n_planned: planned interruptions.
        n_domain: (domains, n_trials) failures of each failure domain of the config's
            :attr:`~colossim.campaign.config.CampaignConfig.domains`.
    """

    wall_s: np.ndarray
    finished: np.ndarray
    work_s: np.ndarray
    useful_s: np.ndarray
    checkpoint_s: np.ndarray
    rework_s: np.ndarray
    down_s: np.ndarray
    debt_s: np.ndarray
    n_node: np.ndarray
    n_other: np.ndarray
    n_planned: np.ndarray
    n_domain: np.ndarray

    @property
    def n_unexpected(self) -> np.ndarray:
        """Unexpected interruptions of each trial (node, other and domain failures)."""
        return self.n_node + self.n_other + self.n_domain.sum(axis=0)

    @property
    def goodput(self) -> np.ndarray:
        """Goodput of each trial: useful work / wall time."""
        return self.work_s / np.maximum(self.wall_s, MIN_WALL_S)


def stderr_of_mean(values: np.ndarray) -> float:
    """Standard error of the mean of ``values`` (0 for fewer than two values)."""
    if values.size < 2:
        return 0.0
    return float(np.std(values, ddof=1) / math.sqrt(values.size))


def _pcts(values: np.ndarray) -> tuple[float, float, float]:
    p10, p50, p90 = np.percentile(values, [10.0, 50.0, 90.0])
    return float(p10), float(p50), float(p90)


def _by_cause(config: CampaignConfig, totals: TrialTotals) -> dict[str, float]:
    """Mean interruptions per trial by cause.

    The simulation draws only the kind of each interruption (node-replacing, other
    unexpected, planned); given its kind, the cause is that kind's causes in proportion to
    their rates (competing Poisson risks), so the mean by cause is the kind's mean count
    times the cause's share of the kind's rate: unbiased, and with less noise than drawing
    the cause of every interruption.
    """
    count = {
        GapEnd.NODE_FAILURE: float(totals.n_node.mean()),
        GapEnd.OTHER_FAILURE: float(totals.n_other.mean()),
        GapEnd.PLANNED: float(totals.n_planned.mean()),
    }
    rate = {
        GapEnd.NODE_FAILURE: config.node_replacing_rate_per_s,
        GapEnd.OTHER_FAILURE: config.other_unplanned_rate_per_s,
        GapEnd.PLANNED: config.planned_rate_per_s,
    }
    domains = {d.domain: i for i, d in enumerate(config.domains)}
    out: dict[str, float] = {}
    for c in config.causes:
        if c.domain is not None and not c.planned:
            i = domains.get(c.domain)
            if i is None:  # a domain of zero rate
                out[c.name] = 0.0
                continue
            d_rate = config.domains[i].rate_per_s
            out[c.name] = float(totals.n_domain[i].mean()) * c.rate_per_s / d_rate
            continue
        kind = gap_end_of(c)
        out[c.name] = count[kind] * (c.rate_per_s / rate[kind] if rate[kind] > 0 else 0.0)
    return out


def _by_domain(config: CampaignConfig, by_cause: dict[str, float]) -> dict[str, float]:
    """Mean interruptions per trial by what they take down (see
    :attr:`CampaignResult.interruptions_by_domain`), summed from the causes."""
    out = dict.fromkeys(
        ("node", "nvlink_domain", "leaf_switch", "power_zone", "in_place", "planned"), 0.0
    )
    for c in config.causes:
        if c.planned:
            key = "planned"
        elif c.domain is not None:
            key = c.domain.value
        elif c.category == "nvlink_domain":
            key = "nvlink_domain"
        else:
            key = "node" if c.replaces_node else "in_place"
        out[key] += by_cause[c.name]
    return out


def summarise(
    config: CampaignConfig, intervals: CampaignIntervals, totals: TrialTotals
) -> CampaignResult:
    """The :class:`CampaignResult` of the engine's per-trial totals."""
    wall = totals.wall_s
    safe_wall = np.maximum(wall, MIN_WALL_S)
    goodput = totals.goodput
    effective = totals.useful_s / safe_wall
    unexpected = totals.n_unexpected
    interruptions = unexpected + totals.n_planned
    days = wall / SECONDS_PER_DAY
    total_rate = config.total_rate_per_s
    g10, g50, g90 = _pcts(goodput)
    i10, i50, i90 = _pcts(interruptions.astype(float))
    d10, d50, d90 = _pcts(days)
    lost_gpu_s = (config.num_gpus * (wall - totals.work_s)).mean()
    by_cause = _by_cause(config, totals)
    return CampaignResult(
        mode=config.mode,
        n_trials=config.n_trials,
        seed=config.seed,
        num_gpus=config.num_gpus,
        goodput=float(goodput.mean()),
        goodput_stderr=stderr_of_mean(goodput),
        goodput_p10=g10,
        goodput_p50=g50,
        goodput_p90=g90,
        effective_training_time=float(effective.mean()),
        effective_training_time_stderr=stderr_of_mean(effective),
        wall_fraction_downtime=float((totals.down_s / safe_wall).mean()),
        wall_fraction_rework=float((totals.rework_s / safe_wall).mean()),
        wall_fraction_checkpoint=float((totals.checkpoint_s / safe_wall).mean()),
        interruptions_mean=float(interruptions.mean()),
        interruptions_stderr=stderr_of_mean(interruptions.astype(float)),
        interruptions_p10=i10,
        interruptions_p50=i50,
        interruptions_p90=i90,
        unexpected_interruptions_mean=float(unexpected.mean()),
        planned_interruptions_mean=float(totals.n_planned.mean()),
        interruptions_by_cause=by_cause,
        interruptions_by_domain=_by_domain(config, by_cause),
        expected_interruptions=float(total_rate * wall.mean()),
        mtbi_s=float(1.0 / total_rate) if total_rate > 0 else float(config.horizon_s),
        wall_days_mean=float(days.mean()),
        time_to_train_days_mean=float(days.mean()),
        time_to_train_days_stderr=stderr_of_mean(days),
        time_to_train_days_p10=d10,
        time_to_train_days_p50=d50,
        time_to_train_days_p90=d90,
        fraction_finished=float(totals.finished.mean()) if config.window_s is None else 1.0,
        lost_gpu_hours=float(lost_gpu_s / SECONDS_PER_HOUR),
        checkpoint_interval_s=intervals.used_s,
        checkpoint_interval_young_s=intervals.young_s,
        checkpoint_interval_daly_s=intervals.daly_s,
        checkpoint_interval_optimal_s=intervals.optimal_s,
        checkpoint_blocking_s=config.checkpoint.blocking_s,
        per_trial_wall_s=wall,
        per_trial_goodput=goodput,
        per_trial_interruptions=interruptions,
        spare_nodes=config.spare_nodes,
        work_fraction_degraded=float((totals.debt_s / safe_wall).mean()),
        speed_factor=config.speed_factor,
        recovery_policy=config.recovery.policy.value,
        partial_restart=config.recovery.partial_restart,
        costs=config.interruption_costs,
        domain_costs={
            d.domain.value: c for d, c in zip(config.domains, config.domain_costs, strict=True)
        },
    )
