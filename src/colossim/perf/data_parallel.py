"""Data-parallel and ZeRO communication of a step: what is exposed, what hides behind
compute, and the optimizer update (seconds per step, per plan)."""

from __future__ import annotations

import numpy as np

from colossim.parallel.memory import StageShape
from colossim.parallel.plan import PlanBatch, Sharding
from colossim.perf.collective_times import CollectiveTimes
from colossim.workload.stack import StackProfile

__all__ = ["OPTIMIZER_BYTES_PER_PARAM", "data_parallel"]

# Adam step traffic per parameter: read fp32 param, grad, m, v (16 B); write param, m, v
# (12 B) and the 16-bit copy (2 B).
OPTIMIZER_BYTES_PER_PARAM = 30.0


def data_parallel(
    plans: PlanBatch,
    shape: StageShape,
    stack: StackProfile,
    c: CollectiveTimes,
    *,
    fwd: np.ndarray,
    bwd: np.ndarray,
    mem: float,
    m: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exposed and hidden DP / ZeRO communication and the optimizer step (s per step).

    Gradient all-reduce (no ZeRO) or reduce-scatter + parameter all-gather (ZeRO-1/2)
    start with the last micro-batch's backward and hide behind it up to the stack's
    ``dp_overlap`` share: with few micro-batches there is little to hide behind. ZeRO-3
    gathers parameters per micro-batch, forward and backward (Rajbhandari et al. 2020).

    ``fwd``, ``bwd``: one micro-batch's forward and backward seconds; ``mem``: achievable
    HBM bytes/s (the optimizer step is memory-bound); ``m``: micro-batches per step.
    Returns the exposed seconds, the hidden (overlapped) seconds and the optimizer's."""
    sh = plans.sharding
    t_ar, t_rs, t_ag = c.dp_all_reduce_s, c.dp_reduce_scatter_s, c.dp_all_gather_s
    ov = stack.dp_overlap
    # ZeRO-1/2: the gradients' reduction (a reduce-scatter, or the full all-reduce of a
    # stack that shards only the optimizer) and the parameter all-gather after the step,
    # hidden behind the next forward only where the stack prefetches it.
    t_zsync = np.where(stack.zero_grad_all_reduce > 0.5, t_ar, t_rs)
    gather_exposed = np.maximum(0.0, t_ag - stack.param_gather_overlap * ov * fwd)
    exposed_std = np.where(
        sh == Sharding.NONE,
        np.maximum(0.0, t_ar - ov * bwd),
        np.maximum(0.0, t_zsync - ov * bwd) + gather_exposed,
    )
    exposed_z3 = m * (np.maximum(0.0, t_ag - ov * fwd) + np.maximum(0.0, t_ag + t_rs - ov * bwd))
    # MODEL: ZeRO-2 keeps only its shard of the gradients, so it cannot accumulate them
    # over micro-batches: every micro-batch's backward reduce-scatters its gradients
    # (DeepSpeed stage 2 reduces during each micro-step's backward; FSDP SHARD_GRAD_OP
    # keeps unsharded gradients only under no_sync, which costs ZeRO-1 memory). The
    # reductions run on their own stream behind every later backward and forward, so m
    # of them are exposed only where they outrun the compute (comm-bound layouts).
    window = m * bwd + (m - 1) * fwd
    exposed_z2 = np.maximum(0.0, m * t_rs - ov * window) + gather_exposed
    dp_comm = np.select(
        [sh == Sharding.ZERO3, sh == Sharding.ZERO2], [exposed_z3, exposed_z2], exposed_std
    )
    total = np.select(
        [sh == Sharding.ZERO3, sh == Sharding.ZERO2, sh == Sharding.NONE],
        [m * (2 * t_ag + t_rs), m * t_rs + t_ag, t_ar],
        t_zsync + t_ag,
    )
    d_dense = (plans.dp * plans.cp).astype(np.float64)
    d_exp = np.maximum(d_dense / plans.ep, 1.0)
    opt_params = shape.dense_params / np.where(sh >= 1, d_dense, 1.0) + (
        shape.expert_params / np.where(sh >= 1, d_exp, 1.0)
    )
    hidden = np.maximum(total - dp_comm, 0.0)
    return dp_comm, hidden, opt_params * OPTIMIZER_BYTES_PER_PARAM / mem
