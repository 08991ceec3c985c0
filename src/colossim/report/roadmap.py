"""``colossim roadmap``: the build-out phase by phase, as JSON and as a table."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from colossim.pipeline.roadmap import PhaseResult

__all__ = ["roadmap_table", "roadmap_to_json"]


def roadmap_to_json(name: str, phases: list[PhaseResult]) -> dict:
    """``{"scenario", "phases": [...]}`` with every figure of each phase (dates ISO)."""
    rows = []
    for ph in phases:
        row = dataclasses.asdict(ph)
        row["date"] = ph.date.isoformat()
        row["warnings"] = list(ph.warnings)
        rows.append(row)
    return {"scenario": name, "phases": rows}


def roadmap_table(name: str, phases: list[PhaseResult]) -> Table:
    """One row per phase: date, GPUs, power, capex, fabric and days to train (fits 80
    columns: the GPU mix is in the JSON)."""
    t = Table(title=f"Build-out of {name}")
    cols = ("phase", "GPUs", "IT/fac MW", "supply", "capex $B", "switches", "days")
    for col in cols:
        t.add_column(col, justify="left" if col == "phase" else "right", no_wrap=col != "phase")
    for ph in phases:
        supply = "-" if ph.supply_w is None else f"{ph.supply_w / 1e6:,.0f}"
        days = f"{ph.days_to_train:,.1f}" + ("" if ph.days_basis == "with failures" else "*")
        t.add_row(
            f"{ph.date.isoformat()}\n{ph.name}",
            f"{ph.num_gpus:,}\n{len(ph.gpus)} GPU type" + ("s" if len(ph.gpus) > 1 else ""),
            f"{ph.it_power_w / 1e6:,.0f}/{ph.facility_power_w / 1e6:,.0f}",
            supply,
            f"{ph.capex_usd_cumulative / 1e9:,.1f}",
            f"{ph.fabric_switches:,}\n{ph.fabric_tiers} tiers",
            days,
        )
    t.caption = (
        "IT MW nameplate / facility MW average while training; supply: grid + on-site MW; "
        "capex cumulative; days to train the workload with failures (* failure-free: "
        "campaign not run)"
    )
    return t


# ---------------------------------------------------------------- HTML report figures


def roadmap_figures(phases: list[PhaseResult]) -> list:
    """Capacity (GPUs by type), power (IT nameplate, facility average, supply) and capex
    spent, each over the phases' dates."""
    import plotly.graph_objects as go

    dates = [ph.date.isoformat() for ph in phases]
    types = list(dict.fromkeys(g for ph in phases for g in ph.gpus))
    capacity = go.Figure(
        [go.Bar(name=g, x=dates, y=[ph.gpus.get(g, 0) for ph in phases]) for g in types]
    )
    capacity.update_layout(barmode="stack", yaxis_title="GPUs", xaxis_type="date")
    power = go.Figure(
        [
            go.Scatter(
                name=name,
                x=dates,
                y=[None if v is None else v / 1e6 for v in values],
                mode="lines+markers",
                line_shape="hv",
            )
            for name, values in (
                ("IT nameplate", [ph.it_power_w for ph in phases]),
                ("facility, average while training", [ph.facility_power_w for ph in phases]),
                ("supply (grid + on-site)", [ph.supply_w for ph in phases]),
            )
        ]
    )
    power.update_layout(yaxis_title="MW", xaxis_type="date")
    capex = go.Figure(
        [
            go.Bar(name="added", x=dates, y=[ph.capex_added_usd / 1e9 for ph in phases]),
            go.Scatter(
                name="cumulative",
                x=dates,
                y=[ph.capex_usd_cumulative / 1e9 for ph in phases],
                mode="lines+markers",
                line_shape="hv",
            ),
        ]
    )
    capex.update_layout(yaxis_title="capex, $B", xaxis_type="date")
    for fig, title in (
        (capacity, "Capacity over time"),
        (power, "Power over time"),
        (capex, "Capex spent over time"),
    ):
        fig.update_layout(
            title={"text": title},
            template="plotly_white",
            height=360,
            margin={"l": 60, "r": 30, "t": 60, "b": 50},
        )
    return [capacity, power, capex]


def roadmap_rows(phases: list[PhaseResult]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the report's build-out table."""
    headers = [
        "date",
        "phase",
        "GPUs",
        "IT MW",
        "facility MW",
        "supply MW",
        "capex $B (cumulative)",
        "fabric",
        "days to train",
        "goodput",
    ]
    rows = []
    for ph in phases:
        rows.append(
            [
                ph.date.isoformat(),
                ph.name,
                f"{ph.num_gpus:,} ({_mix(ph.gpus)})",
                f"{ph.it_power_w / 1e6:,.0f}",
                f"{ph.facility_power_w / 1e6:,.0f}",
                "-" if ph.supply_w is None else f"{ph.supply_w / 1e6:,.0f}",
                f"{ph.capex_usd_cumulative / 1e9:,.2f}",
                f"{ph.fabric_tiers} tiers, {ph.fabric_switches:,} switches",
                f"{ph.days_to_train:,.1f} ({ph.days_basis})",
                "-" if ph.goodput is None else f"{ph.goodput:.1%}",
            ]
        )
    return headers, rows


def _mix(gpus: dict[str, int]) -> str:
    return " + ".join(f"{n:,} {g}" for g, n in gpus.items())
