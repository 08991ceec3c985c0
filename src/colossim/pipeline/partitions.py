"""Mixed-generation clusters: one job spanning the partitions, or one job per partition.

Spanning job (``cluster.job: spanning``). Every rank runs the same plan in lock step, so:
- memory: every partition's GPU is taken with the smallest HBM of the cluster (a plan
  must fit on every rank);
- NVLink domain: the smallest of the cluster (TP groups must fit in every partition);
- network: one fabric spans the partitions, built at the slowest NIC rate (a collective
  runs at its slowest member's link);
- time: the step takes as long as on the slowest partition. The search runs on each
  partition and the union of their best plans is re-ranked by that paced step time (the
  plan best for the slowest GPU is nearly always the answer; a plan that only a mix of
  partitions would choose is not searched for).
Each partition's utilisation is its own step time over the paced one: what its faster
GPUs lose waiting. MODEL: a plan that gives faster partitions more layers or replicas
(heterogeneity-aware placement) could recover part of that loss; it is not modelled.

Separate jobs (``cluster.job: separate``): each partition runs its own copy of the
workload on its own fabric, with the global batch scaled to its share of the GPUs (each
data-parallel replica keeps the same work). The headline answer is the largest
partition's job.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from colossim.cluster import cluster_for
from colossim.fabric import build_fabric
from colossim.hardware import gpu as gpu_spec
from colossim.parallel.plan import Plan
from colossim.perf.estimate import Context, Estimate, context, estimate
from colossim.scenario.partitions import PartitionSection
from colossim.scenario.schema import ClusterSection, Scenario
from colossim.search import SearchResult, SearchSpace, plan_search
from colossim.units import GBIT_PER_S_TO_BYTES_PER_S
from colossim.workload.model import TransformerSpec
from colossim.workload.training import Training

__all__ = [
    "PartitionUse",
    "Spanning",
    "partition_list",
    "partition_scenarios",
    "spanning_contexts",
    "spanning_plans",
]

# Plans taken from each partition's search into the paced re-ranking.
PLANS_PER_PARTITION = 24


def partition_list(sc: Scenario) -> tuple[PartitionSection, ...]:
    """The scenario's partitions; a homogeneous cluster is one partition."""
    c = sc.cluster
    if c.partitions:
        return tuple(c.partitions)
    return (PartitionSection(gpu=c.gpu, num_gpus=int(c.num_gpus or 0)),)


def _nic_bytes(sc: Scenario, p: PartitionSection) -> float:
    gbit = p.nic_gbit_per_s or sc.cluster.nic_gbit_per_s
    return gbit * GBIT_PER_S_TO_BYTES_PER_S if gbit else gpu_spec(p.gpu).nic_bw_bytes_per_s


