"""Plan search: the factored, pruned, chunked search equals a brute-force reference.

The reference expands every candidate, applies ``check_plans`` and the memory check to
each plan, evaluates every feasible plan and ranks them with one stable sort; the
search must reproduce its counts per reason, its feasible count, its best plans in the
same order and its Pareto front.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import colossim.search.engine as search_mod
from colossim.cli.main import main
from colossim.cluster import cluster_for
from colossim.hardware import gpu
from colossim.parallel.memory import memory_breakdown
from colossim.parallel.plan import Infeasible, Recompute, Sharding, check_plans
from colossim.perf.estimate import context
from colossim.perf.step import evaluate
from colossim.search import SearchSpace, candidate_values, enumerate_plans, plan_search, search
from colossim.workload.model import preset
from colossim.workload.training import Training


def _ctx(model, gpu_id, n, gb, seq=4096):
    return context(
        preset(model),
        Training(seq_len=seq, global_batch=gb, tokens=1e12, precision="bf16", framework="megatron"),
        cluster_for(gpu(gpu_id), n),
    )


CASES = {
    "dense-exact": (_ctx("llama3-70b", "h100-sxm-80gb", 256, 128, 8192), SearchSpace()),
    "moe-idle": (
        _ctx("mixtral-8x22b", "h100-sxm-80gb", 200, 400),
        SearchSpace(batch_tolerance=0.1, allow_idle=True, micro_batch=(1, 2), vp=(1, 2, 4)),
    ),
    "restricted": (
        _ctx("llama3-8b", "a100-sxm-80gb", 64, 64),
        SearchSpace(sharding=(Sharding.NONE, Sharding.ZERO3), recompute=(Recompute.FULL,)),
    ),
    "nothing-fits": (_ctx("megatron-1t", "h100-sxm-80gb", 8, 64), SearchSpace()),
    "headroom": (
        _ctx("llama3-70b", "h100-sxm-80gb", 256, 128, 8192),
        SearchSpace(memory_headroom=0.3),
    ),
}


def _reference(ctx, space, *, ignore_memory=False):
    """Brute force: every plan checked and (if it fits) evaluated one batch at once."""
    plans = enumerate_plans(ctx.model, ctx.training, ctx.cluster, space)
    rejected, alive = {}, np.ones(len(plans), dtype=bool)
    for reason, bad in check_plans(ctx.model, ctx.training, ctx.cluster, plans).items():
        if reason is Infeasible.BATCH:
            bad = (
                np.abs(plans.global_batch / ctx.training.global_batch - 1)
                > space.batch_tolerance + 1e-12
            )
        if (bad & alive).any():
            rejected[reason.value] = int((bad & alive).sum())
        alive &= ~bad
    plans = plans.take(np.flatnonzero(alive))
    mem = memory_breakdown(ctx.model, ctx.training, plans, ctx.stack, ctx.eff)
    if not ignore_memory:
        hbm = ctx.cluster.gpu.hbm_bytes
        fits = mem.total <= hbm * (1 - space.memory_headroom)
        over = mem.total > hbm
        for reason, bad in ((Infeasible.MEMORY, over), (Infeasible.MEMORY_HEADROOM, ~fits & ~over)):
            if bad.any():
                rejected[reason.value] = int(bad.sum())
        plans = plans.take(np.flatnonzero(fits))
    steps = evaluate(ctx, plans)
    return rejected, steps


def _front(tps, head, gpus):
    """O(n^2) Pareto front (tokens/s max, headroom max, GPUs min); of equal plans the first."""
    out = []
    for i in range(len(tps)):
        ge = (tps >= tps[i]) & (head >= head[i]) & (gpus <= gpus[i])
        strict = (tps > tps[i]) | (head > head[i]) | (gpus < gpus[i])
        dup = ~strict & ge
        if not (ge & strict).any() and not dup[:i].any():
            out.append(i)
    return np.array(out, dtype=np.int64)


def _assert_is_front(tps, head, gpus, front):
    """``front`` is exactly the Pareto front: each member is undominated and first of its
    equals, and every other plan is dominated by, or a later equal of, a member."""
    n = len(tps)
    index = np.arange(n)
    covered = np.zeros(n, dtype=bool)
    covered[front] = True
    for f in front:
        geq = (tps >= tps[f]) & (head >= head[f]) & (gpus <= gpus[f])
        better = (tps > tps[f]) | (head > head[f]) | (gpus < gpus[f])
        assert not (geq & better).any() and not (geq & ~better & (index < f)).any()
        leq = (tps <= tps[f]) & (head <= head[f]) & (gpus >= gpus[f])
        worse = (tps < tps[f]) | (head < head[f]) | (gpus > gpus[f])
        covered |= (leq & worse) | (leq & ~worse & (index > f))
    assert covered.all()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("ignore_memory", [False, True])
def test_search_equals_brute_force(name, ignore_memory) -> None:
    ctx, space = CASES[name]
    rejected, ref = _reference(ctx, space, ignore_memory=ignore_memory)
    res = plan_search(ctx, space, ignore_memory=ignore_memory)
    assert res.rejected == rejected
    assert res.feasible_count == len(ref)
    assert res.candidates == res.feasible_count + sum(res.rejected.values())
    assert res.candidates == len(enumerate_plans(ctx.model, ctx.training, ctx.cluster, space))
    if len(ref) == 0:
        assert res.feasible is None and len(res.pareto) == 0
        return
    # The kept plans: the best 1000 (stable order) and the front, best first; exact ties
    # in throughput go to the plan with more memory headroom.
    head = res.memory_capacity_bytes - ref.memory.total
    order = np.argsort(-ref.tokens_per_s, kind="stable")
    index = {tuple(row): i for i, row in enumerate(_plan_rows(ref.plans))}
    kept = np.array([index[tuple(row)] for row in _plan_rows(res.feasible.plans)])
    front = np.sort(kept[res.pareto])
    _assert_is_front(ref.tokens_per_s, head, ref.plans.num_gpus, front)
    expected = np.union1d(order[:1000], front)
    best_first = np.lexsort((-head[expected], -ref.tokens_per_s[expected]))
    assert np.array_equal(kept, expected[best_first])
    assert np.array_equal(res.feasible.step_time_s, ref.step_time_s[kept])
    assert np.array_equal(res.feasible.memory.total, ref.memory.total[kept])


def _plan_rows(plans):
    from dataclasses import fields

    return np.stack([getattr(plans, f.name) for f in fields(plans)], axis=1)


def test_chunked_search_equals_one_chunk(monkeypatch) -> None:
    ctx, _ = CASES["moe-idle"]
    space = SearchSpace(batch_tolerance=0.1, allow_idle=True, micro_batch=(1, 2), vp=(1, 2))
    whole = plan_search(ctx, space)
    monkeypatch.setattr(search_mod, "CHUNK_PLANS", 997)
    monkeypatch.setattr(search_mod, "PARALLEL_MIN_PLANS", 1)
    parts = plan_search(ctx, space)
    assert parts.rejected == whole.rejected and parts.feasible_count == whole.feasible_count
    assert np.array_equal(parts.feasible.step_time_s, whole.feasible.step_time_s)
    assert np.array_equal(parts.feasible.plans.tp, whole.feasible.plans.tp)
    assert np.array_equal(parts.pareto, whole.pareto)


def test_objective_per_gpu_ranks_by_per_gpu_throughput() -> None:
    ctx, _ = CASES["moe-idle"]
    space = SearchSpace(batch_tolerance=0.1, allow_idle=True, micro_batch=(1, 2), vp=(1, 2))
    res = search(ctx, space, objective="tokens_per_s_per_gpu", keep_top=50,
    )  # fmt: skip
    _, ref = _reference(ctx, space)
    assert res.feasible.tokens_per_s_per_gpu[0] == ref.tokens_per_s_per_gpu.max()
    assert np.all(np.diff(res.feasible.tokens_per_s_per_gpu) <= 0)


def test_enumerated_plans_are_distinct_and_use_at_most_the_cluster() -> None:
    ctx, space = CASES["dense-exact"]
    plans = enumerate_plans(ctx.model, ctx.training, ctx.cluster, space)
    assert np.all(plans.num_gpus <= ctx.cluster.num_gpus)
    assert not np.any((plans.vp > 1) & (plans.pp == 1))
    cols = np.stack([plans.tp, plans.pp, plans.dp, plans.cp, plans.ep, plans.vp, plans.micro_batch,
                     plans.recompute, plans.sharding], axis=1)  # fmt: skip
    assert len(np.unique(cols, axis=0)) == len(plans)
    vals = candidate_values(ctx.model, ctx.training, ctx.cluster, space)
    assert set(np.unique(plans.micro_batch)) <= set(vals.micro_batch)
    assert set(np.unique(plans.recompute)) == set(vals.recompute)


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(st.integers(0, 6), min_size=0, max_size=40),
    k=st.integers(1, 45),
)
def test_smallest_is_a_stable_sort_prefix(keys, k) -> None:
    key = np.array(keys, dtype=np.float64)
    expected = np.sort(np.argsort(key, kind="stable")[:k])
    assert np.array_equal(search_mod._smallest(key, k), expected)


@settings(max_examples=80, deadline=None)
@given(
    pts=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 3)), max_size=40)
)
def test_pareto_matches_quadratic_definition(pts) -> None:
    a = np.array(pts, dtype=np.float64).reshape(-1, 3)
    tps, head, gpus = a[:, 0], a[:, 1], a[:, 2].astype(np.uint16)
    assert np.array_equal(search_mod._pareto(tps, head, gpus), _front(tps, head, gpus))


SCENARIO = """\
name: t
cluster:
  gpu: h100-sxm-80gb
  num_gpus: 8
