"""Capex, opex and their amortisation: $ per GPU-hour and $ per training run.

capex = servers + fabric + storage + facility (per MW of nameplate IT power) + batteries;
each item is depreciated straight-line over its own lifetime. opex = energy (average
facility power x hours x $/kWh) + maintenance (share of IT capex per year) + battery upkeep.
$ per GPU-hour = (annualised capex + opex) / (GPUs x hours per year).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from colossim.catalog import load_catalog
from colossim.errors import InputError

__all__ = [
    "CostConfig",
    "CostItem",
    "CostResult",
    "cluster_cost",
    "cost_config",
    "electricity_prices",
]

HOURS_PER_YEAR = 8760.0  # 365 x 24 h, a unit conversion
_J_PER_KWH = 3.6e6
_W_PER_MW = 1e6


def _lookup_prefixed(prefix: str, entry_id: str, *, field: str) -> dict:
    # Local import keeps cost.py free of the power package (one-way dependencies).
    from colossim.power.phases import lookup_prefixed

    return lookup_prefixed("prices", prefix, entry_id, field=field).values


def electricity_prices() -> dict[str, float]:
    """Electricity price presets of ``prices.yaml``: name -> USD per kWh."""
    return {
        k.removeprefix("electricity-"): float(v.values["usd_per_kwh"])
        for k, v in load_catalog("prices").items()
        if k.startswith("electricity-")
    }


def _check(field: str, value: float, *, positive: bool = False) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(field, "must be a finite number", value=value)
    if value < 0 or (positive and value == 0):
        raise InputError(field, "must be > 0" if positive else "must be >= 0", value=value)


@dataclass(frozen=True, slots=True, kw_only=True)
class CostConfig:
    """Prices and lifetimes, resolved to numbers (build it with :func:`cost_config`).

    Args:
        gpu_id: GPU catalog id (for reports).
        num_gpus: GPUs in the cluster.
        server_usd: price of one server (or rack, for NVL72 systems), USD.
        gpus_per_server: GPUs in one priced server.
        fabric_cost_usd: fabric bill of materials, USD; None: Epoch's share of cluster capex.
        fabric_share_of_cluster_capex: that share (used only when ``fabric_cost_usd`` is None).
        storage_share_of_server_capex: storage capex / server capex.
        facility_usd_per_mw_it: building, power and cooling plant per MW of nameplate IT, USD.
        facility_lifetime_years: depreciation period of the facility, years.
        server_lifetime_years: depreciation period of servers, fabric and storage, years.
        maintenance_frac_per_year: yearly maintenance / IT capex (servers, fabric, storage).
        energy_usd_per_kwh: electricity price, USD per kWh.
        battery_units: battery units installed.
        battery_installed_usd: installed price per battery unit, USD.
        battery_opex_usd_per_year: upkeep per unit per year, USD.
        battery_lifetime_years: battery service life, years.
    """

    gpu_id: str
    num_gpus: int
    server_usd: float
    gpus_per_server: int
    fabric_cost_usd: float | None
    fabric_share_of_cluster_capex: float
    storage_share_of_server_capex: float
    facility_usd_per_mw_it: float
    facility_lifetime_years: float
    server_lifetime_years: float
    maintenance_frac_per_year: float
    energy_usd_per_kwh: float
    battery_units: int = 0
    battery_installed_usd: float = 0.0
    battery_opex_usd_per_year: float = 0.0
    battery_lifetime_years: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.num_gpus, int) or self.num_gpus <= 0:
            raise InputError("cluster.num_gpus", "must be a positive integer", value=self.num_gpus)
        if not isinstance(self.gpus_per_server, int) or self.gpus_per_server <= 0:
            raise InputError(
                "cost.gpus_per_server", "must be a positive integer", value=self.gpus_per_server
            )
        if not isinstance(self.battery_units, int) or self.battery_units < 0:
            raise InputError(
                "facility.battery_units", "must be an integer >= 0", value=self.battery_units
            )
        _check("cost.server_usd", self.server_usd, positive=True)
        if self.fabric_cost_usd is not None:
            _check("fabric.cost_usd", self.fabric_cost_usd)
        if not 0 <= self.fabric_share_of_cluster_capex < 1:
            raise InputError(
                "cost.fabric_share_of_cluster_capex",
                "must be in [0, 1)",
                value=self.fabric_share_of_cluster_capex,
            )
        _check("cost.storage_share_of_server_capex", self.storage_share_of_server_capex)
        _check("cost.facility_usd_per_mw", self.facility_usd_per_mw_it)
        _check("cost.facility_lifetime_years", self.facility_lifetime_years, positive=True)
        _check("cost.lifetime_years", self.server_lifetime_years, positive=True)
        _check("cost.maintenance_frac_per_year", self.maintenance_frac_per_year)
        _check("cost.energy_usd_per_kwh", self.energy_usd_per_kwh)
        _check("battery.installed_price_usd", self.battery_installed_usd)
        _check("battery.opex_usd_per_year", self.battery_opex_usd_per_year)
        _check("battery.lifetime_years", self.battery_lifetime_years, positive=True)


def cost_config(
    *,
    gpu_id: str,
    num_gpus: int,
    fabric_cost_usd: float | None = None,
    server_usd: float | None = None,
    gpus_per_server: int | None = None,
    electricity: str = "us-industrial-2024",
    energy_usd_per_kwh: float | None = None,
    lifetime_years: float | None = None,
    facility_usd_per_mw: float | None = None,
    maintenance_frac_per_year: float | None = None,
    battery_id: str | None = None,
    battery_units: int = 0,
) -> CostConfig:
    """Build a :class:`CostConfig` from ``prices.yaml`` (and ``batteries.yaml``), with overrides.

    Args:
        gpu_id: GPU id; selects ``server-<gpu_id>`` unless ``server_usd`` is given.
        num_gpus: GPUs in the cluster.
        fabric_cost_usd: fabric bill of materials, USD (None: estimate).
        server_usd: server price override, USD (with ``gpus_per_server``, default 8).
        gpus_per_server: GPUs per priced server (with ``server_usd``).
        electricity: electricity preset (``electricity-<name>``), used if no explicit price.
        energy_usd_per_kwh: electricity price override, USD/kWh.
        lifetime_years: server depreciation period override, years.
        facility_usd_per_mw: facility capex override, USD per MW of nameplate IT power.
        maintenance_frac_per_year: maintenance override, share of IT capex per year.
        battery_id: battery unit id (``batteries.yaml``), if any.
        battery_units: installed battery units.
    """
    from colossim.power.grid import battery_spec

    if server_usd is None:
        server = _lookup_prefixed("server-", gpu_id, field="cluster.gpu")
        server_usd = float(server["server_usd"])
        gpus_per_server = int(server["gpus_per_server"])
    elif gpus_per_server is None:
        # MODEL: a server price given without its GPU count is for an 8-GPU (HGX-class) server.
        gpus_per_server = 8
    if energy_usd_per_kwh is None:
        energy_usd_per_kwh = float(
            _lookup_prefixed("electricity-", electricity, field="cost.electricity")["usd_per_kwh"]
        )
    prices = load_catalog("prices")
    opex = prices["server-opex-default"].values
    facility = prices["facility-default"].values
    battery = battery_spec(battery_id) if battery_id is not None else None
    if battery is None and battery_units:
        raise InputError(
            "facility.battery", "battery_units > 0 needs a battery id", value=battery_units
        )
    return CostConfig(
        gpu_id=gpu_id,
        num_gpus=num_gpus,
        server_usd=server_usd,
        gpus_per_server=gpus_per_server,
        fabric_cost_usd=fabric_cost_usd,
        fabric_share_of_cluster_capex=float(
            prices["fabric-default"].values["share_of_cluster_capex"]
        ),
        storage_share_of_server_capex=float(
            prices["storage-default"].values["share_of_server_capex"]
        ),
        facility_usd_per_mw_it=(
            float(facility["usd_per_mw_it"]) if facility_usd_per_mw is None else facility_usd_per_mw
        ),
        facility_lifetime_years=float(facility["lifetime_years"]),
        server_lifetime_years=(
            float(opex["lifetime_years"]) if lifetime_years is None else lifetime_years
        ),
        maintenance_frac_per_year=(
            float(opex["maintenance_frac_per_year"])
            if maintenance_frac_per_year is None
            else maintenance_frac_per_year
        ),
        energy_usd_per_kwh=energy_usd_per_kwh,
        battery_units=battery_units,
        battery_installed_usd=0.0 if battery is None else battery.installed_price_usd,
        battery_opex_usd_per_year=0.0 if battery is None else battery.opex_usd_per_year,
        battery_lifetime_years=1.0 if battery is None else battery.lifetime_years,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CostItem:
    """One line of the cost breakdown.

    Attributes:
        name: ``servers``, ``fabric``, ``storage``, ``facility``, ``batteries``, ``energy``,
            ``maintenance`` or ``battery_upkeep``.
        capex_usd: up-front cost, USD (0 for running costs).
        lifetime_years: depreciation period, years (0 for running costs).
        usd_per_year: depreciation (capex items) or running cost (opex items), USD/yr.
        usd_per_gpu_hour: ``usd_per_year`` / (GPUs x hours per year).
    """

    name: str
    capex_usd: float
    lifetime_years: float
    usd_per_year: float
    usd_per_gpu_hour: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CostResult:
    """Cost of owning and running the cluster.

    Attributes:
        config: the prices used.
        capex_usd: total up-front cost, USD.
        server_capex_usd: servers alone, USD.
        annualised_capex_usd_per_year: straight-line depreciation of all capex, USD/yr.
        opex_usd_per_year: energy + maintenance + battery upkeep, USD/yr.
        energy_kwh_per_year: facility energy per year, kWh.
        usd_per_year: annualised capex + opex, USD/yr.
        usd_per_gpu_hour: ``usd_per_year`` / (GPUs x 8,760 h).
        run_hours: wall-clock hours of the training run (None if not given).
        usd_per_run: cluster cost over ``run_hours``, USD (None if not given).
        breakdown: one :class:`CostItem` per capex and opex line.
    """

    config: CostConfig
    capex_usd: float
    server_capex_usd: float
    annualised_capex_usd_per_year: float
    opex_usd_per_year: float
    energy_kwh_per_year: float
    usd_per_year: float
    usd_per_gpu_hour: float
    run_hours: float | None
    usd_per_run: float | None
    breakdown: tuple[CostItem, ...]


def cluster_cost(
    config: CostConfig,
    *,
    nameplate_it_w: float,
    average_facility_w: float,
    run_hours: float | None = None,
) -> CostResult:
    """Capex, opex, $ per GPU-hour and $ per run.

    Args:
        config: prices and lifetimes.
        nameplate_it_w: IT power with every GPU at TDP, W (sizes the facility).
        average_facility_w: average facility power while training, W (sets the energy bill).
        run_hours: wall-clock hours of one training run, h (optional).
    """
    _check("power.nameplate_it_w", nameplate_it_w)
    _check("power.average_facility_w", average_facility_w)
    if run_hours is not None:
        _check("run_hours", run_hours)
    c = config
    servers = -(-c.num_gpus // c.gpus_per_server)
    server_usd = servers * c.server_usd
    storage_usd = c.storage_share_of_server_capex * server_usd
    if c.fabric_cost_usd is None:
        # Epoch (EP-COST): interconnect is a fixed share f of total cluster cost, so
        # fabric = f / (1 - f) x (servers + storage).
        share = c.fabric_share_of_cluster_capex
        fabric_usd = share / (1.0 - share) * (server_usd + storage_usd)
    else:
        fabric_usd = c.fabric_cost_usd
    # MODEL: the facility is built for the nameplate IT power (every GPU at TDP).
    facility_usd = c.facility_usd_per_mw_it * nameplate_it_w / _W_PER_MW
    battery_usd = c.battery_units * c.battery_installed_usd
    # MODEL: the cluster trains every hour of the year at its average training power;
    # flat energy price, no demand charges.
    energy_kwh = average_facility_w * HOURS_PER_YEAR * 3600.0 / _J_PER_KWH
    it_capex = server_usd + fabric_usd + storage_usd
    gpu_hours = c.num_gpus * HOURS_PER_YEAR

    def item(name: str, capex: float, life: float, per_year: float) -> CostItem:
        return CostItem(
            name=name,
            capex_usd=capex,
            lifetime_years=life,
            usd_per_year=per_year,
            usd_per_gpu_hour=per_year / gpu_hours,
        )

    # MODEL: straight-line depreciation, no cost of capital, no residual value.
    capex_items = (
        item("servers", server_usd, c.server_lifetime_years, server_usd / c.server_lifetime_years),
        item("fabric", fabric_usd, c.server_lifetime_years, fabric_usd / c.server_lifetime_years),
        item(
            "storage", storage_usd, c.server_lifetime_years, storage_usd / c.server_lifetime_years
        ),
        item(
            "facility",
            facility_usd,
            c.facility_lifetime_years,
            facility_usd / c.facility_lifetime_years,
        ),
        item(
            "batteries",
            battery_usd,
            c.battery_lifetime_years,
            battery_usd / c.battery_lifetime_years,
        ),
    )
    opex_items = (
        item("energy", 0.0, 0.0, energy_kwh * c.energy_usd_per_kwh),
        item("maintenance", 0.0, 0.0, c.maintenance_frac_per_year * it_capex),
        item("battery_upkeep", 0.0, 0.0, c.battery_units * c.battery_opex_usd_per_year),
    )
    annual_capex = sum(i.usd_per_year for i in capex_items)
    opex = sum(i.usd_per_year for i in opex_items)
    per_year = annual_capex + opex
    return CostResult(
        config=c,
        capex_usd=sum(i.capex_usd for i in capex_items),
        server_capex_usd=server_usd,
        annualised_capex_usd_per_year=annual_capex,
        opex_usd_per_year=opex,
        energy_kwh_per_year=energy_kwh,
        usd_per_year=per_year,
        usd_per_gpu_hour=per_year / gpu_hours,
        run_hours=run_hours,
        usd_per_run=None if run_hours is None else per_year * run_hours / HOURS_PER_YEAR,
        breakdown=capex_items + opex_items,
    )
