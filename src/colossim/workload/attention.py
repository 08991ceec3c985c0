"""Attention-core kernel efficiency per kernel family and GPU generation, loaded from
``catalog/attention.yaml``.

A stack names the kernel family it runs (``attention_kernel`` in
``catalog/efficiency.yaml``). A family the GPU generation cannot run falls back to the
family's ``fallback`` (flash-attention-3 and cudnn fall back to flash-attention-2, which
covers every generation). Efficiency is the fraction of the GPU's dense 16-bit peak,
forward and backward, causal, as a function of the sequence length a kernel call sees and
the head dimension: linear interpolation in log(seq_len) and log(head dim) between the
measured points, held at the end values outside them.

A family may also list ``gpus``: per-GPU scales of its generation table, where one GPU of
a generation runs the family's kernels measurably faster than the others (Blackwell
Ultra's doubled exponential throughput speeds the softmax of the attention forward).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

import numpy as np

from colossim.catalog import load_catalog

__all__ = ["AttentionKernel", "AttentionKernelFamily", "attention_kernel"]


class AttentionKernelFamily(StrEnum):
    """Attention kernel families of catalog ``attention.yaml``."""

    FLASH_ATTENTION_2 = "flash-attention-2"
    FLASH_ATTENTION_3 = "flash-attention-3"
    CUDNN = "cudnn"  # cuDNN fused attention (Transformer Engine FusedAttention)


@dataclass(frozen=True, slots=True, kw_only=True)
class AttentionKernel:
    """One family's measured efficiency on one GPU generation.

    ``fwd`` and ``bwd`` are (head dims x sequence lengths) arrays of causal efficiency,
    fractions of the dense 16-bit peak."""

    family: AttentionKernelFamily
    generation: str
    requested: AttentionKernelFamily  # the family the stack asked for (before fallback)
    log_seq: np.ndarray
    log_head_dim: np.ndarray
    fwd: np.ndarray
    bwd: np.ndarray

    def efficiency(self, seq_len, head_dim: float) -> tuple[np.ndarray, np.ndarray]:
        """(forward, backward) causal efficiency at ``seq_len`` (array: keys each query
        attends over in one kernel call) and ``head_dim``."""
        x = np.log(np.maximum(np.asarray(seq_len, dtype=np.float64), 1.0))
        return self._at(self.fwd, x, head_dim), self._at(self.bwd, x, head_dim)

    def _at(self, table: np.ndarray, x: np.ndarray, head_dim: float) -> np.ndarray:
        per_dim = np.array([np.interp(x, self.log_seq, row) for row in table])
        if len(self.log_head_dim) == 1:
            return per_dim[0]
        xd = np.log(float(head_dim))
        i = int(np.clip(np.searchsorted(self.log_head_dim, xd) - 1, 0, len(table) - 2))
        lo, hi = self.log_head_dim[i], self.log_head_dim[i + 1]
        w = float(np.clip((xd - lo) / (hi - lo), 0.0, 1.0))
        return (1.0 - w) * per_dim[i] + w * per_dim[i + 1]


@cache
def attention_kernel(family: str, generation: str, gpu_id: str | None = None) -> AttentionKernel:
    """The kernel a stack asking for ``family`` runs on a ``generation`` GPU (after the
    fallback rule), with the family's own scales for ``gpu_id`` where it lists them;
    ``ValueError`` for a family or table missing from the catalog."""
    requested = AttentionKernelFamily(family)
    entries = load_catalog("attention")
    name, seen = requested.value, set()
    while generation not in entries[name].values["generations"]:
        seen.add(name)
        name = entries[name].values.get("fallback")
        if name is None or name in seen:
            raise ValueError(f"attention.yaml: no kernel family runs on {generation!r}")
    tables = entries[name].values["generations"]
    table = tables[generation]
    fwd_scale = bwd_scale = 1.0
    if "scale_of" in table:
        fwd_scale, bwd_scale = float(table["forward_scale"]), float(table["backward_scale"])
        table = {**tables[table["scale_of"]], "peak_tflops": table["peak_tflops"]}
    peak = float(table["peak_tflops"])
    dims = sorted(int(d) for d in table["forward_causal"])
    seq = np.asarray(table["seq_len"], dtype=np.float64)

    def rows(key: str, scale: float) -> np.ndarray:
        raw = {int(d): v for d, v in table[key].items()}
        # A head dim without its own row takes the nearest measured one.
        pick = [raw[min(raw, key=lambda m, d=d: abs(np.log(m / d)))] for d in dims]
        return scale * np.asarray(pick, dtype=np.float64) / peak

    fwd, fwd_full = rows("forward_causal", fwd_scale), rows("forward", fwd_scale)
    # Causal backward: the measured (non-causal) backward times the causal forward's
    # share of the non-causal forward at the same sequence length and head dim.
    bwd = rows("backward", bwd_scale) * fwd / fwd_full
    own = entries[name].values.get("gpus", {}).get(gpu_id)
    if own is not None:  # this GPU against its generation's table (same library version)
        fwd = fwd * float(own["forward_scale"])
        bwd = bwd * float(own["backward_scale"])
    if np.any(fwd <= 0) or np.any(fwd > 1) or np.any(bwd <= 0) or np.any(bwd > 1):
        raise ValueError(f"attention.yaml {name}/{generation}: efficiency outside (0, 1]")
    return AttentionKernel(
        family=AttentionKernelFamily(name),
        generation=generation,
        requested=requested,
        log_seq=np.log(seq),
        log_head_dim=np.log(np.asarray(dims, dtype=np.float64)),
        fwd=fwd,
        bwd=bwd,
    )
