"""Grid connection + battery: dispatch simulation and battery sizing.

The utility sets two limits on the facility's grid draw: an import limit (W) and a ramp-rate
limit (W/s): utilities state their limits for large loads as ramp rates in MW/s and a
dynamic power range (Choukse et al. 2025, arXiv:2508.14318; docs/sources.md: CHOUKSE-2025).
A battery (e.g. Tesla Megapacks, docs/sources.md: TESLA-MEGAPACK) supplies or absorbs the
difference between the facility load and the grid draw.

Dispatch policy (causal, W):

1. Grid plan: a causal moving average of the load over a window long enough that the
   plan's ramp cannot exceed ``(1 - recharge_ramp_share) x ramp limit``, capped at the import
   limit. Moving-average smoothing is the standard battery smoothing scheme for fluctuating
   loads; the slope bound follows from |mean_k - mean_{k-1}| = |L_k - L_{k-w}| / w.
2. Recharge: every ``dispatch_interval_s`` the energy-management system sets a recharge
   power r = (target SoC - SoC) / recharge_time_s and ramps to it linearly within its share
   of the ramp budget; grid draw = clip(plan + r, 0, import limit).
3. Battery power = load - grid draw, clipped to the battery's power rating; the state of
   charge integrates it, clipped to [0, capacity]. Round-trip efficiency is split evenly:
   sqrt(rte) on charge and sqrt(rte) on discharge.
4. Where the battery cannot deliver (power rating, empty or full), the grid takes the rest:
   the actual grid draw is load - delivered battery power, and the limits are checked on it.

Within one dispatch interval the state of charge is a doubly bounded cumulative sum; it is
computed without a per-bin loop (see :func:`_bounded_cumsum`), so the Python loop runs over
dispatch intervals (1,440 a day), not over the 864,000 bins of a day at 100 ms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from colossim.catalog import load_catalog, lookup
from colossim.errors import InputError, require_number
from colossim.units import J_PER_MWH, W_PER_MW

__all__ = [
    "BatterySizing",
    "BatterySpec",
    "GridConfig",
    "GridResult",
    "battery_spec",
    "grid_config",
    "simulate_grid",
    "size_battery",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class BatterySpec:
    """One battery unit (catalog ``batteries.yaml``).

    Args:
        id: catalog id.
        name: product name.
        power_w: rated charge/discharge power per unit, W.
        energy_j: usable energy per unit, J.
        round_trip_efficiency: AC-to-AC round-trip efficiency (0, 1].
        price_usd: price per unit without installation, USD.
        installed_price_usd: price per unit installed, USD.
        opex_usd_per_year: maintenance per unit per year, USD.
        lifetime_years: service life, years.
    """

    id: str
    name: str
    power_w: float
    energy_j: float
    round_trip_efficiency: float
    price_usd: float
    installed_price_usd: float
    opex_usd_per_year: float
    lifetime_years: float

    def __post_init__(self) -> None:
        if not 0 < self.round_trip_efficiency <= 1:
            raise InputError(
                f"battery {self.id}.round_trip_efficiency",
                "must be in (0, 1]",
                value=self.round_trip_efficiency,
            )
        if self.power_w <= 0 or self.energy_j <= 0:
            raise InputError(f"battery {self.id}", "power and energy must be > 0")


def battery_spec(battery_id: str, *, field: str = "facility.battery") -> BatterySpec:
    """Look up a battery unit in ``catalog/batteries.yaml`` (unknown id: :class:`InputError`)."""
    v = lookup("batteries", battery_id, field=field).values
    return BatterySpec(
        id=battery_id,
        name=str(v["name"]),
        power_w=float(v["power_mw"]) * W_PER_MW,
        energy_j=float(v["energy_mwh"]) * J_PER_MWH,
        round_trip_efficiency=float(v["round_trip_efficiency"]),
        price_usd=float(v["price_usd"]),
        installed_price_usd=float(v["installed_price_usd"]),
        opex_usd_per_year=float(v["opex_usd_per_year"]),
        lifetime_years=float(v["lifetime_years"]),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class GridConfig:
    """Grid limits and the battery dispatch policy.

    Args:
        grid_limit_w: maximum grid import, W.
        ramp_limit_w_per_s: maximum change of grid import, W/s (None: no limit).
        target_soc_frac: state of charge the dispatcher holds, fraction of capacity.
        recharge_time_s: time constant of the state-of-charge controller, s.
        dispatch_interval_s: how often the recharge set-point is updated, s.
        recharge_ramp_share: share of the ramp budget reserved for recharge changes (0, 1).
        floor_w: lowest grid draw the utility accepts, W (0: no floor); the battery charges
            to hold the draw at the floor when the load falls below it.
    """

    grid_limit_w: float
    ramp_limit_w_per_s: float | None
    target_soc_frac: float
    recharge_time_s: float
    dispatch_interval_s: float
    recharge_ramp_share: float
    floor_w: float = 0.0

    def __post_init__(self) -> None:
        for field, value in (
            ("facility.grid_mw", self.grid_limit_w),
            ("facility.recharge_time_s", self.recharge_time_s),
            ("facility.dispatch_interval_s", self.dispatch_interval_s),
        ):
            require_number(field, value, minimum=0.0, strict=True)
        ramp = self.ramp_limit_w_per_s
        if ramp is not None and (not math.isfinite(ramp) or ramp <= 0):
            raise InputError(
                "facility.grid_ramp_mw_per_s", "must be > 0 (or omitted: no limit)", value=ramp
            )
        if not 0 <= self.target_soc_frac <= 1:
            raise InputError(
                "facility.target_soc_frac", "must be in [0, 1]", value=self.target_soc_frac
            )
        require_number(
            "facility.grid_rules.floor_frac",
            self.floor_w,
            minimum=0.0,
            maximum=self.grid_limit_w,
            unit="W",
        )
        if not 0 < self.recharge_ramp_share < 1:
            raise InputError(
                "facility.recharge_ramp_share",
                "must be in (0, 1)",
                value=self.recharge_ramp_share,
            )


def grid_config(
    *,
    grid_limit_w: float,
    ramp_limit_w_per_s: float | None = None,
    target_soc_frac: float | None = None,
    recharge_time_s: float | None = None,
    dispatch_interval_s: float | None = None,
    recharge_ramp_share: float | None = None,
    floor_w: float = 0.0,
) -> GridConfig:
    """:class:`GridConfig` with the dispatch defaults of ``power.yaml`` ``ems-default``."""
    d = load_catalog("power")["ems-default"].values

    def pick(value: float | None, key: str) -> float:
        return float(d[key]) if value is None else value

    return GridConfig(
        grid_limit_w=grid_limit_w,
        ramp_limit_w_per_s=ramp_limit_w_per_s,
        target_soc_frac=pick(target_soc_frac, "target_soc_frac"),
        recharge_time_s=pick(recharge_time_s, "recharge_time_s"),
        dispatch_interval_s=pick(dispatch_interval_s, "dispatch_interval_s"),
        recharge_ramp_share=pick(recharge_ramp_share, "recharge_ramp_share"),
        floor_w=floor_w,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class GridResult:
    """Outcome of one grid + battery simulation (arrays are per bin, read-only).

    Attributes:
        resolution_s: bin width, s.
        battery_units: units simulated.
        battery_power_w / battery_energy_j: total rated power (W) and capacity (J).
        grid_w: actual grid import per bin, W.
        battery_w: battery output per bin, W (> 0 discharging, < 0 charging).
        soc_j: state of charge at the end of each bin, J.
        violation: bins where the grid draw broke the import, ramp or floor limit.
        over_limit_bins / ramp_violation_bins / under_floor_bins: counts of each kind.
        max_grid_w: highest grid import, W.
        max_ramp_w_per_s: fastest change of grid import, W/s.
        unserved_energy_j: energy the battery could not supply (the grid took it), J.
        unabsorbed_energy_j: energy the battery could not absorb (grid fell below plan), J.
        discharged_energy_j / charged_energy_j: battery throughput at its terminals, J.
        ok: no violation anywhere.
    """

    resolution_s: float
    battery_units: int
    battery_power_w: float
    battery_energy_j: float
    grid_w: np.ndarray
    battery_w: np.ndarray
    soc_j: np.ndarray
    violation: np.ndarray
    over_limit_bins: int
    ramp_violation_bins: int
    under_floor_bins: int
    max_grid_w: float
    max_ramp_w_per_s: float
    unserved_energy_j: float
    unabsorbed_energy_j: float
    discharged_energy_j: float
    charged_energy_j: float
    ok: bool


def _smoothed_plan(load_w: np.ndarray, max_step_w: float, cap_w: float) -> np.ndarray:
    """Causal moving average of the load whose bin-to-bin change is <= ``max_step_w``, capped.

    Window w = ceil(span / max_step_w) bins; the load before t=0 is taken equal to its first
    value (steady state), so the bound also holds at the start.
    """
    span = float(load_w.max() - load_w.min())
    if not math.isfinite(max_step_w) or span <= max_step_w:
        return np.minimum(load_w, cap_w)
    ratio = span / max_step_w  # inf for a limit of 5e-324 W/s: the trace never moves
    w = math.ceil(ratio) if math.isfinite(ratio) else math.inf
    # mean of the last w bins, the ones before t=0 equal to load_w[0]: load_w[0] plus the
    # windowed sum of the deviations from it. No array of w (a tiny ramp limit makes w far
    # longer than the trace) is ever built.
    dev = np.cumsum(load_w - load_w[0])
    lagged = np.zeros_like(dev)
    if w < dev.size:
        lagged[w:] = dev[:-w]
    plan = load_w[0] + (dev - lagged) / w
    return np.minimum(plan, cap_w)


def _bounded_cumsum(s0: float, delta: np.ndarray, cap: float) -> np.ndarray:
    """s_k = clip(s_{k-1} + delta_k, 0, cap), s_{-1} = s0, without a per-element loop.

    A walk reflected at one barrier has a closed form (Skorokhod): reflected at the top,
    s_k = a_k - max(0, max_{j<=k} (a_j - cap)) with a_k = s0 + cumsum(delta); reflected at
    the bottom, s_k = a_k - min(0, min_{j<=k} a_j). The two-barrier walk equals the
    top-reflected walk until it first falls below 0, then the bottom-reflected walk (from 0)
    until it first exceeds cap, and so on. Each switch is a full empty/full swing of the
    battery (hours for grid batteries), so the loop runs a handful of times.
    """
    n = delta.size
    out = np.empty(n)
    pos = 0
    s = s0
    top = True
    while pos < n:
        a = s + np.cumsum(delta[pos:])
        if top:
            path = a - np.maximum.accumulate(np.maximum(a - cap, 0.0))
            crossed = path < 0.0
        else:
            path = a - np.minimum.accumulate(np.minimum(a, 0.0))
            crossed = path > cap
        k = int(np.argmax(crossed))
        if not crossed[k]:
            out[pos:] = path
            break
        out[pos : pos + k] = path[:k]
        s = 0.0 if top else cap
        out[pos + k] = s
        pos += k + 1
        top = not top
    return np.clip(out, 0.0, cap, out=out)  # round-off of a - (a - cap)


def _check_load(load_w: np.ndarray, grid: GridConfig) -> None:
    if load_w.ndim != 1 or load_w.size == 0:
        raise InputError("load_w", "must be a non-empty 1-D array of facility power (W)")
    if not np.all(np.isfinite(load_w)) or load_w.min() < 0:
        raise InputError("load_w", "must be finite and >= 0")
    low = float(load_w.min())
    if grid.grid_limit_w < low:
        raise InputError(
            "facility.grid_mw",
            "is below the cluster's lowest (idle) facility power: the grid could never "
            "carry the load, whatever the battery",
            value=grid.grid_limit_w / W_PER_MW,
            fix=f"raise it above {low / W_PER_MW:.3f} MW",
        )


def simulate_grid(
    load_w: np.ndarray,
    *,
    resolution_s: float,
    grid: GridConfig,
    battery: BatterySpec | None,
    units: int,
) -> GridResult:
    """Dispatch ``units`` battery units against a facility load trace.

    Args:
        load_w: facility power per bin, W.
        resolution_s: bin width, s.
        grid: grid limits and dispatch policy.
        battery: battery unit (None: no battery, ``units`` must be 0).
        units: number of units (0 = no battery).

    Returns:
        Grid draw, battery power, state of charge and limit violations per bin.
    """
    load = np.asarray(load_w, dtype=float)
    _check_load(load, grid)
    if not isinstance(units, int | np.integer) or units < 0:
        raise InputError("facility.battery_units", "must be an integer >= 0", value=units)
    require_number("facility.trace_resolution_s", resolution_s, minimum=0.0, strict=True)
    if battery is None and units:
        raise InputError("facility.battery", "battery_units > 0 needs a battery id", value=units)
    n = load.size
    dt = resolution_s
    cap_w = grid.grid_limit_w
    step_w = math.inf if grid.ramp_limit_w_per_s is None else grid.ramp_limit_w_per_s * dt
    p_w = 0.0 if battery is None else units * battery.power_w
    cap_j = 0.0 if battery is None else units * battery.energy_j
    # Round-trip efficiency split evenly: sqrt(rte) on charge and on discharge.
    eta = 1.0 if battery is None else math.sqrt(battery.round_trip_efficiency)

    plan = _smoothed_plan(load, step_w * (1.0 - grid.recharge_ramp_share), cap_w)
    if grid.floor_w > 0:
        plan = np.maximum(plan, grid.floor_w)
    if units == 0 or battery is None:
        planned, soc, delivered = plan, np.zeros(n), np.zeros(n)
    else:
        planned, soc, delivered = _dispatch(
            load, plan, dt=dt, grid=grid, step_w=step_w, p_w=p_w, cap_j=cap_j, eta=eta
        )
    return _grid_result(
        load,
        planned=planned,
        soc=soc,
        delivered=delivered,
        dt=dt,
        cap_w=cap_w,
        step_w=step_w,
        units=units,
        p_w=p_w,
        cap_j=cap_j,
        floor_w=grid.floor_w,
    )


def _dispatch(
    load: np.ndarray,
    plan: np.ndarray,
    *,
    dt: float,
    grid: GridConfig,
    step_w: float,
    p_w: float,
    cap_j: float,
    eta: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps 2-3 of the dispatch policy (module docstring), one dispatch interval at a time.

    Inputs: load and smoothed grid plan per bin (W), bin width ``dt`` (s), ramp limit per bin
    ``step_w`` (W), battery rating ``p_w`` (W) and capacity ``cap_j`` (J), one-way efficiency
    ``eta``. Returns ``(planned, soc, delivered)`` per bin: planned grid draw (W), state of
    charge at the end of the bin (J), battery output (W, > 0 discharging).
    """
    n = load.size
    planned = np.empty(n)
    soc = np.empty(n)
    seg = max(1, round(grid.dispatch_interval_s / dt))
    frac = np.arange(1, seg + 1, dtype=float) / seg
    r_step_w = grid.recharge_ramp_share * step_w * seg  # max set-point change per interval
    target_j = grid.target_soc_frac * cap_j
    s = target_j
    r_prev = 0.0
    for i0 in range(0, n, seg):
        i1 = min(i0 + seg, n)
        m = i1 - i0
        # Proportional state-of-charge control, limited by rating and ramp share.
        r_new = min(max((target_j - s) / grid.recharge_time_s, -p_w), p_w)
        r_new = min(max(r_new, r_prev - r_step_w), r_prev + r_step_w)
        g = np.clip(
            plan[i0:i1] + (r_prev + (r_new - r_prev) * frac[:m]), grid.floor_w, grid.grid_limit_w
        )
        planned[i0:i1] = g
        b = np.clip(load[i0:i1] - g, -p_w, p_w)
        # SoC change: discharge b > 0 draws b/eta from the cells, charge stores |b| eta.
        d_soc = np.where(b > 0, b * (-dt / eta), b * (-dt * eta))
        seg_soc = _bounded_cumsum(s, d_soc, cap_j)
        soc[i0:i1] = seg_soc
        s = float(seg_soc[-1])
        r_prev = r_new
    d_soc = np.diff(soc, prepend=target_j)
    delivered = np.where(d_soc < 0, d_soc * (-eta / dt), d_soc * (-1.0 / (eta * dt)))
    return planned, soc, delivered


