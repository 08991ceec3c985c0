"""Capex, opex and their amortisation: $ per GPU-hour and $ per training run.

capex = servers + NICs + fabric + front-end/storage network + storage (sized from checkpoints
and data) + facility (per MW of nameplate IT power, or a retrofit figure) + batteries.
Each item is paid off over its own lifetime at the weighted average cost of capital (WACC):
the yearly charge is the annuity capex x r / (1 - (1 + r)^-n) (capital recovery factor),
which is straight-line depreciation capex / n when r = 0. opex = energy (average facility
power x hours x $/kWh) + maintenance (share of IT capex per year) + battery upkeep.
$ per GPU-hour = (yearly capital charge + opex) / (GPUs x hours per year).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from colossim.catalog import load_catalog, lookup_prefixed
from colossim.errors import InputError, require_number
from colossim.power.grid import BatterySpec, battery_spec
from colossim.units import HOURS_PER_YEAR, J_PER_KWH, SECONDS_PER_HOUR, TB, W_PER_MW

__all__ = [
    "CostConfig",
    "CostItem",
    "CostResult",
    "capital_recovery_factor",
    "cluster_cost",
    "cost_config",
    "electricity_prices",
    "storage_capacity_tb",
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
        nic_cost_usd: all NICs of the back-end fabric, USD (None: inside Epoch's share).
        frontend_usd_per_gpu: front-end and storage networks per GPU, USD.
        storage_tb: storage capacity, TB (sized by :func:`cost_config`).
        storage_usd_per_tb: storage price per TB, USD.
        storage_lifetime_years / network_lifetime_years: depreciation periods, years.
        facility_capex_usd: facility capex given outright (a retrofit), USD; None: per MW.
        wacc: weighted average cost of capital, per year (0: straight-line only).
        facility_usd_per_mw_it: building, power and cooling plant per MW of nameplate IT, USD.
        facility_lifetime_years: depreciation period of the facility, years.
        server_lifetime_years: depreciation period of servers, fabric and storage, years.
        maintenance_frac_per_year: yearly maintenance / IT capex (servers, fabric, storage).
        energy_usd_per_kwh: electricity price, USD per kWh.
        battery_units: battery units installed.
        battery_installed_usd: installed price per battery unit, USD.
        battery_opex_usd_per_year: upkeep per unit per year, USD.
        battery_lifetime_years: battery service life, years.
        server_groups: a cluster of several GPU types: (GPUs, server price USD, GPUs per
            server) of each; empty: one group from the fields above.
    """

    gpu_id: str
    num_gpus: int
    server_usd: float
    gpus_per_server: int
    fabric_cost_usd: float | None
    fabric_share_of_cluster_capex: float
    storage_tb: float
    storage_usd_per_tb: float
    facility_usd_per_mw_it: float
    facility_lifetime_years: float
    server_lifetime_years: float
    maintenance_frac_per_year: float
    energy_usd_per_kwh: float
    battery_units: int = 0
    battery_installed_usd: float = 0.0
    battery_opex_usd_per_year: float = 0.0
    battery_lifetime_years: float = 1.0
    nic_cost_usd: float | None = None
    frontend_usd_per_gpu: float = 0.0
    storage_lifetime_years: float = 5.0
    network_lifetime_years: float = 5.0
    facility_capex_usd: float | None = None
    wacc: float = 0.0
    server_groups: tuple[tuple[int, float, int], ...] = ()

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
            ("cost.storage_tb", self.storage_tb, False),
            ("cost.storage_usd_per_tb", self.storage_usd_per_tb, False),
            ("cost.frontend_usd_per_gpu", self.frontend_usd_per_gpu, False),
            ("cost.storage_lifetime_years", self.storage_lifetime_years, True),
            ("cost.network_lifetime_years", self.network_lifetime_years, True),
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
        for field, opt in (
            ("fabric.nic_cost_usd", self.nic_cost_usd),
            ("cost.facility_usd", self.facility_capex_usd),
        ):
            if opt is not None:
                require_number(field, opt, minimum=0.0)
        require_number("cost.wacc", self.wacc, minimum=0.0, maximum=1.0)


def server_price(
    gpu_id: str, server_usd: float | None = None, gpus_per_server: int | None = None
) -> tuple[float, int]:
    """(price of one server, USD; GPUs in it): the catalog's ``server-<gpu_id>`` or the
    override; InputError naming the fix when the catalog has no price for the GPU."""
    if server_usd is None:
        entries = load_catalog("prices")
        if f"server-{gpu_id}" not in entries:
            raise InputError(
                "cluster.gpu",
                "the price catalog has no server with this GPU, so its cost is unknown",
                value=gpu_id,
                fix="give cost.server_usd (and cost.gpus_per_server), e.g. "
                "--set cost.server_usd=400000",
            )
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


