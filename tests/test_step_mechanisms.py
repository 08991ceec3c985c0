"""Mechanisms of the step and memory model added for the layout sweeps: eager-stack
activation memory, allocator pressure near full memory, ZeRO-2 gradient reduction per
micro-batch, and the recompute modes a stack can run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from colossim.cluster import cluster_for
from colossim.hardware import gpu
from colossim.parallel.memory import memory_breakdown, stage_shape
from colossim.parallel.plan import Plan, PlanBatch, Recompute, Sharding
from colossim.perf.collective_times import collective_times
from colossim.perf.estimate import context
from colossim.perf.step import evaluate
from colossim.search import SearchSpace, stack_space
from colossim.validation.runs import read_runs, validate_rows
from colossim.workload.model import preset
from colossim.workload.stack import efficiency, stack_profile
from colossim.workload.training import Training


def _ctx(framework: str, *, n: int = 64, gb: int = 256, model: str = "llama3-8b"):
    training = Training(
        seq_len=4096, global_batch=gb, tokens=1e12, precision="bf16", framework=framework
    )
    return context(preset(model), training, cluster_for(gpu("h100-sxm-80gb"), n))


def _plans(**kw) -> PlanBatch:
    return PlanBatch.from_plans([Plan(**kw)])


def test_eager_stack_keeps_more_activations_and_nothing_else() -> None:
    ctx = _ctx("nanotron")
    plans = _plans(tp=2, pp=4, dp=8, micro_batch=2, global_batch=256)
    eager = ctx.stack
    assert eager.activation_memory_factor > 1.0
    fused = replace(eager, activation_memory_factor=1.0)
    a = memory_breakdown(ctx.model, ctx.training, plans, eager, ctx.eff)
    b = memory_breakdown(ctx.model, ctx.training, plans, fused, ctx.eff)
    assert a.activations[0] == pytest.approx(eager.activation_memory_factor * b.activations[0])
    for part in ("weights", "gradients", "optimizer", "logits", "buffers"):
        assert getattr(a, part)[0] == pytest.approx(getattr(b, part)[0])
    # fused stacks keep the listed tensors only
    assert stack_profile("megatron").activation_memory_factor == 1.0


def test_allocator_pressure_only_near_full_memory_and_only_where_the_stack_pays_it() -> None:
    ctx = _ctx("nanotron")
    eff = replace(efficiency(), alloc_pressure_start=0.5, alloc_pressure_penalty=2.0)
    plans = PlanBatch.from_plans(
        [
            Plan(tp=1, pp=1, dp=64, micro_batch=4, global_batch=256),  # large activations
            Plan(tp=8, pp=1, dp=8, micro_batch=1, global_batch=256),  # small footprint
        ]
    )
    paying = replace(ctx, eff=eff)
    free = replace(ctx, eff=eff, stack=replace(ctx.stack, alloc_pressure=0.0))
    a, b = evaluate(paying, plans), evaluate(free, plans)
    used = a.memory.total / ctx.cluster.gpu.hbm_bytes
    assert used[0] > 0.5 > used[1]
    assert a.step_time_s[0] > b.step_time_s[0] * 1.01  # above the onset: slower
    assert a.step_time_s[1] == pytest.approx(b.step_time_s[1])  # below it: unchanged


def test_zero2_reduces_gradients_every_microbatch() -> None:
    """ZeRO-2 keeps only a gradient shard, so each micro-batch reduce-scatters: with more
    micro-batches its exposed DP time grows, while ZeRO-1's stays one reduction."""
    ctx = replace(
        _ctx("megatron", n=64, gb=1024), stack=replace(stack_profile("megatron"), dp_overlap=0.0)
    )

    def dp(sharding: Sharding, mb: int) -> float:
        p = _plans(tp=1, pp=1, dp=64, micro_batch=mb, global_batch=1024, sharding=sharding)
        return float(evaluate(ctx, p).dp_comm_s[0])

    z1_many, z1_few = dp(Sharding.ZERO1, 1), dp(Sharding.ZERO1, 16)
    z2_many, z2_few = dp(Sharding.ZERO2, 1), dp(Sharding.ZERO2, 16)
    assert z1_many == pytest.approx(z1_few, rel=1e-9)
    assert z2_few == pytest.approx(z1_few, rel=1e-9)  # one micro-batch: the same calls
    assert z2_many > 4 * z1_many  # 16 reduce-scatters instead of one


