"""Step-time and memory model: one implementation for one plan and for many; properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colossim.cluster import cluster_for
from colossim.errors import InputError
from colossim.hardware import gpu
from colossim.parallel.memory import memory_breakdown
from colossim.parallel.plan import Plan, PlanBatch, Recompute, Sharding, check_plans
from colossim.perf.estimate import context, estimate
from colossim.perf.step import evaluate
from colossim.search import SearchSpace, enumerate_plans, search
from colossim.workload.model import preset
from colossim.workload.training import Training


def _ctx(model="llama3-70b", gpu_id="h100-sxm-80gb", n=512, gb=256, seq=8192, precision="bf16"):
    return context(
        preset(model),
        Training(
            seq_len=seq, global_batch=gb, tokens=1e12, precision=precision, framework="megatron"
        ),
        cluster_for(gpu(gpu_id), n),
    )


def test_known_plan_is_plausible() -> None:
    # Llama 3 70B on 512 H100, a standard Megatron layout: MFU must be in a sane band.
    ctx = _ctx()
    est = estimate(
        ctx,
        Plan(
            tp=8, pp=4, dp=16, vp=5, micro_batch=1, global_batch=256, recompute=Recompute.SELECTIVE
        ),
    )
    assert 0.25 < est.mfu < 0.65
    assert est.fits
    assert est.step_time_s == pytest.approx(sum(est.time_breakdown_s.values()), rel=1e-9)
    assert est.memory_per_gpu_bytes == pytest.approx(
        sum(est.memory_breakdown_bytes.values()), rel=1e-9
    )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_vectorised_path_equals_single_estimate(seed: int) -> None:
    """Random valid plans evaluated together agree with one-at-a-time estimates (1e-9)."""
    ctx = _ctx(model="mixtral-8x22b", n=256, gb=512)
    plans = enumerate_plans(ctx.model, ctx.training, ctx.cluster, SearchSpace(batch_tolerance=0.0))
    bad = np.zeros(len(plans), dtype=bool)
    for mask in check_plans(ctx.model, ctx.training, ctx.cluster, plans).values():
        bad |= mask
    valid = np.flatnonzero(~bad)
    rng = np.random.default_rng(seed)
    pick = rng.choice(valid, size=min(8, len(valid)), replace=False)
    batch = plans.take(pick)
    many = evaluate(ctx, batch)
    for j in range(len(batch)):
        one = estimate(ctx, batch.plan(j), exact_gpus=False)
        assert one.step_time_s == pytest.approx(float(many.step_time_s[j]), rel=1e-9)
        assert one.memory_per_gpu_bytes == pytest.approx(float(many.memory.total[j]), rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    tp=st.sampled_from([1, 2, 4]),
    pp=st.sampled_from([1, 2, 4, 8]),
    sh=st.sampled_from(list(Sharding)),
    rc=st.sampled_from(list(Recompute)),
    mb=st.sampled_from([1, 2, 4]),
)
def test_memory_never_grows_with_more_tp_or_zero(tp, pp, sh, rc, mb) -> None:
    ctx = _ctx(n=1024, gb=1024)

    def mem(tp_, sh_, rc_):
        p = Plan(
            tp=tp_,
            pp=pp,
            dp=1024 // (tp_ * pp),
            micro_batch=mb,
            global_batch=1024,
            recompute=rc_,
            sharding=sh_,
        )
        return float(
            memory_breakdown(
                ctx.model, ctx.training, PlanBatch.from_plans([p]), ctx.stack, ctx.eff
            ).total[0]
        )

    base = mem(tp, sh, rc)
    assert mem(tp * 2, sh, rc) <= base * (1 + 1e-12)
    if sh < Sharding.ZERO3:
        assert mem(tp, Sharding(sh + 1), rc) <= base * (1 + 1e-12)
    if rc < Recompute.FULL:
        assert mem(tp, sh, Recompute(rc + 1)) <= base * (1 + 1e-12)


def test_fp8_is_faster_than_bf16_on_h100() -> None:
    p = Plan(
        tp=8, pp=4, dp=16, vp=5, micro_batch=1, global_batch=256, recompute=Recompute.SELECTIVE
    )
    bf16 = estimate(_ctx(), p)
    fp8 = estimate(_ctx(precision="fp8"), p)
    assert fp8.tokens_per_s > 1.1 * bf16.tokens_per_s


def test_more_microbatches_shrink_the_bubble_share() -> None:
    ctx_small, ctx_big = _ctx(gb=64), _ctx(gb=1024)
    p = dict(tp=8, pp=4, dp=16, micro_batch=1, recompute=Recompute.SELECTIVE)
    small = estimate(ctx_small, Plan(**p, global_batch=64))
    big = estimate(ctx_big, Plan(**p, global_batch=1024))
    share = lambda e: e.time_breakdown_s["pipeline_bubble"] / e.step_time_s  # noqa: E731
    assert share(big) < share(small)


def test_invalid_plans_raise_with_reason() -> None:
    ctx = _ctx()
    with pytest.raises(InputError, match="heads"):
        estimate(ctx, Plan(tp=3, pp=1, dp=170, global_batch=340), exact_gpus=False)
    with pytest.raises(InputError, match="510"):
        estimate(ctx, Plan(tp=2, pp=1, dp=255, global_batch=255))
    with pytest.raises(InputError):
        Plan(tp=1, global_batch=-4)


def test_search_plans_multiply_out_and_report_idle() -> None:
    ctx = _ctx(model="llama3-8b", n=100_000 // 8 * 8 // 100, gb=1000)
    res = search(ctx, SearchSpace(batch_tolerance=0.1, allow_idle=True))
    assert res.feasible is not None
    used = res.feasible.plans.num_gpus
    assert np.all(used <= ctx.cluster.num_gpus) and np.all(used >= 1)
    assert np.all(np.diff(res.feasible.tokens_per_s) <= 1e-9)  # sorted, best first
    assert sum(res.rejected.values()) + res.feasible_count == res.candidates
    assert len(res.pareto) >= 1 and res.pareto.max() < len(res.feasible)


def test_search_never_worse_than_a_given_plan() -> None:
    ctx = _ctx(n=512, gb=256)
    given = estimate(
        ctx,
        Plan(
            tp=8, pp=4, dp=16, vp=5, micro_batch=1, global_batch=256, recompute=Recompute.SELECTIVE
        ),
    )
    res = search(ctx, SearchSpace())
    assert res.feasible.tokens_per_s[0] >= given.tokens_per_s * (1 - 1e-12)
