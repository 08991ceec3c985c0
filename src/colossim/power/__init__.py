"""Facility power: power per training phase, power trace, grid + battery simulation.

Pure core: frozen dataclasses and functions, no I/O beyond reading the packaged catalogs.
"""

from colossim.power.grid import (
    BatterySizing,
    BatterySpec,
    FacilityConfig,
    FacilityResult,
    GridConfig,
    GridResult,
    battery_spec,
    grid_config,
    simulate_facility,
    simulate_grid,
    size_battery,
)
from colossim.power.phases import (
    ClusterPower,
    PhasePower,
    PowerConfig,
    StepPhases,
    cluster_power,
    cooling_profiles,
    phase_power,
    power_config,
)
from colossim.power.trace import (
    Outages,
    PowerTrace,
    TraceConfig,
    outages_from_arrays,
    power_trace,
    sample_outages,
    trace_config,
)

__all__ = [
    "BatterySizing",
    "BatterySpec",
    "ClusterPower",
    "FacilityConfig",
    "FacilityResult",
    "GridConfig",
    "GridResult",
    "Outages",
    "PhasePower",
    "PowerConfig",
    "PowerTrace",
    "StepPhases",
    "TraceConfig",
    "battery_spec",
    "cluster_power",
    "cooling_profiles",
    "grid_config",
    "outages_from_arrays",
    "phase_power",
    "power_config",
    "power_trace",
    "sample_outages",
    "simulate_facility",
    "simulate_grid",
    "size_battery",
    "trace_config",
]
