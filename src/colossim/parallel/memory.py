"""Memory per GPU of a batch of plans: weights, gradients, optimizer states, activations
(Korthikanti et al. 2022; Rajbhandari et al. 2020)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colossim.parallel.plan import BF16_BYTES, FP32_BYTES, PlanBatch, Recompute, Sharding
from colossim.workload.model import TransformerSpec
from colossim.workload.stack import Efficiency, StackProfile
from colossim.workload.training import Training

__all__ = [
    "ADAM_STATE_BYTES",
    "MemoryBreakdown",
    "StageShape",
    "layers_recomputed",
    "memory_breakdown",
    "stage_shape",
]

ADAM_STATE_BYTES = 12  # fp32 master weights + m + v (Rajbhandari et al. 2020, sec. 3.1: K = 12)


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryBreakdown:
    """Per-GPU memory of each plan, bytes (arrays)."""

    weights: np.ndarray
    gradients: np.ndarray
    optimizer: np.ndarray
    activations: np.ndarray
    logits: np.ndarray
    buffers: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return (
            self.weights
            + self.gradients
            + self.optimizer
            + self.activations
            + self.logits
            + self.buffers
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StageShape:
    """How a plan cuts the model: layers and parameters on the most loaded stage."""

    layers: np.ndarray  # layers on the stage (ceil(L / pp))
    dense_layers: np.ndarray  # of which with a dense MLP (float: proportional share)
    moe_layers: np.ndarray
    dense_params: (
        np.ndarray
    )  # parameters per GPU replicated over dp*cp (sharded by ZeRO over dp*cp)
    expert_params: np.ndarray  # routed-expert parameters per GPU (sharded over dp*cp/ep)
    layer_params: np.ndarray  # unsharded parameters of one layer on this GPU (FSDP gather)
    # Layer slots left empty when pp does not divide the layers (pp * ceil(L / pp) - L):
    # taken off the first stage (ceil of half: it holds the most micro-batches in flight)
    # and the last (the rest: it carries the LM head), as Llama 3 did (Grattafiori et al.
    # 2024, arXiv:2407.21783, sec. 3.3.2: "reducing one Transformer layer each from the
    # first and the last stages"; Megatron-LM --decoder-first/last-pipeline-num-layers).
    slack: np.ndarray

    @property
    def first_layers(self) -> np.ndarray:
        """Layers on the first pipeline stage (at least one)."""
        return np.maximum(self.layers - np.ceil(self.slack / 2), 1.0)

    @property
    def last_layers(self) -> np.ndarray:
        """Layers on the last pipeline stage, the one with the LM head."""
        return np.maximum(self.layers - np.floor(self.slack / 2), 1.0)


def stage_shape(model: TransformerSpec, plans: PlanBatch) -> StageShape:
    """Layers and parameters per GPU on the most loaded pipeline stage."""
    tp, pp, ep = plans.tp, plans.pp, plans.ep
    layers = -(-model.layers // pp)
    # MODEL: MoE and dense layers are spread over stages in proportion; the stage holding
    # the embedding or LM head carries V*h/tp parameters on top of its layers.
    moe_share = model.moe_layers / model.layers
    moe_layers = layers * moe_share
    dense_layers = layers - moe_layers
    vocab_params = model.vocab * model.hidden * np.where(pp == 1, 1 + (model.head_params > 0), 1)
    shared = model.shared_experts * model.expert_params + model.hidden * model.experts
    dense = (
        dense_layers * (model.attention_params + model.dense_mlp_params)
        + moe_layers * (model.attention_params + shared)
        + vocab_params
    ) / tp
    # MODEL: expert tensor-parallel degree = tp (Megatron-Core default), so routed experts
    # are split over ep * tp GPUs.
    routed = moe_layers * model.experts * model.expert_params / (ep * tp)
    per_layer = np.where(
        model.moe_layers > 0,
        (model.attention_params + shared) / tp + model.experts * model.expert_params / (ep * tp),
        (model.attention_params + model.dense_mlp_params) / tp,
    )
    return StageShape(
        layers=layers.astype(np.float64),
        dense_layers=dense_layers,
        moe_layers=moe_layers,
        dense_params=dense,
        expert_params=routed,
        layer_params=per_layer,
        slack=(pp * layers - model.layers).astype(np.float64),
    )


def layers_recomputed(recompute: np.ndarray, layer_period: float) -> np.ndarray:
    """Share of the layers each plan re-runs in full during backward: all of them under
    full recompute, every k-th one where the stack's selective recompute is whole layers
    (``layer_period`` k >= 2, torchtitan), none otherwise (Megatron's selective recompute
    re-runs parts of every layer instead)."""
    whole = layer_period >= 2
    return np.select(
        [recompute == Recompute.FULL, (recompute == Recompute.SELECTIVE) & whole],
        [1.0, 1.0 / layer_period if whole else 0.0],
        0.0,
    )


def activation_bytes_per_token(
    model: TransformerSpec,
    recompute: np.ndarray,
    routed_share: np.ndarray | float = 1.0,
    layer_period: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Bytes kept for backward per token, per dense layer and per MoE layer, before any
    parallel split (16-bit tensors, no dropout, flash attention: no s^2 term);
    ``routed_share``: the busiest expert-parallel rank's routed tokens over the mean;
    ``layer_period``: the stack's selective recompute as whole layers, every k-th one in
    full (0: Megatron's selective recompute).

    Korthikanti et al. 2022, sec. 4.1 counts 34*s*b*h per GPT layer with dropout and
    materialised attention; here each kept tensor is listed for modern blocks.
    """
    h, q, kv = model.hidden, model.q_dim, model.kv_dim
    # attention: LN input, QKV-projection input, Q, K, V (flash attention keeps them), output
    attn = h + h + q + 2 * kv + q
    act_out = 1  # activation output (input of the down projection)
    act_in = 2 if model.gated_mlp else 1  # gate and up outputs / fc1 output
    mlp_dense = h + h + (act_in + act_out) * model.ffn_hidden
    per_expert_tok = h + (act_in + act_out) * model.moe_ffn_hidden
    routed = routed_share * model.top_k
    mlp_moe = h + h + (routed + model.shared_experts) * per_expert_tok + model.experts
    # MODEL: selective recompute drops the activation-function output and attention
    # internals that kernels can recompute (Megatron-Core --recompute-modules core_attn,
    # mlp act); full recompute keeps only each layer's input (Korthikanti eq. 6: 2sbh).
    sel_attn = attn - q  # attention output recomputed from Q, K, V
    sel_dense = mlp_dense - act_out * model.ffn_hidden
    sel_moe = mlp_moe - (routed + model.shared_experts) * act_out * model.moe_ffn_hidden
    if layer_period >= 2:  # every k-th layer keeps only its input, the others all
        keep = 1.0 - 1.0 / layer_period
        sel_attn = keep * attn + h / layer_period
        sel_dense, sel_moe = keep * mlp_dense, keep * mlp_moe
    dense = np.select(
        [recompute == Recompute.NONE, recompute == Recompute.SELECTIVE],
        [attn + mlp_dense, sel_attn + sel_dense],
        default=h,
    )
    moe = np.select(
        [recompute == Recompute.NONE, recompute == Recompute.SELECTIVE],
        [attn + mlp_moe, sel_attn + sel_moe],
        default=h,
    )
    return BF16_BYTES * dense.astype(np.float64), BF16_BYTES * moe.astype(np.float64)


