"""Facility power result -> JSON-safe dict and rich tables."""

from __future__ import annotations

import math

from rich.table import Table

from colossim.power.grid import FacilityResult
from colossim.units import J_PER_MWH, SECONDS_PER_HOUR, W_PER_MW

__all__ = ["power_tables", "power_to_json"]


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
            "unserved_energy_j": _f(g.unserved_energy_j),
            "unabsorbed_energy_j": _f(g.unabsorbed_energy_j),
            "discharged_energy_j": _f(g.discharged_energy_j),
            "charged_energy_j": _f(g.charged_energy_j),
        }
    if result.sizing is not None:
        s = result.sizing
        out["sizing"] = {
            "feasible": s.feasible,
            "units": s.units,
            "power_w": _f(s.power_w),
            "energy_j": _f(s.energy_j),
            "one_less_violates": None if s.one_less is None else not s.one_less.ok,
            "simulations": s.simulations,
        }
    return out


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
    return tables
