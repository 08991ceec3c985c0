"""Scenario sections ``facility:`` and ``cost:`` (pydantic v2), and their conversion to the
core configs of :mod:`colossim.power` and :mod:`colossim.cost`.

Example::

    facility: {cooling: liquid, grid_mw: 150, grid_ramp_mw_per_s: 2, battery: megapack-2xl-2h,
               battery_units: size, trace_duration_s: 86400}
    cost: {electricity: tn-industrial-2023, lifetime_years: 5}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from colossim.cost import CostConfig, cost_config
from colossim.power.cooling import cooling_spec, cooling_year, site_climate
from colossim.power.facility import FacilityConfig
from colossim.power.grid import battery_spec, grid_config
from colossim.power.phases import power_config
from colossim.power.rules import GridRules, effective_ramp_w_per_s, grid_rules
from colossim.power.trace import trace_config
from colossim.units import SECONDS_PER_DAY, W_PER_MW

__all__ = ["CostSection", "FacilitySection"]

# Bounds on inputs no facility comes near: a grid of 1 TW (today's largest campuses plan a
# few GW) and depreciation over less than about a month are typos, refused with the field.
MAX_GRID_MW = 1e6
MIN_LIFETIME_YEARS = 0.1
# Times of the facility model (ride-through, ramps, checkpoint stalls) at most the longest
# trace, a week; prices far beyond any purchase (a $1B server, $10B per MW, a $10T site,
# a zettabyte of storage), so that no sum overflows to infinity.
MAX_FACILITY_S = 7 * SECONDS_PER_DAY
# A power trace shorter than a minute holds no idle phase to size the grid against (its
# lowest bin is the compute draw): refused rather than mis-sized.
MIN_TRACE_S = 60.0
MAX_SERVER_USD = 1e9
MAX_USD_PER_MW = 1e10
MAX_FACILITY_USD = 1e13
MAX_STORAGE_TB = 1e9


class FacilitySection(BaseModel):
    """Facility: cooling/PUE, grid connection, battery, power-trace settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cooling: str = Field(
        "liquid",
        description="cooling plant in catalog cooling.yaml / PUE profile in power.yaml (liquid, "
        "liquid-adiabatic, immersion, rear-door, air, enterprise); PUE ignored when pue is given",
    )
    site: str | None = Field(
        None,
        description="site climate in catalog sites.yaml (e.g. memphis-tn): PUE and water follow "
        "its typical year; omit for the cooling profile's constant PUE",
    )
    pue: float | None = Field(
        None, ge=1.0, le=3.0, description="power usage effectiveness (facility / IT power)"
    )
    grid_mw: float | None = Field(
        None,
        gt=0,
        le=MAX_GRID_MW,
        description="grid import limit, MW; omit to skip the grid/battery simulation",
    )
    grid_rules: str = Field(
        "default",
        description="interconnection rule set in catalog grid_rules.yaml (default, "
        "choukse-2025, ramp-only, none); the fields below override single rules",
    )
    grid_ramp_mw_per_s: float | None = Field(
        None, gt=0, description="grid ramp-rate limit, MW/s (overrides the rule set)"
    )
    grid_ramp_mw_per_min: float | None = Field(
        None, gt=0, description="grid ramp limit over any minute, MW (overrides the rule set)"
    )
    grid_floor_frac: float | None = Field(
        None, ge=0, le=1, description="lowest grid draw, share of grid_mw (overrides the rule set)"
    )
    oscillation_max_frac: float | None = Field(
        None,
        gt=0,
        description="largest oscillation amplitude in the rule set's band, share of mean draw",
    )
    ride_through_s: float | None = Field(
        None,
        ge=0,
        le=MAX_FACILITY_S,
        description="seconds the battery must carry the peak load alone (overrides)",
    )
    battery: str | None = Field(
        "megapack-2xl-2h", description="battery unit id in catalog batteries.yaml; null: none"
    )
    battery_units: Annotated[int, Field(ge=0)] | Literal["size"] = Field(
        "size",
        description="battery units installed, or 'size' for the fewest that keep the grid "
        "inside its limits",
    )
    max_battery_units: int = Field(
        100_000, gt=0, description="battery sizing gives up above this many units"
    )
    trace_resolution_s: float | None = Field(
        None, gt=0, le=60, description="power-trace bin width, s (default 0.1)"
    )
    trace_duration_s: float = Field(
        SECONDS_PER_DAY,
        ge=MIN_TRACE_S,
        le=7 * SECONDS_PER_DAY,
        description="power-trace length, s (default one day; at most a week: a trace is "
        "a sample of the run, not the whole run)",
    )
    restart_ramp_s: float | None = Field(
        None,
        ge=0,
        le=MAX_FACILITY_S,
        description="ramp from idle back to full power after an outage, s",
    )
    checkpoint_interval_s: float | None = Field(
        None,
        gt=0,
        le=MAX_FACILITY_S,
        description="synchronous checkpoint every this many seconds (trace dips)",
    )
    checkpoint_stall_s: float | None = Field(
        None,
        ge=0,
        le=MAX_FACILITY_S,
        description="GPUs idle this long for each synchronous checkpoint, s",
    )
    target_soc_frac: float | None = Field(
        None, ge=0, le=1, description="state of charge the battery dispatcher holds (fraction)"
    )
    recharge_time_s: float | None = Field(
        None,
        gt=0,
        le=MAX_FACILITY_S,
        description="time constant of the battery recharge controller, s",
    )

    def to_config(
        self,
        *,
        gpu_id: str,
        num_gpus: int,
        gpus_per_node: int,
        fabric_power_w: float | None = None,
        gpu_tdp_w: float | None = None,
    ) -> FacilityConfig:
        """Resolve against the catalogs.

        Args:
            gpu_id: GPU catalog id.
            num_gpus: GPUs in the cluster.
            gpus_per_node: GPUs per server.
            fabric_power_w: fabric power from its bill of materials, W (None: estimate).
            gpu_tdp_w: GPU TDP override, W.
        """
        cooling = cooling_spec(self.cooling)
        site = None if self.site is None else site_climate(self.site)
        pue = self.pue
        if pue is None and site is not None:
            # The annual PUE does not depend on the (constant) IT load: any load gives it.
            pue = cooling_year(cooling, site, average_it_w=1.0).pue_annual
        power = power_config(
            gpu_id=gpu_id,
            num_gpus=num_gpus,
            gpus_per_node=gpus_per_node,
            fabric_power_w=fabric_power_w,
            cooling=self.cooling,
            pue=pue,
            gpu_tdp_w=gpu_tdp_w,
        )
        rules = self.rules()
        trace = trace_config(
            duration_s=self.trace_duration_s,
            resolution_s=self.trace_resolution_s,
            restart_ramp_s=self.restart_ramp_s,
        )
        grid = None
        if self.grid_mw is not None:
            grid_w = self.grid_mw * W_PER_MW
            grid = grid_config(
                grid_limit_w=grid_w,
                ramp_limit_w_per_s=effective_ramp_w_per_s(rules),
                target_soc_frac=self.target_soc_frac,
                recharge_time_s=self.recharge_time_s,
                floor_w=(rules.floor_frac or 0.0) * grid_w,
            )
        battery = None if self.battery is None else battery_spec(self.battery)
        return FacilityConfig(
            power=power,
            trace=trace,
            grid=grid,
            battery=battery,
            battery_units=None if self.battery_units == "size" else self.battery_units,
            max_battery_units=self.max_battery_units,
            rules=rules,
            cooling=cooling,
            site=site,
            fixed_pue=self.pue,
            checkpoint_interval_s=self.checkpoint_interval_s,
            checkpoint_stall_s=self.checkpoint_stall_s,
        )

    def rules(self) -> GridRules:
        """The named rule set with this section's overrides (SI units)."""
        overrides = {
            "ramp_w_per_s": _si(self.grid_ramp_mw_per_s, W_PER_MW),
            "ramp_w_per_min": _si(self.grid_ramp_mw_per_min, W_PER_MW),
            "floor_frac": self.grid_floor_frac,
            "oscillation_max_frac": self.oscillation_max_frac,
            "ride_through_s": self.ride_through_s,
        }
        return grid_rules(self.grid_rules, **{k: v for k, v in overrides.items() if v is not None})


