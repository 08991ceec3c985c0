"""Step-time model, vectorised over plans.

One implementation serves ``estimate`` (a batch of one plan) and ``search`` (a batch of
millions). Per micro-batch and pipeline stage:

compute
  GEMMs: FLOPs / (the GPU's measured matmul ceiling x shape efficiency (tile and wave
  quantisation, short K; :mod:`colossim.perf.compute`) x stack factor <= 1 x clocks),
  bounded below by the time to stream its operands from HBM (roofline); backward = the
  data-gradient GEMM (M x K output, reduction over N) and the weight-gradient GEMM (K x N
  output, reduction over the tokens), each at its own shape. FP8 inputs pay their recipe's amax and cast
  traffic and GEMM factor (:mod:`colossim.workload.fp8`, catalog fp8.yaml).
  Attention core (flash attention): causal FLOPs 2*T*s*heads*(d_qk + d_v)/2 per layer at
  the measured efficiency of the stack's kernel family on the GPU's generation, a function
  of the sequence length per kernel call and the head dim (catalog attention.yaml,
  :mod:`colossim.workload.attention`), of the 16-bit peak x stack factor x clocks;
  backward = 2.5 x the forward FLOPs (5 matmuls vs 2, Dao 2023) at its own efficiency.
  Memory-bound ops (norms, residuals, rotary, activation functions, MoE permutes): bytes /
  (HBM bandwidth x efficiency); backward = 2 x forward.
  Recompute: full adds one forward (Korthikanti et al. 2022, sec. 5); selective adds the
  attention core forward and the activation functions.
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
  time = (m + (pp-1)/vp) x t_microbatch (Narayanan et al. 2021, sec. 2.2.1-2.2.2), the
  bottleneck stage being the last (uniform split: its layers + LM head) or, for stacks
  that split by cost, max(total/pp, LM head, one layer). A micro-batch takes at least
  the host time to issue its kernels (launch-bound eager stacks, small per-GPU work).
data parallel
  gradient all-reduce (no ZeRO) or reduce-scatter + parameter all-gather (ZeRO-1/2),
  per micro-batch gathers with ZeRO-3, overlapped with backward/forward compute up to
  the stack's ``dp_overlap`` share; then the Adam step, memory-bound.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from colossim.cluster import Cluster
from colossim.hardware import Precision
from colossim.parallel.memory import (
    MemoryBreakdown,
    layers_recomputed,
    memory_breakdown,
    stage_shape,
)
from colossim.parallel.plan import BF16_BYTES, PlanBatch, Recompute, packed_key
from colossim.perf.collective_times import DISTINCT_MIN, CollectiveTimes, collective_times
from colossim.perf.compute import gemm_ceiling_flop_per_s, gemm_half_dim, gemm_seconds
from colossim.perf.context import Context
from colossim.perf.data_parallel import data_parallel
from colossim.perf.pressure import allocator_pressure
from colossim.perf.tp_sync import pp_across_nodes, tp_host_sync_s, tp_pp_skew_s
from colossim.workload.attention import AttentionKernel, attention_kernel
from colossim.workload.fp8 import resolve_recipe
from colossim.workload.model import TransformerSpec
from colossim.workload.stack import Efficiency, StackProfile
from colossim.workload.training import Training

__all__ = ["CollectiveTimes", "StepBatch", "collective_times", "evaluate"]

# Backward FLOPs of flash attention: 5 matmuls to the forward's 2 (Dao 2023, sec. 3.1.2).
ATTENTION_BACKWARD_RATIO = 2.5
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
    host_s: np.ndarray | None = None  # GPU idle while the host issues kernels (exposed)
    # Compute slowed by overlapped collectives: TP/CP/EP (per micro-batch) and DP.
    interference_s: np.ndarray | None = None
    dp_interference_s: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.plans)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Rates:
    """Kernel rates of one GPU under one stack (FLOP/s, bytes/s)."""

    mm: float  # GEMM ceiling x stack factor x clocks (before the shape efficiency)
    attn_peak: float  # 16-bit peak x stack factor x clocks (before the kernel efficiency)
    attn_kernel: AttentionKernel
    mem: float
    gemm_elem_bytes: float
    sm_count: int
    k_half: float
    cast_bytes: float  # FP8 recipe: HBM bytes per element of a tensor's cast
    transposed_bytes: float  # and per element of a backward operand requantised transposed
    training: Training  # the run (its MoE load imbalance)
    fused_projections: bool = True  # Q, K, V (and gate, up) as one GEMM each
    # Separate linears over one input share its FP8 cast (per-tensor scales: cast once,
    # all-gathered in FP8); False: each linear casts the 16-bit input itself.
    shared_input_cast: bool = True


def _rates(cluster: Cluster, training: Training, stack: StackProfile, eff: Efficiency) -> _Rates:
    gpu = cluster.gpu
    prec = str(training.precision)
    fp8 = training.precision in (Precision.FP8, Precision.MXFP8, Precision.FP4)
    # MODEL: power-capped parts sustain the clocks their board power limit allows (<= 1,
    # GPU.sustained_clock_fraction); the stack factor (<= 1) is kernel quality.
    clocks = gpu.sustained_clock_fraction(eff.dvfs_power_exponent)
    factor = min(stack.compute_factor, 1.0) * clocks
    ceiling = gemm_ceiling_flop_per_s(gpu, prec)
    # FP8: the run's recipe (catalog fp8.yaml) sets the cast traffic and its GEMM rate
    # relative to the tensorwise ceiling (<= 1), times one fitted global factor (<= 1).
    cost = resolve_recipe(prec, training.fp8_recipe, stack.fp8_recipe, gpu)
    recipe = min(eff.fp8_gemm_factor, 1.0) * min(cost.gemm_factor, 1.0) if fp8 else 1.0
    return _Rates(
        mm=ceiling * recipe * factor,
        attn_peak=gpu.peak("bf16") * factor,
        attn_kernel=attention_kernel(stack.attention_kernel, gpu.generation, gpu.id),
        mem=gpu.hbm_bw_bytes_per_s * eff.elementwise_bw_efficiency,
        gemm_elem_bytes=1.0 if fp8 else float(BF16_BYTES),
        sm_count=gpu.sm_count,
        k_half=gemm_half_dim(gpu, prec, eff.gemm_half_dim),
        cast_bytes=cost.cast_bytes if fp8 else 0.0,
        transposed_bytes=cost.transposed_cast_bytes if fp8 else 0.0,
        training=training,
        fused_projections=stack.fused_projections > 0.5,
        # MODEL: only per-tensor recipes (no transposed requantisation) can cast the
        # block input once and all-gather it in FP8 for the Q, K, V (gate, up) linears;
        # torchtitan: "float8 all-gather with TP is only supported for tensorwise ...
        # for rowwise recipes ... all-gather happens in high precision" (parallelize.py)
        shared_input_cast=cost.transposed_cast_bytes == 0,
    )


def _gemm(r: _Rates, m_dim, n_dim, k_dim, groups=1.0):
    """Forward and backward seconds of a linear layer, ``groups`` GEMMs of M x N x K (one
    grouped launch): forward M x N output over K; backward its data gradient (M x K
    output, reduction over N) and weight gradient (K x N output, reduction over the M
    tokens), each at the rate of its own shape and bounded below by the time to stream
    the same operands from HBM (roofline, Williams et al. 2009)."""
    flops = 2.0 * groups * m_dim * n_dim * k_dim
    x, dy = groups * m_dim * k_dim, groups * m_dim * n_dim

    def one(m, n, k):
        return gemm_seconds(
            m, n, k, ceiling=r.mm, hbm_bytes_per_s=r.mem, elem_bytes=r.gemm_elem_bytes,
            sm_count=r.sm_count, k_half=r.k_half, groups=groups,
        )  # fmt: skip

    # FP8 (catalog fp8.yaml, colossim.workload.fp8): the forward casts x, the backward
    # dY, and requantises x^T and dY^T where the recipe's scales run along the other
    # dimension (amax + cast kernels, memory-bound); the weights' casts are priced per
    # step (:func:`_fp8_weight_casts_s`).
    present = flops > 0  # absent GEMMs (no dense MLP in an all-MoE model)
    fwd = one(m_dim, n_dim, k_dim) + r.cast_bytes * x / r.mem
    bwd = one(m_dim, k_dim, n_dim) + one(k_dim, n_dim, m_dim)
    bwd = bwd + (r.cast_bytes * dy + r.transposed_bytes * (x + dy)) / r.mem
    return np.where(present, fwd, 0.0), np.where(present, bwd, 0.0)


def _gemm_shared_input(r: _Rates, m_dim, widths, k_dim, groups=1.0):
    """Forward and backward seconds of separate linears of output widths ``widths`` over
    one input (M x K; ``groups`` of them in one grouped launch each): every GEMM at its
    own shape, the input's forward FP8 cast once where the recipe allows it."""
    f = b = 0.0
    for n in widths:
        fi, bi = _gemm(r, m_dim, n, k_dim, groups)
        f, b = f + fi, b + bi
    if not r.shared_input_cast:
        return f, b
    shared = (len(widths) - 1) * r.cast_bytes * groups * m_dim * k_dim / r.mem
    return f - shared, b


