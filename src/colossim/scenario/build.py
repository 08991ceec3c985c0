"""Turn a validated :class:`Scenario` into the core records."""

from __future__ import annotations

from colossim.cluster import cluster_for
from colossim.hardware import gpu
from colossim.parallel.plan import Plan, Recompute, Sharding
from colossim.perf.estimate import Context, context
from colossim.scenario.schema import Scenario
from colossim.search import SearchSpace
from colossim.units import GBIT_PER_S_TO_BYTES_PER_S
from colossim.workload.model import preset, spec_from_dict
from colossim.workload.training import Training

__all__ = ["build_context", "build_plan", "build_space"]


def build_context(sc: Scenario) -> Context:
    w, c = sc.workload, sc.cluster
    model = (
        preset(w.model)
        if isinstance(w.model, str)
        else spec_from_dict(w.model.model_dump(), name=w.model.name)
    )
    training = Training(
        seq_len=w.seq_len,
        global_batch=w.global_batch_sequences,
        tokens=float(w.tokens),
        precision=w.precision,
        framework=w.framework,
    )
    cluster = cluster_for(
        gpu(c.gpu),
        c.num_gpus,
        gpus_per_node=c.gpus_per_node,
        scaleup_domain=c.scaleup_domain,
        nic_bw_bytes_per_s=c.nic_gbit_per_s * GBIT_PER_S_TO_BYTES_PER_S
        if c.nic_gbit_per_s
        else None,
        nic_efficiency=c.nic_efficiency,
    )
    # The step model prices collectives on the scenario's own fabric (tiers, reach,
    # oversubscription, efficiency profile), the one `colossim fabric` reports.
    fabric = _fabric_for(sc, cluster)
    return context(model, training, cluster, fabric=fabric, nic_efficiency=c.nic_efficiency)


def build_plan(sc: Scenario, ctx: Context) -> Plan | None:
    if sc.plan == "search":
        return None
    p = sc.plan
    return Plan(
        tp=p.tp,
        pp=p.pp,
        dp=p.dp,
        cp=p.cp,
        ep=p.ep,
        vp=p.vp,
        micro_batch=p.micro_batch,
        global_batch=ctx.training.global_batch,
        recompute=Recompute[p.recompute.upper()],
        sharding=Sharding[p.sharding.upper()],
    )


def build_space(sc: Scenario) -> SearchSpace:
    s = sc.search
    return SearchSpace(batch_tolerance=s.batch_tolerance, allow_idle=s.allow_idle, max_tp=s.max_tp)


def build_fabric(sc: Scenario, ctx: Context):
    """The scale-out fabric of the scenario's cluster (bill of materials)."""
    if ctx.fabric is not None:
        return ctx.fabric
    return _fabric_for(sc, ctx.cluster)


def _fabric_for(sc: Scenario, c):
    from colossim.fabric import build_fabric as _build

    cfg = sc.cluster.fabric.to_config(
        c.num_gpus,
        c.gpus_per_node,
        c.scaleup_domain,
        gpu=c.gpu.id,
        nic_gbit_per_s=sc.cluster.nic_gbit_per_s,
    )
    return _build(cfg)


def step_phases(est):
    """Map a step-time breakdown to the power model's phases: GPUs computing, waiting on
    exposed communication, or idle (pipeline bubble, optimizer, step overhead)."""
    from colossim.power import StepPhases

    b = est.time_breakdown_s
    comm = sum(
        b[k]
        for k in (
            "tp_comm_exposed",
            "cp_comm_exposed",
            "ep_comm_exposed",
            "pp_p2p",
            "dp_comm_exposed",
        )
    )
    idle = b["pipeline_bubble"] + b["step_overhead"]
    compute = max(est.step_time_s - comm - idle, 0.0)
    return StepPhases(compute_s=compute, communication_s=comm, idle_s=idle)


def build_facility(sc: Scenario, ctx: Context, est, fabric, *, simulate: bool = True):
    """Power per phase (and, with ``simulate``, the trace and grid + battery)."""
    from colossim.power import cluster_power, simulate_facility

    c = ctx.cluster
    cfg = sc.facility.to_config(
        gpu_id=c.gpu.id,
        num_gpus=c.num_gpus,
        gpus_per_node=c.gpus_per_node,
        fabric_power_w=fabric.power_w,
    )
    phases = step_phases(est)
    if simulate:
        return simulate_facility(cfg, phases)
    return cluster_power(cfg.power, phases)


def build_cost(sc: Scenario, ctx: Context, est, fabric, power, *, battery_id=None, battery_units=0):
    """Capex, opex and $ per GPU-hour and per training run."""
    from colossim.cost import cluster_cost

    cfg = sc.cost.to_config(
        gpu_id=ctx.cluster.gpu.id,
        num_gpus=ctx.cluster.num_gpus,
        fabric_cost_usd=fabric.cost_usd,
        battery_id=battery_id,
        battery_units=battery_units,
    )
    return cluster_cost(
        cfg,
        nameplate_it_w=power.nameplate_it_w,
        average_facility_w=power.average_facility_w,
        run_hours=est.days_to_train * 24 if est else None,
    )
