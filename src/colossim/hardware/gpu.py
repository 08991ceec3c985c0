"""Accelerator specifications, loaded from ``catalog/gpus.yaml``.

Pure data: a :class:`GPU` is a frozen record in SI units. Use :func:`gpu` to look one up
(with a clear error for an unknown id) and :func:`dataclasses.replace` to override a field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from colossim.catalog import load_catalog, lookup, lookup_prefixed
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
        tdp_w: board power limit the part runs at, W (the cap of power-capped parts).
        power_capped: True for parts run below their nominal TDP (clocks throttle).
        gemm_power_w: board power the same silicon draws running dense GEMMs at the clocks
            of its measured matmul ceiling, W (power-capped parts only; 0 = not given).
        static_power_w: the part of it that does not scale with the SM clock (leakage,
            idle), W: ``idle_frac_of_tdp`` of ``power.yaml`` ``node-<id>`` x gemm_power_w.
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
    gemm_power_w: float = 0.0
    static_power_w: float = 0.0
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

    def sustained_clock_fraction(self, power_exponent: float) -> float:
        """SM clock a dense-GEMM workload sustains under the board power limit, as a
        fraction of the clock of the measured matmul ceiling (1 for uncapped parts).

        Dynamic power ~ f V^2 with V ~ f over the DVFS range (``power_exponent`` 3), so
        P(f) = P_static + (P_gemm - P_static) (f / f_ceiling)^k; under the cap C the clock
        settles where P(f) = C. Under an administrator cap the clocks may settle below
        the base clock (the base clock is guaranteed at the rated TDP only).
        """
        # MODEL: every workload is taken to draw the GEMM power of the matmul ceiling at
        # full clocks (no sourced relation between achieved GEMM efficiency and power, so
        # a workload of small GEMMs is throttled as much); only the SM clock throttles,
        # HBM-bound kernels keep their rate (docs/sources.md: POWERCAP-MEMCLK).
        if not self.power_capped:
            return 1.0
        dynamic = max(self.tdp_w - self.static_power_w, 0.0)
        frac = (dynamic / (self.gemm_power_w - self.static_power_w)) ** (1.0 / power_exponent)
        return min(1.0, frac)


def _power_cap_figures(entry_id: str, v: dict) -> dict[str, float]:
    """Power-cap figures of a ``power_capped`` catalog entry (empty for the others)."""
    if not v.get("power_capped", False):
        return {}
    for name in ("gemm_power_w",):
        if not isinstance(v.get(name), (int, float)) or v[name] <= 0:
            raise InputError(
                f"gpus.{entry_id}.{name}",
                "a power-capped GPU needs this figure to derive its sustained clocks",
                value=v.get(name),
                fix="give a positive number with a source (see docs/model.md, step time)",
            )
    idle = lookup_prefixed("power", "node-", entry_id, field=f"gpus.{entry_id}")
    static = float(idle.values["idle_frac_of_tdp"]) * float(v["gemm_power_w"])
    if not static < v["tdp_w"] < v["gemm_power_w"]:
        raise InputError(
            f"gpus.{entry_id}.gemm_power_w",
            f"a power cap needs static power ({static:.0f} W) < tdp_w (the cap) < gemm_power_w",
            value=v["gemm_power_w"],
            fix="tdp_w is the cap the part runs at; gemm_power_w the uncapped GEMM draw",
        )
    return {"gemm_power_w": float(v["gemm_power_w"]), "static_power_w": static}


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
        **_power_cap_figures(entry.id, v),
        sm_count=int(v.get("sm_count", 0)),
        sources={k: entry.source_of(k) for k in v},
    )


def gpu_ids() -> list[str]:
    """Every GPU id in the catalog."""
    return list(load_catalog("gpus"))
