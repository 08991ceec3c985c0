"""Step-time model, vectorised over plans.

One implementation serves ``estimate`` (a batch of one plan) and ``search`` (a batch of
millions). Per micro-batch and pipeline stage:

compute
  GEMMs: FLOPs / (peak x matmul efficiency x shape factor d/(d + d_half)), d the
  smallest GEMM dimension, bounded below by the time to stream its operands from HBM
  (roofline); backward = 2 x forward (data and weight gradients).
  Attention core (flash attention): causal FLOPs 2*T*s*heads*(d_qk + d_v)/2 per layer at
  ``attention_efficiency`` of the 16-bit peak; backward = 2.5 x forward (FlashAttention-2,
  Dao 2023: 5 matmuls backward vs 2 forward).
  Memory-bound ops (norms, residuals, rotary, activation functions, MoE permutes): bytes /
  (HBM bandwidth x efficiency); backward = 2 x forward.
  Recompute: full adds one forward (Korthikanti et al. 2022, sec. 5); selective adds the
  activation functions.
communication (costs from :mod:`colossim.fabric.collectives` via :mod:`colossim.perf.comm`,
placement tp-cp-ep-dp-pp)
  TP with sequence parallelism: 2 all-gathers + 2 reduce-scatters of T*h per layer
  forward and as many backward (Korthikanti et al. 2022, sec. 4.2.2); a stack-specific
  fraction overlaps with GEMMs.
  CP (ring attention): (cp-1) KV exchanges per layer forward, twice backward, hidden
  behind the attention core where it is long enough.
  EP: all-to-all dispatch + combine per MoE layer forward and backward.
  PP: activations sent and received per micro-batch and virtual stage.
pipeline
  time = (m + (pp-1)/vp) x t_microbatch (Narayanan et al. 2021, sec. 2.2.1-2.2.2).
data parallel
  gradient all-reduce (no ZeRO) or reduce-scatter + parameter all-gather (ZeRO-1/2),
  per micro-batch gathers with ZeRO-3, overlapped with backward/forward compute up to
  the stack's ``dp_overlap`` share; then the Adam step, memory-bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colossim.cluster import Cluster
from colossim.hardware import Precision
from colossim.parallel.memory import MemoryBreakdown, memory_breakdown, stage_shape
from colossim.parallel.plan import BF16_BYTES, PlanBatch, Recompute, Sharding, packed_key
from colossim.perf.comm import Collective, Network
from colossim.workload.model import TransformerSpec
from colossim.workload.stack import Efficiency, StackProfile
from colossim.workload.training import Training

__all__ = ["StepBatch", "evaluate"]

# FlashAttention-2 backward runs 5 matmuls to the forward's 2 (Dao 2023, sec. 3.1.2).
ATTENTION_BACKWARD_RATIO = 2.5
# Adam step traffic per parameter: read fp32 param, grad, m, v (16 B); write param, m, v
# (12 B) and the 16-bit copy (2 B).
OPTIMIZER_BYTES_PER_PARAM = 30.0
# Cross-entropy over the vocabulary: fp32 softmax read, write and gradient per logit.
LOSS_BYTES_PER_LOGIT = 12.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StepBatch:
    """Per-plan results (arrays, seconds unless named otherwise)."""

    plans: PlanBatch
    compute_s: np.ndarray  # GEMM + attention + memory-bound + recompute, whole step
    gemm_s: np.ndarray
    attention_s: np.ndarray
    elementwise_s: np.ndarray
    recompute_s: np.ndarray
    tp_comm_s: np.ndarray  # exposed
    cp_comm_s: np.ndarray
    ep_comm_s: np.ndarray
    pp_comm_s: np.ndarray
    bubble_s: np.ndarray
    dp_comm_s: np.ndarray  # exposed
    optimizer_s: np.ndarray
    overhead_s: np.ndarray
    step_time_s: np.ndarray
    tokens_per_step: np.ndarray
    tokens_per_s: np.ndarray
    tokens_per_s_per_gpu: np.ndarray
    mfu: np.ndarray
    hfu: np.ndarray
    memory: MemoryBreakdown

    def __len__(self) -> int:
        return len(self.plans)


def evaluate(
    model: TransformerSpec,
    training: Training,
    cluster: Cluster,
    plans: PlanBatch,
    *,
    stack: StackProfile,
    eff: Efficiency,
    network: Network,
    memory: MemoryBreakdown | None = None,
) -> StepBatch:
    """Step time, throughput, MFU and memory of every plan in ``plans`` (``memory``:
    an already computed memory breakdown of the same plans, as the search has one)."""
    gpu = cluster.gpu
    tp, pp, dp, cp, ep, vp = (plans.tp, plans.pp, plans.dp, plans.cp, plans.ep, plans.vp)
    mb, rc, sh = plans.micro_batch, plans.recompute, plans.sharding
    m = plans.num_microbatches.astype(np.float64)
    s = training.seq_len
    h = model.hidden
    prec = str(training.precision)
    fp8 = training.precision in (Precision.FP8, Precision.MXFP8, Precision.FP4)
    mm_peak = gpu.peak(prec)
    mm_eff = gpu.matmul_efficiency.get(prec, gpu.matmul_efficiency["bf16"]) * (
        eff.fp8_gemm_factor if fp8 else 1.0
    )
    compute_factor = stack.compute_factor * (eff.power_cap_factor if gpu.power_capped else 1.0)
    mm_rate = mm_peak * mm_eff * compute_factor
    attn_rate = gpu.peak("bf16") * eff.attention_efficiency * compute_factor
    mem_rate = gpu.hbm_bw_bytes_per_s * eff.elementwise_bw_efficiency
    gemm_elem_bytes = 1.0 if fp8 else float(BF16_BYTES)

    tok = (mb * s / cp).astype(np.float64)  # tokens per micro-batch in each GPU's GEMMs
    tpf = tp.astype(np.float64)

    def gemm(flops, m_dim, n_dim, k_dim, weight_elems):
        d = np.minimum(np.minimum(m_dim, n_dim), k_dim)
        shape = np.maximum(d, 1e-9) / (np.maximum(d, 1e-9) + eff.gemm_half_dim)
        stream = gemm_elem_bytes * (weight_elems + m_dim * (n_dim + k_dim))
        t = np.maximum(flops / (mm_rate * shape), stream / mem_rate)
        return np.where(flops > 0, t, 0.0)  # absent GEMMs (no dense MLP in an all-MoE model)

    # ---- one layer, forward, per GPU --------------------------------------------------
    q, kv, a = model.q_dim, model.kv_dim, model.attention_params
    attn_gemm = gemm(2 * tok * a / tpf, tok, (q + 2 * kv) / tpf, h, a / tpf)
    f_act_in = 2 if model.gated_mlp else 1
    dense_mlp_gemm = gemm(
        2 * tok * model.dense_mlp_params / tpf,
        tok,
        model.ffn_hidden / tpf,
        h,
        model.dense_mlp_params / tpf,
    )
    attn_core = (
        2 * tok * s * (model.heads / tpf) * (model.attn_qk_dim + model.attn_v_dim) * 0.5 / attn_rate
    )
    # Memory-bound bytes per token (16-bit): two norms (read+write h each), two residual
    # adds (2 reads + 1 write of h each), rotary on q and k (read+write), activation
    # function (reads gate+up or fc1 output, writes its output).
    base_elems = 10 * h + 2 * (q + kv)
    dense_ew = tok * BF16_BYTES * (base_elems + (f_act_in + 1) * model.ffn_hidden) / tpf / mem_rate
    dense_act_ew = tok * BF16_BYTES * (f_act_in + 1) * model.ffn_hidden / tpf / mem_rate

    if model.is_moe:
        fe = model.moe_ffn_hidden
        routed_tok = tok * model.top_k
        m_expert = routed_tok * ep / model.experts  # tokens per local expert (balanced)
        local_experts = model.experts / ep
        expert_w = model.expert_params / tpf
        # Grouped expert GEMMs run below dense-GEMM efficiency (global fit constant).
        moe_gemm = (
            gemm(
                2 * routed_tok * model.expert_params / tpf,
                m_expert,
                fe / tpf,
                h,
                local_experts * expert_w,
            )
            / eff.grouped_gemm_factor
        )
        if model.shared_experts:
            moe_gemm = moe_gemm + gemm(
                2 * tok * model.shared_experts * model.expert_params / tpf,
                tok,
                fe / tpf,
                h,
                model.shared_experts * expert_w,
            )
        router = 2 * tok * h * model.experts / mm_rate
        moe_gemm = moe_gemm + router
        # permute + unpermute of each routed token copy (read + write h, twice)
        moe_act_elems = (model.top_k + model.shared_experts) * (f_act_in + 1) * fe
        moe_ew = (
            tok * BF16_BYTES * (base_elems + 4 * model.top_k * h + moe_act_elems) / tpf / mem_rate
        )
        moe_act_ew = tok * BF16_BYTES * moe_act_elems / tpf / mem_rate
    else:
        moe_gemm = moe_ew = moe_act_ew = np.zeros_like(tok)

    shape = stage_shape(model, plans)
    n_dense, n_moe = shape.dense_layers, shape.moe_layers

    gemm_fwd = n_dense * (attn_gemm + dense_mlp_gemm) + n_moe * (attn_gemm + moe_gemm)
    attn_fwd = shape.layers * attn_core
    ew_fwd = n_dense * dense_ew + n_moe * moe_ew
    act_ew = n_dense * dense_act_ew + n_moe * moe_act_ew
    # LM head and loss (on the last stage).
    head_gemm = gemm(
        2 * tok * h * model.vocab / tpf, tok, model.vocab / tpf, h, h * model.vocab / tpf
    )
    head_ew = tok * model.vocab / tpf * LOSS_BYTES_PER_LOGIT / mem_rate

    full = rc == Recompute.FULL
    selective = rc == Recompute.SELECTIVE
    fwd = gemm_fwd + attn_fwd + ew_fwd
    recompute_mb = np.where(full, fwd, np.where(selective, act_ew, 0.0))
    gemm_mb = 3 * (gemm_fwd + head_gemm)
    attn_mb = (1 + ATTENTION_BACKWARD_RATIO) * attn_fwd
    ew_mb = 3 * ew_fwd + 2 * head_ew
    # Fixed per-layer costs: kernel launches and synchronisation; MoE layers add router
    # top-k, token permutation bookkeeping and the dropless host sync (global fit).
    overhead_mb = (
        shape.layers * eff.layer_overhead_s + n_moe * eff.moe_layer_overhead_s
    ) * np.where(full, 3.0, 2.0)
    compute_mb = gemm_mb + attn_mb + ew_mb + recompute_mb + overhead_mb
    fwd_mb = fwd + head_gemm + head_ew  # forward part, for overlap windows
    bwd_mb = compute_mb - fwd_mb

    # ---- communication per micro-batch ---------------------------------------------
    c = _collective_times(model, training, plans, stack, network)
    tp_per_layer = (4.0 + np.where(full, 2.0, 0.0)) * (c.tp_all_gather_s + c.tp_reduce_scatter_s)
    tp_comm_mb = (1 - stack.tp_overlap) * shape.layers * tp_per_layer

    t_kv = c.cp_kv_send_s
    cp_fwd = np.maximum(0.0, (cp - 1) * t_kv - attn_core)
    cp_bwd = np.maximum(0.0, 2 * (cp - 1) * t_kv - ATTENTION_BACKWARD_RATIO * attn_core)
    cp_comm_mb = shape.layers * (cp_fwd + cp_bwd + np.where(full, cp_fwd, 0.0))

    if model.is_moe:
        ep_comm_mb = (
            (1 - stack.ep_overlap) * n_moe * (4.0 + np.where(full, 2.0, 0.0)) * c.ep_all_to_all_s
        )
    else:
        ep_comm_mb = np.zeros_like(tok)

    pp_comm_mb = 2 * vp * c.pp_send_s

    t_mb = compute_mb + tp_comm_mb + cp_comm_mb + ep_comm_mb + pp_comm_mb
    bubble = (pp - 1) / vp * t_mb
    pipeline = m * t_mb + bubble

    # ---- data parallel and optimizer -------------------------------------------------
    dpc = dp * cp
    t_ar, t_grad_rs, t_param_ag = c.dp_all_reduce_s, c.dp_reduce_scatter_s, c.dp_all_gather_s
    ov = stack.dp_overlap
    exposed_std = np.where(
        sh == Sharding.NONE,
        np.maximum(0.0, t_ar - ov * bwd_mb),
        np.maximum(0.0, t_grad_rs - ov * bwd_mb) + np.maximum(0.0, t_param_ag - ov * fwd_mb),
    )
    exposed_z3 = m * (
        np.maximum(0.0, t_param_ag - ov * fwd_mb)
        + np.maximum(0.0, t_param_ag + t_grad_rs - ov * bwd_mb)
    )
    dp_comm = np.where(sh == Sharding.ZERO3, exposed_z3, exposed_std)

    d_dense = dpc.astype(np.float64)
    d_exp = np.maximum(d_dense / ep, 1.0)
    opt_params = shape.dense_params / np.where(
        sh >= 1, d_dense, 1.0
    ) + shape.expert_params / np.where(sh >= 1, d_exp, 1.0)
    optimizer = opt_params * OPTIMIZER_BYTES_PER_PARAM / mem_rate
    overhead = np.full_like(pipeline, eff.step_overhead_s)

    step = pipeline + dp_comm + optimizer + overhead

    # ---- throughput and utilisation ------------------------------------------------
    tokens_per_step = (plans.global_batch * s).astype(np.float64)
    tps = tokens_per_step / step
    tps_gpu = tps / plans.num_gpus
    flops_tok = model.model_flops_per_token(s)
    # Hardware FLOPs beyond the model's: one extra forward under full recompute
    # (selective recompute re-runs memory-bound ops only).
    recompute_flops_tok = np.where(full, flops_tok / 3.0, 0.0)
    mfu = flops_tok * tps_gpu / mm_peak
    hfu = (flops_tok + recompute_flops_tok) * tps_gpu / mm_peak

    if memory is None:
        memory = memory_breakdown(model, training, plans, stack, eff)
    return StepBatch(
        plans=plans,
        compute_s=m * compute_mb,
        gemm_s=m * gemm_mb,
        attention_s=m * attn_mb,
        elementwise_s=m * (ew_mb + overhead_mb),
        recompute_s=m * recompute_mb,
        tp_comm_s=m * tp_comm_mb,
        cp_comm_s=m * cp_comm_mb,
        ep_comm_s=m * ep_comm_mb,
        pp_comm_s=m * pp_comm_mb,
        bubble_s=bubble,
        dp_comm_s=dp_comm,
        optimizer_s=optimizer,
        overhead_s=overhead,
        step_time_s=step,
        tokens_per_step=tokens_per_step,
        tokens_per_s=tps,
        tokens_per_s_per_gpu=tps_gpu,
        mfu=mfu,
        hfu=hfu,
        memory=memory,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _CollectiveTimes:
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
_DISTINCT_MIN = 2048


def _distinct_comm_plans(plans: PlanBatch) -> tuple[np.ndarray, np.ndarray] | None:
    """Index of one plan per distinct communication key and the inverse map, or ``None``
    when the batch is small or the packed key would not fit."""
    if len(plans) < _DISTINCT_MIN:
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


def _collective_times(
    model: TransformerSpec,
    training: Training,
    plans: PlanBatch,
    stack: StackProfile,
    network: Network,
) -> _CollectiveTimes:
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

    # Data parallel over dp x cp ranks for dense parameters; experts over dp x cp / ep.
    dpc = dp * cp
    exp_group = np.maximum(dpc // np.maximum(ep, 1), 1)
    exp_stride = tp * ep

    def dp_time(op: Collective, per_param_bytes: float) -> np.ndarray:
        t = network.time_s(
            op, size_bytes=shape.dense_params * per_param_bytes, group_size=dpc, stride=tp
        )
        if model.is_moe:
            t = t + network.time_s(
                op,
                size_bytes=shape.expert_params * per_param_bytes,
                group_size=exp_group,
                stride=exp_stride,
            )
        return t

    grad_b = stack.grad_reduce_bytes
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
    return _CollectiveTimes(**times)