def test_zero1_as_the_stack_runs_it() -> None:
    """nanotron's ZeRO-1 all-reduces the full gradients and gathers the parameters after
    the step (blocking): with one micro-batch it costs more than ZeRO-0. Megatron's
    reduce-scatters and prefetches the gather behind the next forward: no more than
    ZeRO-0. Same model, plan and network; only the stack's two switches differ."""
    base = replace(stack_profile("megatron"), dp_overlap=0.5)
    nano = replace(base, zero_grad_all_reduce=1.0, param_gather_overlap=0.0)
    assert stack_profile("nanotron").zero_grad_all_reduce == 1.0
    assert stack_profile("nanotron").param_gather_overlap == 0.0
    assert stack_profile("megatron").param_gather_overlap == 1.0
    assert stack_profile("megatron-deepspeed").param_gather_overlap == 0.0
    ctx = _ctx("megatron", n=64, gb=64, model="llama3-8b")

    def dp(stack, sharding: Sharding) -> float:
        p = _plans(tp=1, pp=1, dp=64, micro_batch=1, global_batch=64, sharding=sharding)
        return float(evaluate(replace(ctx, stack=stack), p).dp_comm_s[0])

    c = collective_times(ctx.model, ctx.training, _plans(tp=1, pp=1, dp=64, micro_batch=1,
                         global_batch=64), base, ctx.network)  # fmt: skip
    assert dp(nano, Sharding.NONE) == pytest.approx(dp(base, Sharding.NONE), rel=1e-12)
    # the gather is exposed whole, on top of the (partly hidden) all-reduce
    assert dp(nano, Sharding.ZERO1) == pytest.approx(
        dp(nano, Sharding.NONE) + float(c.dp_all_gather_s[0]), rel=1e-9
    )
    assert dp(nano, Sharding.ZERO1) > dp(nano, Sharding.NONE)
    assert dp(base, Sharding.ZERO1) <= dp(base, Sharding.NONE)


def test_separate_projections_run_as_their_own_gemms() -> None:
    """torchtitan runs Q, K, V (and gate, up) as separate linears: at TP 8 with 8 KV
    heads the K and V GEMMs are 128 columns wide, below a tile's width in efficiency
    and streaming their whole input: slower than one fused GEMM, never faster."""
    assert stack_profile("torchtitan").fused_projections == 0.0
    assert stack_profile("megatron").fused_projections == 1.0
    training = Training(
        seq_len=8192, global_batch=256, tokens=1e12, precision="bf16", framework="torchtitan"
    )
    ctx = context(preset("llama3-70b"), training, cluster_for(gpu("h100-sxm-80gb"), 256))
    plans = PlanBatch.from_plans(
        [
            Plan(tp=8, pp=1, dp=32, micro_batch=1, global_batch=256, sharding=Sharding.ZERO3),
            Plan(tp=1, pp=1, dp=256, micro_batch=1, global_batch=256, sharding=Sharding.ZERO3),
        ]
    )
    split = evaluate(ctx, plans).gemm_s
    fused = evaluate(replace(ctx, stack=replace(ctx.stack, fused_projections=1.0)), plans).gemm_s
    assert np.all(split >= fused * (1 - 1e-12))
    assert split[0] > fused[0] * 1.005  # TP 8: narrow K/V GEMMs cost visibly more
    assert split[0] / fused[0] > split[1] / fused[1]  # and more than at TP 1


def test_separate_linears_share_the_input_cast_only_under_per_tensor_fp8() -> None:
    """Tensorwise FP8 casts the block input once (all-gathered in FP8 for Q, K and V);
    rowwise all-gathers in 16 bits and casts it once per linear: splitting the
    projections costs rowwise its GEMM shapes plus two more casts of the input."""
    extra = {}
    for recipe in ("tensorwise", "rowwise"):
        training = Training(
            seq_len=8192, global_batch=256, tokens=1e12, precision="fp8",
            framework="torchtitan", fp8_recipe=recipe,
        )  # fmt: skip
        ctx = context(preset("llama3-70b"), training, cluster_for(gpu("h100-sxm-80gb"), 256))
        plans = _plans(tp=8, pp=1, dp=32, micro_batch=1, global_batch=256, sharding=Sharding.ZERO3)
        split = evaluate(ctx, plans).gemm_s[0]
        fused = evaluate(replace(ctx, stack=replace(ctx.stack, fused_projections=1.0)), plans)
        extra[recipe] = split - fused.gemm_s[0]
    assert extra["tensorwise"] > 0
    assert extra["rowwise"] > 2 * extra["tensorwise"]


