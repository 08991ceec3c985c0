"""What is trained (model + training run) and on what (cluster): plain frozen records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colossim.errors import require_int, require_number
from colossim.hardware import Precision
from colossim.workload.fp8 import Fp8Recipe, fp8_recipe

__all__ = ["Training"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Training:
    """A training run.

    Attributes:
        seq_len: tokens per sequence.
        global_batch: sequences per optimizer step (a target for plan search).
        tokens: tokens to train on in total.
        precision: matmul precision.
        framework: software stack whose efficiency profile applies.
        fp8_recipe: how FP8 GEMM inputs are scaled (None: mxfp8 for precision mxfp8,
            else the stack's default; see :mod:`colossim.workload.fp8`).
        tp_comm_overlap: whether tensor-parallel collectives overlap GEMMs
            (Megatron-Core ``--tp-comm-overlap``; None: the stack's default).
        cuda_graphs: whether the layers run as captured CUDA graphs (no per-kernel host
            launches; None or False: eager launches at the stack's ``layer_host_s``).
        moe_imbalance: routed tokens of the busiest expert-parallel rank over the mean
            (>= 1; 1: balanced, as vendor benchmarks force it). Dropless MoE layers run
            at the pace of that rank: its expert GEMMs, permutes and all-to-all.
    """

    seq_len: int
    global_batch: int
    tokens: float
    precision: Precision = Precision.BF16
    framework: str = "megatron"
    fp8_recipe: Fp8Recipe | None = None
    tp_comm_overlap: bool | None = None
    cuda_graphs: bool | None = None
    moe_imbalance: float = 1.0

    def __post_init__(self) -> None:
        require_int("workload.seq_len", self.seq_len, minimum=1, whole_floats=False)
        require_int("workload.global_batch", self.global_batch, minimum=1, whole_floats=False)
        require_number("workload.tokens", self.tokens, minimum=0, strict=True)
        require_number("workload.moe_imbalance", self.moe_imbalance, minimum=1.0)
        if self.fp8_recipe is not None:
            recipe = fp8_recipe(str(self.fp8_recipe), field="workload.fp8_recipe")
            object.__setattr__(self, "fp8_recipe", recipe)

    def busiest_ep_share(self, ep: np.ndarray) -> np.ndarray | float:
        """Routed tokens of the busiest expert-parallel rank over the mean, per plan:
        ``moe_imbalance``, at most ep (every token on one rank), so 1 without EP (the
        scalar 1 for a balanced run)."""
        if self.moe_imbalance <= 1.0:
            return 1.0
        return np.minimum(self.moe_imbalance, np.asarray(ep, dtype=np.float64))
