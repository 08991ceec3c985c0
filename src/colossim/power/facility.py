"""The facility as a whole: power model -> trace (with outages and cooling lag) -> grid rules,
battery sizing, mitigations, cooling and water, racks.

Battery sizing against the rules: the ride-through rule gives a lower bound on the unit
count in closed form (:func:`colossim.power.rules.ride_through_units`); the dispatch
simulation (``grid.py``) then finds the fewest units, from that bound up, whose grid draw
meets the import limit, the ramp limits (as one per-second limit that implies the per-minute
one), the floor and the oscillation limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from colossim.power.cooling import (
    CoolingResult,
    CoolingSpec,
    SiteClimate,
    cooling_year,
    lagged_facility_w,
)
from colossim.power.grid import (
    BatterySizing,
    BatterySpec,
    GridConfig,
    GridResult,
    simulate_grid,
    size_battery,
)
from colossim.power.mitigations import FillMitigation, fill_mitigations
from colossim.power.phases import ClusterPower, PowerConfig, StepPhases, cluster_power
from colossim.power.racks import RackLayout, rack_layout
from colossim.power.rules import (
    GridRules,
    RuleCheck,
    check_rules,
    effective_ramp_w_per_s,
    oscillation_amplitude,
    ride_through_units,
)
from colossim.power.trace import (
    Outages,
    PowerTrace,
    TraceConfig,
    checkpoint_stalls,
    power_trace,
)

__all__ = ["FacilityConfig", "FacilityResult", "simulate_facility"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FacilityConfig:
    """Facility part of a scenario, resolved (built by ``scenario.facility``).

    Args:
        power: power model inputs (its PUE is the annual PUE when a site is given).
        trace: trace length and resolution.
        grid: grid limits and dispatch policy (None: no grid/battery simulation).
        battery: battery unit (None: no battery).
        battery_units: fixed unit count, or None to size the battery.
        max_battery_units: sizing gives up above this many units.
        rules: interconnection rules checked on the grid draw (None: none).
        cooling: cooling plant (None: constant PUE, no water model).
        site: site climate (None: no climate).
        fixed_pue: PUE the scenario fixed (the climate then does not move it).
        checkpoint_interval_s / checkpoint_stall_s: synchronous checkpoint stalls in the
            trace (the job idles ``stall`` every ``interval``), None: none.
    """

    power: PowerConfig
    trace: TraceConfig
    grid: GridConfig | None = None
    battery: BatterySpec | None = None
    battery_units: int | None = None
    max_battery_units: int = 100_000
    rules: GridRules | None = None
    cooling: CoolingSpec | None = None
    site: SiteClimate | None = None
    fixed_pue: float | None = None
    checkpoint_interval_s: float | None = None
    checkpoint_stall_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FacilityResult:
    """Power model, trace and (optionally) grid + battery outcome, rule checks, mitigations,
    cooling and racks.

    Attributes:
        ride_through_units: battery units the ride-through rule alone asks for.
        rule_checks: each rule of ``rules`` checked on the grid draw.
        mitigations: GPU power floor and software fill, sized against the ramp rule.
    """

    power: ClusterPower
    trace: PowerTrace
    battery: BatterySpec | None
    grid: GridResult | None
    sizing: BatterySizing | None
    rules: GridRules | None = None
    rule_checks: tuple[RuleCheck, ...] = ()
    ride_through_units: int = 0
    mitigations: tuple[FillMitigation, ...] = ()
    cooling: CoolingResult | None = None
    racks: RackLayout | None = None

    @property
    def battery_units(self) -> int:
        """Battery units simulated (0 without a battery)."""
        return 0 if self.grid is None else self.grid.battery_units

    @property
    def rules_met(self) -> bool:
        """Every rule checked holds, and the import limit too."""
        grid_ok = self.grid is None or self.grid.ok
        return grid_ok and all(c.met for c in self.rule_checks)


def _lagged_trace(trace: PowerTrace, cooling: CoolingSpec | None) -> PowerTrace:
    """The trace with cooling power following the IT power over the plant's time constant."""
    if cooling is None or cooling.thermal_time_constant_s <= 0:
        return trace
    power_w = lagged_facility_w(
        trace.power_w,
        pue=trace.pue,
        resolution_s=trace.resolution_s,
        time_constant_s=cooling.thermal_time_constant_s,
    )
    power_w.flags.writeable = False
    return replace(trace, power_w=power_w, energy_j=float(power_w.sum() * trace.resolution_s))


def _eta(battery: BatterySpec | None) -> float:
    return 1.0 if battery is None else math.sqrt(battery.round_trip_efficiency)