def test_search_enumerates_only_the_recompute_modes_a_stack_runs() -> None:
    foundry = stack_profile("llm-foundry")
    assert set(foundry.recompute_modes) == {"none", "full"}
    space = stack_space(SearchSpace(), foundry)
    assert set(space.recompute) == {Recompute.NONE, Recompute.FULL}
    # an explicit request is what the user asked for and is kept
    asked = stack_space(SearchSpace(recompute=(Recompute.SELECTIVE,)), foundry)
    assert asked.recompute == (Recompute.SELECTIVE,)
    assert set(stack_space(SearchSpace(), stack_profile("megatron")).recompute) == set(Recompute)
    assert np.all(np.isin([Recompute.NONE], space.recompute))


def test_equally_fast_plans_rank_by_memory_headroom() -> None:
    """With one micro-batch ZeRO-2 costs ZeRO-1's time and holds less memory: of the two
    the search ranks ZeRO-2 first (before, enumeration order put ZeRO-1 first)."""
    from colossim.search import plan_search

    ctx = _ctx("megatron", n=64, gb=64)
    space = SearchSpace(
        tp=(1,), pp=(1,), cp=(1,), micro_batch=(1,), recompute=(Recompute.NONE,),
        sharding=(Sharding.ZERO1, Sharding.ZERO2), batch_tolerance=0.0,
    )  # fmt: skip
    best = plan_search(ctx, space).feasible
    assert best.plans.sharding[0] == Sharding.ZERO2
    assert best.tokens_per_s[0] == best.tokens_per_s[1]
    assert best.memory.total[0] < best.memory.total[1]


def test_tp_host_skew_only_when_pipelines_cross_nodes() -> None:
    """nanotron's host-synchronising pipeline receive: TP ring steps wait for the hosts'
    skew when a pipeline crosses nodes, as a floor with the host's launches (queued GPU
    work hides it); not inside one node, not without PP, not for stacks with batched
    asynchronous p2p."""
    nano = _ctx("nanotron", n=16)
    assert nano.stack.tp_pp_sync_s > 0 and stack_profile("megatron").tp_pp_sync_s == 0.0
    off = replace(nano, stack=replace(nano.stack, tp_pp_sync_s=0.0))

    def step(ctx, **kw) -> float:
        return float(evaluate(ctx, _plans(micro_batch=1, global_batch=256, **kw)).step_time_s[0])

    assert step(nano, tp=8, pp=2, dp=1) > 1.5 * step(off, tp=8, pp=2, dp=1)  # 16 ranks
    assert step(nano, tp=4, pp=2, dp=2) > step(off, tp=4, pp=2, dp=2)
    assert step(nano, tp=4, pp=2, dp=1) == step(off, tp=4, pp=2, dp=1)  # one node
    assert step(nano, tp=8, pp=1, dp=2) == step(off, tp=8, pp=1, dp=2)  # no pipeline
    # where the skew exceeds the GPU work, a micro-batch takes the host's launches + skew
    plans = _plans(tp=8, pp=2, dp=1, micro_batch=1, global_batch=256)
    res = evaluate(nano, plans)
    m = float(plans.num_microbatches[0])
    layers = 32 / 2  # nanotron balances stages by cost; the skew counts whole layers here
    skew = layers * 8 * (8 - 1) * nano.stack.tp_pp_sync_s
    per_mb = (res.step_time_s[0] - res.overhead_s[0] - res.dp_comm_s[0]) / (m + 1)
    assert per_mb == pytest.approx(layers * nano.stack.layer_host_s + skew, rel=0.1)


def test_overlapped_communication_slows_compute_by_the_measured_share() -> None:
    """Hidden collectives are not free: each hidden second costs overlap_compute_slowdown
    seconds of compute (measured), and nothing is charged when nothing overlaps."""
    ctx = _ctx("megatron", n=64, gb=1024)
    slow = ctx.eff.overlap_compute_slowdown
    assert 0.0 < slow < 0.5
    plans = PlanBatch.from_plans(
        [
            Plan(tp=1, pp=1, dp=64, micro_batch=1, global_batch=1024, sharding=Sharding.ZERO3),
            Plan(tp=1, pp=1, dp=64, micro_batch=16, global_batch=1024, sharding=Sharding.ZERO1),
        ]
    )
    with_it = evaluate(ctx, plans)
    free = replace(ctx, eff=replace(ctx.eff, overlap_compute_slowdown=0.0))
    without = evaluate(free, plans)
    exposed_only = replace(free, stack=replace(free.stack, dp_overlap=0.0))
    hidden = evaluate(exposed_only, plans).dp_comm_s - without.dp_comm_s
    assert np.all(hidden > 0)
    assert with_it.dp_interference_s == pytest.approx(slow * hidden)
    assert with_it.step_time_s == pytest.approx(without.step_time_s + slow * hidden, rel=1e-9)
    # ZeRO-3 with 16 micro-batches gathers 16 times: far more overlapped traffic to pay for
    assert with_it.dp_interference_s[0] > 5 * with_it.dp_interference_s[1]
    # nothing overlapped (no overlap allowed): nothing charged
    assert np.all(evaluate(replace(exposed_only, eff=ctx.eff), plans).dp_interference_s == 0)


