"""What is trained (model + training run) and on what (cluster): plain frozen records."""

from __future__ import annotations

from dataclasses import dataclass

from colossim.errors import InputError
from colossim.hardware import GPU, Precision
from colossim.model import TransformerSpec

__all__ = ["Cluster", "Training", "Workload"]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    model: TransformerSpec
    training: Training


@dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    """GPUs and the links between them, as the step-time model sees them.

    Attributes:
        gpu: accelerator spec.
        num_gpus: GPUs in the cluster.
        gpus_per_node: GPUs per server (HGX: 8; NVL72 compute tray: 4).
        scaleup_domain: GPUs per NVLink domain (8 HGX, 72 NVL72).
        nic_bw_bytes_per_s: scale-out line rate per GPU, one direction.
        nic_efficiency: achievable fraction of NIC line rate for collectives.
    """

    gpu: GPU
    num_gpus: int
    gpus_per_node: int
    scaleup_domain: int
    nic_bw_bytes_per_s: float
    nic_efficiency: float

    def __post_init__(self) -> None:
        if not isinstance(self.num_gpus, int) or self.num_gpus <= 0:
            raise InputError("cluster.num_gpus", "must be a positive integer", value=self.num_gpus)
        if self.gpus_per_node <= 0:
            raise InputError("cluster.gpus_per_node", "must be > 0", value=self.gpus_per_node)
        if self.scaleup_domain <= 0:
            raise InputError("cluster.scaleup_domain", "must be > 0", value=self.scaleup_domain)
        if not self.nic_bw_bytes_per_s > 0:
            raise InputError("cluster.nic_gbit_per_s", "must be > 0", value=self.nic_bw_bytes_per_s)
        if not 0 < self.nic_efficiency <= 1:
            raise InputError(
                "cluster.nic_efficiency", "must be in (0, 1]", value=self.nic_efficiency
            )

    @property
    def num_nodes(self) -> int:
        return -(-self.num_gpus // self.gpus_per_node)