def _mlp(r: _Rates, m_dim, h: int, ffn: float, matrices: int, groups=1.0):
    """Forward and backward seconds of an MLP (or ``groups`` experts) with ``ffn`` inner
    features per GPU: the column-parallel input GEMM (gate and up fused: ``matrices`` - 1
    of them, h -> ffn each) and the row-parallel output GEMM (ffn -> h, its reduction
    over the sharded ffn)."""
    if r.fused_projections or matrices < 3:
        up_f, up_b = _gemm(r, m_dim, (matrices - 1) * ffn, h, groups)
    else:  # gate and up as two linears (torchtitan w1, w3)
        up_f, up_b = _gemm_shared_input(r, m_dim, (ffn,) * (matrices - 1), h, groups)
    down_f, down_b = _gemm(r, m_dim, h, ffn, groups)
    return up_f + down_f, up_b + down_b


@dataclass(frozen=True, slots=True, kw_only=True)
class _Layer:
    """Seconds of one layer (dense and MoE kinds) and of the LM head, per GPU and
    micro-batch: forward, and the GEMMs' backward apart (``*_bwd``)."""

    dense_gemm: np.ndarray
    dense_gemm_bwd: np.ndarray
    moe_gemm: np.ndarray
    moe_gemm_bwd: np.ndarray
    attn_core: np.ndarray
    attn_core_bwd: np.ndarray
    dense_ew: np.ndarray
    moe_ew: np.ndarray
    dense_act_ew: np.ndarray
    moe_act_ew: np.ndarray
    head_gemm: np.ndarray
    head_gemm_bwd: np.ndarray
    head_ew: np.ndarray


