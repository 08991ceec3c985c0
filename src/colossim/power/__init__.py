"""Facility power: power per training phase, power trace, grid + battery simulation.

Pure core: frozen dataclasses and functions, no I/O beyond reading the packaged catalogs.
"""

from colossim.power.cooling import (
    CoolingResult,
    CoolingSpec,
    SiteClimate,
    cooling_spec,
    cooling_year,
    site_climate,
)
from colossim.power.facility import FacilityConfig, FacilityResult, simulate_facility
from colossim.power.grid import (
    BatterySizing,
    BatterySpec,
    GridConfig,
    GridResult,
    battery_spec,
    grid_config,
    simulate_grid,
    size_battery,
)
from colossim.power.mitigations import FillMitigation, fill_mitigations
from colossim.power.phases import (
    ClusterPower,
    PhasePower,
    PowerConfig,
    StepPhases,
    blend_power_configs,
    cluster_power,
    cooling_profiles,
    phase_power,
    power_config,
    with_idle_gpus,
)
from colossim.power.racks import RackLayout, rack_layout
from colossim.power.rules import GridRules, RuleCheck, check_rules, grid_rules
from colossim.power.trace import (
    Outages,
    PowerTrace,
    TraceConfig,
    checkpoint_stalls,
    outages_from_arrays,
    power_trace,
    sample_outages,
    trace_config,
)

__all__ = [
    "BatterySizing",
    "CoolingResult",
    "CoolingSpec",
    "FillMitigation",
    "GridRules",
    "RackLayout",
    "RuleCheck",
    "SiteClimate",
    "check_rules",
    "checkpoint_stalls",
    "cooling_spec",
    "cooling_year",
    "fill_mitigations",
    "grid_rules",
    "rack_layout",
    "site_climate",
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
    "blend_power_configs",
    "with_idle_gpus",
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
