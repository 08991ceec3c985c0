"""Tensor parallelism across scale-up domains: the per-call synchronisation a TP group
pays when its ranks sit on several nodes.

MODEL: every TP collective (sequence-parallel all-gather and reduce-scatter, 4 per
layer forward and 4 backward; 2 more per layer with full recompute) is blocking: it
cannot complete before the last rank of the group arrives. Inside one node the ranks
share a host and NVLink; across nodes each node's host issues its own kernels (eager
stacks: the skew between hosts' launches is exposed at every blocking call), and the
NCCL ring over the scale-out network is progressed by a CPU proxy thread per node
(Hu et al. 2025, "Demystifying NCCL", arXiv:2507.04786, sec. on the network proxy).
The exposed wait grows with the number of nodes the ring crosses: the stack's
``tp_node_sync_s`` per call and per node spanned (fitted within 0..2 ms). Stacks that
run fused, graph-captured TP (Megatron-Core, Transformer Engine userbuffers) keep it 0.
"""

from __future__ import annotations

import numpy as np

from colossim.parallel.plan import PlanBatch, Recompute

__all__ = ["tp_node_sync_s"]


def tp_node_sync_s(plans: PlanBatch, layers: np.ndarray, domain: int, sync_s: float) -> np.ndarray:
    """Exposed synchronisation seconds per micro-batch on the bottleneck stage of TP
    groups that span nodes (``layers``: layers of that stage, scaled by its balance)."""
    if sync_s <= 0.0:
        return np.zeros(len(plans))
    nodes = np.ceil(plans.tp / max(domain, 1))
    calls = 8.0 + np.where(plans.recompute == Recompute.FULL, 4.0, 0.0)
    return np.where(nodes > 1, layers * calls * nodes * sync_s, 0.0)
