"""Facility power result -> JSON-safe dict and rich tables."""

from __future__ import annotations

import math

from rich.table import Table

from colossim.power.facility import FacilityResult
from colossim.units import J_PER_MWH, SECONDS_PER_HOUR, W_PER_MW

__all__ = ["facility_tables", "facility_to_json", "power_tables", "power_to_json"]


def _f(x: float) -> float:
    """Finite float for JSON (the core never produces NaN/inf; this is a last guard)."""
    x = float(x)
    return x if math.isfinite(x) else 0.0


def power_to_json(result: FacilityResult) -> dict:
    """JSON-safe summary of a facility simulation (SI units, suffixes in the keys)."""
    p = result.power
    t = result.trace
    out: dict = {
        "gpu": p.config.gpu_id,
        "num_gpus": p.config.num_gpus,
        "num_nodes": p.config.num_nodes,
        "pue": _f(p.config.pue),
        "it_power_w": _f(p.compute.it_w),
        "facility_power_w": _f(p.compute.facility_w),
        "nameplate_it_power_w": _f(p.nameplate_it_w),
        "average_it_power_w": _f(p.average_it_w),
        "average_facility_power_w": _f(p.average_facility_w),
        "phases_facility_w": {
            "compute": _f(p.compute.facility_w),
            "communication": _f(p.communication.facility_w),
            "idle": _f(p.idle.facility_w),
        },
        "breakdown_compute_w": {
            "gpus": _f(p.compute.gpu_w),
            "server_overhead": _f(p.compute.overhead_w),
            "network": _f(p.compute.network_w),
            "storage": _f(p.compute.storage_w),
            "cooling_and_losses": _f(p.compute.facility_w - p.compute.it_w),
        },
        "step_s": _f(p.phases.step_s),
        "step_swing_w": _f(p.step_swing_w),
        "peak_swing_w": _f(p.peak_swing_w),
        "trace": {
            "duration_s": _f(t.duration_s),
            "resolution_s": _f(t.resolution_s),
            "mean_power_w": _f(t.mean_power_w),
            "peak_power_w": _f(t.peak_power_w),
            "min_power_w": _f(t.min_power_w),
        },
        "energy_j": _f(t.energy_j),
        "it_energy_j": _f(t.it_energy_j),
        "battery": None if result.battery is None else result.battery.id,
        "battery_units": result.battery_units,
        "grid": None,
    }
    g = result.grid
    if g is not None:
        out["grid"] = {
            "ok": g.ok,
            "battery_power_w": _f(g.battery_power_w),
            "battery_energy_j": _f(g.battery_energy_j),
            "max_grid_w": _f(g.max_grid_w),
            "max_ramp_w_per_s": _f(g.max_ramp_w_per_s),
            "over_limit_bins": g.over_limit_bins,
            "ramp_violation_bins": g.ramp_violation_bins,
            "under_floor_bins": g.under_floor_bins,
            "unserved_energy_j": _f(g.unserved_energy_j),
            "unabsorbed_energy_j": _f(g.unabsorbed_energy_j),
            "discharged_energy_j": _f(g.discharged_energy_j),
            "charged_energy_j": _f(g.charged_energy_j),
        }
    out.update(facility_to_json(result))
    if result.sizing is not None:
        s = result.sizing
        out["sizing"] = {
            "feasible": s.feasible,
            "units": s.units,
            "power_w": _f(s.power_w),
            "energy_j": _f(s.energy_j),
            "one_less_violates": None if s.one_less is None else not s.one_less.ok,
            "simulations": s.simulations,
            "binding": "ride_through" if s.binding == "min_units" else "grid_trace",
        }
    return out


def _rules_json(result: FacilityResult) -> dict | None:
    r = result.rules
    if r is None:
        return None
    return {
        "id": r.id,
        "name": r.name,
        "applied": result.grid is not None,
        "all_met": result.rules_met if result.grid is not None else None,
        "checks": [
            {
                "rule": c.rule,
                "unit": c.unit,
                "limit": _f(c.limit),
                "value": _f(c.value),
                "met": c.met,
                "margin": _f(c.margin),
                "note": c.note,
            }
            for c in result.rule_checks
        ],
    }


