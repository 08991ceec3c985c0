"""What a campaign simulation needs: :class:`CampaignConfig` and the quantities derived from it
(summed failure rates, recovery times, the spare budget, checkpoint intervals).

The failure rates of the causes are summed in one place, :func:`~colossim.campaign.failures.
total_rate_per_s`, through the ``*_rate_per_s`` properties of :class:`CampaignConfig`; the
engine, the timeline, the closed forms and the scenario glue all read those properties.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from colossim.campaign.checkpoint import (
    MIN_CHECKPOINT_S,
    CheckpointCosts,
    CheckpointMode,
    IntervalPolicy,
    checkpoint_costs,
    checkpoint_defaults,
    checkpoint_state_bytes,
    choose_interval_s,
    daly_interval_s,
    optimal_interval_s,
    young_interval_s,
)
from colossim.campaign.failures import (
    CauseRate,
    ClusterCounts,
    FailureDomain,
    cause_rates,
    failure_profile,
    total_rate_per_s,
)
from colossim.campaign.recovery import (
    DomainCosts,
    InterruptionCosts,
    RecoveryDesign,
    RecoveryPolicy,
    domain_costs,
    interruption_costs,
    speed_factor,
)
from colossim.catalog import lookup
from colossim.errors import InputError, require_int, require_number
from colossim.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_YEAR, TERA

__all__ = [
    "CampaignConfig",
    "CampaignIntervals",
    "DomainKind",
    "RunScalars",
    "SimulationMode",
    "SparePolicy",
    "campaign_intervals",
    "reference_case_config",
]

# Smallest rate used to turn "no failures" into a finite, astronomically long gap (engine and
# timeline).
TINY_RATE_PER_S = 1e-300


class SparePolicy(StrEnum):
    """What the job does when a failed node needs a spare and none is left."""

    WAIT = "wait"  # wait for the first node back from repair
    SHRINK = "shrink"  # restart on fewer nodes, at proportionally lower throughput


class SimulationMode(StrEnum):
    """What the simulation measures."""

    TO_TRAIN = "to_train"  # run until the tokens are trained (or the horizon)
    WINDOW = "window"  # run a fixed wall-clock window (Llama 3 style snapshot)


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainKind:
    """The failures of one failure domain in the job, summed over its causes.

    Attributes:
        domain: which domain (leaf switch, power/cooling zone).
        rate_per_s: failures of the domain in the whole job, 1/s.
        gpus: GPUs one failure takes down (whole nodes).
        nodes: nodes one failure takes down.
        repair_s: until the domain is back, s.
    """

    domain: FailureDomain
    rate_per_s: float
    gpus: int
    nodes: int
    repair_s: float


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
        recovery: recovery mechanisms (hot spares, elastic DP, partial restart,
            stragglers); the default is a whole-job restart.
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
    recovery: RecoveryDesign = field(default_factory=RecoveryDesign)

    def __post_init__(self) -> None:
        def positive(name: str) -> None:
            require_number(f"reliability.{name}", getattr(self, name), minimum=0.0, strict=True)

        positive("tokens_per_s")
        positive("tokens" if self.window_s is None else "window_s")
        for name in ("detection_s", "restart_s", "repair_s", "planned_downtime_s"):
            require_number(f"reliability.{name}", getattr(self, name), minimum=0.0, unit="s")
        positive("horizon_s")
        for name, minimum in (("num_gpus", 1), ("gpus_per_node", 1), ("n_trials", 1)):
            # Frozen: store the checked value as an int (``1e3`` from YAML is a count too).
            value = require_int(f"reliability.{name}", getattr(self, name), minimum=minimum)
            object.__setattr__(self, name, value)
        if self.num_gpus % self.gpus_per_node:
            raise InputError(
                "reliability.num_gpus",
                f"is not a multiple of gpus_per_node={self.gpus_per_node}",
                value=self.num_gpus,
            )
        spares = require_int("reliability.spare_nodes", self.spare_nodes, minimum=0)
        object.__setattr__(self, "spare_nodes", spares)
        require_number(
            "reliability.min_active_fraction",
            self.min_active_fraction,
            minimum=0.0,
            strict=True,
            maximum=1.0,
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

    # ------------------------------------------------------------------ summed failure rates

    @property
    def total_rate_per_s(self) -> float:
        """Interruption rate of the full job, all causes (unexpected and planned), 1/s."""
        return total_rate_per_s(self.causes)

    @property
    def unplanned_rate_per_s(self) -> float:
        """Rate of unexpected (work-losing) interruptions of the full job, 1/s."""
        return total_rate_per_s(self.causes, planned=False)

    @property
    def planned_rate_per_s(self) -> float:
        """Rate of planned interruptions (checkpoint first, nothing lost), 1/s."""
        return total_rate_per_s(self.causes, planned=True)

    @property
    def node_replacing_rate_per_s(self) -> float:
        """Rate of unexpected interruptions that send a node to repair (need a spare), 1/s."""
        return total_rate_per_s(self.causes, planned=False, replaces_node=True, domain=False)

    @property
    def other_unplanned_rate_per_s(self) -> float:
        """Rate of unexpected interruptions that restart in place (no spare needed), 1/s."""
        return total_rate_per_s(self.causes, planned=False, replaces_node=False, domain=False)

    @property
    def domains(self) -> tuple[DomainKind, ...]:
        """The failure domains with a non-zero rate, in :class:`FailureDomain` order."""
        out = []
        for domain in FailureDomain:
            causes = [c for c in self.causes if c.domain is domain and not c.planned]
            rate = total_rate_per_s(tuple(causes), domain=domain)
            if rate <= 0.0:
                continue
            gpus = max(c.domain_gpus for c in causes)
            out.append(
                DomainKind(
                    domain=domain,
                    rate_per_s=rate,
                    gpus=gpus,
                    nodes=-(-gpus // self.gpus_per_node),
                    # MODEL: causes of one domain share its repair time (rate-weighted).
                    repair_s=sum(c.rate_per_s * c.repair_s for c in causes) / rate,
                )
            )
        return tuple(out)

    @property
    def free_spare_nodes(self) -> float:
        """Spare nodes free on average: the pool less the mean nodes in repair."""
        return max(self.spare_nodes - self.nodes_in_repair_mean, 0.0)

    @property
    def domain_costs(self) -> tuple[DomainCosts, ...]:
        """Stop, loss and debt of a failure of each of :attr:`domains` under the recovery
        design (:func:`~colossim.campaign.recovery.domain_costs`)."""
        return tuple(
            domain_costs(
                self.recovery,
                detection_s=self.detection_s,
                restart_s=self.restart_s,
                restore_s=self.checkpoint.restore_s,
                num_gpus=self.num_gpus,
                domain_gpus=d.gpus,
                domain_nodes=d.nodes,
                repair_s=d.repair_s,
                free_spare_nodes=self.free_spare_nodes,
            )
            for d in self.domains
        )

    # ------------------------------------------------------------------ recovery and spares

    @property
    def downtime_s(self) -> float:
        """Detection plus restart: the downtime of every unexpected interruption before the
        checkpoint is restored (no waiting for a spare), s."""
        return self.detection_s + self.restart_s

    @property
    def unplanned_recovery_s(self) -> float:
        """Downtime after an unexpected interruption: detection, restart, restore (R), s."""
        return self.downtime_s + self.checkpoint.restore_s

    @property
    def planned_recovery_s(self) -> float:
        """Downtime of a planned interruption, s.

        MODEL: a planned interruption checkpoints first (one blocking write), then stops for
        the planned work and restarts like any other; no work is lost.
        """
        return (
            self.checkpoint.blocking_s
            + self.planned_downtime_s
            + self.restart_s
            + self.checkpoint.restore_s
        )

    @property
    def interruption_costs(self) -> InterruptionCosts:
        """Stop, loss and debt of each kind of unexpected interruption under the recovery
        design (:func:`~colossim.campaign.recovery.interruption_costs`)."""
        return interruption_costs(
            self.recovery,
            detection_s=self.detection_s,
            restart_s=self.restart_s,
            restore_s=self.checkpoint.restore_s,
            num_gpus=self.num_gpus,
        )

    @property
    def speed_factor(self) -> float:
        """Throughput of the running job relative to the steady state (snapshots,
        stragglers)."""
        return speed_factor(self.recovery)

    @property
    def lossy_rate_per_s(self) -> float:
        """Rate of the unexpected interruptions that lose the work since the last
        persistent checkpoint (what the checkpoint interval is chosen against), 1/s."""
        c = self.interruption_costs
        rate = 0.0
        if math.isinf(c.node_max_loss_s):
            rate += self.node_replacing_rate_per_s
        if math.isinf(c.other_max_loss_s):
            rate += self.other_unplanned_rate_per_s
        for d, dc in zip(self.domains, self.domain_costs, strict=True):
            if math.isinf(dc.max_loss_s):
                rate += d.rate_per_s
        return rate

    @property
    def nodes_in_repair_mean(self) -> float:
        """Mean nodes in repair: node-replacing rate x repair time (M/G/infinity queue)."""
        return self.node_replacing_rate_per_s * self.repair_s

    @property
    def max_nodes_in_repair(self) -> int:
        """Nodes that may be in repair before the job must wait: the spares, plus (``shrink``)
        the nodes the job may lose and still run."""
        limit = self.spare_nodes
        if self.recovery.policy is RecoveryPolicy.ELASTIC_DP:
            # MODEL: elastic DP never waits for a spare: the job runs without the failed
            # replica, which stays out elastic_rejoin_s whatever the spare pool holds.
            return limit + self.num_nodes
        if self.spare_policy is SparePolicy.SHRINK:
            limit += int(math.floor((1.0 - self.min_active_fraction) * self.num_nodes))
        return limit

    # ------------------------------------------------------------------ time limits

    @property
    def work_to_train_s(self) -> float:
        """Compute time to train the tokens at full throughput, s (to-train mode)."""
        return self.tokens / self.tokens_per_s

    @property
    def trial_end_s(self) -> float:
        """Wall-clock end of a trial: the window (window mode) or the horizon, s."""
        return float(self.horizon_s if self.window_s is None else self.window_s)


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
    # Only the failures that fall back to the persistent checkpoint set its interval.
    unexpected = config.lossy_rate_per_s
    # MODEL: with no such failures, checkpoint once a year (any long interval).
    mtbf = 1.0 / unexpected if unexpected > 0 else SECONDS_PER_YEAR
    recovery = config.unplanned_recovery_s
    delta = max(config.checkpoint.blocking_s, MIN_CHECKPOINT_S)
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


@dataclass(frozen=True, slots=True, kw_only=True)
class RunScalars:
    """Scalars of one simulation run, derived once from a config and a checkpoint interval:
    what the engine's and the timeline's loops read (instead of summing the config's
    rates again at every step).

    Attributes:
        tau_s: compute time between checkpoints, s.
        delta_s: stall per checkpoint, s.
        cycle_s: tau + delta, s.
        lag_s: time after a stall until the checkpoint is durable, s.
        rate_unplanned_per_s: unexpected interruption rate of the full job, 1/s.
        rate_planned_per_s: planned interruption rate, 1/s.
        rate_node_per_s: node-replacing interruption rate of the full job, 1/s.
        down_unplanned_s: downtime after an unexpected interruption (no waiting), s.
        down_node_s, down_other_s: whole-job stop after a node-replacing / in-place
            failure under the recovery design, s.
        loss_node_s, loss_other_s: most training time such a failure loses (inf: back to
            the last durable checkpoint), s.
        debt_node_s: work lost to reduced throughput after a node failure, s of full job.
        rate_domain_per_s, down_domain_s, loss_domain_s, debt_domain_s: per failure domain
            (:attr:`CampaignConfig.domains`): its rate (1/s), whole-job stop (s), most
            training time lost (s) and debt (s of full job).
        speed: throughput factor while running (snapshots, stragglers).
        down_planned_s: downtime of a planned interruption, s.
        repair_s: repair time of a failed node, s.
        nodes: nodes in the job.
        spares: hot-spare nodes.
        max_in_repair: nodes that may be in repair before the job must wait.
        shrink: the spare policy is ``shrink``.
        window: window mode (else to-train mode).
        end_s: wall-clock end of a trial (window or horizon), s.
        work_s: work to train at full throughput, s (0 in window mode).
    """

    tau_s: float
    delta_s: float
    cycle_s: float
    lag_s: float
    rate_unplanned_per_s: float
    rate_planned_per_s: float
    rate_node_per_s: float
    down_unplanned_s: float
    down_node_s: float
    down_other_s: float
    loss_node_s: float
    loss_other_s: float
    debt_node_s: float
    rate_domain_per_s: tuple[float, ...] = ()
    down_domain_s: tuple[float, ...] = ()
    loss_domain_s: tuple[float, ...] = ()
    debt_domain_s: tuple[float, ...] = ()
    speed: float
    down_planned_s: float
    repair_s: float
    nodes: int
    spares: int
    max_in_repair: int
    shrink: bool
    window: bool
    end_s: float
    work_s: float

    @classmethod
    def of(cls, config: CampaignConfig, interval_s: float) -> RunScalars:
        """The scalars of ``config`` run at checkpoint interval ``interval_s`` (s)."""
        tau = float(interval_s)
        window = config.mode is SimulationMode.WINDOW
        costs = config.interruption_costs
        dom_costs = config.domain_costs
        return cls(
            tau_s=tau,
            delta_s=config.checkpoint.blocking_s,
            cycle_s=tau + config.checkpoint.blocking_s,
            lag_s=config.checkpoint.durable_lag_s,
            rate_unplanned_per_s=config.unplanned_rate_per_s,
            rate_planned_per_s=config.planned_rate_per_s,
            rate_node_per_s=config.node_replacing_rate_per_s,
            down_unplanned_s=config.unplanned_recovery_s,
            down_node_s=costs.node_stop_s,
            down_other_s=costs.other_stop_s,
            loss_node_s=costs.node_max_loss_s,
            loss_other_s=costs.other_max_loss_s,
            debt_node_s=costs.node_debt_s,
            rate_domain_per_s=tuple(d.rate_per_s for d in config.domains),
            down_domain_s=tuple(c.stop_s for c in dom_costs),
            loss_domain_s=tuple(c.max_loss_s for c in dom_costs),
            debt_domain_s=tuple(c.debt_s for c in dom_costs),
            speed=config.speed_factor,
            down_planned_s=config.planned_recovery_s,
            repair_s=config.repair_s,
            nodes=config.num_nodes,
            spares=config.spare_nodes,
            max_in_repair=config.max_nodes_in_repair,
            # Elastic DP already runs without the failed replicas (its debt): no shrink.
            shrink=config.spare_policy is SparePolicy.SHRINK
            and config.recovery.policy is not RecoveryPolicy.ELASTIC_DP,
            window=window,
            end_s=config.trial_end_s,
            work_s=0.0 if window else config.work_to_train_s,
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
        # The reference's leaf switches: the case is run on the reference cluster.
        leaf_switches=ref.leaf_switches if ref else 0,
        leaf_gpus=profile.leaf_gpus,
        zone_gpus=profile.zone_gpus,
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
    # Training FLOPs per token ~ 6 x parameters (Kaplan et al. 2020, "Scaling Laws for Neural
    # Language Models", arXiv:2001.08361, sec. 2.1; dense transformer); the throughput does
    # not affect the interruption counts of a window.
    flop_per_s = float(case["model_tflops_per_gpu"]) * TERA * counts.num_gpus
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
