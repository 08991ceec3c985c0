"""Cost result -> JSON-safe dict and rich tables."""

from __future__ import annotations

import math

from rich.table import Table

from colossim.cost import CostResult

__all__ = ["cost_tables", "cost_to_json"]


def _f(x: float) -> float:
    x = float(x)
    return x if math.isfinite(x) else 0.0


def cost_to_json(result: CostResult) -> dict:
    """JSON-safe summary of a cost result (USD, years, hours)."""
    return {
        "gpu": result.config.gpu_id,
        "num_gpus": result.config.num_gpus,
        "capex_usd": _f(result.capex_usd),
        "server_capex_usd": _f(result.server_capex_usd),
        "annualised_capex_usd_per_year": _f(result.annualised_capex_usd_per_year),
        "opex_usd_per_year": _f(result.opex_usd_per_year),
        "energy_kwh_per_year": _f(result.energy_kwh_per_year),
        "energy_usd_per_kwh": _f(result.config.energy_usd_per_kwh),
        "usd_per_year": _f(result.usd_per_year),
        "usd_per_gpu_hour": _f(result.usd_per_gpu_hour),
        "usd_per_gpu_hour_includes_cost_of_capital": result.config.wacc > 0,
        "usd_per_gpu_hour_without_cost_of_capital": _f(
            result.usd_per_gpu_hour_without_cost_of_capital
        ),
        "wacc": _f(result.config.wacc),
        "cost_of_capital_usd_per_year": _f(result.cost_of_capital_usd_per_year),
        "storage_tb": _f(result.config.storage_tb),
        "mitigation_comparison_usd_per_year": {
            "batteries": _f(
                sum(
                    i.usd_per_year
                    for i in result.breakdown
                    if i.name in ("batteries", "battery_upkeep")
                )
            ),
            "software_fill_energy": None
            if result.software_fill_usd_per_year is None
            else _f(result.software_fill_usd_per_year),
        },
        "capex_breakdown_usd": {
            i.name: _f(i.capex_usd) for i in result.breakdown if i.lifetime_years > 0
        },
        "run_hours": None if result.run_hours is None else _f(result.run_hours),
        "usd_per_run": None if result.usd_per_run is None else _f(result.usd_per_run),
        "breakdown": [
            {
                "item": i.name,
                "capex_usd": _f(i.capex_usd),
                "lifetime_years": _f(i.lifetime_years),
                "usd_per_year": _f(i.usd_per_year),
                "usd_per_gpu_hour": _f(i.usd_per_gpu_hour),
                "cost_of_capital_usd_per_year": _f(i.cost_of_capital_usd_per_year),
            }
            for i in result.breakdown
        ],
    }


def cost_tables(result: CostResult) -> list[Table]:
    """Rich tables: breakdown by item, and totals."""
    items = Table(title=f"Cost: {result.config.num_gpus:,} x {result.config.gpu_id}")
    for col in ("item", "capex $M", "life yr", "$M / yr", "$ / GPU-h"):
        items.add_column(col, justify="left" if col == "item" else "right")
    for i in result.breakdown:
        items.add_row(
            i.name,
            f"{i.capex_usd / 1e6:,.0f}" if i.capex_usd else "",
            f"{i.lifetime_years:g}" if i.lifetime_years else "",
            f"{i.usd_per_year / 1e6:,.1f}",
            f"{i.usd_per_gpu_hour:.3f}",
        )
    totals = Table(title="Totals")
    totals.add_column("quantity")
    totals.add_column("value", justify="right")
    totals.add_row("capex", f"${result.capex_usd / 1e9:,.2f}B")
    totals.add_row("  of which servers", f"${result.server_capex_usd / 1e9:,.2f}B")
    totals.add_row("annualised capex", f"${result.annualised_capex_usd_per_year / 1e6:,.0f}M / yr")
    totals.add_row("opex", f"${result.opex_usd_per_year / 1e6:,.0f}M / yr")
    totals.add_row("energy", f"{result.energy_kwh_per_year / 1e9:,.2f} TWh / yr")
    totals.add_row(
        f"$ per GPU-hour (incl. cost of capital at {result.config.wacc:.0%} WACC)",
        f"${result.usd_per_gpu_hour:.2f}",
    )
    totals.add_row(
        "$ per GPU-hour, straight-line only",
        f"${result.usd_per_gpu_hour_without_cost_of_capital:.2f}",
    )
    if result.usd_per_run is not None and result.run_hours is not None:
        totals.add_row(
            f"$ per run ({result.run_hours:,.0f} h)", f"${result.usd_per_run / 1e6:,.1f}M"
        )
    return [items, totals]
