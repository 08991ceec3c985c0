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
Each partition's utilisation is its busy time over the job's step: what its faster GPUs
lose waiting. ``cluster.placement: by_speed`` recovers part of it the way heterogeneity-
aware schedulers do: the step's micro-batches are dealt to each partition's data-parallel
replicas in proportion to their speed (whole micro-batches, so a step of few micro-batches
per replica gains little). MODEL: layers are not moved between pipeline stages by
partition (a stage of a replica stays within one partition).

Separate jobs (``cluster.job: separate``): each partition runs its own copy of the
workload on its own fabric, with the global batch scaled to its share of the GPUs (each
data-parallel replica keeps the same work). The headline answer is the largest
partition's job.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from colossim.cluster import cluster_for
from colossim.cost import server_price
from colossim.fabric import build_fabric
from colossim.hardware import gpu as gpu_spec
from colossim.parallel.plan import Plan
from colossim.perf.estimate import Context, Estimate, context, estimate
from colossim.power import PowerConfig, blend_power_configs, power_config
from colossim.scenario.partitions import PartitionSection
from colossim.scenario.schema import ClusterSection, Scenario
from colossim.search import SearchResult, SearchSpace, plan_search
from colossim.units import GBIT_PER_S_TO_BYTES_PER_S
from colossim.workload.model import TransformerSpec
from colossim.workload.training import Training

__all__ = [
    "Paced",
    "PartitionUse",
    "Spanning",
    "pace",
    "partition_list",
    "partition_power",
    "partition_scenarios",
    "server_groups",
    "spanning_contexts",
    "spanning_plans",
]

# Plans taken from each partition's search into the paced re-ranking: the search's own
# top plans are within a few percent of each other, so a couple of dozen per partition
# cover every plan that could win once paced (a few ms of estimates each).
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
    one fabric built at the slowest NIC (see the module docstring). A homogeneous cluster
    is one partition: its one context is the scenario's."""
    c = sc.cluster
    parts = partition_list(sc)
    field = "cluster.partitions.gpu" if c.partitions else "cluster.gpu"
    gpus = [gpu_spec(p.gpu, field=field) for p in parts]
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
        # The line rate as given (None: the fabric takes the GPU's catalog NIC).
        nic_gbit_per_s=parts[slow].nic_gbit_per_s or c.nic_gbit_per_s,
    )
    fabric = build_fabric(fabric_cfg)
    return tuple(
        context(model, training, cl, fabric=fabric, nic_efficiency=c.nic_efficiency)
        for cl in clusters
    )


# Parts of a step that every micro-batch repeats (the rest, pipeline fill and drain, the
# data-parallel gradient sync, the optimizer and the step overhead, happen once a step).
PER_MICRO_BATCH = (
    "gemm",
    "attention",
    "memory_bound",
    "recompute",
    "tp_comm_exposed",
    "cp_comm_exposed",
    "ep_comm_exposed",
    "pp_p2p",
    "host_launch_exposed",
    "overlap_interference",
)
# Bisection steps for the by-speed step time (relative precision 2^-60).
_BISECT = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionUse:
    """One partition running the chosen plan of a spanning job.

    Attributes:
        label / gpu_id / num_gpus: the partition.
        step_time_s: the plan's step on this partition's GPUs alone, s.
        micro_batches: micro-batches per data-parallel replica in a step (by speed: more
            on faster partitions).
        utilisation: this partition's busy time / the job's step (1 for the pacing one).
        mfu: model FLOPs utilisation of this partition's GPUs at the job's step.
    """

    label: str
    gpu_id: str
    num_gpus: int
    step_time_s: float
    micro_batches: int
    utilisation: float
    mfu: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Paced:
    """A plan run by every partition: the job's step and each partition's share."""

    step_time_s: float
    micro_batches: tuple[int, ...]
    busy_s: tuple[float, ...]
    pacing: int


def _split(e: Estimate) -> tuple[float, float, float]:
    """(micro-batches per replica, time per micro-batch, once-a-step time) of a plan."""
    m = e.plan.global_batch / (e.plan.dp * e.plan.micro_batch)
    per = sum(e.time_breakdown_s[k] for k in PER_MICRO_BATCH) / m
    return m, per, e.step_time_s - per * m


