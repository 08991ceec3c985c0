"""Capex, opex and their amortisation: $ per GPU-hour and $ per training run.

capex = servers + fabric + storage + facility (per MW of nameplate IT power) + batteries;
each item is depreciated straight-line over its own lifetime. opex = energy (average
facility power x hours x $/kWh) + maintenance (share of IT capex per year) + battery upkeep.
$ per GPU-hour = (annualised capex + opex) / (GPUs x hours per year).
"""

from __future__ import annotations

from dataclasses import dataclass

from colossim.catalog import load_catalog, lookup_prefixed
from colossim.errors import InputError, require_number
from colossim.power.grid import BatterySpec, battery_spec
from colossim.units import HOURS_PER_YEAR, J_PER_KWH, SECONDS_PER_HOUR, W_PER_MW

__all__ = [
    "CostConfig",
    "CostItem",
    "CostResult",
    "cluster_cost",
    "cost_config",
    "electricity_prices",
]


def electricity_prices() -> dict[str, float]:
    """Electricity price presets of ``prices.yaml``: name -> USD per kWh."""
    return {
        k.removeprefix("electricity-"): float(v.values["usd_per_kwh"])
        for k, v in load_catalog("prices").items()
        if k.startswith("electricity-")
    }


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
        require_number("cost.server_usd", self.server_usd, minimum=0.0, strict=True)
        if self.fabric_cost_usd is not None:
            require_number("fabric.cost_usd", self.fabric_cost_usd, minimum=0.0)
        if not 0 <= self.fabric_share_of_cluster_capex < 1:
            raise InputError(
                "cost.fabric_share_of_cluster_capex",
                "must be in [0, 1)",
                value=self.fabric_share_of_cluster_capex,
            )
        for field, value, strict in (
            ("cost.storage_share_of_server_capex", self.storage_share_of_server_capex, False),
            ("cost.facility_usd_per_mw", self.facility_usd_per_mw_it, False),
            ("cost.facility_lifetime_years", self.facility_lifetime_years, True),
            ("cost.lifetime_years", self.server_lifetime_years, True),
            ("cost.maintenance_frac_per_year", self.maintenance_frac_per_year, False),
            ("cost.energy_usd_per_kwh", self.energy_usd_per_kwh, False),
            ("battery.installed_price_usd", self.battery_installed_usd, False),
            ("battery.opex_usd_per_year", self.battery_opex_usd_per_year, False),
            ("battery.lifetime_years", self.battery_lifetime_years, True),
        ):
            require_number(field, value, minimum=0.0, strict=strict)


def _server_price(
    gpu_id: str, server_usd: float | None, gpus_per_server: int | None
) -> tuple[float, int]:
    """(price of one server, USD; GPUs in it): the catalog's ``server-<gpu_id>`` or the override."""
    if server_usd is None:
        server = lookup_prefixed("prices", "server-", gpu_id, field="cluster.gpu").values
        return float(server["server_usd"]), int(server["gpus_per_server"])
    # MODEL: a server price given without its GPU count is for an 8-GPU (HGX-class) server.
    return server_usd, 8 if gpus_per_server is None else gpus_per_server


def _energy_price(electricity: str, energy_usd_per_kwh: float | None) -> float:
    """Electricity price, USD/kWh: the override, else preset ``electricity-<name>``."""
    if energy_usd_per_kwh is not None:
        return energy_usd_per_kwh
    preset = lookup_prefixed("prices", "electricity-", electricity, field="cost.electricity")
    return float(preset.values["usd_per_kwh"])


def _installed_battery(battery_id: str | None, battery_units: int) -> BatterySpec | None:
    """The battery unit priced (``batteries.yaml``), None without one."""
    battery = battery_spec(battery_id) if battery_id is not None else None
    if battery is None and battery_units:
        raise InputError(
            "facility.battery", "battery_units > 0 needs a battery id", value=battery_units
        )
    return battery


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
    server_usd, gpus_per_server = _server_price(gpu_id, server_usd, gpus_per_server)
    energy_usd_per_kwh = _energy_price(electricity, energy_usd_per_kwh)
    prices = load_catalog("prices")
    opex = prices["server-opex-default"].values
    facility = prices["facility-default"].values
    battery = _installed_battery(battery_id, battery_units)
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


