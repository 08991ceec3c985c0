"""Scenario section ``reliability:`` (pydantic v2) and its conversion to
:class:`colossim.campaign.config.CampaignConfig`.

Every timing left out comes from ``catalog/reliability.yaml`` (``recovery-default`` and
``checkpoint-default``); failure rates come from a failure profile of the same file.

Example::

    reliability: {checkpoint_policy: young, checkpoint_mode: async, restart_min: 10,
                  spare_nodes: 64, spare_policy: wait, trials: 1000, seed: 1234}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from colossim.campaign.checkpoint import (
    CheckpointCosts,
    CheckpointMode,
    IntervalPolicy,
    checkpoint_costs,
    checkpoint_defaults,
    checkpoint_state_bytes,
)
from colossim.campaign.config import CampaignConfig, SparePolicy
from colossim.campaign.failures import (
    CauseRate,
    ClusterCounts,
    FailureProfile,
    cause_rates,
    failure_profile,
    failure_profile_ids,
    spare_nodes_for_coverage,
    total_rate_per_s,
)
from colossim.campaign.recovery import RecoveryDesign, RecoveryPolicy
from colossim.catalog import lookup
from colossim.errors import InputError, did_you_mean
from colossim.scenario.known import require_known
from colossim.units import GB, HOURS_PER_YEAR, SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_MINUTE

__all__ = ["ReliabilitySection"]

# Bounds on inputs that scale the work: beyond them a run is not a training campaign.
# Failure rates at most 1,000x the profile's (a fleet failing that often does not train).
MAX_FAILURE_RATE_MULTIPLIER = 1_000.0
# The default spare pool is a Poisson quantile over 0..mean: at most 10M nodes in repair.
MAX_NODES_IN_REPAIR = 10_000_000
# Checkpoint bytes per parameter (Adam in mixed precision: 16) and storage bandwidth.
MAX_BYTES_PER_PARAM = 1_024.0
MIN_STORAGE_GBYTE_PER_S = 1e-3
MIN_WINDOW_DAYS = 1 / 24  # one hour
MIN_CHECKPOINT_WRITE_S = 1e-3
# Per-cause rate overrides, interruptions per unit-year: one a second per unit at most.
MAX_OVERRIDE_RATE = 3.2e7


class ReliabilitySection(BaseModel):
    """Failures, recovery, checkpointing, spares and Monte Carlo settings of a campaign."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failure_profile: str = Field(
        "llama3-h100",
        description="failure-rate profile id in catalog reliability.yaml (per-unit rates); "
        "left out: the profile of the cluster's GPU generation (failure-profiles-by-gpu), "
        "llama3-h100 when the GPU is not known",
    )
    failures_per_1000_node_days: float | None = Field(
        None,
        ge=0,
        le=1000,
        description="unexpected failures per 1,000 node-days of the cluster's nodes; "
        "overrides the profile's total rate and keeps its cause mix",
    )
    failure_rate_multiplier: float = Field(
        1.0,
        ge=0,
        le=MAX_FAILURE_RATE_MULTIPLIER,
        description="scales every unexpected failure rate (e.g. 2 for a young fleet)",
    )
    failure_rate_overrides: dict[str, Annotated[float, Field(ge=0, le=MAX_OVERRIDE_RATE)]] = Field(
        default_factory=dict,
        description="per-cause rate overrides, interruptions per unit-year (profile units)",
    )
    planned_maintenance: bool = Field(
        True, description="include the profile's planned maintenance interruptions"
    )
    checkpoint_policy: Literal["fixed", "young", "daly", "optimal"] = Field(
        "young",
        description="checkpoint interval: fixed (checkpoint_interval_s), Young sqrt(2 delta M), "
        "Daly, or optimal (maximum of the exact expected useful fraction)",
    )
    checkpoint_interval_s: float | None = Field(
        None, gt=0, description="compute time between checkpoints for policy 'fixed', s"
    )
    checkpoint_mode: Literal["sync", "async", "in_memory"] = Field(
        "sync", description="sync write, async (snapshot then background write), or in_memory"
    )
    optimizer_state: str = Field(
        "adam_mixed",
        description="checkpoint bytes-per-parameter profile (catalog checkpoint-default)",
    )
    bytes_per_param: float | None = Field(
        None,
        gt=0,
        le=MAX_BYTES_PER_PARAM,
        description="checkpoint bytes per parameter; overrides optimizer_state, B",
    )
    storage_write_gbyte_per_s: float | None = Field(
        None,
        ge=MIN_STORAGE_GBYTE_PER_S,
        description="aggregate checkpoint write bandwidth, GB/s (default: catalog)",
    )
    storage_read_gbyte_per_s: float | None = Field(
        None,
        ge=MIN_STORAGE_GBYTE_PER_S,
        description="aggregate checkpoint read bandwidth, GB/s (default: catalog)",
    )
    checkpoint_write_s: float | None = Field(
        None,
        ge=MIN_CHECKPOINT_WRITE_S,
        le=86_400,
        description="time to write one full checkpoint to storage, s; overrides the "
        "bytes / storage_write_gbyte_per_s estimate",
    )
    detection_min: float | None = Field(
        None,
        ge=0,
        le=1440,
        description="failure to detection (the whole job stalls meanwhile), min "
        "(default: catalog); stated on its own, never added to restart_min",
    )
    restart_min: float | None = Field(
        None,
        ge=0,
        le=1440,
        description="whole-job restart: reschedule and re-initialise, min (default: catalog)",
    )
    recovery_policy: Literal["full_restart", "hot_spare", "elastic_dp"] = Field(
        "full_restart",
        description="after a hardware failure: restart the whole job from the persistent "
        "checkpoint, swap in a hot spare and restore from an in-memory peer replica, or "
        "drop the failed replica(s) and continue at reduced throughput until they rejoin",
    )
    partial_restart: bool = Field(
        False,
        description="software/network failures restart only the affected replica group "
        "(restored from in-memory peers) while the rest waits",
    )
    hot_swap_min: float | None = Field(
        None, ge=0, le=1440, description="hot_spare: swap in a spare and re-form the job, min"
    )
    peer_restore_s: float | None = Field(
        None, ge=0, le=86_400, description="restore from an in-memory peer replica, s"
    )
    partial_restart_min: float | None = Field(
        None, ge=0, le=1440, description="partial_restart: restart of the affected group, min"
    )
    elastic_reconfigure_s: float | None = Field(
        None, ge=0, le=86_400, description="elastic_dp: drop the replica, rebalance the batch, s"
    )
    elastic_rejoin_min: float | None = Field(
        None,
        ge=0,
        le=100_000,
        description="elastic_dp: until the replacement replica rejoins, min",
    )
    snapshot_interval_s: float | None = Field(
        None,
        gt=0,
        le=86_400,
        description="in-memory snapshot interval (half is lost per failure), s; "
        "default: one training step",
    )
    snapshot_overhead_fraction: float | None = Field(
        None, ge=0, le=0.5, description="throughput cost of in-memory snapshots"
    )
    stragglers_per_1000_node_days: float = Field(
        0.0, ge=0, le=1000, description="slow-node events per 1,000 node-days"
    )
    straggler_slowdown: float | None = Field(
        None, ge=1, le=100, description="step time x this while a straggler is in the job"
    )
    straggler_detect_min: float | None = Field(
        None, ge=0, le=100_000, description="until a straggler is detected and evicted, min"
    )
    repair_h: float | None = Field(
        None,
        ge=0,
        le=HOURS_PER_YEAR,
        description="node repair/replace until back in the spare pool, h (default: catalog)",
    )
    planned_downtime_min: float | None = Field(
        None, ge=0, description="planned work per planned interruption, min (default: catalog)"
    )
    spare_nodes: int | None = Field(
        None,
        ge=0,
        description="hot-spare nodes outside the job; default: enough to cover the nodes in "
        "repair with probability spare_coverage",
    )
    spare_coverage: float = Field(
        0.999,
        gt=0,
        lt=1,
        description="default spare pool: probability that a node failure finds a spare "
        "(quantile of the Poisson count of nodes in repair); ignored if spare_nodes is given",
    )
    spare_policy: Literal["wait", "shrink"] = Field(
        "wait", description="when no spare is left: wait for repair, or shrink the job"
    )
    min_active_fraction: float | None = Field(
        None, gt=0, le=1, description="shrink: wait below this fraction of nodes (default: catalog)"
    )
    trials: int = Field(1000, gt=0, le=1_000_000, description="Monte Carlo trials")
    seed: int = Field(0, ge=0, description="random seed (same seed, same result)")
    horizon_days: float = Field(
        3650.0, gt=0, description="give up on a trial after this many wall-clock days"
    )
    window_days: float | None = Field(
        None,
        ge=MIN_WINDOW_DAYS,
        description="fixed-window mode: simulate this many days instead of training to the end",
    )

    @field_validator("failure_profile")
    @classmethod
    def _known_profile(cls, v: str) -> str:
        return require_known(v, failure_profile_ids(), "failure profile")

    @field_validator("optimizer_state")
    @classmethod
    def _known_state(cls, v: str) -> str:
        return require_known(v, list(checkpoint_defaults().bytes_per_param), "optimizer_state")

    @model_validator(mode="after")
    def _consistent(self) -> ReliabilitySection:
        if self.checkpoint_policy == "fixed" and self.checkpoint_interval_s is None:
            raise ValueError("checkpoint_policy 'fixed' needs checkpoint_interval_s")
        if self.checkpoint_policy != "fixed" and self.checkpoint_interval_s is not None:
            raise ValueError(
                "checkpoint_interval_s is only used with checkpoint_policy 'fixed'; "
                "remove it or set checkpoint_policy: fixed"
            )
        if "failure_profile" in self.model_fields_set:
            names = failure_profile(self.failure_profile).cause_names()
        else:
            # The GPU's profile is known in to_config (which checks again): any profile's.
            names = tuple(
                dict.fromkeys(
                    n for p in failure_profile_ids() for n in failure_profile(p).cause_names()
                )
            )
        for key in self.failure_rate_overrides:
            if key not in names:
                hint = did_you_mean(key, names)
                raise ValueError(
                    f"failure_rate_overrides: unknown cause {key!r}; {hint}"
                    f"causes of {self.failure_profile!r}: {', '.join(names)}"
                )
        return self

    def to_config(
        self,
        *,
        num_gpus: int,
        gpus_per_node: int,
        tokens: float,
        tokens_per_s: float,
        params: float,
        num_switches: int = 0,
        nics_per_node: int | None = None,
        cpus_per_node: int | None = None,
        idle_nodes: int = 0,
        gpu_id: str | None = None,
        scaleup_domain: int | None = None,
        dp: int | None = None,
        step_s: float | None = None,
        leaf_switches: int | None = None,
        leaf_gpus: int | None = None,
    ) -> CampaignConfig:
        """Build the core campaign config from this section and the rest of the model.

        Args:
            num_gpus: GPUs in the job.
            gpus_per_node: GPUs per node.
            tokens: tokens to train.
            tokens_per_s: steady-state throughput of the whole job, tokens/s.
            params: model parameters (sets the checkpoint size).
            num_switches: fabric switches of the job (used by per-switch failure causes).
            nics_per_node: backend NICs per node (default: the profile's reference node).
            cpus_per_node: CPU sockets per node (default: the profile's reference node).
            idle_nodes: whole nodes the job leaves idle (hot spares on top of spare_nodes).
            gpu_id: catalog GPU id; picks the failure profile of its generation when the
                section names none (``failure-profiles-by-gpu``).
            scaleup_domain: GPUs per NVLink domain (an NVL72 rack fails as one unit).
            dp: data-parallel degree (elastic DP drops num_gpus / dp GPUs per replica).
            step_s: training step time, s (the default in-memory snapshot interval).
            leaf_switches, leaf_gpus: the fabric's leaves serving the job and GPUs under one
                (default: the profile's leaf size, one leaf per leaf_gpus GPUs).
        """
        profile = failure_profile(self.profile_id(gpu_id))
        ref = profile.reference_counts
        counts = ClusterCounts(
            num_gpus=num_gpus,
            gpus_per_node=gpus_per_node,
            nics_per_node=nics_per_node if nics_per_node is not None else _ref(ref, "nics"),
            cpus_per_node=cpus_per_node if cpus_per_node is not None else _ref(ref, "cpus"),
            num_switches=num_switches,
            scaleup_domain=scaleup_domain or profile.scaleup_domain_gpus,
            **_domain_counts(profile, num_gpus, leaf_switches, leaf_gpus),
        )
        rates = self._rates(profile, counts)
        recovery = lookup("reliability", "recovery-default", field="reliability").values
        min_active = _pick(self.min_active_fraction, 1.0, recovery["min_active_fraction"])
        repair_s = _pick(self.repair_h, SECONDS_PER_HOUR, recovery["repair_h"], SECONDS_PER_HOUR)
        return CampaignConfig(
            tokens=tokens,
            tokens_per_s=tokens_per_s,
            num_gpus=num_gpus,
            gpus_per_node=gpus_per_node,
            causes=rates,
            detection_s=_pick(self.detection_min, SECONDS_PER_MINUTE, recovery["detection_s"]),
            restart_s=_pick(self.restart_min, SECONDS_PER_MINUTE, recovery["restart_s"]),
            repair_s=repair_s,
            planned_downtime_s=_pick(
                self.planned_downtime_min, SECONDS_PER_MINUTE, recovery["planned_downtime_s"]
            ),
            checkpoint=self._checkpoint_costs(params),
            interval_policy=IntervalPolicy(self.checkpoint_policy),
            fixed_interval_s=self.checkpoint_interval_s,
            spare_nodes=self._spare_nodes(rates, repair_s) + max(idle_nodes, 0),
            spare_policy=SparePolicy(self.spare_policy),
            min_active_fraction=min_active,
            horizon_s=self.horizon_days * SECONDS_PER_DAY,
            window_s=None if self.window_days is None else self.window_days * SECONDS_PER_DAY,
            n_trials=self.trials,
            seed=self.seed,
            recovery=self._recovery_design(
                recovery, counts=counts, dp=dp, scaleup_domain=counts.scaleup_domain, step_s=step_s
            ),
        )

    def profile_id(self, gpu_id: str | None) -> str:
        """The section's failure profile, or (left out) the one of the GPU's generation."""
        if "failure_profile" in self.model_fields_set or gpu_id is None:
            return self.failure_profile
        by_gpu = lookup("reliability", "failure-profiles-by-gpu", field="reliability").values
        for prefix, profile_id in by_gpu["prefixes"].items():
            if str(gpu_id).startswith(str(prefix)):
                return str(profile_id)
        return str(by_gpu["default"])

    def _rates(self, profile: FailureProfile, counts: ClusterCounts) -> tuple[CauseRate, ...]:
        """Job-level cause rates: the profile, its overrides, the multiplier or the total
        rate per 1,000 node-days (same cause mix), plus straggler evictions."""
        multiplier = self.failure_rate_multiplier
        if self.failures_per_1000_node_days is not None:
            if "failure_rate_multiplier" in self.model_fields_set:
                raise InputError(
                    "reliability.failures_per_1000_node_days",
                    "and failure_rate_multiplier both scale the failure rate",
                    value=self.failures_per_1000_node_days,
                    fix="keep one of them",
                )
            base = cause_rates(profile, counts, overrides_per_unit_year=self.failure_rate_overrides)
            per_node_day = total_rate_per_s(base, planned=False) * SECONDS_PER_DAY
            per_node_day /= counts.num_nodes
            target = self.failures_per_1000_node_days / 1000.0
            multiplier = target / per_node_day if per_node_day > 0 else 0.0
        rates = cause_rates(
            profile,
            counts,
            multiplier=multiplier,
            overrides_per_unit_year=self.failure_rate_overrides,
            include_planned=self.planned_maintenance,
        )
        straggler = self._straggler_rate_per_s(counts)
        if straggler > 0.0:
            # MODEL: every detected straggler is evicted like a failed node (a spare or the
            # recovery policy replaces it).
            eviction = CauseRate(
                name="straggler_eviction",
                category="straggler",
                rate_per_s=straggler,
                replaces_node=True,
            )
            rates = (*rates, eviction)
        return rates

    def _straggler_rate_per_s(self, counts: ClusterCounts) -> float:
        """Slow-node events of the whole job, 1/s."""
        per_node_s = self.stragglers_per_1000_node_days / 1000.0 / SECONDS_PER_DAY
        return per_node_s * counts.num_nodes

    def _recovery_design(
        self,
        recovery: dict,
        *,
        counts: ClusterCounts,
        dp: int | None,
        scaleup_domain: int | None,
        step_s: float | None,
    ) -> RecoveryDesign:
        """The recovery mechanisms of this section, catalog defaults for what it leaves out.
        Elastic DP loses a replica (num_gpus / dp) or, if larger, an NVLink domain."""
        replica = counts.num_gpus // dp if dp else counts.gpus_per_node
        replica_gpus = max(replica, scaleup_domain or 1)
        snapshot = self.snapshot_interval_s
        if snapshot is None:
            snapshot = step_s if step_s else float(recovery["snapshot_interval_s"])
        return RecoveryDesign(
            policy=RecoveryPolicy(self.recovery_policy),
            partial_restart=self.partial_restart,
            hot_swap_s=_pick(self.hot_swap_min, SECONDS_PER_MINUTE, recovery["hot_swap_s"]),
            peer_restore_s=_pick(self.peer_restore_s, 1.0, recovery["peer_restore_s"]),
            partial_restart_s=_pick(
                self.partial_restart_min, SECONDS_PER_MINUTE, recovery["partial_restart_s"]
            ),
            elastic_reconfigure_s=_pick(
                self.elastic_reconfigure_s, 1.0, recovery["elastic_reconfigure_s"]
            ),
            elastic_rejoin_s=_pick(
                self.elastic_rejoin_min, SECONDS_PER_MINUTE, recovery["elastic_rejoin_s"]
            ),
            replica_gpus=min(replica_gpus, counts.num_gpus),
            snapshot_interval_s=snapshot,
            snapshot_overhead_fraction=_pick(
                self.snapshot_overhead_fraction, 1.0, recovery["snapshot_overhead_fraction"]
            ),
            straggler_rate_per_s=self._straggler_rate_per_s(counts),
            straggler_slowdown=_pick(self.straggler_slowdown, 1.0, recovery["straggler_slowdown"]),
            straggler_detect_s=_pick(
                self.straggler_detect_min, SECONDS_PER_MINUTE, recovery["straggler_detect_s"]
            ),
        )

    def _checkpoint_costs(self, params: float) -> CheckpointCosts:
        """Checkpoint costs of a model of ``params`` parameters: this section's mode, size
        and storage bandwidths, the catalog's ``checkpoint-default`` for what it leaves out."""
        ck = checkpoint_defaults()
        bytes_per_param = self.bytes_per_param or ck.bytes_per_param[self.optimizer_state]
        write = (
            self.storage_write_gbyte_per_s * GB
            if self.storage_write_gbyte_per_s is not None
            else ck.storage_write_bytes_per_s
        )
        read = (
            self.storage_read_gbyte_per_s * GB
            if self.storage_read_gbyte_per_s is not None
            else ck.storage_read_bytes_per_s
        )
        state = checkpoint_state_bytes(params=params, bytes_per_param=bytes_per_param)
        if self.checkpoint_write_s is not None:
            # The stated write time wins over bytes / bandwidth (restore keeps the read rate).
            write = state / self.checkpoint_write_s
        return checkpoint_costs(
            state_bytes=state,
            mode=CheckpointMode(self.checkpoint_mode),
            write_bytes_per_s=write,
            read_bytes_per_s=read,
            defaults=ck,
        )

    def _spare_nodes(self, rates: tuple[CauseRate, ...], repair_s: float) -> int:
        """``spare_nodes``, or by default a pool sized to cover the nodes in repair."""
        if self.spare_nodes is not None:
            return self.spare_nodes
        rate = total_rate_per_s(rates, planned=False, replaces_node=True)
        # The pool is a Poisson quantile found over 0..mean (memory in proportion): a mean
        # beyond any cluster is refused, with the fields that set it.
        in_repair = rate * repair_s
        if in_repair > MAX_NODES_IN_REPAIR:
            raise InputError(
                "reliability.repair_h",
                f"on average {in_repair:,.3g} nodes would be in repair (more than "
                f"{MAX_NODES_IN_REPAIR:,}): no spare pool covers that",
                value=repair_s / SECONDS_PER_HOUR,
                fix="lower reliability.repair_h or the failure rate (failure_rate_multiplier, "
                "failures_per_1000_node_days), or give reliability.spare_nodes",
            )
        # MODEL: the default pool covers the nodes in repair (a Poisson count, M/G/inf)
        # with probability spare_coverage; without spares a 100k-GPU job waits a whole
        # repair (48 h) for every failed node and never finishes.
        return spare_nodes_for_coverage(
            node_rate_per_s=rate, repair_s=repair_s, coverage=self.spare_coverage
        )


