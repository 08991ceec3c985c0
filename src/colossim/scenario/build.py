"""Turn a validated :class:`Scenario` into the core records."""

from __future__ import annotations

from colossim.api import Context, cluster_for, context
from colossim.hardware import gpu
from colossim.model import preset, spec_from_dict
from colossim.plan import Plan, Recompute, Sharding
from colossim.scenario.schema import Scenario
from colossim.search import SearchSpace
from colossim.units import GBIT_PER_S_TO_BYTES_PER_S
from colossim.workload import Training

__all__ = ["build_context", "build_plan", "build_space"]


def build_context(sc: Scenario) -> Context:
    w, c = sc.workload, sc.cluster
    model = preset(w.model) if isinstance(w.model, str) else spec_from_dict(w.model.model_dump(), name=w.model.name)
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
        nic_bw_bytes_per_s=c.nic_gbit_per_s * GBIT_PER_S_TO_BYTES_PER_S if c.nic_gbit_per_s else None,
        nic_efficiency=c.nic_efficiency,
    )
    return context(model, training, cluster)


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