def _grid_result(
    load: np.ndarray,
    *,
    planned: np.ndarray,
    soc: np.ndarray,
    delivered: np.ndarray,
    dt: float,
    cap_w: float,
    step_w: float,
    units: int,
    p_w: float,
    cap_j: float,
    floor_w: float = 0.0,
) -> GridResult:
    """Step 4 of the dispatch policy: actual grid draw, limit checks and energy totals."""
    grid_w = load - delivered
    tol_w = 1e-6 * cap_w
    over = grid_w > cap_w + tol_w
    ramp_w = np.diff(grid_w, prepend=min(load[0], cap_w))
    ramp_bad = np.abs(ramp_w) > step_w + tol_w
    shortfall = (load - planned) - delivered  # > 0: battery failed to supply, < 0: to absorb
    shortfall[np.abs(shortfall) <= tol_w] = 0.0  # round-off of the SoC <-> power conversion
    under = grid_w < floor_w - tol_w
    violation = over | ramp_bad | under
    for arr in (grid_w, delivered, soc, violation):
        arr.flags.writeable = False
    return GridResult(
        resolution_s=dt,
        battery_units=int(units),
        battery_power_w=p_w,
        battery_energy_j=cap_j,
        grid_w=grid_w,
        battery_w=delivered,
        soc_j=soc,
        violation=violation,
        over_limit_bins=int(over.sum()),
        ramp_violation_bins=int(ramp_bad.sum()),
        under_floor_bins=int(under.sum()),
        max_grid_w=float(grid_w.max()),
        max_ramp_w_per_s=float(np.abs(ramp_w).max() / dt),
        unserved_energy_j=float(np.clip(shortfall, 0.0, None).sum() * dt),
        unabsorbed_energy_j=float(np.clip(-shortfall, 0.0, None).sum() * dt),
        discharged_energy_j=float(np.clip(delivered, 0.0, None).sum() * dt),
        charged_energy_j=float(np.clip(-delivered, 0.0, None).sum() * dt),
        ok=not bool(violation.any()),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class BatterySizing:
    """Smallest battery that keeps the grid draw inside its limits.

    Attributes:
        battery: the unit.
        units: smallest number of units with no violation (the largest tried if infeasible).
        power_w / energy_j: total rated power (W) and capacity (J) of ``units``.
        feasible: a battery of at most ``max_units`` units meets the limits.
        result: simulation with ``units`` units.
        one_less: simulation with ``units - 1`` units (violates), None if ``units`` is 0 or
            the count is set by ``min_units`` (a bound computed outside the simulation).
        simulations: dispatch simulations run.
        binding: ``min_units`` (the outside bound, e.g. ride-through, sets the count) or
            ``trace`` (the simulated grid draw does).
    """

    battery: BatterySpec
    units: int
    power_w: float
    energy_j: float
    feasible: bool
    result: GridResult
    one_less: GridResult | None
    simulations: int
    binding: str = "trace"


def size_battery(
    load_w: np.ndarray,
    *,
    resolution_s: float,
    grid: GridConfig,
    battery: BatterySpec,
    max_units: int = 100_000,
    min_units: int = 0,
    accept: Callable[[GridResult], bool] | None = None,
) -> BatterySizing:
    """Fewest battery units (at least ``min_units``) whose simulation meets the limits.

    Doubling search for a feasible count from ``min_units``, then bisection between the last
    infeasible and the first feasible count; the answer ``u`` is feasible and ``u - 1`` is
    not (simulated, unless ``u == min_units``).

    Args:
        load_w: facility power per bin, W.
        resolution_s: bin width, s.
        grid: grid limits and dispatch policy.
        battery: battery unit.
        max_units: give up (``feasible=False``) above this many units.
        min_units: lower bound from outside the simulation (e.g. ride-through), units.
        accept: extra test of a simulation (e.g. an oscillation limit); default: ``ok``.
    """
    runs: dict[int, GridResult] = {}

    def run(units: int) -> GridResult:
        if units not in runs:
            runs[units] = simulate_grid(
                load_w, resolution_s=resolution_s, grid=grid, battery=battery, units=units
            )
        return runs[units]

    def good(units: int) -> bool:
        r = run(units)
        return r.ok and (accept is None or accept(r))

    lo = min(max(0, min_units), max_units)
    if good(lo):
        best, feasible = lo, True
    else:
        hi = min(max(1, 2 * lo), max_units)
        while not good(hi) and hi < max_units:
            lo, hi = hi, min(2 * hi, max_units)
        feasible = good(hi)
        if feasible:
            while hi - lo > 1:  # invariant: lo violates, hi does not
                mid = (lo + hi) // 2
                if good(mid):
                    hi = mid
                else:
                    lo = mid
        best = hi
    bound = best == min_units and min_units > 0
    one_less = run(best - 1) if best > 0 and feasible and not bound else None
    return BatterySizing(
        battery=battery,
        units=best,
        power_w=best * battery.power_w,
        energy_j=best * battery.energy_j,
        feasible=feasible,
        result=runs[best],
        one_less=one_less,
        simulations=len(runs),
        binding="min_units" if bound else "trace",
    )