def _network_storage_capital(wacc: float | None) -> dict[str, float]:
    """Catalog prices of storage and front-end network, lifetimes, and the WACC."""
    prices = load_catalog("prices")
    storage = prices["storage-sizing-default"].values
    capital = prices["capital-default"].values
    return {
        "storage_usd_per_tb": float(storage["usd_per_tb"]),
        "storage_lifetime_years": float(storage["lifetime_years"]),
        "frontend_usd_per_gpu": float(prices["frontend-network-default"].values["usd_per_gpu"]),
        "network_lifetime_years": float(capital["network_lifetime_years"]),
        "wacc": float(capital["wacc"]) if wacc is None else wacc,
    }


def storage_capacity_tb(num_gpus: int, *, model_params: float, tokens: float) -> float:
    """Training storage, TB: max(checkpoints kept + data set, a per-GPU floor).

    Checkpoints: 16 bytes per parameter (mixed-precision Adam, GK-REPO) x checkpoints kept;
    data set: tokens x bytes per token. The per-GPU floor is Meta's Llama 3 store (240 PB for
    24,576 GPUs, LLAMA3): real clusters keep many experiments, logs and raw data.
    """
    require_number("workload.model_params", model_params, minimum=0.0)
    require_number("workload.tokens", tokens, minimum=0.0)
    v = load_catalog("prices")["storage-sizing-default"].values
    ckpt = model_params * float(v["checkpoint_bytes_per_param"]) * float(v["checkpoints_retained"])
    data = tokens * float(v["dataset_bytes_per_token"])
    return max((ckpt + data) / TB, num_gpus * float(v["min_tb_per_gpu"]))


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
    nic_cost_usd: float | None = None,
    model_params: float = 0.0,
    training_tokens: float = 0.0,
    storage_tb: float | None = None,
    facility_usd: float | None = None,
    wacc: float | None = None,
) -> CostConfig:
    """Build a :class:`CostConfig` from ``prices.yaml`` (and ``batteries.yaml``), with overrides.

    Args:
        gpu_id: GPU id; selects ``server-<gpu_id>`` unless ``server_usd`` is given.
        num_gpus: GPUs in the cluster.
        fabric_cost_usd: fabric bill of materials, USD (None: estimate).
        server_usd / gpus_per_server: server price override, USD, and its GPUs (default 8).
        electricity: electricity preset (``electricity-<name>``), used if no explicit price.
        energy_usd_per_kwh: electricity price override, USD/kWh.
        lifetime_years: server depreciation period override, years.
        facility_usd_per_mw: facility capex override, USD per MW of nameplate IT power.
        maintenance_frac_per_year: maintenance override, share of IT capex per year.
        battery_id / battery_units: battery unit id (``batteries.yaml``) and units installed.
        nic_cost_usd: back-end NICs from the fabric bill of materials, USD (None: none apart).
        model_params / training_tokens: size checkpoints and data set (storage).
        storage_tb / facility_usd / wacc: overrides (TB; USD, a retrofit; per year).
    """
    server_usd, gpus_per_server = server_price(gpu_id, server_usd, gpus_per_server)
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
        storage_tb=(
            storage_capacity_tb(num_gpus, model_params=model_params, tokens=training_tokens)
            if storage_tb is None
            else storage_tb
        ),
        nic_cost_usd=nic_cost_usd,
        facility_capex_usd=facility_usd,
        **_network_storage_capital(wacc),
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
        name: ``servers``, ``nics``, ``fabric``, ``frontend_network``, ``storage``,
            ``facility``, ``batteries``, ``energy``, ``maintenance`` or ``battery_upkeep``.
        capex_usd: up-front cost, USD (0 for running costs).
        lifetime_years: depreciation period, years (0 for running costs).
        usd_per_year: yearly charge: depreciation + cost of capital (capex items) or running
            cost (opex items), USD/yr.
        cost_of_capital_usd_per_year: the part of ``usd_per_year`` that is the cost of capital
            (annuity minus straight-line depreciation), USD/yr.
        usd_per_gpu_hour: ``usd_per_year`` / (GPUs x hours per year).
    """

    name: str
    capex_usd: float
    lifetime_years: float
    usd_per_year: float
    usd_per_gpu_hour: float
    cost_of_capital_usd_per_year: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CostResult:
    """Cost of owning and running the cluster.

    Attributes:
        config: the prices used.
        capex_usd: total up-front cost, USD.
        server_capex_usd: servers alone, USD.
        annualised_capex_usd_per_year: yearly capital charge of all capex (depreciation plus
            cost of capital), USD/yr.
        cost_of_capital_usd_per_year: the cost-of-capital part of it, USD/yr.
        opex_usd_per_year: energy + maintenance + battery upkeep, USD/yr.
        energy_kwh_per_year: facility energy per year, kWh.
        usd_per_year: annualised capex + opex, USD/yr.
        usd_per_gpu_hour: ``usd_per_year`` / (GPUs x 8,760 h), cost of capital included.
        usd_per_gpu_hour_without_cost_of_capital: the same with straight-line depreciation.
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
    cost_of_capital_usd_per_year: float = 0.0
    usd_per_gpu_hour_without_cost_of_capital: float = 0.0
    software_fill_usd_per_year: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Capex:
    """Up-front cost of each capex line, USD."""

    servers: float
    nics: float
    fabric: float
    frontend_network: float
    storage: float
    facility: float
    batteries: float


