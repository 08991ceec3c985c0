"""Recovery policies as a few quantities per interruption, and their closed forms.

Every recovery mechanism of a reliability-first training stack changes the same four
numbers of an unexpected interruption (:class:`InterruptionCosts`), so the vectorised engine
has one code path for all of them:

- ``stop_s``: how long the *whole* job makes no progress (synchronous training: the
  survivors wait at the next collective), restarted by a new interruption;
- ``max_loss_s``: the most training time lost (``inf``: everything since the last durable
  persistent checkpoint; finite: the work since the last in-memory snapshot);
- ``debt_s``: work lost to running at reduced throughput afterwards, in seconds of the full
  job (elastic data parallelism: fraction of replicas dropped x time until they rejoin);
- the throughput factor of the job while it runs (:func:`speed_factor`: per-step in-memory
  snapshots and stragglers).

| policy | hardware (node-replacing) failure | in-place (software, network) failure |
|---|---|---|
| ``full_restart`` | detection + restart + restore; lose since last checkpoint | same |
| ``hot_spare`` | detection + hot swap + peer restore; lose since last snapshot | detection + restart + peer restore; lose since last snapshot |
| ``elastic_dp`` | detection + reconfigure; lose since last snapshot; run without the failed replica(s) until they rejoin | as ``hot_spare`` |
| ``partial_restart`` (flag, with any) | (policy above) | detection + partial restart + peer restore; lose since last snapshot |

References: GEMINI (Wang et al., SOSP 2023: in-memory checkpoints in peer CPU memory, every
iteration; docs/sources.md: GEMINI-2023); ByteRobust's every-step in-memory checkpoint
(<0.9% overhead; SURVEY); the default straggler slowdown is anchored on FALCON's 1.34x
average job-completion delay from fail-slows (Wu et al. 2024, arXiv:2410.12588;
docs/sources.md: FALCON-2024).

A failure domain (leaf switch, power/cooling zone: :func:`domain_costs`) takes down many
nodes at once; each policy handles it as below, where "covered" means the free spare pool
holds a whole domain's nodes, and "repair" is the domain's time until it is back:

| policy | domain failure |
|---|---|
| ``full_restart`` | detection + restart + restore (+ repair if not covered); lose since last checkpoint |
| ``hot_spare`` | covered: detection + hot swap + peer restore; else detection + repair + restart + peer restore; lose since last snapshot |
| ``elastic_dp`` | detection + reconfigure; drop every replica the domain touches until spares rejoin (covered) or the domain is back; lose since last snapshot |

# MODEL: an in-memory / peer replica never loses both copies (no fallback to storage for
# node failures; peers are placed outside the node's leaf and zone, as GEMINI places its
# replica groups across failure domains); a failed NVLink domain counts as one
# node-replacing event for the spares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from colossim.catalog import lookup
from colossim.errors import InputError, require_number

__all__ = [
    "DomainCosts",
    "InterruptionCosts",
    "RecoveryDesign",
    "RecoveryPolicy",
    "fixed_loss_goodput",
    "domain_costs",
    "interruption_costs",
    "speed_factor",
    "straggler_throughput_factor",
]


def _catalog(name: str) -> float:
    """Default of a recovery time or ratio: catalog ``recovery-default`` (with its source)."""
    return float(
        lookup("reliability", "recovery-default", field=f"reliability.{name}").values[name]
    )


class RecoveryPolicy(StrEnum):
    """What the job does after a hardware (node-replacing) failure."""

    FULL_RESTART = "full_restart"  # whole job restarts from the last persistent checkpoint
    HOT_SPARE = "hot_spare"  # swap in a hot spare, restore from a peer in-memory replica
    ELASTIC_DP = "elastic_dp"  # drop the failed replica(s), continue, rejoin after repair


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryDesign:
    """Recovery mechanisms of the training stack and their times, SI units.

    The defaults are today's whole-job restart with no stragglers (the Llama 3 check); the
    times and ratios left out come from the catalog's ``recovery-default``.

    Attributes:
        policy: what a hardware failure triggers.
        partial_restart: in-place failures restart only the affected replica group.
        hot_swap_s: hot spare swapped in and communicators re-formed, s.
        peer_restore_s: state restored from the in-memory peer replica, s.
        partial_restart_s: restart of the affected replica group only, s.
        elastic_reconfigure_s: survivors drop the failed replica and rebalance the batch, s.
        elastic_rejoin_s: until a replacement replica rejoins (elastic), s.
        replica_gpus: GPUs lost with one failed replica or NVLink domain (elastic), >= 1
            (default 1: the scenario glue passes num_gpus / dp or the NVLink domain).
        snapshot_interval_s: in-memory snapshot interval (one step for GEMINI), s; half of
            it is lost per failure on average.
        snapshot_overhead_fraction: throughput cost of the in-memory snapshots.
        straggler_rate_per_s: slow-node events of the whole job, 1/s.
        straggler_slowdown: step time x this while a straggler is in the job (>= 1).
        straggler_detect_s: until a straggler is detected and evicted, s.
    """

    policy: RecoveryPolicy = RecoveryPolicy.FULL_RESTART
    partial_restart: bool = False
    hot_swap_s: float = field(default_factory=lambda: _catalog("hot_swap_s"))
    peer_restore_s: float = field(default_factory=lambda: _catalog("peer_restore_s"))
    partial_restart_s: float = field(default_factory=lambda: _catalog("partial_restart_s"))
    elastic_reconfigure_s: float = field(default_factory=lambda: _catalog("elastic_reconfigure_s"))
    elastic_rejoin_s: float = field(default_factory=lambda: _catalog("elastic_rejoin_s"))
    replica_gpus: int = 1
    snapshot_interval_s: float = field(default_factory=lambda: _catalog("snapshot_interval_s"))
    snapshot_overhead_fraction: float = field(
        default_factory=lambda: _catalog("snapshot_overhead_fraction")
    )
    straggler_rate_per_s: float = 0.0
    straggler_slowdown: float = field(default_factory=lambda: _catalog("straggler_slowdown"))
    straggler_detect_s: float = field(default_factory=lambda: _catalog("straggler_detect_s"))

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", RecoveryPolicy(self.policy))
        for name in (
            "hot_swap_s",
            "peer_restore_s",
            "partial_restart_s",
            "elastic_reconfigure_s",
            "elastic_rejoin_s",
            "snapshot_interval_s",
            "straggler_detect_s",
        ):
            require_number(f"reliability.{name}", getattr(self, name), minimum=0.0, unit="s")
        require_number("reliability.replica_gpus", self.replica_gpus, minimum=1.0)
        require_number(
            "reliability.snapshot_overhead_fraction",
            self.snapshot_overhead_fraction,
            minimum=0.0,
            maximum=0.5,
        )
        require_number(
            "reliability.straggler_rate_per_s", self.straggler_rate_per_s, minimum=0.0, unit="1/s"
        )
        require_number(
            "reliability.straggler_slowdown", self.straggler_slowdown, minimum=1.0, maximum=100.0
        )

    @property
    def uses_peer_replicas(self) -> bool:
        """Some failure restores from in-memory peer replicas (snapshots are taken)."""
        return self.policy is not RecoveryPolicy.FULL_RESTART or self.partial_restart


@dataclass(frozen=True, slots=True, kw_only=True)
class InterruptionCosts:
    """What one unexpected interruption costs, per kind (see the module docstring).

    Attributes:
        node_stop_s, other_stop_s: whole-job stop after a node-replacing / in-place failure, s.
        node_max_loss_s, other_max_loss_s: most training time lost (inf: since the last
            durable persistent checkpoint), s.
        node_debt_s: work lost to reduced throughput after a node failure, s of full job.
    """

    node_stop_s: float
    other_stop_s: float
    node_max_loss_s: float
    other_max_loss_s: float
    node_debt_s: float


def interruption_costs(
    design: RecoveryDesign,
    *,
    detection_s: float,
    restart_s: float,
    restore_s: float,
    num_gpus: int,
) -> InterruptionCosts:
    """The per-kind costs of ``design`` (detection is stated on its own, never hidden).

    Args:
        design: the recovery mechanisms.
        detection_s: failure to detection (the whole job stalls meanwhile), s.
        restart_s: whole-job restart (reschedule, re-initialise), s.
        restore_s: load of the persistent checkpoint, s.
        num_gpus: GPUs in the job (elastic: the fraction of throughput lost).
    """
    full = detection_s + restart_s + restore_s
    snap_loss = 0.5 * design.snapshot_interval_s
    peer = design.uses_peer_replicas
    policy = design.policy
    if policy is RecoveryPolicy.FULL_RESTART:
        node_stop, node_loss, debt = full, math.inf, 0.0
    elif policy is RecoveryPolicy.HOT_SPARE:
        node_stop = detection_s + design.hot_swap_s + design.peer_restore_s
        node_loss, debt = snap_loss, 0.0
    else:
        node_stop, node_loss = detection_s + design.elastic_reconfigure_s, snap_loss
        # Batch rebalanced over the survivors: throughput x (1 - lost fraction) until the
        # replacement replica rejoins.
        debt = min(design.replica_gpus / num_gpus, 1.0) * design.elastic_rejoin_s
    if design.partial_restart:
        other_stop = detection_s + design.partial_restart_s + design.peer_restore_s
        other_loss = snap_loss
    elif peer:
        # MODEL: an in-place restart reloads the in-memory replica (GEMINI), not storage.
        other_stop, other_loss = detection_s + restart_s + design.peer_restore_s, snap_loss
    else:
        other_stop, other_loss = full, math.inf
    return InterruptionCosts(
        node_stop_s=node_stop,
        other_stop_s=other_stop,
        node_max_loss_s=node_loss,
        other_max_loss_s=other_loss,
        node_debt_s=debt,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainCosts:
    """What one failure of a failure domain costs (see the module docstring).

    Attributes:
        stop_s: whole-job stop, s.
        max_loss_s: most training time lost (inf: since the last durable checkpoint), s.
        debt_s: work lost to reduced throughput afterwards (elastic DP), s of full job.
        covered: the free spare pool holds the domain's nodes.
        replicas_dropped: data-parallel replicas dropped (elastic DP; 0 otherwise).
    """

    stop_s: float
    max_loss_s: float
    debt_s: float
    covered: bool
    replicas_dropped: int = 0


def domain_costs(
    design: RecoveryDesign,
    *,
    detection_s: float,
    restart_s: float,
    restore_s: float,
    num_gpus: int,
    domain_gpus: int,
    domain_nodes: int,
    repair_s: float,
    free_spare_nodes: float,
) -> DomainCosts:
    """Cost of one failure of a domain of ``domain_gpus`` GPUs (``domain_nodes`` nodes)
    under ``design`` (table in the module docstring).

    Args:
        design: the recovery mechanisms.
        detection_s: failure to detection, s.
        restart_s: whole-job restart, s.
        restore_s: load of the persistent checkpoint, s.
        num_gpus: GPUs in the job.
        domain_gpus: GPUs the domain takes down (whole nodes).
        domain_nodes: nodes the domain takes down.
        repair_s: until the domain is back (switch replaced, power restored), s.
        free_spare_nodes: spare nodes free when the domain fails, on average.

    # MODEL: a domain failure draws from the spare pool at its mean free size (spares less
    # the mean nodes in repair), not from the simulated repair queues: domain failures are
    # rare next to node failures, and the domain comes back whole after ``repair_s``.
    """
    covered = free_spare_nodes >= domain_nodes
    wait = 0.0 if covered else repair_s
    snap_loss = 0.5 * design.snapshot_interval_s
    policy = design.policy
    if policy is RecoveryPolicy.FULL_RESTART:
        return DomainCosts(
            stop_s=detection_s + restart_s + restore_s + wait,
            max_loss_s=math.inf,
            debt_s=0.0,
            covered=covered,
        )
    if policy is RecoveryPolicy.ELASTIC_DP:
        # MODEL: replicas are laid out contiguously, so a domain touches
        # ceil(domain / replica) replicas; all of them are dropped.
        replicas = -(-domain_gpus // design.replica_gpus)
        lost = min(replicas * design.replica_gpus / num_gpus, 1.0)
        if lost < 1.0:
            out_s = min(design.elastic_rejoin_s, repair_s) if covered else repair_s
            return DomainCosts(
                stop_s=detection_s + design.elastic_reconfigure_s,
                max_loss_s=snap_loss,
                debt_s=lost * out_s,
                covered=covered,
                replicas_dropped=replicas,
            )
        # The domain holds every replica: nothing is left to continue (as a hot spare).
    swap = design.hot_swap_s if covered else repair_s + restart_s
    return DomainCosts(
        stop_s=detection_s + swap + design.peer_restore_s,
        max_loss_s=snap_loss,
        debt_s=0.0,
        covered=covered,
    )


def straggler_throughput_factor(*, rate_per_s: float, slowdown: float, detect_s: float) -> float:
    """Mean throughput factor with stragglers: each slows every step (the step runs at the
    slowest rank) by ``slowdown`` until evicted ``detect_s`` later.

    Stragglers present at a time form an M/G/infinity queue with Poisson(rate x detect)
    occupancy (Takacs 1962), so the job is slow a fraction ``1 - exp(-rate x detect)`` of
    the time: factor = 1 - (1 - exp(-rate x detect)) (1 - 1/slowdown).
    """
    require_number("reliability.straggler_slowdown", slowdown, minimum=1.0)
    slow = 1.0 - math.exp(-rate_per_s * detect_s)
    return 1.0 - slow * (1.0 - 1.0 / slowdown)


def speed_factor(design: RecoveryDesign) -> float:
    """Throughput of the running job relative to the failure-free steady state."""
    snap = 1.0 - design.snapshot_overhead_fraction if design.uses_peer_replicas else 1.0
    return snap * straggler_throughput_factor(
        rate_per_s=design.straggler_rate_per_s,
        slowdown=design.straggler_slowdown,
        detect_s=design.straggler_detect_s,
    )


def fixed_loss_goodput(
    *,
    rates_per_s: np.ndarray,
    stop_s: np.ndarray,
    max_loss_s: np.ndarray,
    debt_s: np.ndarray,
    speed: float = 1.0,
) -> float:
    """Long-run goodput with no persistent checkpoints (closed form, renewal-reward).

    Interruptions of kinds k arrive at rates ``lambda_k`` (total lambda, probability
    p_k = lambda_k / lambda). A gap g ~ Exp(lambda) starts with the stop S_j of the kind j
    that began it and ends with kind k, which loses min(run, L_k) and costs a debt D_k:
    E[max(g - S_j - L_k, 0)] = exp(-lambda (S_j + L_k)) / lambda, so

        goodput = speed x sum_j sum_k p_j p_k exp(-lambda (S_j + L_k)) - sum_k lambda_k D_k.

    Args:
        rates_per_s: rate of each kind, 1/s.
        stop_s: stop after each kind, s.
        max_loss_s: loss of each kind, s.
        debt_s: debt of each kind, s of full job.
        speed: throughput factor while running.
    """
    rates = np.asarray(rates_per_s, dtype=float)
    lam = float(rates.sum())
    if lam <= 0.0:
        raise InputError("rates_per_s", "total rate is zero", value=lam)
    p = rates / lam
    s, loss = np.asarray(stop_s, dtype=float), np.asarray(max_loss_s, dtype=float)
    kept = np.exp(-lam * (s[:, None] + loss[None, :]))
    return float(speed * p @ kept @ p - (rates * np.asarray(debt_s, dtype=float)).sum())