workload:
  model: megatron-1t
  tokens: 1e12
  seq_len: 8192
  global_batch: 128
plan: search
"""


def test_infeasible_cli_search_exits_1_with_counts(tmp_path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(SCENARIO)
    r = CliRunner().invoke(main, ["search", str(p), "--format", "json"], catch_exceptions=False)
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["feasible"] is False
    rejected = out["rejected"]
    assert rejected.get("memory", 0) > 0 and sum(rejected.values()) == out["candidates"] > 0
    text = CliRunner().invoke(main, ["search", str(p)], catch_exceptions=False)
    assert text.exit_code == 1
    for reason, count in rejected.items():
        assert f"{reason}: {count:,}" in text.output


def test_static_memory_bound_prunes_only_plans_that_do_not_fit() -> None:
    ctx, space = CASES["nothing-fits"]
    fac = search_mod._factored(ctx.model, ctx.training, ctx.cluster, space)
    cap = ctx.cluster.gpu.hbm_bytes
    fits_sh = search_mod._static_fits(ctx.model, ctx.training, fac, ctx.stack, ctx.eff, cap)
    assert not fits_sh.all()  # the case exercises the pruning
    plans, combo = fac.expand(np.arange(len(fac.rows)))
    sh_index = np.searchsorted(fac.sharding, plans.sharding)
    pruned = ~fits_sh[combo, sh_index]
    total = memory_breakdown(ctx.model, ctx.training, plans, ctx.stack, ctx.eff).total
    assert pruned.any() and np.all(total[pruned] > cap)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 200_000))
def test_divisors_fast_path_matches_definition(n: int) -> None:
    from colossim.search.engine import _divisors

    assert _divisors(n) == [d for d in range(1, n + 1) if n % d == 0]


def test_search_stays_inside_what_the_stack_can_run() -> None:
    """llm-foundry trains with FSDP only: every plan it is offered has tp = pp = cp = ep = 1
    and ZeRO-2/3; megatron on the same run may use TP/PP."""
    from colossim.hardware import gpu
    from colossim.parallel.plan import Sharding
    from colossim.search import SearchSpace, stack_space
    from colossim.workload.model import preset
    from colossim.workload.training import Training

    def run(framework: str):
        t = Training(
            seq_len=4096, global_batch=512, tokens=1e12, precision="bf16", framework=framework
        )
        return plan_search(
            context(preset("llama3-70b"), t, cluster_for(gpu("h100-sxm-80gb"), 256)), SearchSpace()
        )

    fsdp = run("llm-foundry").feasible.plans
    for dim in ("tp", "pp", "cp", "ep"):
        assert np.all(getattr(fsdp, dim) == 1), dim
    assert set(np.unique(fsdp.sharding)) <= {Sharding.ZERO2, Sharding.ZERO3}
    mega = run("megatron").feasible.plans
    assert np.any(mega.tp > 1) or np.any(mega.pp > 1)
    # explicit values are kept: a published plan is what its stack ran
    ctx_stack = context(
        preset("llama3-8b"),
        Training(
            seq_len=4096, global_batch=64, tokens=1e12, precision="bf16", framework="llm-foundry"
        ),
        cluster_for(gpu("h100-sxm-80gb"), 8),
    ).stack
    assert stack_space(SearchSpace(tp=(2,)), ctx_stack).tp == (2,)
    assert stack_space(SearchSpace(), ctx_stack).pp == (1,)
