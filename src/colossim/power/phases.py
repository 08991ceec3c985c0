"""Steady-state power of a training cluster, per phase of a training step.

IT power = GPUs (phase fraction x TDP) + the rest of each server (CPUs, memory, NICs, fans,
PSU losses) + network (switches, optics) + storage. Facility power = PUE x IT power.

A synchronous training step alternates a compute phase (GPUs near TDP), an exposed
communication phase (GPUs mostly waiting) and idle time (pipeline bubble, optimizer, host
work); the whole cluster does this in lockstep, so the phase powers are also the levels
of the cluster's power swing (Choukse et al. 2025, arXiv:2508.14318, docs/sources.md:
CHOUKSE-2025).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from colossim.catalog import load_catalog, lookup, lookup_prefixed
from colossim.errors import InputError, require_number

__all__ = [
    "ClusterPower",
    "PhasePower",
    "PowerConfig",
    "StepPhases",
    "cluster_power",
    "cooling_profiles",
    "phase_power",
    "power_config",
]


def cooling_profiles() -> list[str]:
    """Names of the PUE profiles in ``catalog/power.yaml`` (``liquid``, ``air``, ...)."""
    return [k.removeprefix("pue-") for k in load_catalog("power") if k.startswith("pue-")]


@dataclass(frozen=True, slots=True, kw_only=True)
class StepPhases:
    """Wall-clock split of one training step (seconds). They add up to the step time.

    Args:
        compute_s: GPUs computing (forward, backward; communication overlapped), s.
        communication_s: exposed communication, GPUs mostly waiting on the network, s.
        idle_s: pipeline bubble, optimizer step, host work, s.
    """

    compute_s: float
    communication_s: float
    idle_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("compute_s", "communication_s", "idle_s"):
            require_number(f"phases.{name}", getattr(self, name), minimum=0.0)
        if self.step_s <= 0:
            raise InputError(
                "phases", "step time must be > 0", value=0.0, fix="give a positive phase time"
            )

    @property
    def step_s(self) -> float:
        """Step time, s."""
        return self.compute_s + self.communication_s + self.idle_s


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerConfig:
    """Everything the power model needs, resolved to numbers (build it with :func:`power_config`).

    Args:
        gpu_id: catalog id of the GPU (for reports).
        num_gpus: GPUs in the cluster.
        gpus_per_node: GPUs per server.
        gpu_tdp_w: GPU thermal design power, W.
        compute_frac_of_tdp: GPU power in the compute phase / TDP.
        communication_frac_of_tdp: GPU power in exposed communication / TDP.
        idle_frac_of_tdp: GPU power when idle / TDP.
        overhead_w_per_gpu: rest-of-server power per GPU at full GPU load, W.
        overhead_idle_frac: share of ``overhead_w_per_gpu`` drawn at GPU idle.
        network_power_w: switches and optics of the whole fabric, W (constant).
        storage_power_w: storage systems, W (constant).
        pue: power usage effectiveness, facility power / IT power (>= 1).
    """

    gpu_id: str
    num_gpus: int
    gpus_per_node: int
    gpu_tdp_w: float
    compute_frac_of_tdp: float
    communication_frac_of_tdp: float
    idle_frac_of_tdp: float
    overhead_w_per_gpu: float
    overhead_idle_frac: float
    network_power_w: float
    storage_power_w: float
    pue: float

    def __post_init__(self) -> None:
        if not isinstance(self.num_gpus, int) or self.num_gpus <= 0:
            raise InputError("cluster.num_gpus", "must be a positive integer", value=self.num_gpus)
        if not isinstance(self.gpus_per_node, int) or self.gpus_per_node <= 0:
            raise InputError(
                "cluster.gpus_per_node", "must be a positive integer", value=self.gpus_per_node
            )
        require_number("gpu.tdp_w", self.gpu_tdp_w, minimum=0.0, strict=True)
        for name in ("compute_frac_of_tdp", "communication_frac_of_tdp", "idle_frac_of_tdp"):
            require_number(f"power.{name}", getattr(self, name), minimum=0.0)
        require_number("power.overhead_w_per_gpu", self.overhead_w_per_gpu, minimum=0.0)
        require_number(
            "power.overhead_idle_frac", self.overhead_idle_frac, minimum=0.0, maximum=1.0
        )
        require_number("fabric.power_w", self.network_power_w, minimum=0.0)
        require_number("power.storage_power_w", self.storage_power_w, minimum=0.0)
        require_number("facility.pue", self.pue)
        if self.pue < 1.0:
            raise InputError(
                "facility.pue",
                "must be >= 1 (facility power includes the IT power)",
                value=self.pue,
                fix="liquid-cooled AI halls run 1.05-1.25, air-cooled ~1.56",
            )

    @property
    def num_nodes(self) -> int:
        """Servers in the cluster (rounded up)."""
        return -(-self.num_gpus // self.gpus_per_node)


def power_config(
    *,
    gpu_id: str,
    num_gpus: int,
    gpus_per_node: int,
    fabric_power_w: float | None = None,
    cooling: str = "liquid",
    pue: float | None = None,
    gpu_tdp_w: float | None = None,
) -> PowerConfig:
    """Build a :class:`PowerConfig` from the catalogs.

    Args:
        gpu_id: GPU catalog id (``gpus.yaml``); also selects ``node-<gpu_id>`` in ``power.yaml``.
        num_gpus: GPUs in the cluster.
        gpus_per_node: GPUs per server.
        fabric_power_w: fabric (switches + optics) power from the fabric bill of materials, W.
            ``None`` estimates it from the ``aux-default`` network share of server peak power.
        cooling: PUE profile name (``pue-<cooling>`` in ``power.yaml``), used if ``pue`` is None.
        pue: explicit PUE, overrides ``cooling``.
        gpu_tdp_w: GPU TDP override, W (default: ``gpus.yaml`` ``tdp_w``).
    """
    gpu = lookup("gpus", gpu_id, field="cluster.gpu")
    tdp_w = float(gpu.values["tdp_w"]) if gpu_tdp_w is None else gpu_tdp_w
    node = lookup_prefixed("power", "node-", gpu_id, field="cluster.gpu").values
    aux = load_catalog("power")["aux-default"].values
    if pue is None:
        pue = float(
            lookup_prefixed("power", "pue-", cooling, field="facility.cooling").values["pue"]
        )
    require_number("cluster.num_gpus", num_gpus, minimum=1)
    server_peak_w = num_gpus * (tdp_w + float(node["overhead_w_per_gpu"]))
    if fabric_power_w is None:
        # MODEL: without a fabric bill of materials, switches and optics draw a fixed share of
        # server peak power (SemiAnalysis '100,000 H100 Clusters', 2024: storage + network ~10% of
        # cluster power; docs/sources.md: SA-100K).
        fabric_power_w = float(aux["network_share_of_server_peak"]) * server_peak_w
    return PowerConfig(
        gpu_id=gpu_id,
        num_gpus=num_gpus,
        gpus_per_node=gpus_per_node,
        gpu_tdp_w=tdp_w,
        compute_frac_of_tdp=float(node["compute_frac_of_tdp"]),
        communication_frac_of_tdp=float(node["communication_frac_of_tdp"]),
        idle_frac_of_tdp=float(node["idle_frac_of_tdp"]),
        overhead_w_per_gpu=float(node["overhead_w_per_gpu"]),
        overhead_idle_frac=float(node["overhead_idle_frac"]),
        network_power_w=float(fabric_power_w),
        storage_power_w=float(aux["storage_share_of_server_peak"]) * server_peak_w,
        pue=float(pue),
    )


def with_idle_gpus(config: PowerConfig, idle_gpus: int) -> PowerConfig:
    """``config`` with ``idle_gpus`` of its GPUs left out of the job (a plan whose degrees
    do not use them all): they draw idle power through every phase of the step."""
    if idle_gpus <= 0:
        return config
    share = min(idle_gpus / config.num_gpus, 1.0)
    idle = config.idle_frac_of_tdp

    def mix(frac: float) -> float:
        return (1.0 - share) * frac + share * idle

    return replace(
        config,
        compute_frac_of_tdp=mix(config.compute_frac_of_tdp),
        communication_frac_of_tdp=mix(config.communication_frac_of_tdp),
    )


def blend_power_configs(
    configs: Sequence[PowerConfig], utilisation: Sequence[float], *, network_power_w: float
) -> PowerConfig:
    """One configuration for a cluster of several GPU types (partitions) running one job.

    Per-GPU figures are averaged with weights that keep every sum exact: TDP by GPU count,
    each phase's fraction by GPU count x TDP, server overhead by GPU count and its idle
    share by overhead power. A partition with ``utilisation`` u < 1 (it waits for a slower
    one) computes for u of the compute phase and waits in a collective, at communication
    power, for the rest. Storage power is summed; the fabric's is given (one fabric).

    MODEL: the server-overhead term follows each partition's GPU load only through the
    blended load, an approximation within a fraction of a percent of IT power when the
    partitions' loads are close (the overhead is ~40% of server power and its load-
    dependent part ~half of that).
    """
    if not configs or len(configs) != len(utilisation):
        raise InputError("cluster.partitions", "one utilisation per partition is needed")
    n = [c.num_gpus for c in configs]
    total = sum(n)
    tdp_w = [c.num_gpus * c.gpu_tdp_w for c in configs]
    compute = [
        u * c.compute_frac_of_tdp + (1.0 - u) * c.communication_frac_of_tdp
        for c, u in zip(configs, utilisation, strict=True)
    ]
    over_w = [c.num_gpus * c.overhead_w_per_gpu for c in configs]

    def by_tdp(values: Sequence[float]) -> float:
        return sum(w * v for w, v in zip(tdp_w, values, strict=True)) / sum(tdp_w)

    ids = list(dict.fromkeys(c.gpu_id for c in configs))
    return PowerConfig(
        gpu_id="+".join(ids),
        num_gpus=total,
        gpus_per_node=min(c.gpus_per_node for c in configs),
        gpu_tdp_w=sum(tdp_w) / total,
        compute_frac_of_tdp=by_tdp(compute),
        communication_frac_of_tdp=by_tdp([c.communication_frac_of_tdp for c in configs]),
        idle_frac_of_tdp=by_tdp([c.idle_frac_of_tdp for c in configs]),
        overhead_w_per_gpu=sum(over_w) / total,
        overhead_idle_frac=(
            sum(w * c.overhead_idle_frac for w, c in zip(over_w, configs, strict=True))
            / sum(over_w)
            if sum(over_w) > 0
            else 0.0
        ),
        network_power_w=float(network_power_w),
        storage_power_w=sum(c.storage_power_w for c in configs),
        pue=configs[0].pue,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PhasePower:
    """Cluster power in one phase (W). ``it_w`` is the sum of the four parts."""

    gpu_w: float
    overhead_w: float
    network_w: float
    storage_w: float
    it_w: float
    facility_w: float


def phase_power(config: PowerConfig, *, gpu_frac_of_tdp: float) -> PhasePower:
    """Whole-cluster power when every GPU draws ``gpu_frac_of_tdp`` x TDP.

    Args:
        config: resolved power configuration.
        gpu_frac_of_tdp: GPU power as a fraction of TDP (0..1+).
    """
    gpu_w = config.num_gpus * config.gpu_tdp_w * gpu_frac_of_tdp
    # MODEL: the rest of the server scales linearly with GPU load between its idle share and
    # its full-load figure (fans, pumps, PSU losses follow the load; CPUs and memory do not).
    overhead_frac = config.overhead_idle_frac + (1.0 - config.overhead_idle_frac) * min(
        gpu_frac_of_tdp, 1.0
    )
    overhead_w = config.num_gpus * config.overhead_w_per_gpu * overhead_frac
    # MODEL: network and storage power do not follow the step's phases (constant draw).
    it_w = gpu_w + overhead_w + config.network_power_w + config.storage_power_w
    return PhasePower(
        gpu_w=gpu_w,
        overhead_w=overhead_w,
        network_w=config.network_power_w,
        storage_w=config.storage_power_w,
        it_w=it_w,
        # MODEL: constant PUE, applied to instantaneous IT power: cooling power follows the IT
        # load at once (conservative: real cooling plant has thermal inertia, so the grid sees
        # a swing smaller by up to a factor PUE).
        facility_w=it_w * config.pue,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterPower:
    """Steady-state power of the cluster running a training step.

    Attributes:
        config: the configuration it was computed from.
        phases: the step phases.
        compute / communication / idle: power in each phase.
        nameplate_it_w: IT power with every GPU at TDP (sizes the facility), W.
        average_it_w / average_facility_w: time-average over one step, W.
        energy_per_step_j: facility energy of one step, J.
        step_swing_w: facility compute-phase power minus the lowest phase power that occurs in
            the step (the swing every step), W.
        peak_swing_w: facility compute-phase power minus idle power (the swing of a failure,
            a job stop or start), W.
        peak_swing_it_w: the same at IT level, W.
    """

    config: PowerConfig
    phases: StepPhases
    compute: PhasePower
    communication: PhasePower
    idle: PhasePower
    nameplate_it_w: float
    average_it_w: float
    average_facility_w: float
    energy_per_step_j: float
    step_swing_w: float
    peak_swing_w: float
    peak_swing_it_w: float


def cluster_power(config: PowerConfig, phases: StepPhases) -> ClusterPower:
    """Power per phase, step average and swings of the whole cluster.

    Args:
        config: resolved power configuration.
        phases: split of one training step, s.
    """
    compute = phase_power(config, gpu_frac_of_tdp=config.compute_frac_of_tdp)
    comm = phase_power(config, gpu_frac_of_tdp=config.communication_frac_of_tdp)
    idle = phase_power(config, gpu_frac_of_tdp=config.idle_frac_of_tdp)
    nameplate = phase_power(config, gpu_frac_of_tdp=1.0)
    step_s = phases.step_s
    # Step average = time-weighted mean of the phase powers.
    energy_it_j = (
        compute.it_w * phases.compute_s
        + comm.it_w * phases.communication_s
        + idle.it_w * phases.idle_s
    )
    levels = [
        p.facility_w
        for p, t in (
            (compute, phases.compute_s),
            (comm, phases.communication_s),
            (idle, phases.idle_s),
        )
        if t > 0
    ]
    return ClusterPower(
        config=config,
        phases=phases,
        compute=compute,
        communication=comm,
        idle=idle,
        nameplate_it_w=nameplate.it_w,
        average_it_w=energy_it_j / step_s,
        average_facility_w=energy_it_j * config.pue / step_s,
        energy_per_step_j=energy_it_j * config.pue,
        step_swing_w=max(levels) - min(levels),
        peak_swing_w=compute.facility_w - idle.facility_w,
        peak_swing_it_w=compute.it_w - idle.it_w,
    )
