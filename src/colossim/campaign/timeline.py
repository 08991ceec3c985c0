"""Timeline of one example trial, one interruption at a time (for plots).

The same model as the vectorised engine (:mod:`colossim.campaign.engine`: same formulas per
gap, spares, waits, shrink), written as a plain loop over the gaps of one trial; the tests
check that its wall times agree with the engine's.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from colossim.campaign.config import (
    TINY_RATE_PER_S,
    CampaignConfig,
    RunScalars,
    campaign_intervals,
)
from colossim.campaign.failures import CauseRate
from colossim.errors import require_int, require_number

__all__ = ["CampaignTimeline", "GapEnd", "gap_end_of", "trial_timeline"]

# Spawn key of the timeline's random stream (apart from the Monte Carlo chunks' streams).
_TIMELINE_STREAM = 2**31 - 1


class GapEnd(StrEnum):
    """What ends a gap of a trial's timeline."""

    NODE_FAILURE = "node_failure"  # unexpected, the node goes to repair
    OTHER_FAILURE = "other_failure"  # unexpected, restart in place (network, software)
    DOMAIN_FAILURE = "domain_failure"  # unexpected, a leaf switch or power zone goes down
    PLANNED = "planned"  # planned maintenance (checkpoint first, nothing lost)
    END = "end"  # training finished, or the window / horizon ended


def gap_end_of(cause: CauseRate) -> GapEnd:
    """The kind of interruption a cause produces (never :attr:`GapEnd.END`)."""
    if cause.planned:
        return GapEnd.PLANNED
    if cause.domain is not None:
        return GapEnd.DOMAIN_FAILURE
    return GapEnd.NODE_FAILURE if cause.replaces_node else GapEnd.OTHER_FAILURE


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


@dataclass(slots=True, kw_only=True)
class _Trial:
    """Mutable state of the one trial while its timeline is built (local scratch).

    Attributes:
        t: wall time of the last interruption (0 at the start), s.
        down: downtime owed after ``t``, s.
        frac: active fraction of the job's nodes.
        work: useful work so far, s at full throughput.
        work_left: work left to train, s at full throughput (0 in window mode).
        queue: failure times of the nodes in repair, oldest first, s.
        finished: the trial trained all its tokens.
    """

    t: float = 0.0
    down: float = 0.0
    frac: float = 1.0
    work: float = 0.0
    work_left: float
    queue: collections.deque[float] = field(default_factory=collections.deque)
    finished: bool = False


# Row of one gap: start, up, end, kept, checkpoint, lost, cumulative work, active fraction.
_Row = tuple[float, float, float, float, float, float, float, float]


def trial_timeline(
    config: CampaignConfig, *, interval_s: float | None = None, max_gaps: int = 10_000
) -> CampaignTimeline:
    """Timeline of one example trial, one interruption at a time (for plots).

    The same model as :func:`~colossim.campaign.engine.simulate_campaign`, run as a plain
    loop on its own random stream (``SeedSequence(seed, spawn_key=(_TIMELINE_STREAM,))``):
    deterministic for a seed, but not one of the Monte Carlo trials. Cost: a few
    microseconds per interruption.

    Args:
        config: the campaign.
        interval_s: compute time between checkpoints, s (default: the config's policy).
        max_gaps: gaps listed at most; a longer trial is cut there (``truncated``).
    """
    max_gaps = require_int("max_gaps", max_gaps, minimum=1)
    if interval_s is None:
        tau = campaign_intervals(config).used_s
    else:
        interval_s = require_number("interval_s", interval_s, minimum=0.0, strict=True, unit="s")
        tau = max(interval_s, config.checkpoint.durable_lag_s)
    p = RunScalars.of(config, tau)
    seed = np.random.SeedSequence(config.seed, spawn_key=(_TIMELINE_STREAM,))
    rng = np.random.Generator(np.random.PCG64(seed))
    trial = _Trial(work_left=p.work_s)
    rows: list[_Row] = []
    ends: list[GapEnd] = []
    while len(rows) < max_gaps:
        row, kind, domain = _next_gap(p, trial, rng)
        rows.append(row)
        ends.append(kind)
        if kind is GapEnd.END:
            break
        _restart(p, trial, kind, at_s=row[2], domain=domain)
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
        finished=trial.finished,
        truncated=ends[-1] is not GapEnd.END,
    )


