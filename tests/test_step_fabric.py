"""The step-time model prices every collective on the fabric (issue 4)."""

from __future__ import annotations

import numpy as np
import pytest

from colossim.cluster import cluster_for
from colossim.fabric import build_fabric
from colossim.fabric.collectives import Collective, collective_time_s, link_levels
from colossim.fabric.topology import FabricConfig
from colossim.hardware import gpu
from colossim.parallel.plan import check_plans
from colossim.perf.collective_times import DISTINCT_MIN
from colossim.perf.estimate import context
from colossim.perf.step import evaluate
from colossim.search import SearchSpace, enumerate_plans
from colossim.workload.model import preset
from colossim.workload.training import Training

N_GPUS = 16_384


def _ctx(fabric=None, model="llama3-405b", gb=2048):
    c = cluster_for(gpu("h100-sxm-80gb"), N_GPUS)
    t = Training(seq_len=8192, global_batch=gb, tokens=1e12, precision="bf16", framework="megatron")
    return context(preset(model), t, c, fabric=fabric)


def _fabric(**kw):
    return build_fabric(
        FabricConfig(
            num_gpus=N_GPUS,
            gpus_per_node=8,
            scaleup_domain=8,
            gpu="h100-sxm-80gb",
            nic_gbit_per_s=400,
            switch="sn5600",
            **kw,
        )
    )


def _valid_plans(ctx, limit=None):
    plans = enumerate_plans(ctx.model, ctx.training, ctx.cluster, SearchSpace(batch_tolerance=0.0))
    bad = np.zeros(len(plans), dtype=bool)
    for mask in check_plans(ctx.model, ctx.training, ctx.cluster, plans).values():
        bad |= mask
    idx = np.flatnonzero(~bad)
    return plans.take(idx if limit is None else idx[:limit])


def _eval(ctx, plans):
    return evaluate(ctx, plans)


def test_network_is_the_fabrics_link_levels() -> None:
    f = _fabric()
    ctx = _ctx(f)
    assert ctx.network.levels == link_levels(
        f, scaleup_bw_bytes_per_s=ctx.cluster.gpu.scaleup_bw_bytes_per_s
    )
    # and the step model's collective equals the fabric's cost model on the same group
    size = np.array([2.0**30])
    t_step = ctx.network.time_s(
        Collective.ALL_REDUCE, size_bytes=size, group_size=np.array([512]), stride=np.array([8])
    )
    t_fab = collective_time_s(
        Collective.ALL_REDUCE,
        size_bytes=size,
        group_size=np.array([512]),
        stride=np.array([8]),
        levels=ctx.network.levels,
    )
    np.testing.assert_array_equal(t_step, t_fab)


def test_oversubscribed_or_slow_fabric_never_speeds_a_plan_up() -> None:
    """Same plans on a fabric with 4:1 leaf oversubscription or without adaptive routing
    (60% instead of ~95% of line rate): no plan gets faster, and data-parallel
    communication of some plan gets slower."""
    base = _ctx(_fabric())
    plans = _valid_plans(base, limit=3000)
    ref = _eval(base, plans)
    for kw in ({"oversubscription": (4.0, 1.0, 1.0)}, {"efficiency": "ethernet"}):
        slow = _ctx(_fabric(**kw))
        got = _eval(slow, plans)
        assert np.all(got.step_time_s >= ref.step_time_s * (1 - 1e-12)), kw
        assert np.any(got.dp_comm_s > ref.dp_comm_s * 1.01), kw


def test_distinct_key_shortcut_is_exact() -> None:
    """Evaluating a large batch (collectives priced once per distinct communication key)
    gives bit-identical results to evaluating it in small chunks (no shortcut)."""
    ctx = _ctx(_fabric(), model="mixtral-8x22b", gb=4096)
    plans = _valid_plans(ctx)
    assert len(plans) >= 2 * DISTINCT_MIN
    whole = _eval(ctx, plans)
    chunk = DISTINCT_MIN // 2
    parts = [
        _eval(ctx, plans.take(np.arange(i, min(i + chunk, len(plans)))))
        for i in range(0, len(plans), chunk)
    ]
    for name in ("step_time_s", "tp_comm_s", "cp_comm_s", "ep_comm_s", "pp_comm_s", "dp_comm_s"):
        np.testing.assert_array_equal(
            getattr(whole, name), np.concatenate([getattr(p, name) for p in parts]), name
        )


def test_scenario_context_carries_its_fabric() -> None:
    from colossim.pipeline import run_scenario

    r = run_scenario(None)
    ctx = r.ctx
    assert ctx.fabric is not None and ctx.fabric.tiers == 3
    assert r.fabric is ctx.fabric
    assert len(ctx.network.levels.bw_bytes_per_s) == ctx.fabric.tiers + 1
    assert ctx.network.levels.ranks_per_level[-1] >= ctx.cluster.num_gpus
    assert ctx.network.levels.bw_bytes_per_s[1] == pytest.approx(
        ctx.fabric.scaleout_bw_bytes_per_s[0]
    )
