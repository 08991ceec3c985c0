"""GPUs -> nodes -> NVLink domains -> scale-out NICs: the cluster as the step model sees it."""

from __future__ import annotations

from dataclasses import dataclass

from colossim.errors import require_int, require_number
from colossim.hardware import GPU
from colossim.workload.stack import Efficiency, efficiency


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
        require_int("cluster.num_gpus", self.num_gpus, minimum=1, whole_floats=False)
        require_int("cluster.gpus_per_node", self.gpus_per_node, minimum=1, whole_floats=False)
        require_int("cluster.scaleup_domain", self.scaleup_domain, minimum=1, whole_floats=False)
        require_number("cluster.nic_gbit_per_s", self.nic_bw_bytes_per_s, minimum=0, strict=True)
        require_number(
            "cluster.nic_efficiency", self.nic_efficiency, minimum=0, strict=True, maximum=1
        )

    @property
    def num_nodes(self) -> int:
        return -(-self.num_gpus // self.gpus_per_node)


def cluster_for(
    gpu: GPU,
    num_gpus: int,
    *,
    gpus_per_node: int | None = None,
    scaleup_domain: int | None = None,
    nic_bw_bytes_per_s: float | None = None,
    nic_efficiency: float | None = None,
    eff: Efficiency | None = None,
) -> Cluster:
    """A cluster of ``num_gpus`` ``gpu``s with catalog defaults for what is not given."""
    eff = eff or efficiency()
    return Cluster(
        gpu=gpu,
        num_gpus=num_gpus,
        gpus_per_node=gpus_per_node or gpu.gpus_per_node,
        scaleup_domain=scaleup_domain or gpu.scaleup_domain,
        nic_bw_bytes_per_s=nic_bw_bytes_per_s or gpu.nic_bw_bytes_per_s,
        nic_efficiency=nic_efficiency or eff.nic_efficiency,
    )