def test_cuda_graphs_remove_the_host_launch_floor_only() -> None:
    """Captured CUDA graphs: no per-kernel launches, so a launch-bound layout (small
    model, TP 8, one sequence per micro-batch, eager stack) speeds up; nothing else moves."""
    ctx = _ctx("nanotron", n=8, gb=64, model="llama3-8b")
    plans = _plans(tp=8, pp=1, dp=1, micro_batch=1, global_batch=64)
    eager = evaluate(ctx, plans)
    graphed = evaluate(replace(ctx, training=replace(ctx.training, cuda_graphs=True)), plans)
    assert eager.host_s[0] > 0 and graphed.host_s[0] == 0.0
    assert graphed.step_time_s[0] == pytest.approx(eager.step_time_s[0] - eager.host_s[0])
    assert graphed.compute_s[0] == pytest.approx(eager.compute_s[0])


def test_moe_imbalance_paces_the_busiest_expert_rank() -> None:
    """A dropless MoE layer runs at its busiest EP rank's pace: more routed tokens there
    mean slower expert GEMMs and all-to-all and more activation memory; the dense parts do
    not move, and without expert parallelism there is no rank to be busier."""
    ctx = _ctx("megatron", n=256, gb=512, model="mixtral-8x22b")
    plans = PlanBatch.from_plans(
        [
            Plan(tp=2, pp=4, dp=32, ep=8, micro_batch=1, global_batch=512),
            Plan(tp=8, pp=4, dp=8, ep=1, micro_batch=1, global_batch=512),
        ]
    )
    balanced = evaluate(ctx, plans)
    skewed_ctx = replace(ctx, training=replace(ctx.training, moe_imbalance=1.3))
    skewed = evaluate(skewed_ctx, plans)
    assert skewed.gemm_s[0] > balanced.gemm_s[0]
    assert skewed.ep_comm_s[0] == pytest.approx(1.3 * balanced.ep_comm_s[0])
    assert skewed.attention_s[0] == pytest.approx(balanced.attention_s[0])
    assert skewed.memory.activations[0] > balanced.memory.activations[0]
    assert skewed.step_time_s[1] == pytest.approx(balanced.step_time_s[1])  # ep = 1
    dense = _ctx("megatron")
    p = _plans(tp=2, pp=1, dp=32, micro_batch=1, global_batch=256)
    heavy = replace(dense, training=replace(dense.training, moe_imbalance=2.0))
    assert evaluate(heavy, p).step_time_s[0] == pytest.approx(evaluate(dense, p).step_time_s[0])


def test_moe_imbalance_csv_column_is_optional_and_checked() -> None:
    (row,) = [
        r
        for r in read_runs("published_runs")
        if r["id"] == "mbridge2509-h100-deepseek-v3-dropless-fp8-1024"
    ]
    assert "force-balanced" in row["notes"]  # why blank means 1 for the bundled rows

    def predicted(value: str | None):
        raw = dict(row)
        if value is None:
            raw.pop("moe_imbalance", None)
        else:
            raw["moe_imbalance"] = value
        (res,) = validate_rows([raw]).rows
        return res

    assert predicted("").predicted == predicted(None).predicted == predicted("1").predicted
    assert predicted("1.25").predicted < predicted("").predicted
    bad = predicted("0.8")
    assert bad.predicted is None and "moe_imbalance" in bad.reason and "0.8" in bad.reason