def pace(ests: tuple[Estimate, ...], shares: tuple[float, ...], *, by_speed: bool) -> Paced:
    """The step of one plan over partitions (``ests``: the plan on each partition's GPUs;
    ``shares``: each partition's share of the GPUs).

    Uniform: every replica runs the same micro-batches, the step is the slowest
    partition's. By speed: the step's micro-batches are dealt to the partitions' replicas
    (``dp x share`` each) so that the slowest finishes first: the smallest T with
    sum_i r_i floor((T - once_i) / per_i) >= dp x m (whole micro-batches)."""
    m, _, _ = _split(ests[0])
    if not by_speed:
        steps = tuple(e.step_time_s for e in ests)
        mbs = (round(m),) * len(ests)
        return Paced(step_time_s=max(steps), micro_batches=mbs, busy_s=steps, pacing=_argmax(steps))
    split = [_split(e) for e in ests]
    replicas = [ests[0].plan.dp * sh for sh in shares]
    need = ests[0].plan.dp * m

    def fits(t: float) -> bool:
        return (
            sum(r * max((t - o) // c, 0) for r, (_, c, o) in zip(replicas, split, strict=True))
            >= need - 1e-9
        )

    # Slightly above the slowest step, so that rounding cannot drop its last micro-batch.
    lo, hi = 0.0, max(e.step_time_s for e in ests) * (1 + 1e-9)
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    mbs = tuple(int(max((hi - o) // c, 0)) for _, c, o in split)
    busy = tuple(k * c + o if k else 0.0 for k, (_, c, o) in zip(mbs, split, strict=True))
    return Paced(step_time_s=max(busy), micro_batches=mbs, busy_s=busy, pacing=_argmax(busy))


def _argmax(values: tuple[float, ...]) -> int:
    return max(range(len(values)), key=lambda i: values[i])


@dataclass(frozen=True, slots=True, kw_only=True)
class Spanning:
    """A spanning job's plans, ranked by the job's throughput, and how each partition is
    used.

    Attributes:
        ranked: per plan (best first), its estimate on each partition's GPUs.
        searches: each partition's search (empty for a fixed plan).
        shares: each partition's share of the GPUs.
        peaks: each partition's GPU peak FLOP/s at the run's precision.
        by_speed: micro-batches dealt by speed (``cluster.placement: by_speed``).
    """

    ranked: tuple[tuple[Estimate, ...], ...]
    searches: tuple[SearchResult, ...]
    shares: tuple[float, ...]
    peaks: tuple[float, ...]
    by_speed: bool

    def paced_run(self, rank: int = 0, *, by_speed: bool | None = None) -> Paced:
        mode = self.by_speed if by_speed is None else by_speed
        return pace(self.ranked[rank], self.shares, by_speed=mode)

    def pacing(self, rank: int = 0) -> int:
        """Index of the partition that paces plan ``rank``."""
        return self.paced_run(rank).pacing

    def paced(self, rank: int = 0, *, by_speed: bool | None = None) -> Estimate:
        """Plan ``rank`` as the whole job runs it: the pacing partition's estimate at the
        job's step (its per-micro-batch parts for the micro-batches it runs), with the
        cluster-wide MFU (model FLOPs over the step x every GPU's peak)."""
        run = self.paced_run(rank, by_speed=by_speed)
        e = self.ranked[rank][run.pacing]
        m, _, _ = _split(e)
        scale = run.micro_batches[run.pacing] / m
        parts = {k: v * scale if k in PER_MICRO_BATCH else v for k, v in e.time_breakdown_s.items()}
        ratio = e.step_time_s / run.step_time_s
        mean_peak = sum(sh * pk for sh, pk in zip(self.shares, self.peaks, strict=True))
        flops_share = self.peaks[run.pacing] / mean_peak
        return dataclasses.replace(
            e,
            step_time_s=run.step_time_s,
            tokens_per_s=e.tokens_per_s * ratio,
            tokens_per_s_per_gpu=e.tokens_per_s_per_gpu * ratio,
            mfu=e.mfu * ratio * flops_share,
            hfu=e.hfu * ratio * flops_share,
            days_to_train=e.days_to_train / ratio,
            time_breakdown_s=parts,
        )

    def uses(self, parts: tuple[PartitionSection, ...]) -> tuple[PartitionUse, ...]:
        """How each partition runs the best plan."""
        run = self.paced_run(0)
        out = []
        for p, e, k, busy in zip(parts, self.ranked[0], run.micro_batches, run.busy_s, strict=True):
            m, _, _ = _split(e)
            out.append(
                PartitionUse(
                    label=p.label,
                    gpu_id=p.gpu,
                    num_gpus=p.num_gpus,
                    step_time_s=e.step_time_s,
                    micro_batches=k,
                    utilisation=busy / run.step_time_s,
                    mfu=e.mfu * e.step_time_s / run.step_time_s * k / m,
                )
            )
        return tuple(out)


def spanning_plans(
    ctxs: tuple[Context, ...],
    space: SearchSpace,
    *,
    fixed: Plan | None,
    exact_gpus: bool,
    shares: tuple[float, ...],
    by_speed: bool,
) -> Spanning:
    """The spanning job: a fixed plan on every partition, or each partition's best searched
    plans re-ranked by the job's throughput."""
    peaks = tuple(c.cluster.gpu.peak(c.training.precision) for c in ctxs)
    common = {"shares": shares, "peaks": peaks, "by_speed": by_speed}
    if fixed is not None:
        ranked = (tuple(estimate(c, fixed, exact_gpus=exact_gpus) for c in ctxs),)
        return Spanning(ranked=ranked, searches=(), **common)
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

    def key(ests: tuple[Estimate, ...]) -> float:
        # The job's total tokens/s, highest first, as the search ranks plans.
        run = pace(ests, shares, by_speed=by_speed)
        return -ests[0].tokens_per_s * ests[0].step_time_s / run.step_time_s

    ranked.sort(key=key)
    return Spanning(ranked=tuple(ranked), searches=searches, **common)


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


def partition_power(sc: Scenario, ref: PowerConfig, utilisation: list[float] | None) -> PowerConfig:
    """The cluster's power configuration from each partition's node power (``ref``: the
    facility's configuration at one GPU type, for PUE and the fabric's power;
    ``utilisation``: each partition's busy share of the step, None: all busy)."""
    parts = partition_list(sc)
    configs = [
        power_config(
            gpu_id=p.gpu,
            num_gpus=p.num_gpus,
            gpus_per_node=p.gpus_per_node
            or sc.cluster.gpus_per_node
            or gpu_spec(p.gpu).gpus_per_node,
            fabric_power_w=0.0,
            pue=ref.pue,
        )
        for p in parts
    ]
    use = utilisation if utilisation is not None else [1.0] * len(parts)
    return blend_power_configs(configs, use, network_power_w=ref.network_power_w)


def server_groups(sc: Scenario) -> tuple[tuple[int, float, int], ...]:
    """(GPUs, server price USD, GPUs per server) of each partition (InputError for a GPU
    without a price)."""
    c = sc.cost
    return tuple(
        (p.num_gpus, *server_price(p.gpu, c.server_usd, c.gpus_per_server))
        for p in partition_list(sc)
    )