def _si(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


class CostSection(BaseModel):
    """Cost: prices and lifetimes (defaults from catalog prices.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    electricity: str = Field(
        "us-industrial-2024",
        description="electricity price preset in prices.yaml (tn-industrial-2023, "
        "us-industrial-2024, us-industrial-2025, semianalysis)",
    )
    energy_usd_per_kwh: float | None = Field(
        None, ge=0, le=10, description="electricity price, USD per kWh (overrides electricity)"
    )
    server_usd: float | None = Field(
        None, gt=0, le=MAX_SERVER_USD, description="price of one server (or NVL72 rack), USD"
    )
    gpus_per_server: int | None = Field(
        None, gt=0, description="GPUs in one priced server (with server_usd; default 8)"
    )
    lifetime_years: float | None = Field(
        None,
        ge=MIN_LIFETIME_YEARS,
        le=30,
        description="server depreciation period, years (default 5)",
    )
    facility_usd_per_mw: float | None = Field(
        None,
        ge=0,
        le=MAX_USD_PER_MW,
        description="facility capex per MW of nameplate IT power, USD",
    )
    maintenance_frac_per_year: float | None = Field(
        None, ge=0, le=1, description="yearly maintenance as a share of IT capex"
    )
    facility_usd: float | None = Field(
        None,
        ge=0,
        le=MAX_FACILITY_USD,
        description="facility capex outright (a retrofit of an existing building), USD; "
        "overrides facility_usd_per_mw",
    )
    storage_tb: float | None = Field(
        None,
        ge=0,
        le=MAX_STORAGE_TB,
        description="storage capacity, TB (default: sized from checkpoints and data)",
    )
    wacc: float | None = Field(
        None, ge=0, le=1, description="weighted average cost of capital per year (default 0.10)"
    )

    def to_config(
        self,
        *,
        gpu_id: str,
        num_gpus: int,
        fabric_cost_usd: float | None = None,
        battery_id: str | None = None,
        battery_units: int = 0,
        nic_cost_usd: float | None = None,
        model_params: float = 0.0,
        training_tokens: float = 0.0,
    ) -> CostConfig:
        """Resolve against the catalogs.

        Args:
            gpu_id: GPU catalog id.
            num_gpus: GPUs in the cluster.
            fabric_cost_usd: fabric bill-of-materials cost, USD (None: estimate).
            battery_id: battery unit id (from the facility result), if any.
            battery_units: battery units (from the facility result: fixed or sized).
            nic_cost_usd: NICs from the fabric bill of materials, USD.
            model_params / training_tokens: size the training storage.
        """
        return cost_config(
            gpu_id=gpu_id,
            num_gpus=num_gpus,
            fabric_cost_usd=fabric_cost_usd,
            server_usd=self.server_usd,
            gpus_per_server=self.gpus_per_server,
            electricity=self.electricity,
            energy_usd_per_kwh=self.energy_usd_per_kwh,
            lifetime_years=self.lifetime_years,
            facility_usd_per_mw=self.facility_usd_per_mw,
            maintenance_frac_per_year=self.maintenance_frac_per_year,
            battery_id=battery_id,
            battery_units=battery_units,
            nic_cost_usd=nic_cost_usd,
            model_params=model_params,
            training_tokens=training_tokens,
            storage_tb=self.storage_tb,
            facility_usd=self.facility_usd,
            wacc=self.wacc,
        )