def _run_grid(
    config: FacilityConfig, trace: PowerTrace, min_units: int
) -> tuple[GridResult, BatterySizing | None]:
    """Fixed battery, no battery, or battery sized from ``min_units`` up."""
    grid = config.grid
    if grid is None:  # simulate_facility returns before; this narrows the type
        raise ValueError("no grid configured")
    rules = config.rules
    if config.battery is None or config.battery_units is not None:
        units = 0 if config.battery is None else int(config.battery_units or 0)
        result = simulate_grid(
            trace.power_w,
            resolution_s=trace.resolution_s,
            grid=grid,
            battery=config.battery,
            units=units,
        )
        return result, None

    def accept(r: GridResult) -> bool:
        if rules is None or rules.oscillation_max_frac is None:
            return True
        frac, _, _ = oscillation_amplitude(
            r.grid_w,
            resolution_s=r.resolution_s,
            band_low_hz=rules.band_low_hz or 0.0,
            band_high_hz=rules.band_high_hz or 0.0,
        )
        return frac <= rules.oscillation_max_frac

    sizing = size_battery(
        trace.power_w,
        resolution_s=trace.resolution_s,
        grid=grid,
        battery=config.battery,
        max_units=config.max_battery_units,
        min_units=min(min_units, config.max_battery_units),
        accept=accept,
    )
    return sizing.result, sizing


def simulate_facility(
    config: FacilityConfig,
    phases: StepPhases,
    *,
    outages: Outages | None = None,
) -> FacilityResult:
    """Power per phase -> power trace -> grid + battery (fixed or sized) -> rule checks.

    Args:
        config: resolved facility configuration.
        phases: split of one training step, s.
        outages: job outages over the trace (from the campaign model), optional: full-load
            drops and restart ramps that the rules and the battery sizing then see.
    """
    power = cluster_power(config.power, phases)
    stalls = None
    if config.checkpoint_interval_s is not None and config.checkpoint_stall_s:
        stalls = checkpoint_stalls(
            interval_s=config.checkpoint_interval_s,
            stall_s=config.checkpoint_stall_s,
            horizon_s=config.trace.duration_s,
        )
    raw = power_trace(power, config.trace, outages=outages, stalls=stalls)
    trace = _lagged_trace(raw, config.cooling)
    cfg = config.power
    racks = rack_layout(
        gpu_id=cfg.gpu_id,
        num_gpus=cfg.num_gpus,
        server_peak_w_per_gpu=cfg.gpu_tdp_w + cfg.overhead_w_per_gpu,
    )
    cooling = cooling_year(
        config.cooling, config.site, average_it_w=power.average_it_w, fixed_pue=config.fixed_pue
    )
    if config.cooling is not None and config.site is None and config.fixed_pue is None:
        cooling = replace(cooling, pue_annual=cfg.pue, pue_min=cfg.pue, pue_max=cfg.pue)
    rules = config.rules
    ramp = None if rules is None else effective_ramp_w_per_s(rules)
    if config.grid is not None and config.grid.ramp_limit_w_per_s is not None:
        ramp = config.grid.ramp_limit_w_per_s
    result = FacilityResult(
        power=power,
        trace=trace,
        battery=config.battery,
        grid=None,
        sizing=None,
        rules=rules,
        mitigations=fill_mitigations(power, ramp_limit_w_per_s=ramp),
        cooling=cooling,
        racks=racks,
    )
    if config.grid is None:
        return result
    soc = config.grid.target_soc_frac
    rt_units = 0
    if rules is not None and rules.ride_through_s is not None and config.battery is not None:
        rt_units = ride_through_units(
            peak_load_w=trace.peak_power_w,
            ride_through_s=rules.ride_through_s,
            unit_power_w=config.battery.power_w,
            unit_energy_j=config.battery.energy_j,
            soc_frac=soc,
            one_way_efficiency=_eta(config.battery),
        )
    grid, sizing = _run_grid(config, trace, rt_units)
    checks: tuple[RuleCheck, ...] = ()
    if rules is not None:
        checks = check_rules(
            rules,
            grid.grid_w,
            resolution_s=trace.resolution_s,
            grid_limit_w=config.grid.grid_limit_w,
            peak_load_w=trace.peak_power_w,
            battery_power_w=grid.battery_power_w,
            battery_energy_j=grid.battery_energy_j,
            soc_frac=soc,
            one_way_efficiency=_eta(config.battery),
        )
    return replace(
        result, grid=grid, sizing=sizing, rule_checks=checks, ride_through_units=rt_units
    )
