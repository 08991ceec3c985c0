"""Failure model: per-component interruption rates scaled to a cluster, and closed forms.

A *failure profile* (``catalog/reliability.yaml``, kind ``failure_profile``) gives, per cause,
an interruption rate per unit-year of wall-clock exposure, where the unit is what the cause
scales with (GPU, node, NIC, CPU, switch, or the job itself). Multiplying by the unit counts
of a cluster (:class:`ClusterCounts`) gives the job-level rate of each cause, in 1/s.

# MODEL: every cause is an independent Poisson process with a constant rate (no infant
# mortality, no wear-out, no correlated failures); the sum of the causes is then Poisson with
# the summed rate, and the mean time between interruptions (MTBI) is 1 / total rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from colossim.catalog import load_catalog, lookup
from colossim.errors import InputError, did_you_mean, require_int, require_number
from colossim.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_YEAR

__all__ = [
    "CauseRate",
    "ClusterCounts",
    "FailureCause",
    "FailureDomain",
    "FailureProfile",
    "FailureUnit",
    "cause_rates",
    "expected_interruptions",
    "failure_profile",
    "failure_profile_ids",
    "mtbi_s",
    "spare_nodes_for_coverage",
    "total_rate_per_s",
    "unit_count",
]


class FailureUnit(StrEnum):
    """What a failure rate scales with."""

    GPU = "gpu"
    NODE = "node"
    NIC = "nic"
    CPU = "cpu"
    SWITCH = "switch"
    DOMAIN = "nvlink_domain"  # one NVLink (scale-up) domain, e.g. an NVL72 rack
    LEAF_SWITCH = "leaf_switch"  # one leaf (ToR / rail) switch of the scale-out fabric
    POWER_ZONE = "power_zone"  # one power/cooling zone (a row behind one busway, PDU, CDU)
    JOB = "job"


class FailureDomain(StrEnum):
    """Failure domains that take down many GPUs at once (not the node: that is the default).

    Each is its own kind of interruption in the engine, with its own cost under each
    recovery policy (:func:`colossim.campaign.recovery.domain_costs`).
    """

    LEAF_SWITCH = "leaf_switch"
    POWER_ZONE = "power_zone"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterCounts:
    """Component counts of the job's allocation (not counting hot spares).

    Attributes:
        num_gpus: GPUs in the job.
        gpus_per_node: GPUs per node (server); must divide ``num_gpus``.
        nics_per_node: backend NICs per node.
        cpus_per_node: host CPU sockets per node.
        num_switches: fabric switches serving the job (only used by ``switch`` causes).
        scaleup_domain: GPUs per NVLink domain (0: the node is the domain).
        leaf_switches: leaf switches serving the job (``leaf_switch`` causes).
        leaf_gpus: GPUs a leaf switch takes down (the nodes under its downlinks), >= 1 when
            ``leaf_switches`` > 0.
        zone_gpus: GPUs in one power/cooling zone (0: no zone failures).
    """

    num_gpus: int
    gpus_per_node: int
    nics_per_node: int
    cpus_per_node: int
    num_switches: int = 0
    scaleup_domain: int = 0
    leaf_switches: int = 0
    leaf_gpus: int = 0
    zone_gpus: int = 0

    def __post_init__(self) -> None:
        for name, minimum in (
            ("num_gpus", 1),
            ("gpus_per_node", 1),
            ("nics_per_node", 0),
            ("cpus_per_node", 0),
            ("num_switches", 0),
            ("scaleup_domain", 0),
            ("leaf_switches", 0),
            ("leaf_gpus", 0),
            ("zone_gpus", 0),
        ):
            # Frozen: store the checked value as an int (``1e3`` from YAML is a count too).
            object.__setattr__(self, name, require_int(name, getattr(self, name), minimum=minimum))
        if self.num_gpus % self.gpus_per_node:
            raise InputError(
                "num_gpus",
                f"is not a multiple of gpus_per_node={self.gpus_per_node}",
                value=self.num_gpus,
                fix="use a whole number of nodes",
            )

    @property
    def num_nodes(self) -> int:
        """Nodes in the job."""
        return self.num_gpus // self.gpus_per_node

    @property
    def num_domains(self) -> int:
        """NVLink domains the job touches (a partly used domain still fails as a unit)."""
        domain = self.scaleup_domain or self.gpus_per_node
        return -(-self.num_gpus // domain)

    @property
    def num_zones(self) -> int:
        """Power/cooling zones the job touches (0 without zones)."""
        return -(-self.num_gpus // self.zone_gpus) if self.zone_gpus else 0

    def domain_gpus(self, domain: FailureDomain) -> int:
        """GPUs one failure of ``domain`` takes down (whole nodes, at most the job)."""
        gpus = self.leaf_gpus if domain is FailureDomain.LEAF_SWITCH else self.zone_gpus
        nodes = -(-max(gpus, 1) // self.gpus_per_node)
        return min(nodes * self.gpus_per_node, self.num_gpus)

    @property
    def num_nics(self) -> int:
        """Backend NICs in the job."""
        return self.num_nodes * self.nics_per_node

    @property
    def num_cpus(self) -> int:
        """Host CPU sockets in the job."""
        return self.num_nodes * self.cpus_per_node


def unit_count(counts: ClusterCounts, unit: FailureUnit) -> int:
    """Number of units of kind ``unit`` in the job."""
    return {
        FailureUnit.GPU: counts.num_gpus,
        FailureUnit.NODE: counts.num_nodes,
        FailureUnit.NIC: counts.num_nics,
        FailureUnit.CPU: counts.num_cpus,
        FailureUnit.SWITCH: counts.num_switches,
        FailureUnit.DOMAIN: counts.num_domains,
        FailureUnit.LEAF_SWITCH: counts.leaf_switches,
        FailureUnit.POWER_ZONE: counts.num_zones,
        FailureUnit.JOB: 1,
    }[unit]


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureCause:
    """One interruption cause of a profile.

    Attributes:
        name: cause id (``faulty_gpu``).
        category: grouping (gpu, host, network, software, unplanned_maintenance, planned).
        unit: what the rate scales with.
        rate_per_unit_year: interruptions per unit per year of wall-clock exposure.
        replaces_node: the failed node is swapped for a spare and sent to repair.
        planned: a planned interruption (announced: checkpoint first, no work lost).
        reference_count: the published count the rate was derived from, if any.
        domain: the failure domain it takes down (None: one node, or in place).
        repair_s: a domain's time until it is back (switch swapped, power restored), s.
    """

    name: str
    category: str
    unit: FailureUnit
    rate_per_unit_year: float
    replaces_node: bool = False
    planned: bool = False
    reference_count: int | None = None
    domain: FailureDomain | None = None
    repair_s: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureProfile:
    """Per-unit interruption rates of every cause, with the reference they came from.

    Attributes:
        id: catalog id.
        causes: unexpected causes followed by planned maintenance (if any).
        reference_counts: the cluster the rates were derived on (None if not derived).
        reference_window_s: the observation window of the reference, s.
        scaleup_domain_gpus: GPUs per NVLink domain of the systems the profile describes
            (0: the node), used when the cluster does not say.
        leaf_gpus: GPUs under one leaf switch when the fabric is not known.
        zone_gpus: GPUs in one power/cooling zone of the systems the profile describes.
    """

    id: str
    causes: tuple[FailureCause, ...]
    reference_counts: ClusterCounts | None = None
    reference_window_s: float | None = None
    scaleup_domain_gpus: int = 0
    leaf_gpus: int = 0
    zone_gpus: int = 0

    def cause_names(self) -> tuple[str, ...]:
        """Names of every cause, in order."""
        return tuple(c.name for c in self.causes)


@dataclass(frozen=True, slots=True, kw_only=True)
class CauseRate:
    """Job-level rate of one cause on a given cluster.

    Attributes:
        name: cause id.
        category: grouping.
        rate_per_s: interruptions of the job per second of wall clock.
        replaces_node: the failed node needs a spare (see :class:`FailureCause`).
        planned: announced interruption, no work lost.
        domain: the failure domain it takes down (None: one node, or in place).
        domain_gpus: GPUs one such failure takes down (domains only).
        repair_s: until the domain is back, s (domains only).
    """

    name: str
    category: str
    rate_per_s: float
    replaces_node: bool = False
    planned: bool = False
    domain: FailureDomain | None = None
    domain_gpus: int = 0
    repair_s: float = 0.0

    def __post_init__(self) -> None:
        require_number(f"failure_rates.{self.name}", self.rate_per_s, minimum=0.0, unit="1/s")
        if self.domain is not None:
            object.__setattr__(self, "domain", FailureDomain(self.domain))
            require_number(f"failure_rates.{self.name}.repair_s", self.repair_s, minimum=0.0)
            require_int(f"failure_rates.{self.name}.domain_gpus", self.domain_gpus, minimum=1)


def failure_profile_ids() -> list[str]:
    """Ids of the failure profiles in the catalog."""
    return [
        k for k, e in load_catalog("reliability").items() if e.values["kind"] == "failure_profile"
    ]


def failure_profile(
    profile_id: str, *, field: str = "reliability.failure_profile"
) -> FailureProfile:
    """Load a failure profile from ``catalog/reliability.yaml``.

    Args:
        profile_id: catalog id, e.g. ``"llama3-h100"``.
        field: input field that named it (for error messages).
    """
    entry = lookup("reliability", profile_id, field=field)
    values = entry.values
    if values.get("kind") != "failure_profile":
        raise InputError(
            field,
            "is not a failure profile",
            value=profile_id,
            fix=f"use one of: {', '.join(failure_profile_ids())}",
        )
    causes = [_cause(str(name), c) for name, c in values["causes"].items()]
    domains_id = values.get("failure_domains")
    if domains_id:
        # Failure domains (leaf switch, power/cooling zone) are shared by the profiles.
        domains = lookup("reliability", str(domains_id), field=field).values
        causes += [_cause(str(name), c) for name, c in domains["causes"].items()]
    planned = values.get("planned_maintenance")
    if planned:
        causes.append(
            FailureCause(
                name="planned_maintenance",
                category="planned",
                unit=FailureUnit(planned["unit"]),
                rate_per_unit_year=float(planned["rate_per_unit_year"]),
                planned=True,
                reference_count=planned.get("count"),
            )
        )
    reference = None
    if "reference_num_gpus" in values:
        reference = ClusterCounts(
            num_gpus=int(values["reference_num_gpus"]),
            gpus_per_node=int(values["reference_gpus_per_node"]),
            nics_per_node=int(values["reference_nics_per_node"]),
            cpus_per_node=int(values["reference_cpus_per_node"]),
            leaf_switches=int(values.get("reference_leaf_switches", 0)),
            leaf_gpus=int(values.get("leaf_gpus", 0)),
            zone_gpus=int(values.get("power_zone_gpus", 0)),
        )
    window = values.get("reference_window_days")
    return FailureProfile(
        id=profile_id,
        causes=tuple(causes),
        reference_counts=reference,
        reference_window_s=None if window is None else float(window) * SECONDS_PER_DAY,
        scaleup_domain_gpus=int(values.get("scaleup_domain_gpus", 0)),
        leaf_gpus=int(values.get("leaf_gpus", 0)),
        zone_gpus=int(values.get("power_zone_gpus", 0)),
    )


def _cause(name: str, c: Mapping) -> FailureCause:
    """One cause of a catalog profile (or of its shared failure domains)."""
    domain = c.get("domain")
    return FailureCause(
        name=name,
        category=str(c["category"]),
        unit=FailureUnit(c["unit"]),
        rate_per_unit_year=float(c["rate_per_unit_year"]),
        replaces_node=bool(c.get("replaces_node", False)),
        reference_count=c.get("count"),
        domain=None if domain is None else FailureDomain(domain),
        repair_s=float(c.get("repair_h", 0.0)) * SECONDS_PER_HOUR,
    )


def cause_rates(
    profile: FailureProfile,
    counts: ClusterCounts,
    *,
    multiplier: float = 1.0,
    overrides_per_unit_year: Mapping[str, float] | None = None,
    include_planned: bool = True,
) -> tuple[CauseRate, ...]:
    """Job-level interruption rate of every cause on a cluster.

    rate_job = rate_per_unit_year x units / year (superposition of independent Poisson
    processes, one per unit).

    Args:
        profile: per-unit rates.
        counts: the job's component counts.
        multiplier: scales every unexpected cause (not planned maintenance), e.g. 2.0 for an
            immature fleet; dimensionless, > 0.
        overrides_per_unit_year: replaces the per-unit-year rate of the named causes.
        include_planned: keep the planned-maintenance cause.

    Returns:
        One :class:`CauseRate` per cause, in profile order.
    """
    require_number("reliability.failure_rate_multiplier", multiplier, minimum=0.0)
    overrides = dict(overrides_per_unit_year or {})
    names = profile.cause_names()
    for name, value in overrides.items():
        if name not in names:
            hint = did_you_mean(name, names)
            raise InputError(
                f"reliability.failure_rate_overrides.{name}",
                "unknown failure cause",
                value=name,
                fix=f"{hint}causes of profile {profile.id!r}: {', '.join(names)}",
            )
        require_number(
            f"reliability.failure_rate_overrides.{name}", value, minimum=0.0, unit="per unit-year"
        )
    out = []
    for cause in profile.causes:
        if cause.planned and not include_planned:
            continue
        per_unit = overrides.get(cause.name, cause.rate_per_unit_year)
        scale = 1.0 if cause.planned else multiplier
        out.append(
            CauseRate(
                name=cause.name,
                category=cause.category,
                rate_per_s=per_unit * scale * unit_count(counts, cause.unit) / SECONDS_PER_YEAR,
                replaces_node=cause.replaces_node,
                planned=cause.planned,
                domain=cause.domain,
                domain_gpus=counts.domain_gpus(cause.domain) if cause.domain else 0,
                repair_s=cause.repair_s,
            )
        )
    return tuple(out)


def total_rate_per_s(
    rates: tuple[CauseRate, ...],
    *,
    planned: bool | None = None,
    replaces_node: bool | None = None,
    domain: bool | FailureDomain | None = None,
) -> float:
    """Sum of the cause rates, 1/s: the one place where cause rates are summed (the
    ``*_rate_per_s`` properties of ``CampaignConfig`` call it).

    Args:
        rates: job-level cause rates.
        planned: None sums all; False only unexpected causes; True only planned ones.
        replaces_node: None sums all; True only node-replacing causes; False only the others.
        domain: None sums all; False only causes of no failure domain (node or in place);
            True only failure-domain causes; a :class:`FailureDomain` only that domain's.
    """

    def domain_ok(r: CauseRate) -> bool:
        if domain is None:
            return True
        if isinstance(domain, FailureDomain):
            return r.domain is domain
        return (r.domain is not None) == domain

    return float(
        sum(
            r.rate_per_s
            for r in rates
            if (planned is None or r.planned == planned)
            and (replaces_node is None or r.replaces_node == replaces_node)
            and domain_ok(r)
        )
    )


def mtbi_s(rates: tuple[CauseRate, ...], *, planned: bool | None = False) -> float:
    """Closed-form mean time between interruptions, s: 1 / total rate (Poisson superposition).

    Returns ``math.inf``-free results: a cluster with zero rate raises :class:`InputError`.
    """
    total = total_rate_per_s(rates, planned=planned)
    if total <= 0:
        raise InputError("failure_rates", "total interruption rate is zero; MTBI is unbounded")
    return 1.0 / total


def expected_interruptions(
    rates: tuple[CauseRate, ...], *, exposure_s: float, planned: bool | None = None
) -> float:
    """Expected number of interruptions in ``exposure_s`` seconds of wall clock: rate x time."""
    return total_rate_per_s(rates, planned=planned) * exposure_s


def spare_nodes_for_coverage(*, node_rate_per_s: float, repair_s: float, coverage: float) -> int:
    """Smallest hot-spare pool that a node failure finds non-empty with probability ``coverage``.

    Node-replacing failures arrive as a Poisson process of rate lambda and each failed node
    is away for ``repair_s``: the nodes in repair form an M/G/infinity queue, whose count
    at any time is Poisson with mean lambda x repair (the M/G/infinity queue: Takacs 1962,
    Introduction to the Theory of Queues; Kleinrock 1975, Queueing Systems vol. 1). The pool
    is that Poisson's ``coverage`` quantile.

    Args:
        node_rate_per_s: rate of node-replacing interruptions of the job, 1/s (>= 0).
        repair_s: time a failed node is away, s (>= 0).
        coverage: probability in (0, 1).

    Returns:
        Spare nodes (>= 0).
    """
    require_number("failure_rates", node_rate_per_s, minimum=0.0, unit="1/s")
    require_number("reliability.repair_h", repair_s, minimum=0.0, unit="s")
    if not 0.0 < coverage < 1.0:
        raise InputError("reliability.spare_coverage", "must be in (0, 1)", value=coverage)
    mean = node_rate_per_s * repair_s
    if mean <= 0.0:
        return 0
    # Poisson cdf on a range that holds the quantile (mean + 12 sd covers 1 - 1e-30),
    # in log space so that large means do not underflow.
    k = np.arange(int(mean + 12.0 * math.sqrt(mean) + 20.0))
    log_factorial = np.concatenate(([0.0], np.cumsum(np.log(k[1:]))))
    log_pmf = k * math.log(mean) - mean - log_factorial
    cdf = np.cumsum(np.exp(log_pmf))
    return int(np.searchsorted(cdf, coverage, side="left"))
