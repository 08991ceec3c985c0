"""Accelerator specifications, loaded from ``catalog/gpus.yaml``.

Pure data: a :class:`GPU` is a frozen record in SI units. Use :func:`gpu` to look one up
(with a clear error for an unknown id) and :func:`dataclasses.replace` to override a field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from colossim.catalog import load_catalog, lookup
from colossim.errors import InputError
from colossim.units import GB, GBIT_PER_S_TO_BYTES_PER_S, TB, TERA

__all__ = ["GPU", "Precision", "gpu", "gpu_ids"]


class Precision(StrEnum):
    """Numeric format of the matmuls (weights, activations and gradients elsewhere stay
    16-bit; see docs/model.md)."""

    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    MXFP8 = "mxfp8"
    FP4 = "fp4"


@dataclass(frozen=True, slots=True, kw_only=True)
class GPU:
    """One accelerator, SI units.

    Attributes:
        id: catalog id.
        peak_flop_per_s: dense peak per precision, FLOP/s.
        matmul_efficiency: best achievable dense-matmul fraction of peak, per precision.
        hbm_bytes: HBM capacity, bytes.
        hbm_bw_bytes_per_s: HBM bandwidth, bytes/s.
        scaleup_bw_bytes_per_s: NVLink (or equivalent) unidirectional bandwidth per GPU.
        scaleup_domain: GPUs in one scale-up (NVLink) domain.
        gpus_per_node: GPUs per server / compute tray.
        nic_bw_bytes_per_s: scale-out NIC line rate per GPU, bytes/s (one direction).
        tdp_w: thermal design power, W.
        power_capped: True for parts run below their nominal TDP (clocks throttle).
        sm_count: streaming multiprocessors (compute units); GEMM tiles run in waves of
            one tile per SM. 0 = unknown (no wave quantisation).
    """

    id: str
    name: str
    generation: str
    peak_flop_per_s: dict[str, float]
    matmul_efficiency: dict[str, float]
    hbm_bytes: float
    hbm_bw_bytes_per_s: float
    scaleup_bw_bytes_per_s: float
    scaleup_domain: int
    gpus_per_node: int
    nic_bw_bytes_per_s: float
    tdp_w: float
    power_capped: bool = False
    sm_count: int = 0
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def peak(self, precision: str) -> float:
        """Dense peak FLOP/s for ``precision`` (raises InputError if unsupported)."""
        try:
            return self.peak_flop_per_s[str(precision)]
        except KeyError:
            raise InputError(
                "workload.precision",
                f"{self.id} has no {precision} tensor cores",
                value=str(precision),
                fix=f"use one of {', '.join(self.peak_flop_per_s)}",
            ) from None


def gpu(gpu_id: str, *, field: str = "cluster.gpu") -> GPU:
    """Look up a GPU by catalog id."""
    entry = lookup("gpus", gpu_id, field=field)
    v = entry.values
    return GPU(
        id=entry.id,
        name=v["name"],
        generation=v["generation"],
        peak_flop_per_s={k: float(x) * TERA for k, x in v["peak_tflops"].items()},
        matmul_efficiency={k: float(x) for k, x in v["matmul_efficiency"].items()},
        hbm_bytes=float(v["hbm_gb"]) * GB,
        hbm_bw_bytes_per_s=float(v["hbm_tb_per_s"]) * TB,
        scaleup_bw_bytes_per_s=float(v["scaleup_gb_per_s"]) * GB,
        scaleup_domain=int(v["scaleup_domain"]),
        gpus_per_node=int(v["gpus_per_node"]),
        nic_bw_bytes_per_s=float(v["nic_gbit_per_s"]) * GBIT_PER_S_TO_BYTES_PER_S,
        tdp_w=float(v["tdp_w"]),
        power_capped=bool(v.get("power_capped", False)),
        sm_count=int(v.get("sm_count", 0)),
        sources={k: entry.source_of(k) for k in v},
    )


def gpu_ids() -> list[str]:
    """Every GPU id in the catalog."""
    return list(load_catalog("gpus"))