def _next_gap(p: RunScalars, trial: _Trial, rng: np.random.Generator) -> tuple[_Row, GapEnd, int]:
    """Draw the next interruption of ``trial`` and account for the gap it ends: the row of
    the gap, what ended it (:attr:`GapEnd.END` when training or the window ends first) and
    the index of the failure domain (-1 if none). Updates ``trial.work``,
    ``trial.work_left`` and ``trial.finished``."""
    tau, delta = p.tau_s, p.delta_s
    t, frac = trial.t, trial.frac
    lam = max(p.rate_unplanned_per_s * frac + p.rate_planned_per_s, TINY_RATE_PER_S)
    end = t + rng.standard_exponential() / lam
    span = max(min(end, p.end_s) - t, 0.0)
    served = min(span, trial.down)
    run = span - served
    # Training in `run`: k full cycles (tau compute + delta checkpoint), then `rem`.
    k = math.floor(run / p.cycle_s)
    rem = run - k * p.cycle_s
    partial = min(rem, tau)
    if not p.window:
        need = trial.work_left / (frac * p.speed)
        n_ck = max(math.ceil(need / tau) - 1, 0)
        t_done = need + n_ck * delta
        if run >= t_done:  # the last checkpoint is not needed: training is done
            trial.work += frac * p.speed * need
            trial.finished = True
            row = (t, t + served, t + served + t_done, need, n_ck * delta, 0.0, trial.work, frac)
            return row, GapEnd.END, -1
    if end >= p.end_s:  # the window (or horizon) ends while running: nothing lost
        kept, ckpt = k * tau + partial, k * delta + rem - partial
        trial.work += frac * p.speed * kept
        return (t, t + served, p.end_s, kept, ckpt, 0.0, trial.work, frac), GapEnd.END, -1
    u = rng.random() * lam
    domain, debt = -1, 0.0
    if u >= p.rate_unplanned_per_s * frac:  # planned: checkpoint first, nothing lost
        kept, ckpt, kind = k * tau + partial, k * delta + rem - partial, GapEnd.PLANNED
    else:
        # The checkpoint written last is durable only `lag` s after its stall ends.
        kept = (k - (1 if (p.lag_s > 0.0 and rem < p.lag_s and k >= 1) else 0)) * tau
        ckpt = k * delta
        kind, loss, debt = GapEnd.OTHER_FAILURE, p.loss_other_s, 0.0
        if u < p.rate_node_per_s * frac:
            kind, loss, debt = GapEnd.NODE_FAILURE, p.loss_node_s, p.debt_node_s
        else:
            # Same competing-risk order as the engine: node, each domain, other, planned.
            lo = p.rate_node_per_s
            for i, rate in enumerate(p.rate_domain_per_s):
                if lo * frac <= u < (lo + rate) * frac:
                    kind, domain = GapEnd.DOMAIN_FAILURE, i
                    loss, debt = p.loss_domain_s[i], p.debt_domain_s[i]
                lo += rate
        # Peer replicas: lose at most the work since the last in-memory snapshot.
        kept = max(kept, k * tau + partial - loss)
    gained = frac * p.speed * kept - debt
    trial.work += gained
    trial.work_left -= gained
    row = (t, t + served, end, kept, ckpt, run - kept - ckpt, trial.work, frac)
    return row, kind, domain


def _restart(p: RunScalars, trial: _Trial, kind: GapEnd, *, at_s: float, domain: int) -> None:
    """Move ``trial`` to the interruption at ``at_s`` (s) that ended its last gap: the
    downtime owed (a wait for a spare included), the repair queue and the job size after
    the restart. ``domain`` is the failure domain's index for a domain failure."""
    trial.t = t = at_s
    if kind is GapEnd.DOMAIN_FAILURE:
        trial.down = p.down_domain_s[domain]
    else:
        trial.down = {
            GapEnd.PLANNED: p.down_planned_s,
            GapEnd.NODE_FAILURE: p.down_node_s,
        }.get(kind, p.down_other_s)
    queue = trial.queue
    if kind is GapEnd.NODE_FAILURE:
        queue.append(t)
    while queue and queue[0] + p.repair_s <= t:
        queue.popleft()
    over = len(queue) - p.max_in_repair
    if over > 0:
        # MODEL: the job restarts when the `over`-th oldest node in repair is back.
        trial.down += max(queue[over - 1] + p.repair_s - t, 0.0)
    if p.shrink:
        healthy = p.nodes + p.spares - min(len(queue), p.max_in_repair)
        trial.frac = min(healthy, p.nodes) / p.nodes
