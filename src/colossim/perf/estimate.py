"""One plan's prediction: the step model's context (model, run, cluster, stack, network)
and :func:`estimate`, which checks a plan and evaluates it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colossim.errors import InputError
from colossim.parallel.plan import Infeasible, Plan, PlanBatch, check_plans
from colossim.perf.context import Context, context
from colossim.perf.step import StepBatch, evaluate
from colossim.units import SECONDS_PER_DAY

__all__ = ["PLAN_FIX", "Context", "Estimate", "context", "estimate"]


def _part(values: np.ndarray | None, i: int) -> float:
    """Plan ``i`` of an optional breakdown array (absent: 0)."""
    return 0.0 if values is None else float(values[i])


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """One plan's predicted performance (scalars) and its breakdowns."""

    plan: Plan
    step_time_s: float
    tokens_per_s: float
    tokens_per_s_per_gpu: float
    mfu: float
    hfu: float
    memory_per_gpu_bytes: float
    memory_capacity_bytes: float
    days_to_train: float
    num_gpus_used: int
    idle_gpus: int
    time_breakdown_s: dict[str, float]
    memory_breakdown_bytes: dict[str, float]
    fits: bool

    @classmethod
    def from_batch(cls, steps: StepBatch, i: int, ctx: Context) -> Estimate:
        mem = steps.memory
        time_parts = {
            "gemm": steps.gemm_s[i],
            "attention": steps.attention_s[i],
            "memory_bound": steps.elementwise_s[i],
            "recompute": steps.recompute_s[i],
            "tp_comm_exposed": steps.tp_comm_s[i],
            "cp_comm_exposed": steps.cp_comm_s[i],
            "ep_comm_exposed": steps.ep_comm_s[i],
            "pp_p2p": steps.pp_comm_s[i],
            "pipeline_bubble": steps.bubble_s[i],
            "dp_comm_exposed": steps.dp_comm_s[i],
            "optimizer": steps.optimizer_s[i],
            "step_overhead": steps.overhead_s[i],
            "host_launch_exposed": _part(steps.host_s, i),
            "overlap_interference": _part(steps.interference_s, i),
            "dp_overlap_interference": _part(steps.dp_interference_s, i),
        }
        mem_parts = {
            "weights": mem.weights[i],
            "gradients": mem.gradients[i],
            "optimizer_states": mem.optimizer[i],
            "activations": mem.activations[i],
            "logits": mem.logits[i],
            "buffers": mem.buffers[i],
        }
        total = float(mem.total[i])
        plan = steps.plans.plan(i)
        tps = float(steps.tokens_per_s[i])
        return cls(
            plan=plan,
            step_time_s=float(steps.step_time_s[i]),
            tokens_per_s=tps,
            tokens_per_s_per_gpu=float(steps.tokens_per_s_per_gpu[i]),
            mfu=float(steps.mfu[i]),
            hfu=float(steps.hfu[i]),
            memory_per_gpu_bytes=total,
            memory_capacity_bytes=ctx.cluster.gpu.hbm_bytes,
            days_to_train=ctx.training.tokens / tps / SECONDS_PER_DAY,
            num_gpus_used=plan.num_gpus,
            idle_gpus=ctx.cluster.num_gpus - plan.num_gpus,
            time_breakdown_s={k: float(v) for k, v in time_parts.items()},
            memory_breakdown_bytes={k: float(v) for k, v in mem_parts.items()},
            fits=total <= ctx.cluster.gpu.hbm_bytes,
        )


PLAN_FIX = {
    Infeasible.GPU_COUNT: "make tp*pp*dp*cp at most cluster.num_gpus",
    Infeasible.HEADS_NOT_DIVISIBLE: "choose a tp that divides the attention heads and KV heads",
    Infeasible.LAYERS: "use pp * vp <= number of layers",
    Infeasible.VP_WITHOUT_PP: "set vp: 1 when pp is 1",
    Infeasible.SEQ_NOT_DIVISIBLE: "choose cp and tp so that seq_len is divisible by 2*cp and tp*cp",
    Infeasible.EXPERTS_NOT_DIVISIBLE: "choose an ep that divides the experts and dp*cp",
    Infeasible.EP_WITHOUT_MOE: "set ep: 1 for a dense model",
    Infeasible.BATCH: "make global_batch a multiple of dp * micro_batch",
}


def estimate(ctx: Context, plan: Plan, *, exact_gpus: bool = True) -> Estimate:
    """Predict one plan. Raises InputError for a structurally invalid plan; a plan that
    does not fit in memory is returned with ``fits=False``."""
    if exact_gpus and plan.num_gpus != ctx.cluster.num_gpus:
        raise InputError(
            "plan",
            f"tp*pp*dp*cp = {plan.tp}*{plan.pp}*{plan.dp}*{plan.cp} = {plan.num_gpus} "
            f"but the cluster has {ctx.cluster.num_gpus} GPUs",
            fix=f"choose degrees whose product is {ctx.cluster.num_gpus}, or use `colossim plan` to search",
        )
    batch = PlanBatch.from_plans([plan])
    for reason, bad in check_plans(ctx.model, ctx.training, ctx.cluster, batch).items():
        if bad[0]:
            raise InputError(
                "plan", f"invalid plan ({reason.value})", value=plan.as_dict(), fix=PLAN_FIX[reason]
            )
    steps = evaluate(ctx, batch)
    est = Estimate.from_batch(steps, 0, ctx)
    _check_finite(est)
    return est


def _check_finite(est: Estimate) -> None:
    values = [est.step_time_s, est.tokens_per_s, est.mfu, est.memory_per_gpu_bytes]
    if not np.all(np.isfinite(values)):
        raise InputError("plan", "the model produced a non-finite result", value=est.plan.as_dict())