def facility_to_json(result: FacilityResult) -> dict:
    """Issue #14 keys: battery, grid rules, cooling and water, racks, mitigations."""
    g = result.grid
    c = result.cooling
    k = result.racks
    rules = _rules_json(result)
    return {
        "battery_energy_j": 0.0 if g is None else _f(g.battery_energy_j),
        "battery_power_w": 0.0 if g is None else _f(g.battery_power_w),
        "ride_through_battery_units": result.ride_through_units,
        "grid_ramp_w_per_s": None if g is None else _f(g.max_ramp_w_per_s),
        "grid_rules": None if rules is None else rules["checks"],
        "grid_rule_set": None
        if rules is None
        else {k2: v for k2, v in rules.items() if k2 != "checks"},
        "pue_annual": None if c is None else _f(c.pue_annual),
        "pue_hourly_min": None if c is None else _f(c.pue_min),
        "pue_hourly_max": None if c is None else _f(c.pue_max),
        "site": None if c is None or c.site is None else c.site.id,
        "cooling": None if c is None or c.cooling is None else c.cooling.id,
        "cooling_time_constant_s": None if c is None else _f(c.thermal_time_constant_s),
        "water_m3_per_day": None if c is None else _f(c.water_m3_per_day),
        "water_m3_per_year": None if c is None else _f(c.water_m3_per_year),
        "water_m3_per_day_peak_month": None if c is None else _f(c.water_m3_per_day_peak_month),
        "racks": None
        if k is None
        else {
            "design": k.design,
            "gpus_per_rack": k.gpus_per_rack,
            "racks": k.racks,
            "kw_per_rack": _f(k.kw_per_rack),
            "rows": k.rows,
            "halls": k.halls,
            "white_space_m2": _f(k.white_space_m2),
            "floor_area_m2": _f(k.floor_area_m2),
        },
        "mitigations": [
            {
                "name": m.name,
                "available": m.available,
                "floor_w": _f(m.floor_w),
                "floor_frac_of_compute": _f(m.floor_frac_of_compute),
                "extra_average_w": _f(m.extra_average_w),
                "extra_energy_j_per_year": _f(m.extra_energy_j_per_year),
                "step_swing_after_w": _f(m.step_swing_after_w),
                "covers_outages": m.covers_outages,
                "note": m.note,
            }
            for m in result.mitigations
        ],
    }


def power_tables(result: FacilityResult) -> list[Table]:
    """Rich tables: power per phase, and grid + battery outcome (if simulated)."""
    p = result.power
    phases = Table(title=f"Power: {p.config.num_gpus:,} x {p.config.gpu_id}, PUE {p.config.pue:g}")
    for col in (
        "phase",
        "time s",
        "GPUs MW",
        "servers MW",
        "net+storage MW",
        "IT MW",
        "facility MW",
    ):
        phases.add_column(col, justify="left" if col == "phase" else "right")
    for name, pp, t_s in (
        ("compute", p.compute, p.phases.compute_s),
        ("communication", p.communication, p.phases.communication_s),
        ("idle", p.idle, p.phases.idle_s),
    ):
        phases.add_row(
            name,
            f"{t_s:.3f}",
            f"{pp.gpu_w / W_PER_MW:.1f}",
            f"{pp.overhead_w / W_PER_MW:.1f}",
            f"{(pp.network_w + pp.storage_w) / W_PER_MW:.1f}",
            f"{pp.it_w / W_PER_MW:.1f}",
            f"{pp.facility_w / W_PER_MW:.1f}",
        )
    phases.add_row(
        "step average",
        f"{p.phases.step_s:.3f}",
        "",
        "",
        "",
        f"{p.average_it_w / W_PER_MW:.1f}",
        f"{p.average_facility_w / W_PER_MW:.1f}",
    )
    summary = Table(title="Swings and energy")
    summary.add_column("quantity")
    summary.add_column("value", justify="right")
    t = result.trace
    summary.add_row("step swing (facility)", f"{p.step_swing_w / W_PER_MW:.1f} MW")
    summary.add_row("peak swing, compute to idle (facility)", f"{p.peak_swing_w / W_PER_MW:.1f} MW")
    summary.add_row("nameplate IT power", f"{p.nameplate_it_w / W_PER_MW:.1f} MW")
    summary.add_row(
        f"energy over {t.duration_s / SECONDS_PER_HOUR:.3g} h", f"{t.energy_j / J_PER_MWH:,.0f} MWh"
    )
    summary.add_row(
        "trace mean / peak", f"{t.mean_power_w / W_PER_MW:.1f} / {t.peak_power_w / W_PER_MW:.1f} MW"
    )
    tables = [phases, summary]
    g = result.grid
    if g is not None:
        grid = Table(title="Grid + battery")
        grid.add_column("quantity")
        grid.add_column("value", justify="right")
        name = "none" if result.battery is None else result.battery.id
        grid.add_row("battery", f"{g.battery_units} x {name}")
        grid.add_row(
            "battery power / energy",
            f"{g.battery_power_w / W_PER_MW:.1f} MW / {g.battery_energy_j / J_PER_MWH:.1f} MWh",
        )
        if result.sizing is not None:
            grid.add_row("sized", "yes" if result.sizing.feasible else "NO (max units reached)")
        grid.add_row("limits met", "yes" if g.ok else "NO")
        grid.add_row("max grid draw", f"{g.max_grid_w / W_PER_MW:.1f} MW")
        grid.add_row("max grid ramp", f"{g.max_ramp_w_per_s / W_PER_MW:.2f} MW/s")
        grid.add_row(
            "bins over limit / over ramp", f"{g.over_limit_bins} / {g.ramp_violation_bins}"
        )
        grid.add_row(
            "unserved / unabsorbed",
            f"{g.unserved_energy_j / J_PER_MWH:.3f} / {g.unabsorbed_energy_j / J_PER_MWH:.3f} MWh",
        )
        tables.append(grid)
    tables.extend(facility_tables(result))
    return tables