def _domain_counts(
    profile: FailureProfile, num_gpus: int, leaf_switches: int | None, leaf_gpus: int | None
) -> dict[str, int]:
    """Leaf switches, GPUs per leaf and GPUs per power zone of the job: the fabric's when
    given, else the profile's leaf size with one leaf per ``leaf_gpus`` GPUs (MODEL: one
    plane, as a top-of-rack leaf)."""
    gpus = leaf_gpus if leaf_gpus else profile.leaf_gpus
    if leaf_switches is None:
        leaf_switches = -(-num_gpus // gpus) if gpus else 0
    return {
        "leaf_switches": int(leaf_switches),
        "leaf_gpus": int(gpus),
        "zone_gpus": profile.zone_gpus,
    }


def _pick(value: float | None, scale: float, default: object, default_scale: float = 1.0) -> float:
    """``value`` x ``scale`` if the scenario sets it, else the catalog ``default`` x
    ``default_scale`` (SI units)."""
    return value * scale if value is not None else float(default) * default_scale


def _ref(ref: ClusterCounts | None, what: Literal["nics", "cpus"]) -> int:
    """Per-node NIC/CPU count of the profile's reference cluster (0 if it has none)."""
    if ref is None:
        return 0
    return ref.nics_per_node if what == "nics" else ref.cpus_per_node