def _layer_forward(model: TransformerSpec, s: int, plans: PlanBatch, r: _Rates) -> _Layer:
    tok = (plans.micro_batch * s / plans.cp).astype(np.float64)  # tokens in each GEMM
    tpf = plans.tp.astype(np.float64)
    h, q, kv = model.hidden, model.q_dim, model.kv_dim
    # Attention projections: the output projection (heads x v_dim -> h) is row-parallel,
    # the rest (Q, K, V; MLA's low-rank down/up projections) column-parallel.
    out_in = model.heads * model.attn_v_dim
    in_width = model.attention_params / h - out_in  # Q, K, V (MLA: its projections)
    if r.fused_projections or model.mla:
        qkv_f, qkv_b = _gemm(r, tok, in_width / tpf, h)
    else:
        # MODEL: separate Q, K and V linears (torchtitan): three GEMMs over the same
        # input, its FP8 cast shared (one cast before the TP all-gather).
        qkv_f, qkv_b = _gemm_shared_input(r, tok, (q / tpf, kv / tpf, kv / tpf), h)
    o_f, o_b = _gemm(r, tok, h, out_in / tpf)
    f_act_in = 2 if model.gated_mlp else 1
    mlp_f, mlp_b = _mlp(r, tok, h, model.ffn_hidden / tpf, model.mlp_matrices)
    # Flash attention, causal: 2*T*s*heads*(d_qk + d_v)/2 FLOPs (Dao 2023).
    d_sum = model.attn_qk_dim + model.attn_v_dim
    attn_core = 2 * tok * s * (model.heads / tpf) * d_sum * 0.5
    # MODEL: the kernel's isolated-benchmark efficiency at the sequence one call sees
    # (ring attention under CP: s / cp queries against s / cp keys per step) and the mean
    # of the q/k and v head dims; heads per GPU and the ring's merges are not modelled.
    eff_fwd, eff_bwd = r.attn_kernel.efficiency(s / plans.cp, 0.5 * d_sum)
    # Memory-bound bytes per token (16-bit): two norms (read+write h each), two residual
    # adds (2 reads + 1 write of h each), rotary on q and k (read+write), activation
    # function (reads gate+up or fc1 output, writes its output).
    base = 10 * h + 2 * (q + kv)
    per_tok = tok * BF16_BYTES / tpf / r.mem
    dense_act = per_tok * (f_act_in + 1) * model.ffn_hidden
    moe_f = moe_b = moe_ew = moe_act = np.zeros_like(tok)
    if model.is_moe:
        moe_f, moe_b, moe_act = _moe_forward(model, tok, plans, r, f_act_in)
        # permute and unpermute: read + write each routed copy, twice (busiest rank)
        moe_ew = (
            per_tok * (base + 4 * model.top_k * h * r.training.busiest_ep_share(plans.ep)) + moe_act
        )
    head_f, head_b = _gemm(r, tok, model.vocab / tpf, h)
    return _Layer(
        dense_gemm=qkv_f + o_f + mlp_f,
        dense_gemm_bwd=qkv_b + o_b + mlp_b,
        moe_gemm=qkv_f + o_f + moe_f,
        moe_gemm_bwd=qkv_b + o_b + moe_b,
        attn_core=attn_core / (r.attn_peak * eff_fwd),
        attn_core_bwd=ATTENTION_BACKWARD_RATIO * attn_core / (r.attn_peak * eff_bwd),
        dense_ew=per_tok * base + dense_act,
        moe_ew=moe_ew,
        dense_act_ew=dense_act,
        moe_act_ew=moe_act,
        head_gemm=head_f,
        head_gemm_bwd=head_b,
        head_ew=tok * model.vocab / tpf * LOSS_BYTES_PER_LOGIT / r.mem,
    )