def test_empty_layer_slots_come_off_the_first_and_last_stages() -> None:
    """Llama 3 405B (126 layers) on PP 16 has 128 slots: one layer fewer on the first
    stage (activation memory) and on the last (with the LM head), as Meta ran it; PP 9
    divides the layers and leaves every stage full."""
    model = preset("llama3-405b")
    plans = PlanBatch.from_plans(
        [
            Plan(tp=8, pp=16, dp=1, micro_batch=1, global_batch=16),
            Plan(tp=8, pp=9, dp=1, micro_batch=1, global_batch=9),
        ]
    )
    shape = stage_shape(model, plans)
    assert list(shape.layers) == [8, 14]
    assert list(shape.first_layers) == [7, 14] and list(shape.last_layers) == [7, 14]
    training = Training(seq_len=8192, global_batch=16, tokens=1e12, framework="megatron")
    one = plans.take(np.array([0]))
    act = {
        layers: memory_breakdown(
            replace(model, layers=layers), training, one, stack_profile("megatron"), efficiency()
        ).activations[0]
        for layers in (126, 128)
    }
    assert act[126] == pytest.approx(act[128] * 7 / 8)  # 128 layers fill every slot


def test_logits_sit_on_the_last_stage_with_its_own_micro_batches() -> None:
    """With a pipeline, the first stage holds up to pp micro-batches of activations and the
    last one micro-batch plus the logits: the most loaded stage is whichever is larger,
    never the sum; without a pipeline one stage holds both."""
    model = preset("llama3-8b")
    training = Training(seq_len=8192, global_batch=64, tokens=1e12, framework="megatron")
    stack, eff = stack_profile("megatron"), efficiency()
    plans = PlanBatch.from_plans(
        [
            Plan(tp=1, pp=4, dp=1, micro_batch=4, global_batch=64),  # 16 micro-batches
            Plan(tp=1, pp=4, dp=1, micro_batch=4, global_batch=4),  # one micro-batch
            Plan(tp=1, pp=1, dp=4, micro_batch=4, global_batch=64),
        ]
    )
    most = memory_breakdown(model, training, plans, stack, eff)
    first = memory_breakdown(model, training, plans, stack, eff, first_stage=True)
    # 16 micro-batches: 4 in flight on the first stage, far above the last's 1 + logits
    assert most.logits[0] == 0.0 and most.activations[0] == first.activations[0]
    assert first.activations[0] == pytest.approx(4 * first.activations[1])
    # one micro-batch: both stages hold it, the last adds the logits and binds
    assert most.logits[1] > 0 and most.activations[1] == pytest.approx(first.activations[1])
    assert first.logits[1] == 0.0
    # no pipeline: one stage, both
    assert most.logits[2] > 0 and first.logits[2] == most.logits[2]


def test_mtp_modules_run_on_the_last_stage() -> None:
    """A multi-token prediction module is one more block and LM-head pass after the last
    layer: with a pipeline it lengthens the last stage (the bottleneck once it outweighs a
    full middle stage) and its memory; the model without it is faster."""
    base = preset("deepseek-v3")
    assert base.mtp_layers == 1  # the report's MTP depth
    training = Training(seq_len=4096, global_batch=512, tokens=1e12, framework="megatron")
    cluster = cluster_for(gpu("b200"), 256)
    plans = PlanBatch.from_plans(
        [
            Plan(tp=1, pp=16, dp=16, ep=8, micro_batch=1, global_batch=512),
            Plan(tp=1, pp=1, dp=256, ep=64, micro_batch=1, global_batch=512),
        ]
    )
    with_mtp = evaluate(context(base, training, cluster), plans)
    without = evaluate(context(replace(base, mtp_layers=0), training, cluster), plans)
    assert np.all(with_mtp.step_time_s > without.step_time_s)
    # 16 stages of ~4 layers: one more block and head on the last is a large share
    assert with_mtp.step_time_s[0] > 1.1 * without.step_time_s[0]
    first = memory_breakdown(base, training, plans, stack_profile("megatron"), efficiency())
    assert first.logits[1] == pytest.approx(
        2
        * memory_breakdown(
            replace(base, mtp_layers=0), training, plans, stack_profile("megatron"), efficiency()
        ).logits[1]
    )


def test_mtp_csv_column_is_optional_and_checked() -> None:
    (row,) = [r for r in read_runs("published_runs") if "w/ MTP" in r["model"]]
    assert row["mtp_layers"] == "1"
    blank = dict(row, mtp_layers="")
    res = validate_rows([row, blank, dict(row, mtp_layers="one")]).rows
    assert res[0].predicted < res[1].predicted  # the MTP module costs time
    assert res[2].predicted is None and "mtp_layers" in res[2].reason and "one" in res[2].reason
