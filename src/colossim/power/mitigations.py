"""Mitigations of training power swings other than batteries, each sized against the ramp rule.

Both hold the GPUs' power up during the low phases of a step (exposed communication, idle)
so the facility no longer swings faster than the grid may follow (Choukse et al. 2025,
arXiv:2508.14318, docs/sources.md CHOUKSE-2025; NVIDIA GB300 NVL72 power features,
NV-GB300-POWER):

- ``gpu_power_floor``: the GPU firmware keeps a power floor (NVML power smoothing:
  ``PERCENT_TMP_FLOOR`` and ramp-rate limits, Blackwell and later, NVML-POWER-SMOOTHING).
- ``software_fill``: burn kernels (dummy matmuls) during the low phases
  (``pytorch_no_powerplant_blowup``, SA-SWING), available on any GPU.

Sizing (MODEL): the swing the grid may follow within one low phase of length t_low is
R x t_low (R: the per-second ramp limit), so the floor is F = P_compute - R x t_low, at least
the low-phase power. The extra energy per step is (F - P_low) x t_low. Neither covers job
outages or restarts (the job, hence the floor, is gone) nor ride-through: those still need a
battery (or the grid's consent).
"""

from __future__ import annotations

from dataclasses import dataclass

from colossim.power.phases import ClusterPower
from colossim.units import HOURS_PER_YEAR, SECONDS_PER_HOUR

__all__ = ["FillMitigation", "fill_mitigations"]

# NVML power smoothing exists on Blackwell and later (NVML-POWER-SMOOTHING).
_FIRMWARE_FLOOR_GPUS = ("b200", "b300", "gb200", "gb300")


@dataclass(frozen=True, slots=True, kw_only=True)
class FillMitigation:
    """A power-floor mitigation, sized.

    Attributes:
        name: ``gpu_power_floor`` or ``software_fill``.
        available: the GPU supports it.
        floor_w: facility power held during the low phases, W.
        floor_frac_of_compute: ``floor_w`` / compute-phase facility power.
        extra_average_w: added average facility power, W.
        extra_energy_j_per_year: added energy over a year of training, J.
        step_swing_after_w: facility swing left within a step, W.
        covers_outages: whether it also tames outage and restart swings (never: say so).
        note: caveat.
    """

    name: str
    available: bool
    floor_w: float
    floor_frac_of_compute: float
    extra_average_w: float
    extra_energy_j_per_year: float
    step_swing_after_w: float
    covers_outages: bool
    note: str


def fill_mitigations(
    power: ClusterPower, *, ramp_limit_w_per_s: float | None
) -> tuple[FillMitigation, ...]:
    """Size the GPU power floor and software fill against a per-second ramp limit.

    Args:
        power: steady-state cluster power (phase levels and step phases).
        ramp_limit_w_per_s: effective grid ramp limit, W/s (None: no ramp rule, no floor).
    """
    ph = power.phases
    compute_w = power.compute.facility_w
    lows = [
        (p.facility_w, t)
        for p, t in ((power.communication, ph.communication_s), (power.idle, ph.idle_s))
        if t > 0
    ]
    t_low = sum(t for _, t in lows)
    allowed = float("inf") if ramp_limit_w_per_s is None else ramp_limit_w_per_s * t_low
    floor_w = max(compute_w - allowed, min((w for w, _ in lows), default=compute_w))
    extra_j_per_step = sum(max(0.0, floor_w - w) * t for w, t in lows)
    extra_w = extra_j_per_step / ph.step_s
    swing_after = compute_w - max(floor_w, min((w for w, _ in lows), default=compute_w))
    year_j = extra_w * HOURS_PER_YEAR * SECONDS_PER_HOUR
    gpu = power.config.gpu_id
    common = {
        "floor_w": floor_w,
        "floor_frac_of_compute": floor_w / compute_w if compute_w > 0 else 0.0,
        "extra_average_w": extra_w,
        "extra_energy_j_per_year": year_j,
        "step_swing_after_w": swing_after,
        "covers_outages": False,
    }
    return (
        FillMitigation(
            name="gpu_power_floor",
            available=gpu.startswith(_FIRMWARE_FLOOR_GPUS),
            note="NVML power smoothing (Blackwell and later); no use on outages or ride-through",
            **common,
        ),
        FillMitigation(
            name="software_fill",
            available=True,
            note="burn kernels in the low phases; any GPU; no use on outages or ride-through",
            **common,
        ),
    )