@dataclass(frozen=True, slots=True, kw_only=True)
class _Capex:
    """Up-front cost of each capex line, USD."""

    servers: float
    fabric: float
    storage: float
    facility: float
    batteries: float


def _capex(c: CostConfig, *, nameplate_it_w: float) -> _Capex:
    """Capex per line: servers, fabric (bill of materials or Epoch's share), storage,
    facility (per MW of nameplate IT) and batteries."""
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
    return _Capex(
        servers=server_usd,
        fabric=fabric_usd,
        storage=storage_usd,
        # MODEL: the facility is built for the nameplate IT power (every GPU at TDP).
        facility=c.facility_usd_per_mw_it * nameplate_it_w / W_PER_MW,
        batteries=c.battery_units * c.battery_installed_usd,
    )


def _item(name: str, capex: float, life: float, per_year: float, *, gpu_hours: float) -> CostItem:
    return CostItem(
        name=name,
        capex_usd=capex,
        lifetime_years=life,
        usd_per_year=per_year,
        usd_per_gpu_hour=per_year / gpu_hours,
    )


def _capex_items(c: CostConfig, cap: _Capex, *, gpu_hours: float) -> tuple[CostItem, ...]:
    """Depreciation lines. MODEL: straight-line, no cost of capital, no residual value."""
    server_life = c.server_lifetime_years
    lines = (
        ("servers", cap.servers, server_life),
        ("fabric", cap.fabric, server_life),
        ("storage", cap.storage, server_life),
        ("facility", cap.facility, c.facility_lifetime_years),
        ("batteries", cap.batteries, c.battery_lifetime_years),
    )
    return tuple(
        _item(name, usd, life, usd / life, gpu_hours=gpu_hours) for name, usd, life in lines
    )


def _opex_items(
    c: CostConfig, *, energy_kwh: float, it_capex: float, gpu_hours: float
) -> tuple[CostItem, ...]:
    """Running-cost lines: energy, maintenance (share of IT capex), battery upkeep."""
    return (
        _item("energy", 0.0, 0.0, energy_kwh * c.energy_usd_per_kwh, gpu_hours=gpu_hours),
        _item("maintenance", 0.0, 0.0, c.maintenance_frac_per_year * it_capex, gpu_hours=gpu_hours),
        _item(
            "battery_upkeep",
            0.0,
            0.0,
            c.battery_units * c.battery_opex_usd_per_year,
            gpu_hours=gpu_hours,
        ),
    )


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
    require_number("power.nameplate_it_w", nameplate_it_w, minimum=0.0)
    require_number("power.average_facility_w", average_facility_w, minimum=0.0)
    if run_hours is not None:
        require_number("run_hours", run_hours, minimum=0.0)
    c = config
    cap = _capex(c, nameplate_it_w=nameplate_it_w)
    # MODEL: the cluster trains every hour of the year at its average training power;
    # flat energy price, no demand charges.
    energy_kwh = average_facility_w * HOURS_PER_YEAR * SECONDS_PER_HOUR / J_PER_KWH
    gpu_hours = c.num_gpus * HOURS_PER_YEAR
    capex_items = _capex_items(c, cap, gpu_hours=gpu_hours)
    opex_items = _opex_items(
        c,
        energy_kwh=energy_kwh,
        it_capex=cap.servers + cap.fabric + cap.storage,
        gpu_hours=gpu_hours,
    )
    annual_capex = sum(i.usd_per_year for i in capex_items)
    opex = sum(i.usd_per_year for i in opex_items)
    per_year = annual_capex + opex
    return CostResult(
        config=c,
        capex_usd=sum(i.capex_usd for i in capex_items),
        server_capex_usd=cap.servers,
        annualised_capex_usd_per_year=annual_capex,
        opex_usd_per_year=opex,
        energy_kwh_per_year=energy_kwh,
        usd_per_year=per_year,
        usd_per_gpu_hour=per_year / gpu_hours,
        run_hours=run_hours,
        usd_per_run=None if run_hours is None else per_year * run_hours / HOURS_PER_YEAR,
        breakdown=capex_items + opex_items,
    )
