"""What is trained (model + training run) and on what (cluster): plain frozen records."""

from __future__ import annotations

from dataclasses import dataclass

from colossim.errors import InputError
from colossim.hardware import Precision

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
    """

    seq_len: int
    global_batch: int
    tokens: float
    precision: Precision = Precision.BF16
    framework: str = "megatron"

    def __post_init__(self) -> None:
        if not isinstance(self.seq_len, int) or self.seq_len <= 0:
            raise InputError("workload.seq_len", "must be a positive integer", value=self.seq_len)
        if not isinstance(self.global_batch, int) or self.global_batch <= 0:
            raise InputError(
                "workload.global_batch",
                "must be a positive integer (sequences per step)",
                value=self.global_batch,
            )
        if not self.tokens > 0 or self.tokens == float("inf"):
            raise InputError("workload.tokens", "must be a finite number > 0", value=self.tokens)