def memory_breakdown(
    model: TransformerSpec,
    training: Training,
    plans: PlanBatch,
    stack: StackProfile,
    eff: Efficiency,
    *,
    first_stage: bool = False,
) -> MemoryBreakdown:
    """Per-GPU memory of each plan on its most loaded stage (bytes); ``first_stage``:
    on the first pipeline stage instead (what a run that logs rank 0 reports)."""
    tp, pp, dp, cp, ep, vp = plans.tp, plans.pp, plans.dp, plans.cp, plans.ep, plans.vp
    mb, sh, rc = plans.micro_batch, plans.sharding, plans.recompute
    shape = stage_shape(model, plans)
    d_dense = (dp * cp).astype(np.float64)
    d_expert = np.maximum(d_dense / ep, 1.0)

    def sharded(stage_min: int, degree: np.ndarray) -> np.ndarray:
        return np.where(sh >= stage_min, degree, 1.0)

    weights = BF16_BYTES * (
        shape.dense_params / sharded(3, d_dense) + shape.expert_params / sharded(3, d_expert)
    )
    grads = stack.grad_reduce_bytes * (
        shape.dense_params / sharded(2, d_dense) + shape.expert_params / sharded(2, d_expert)
    )
    optim = ADAM_STATE_BYTES * (
        shape.dense_params / sharded(1, d_dense) + shape.expert_params / sharded(1, d_expert)
    )

    tokens = mb * training.seq_len / (tp * cp)  # tokens of one micro-batch held per GPU
    share = training.busiest_ep_share(ep)
    period = stack.selective_layer_period
    dense_b, moe_b = activation_bytes_per_token(model, rc, share, period)
    per_layer = tokens * (shape.dense_layers * dense_b + shape.moe_layers * moe_b)
    per_layer = per_layer / np.maximum(shape.layers, 1.0)
    # Micro-batches in flight (Korthikanti et al. 2022, sec. 4.2.3): the first stage holds
    # pp of them (interleaved: x (1 + (pp - 1) / (pp vp))), the last stage one (1F1B: each
    # forward is followed by its backward), or with interleaving the (vp - 1) pp + 1
    # chunks of 1/vp of a stage its warm-up runs (Megatron-Core interleaved schedule:
    # (pp - rank - 1) x 2 + (vp - 1) x pp warm-up chunks); never more than the step has.
    cap = np.maximum(plans.num_microbatches, 1)
    first_in_flight = np.minimum(cap, pp) * np.where(vp > 1, 1.0 + (pp - 1) / (pp * vp), 1.0)
    last_in_flight = np.minimum(cap, np.where(vp > 1, ((vp - 1) * pp + 1) / vp, 1.0))
    # Full recompute re-materialises one whole layer at a time during backward.
    full_layer, full_moe = activation_bytes_per_token(model, np.zeros_like(rc), share)
    worst_layer = np.where(model.moe_layers > 0, full_moe, full_layer)
    extra = np.where(layers_recomputed(rc, period) > 0, tokens * worst_layer, 0.0)
    # MODEL: a stack that runs eager, unfused modules keeps more of each layer than the
    # tensors listed above (stack ``activation_memory_factor``, >= 1).
    factor = max(stack.activation_memory_factor, 1.0)
    act_first = factor * (first_in_flight * per_layer * shape.first_layers + extra)
    # the last stage also runs the multi-token prediction modules: a block each
    last_layers = shape.last_layers + model.mtp_layers
    act_last = factor * (last_in_flight * per_layer * last_layers + extra)
    # MODEL: logits in 16 bit plus fp32 for the loss on the stage with the LM head (and
    # once more per MTP module).
    logits = mb * training.seq_len / cp * model.vocab / tp * (BF16_BYTES + FP32_BYTES)
    logits = logits * (1 + model.mtp_layers)
    # The most loaded stage: the first (most micro-batches in flight) or the last (the
    # logits on top of its own); one stage holds both without pipeline parallelism.
    last_binds = (pp == 1) | ((act_last + logits > act_first) & (not first_stage))
    act = np.where(last_binds, act_last, act_first)
    logits = np.where(last_binds, logits, 0.0)
    # ZeRO-3 gathers the current and the prefetched layer's full parameters.
    gather = np.where(sh == Sharding.ZERO3, 2 * BF16_BYTES * shape.layer_params, 0.0)
    # Sequence-parallel all-gather output buffer of one layer input.
    sp_buffer = np.where(tp > 1, tokens * tp * model.hidden * BF16_BYTES, 0.0)
    buffers = eff.runtime_memory_bytes + gather + sp_buffer
    return MemoryBreakdown(
        weights=weights,
        gradients=grads,
        optimizer=optim,
        activations=act,
        logits=logits,
        buffers=buffers,
    )