def _rule_value(unit: str, x: float) -> str:
    if unit == "W/s":
        return f"{x / W_PER_MW:.3g} MW/s"
    if unit == "W":
        return f"{x / W_PER_MW:.3g} MW / min"
    if unit == "s":
        return f"{x:,.0f} s"
    return f"{x:.3g}"


def facility_tables(result: FacilityResult) -> list[Table]:
    """Grid rules, mitigations, cooling and water, racks."""
    tables: list[Table] = []
    r = result.rules
    if r is not None:
        applied = "" if result.grid is not None else " (not applied: no grid_mw)"
        t = Table(title=f"Grid rules: {r.id} ({r.name}){applied}")
        for col in ("rule", "limit", "value", "met"):
            t.add_column(col, justify="left" if col == "rule" else "right")
        for c in result.rule_checks:
            t.add_row(
                c.rule,
                _rule_value(c.unit, c.limit),
                _rule_value(c.unit, c.value),
                "yes" if c.met else "NO",
            )
        tables.append(t)
    m = Table(title="Mitigations, each sized to the rules it can meet")
    for col in ("mitigation", "size", "energy cost", "covers outages + ride-through"):
        m.add_column(col, justify="left" if col == "mitigation" else "right")
    g = result.grid
    if g is not None and result.battery is not None:
        why = "ride-through" if result.sizing and result.sizing.binding == "min_units" else "trace"
        losses_j = g.charged_energy_j - g.discharged_energy_j
        m.add_row(
            f"battery (count set by {why})",
            f"{result.battery_units} x {result.battery.id}",
            f"{losses_j / J_PER_MWH:,.1f} MWh losses over the trace",
            "yes",
        )
    for f in result.mitigations:
        m.add_row(
            f.name + ("" if f.available else " (n/a on this GPU)"),
            f"floor at {f.floor_frac_of_compute:.0%} of compute power",
            f"{f.extra_energy_j_per_year / J_PER_MWH:,.0f} MWh / yr",
            "no",
        )
    tables.append(m)
    c = result.cooling
    k = result.racks
    b = Table(title="Cooling, water and physical build")
    b.add_column("quantity")
    b.add_column("value", justify="right")
    if c is not None:
        where = "no site (constant PUE)" if c.site is None else c.site.id
        b.add_row("cooling / site", f"{c.cooling.id if c.cooling else 'fixed PUE'} / {where}")
        b.add_row(
            "PUE annual (hourly min-max)", f"{c.pue_annual:.3f} ({c.pue_min:.3f}-{c.pue_max:.3f})"
        )
        b.add_row("cooling time constant", f"{c.thermal_time_constant_s:g} s")
        b.add_row(
            "water per day (peak month)",
            f"{c.water_m3_per_day:,.0f} ({c.water_m3_per_day_peak_month:,.0f}) m3",
        )
        b.add_row("water per year", f"{c.water_m3_per_year:,.0f} m3")
    if k is not None:
        b.add_row("racks x GPUs per rack", f"{k.racks:,} x {k.gpus_per_rack}")
        b.add_row("kW per rack (GPUs at TDP)", f"{k.kw_per_rack:.1f} kW")
        b.add_row("rows / halls", f"{k.rows:,} / {k.halls}")
        b.add_row(
            "white space / floor area", f"{k.white_space_m2:,.0f} / {k.floor_area_m2:,.0f} m2"
        )
    tables.append(b)
    return tables