def _moe_forward(model: TransformerSpec, tok, plans: PlanBatch, r: _Rates, f_act_in: int):
    """Expert GEMMs + router, forward and backward (s), and the MoE layer's memory-bound
    activation seconds."""
    tpf, ep = plans.tp.astype(np.float64), plans.ep
    fe, h = model.moe_ffn_hidden, model.hidden
    imb = r.training.busiest_ep_share(plans.ep)
    # tokens per local expert on the busiest EP rank (its share over the mean: imb)
    m_expert = imb * tok * model.top_k * ep / model.experts
    # Grouped expert GEMMs: the local experts' GEMMs of m_expert tokens in one launch
    # (tile quantisation per expert, waves over all of them) at the dense GEMM rate: the
    # measured contiguous-layout grouped GEMMs run at the rate of dense GEMMs of the same
    # shape (catalog kernels.yaml gemm_benchmarks grouped_rows; tests/test_kernels.py).
    moe_f, moe_b = _mlp(r, m_expert, h, fe / tpf, model.mlp_matrices, model.experts / ep)
    if model.shared_experts:
        sh_f, sh_b = _mlp(r, tok, h, model.shared_experts * fe / tpf, model.mlp_matrices)
        moe_f, moe_b = moe_f + sh_f, moe_b + sh_b
    router = 2 * tok * h * model.experts / r.mm
    act_elems = (imb * model.top_k + model.shared_experts) * (f_act_in + 1) * fe
    act = tok * BF16_BYTES * act_elems / tpf / r.mem
    return moe_f + router, moe_b + 2 * router, act