def _capex(c: CostConfig, *, nameplate_it_w: float) -> _Capex:
    """Capex per line: servers, NICs, fabric (bill of materials or Epoch's share), front-end
    network, storage (sized), facility (per MW of nameplate IT, or given) and batteries."""
    groups = c.server_groups or ((c.num_gpus, c.server_usd, c.gpus_per_server),)
    server_usd = sum(-(-n // per) * usd for n, usd, per in groups)
    storage_usd = c.storage_tb * c.storage_usd_per_tb
    frontend_usd = c.frontend_usd_per_gpu * c.num_gpus
    nics_usd = 0.0 if c.nic_cost_usd is None else c.nic_cost_usd
    if c.fabric_cost_usd is None:
        # Epoch (EP-COST): interconnect (NICs included) is a fixed share f of total cluster
        # cost, so fabric = f / (1 - f) x (servers + storage).
        share = c.fabric_share_of_cluster_capex
        fabric_usd = share / (1.0 - share) * (server_usd + storage_usd)
    else:
        fabric_usd = c.fabric_cost_usd
    facility = c.facility_capex_usd
    if facility is None:
        # MODEL: the facility is built for the nameplate IT power (every GPU at TDP).
        facility = c.facility_usd_per_mw_it * nameplate_it_w / W_PER_MW
    return _Capex(
        servers=server_usd,
        nics=nics_usd,
        fabric=fabric_usd,
        frontend_network=frontend_usd,
        storage=storage_usd,
        facility=facility,
        batteries=c.battery_units * c.battery_installed_usd,
    )


def capital_recovery_factor(rate: float, years: float) -> float:
    """Yearly payment per dollar borrowed at ``rate`` over ``years``: r / (1 - (1 + r)^-n).

    Standard annuity formula; 1 / n when r = 0 (straight-line depreciation).
    """
    if rate <= 0:
        return 1.0 / years
    return rate / (1.0 - math.pow(1.0 + rate, -years))


def _item(
    name: str,
    capex: float,
    life: float,
    per_year: float,
    *,
    gpu_hours: float,
    capital: float = 0.0,
) -> CostItem:
    return CostItem(
        name=name,
        capex_usd=capex,
        lifetime_years=life,
        usd_per_year=per_year,
        usd_per_gpu_hour=per_year / gpu_hours,
        cost_of_capital_usd_per_year=capital,
    )


def _capex_items(c: CostConfig, cap: _Capex, *, gpu_hours: float) -> tuple[CostItem, ...]:
    """Capital charge per line. MODEL: annuity at the WACC, no residual value."""
    server_life = c.server_lifetime_years
    net_life = c.network_lifetime_years
    lines = (
        ("servers", cap.servers, server_life),
        ("nics", cap.nics, net_life),
        ("fabric", cap.fabric, net_life),
        ("frontend_network", cap.frontend_network, net_life),
        ("storage", cap.storage, c.storage_lifetime_years),
        ("facility", cap.facility, c.facility_lifetime_years),
        ("batteries", cap.batteries, c.battery_lifetime_years),
    )
    items = []
    for name, usd, life in lines:
        per_year = usd * capital_recovery_factor(c.wacc, life)
        items.append(
            _item(name, usd, life, per_year, gpu_hours=gpu_hours, capital=per_year - usd / life)
        )
    return tuple(items)


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
    fill_energy_j_per_year: float | None = None,
) -> CostResult:
    """Capex, opex, $ per GPU-hour and $ per run.

    Args:
        config: prices and lifetimes.
        nameplate_it_w: IT power with every GPU at TDP, W (sizes the facility).
        average_facility_w: average facility power while training, W (sets the energy bill).
        run_hours: wall-clock hours of one training run, h (optional).
        fill_energy_j_per_year: extra energy software fill would burn instead of a battery,
            J/yr (priced for comparison, not added to the totals).
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
        it_capex=cap.servers + cap.nics + cap.fabric + cap.frontend_network + cap.storage,
        gpu_hours=gpu_hours,
    )
    annual_capex = sum(i.usd_per_year for i in capex_items)
    capital = sum(i.cost_of_capital_usd_per_year for i in capex_items)
    opex = sum(i.usd_per_year for i in opex_items)
    per_year = annual_capex + opex
    return CostResult(
        config=c,
        capex_usd=sum(i.capex_usd for i in capex_items),
        server_capex_usd=cap.servers,
        annualised_capex_usd_per_year=annual_capex,
        cost_of_capital_usd_per_year=capital,
        opex_usd_per_year=opex,
        energy_kwh_per_year=energy_kwh,
        usd_per_year=per_year,
        usd_per_gpu_hour=per_year / gpu_hours,
        usd_per_gpu_hour_without_cost_of_capital=(per_year - capital) / gpu_hours,
        run_hours=run_hours,
        usd_per_run=None if run_hours is None else per_year * run_hours / HOURS_PER_YEAR,
        breakdown=capex_items + opex_items,
        software_fill_usd_per_year=(
            None
            if fill_energy_j_per_year is None
            else fill_energy_j_per_year / J_PER_KWH * c.energy_usd_per_kwh
        ),
    )
