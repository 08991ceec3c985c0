"""Every collective a batch of plans issues, priced once per distinct communication key
by the fabric's cost model (:mod:`colossim.fabric.collectives` via
:mod:`colossim.perf.comm`, placement tp-cp-ep-dp-pp). The step model
(:mod:`colossim.perf.step`) multiplies them by their counts per micro-batch and step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colossim.parallel.memory import stage_shape
from colossim.parallel.plan import BF16_BYTES, PlanBatch, packed_key
from colossim.perf.comm import Collective, Network
from colossim.workload.model import TransformerSpec
from colossim.workload.stack import StackProfile
from colossim.workload.training import Training

__all__ = ["DISTINCT_MIN", "CollectiveTimes", "collective_times"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectiveTimes:
    """Seconds of each collective one plan issues (one call each, not yet multiplied)."""

    tp_all_gather_s: np.ndarray
    tp_reduce_scatter_s: np.ndarray
    cp_kv_send_s: np.ndarray
    ep_all_to_all_s: np.ndarray
    pp_send_s: np.ndarray
    dp_all_reduce_s: np.ndarray
    dp_reduce_scatter_s: np.ndarray
    dp_all_gather_s: np.ndarray


# Plans sharing (tp, pp, dp, cp, ep, vp, micro_batch) issue the same collectives; below
# this batch size finding them costs more than it saves.
DISTINCT_MIN = 2048


def _distinct_comm_plans(plans: PlanBatch) -> tuple[np.ndarray, np.ndarray] | None:
    """Index of one plan per distinct communication key and the inverse map, or ``None``
    when the batch is small or the packed key would not fit."""
    if len(plans) < DISTINCT_MIN:
        return None
    key = packed_key(
        (plans.tp, plans.pp, plans.dp, plans.cp, plans.ep, plans.vp, plans.micro_batch)
    )
    if key is None:
        return None
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    if len(first) * 2 > len(plans):
        return None
    return first, inverse.ravel()


def collective_times(
    model: TransformerSpec,
    training: Training,
    plans: PlanBatch,
    stack: StackProfile,
    network: Network,
) -> CollectiveTimes:
    """Every collective of every plan, priced by the fabric's cost model
    (:mod:`colossim.fabric.collectives`) on the plans' distinct communication keys."""
    distinct = _distinct_comm_plans(plans)
    sub = plans if distinct is None else plans.take(distinct[0])
    tp, pp, dp, cp, ep = sub.tp, sub.pp, sub.dp, sub.cp, sub.ep
    s, h = training.seq_len, model.hidden
    tpf = tp.astype(np.float64)
    tok = (sub.micro_batch * s / cp).astype(np.float64)
    one = np.ones_like(tp)
    shape = stage_shape(model, sub)

    # Sequence-parallel TP: an all-gather and a reduce-scatter of the layer's activations.
    act_bytes = tok * h * BF16_BYTES
    t_ag = network.time_s(Collective.ALL_GATHER, size_bytes=act_bytes, group_size=tp, stride=one)
    t_rs = network.time_s(
        Collective.REDUCE_SCATTER, size_bytes=act_bytes, group_size=tp, stride=one
    )
    # MODEL: a TP group that spans scale-up domains runs its ring over the scale-out NICs
    # at the fabric's hierarchical cost (all rails of a node, per-call latency for small
    # messages), not bounded by one NIC per GPU: the Ultra-Scale Playbook rows at TP 16 and
    # 32 with 16 sequences per micro-batch (0.5 GB per call) run 3-4x faster than one
    # 400G NIC per GPU would allow. Host-side waits are colossim.perf.tp_sync's.
    # Ring attention: each CP step passes a K/V chunk to the next rank.
    kv_local = np.maximum(model.kv_dim / tpf, model.attn_qk_dim)  # replicated if kv < tp
    kv_chunk = sub.micro_batch * (s / cp) * 2 * kv_local * BF16_BYTES
    t_kv = network.time_s(Collective.SEND_RECV, size_bytes=kv_chunk, group_size=cp, stride=tp)
    if model.is_moe:
        a2a_bytes = tok * model.top_k * h * BF16_BYTES / tpf
        t_a2a = network.time_s(
            Collective.ALL_TO_ALL, size_bytes=a2a_bytes, group_size=ep, stride=tp
        )
    else:
        t_a2a = np.zeros_like(tok)
    t_p2p = network.time_s(
        Collective.SEND_RECV, size_bytes=act_bytes / tpf, group_size=pp, stride=tp * cp * dp
    )

    grad_b = stack.grad_reduce_bytes
    dp_time = _dp_pricer(model, sub, shape, stack, network)
    times = {
        "tp_all_gather_s": t_ag,
        "tp_reduce_scatter_s": t_rs,
        "cp_kv_send_s": t_kv,
        "ep_all_to_all_s": t_a2a,
        "pp_send_s": t_p2p,
        "dp_all_reduce_s": dp_time(Collective.ALL_REDUCE, grad_b),
        "dp_reduce_scatter_s": dp_time(Collective.REDUCE_SCATTER, grad_b),
        "dp_all_gather_s": dp_time(Collective.ALL_GATHER, BF16_BYTES),
    }
    if distinct is not None:
        times = {k: v[distinct[1]] for k, v in times.items()}
    return CollectiveTimes(**times)


def _dp_pricer(model: TransformerSpec, plans: PlanBatch, shape, stack: StackProfile, network):
    """Seconds of one data-parallel collective over a plan's parameters, as a function
    of the operation and the bytes per parameter: dense parameters over dp x cp ranks,
    routed experts over dp x cp / ep ranks.

    Gradients and parameters move in buckets (PyTorch DDP bucket_cap_mb, Megatron DDP
    bucket_size, FSDP: one unit per layer): n calls of size / n, each paying its latency
    and the lower bandwidth of mid-size messages."""
    tp, ep = plans.tp, plans.ep
    dpc = plans.dp * plans.cp
    exp_group = np.maximum(dpc // np.maximum(ep, 1), 1)
    exp_stride = tp * ep
    bucket = np.where(
        stack.dp_bucket_bytes > 0, stack.dp_bucket_bytes, shape.layer_params * BF16_BYTES
    )

    def bucketed(op: Collective, size, group, stride) -> np.ndarray:
        n = np.maximum(np.ceil(size / bucket), 1.0)
        return n * network.time_s(op, size_bytes=size / n, group_size=group, stride=stride)

    def dp_time(op: Collective, per_param_bytes: float) -> np.ndarray:
        t = bucketed(op, shape.dense_params * per_param_bytes, dpc, tp)
        if model.is_moe:
            t = t + bucketed(op, shape.expert_params * per_param_bytes, exp_group, exp_stride)
        return t

    return dp_time
