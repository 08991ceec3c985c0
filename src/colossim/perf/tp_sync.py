"""Tensor-parallel collectives that wait on hosts: the exposed synchronisation of TP
groups whose ranks cannot run ahead of one another.

Two MODEL terms, both per TP collective (sequence-parallel all-gather and reduce-scatter,
4 per layer forward and 4 backward; 2 more per layer with full recompute), both zero for
stacks that run fused, graph-captured TP (Megatron-Core, Transformer Engine userbuffers):

Across nodes (``tp_node_sync_s``, per call and per node the group spans): a collective
cannot complete before the last rank arrives; inside one node the ranks share a host and
NVLink, across nodes each host issues its own kernels and the NCCL ring over the
scale-out network is progressed by a CPU proxy thread per node (Hu et al. 2025,
"Demystifying NCCL", arXiv:2507.04786, sec. on the network proxy).

Under pipeline parallelism across nodes (``tp_pp_sync_s``, per call and per ring step,
tp - 1 steps): a stack whose pipeline receive reads the incoming tensor's metadata on the
host (nanotron ``P2P._recv_meta``: a blocking ``recv`` into a device buffer whose values
the host then unpacks, a device-to-host copy that drains the GPU's queue) re-synchronises
host and device at every micro-batch. When the neighbour stage sits on another node the
receive completes through the NCCL network proxy at a different time on each TP rank
(each rank has its own sender and NIC), so the ranks of a stage start every layer out of
step and each blocking ring step of a TP collective waits for that skew. Inside a node
the receive completes in microseconds over NVLink, and with queued work (no pipeline,
or stacks with batched asynchronous p2p) the GPU queue absorbs the skew. These waits
sit on the host side of the micro-batch: with its kernel launches they form a floor that
queued GPU work hides (``tp_pp_skew_s``), where the cross-node term above adds to the
collective. The Ultra-Scale Playbook sweeps show the signature: with PP across nodes the time per layer
and micro-batch is flat in the micro-batch size (1 to 8 sequences) and grows with tp - 1
at ~0.4-0.5 ms per ring step and call (TP 8 ~26 ms per layer, TP 16 ~53, TP 32 ~120),
for the 1B and the 8B model alike; the same layouts inside one node (TP 4 x PP 2 on 8
GPUs) or without PP pay ~0.06 ms per step.
"""

from __future__ import annotations

import numpy as np

from colossim.parallel.plan import PlanBatch, Recompute
from colossim.workload.stack import StackProfile

__all__ = ["pp_across_nodes", "tp_host_sync_s", "tp_pp_skew_s"]


def pp_across_nodes(plans: PlanBatch, domain: int) -> np.ndarray:
    """Whether a pipeline has neighbour stages in different scale-up domains (placement
    tp-cp-ep-dp-pp: neighbour stages are tp * cp * dp ranks apart, so a pipeline spans
    tp * cp * dp * pp consecutive ranks; one that does not fit in a domain crosses it at
    some stage boundary, and its lock-step 1F1B schedule runs at that boundary's pace)."""
    return (plans.pp > 1) & (plans.tp * plans.cp * plans.dp * plans.pp > domain)


def _tp_calls(plans: PlanBatch, layers: np.ndarray) -> np.ndarray:
    """TP collectives per micro-batch on a stage of ``layers`` layers."""
    return layers * (8.0 + np.where(plans.recompute == Recompute.FULL, 4.0, 0.0))


def tp_host_sync_s(
    plans: PlanBatch, layers: np.ndarray, domain: int, stack: StackProfile
) -> np.ndarray:
    """Exposed wait of TP groups across nodes, seconds per micro-batch on the bottleneck
    stage (``layers``: layers of that stage, scaled by its balance)."""
    nodes = np.ceil(plans.tp / max(domain, 1))
    return np.where(nodes > 1, _tp_calls(plans, layers) * nodes * stack.tp_node_sync_s, 0.0)


def tp_pp_skew_s(
    plans: PlanBatch, layers: np.ndarray, domain: int, stack: StackProfile
) -> np.ndarray:
    """Host-side skew waits per micro-batch of a pipeline that crosses nodes: a floor on
    the micro-batch with the host's launches (queued GPU work hides them), not an
    addition to it: with PP across nodes the Playbook's time per layer stays flat while
    the work per layer grows (1 to 8 sequences; the 70B model at TP 8)."""
    steps = np.where(pp_across_nodes(plans, domain), plans.tp - 1, 0).astype(np.float64)
    return _tp_calls(plans, layers) * steps * stack.tp_pp_sync_s
