"""Allocator pressure: the slowdown of a step whose memory nears the GPU's capacity."""

from __future__ import annotations

import numpy as np

from colossim.cluster import Cluster
from colossim.parallel.memory import MemoryBreakdown
from colossim.workload.stack import Efficiency

__all__ = ["allocator_pressure"]


def allocator_pressure(memory: MemoryBreakdown, cluster: Cluster, eff: Efficiency) -> np.ndarray:
    """Relative slowdown of a plan whose memory nears the GPU's capacity (the step model
    multiplies it by the stack's ``alloc_pressure``: 1 for the default caching allocator).

    MODEL: above ``alloc_pressure_start`` of HBM the caching allocator runs out of cached
    blocks, frees them and retries cudaMalloc, each time synchronising the device
    (PyTorch CUDA semantics, "Memory management"; ``num_alloc_retries`` in
    torch.cuda.memory_stats); the slowdown grows linearly to ``alloc_pressure_penalty``
    at full memory (fitted)."""
    used = memory.total / cluster.gpu.hbm_bytes
    start = eff.alloc_pressure_start
    return eff.alloc_pressure_penalty * np.clip((used - start) / (1 - start), 0.0, 1.0)