def evaluate(
    ctx: Context,
    plans: PlanBatch,
    *,
    memory: MemoryBreakdown | None = None,
    collectives: CollectiveTimes | None = None,
) -> StepBatch:
    """Step time, throughput, MFU and memory of every plan in ``plans`` (``memory``:
    an already computed memory breakdown of the same plans, as the search has one;
    ``collectives``: their already priced collectives, :func:`collective_times`, which
    depend on the stack only through its gradient width)."""
    model, training, cluster = ctx.model, ctx.training, ctx.cluster
    stack, eff, network = ctx.stack, ctx.eff, ctx.network
    r = _rates(cluster, training, stack, eff)
    shape = stage_shape(model, plans)
    mb = _microbatch(model, training, plans, r, shape, stack, eff)
    c = collectives or collective_times(model, training, plans, stack, network)
    comm = _microbatch_comm(model, plans, shape, stack, c, mb, network.scaleup_domain, training)
    m = plans.num_microbatches.astype(np.float64)
    # Compute that runs while a collective is in flight is slower: the NCCL kernels hold
    # SMs and HBM bandwidth (eff.overlap_compute_slowdown, measured).
    interference_mb = eff.overlap_compute_slowdown * comm.hidden
    gpu_mb = mb.compute + comm.tp + comm.cp + comm.ep + comm.pp + interference_mb
    # The GPU idles when the host cannot issue a micro-batch's kernels faster than they run
    # (eager frameworks, small per-GPU work): kernel-launch bound.
    host_mb = np.maximum(0.0, mb.host + comm.skew - gpu_mb)
    t_mb = gpu_mb + host_mb
    bubble = (plans.pp - 1) / plans.vp * t_mb  # Narayanan et al. 2021, sec. 2.2.1-2.2.2
    pipeline = m * t_mb + bubble
    dp_comm, dp_hidden, optimizer = data_parallel(
        plans, shape, stack, c, fwd=mb.fwd, bwd=mb.bwd, mem=r.mem, m=m
    )
    dp_interference = eff.overlap_compute_slowdown * dp_hidden
    if memory is None:
        memory = memory_breakdown(model, training, plans, stack, eff)
    weight_casts = _fp8_weight_casts_s(shape, r, stack, m)
    busy = pipeline + dp_comm + dp_interference + optimizer + weight_casts
    overhead = eff.step_overhead_s + busy * stack.alloc_pressure * allocator_pressure(
        memory, cluster, eff
    )
    step = busy + overhead

    tokens_per_step = (plans.global_batch * training.seq_len).astype(np.float64)
    tps = tokens_per_step / step
    tps_gpu = tps / plans.num_gpus
    flops_tok = model.model_flops_per_token(training.seq_len)
    recompute_flops_tok = _recompute_flops_per_token(model, training.seq_len, plans, stack)
    peak = cluster.gpu.peak(str(training.precision))
    return StepBatch(
        plans=plans,
        compute_s=m * mb.compute,
        gemm_s=m * mb.gemm,
        attention_s=m * mb.attn,
        elementwise_s=m * (mb.ew + mb.overhead) + weight_casts,
        recompute_s=m * mb.recompute,
        tp_comm_s=m * comm.tp,
        cp_comm_s=m * comm.cp,
        ep_comm_s=m * comm.ep,
        pp_comm_s=m * comm.pp,
        bubble_s=bubble,
        dp_comm_s=dp_comm,
        optimizer_s=optimizer,
        overhead_s=overhead,
        step_time_s=step,
        tokens_per_step=tokens_per_step,
        tokens_per_s=tps,
        tokens_per_s_per_gpu=tps_gpu,
        mfu=flops_tok * tps_gpu / peak,
        hfu=(flops_tok + recompute_flops_tok) * tps_gpu / peak,
        memory=memory,
        host_s=m * host_mb,
        interference_s=m * interference_mb,
        dp_interference_s=dp_interference,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _MicroBatch:
    """Seconds per micro-batch on the bottleneck pipeline stage."""

    gemm: np.ndarray
    attn: np.ndarray
    ew: np.ndarray
    recompute: np.ndarray
    overhead: np.ndarray
    compute: np.ndarray
    fwd: np.ndarray  # forward part, the window that hides parameter gathers
    bwd: np.ndarray  # backward part, the window that hides gradient reduction
    attn_core: np.ndarray  # one layer's attention core forward (hides the CP ring)
    attn_core_bwd: np.ndarray  # and its backward
    scale: np.ndarray  # bottleneck-stage time relative to ceil(L/pp) layers + LM head
    host: np.ndarray  # host time to issue the micro-batch's kernels


def _recompute_flops_per_token(model, seq_len: int, plans: PlanBatch, stack) -> np.ndarray:
    """Hardware FLOPs per token beyond the model's: one extra forward under full
    recompute; selective recompute re-runs the attention core forward (and memory-bound
    activations), or 1/k of the forward where the stack recomputes every k-th layer."""
    rerun = layers_recomputed(plans.recompute, stack.selective_layer_period)
    parts = (plans.recompute == Recompute.SELECTIVE) & (rerun == 0)
    attention = model.attention_flops_per_token(seq_len)
    return np.where(parts, attention, rerun * model.model_flops_per_token(seq_len) / 3.0)


def _layer_forward_distinct(model: TransformerSpec, s: int, plans: PlanBatch, r: _Rates) -> _Layer:
    """:func:`_layer_forward` on the distinct (tp, micro-batch, cp, ep) keys of a large
    batch (a layer's kernels depend on nothing else), expanded back: the GEMM shape
    efficiency is the costliest part of the model and a search has few distinct keys."""
    if len(plans) < DISTINCT_MIN:
        return _layer_forward(model, s, plans, r)
    key = packed_key((plans.tp, plans.micro_batch, plans.cp, plans.ep))
    if key is None:
        return _layer_forward(model, s, plans, r)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    sub = _layer_forward(model, s, plans.take(first), r)
    inverse = inverse.ravel()
    return _Layer(**{f.name: getattr(sub, f.name)[inverse] for f in fields(_Layer)})


def _microbatch(model, training, plans, r, shape, stack, eff) -> _MicroBatch:
    lay = _layer_forward_distinct(model, training.seq_len, plans, r)
    n_dense, n_moe = shape.dense_layers, shape.moe_layers
    gemm_fwd = n_dense * lay.dense_gemm + n_moe * lay.moe_gemm
    attn_fwd = shape.layers * lay.attn_core
    ew_fwd = n_dense * lay.dense_ew + n_moe * lay.moe_ew
    act_ew = n_dense * lay.dense_act_ew + n_moe * lay.moe_act_ew
    selective = plans.recompute == Recompute.SELECTIVE
    fwd = gemm_fwd + attn_fwd + ew_fwd
    # Recompute: full adds one forward (Korthikanti et al. 2022, sec. 5); selective adds
    # what the memory model drops for it (parallel/memory.py): the attention core forward
    # (its output is recomputed from Q, K, V; Korthikanti sec. 5, Megatron-Core
    # recompute_modules core_attn) and the activation functions. The GEMMs' backward at
    # the data- and weight-gradient shapes; flash attention's backward at its own kernel
    # efficiency. A stack whose selective recompute is whole layers (every k-th one in
    # full: torchtitan) re-runs 1/k of the forward instead.
    layers_rerun = layers_recomputed(plans.recompute, stack.selective_layer_period)
    parts = selective & (layers_rerun == 0)
    recompute = np.where(parts, act_ew + attn_fwd, layers_rerun * fwd)
    gemm_bwd = n_dense * lay.dense_gemm_bwd + n_moe * lay.moe_gemm_bwd
    head_gemm = lay.head_gemm + lay.head_gemm_bwd
    gemm = gemm_fwd + gemm_bwd + head_gemm
    attn = attn_fwd + shape.layers * lay.attn_core_bwd
    ew = 3 * ew_fwd + 2 * lay.head_ew
    passes = 2.0 + layers_rerun
    # Fixed per-layer GPU costs: synchronisation and small kernels; MoE layers add router
    # top-k, token permutation bookkeeping and the dropless host sync (global fit).
    overhead = (shape.layers * eff.layer_overhead_s + n_moe * eff.moe_layer_overhead_s) * passes
    head = head_gemm + 2 * lay.head_ew
    body = gemm + attn + ew + recompute + overhead - head
    scale = _stage_balance(model, plans, shape, body, head, stack)
    compute = scale * (body + head)
    fwd_mb = scale * (fwd + lay.head_gemm + lay.head_ew)
    # Host time: the stack's per-layer launch cost, per pass (forward, backward, and the
    # recomputed forward).
    # MODEL: a run that captures its layers in CUDA graphs (training.cuda_graphs) replays
    # them with one launch per graph instead of one per kernel, so the host no longer
    # bounds a micro-batch (CUDA C++ Programming Guide, "CUDA Graphs"; Megatron-Core
    # --enable-cuda-graph); the GPU-side per-layer costs stay.
    eager = 0.0 if training.cuda_graphs else 1.0
    host = eager * shape.layers * stack.layer_host_s * passes / 2.0
    return _MicroBatch(
        gemm=scale * gemm,
        attn=scale * attn,
        ew=scale * ew,
        recompute=scale * recompute,
        overhead=scale * overhead,
        compute=compute,
        fwd=fwd_mb,
        bwd=compute - fwd_mb,
        attn_core=lay.attn_core,
        attn_core_bwd=lay.attn_core_bwd,
        scale=scale,
        host=host,
    )


def _fp8_weight_casts_s(shape, r: _Rates, stack: StackProfile, m: np.ndarray) -> np.ndarray:
    """Seconds per step casting the stage's layer weights to FP8 (and the transposed
    copy the data-gradient GEMM needs where the recipe's scales run along K): at every
    micro-batch, or once per step where the stack caches FP8 weights across the step's
    micro-batches (Transformer Engine ``is_first_microbatch``)."""
    casts = 1.0 + (m - 1.0) * (1.0 - min(max(stack.fp8_weight_cache, 0.0), 1.0))
    elems = shape.layers * shape.layer_params
    return casts * (r.cast_bytes + r.transposed_bytes) * elems / r.mem


def _stage_balance(model, plans, shape, body, head, stack) -> np.ndarray:
    """Bottleneck-stage time relative to the default split (ceil(L/pp) layers per stage,
    LM head and loss on the last stage on top of its layers).

    A stack that partitions layers by compute cost (nanotron: blocks assigned to stages
    by their cost) reaches max(total / pp, LM head, one layer); the others keep the
    uniform split, whose last stage carries the head (Narayanan et al. 2021 sec. 2.2;
    Megatron-LM's --account-for-loss-in-pipeline-split is off by default), less the empty
    layer slots it takes when pp does not divide the layers (:class:`StageShape`), so
    the bottleneck is the larger of a full middle stage and that last stage."""
    per_layer = body / np.maximum(shape.layers, 1.0)
    # Multi-token prediction (model.mtp_layers): a block and an LM-head pass per module,
    # after the last layer (DeepSeek-V3 report, arXiv:2412.19437, sec. 2.2).
    mtp = model.mtp_layers * (per_layer + head)
    base = np.maximum(body + head, 1e-30)
    if stack.pp_balance != "cost":
        # the last stage: its layers (one slot fewer per empty slot it takes) + LM head
        last = per_layer * shape.last_layers + head + mtp
        return np.where(plans.pp > 1, np.maximum(body, last), body + head + mtp) / base
    total = per_layer * model.layers + head + mtp
    balanced = np.maximum(np.maximum(total / plans.pp, head), per_layer)
    return np.where(plans.pp > 1, balanced, total) / base


@dataclass(frozen=True, slots=True, kw_only=True)
class _Comm:
    """Exposed communication seconds per micro-batch, and the hidden (overlapped) ones."""

    tp: np.ndarray
    cp: np.ndarray
    ep: np.ndarray
    pp: np.ndarray
    hidden: np.ndarray  # TP + CP + EP seconds overlapped with compute
    skew: np.ndarray  # host-side TP skew waits (a floor with the host's launches)


def _tp_overlap(stack: StackProfile, training: Training) -> float:
    """Share of TP communication the stack hides: its default, or what the run asks
    (``tp_comm_overlap``: Megatron-Core --tp-comm-overlap, torchtitan async TP)."""
    if training.tp_comm_overlap is None:
        return stack.tp_overlap
    return stack.tp_overlap_enabled if training.tp_comm_overlap else 0.0


def _microbatch_comm(model, plans, shape, stack, c, mb: _MicroBatch, domain, training) -> _Comm:
    full = plans.recompute == Recompute.FULL
    layers = shape.layers * mb.scale
    # TP with sequence parallelism: 2 all-gathers + 2 reduce-scatters of T*h per layer
    # forward and as many backward (Korthikanti et al. 2022, sec. 4.2.2).
    tp_layer = (4.0 + np.where(full, 2.0, 0.0)) * (c.tp_all_gather_s + c.tp_reduce_scatter_s)
    # MODEL: a stack hides its tp_overlap share behind GEMMs only inside the scale-up
    # domain; TP groups that span nodes wait on the NIC, latency-bound and exposed.
    hidden = _tp_overlap(stack, training) * (plans.tp <= domain)
    tp_hidden = hidden * layers * tp_layer
    tp = layers * tp_layer - tp_hidden + tp_host_sync_s(plans, layers, domain, stack)
    # CP ring attention: (cp-1) K/V exchanges per layer forward, twice backward, hidden
    # behind the attention core where it is long enough (Liu et al. 2023).
    t_kv, cp = c.cp_kv_send_s, plans.cp
    cp_fwd = np.maximum(0.0, (cp - 1) * t_kv - mb.attn_core)
    cp_bwd = np.maximum(0.0, 2 * (cp - 1) * t_kv - mb.attn_core_bwd)
    cp_comm = layers * (cp_fwd + cp_bwd + np.where(full, cp_fwd, 0.0))
    cp_total = layers * (cp - 1) * t_kv * (3.0 + np.where(full, 1.0, 0.0))
    ep = ep_hidden = np.zeros_like(tp)
    if model.is_moe:
        # the busiest rank's all-to-all carries its share of the routed tokens
        calls = shape.moe_layers * mb.scale * (4.0 + np.where(full, 2.0, 0.0))
        calls = calls * training.busiest_ep_share(plans.ep)
        ep_hidden = stack.ep_overlap * calls * c.ep_all_to_all_s
        ep = calls * c.ep_all_to_all_s - ep_hidden
    # PP: activations sent and received per micro-batch and virtual stage (forward) and
    # their gradients (backward): 4 blocking p2p calls, each with the stack's host
    # handshake when the neighbour stage sits across the scale-out network.
    across = pp_across_nodes(plans, domain)
    handshake = np.where(across, 4 * plans.vp * stack.pp_p2p_host_s, 0.0)
    hidden_all = tp_hidden + np.maximum(cp_total - cp_comm, 0.0) + ep_hidden
    pp = 2 * plans.vp * c.pp_send_s + handshake
    skew = tp_pp_skew_s(plans, layers, domain, stack)
    return _Comm(tp=tp, cp=cp_comm, ep=ep, pp=pp, hidden=hidden_all, skew=skew)