def spanning_contexts(
    sc: Scenario, model: TransformerSpec, training: Training
) -> tuple[Context, ...]:
    """One context per partition for a job spanning them all: each partition's GPU (with
    the cluster's smallest HBM) over the whole GPU count, the smallest NVLink domain, and
    one fabric built at the slowest NIC (see the module docstring)."""
    c = sc.cluster
    parts = partition_list(sc)
    gpus = [gpu_spec(p.gpu, field="cluster.partitions.gpu") for p in parts]
    hbm = min(g.hbm_bytes for g in gpus)
    domain = min(
        p.scaleup_domain or c.scaleup_domain or g.scaleup_domain
        for p, g in zip(parts, gpus, strict=True)
    )
    nic = min(_nic_bytes(sc, p) for p in parts)
    slow = min(range(len(parts)), key=lambda i: _nic_bytes(sc, parts[i]))
    total = sum(p.num_gpus for p in parts)
    clusters = [
        cluster_for(
            dataclasses.replace(g, hbm_bytes=hbm),
            total,
            gpus_per_node=p.gpus_per_node or c.gpus_per_node,
            scaleup_domain=domain,
            nic_bw_bytes_per_s=nic,
            nic_efficiency=c.nic_efficiency,
        )
        for p, g in zip(parts, gpus, strict=True)
    ]
    ref = clusters[slow]
    fabric_cfg = c.fabric.to_config(
        total,
        ref.gpus_per_node,
        domain,
        gpu=ref.gpu.id,
        nic_gbit_per_s=nic / GBIT_PER_S_TO_BYTES_PER_S,
    )
    fabric = build_fabric(fabric_cfg)
    return tuple(
        context(model, training, cl, fabric=fabric, nic_efficiency=c.nic_efficiency)
        for cl in clusters
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionUse:
    """One partition running the chosen plan of a spanning job.

    Attributes:
        label / gpu_id / num_gpus: the partition.
        step_time_s: the plan's step on this partition's GPUs alone, s.
        utilisation: ``step_time_s`` / the paced step (1 for the pacing partition).
        mfu: model FLOPs utilisation of this partition's GPUs at the paced step.
    """

    label: str
    gpu_id: str
    num_gpus: int
    step_time_s: float
    utilisation: float
    mfu: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Spanning:
    """A spanning job's plans, ranked by the paced step, and how each partition is used.

    Attributes:
        ranked: per plan (best first), its estimate on each partition.
        searches: each partition's search (empty for a fixed plan).
    """

    ranked: tuple[tuple[Estimate, ...], ...]
    searches: tuple[SearchResult, ...]

    def pacing(self, rank: int = 0) -> int:
        """Index of the partition that paces plan ``rank``."""
        ests = self.ranked[rank]
        return max(range(len(ests)), key=lambda i: ests[i].step_time_s)

    def paced(self, rank: int = 0) -> Estimate:
        return self.ranked[rank][self.pacing(rank)]

    def uses(self, parts: tuple[PartitionSection, ...]) -> tuple[PartitionUse, ...]:
        """How each partition runs the best plan."""
        paced = self.paced(0)
        return tuple(
            PartitionUse(
                label=p.label,
                gpu_id=p.gpu,
                num_gpus=p.num_gpus,
                step_time_s=e.step_time_s,
                utilisation=e.step_time_s / paced.step_time_s,
                mfu=e.mfu * e.step_time_s / paced.step_time_s,
            )
            for p, e in zip(parts, self.ranked[0], strict=True)
        )


def _paced_key(ests: tuple[Estimate, ...]) -> float:
    """Sort key: the paced (slowest partition's) total tokens/s, highest first, as the
    search ranks plans."""
    return -min(e.tokens_per_s for e in ests)


def spanning_plans(
    ctxs: tuple[Context, ...], space: SearchSpace, *, fixed: Plan | None, exact_gpus: bool
) -> Spanning:
    """The spanning job: a fixed plan on every partition, or each partition's best searched
    plans re-ranked by the paced step (the slowest partition's)."""
    if fixed is not None:
        return Spanning(
            ranked=(tuple(estimate(c, fixed, exact_gpus=exact_gpus) for c in ctxs),),
            searches=(),
        )
    searches = tuple(plan_search(c, space) for c in ctxs)
    plans: dict[tuple, Plan] = {}
    for res in searches:
        if res.feasible is None:
            continue
        for i in range(min(PLANS_PER_PARTITION, len(res.feasible))):
            p = Estimate.from_batch(res.feasible, i, ctxs[0]).plan
            plans.setdefault(tuple(sorted(p.as_dict().items())), p)
    ranked = []
    for p in plans.values():
        ests = tuple(estimate(c, p, exact_gpus=False) for c in ctxs)
        if all(e.fits for e in ests):
            ranked.append(ests)
    ranked.sort(key=_paced_key)
    return Spanning(ranked=tuple(ranked), searches=searches)


def partition_scenarios(sc: Scenario) -> list[tuple[str, Scenario]]:
    """(label, scenario) of each partition run as its own job: a homogeneous cluster of
    its GPUs on its own fabric, the global batch scaled to its share of the GPUs, and its
    own searched plan."""
    c, w = sc.cluster, sc.workload
    parts = partition_list(sc)
    total = sum(p.num_gpus for p in parts)
    out = []
    for p in parts:
        cluster = ClusterSection(
            gpu=p.gpu,
            num_gpus=p.num_gpus,
            gpus_per_node=p.gpus_per_node or c.gpus_per_node,
            scaleup_domain=p.scaleup_domain or c.scaleup_domain,
            nic_gbit_per_s=p.nic_gbit_per_s or c.nic_gbit_per_s,
            nic_efficiency=c.nic_efficiency,
            fabric=c.fabric,
        )
        batch = max(1, round(w.global_batch_sequences * p.num_gpus / total))
        workload = w.model_copy(update={"global_batch": batch, "global_batch_tokens": None})
        sub = sc.model_copy(
            update={
                "name": f"{sc.name} [{p.label}]",
                "cluster": cluster,
                "workload": workload,
                "plan": "search",
                "phases": None,
            }
        )
        out.append((p.label, sub))
    return out
