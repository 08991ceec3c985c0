"""One chunk of the campaign Monte Carlo: the event loop over all its trials at once.

A pass draws up to :data:`BLOCK_EVENTS` interruptions of every live trial as (n_live,
BLOCK_EVENTS) arrays and processes them with array operations along both axes
(:func:`run_chunk` says how it stays exact). The steps of a pass: draw the interruptions and
account for every gap as if it ended with its interruption (:func:`_pass_gaps`), find the
gap where each trial finishes or reaches the horizon (:func:`_endings`), add the
interrupted gaps to the totals, push the node failures onto the repair queues, restart
every trial after its last interruption (:func:`_restart`) and retire the trials that
ended (:func:`_retire`).

Internal to :mod:`colossim.campaign.engine`; the state classes are local scratch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colossim.campaign.config import TINY_RATE_PER_S, RunScalars
from colossim.campaign.repair_queue import RepairQueues, waits_in_pass
from colossim.campaign.results import TrialTotals

__all__ = ["BLOCK_EVENTS", "run_chunk"]

# Interruptions per trial processed in one pass of the event loop (array width).
BLOCK_EVENTS = 64
# Rows of the accumulators: work, useful, checkpoint, rework, down, debt.
_ACC_ROWS = 6
# Rows of the interruption counts: node-replacing, other unexpected (in place), planned;
# the failure domains of RunScalars follow (row _FIRST_DOMAIN + i).
_NODE, _OTHER, _PLANNED, _FIRST_DOMAIN = 0, 1, 2, 3


def _n_kinds(p: RunScalars) -> int:
    """Kinds of interruption: node, other, planned and one per failure domain."""
    return _FIRST_DOMAIN + len(p.rate_domain_per_s)


@dataclass(slots=True, kw_only=True)
class _Live:
    """State of a chunk's live trials, one entry per live trial (mutable local scratch).

    Attributes:
        ids: trial id (row of the chunk's outputs) of each live trial.
        t: time of the last interruption (0 at the start), s.
        down: downtime owed after ``t`` (0 at the start: the job is up), s.
        frac: active fraction of the job's nodes.
        lam: interruption rate at that job size, 1/s.
        work_left: work left to train, s at full throughput (0 in window mode).
        acc: (6, n) accumulated work, useful, checkpoint, rework and down times, and the
            work lost to reduced throughput (elastic debt), s.
        counts: (kinds, n) node-replacing, other unexpected and planned interruptions,
            then those of each failure domain.
    """

    ids: np.ndarray
    t: np.ndarray
    down: np.ndarray
    frac: np.ndarray
    lam: np.ndarray
    work_left: np.ndarray
    acc: np.ndarray
    counts: np.ndarray

    @classmethod
    def start(cls, p: RunScalars, n_trials: int) -> _Live:
        """Every trial at time 0, up, at full size."""
        return cls(
            ids=np.arange(n_trials),
            t=np.zeros(n_trials),
            down=np.zeros(n_trials),
            frac=np.ones(n_trials),
            lam=np.full(n_trials, _full_size_rate(p)),
            work_left=np.full(n_trials, p.work_s),
            acc=np.zeros((_ACC_ROWS, n_trials)),
            counts=np.zeros((_n_kinds(p), n_trials), dtype=np.int64),
        )

    def keep(self, live: np.ndarray) -> None:
        """Keep the trials still live (``live`` is a boolean mask)."""
        self.ids, self.t, self.down = self.ids[live], self.t[live], self.down[live]
        self.frac, self.lam, self.work_left = self.frac[live], self.lam[live], self.work_left[live]
        self.acc, self.counts = self.acc[:, live], self.counts[:, live]


@dataclass(frozen=True, slots=True, kw_only=True)
class _DomainHits:
    """The interruptions of a pass that are failure-domain failures, sparse (they are a
    few percent of all): row, column and domain index of each."""

    rows: np.ndarray
    cols: np.ndarray
    which: np.ndarray

    def cut(self, n_events: int) -> _DomainHits:
        """Only the hits in the first ``n_events`` columns."""
        keep = self.cols < n_events
        return _DomainHits(rows=self.rows[keep], cols=self.cols[keep], which=self.which[keep])

    def shifted(self) -> _DomainHits:
        """The hits moved one column right (the downtime a gap owes is its predecessor's)."""
        return _DomainHits(rows=self.rows, cols=self.cols + 1, which=self.which)

    def put(self, values: np.ndarray, per_domain: tuple[float, ...]) -> np.ndarray:
        """``values`` (n, events) with each hit inside its columns set to its domain's value."""
        ok = self.cols < values.shape[1]
        values[self.rows[ok], self.cols[ok]] = np.asarray(per_domain)[self.which[ok]]
        return values


@dataclass(frozen=True, slots=True, kw_only=True)
class _Pass:
    """One pass: up to ``BLOCK_EVENTS`` gaps of every live trial, (n_live, n_events) arrays.

    Attributes:
        frac: (n_live,) active fraction during the pass (a restart may change it after).
        node, planned: kind of the interruption ending each gap.
        dom: the failure-domain failures among them (None when the run has no domains).
        node_cum: running count of ``node`` along each row (None without repairs).
        ends, starts: wall time each gap ends and starts, s.
        served: downtime served in each gap, s; ``run``: training time after it, s.
        k, rem, partial: full cycles in ``run``, the rest, and its compute part (s).
        kept, ckpt: compute kept and checkpoint stalls if the gap ends in an interruption, s.
        debt: work lost to reduced throughput after the interruption ending each gap, s of
            full job (None when the recovery design has none).
        at_horizon: the gap reaches the window's end or the horizon.
    """

    frac: np.ndarray
    node: np.ndarray
    planned: np.ndarray
    dom: _DomainHits | None
    node_cum: np.ndarray | None
    ends: np.ndarray
    starts: np.ndarray
    served: np.ndarray
    run: np.ndarray
    k: np.ndarray
    rem: np.ndarray
    partial: np.ndarray
    kept: np.ndarray
    ckpt: np.ndarray
    debt: np.ndarray | None
    at_horizon: np.ndarray


@dataclass(frozen=True, slots=True, kw_only=True)
class _Endings:
    """Where each live trial's run ends within a pass.

    Attributes:
        ends_here: (n_live,) the trial finishes or reaches the horizon in this pass.
        last: index of the gap that ends it (n_events if none).
        interrupted: (n_live, n_events) gaps that end with an interruption.
        done: to-train mode: training finishes within the gap (None in window mode).
        need: compute time to finish from the gap's start, s (None in window mode).
        n_ck: checkpoints written while finishing (None in window mode).
        t_done: wall time from the gap's end of downtime to the finish, s (None likewise).
    """

    ends_here: np.ndarray
    last: np.ndarray
    interrupted: np.ndarray
    done: np.ndarray | None
    need: np.ndarray | None
    n_ck: np.ndarray | None
    t_done: np.ndarray | None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Outputs:
    """Per-trial results of a chunk, filled as trials end (indexed by trial id)."""

    wall: np.ndarray
    finished: np.ndarray
    acc: np.ndarray
    counts: np.ndarray

    @classmethod
    def empty(cls, n_trials: int, n_kinds: int) -> _Outputs:
        return cls(
            wall=np.zeros(n_trials),
            finished=np.zeros(n_trials, dtype=bool),
            acc=np.zeros((_ACC_ROWS, n_trials)),
            counts=np.zeros((n_kinds, n_trials), dtype=np.int64),
        )

    def totals(self) -> TrialTotals:
        return TrialTotals(
            wall_s=self.wall,
            finished=self.finished,
            work_s=self.acc[0],
            useful_s=self.acc[1],
            checkpoint_s=self.acc[2],
            rework_s=self.acc[3],
            down_s=self.acc[4],
            debt_s=self.acc[5],
            n_node=self.counts[0],
            n_other=self.counts[1],
            n_planned=self.counts[2],
            n_domain=self.counts[_FIRST_DOMAIN:],
        )


def _full_size_rate(p: RunScalars) -> float:
    """Interruption rate of the full-size job, 1/s (finite gaps even with no failures)."""
    return max(p.rate_unplanned_per_s + p.rate_planned_per_s, TINY_RATE_PER_S)


def run_chunk(p: RunScalars, *, n_trials: int, seed: np.random.SeedSequence) -> TrialTotals:
    """The event loop over all live trials at once, up to ``BLOCK_EVENTS`` interruptions
    per trial per pass.

    Each pass draws up to ``BLOCK_EVENTS`` interruptions for every live trial as an
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
    rng = np.random.Generator(np.random.PCG64(seed))
    live = _Live.start(p, n_trials)
    queues = None
    # Repair queues only where a failure may wait for (or shrink without) a spare; elastic
    # DP never does (max_in_repair = nodes + spares).
    if p.rate_node_per_s > 0 and p.max_in_repair < p.nodes + p.spares:
        queues = RepairQueues.empty(
            n_trials=n_trials,
            nodes_in_repair_mean=p.rate_node_per_s * p.repair_s,
            events_per_pass=BLOCK_EVENTS,
        )
    out = _Outputs.empty(n_trials, _n_kinds(p))
    while live.ids.size:
        gaps = _pass_gaps(p, live, queues, rng)
        endings = _endings(p, live, gaps)
        n_node = _add_interrupted_gaps(p, live, gaps, endings)
        if queues is not None:
            queues.push(
                live.ids,
                node=gaps.node,
                node_cum=gaps.node_cum,
                ends=gaps.ends,
                n_node=n_node,
                returned_before=live.t - p.repair_s,
            )
        _restart(p, live, queues, gaps, endings)
        if endings.ends_here.any():
            _retire(p, live, queues, gaps, endings, out)
    return out.totals()


def _pass_gaps(
    p: RunScalars, live: _Live, queues: RepairQueues | None, rng: np.random.Generator
) -> _Pass:
    """Draw the next interruptions of every live trial and account for the gaps they end,
    as if each gap ended with its interruption (the end of a run is found afterwards)."""
    n = live.ids.size
    gaps_e = rng.standard_exponential((n, BLOCK_EVENTS))
    node, planned, dom = _draw_kinds(p, live, rng.random((n, BLOCK_EVENTS)))
    n_events, exact_waits, node_cum = _pass_length(p, live, queues, node)
    node = node[:, :n_events]
    planned = planned[:, :n_events]
    if dom is not None and n_events < BLOCK_EVENTS:
        dom = dom.cut(n_events)
    if node_cum is not None:
        node_cum = node_cum[:, :n_events]

    # Event times and the span of each gap, cut at the horizon.
    ends = live.t[:, None] + np.cumsum(gaps_e[:, :n_events] / live.lam[:, None], axis=1)
    starts = np.empty_like(ends)
    starts[:, 0] = live.t
    starts[:, 1:] = ends[:, :-1]
    span = np.maximum(np.minimum(ends, p.end_s) - starts, 0.0)
    owed = np.empty_like(ends)  # downtime owed at the start of each gap
    owed[:, 0] = live.down
    owed[:, 1:] = _stop_after(p, node[:, :-1], planned[:, :-1])
    if dom is not None:
        dom.shifted().put(owed, p.down_domain_s)
    if exact_waits:
        waits = waits_in_pass(
            ring=queues.ring,
            cap=queues.cap,
            ids=live.ids,
            head=queues.head,
            tail=queues.tail,
            t=live.t,
            ends=ends,
            node=node,
            node_cum=node_cum,
            max_in_repair=p.max_in_repair,
            repair_s=p.repair_s,
        )
        owed[:, 1:] += waits[:, :-1]
    served = np.minimum(span, owed)
    run = span - served

    # Training in `run`: k full cycles (tau compute + delta checkpoint), then `rem`.
    tau, lag = p.tau_s, p.lag_s
    k = np.floor(run / p.cycle_s)
    rem = run - k * p.cycle_s
    partial = np.minimum(rem, tau)
    # async: checkpoint k is durable only `lag` s after its stall ends.
    kept_lossy = (k - ((rem < lag) & (k >= 1.0))) * tau if lag > 0.0 else k * tau
    losses = (p.loss_node_s, p.loss_other_s, *p.loss_domain_s)
    if any(np.isfinite(x) for x in losses):
        # Peer replicas: lose at most the work since the last in-memory snapshot,
        # kept = total - min(total - kept_lossy, L) = max(kept_lossy, total - L).
        cap = np.where(node, p.loss_node_s, p.loss_other_s)
        if dom is not None:
            dom.put(cap, p.loss_domain_s)
        kept_lossy = np.maximum(kept_lossy, k * tau + partial - cap)
    # An unexpected interruption loses the work since the last durable checkpoint; a
    # planned one (checkpoint first) and the end of the run lose nothing.
    return _Pass(
        frac=live.frac,
        node=node,
        planned=planned,
        dom=dom,
        node_cum=node_cum,
        ends=ends,
        starts=starts,
        served=served,
        run=run,
        k=k,
        rem=rem,
        partial=partial,
        kept=np.where(planned, k * tau + partial, kept_lossy),
        ckpt=k * p.delta_s + np.where(planned, rem - partial, 0.0),
        debt=_debt(p, node, dom),
        at_horizon=ends >= p.end_s,
    )


def _draw_kinds(
    p: RunScalars, live: _Live, u: np.ndarray
) -> tuple[np.ndarray, np.ndarray, _DomainHits | None]:
    """Kind of each interruption from one uniform ``u`` each (competing Poisson risks):
    node-replacing, a failure domain, other unexpected, or planned (under shrink, the
    unexpected rates scale with ``frac``). Returns the node and planned masks and the
    domain hits."""
    share = (live.frac / live.lam)[:, None]  # probability per unit rate
    node = u < p.rate_node_per_s * share
    planned = u >= p.rate_unplanned_per_s * share
    return node, planned, _domain_hits(p, u, share)


def _domain_hits(p: RunScalars, u: np.ndarray, share: np.ndarray) -> _DomainHits | None:
    """The failure-domain failures among a pass's interruptions (None without domains).

    Competing Poisson risks on one uniform ``u`` per interruption: node-replacing on
    [0, r_node), then each domain's interval, then the other unexpected causes, then planned
    (each rate x the active fraction / total rate); the node and planned intervals are those
    drawn without domains.
    """
    if not p.rate_domain_per_s:
        return None
    lo = p.rate_node_per_s
    hi = lo + sum(p.rate_domain_per_s)
    rows, cols = np.nonzero((u >= lo * share) & (u < hi * share))
    # Which domain: the position of u among the domains' cumulative upper bounds.
    x = u[rows, cols] / share[rows, 0]
    bounds = lo + np.cumsum(p.rate_domain_per_s)
    which = np.minimum(np.searchsorted(bounds, x, side="right"), bounds.size - 1)
    return _DomainHits(rows=rows, cols=cols, which=which)


def _debt(p: RunScalars, node: np.ndarray, dom: _DomainHits | None) -> np.ndarray | None:
    """Work lost to reduced throughput after each interruption (elastic DP), s of full
    job; None when no kind has any."""
    if p.debt_node_s <= 0.0 and not any(d > 0.0 for d in p.debt_domain_s):
        return None
    debt = node * p.debt_node_s
    if dom is not None:
        dom.put(debt, p.debt_domain_s)
    return debt


def _stop_after(p: RunScalars, node: np.ndarray, planned: np.ndarray) -> np.ndarray:
    """Whole-job downtime owed after each interruption, by its kind (no wait for a
    spare; failure domains are set by the caller), s."""
    if p.down_node_s == p.down_other_s:
        return np.where(planned, p.down_planned_s, p.down_node_s)
    return np.where(planned, p.down_planned_s, np.where(node, p.down_node_s, p.down_other_s))


def _pass_length(
    p: RunScalars, live: _Live, queues: RepairQueues | None, node: np.ndarray
) -> tuple[int, bool, np.ndarray | None]:
    """Interruptions per trial in this pass, whether the waits for a spare must be counted
    exactly (``wait`` with spares maybe short), and the running count of node failures
    along each row (None without repairs). May refresh the queue heads."""
    n_events = BLOCK_EVENTS
    exact_waits = False
    node_cum = None
    if queues is not None:
        # Upper bound on the nodes in repair at each interruption of the pass.
        node_cum = np.cumsum(node, axis=1)
        short = (queues.tail - queues.head)[:, None] + node_cum > p.spares
        if short.any():
            queues.pop_returned(live.ids, live.t - p.repair_s)
            short = (queues.tail - queues.head)[:, None] + node_cum > p.spares
        if short.any():
            if p.shrink:
                # The job size (so its rate and the event times) would change: cut the
                # pass after the first interruption that may find no spare.
                first_short = np.where(short.any(axis=1), short.argmax(axis=1), n_events)
                n_events = int(first_short.min()) + 1
            else:
                # Waiting only lengthens downtimes: count the nodes in repair exactly at
                # every interruption of the pass and add the waits.
                exact_waits = True
    if p.shrink and bool((live.frac < 1.0).any()):
        n_events = 1  # the job size (so rate and throughput) changes at the next restart
    return n_events, exact_waits, node_cum


def _endings(p: RunScalars, live: _Live, g: _Pass) -> _Endings:
    """Find the gap in which each live trial finishes training or reaches the horizon."""
    n_events = g.ends.shape[1]
    if p.window:
        ended_in = g.at_horizon
        done = need = t_done = n_ck = None
    else:
        # Work left at the start of each gap; finishing takes `need` compute seconds
        # plus a checkpoint after every full interval but the last.
        rate = live.frac[:, None] * p.speed  # work per compute second
        left = live.work_left[:, None] - rate * (np.cumsum(g.kept, axis=1) - g.kept)
        if g.debt is not None:
            left += np.cumsum(g.debt, axis=1) - g.debt
        need = left / rate
        n_ck = np.maximum(np.ceil(need / p.tau_s) - 1.0, 0.0)
        t_done = need + n_ck * p.delta_s
        done = g.run >= t_done
        ended_in = done | g.at_horizon
    ends_here = ended_in.any(axis=1)
    last = np.where(ends_here, ended_in.argmax(axis=1), n_events)  # index of ending gap
    return _Endings(
        ends_here=ends_here,
        last=last,
        interrupted=np.arange(n_events)[None, :] < last[:, None],
        done=done,
        need=need,
        n_ck=n_ck,
        t_done=t_done,
    )


def _add_interrupted_gaps(p: RunScalars, live: _Live, g: _Pass, e: _Endings) -> np.ndarray:
    """Add the gaps that end with an interruption (and the downtime served up to the last
    gap) to the live trials' totals; return each trial's node failures in the pass."""
    interrupted = e.interrupted
    gained = (g.kept * interrupted).sum(axis=1)
    work = g.frac * p.speed * gained
    if g.debt is not None:
        debt = (g.debt * interrupted).sum(axis=1)
        work = work - debt
        live.acc[5] += debt
    live.acc[0] += work
    live.acc[1] += gained
    live.acc[2] += (g.ckpt * interrupted).sum(axis=1)
    live.acc[3] += ((g.run - g.kept - g.ckpt) * interrupted).sum(axis=1)
    cols = np.arange(g.ends.shape[1])[None, :]
    live.acc[4] += (g.served * (cols <= e.last[:, None])).sum(axis=1)
    live.work_left = live.work_left - work
    n_planned = (g.planned & interrupted).sum(axis=1)
    n_node = (g.node & interrupted).sum(axis=1)
    n_other = interrupted.sum(axis=1) - n_planned - n_node
    if g.dom is not None:
        hit = interrupted[g.dom.rows, g.dom.cols]
        n_dom = np.zeros((live.counts.shape[0] - _FIRST_DOMAIN, interrupted.shape[0]), np.int64)
        np.add.at(n_dom, (g.dom.which[hit], g.dom.rows[hit]), 1)
        live.counts[_FIRST_DOMAIN:] += n_dom
        n_other -= n_dom.sum(axis=0)
    live.counts[_NODE] += n_node
    live.counts[_OTHER] += n_other
    live.counts[_PLANNED] += n_planned
    return n_node


def _restart(
    p: RunScalars, live: _Live, queues: RepairQueues | None, g: _Pass, e: _Endings
) -> None:
    """Move every live trial to its last interruption of the pass: the downtime owed (a wait
    for a spare included) and, under ``shrink``, the job size and rate after the restart.
    Trials that ended in the pass are updated too (they are dropped next)."""
    live.t = t = g.ends[:, -1]
    live.down = _stop_after(p, g.node[:, -1], g.planned[:, -1])
    if g.dom is not None:
        last = g.dom.cols == g.ends.shape[1] - 1
        live.down[g.dom.rows[last]] = np.asarray(p.down_domain_s)[g.dom.which[last]]
    if queues is not None and queues.max_queued > p.spares:
        # Some trial may lack a spare after its last interruption: count exactly.
        queues.pop_returned(live.ids, t - p.repair_s)
        in_repair = queues.tail - queues.head
        over = in_repair - p.max_in_repair
        waiting = ~e.ends_here & (over > 0)
        if waiting.any():
            # MODEL: the job restarts when the `over`-th oldest node in repair is back.
            w = np.nonzero(waiting)[0]
            back = queues.failed_at(live.ids, w, over[w] - 1) + p.repair_s
            live.down[w] += np.maximum(back - t[w], 0.0)
        if p.shrink:
            healthy = p.nodes + p.spares - np.minimum(in_repair, p.max_in_repair)
            live.frac = np.minimum(healthy, p.nodes) / p.nodes
            live.lam = np.maximum(
                p.rate_unplanned_per_s * live.frac + p.rate_planned_per_s, TINY_RATE_PER_S
            )
    elif p.shrink:
        live.frac = np.ones(live.ids.size)
        live.lam = np.full(live.ids.size, _full_size_rate(p))


def _retire(
    p: RunScalars,
    live: _Live,
    queues: RepairQueues | None,
    g: _Pass,
    e: _Endings,
    out: _Outputs,
) -> None:
    """Account for the last gap of the trials that ended in this pass (training finished,
    or the window / horizon reached: nothing lost), write their totals and drop them."""
    idx = np.nonzero(e.ends_here)[0]
    f = e.last[idx]
    k_f, rem_f, part_f = g.k[idx, f], g.rem[idx, f], g.partial[idx, f]
    if p.window:
        fin = np.zeros(idx.size, dtype=bool)
        kept_f = k_f * p.tau_s + part_f
        ckpt_f = k_f * p.delta_s + (rem_f - part_f)
        wall_f = np.full(idx.size, p.end_s)
    else:
        fin = e.done[idx, f]
        kept_f = np.where(fin, e.need[idx, f], k_f * p.tau_s + part_f)
        ckpt_f = np.where(fin, e.n_ck[idx, f] * p.delta_s, k_f * p.delta_s + (rem_f - part_f))
        wall_f = np.where(fin, g.starts[idx, f] + g.served[idx, f] + e.t_done[idx, f], p.end_s)
    live.acc[0, idx] += g.frac[idx] * p.speed * kept_f
    live.acc[1, idx] += kept_f
    live.acc[2, idx] += ckpt_f
    trial = live.ids[idx]
    out.wall[trial] = wall_f
    out.finished[trial] = fin
    out.acc[:, trial] = live.acc[:, idx]
    out.counts[:, trial] = live.counts[:, idx]
    keep = ~e.ends_here
    live.keep(keep)
    if queues is not None:
        queues.keep(keep)
