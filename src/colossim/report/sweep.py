"""Sweeps in the rendering layer: the outputs each point stores (the ``compare`` row
plus failure-aware time, batteries and $/run), the Pareto table of ``colossim sweep
show``, and the HTML report's sweep section (Pareto scatter, parallel coordinates)."""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
from rich.table import Table

from colossim.errors import InputError, did_you_mean
from colossim.pipeline import ScenarioResults
from colossim.report.compare import compare_row, plan_label
from colossim.report.html import Section
from colossim.sweep import PointOutputs, SweepData, pareto_mask

__all__ = [
    "DEFAULT_OBJECTIVES",
    "POINT_OUTPUTS",
    "default_objectives",
    "parse_objectives",
    "pareto_rows",
    "point_row",
    "sweep_sections",
    "sweep_show_json",
    "sweep_show_tables",
]

# Output columns of every point, in order, with their DuckDB types.
_COLUMNS = {
    "scenario": "VARCHAR",
    "gpu": "VARCHAR",
    "num_gpus": "BIGINT",
    "model": "VARCHAR",
    "plan": "VARCHAR",
    "step_time_s": "DOUBLE",
    "tokens_per_s": "DOUBLE",
    "tokens_per_s_per_gpu": "DOUBLE",
    "mfu": "DOUBLE",
    "memory_per_gpu_bytes": "DOUBLE",
    "fits_in_memory": "BOOLEAN",
    "days_to_train": "DOUBLE",
    "days_to_train_with_failures": "DOUBLE",
    "goodput": "DOUBLE",
    "fabric_tiers": "BIGINT",
    "fabric_switches": "BIGINT",
    "facility_power_w": "DOUBLE",
    "nameplate_it_power_w": "DOUBLE",
    "peak_swing_w": "DOUBLE",
    "battery_units": "BIGINT",
    "grid_ok": "BOOLEAN",
    "grid_unserved_energy_j": "DOUBLE",
    "capex_usd": "DOUBLE",
    "usd_per_gpu_hour": "DOUBLE",
    "usd_per_run": "DOUBLE",
    "campaign_note": "VARCHAR",
}

# `sweep show` default: time to train against cost of the run against facility power.
DEFAULT_OBJECTIVES = "days_to_train,usd_per_run,facility_power_w"


def point_row(r: ScenarioResults) -> dict[str, Any]:
    """The stored outputs of one sweep point: the ``compare`` row (nothing recomputed)
    plus time to train with failures, battery units, IT nameplate and $/run."""
    row = compare_row(r)
    row["plan"] = plan_label(row["plan"])
    with_failures = None
    if r.campaign is not None:
        c = r.campaign
        if c.mode.value == "to_train" and math.isfinite(c.time_to_train_days_mean):
            with_failures = float(c.time_to_train_days_mean)
        elif row["goodput"]:
            with_failures = row["days_to_train"] / row["goodput"]
    row["days_to_train_with_failures"] = with_failures
    row["nameplate_it_power_w"] = float(r.facility.power.nameplate_it_w)
    row["peak_swing_w"] = float(r.facility.power.peak_swing_w)
    row["battery_units"] = int(r.facility.battery_units)
    grid = r.facility.grid
    row["grid_ok"] = None if grid is None else bool(grid.ok)
    row["grid_unserved_energy_j"] = None if grid is None else float(grid.unserved_energy_j)
    row["usd_per_run"] = r.cost.usd_per_run
    row["campaign_note"] = r.campaign_note or None
    return {k: row.get(k) for k in _COLUMNS}


POINT_OUTPUTS = PointOutputs(columns=_COLUMNS, row=point_row)


def _numeric(data: SweepData) -> list[str]:
    """Numeric output and axis columns (bookkeeping columns left out)."""
    skip = {"idx", "elapsed_s"}
    return [
        c
        for c in data.columns
        if c not in skip
        and any(
            isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in data.rows
        )
    ]


def default_objectives(data: SweepData) -> str:
    """:data:`DEFAULT_OBJECTIVES` where the store has them (a sweep may keep fewer
    outputs), else its first two numeric outputs."""
    numeric = _numeric(data)
    names = [c for c in DEFAULT_OBJECTIVES.split(",") if c in numeric]
    if len(names) < 2:
        names += [c for c in numeric if c not in data.axes and c not in names][: 2 - len(names)]
    return ",".join(names) or DEFAULT_OBJECTIVES


def parse_objectives(text: str, data: SweepData) -> list[tuple[str, bool]]:
    """``"days_to_train,usd_per_run,mfu:max"`` -> [(column, maximise)] (checked against
    the store's numeric columns)."""
    numeric = [c for c in data.columns if any(isinstance(r.get(c), int | float) for r in data.rows)]
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, sense = part.partition(":")
        if sense not in ("", "min", "max"):
            raise InputError("--objectives", f"{part!r}: the sense is min or max", value=text)
        if name not in numeric:
            raise InputError(
                "--objectives",
                f"unknown numeric column {name!r} ({did_you_mean(name, numeric)}columns: {', '.join(numeric)})",
                value=text,
            )
        out.append((name, sense == "max"))
    if not out:
        raise InputError("--objectives", "give at least one column", value=text)
    return out


def pareto_rows(data: SweepData, objectives: list[tuple[str, bool]]) -> list[dict]:
    """The ``ok`` points no other point beats on every objective, sorted by the first
    objective (points missing an objective value are left out)."""
    rows = [r for r in data.ok_rows() if all(r.get(c) is not None for c, _ in objectives)]
    if not rows:
        return []
    v = np.array([[(-1 if mx else 1) * float(r[c]) for c, mx in objectives] for r in rows])
    front = [r for r, keep in zip(rows, pareto_mask(v), strict=True) if keep]
    c0, mx0 = objectives[0]
    return sorted(front, key=lambda r: r[c0], reverse=mx0)


def _fmt(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return "-" if x is None else str(x)
    if isinstance(x, float):
        return f"{x:,.0f}" if 1e4 <= abs(x) < 1e18 else f"{x:,.4g}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def _status_counts(data: SweepData) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in data.rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts


def sweep_show_json(data: SweepData, objectives: list[tuple[str, bool]]) -> dict:
    front = pareto_rows(data, objectives)
    keep = ["hash", *data.axes, *(c for c, _ in objectives)]
    return {
        "sweep": data.meta["name"],
        "points": len(data.rows),
        "points_total": data.meta["points_total"],
        "by_status": _status_counts(data),
        "objectives": [{"column": c, "sense": "max" if m else "min"} for c, m in objectives],
        "pareto": [{k: r.get(k) for k in keep} for r in front],
    }


def sweep_show_tables(data: SweepData, objectives: list[tuple[str, bool]]) -> list[Table]:
    """A summary table and the Pareto front (axis values and objectives per point)."""
    meta = data.meta
    counts = _status_counts(data)
    s = Table(title=f"Sweep {meta['name']}", show_header=False)
    s.add_row("points stored", f"{len(data.rows):,} of {meta['points_total'] or 0:,}")
    s.add_row("by status", ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items())))
    s.add_row("colossim / catalog", f"{meta['colossim_version']} / {meta['catalog_hash']}")
    s.add_row("started / finished", f"{meta['started_at']} / {meta['finished_at'] or '-'}")
    front = pareto_rows(data, objectives)
    label = ", ".join(f"{c} ({'max' if m else 'min'})" for c, m in objectives)
    t = Table(title=f"Pareto front: {len(front):,} points on {label}")
    for c in data.axes:
        t.add_column(c, justify="right")
    for c, _ in objectives:
        t.add_column(c, justify="right", style="bold")
    for r in front:
        t.add_row(*(_fmt(r.get(c)) for c in data.axes), *(_fmt(r.get(c)) for c, _ in objectives))
    return [t, s]


def _pareto_figure(data: SweepData, objectives: list[tuple[str, bool]]) -> go.Figure:
    (x, _), (y, _) = objectives[0], objectives[1 if len(objectives) > 1 else 0]
    color = objectives[2][0] if len(objectives) > 2 else None
    rows = [r for r in data.ok_rows() if r.get(x) is not None and r.get(y) is not None]
    front = {r["hash"] for r in pareto_rows(data, objectives)}
    text = ["<br>".join(f"{a}={r.get(a)}" for a in data.axes) for r in rows]
    marker: dict[str, Any] = {"size": 8, "opacity": 0.7}
    if color:
        marker.update(color=[r.get(color) or 0.0 for r in rows], colorscale="Viridis")
        marker["colorbar"] = {"title": {"text": color}}
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[r[x] for r in rows],
            y=[r[y] for r in rows],
            mode="markers",
            name="points",
            text=text,
            marker=marker,
        )
    )
    on = sorted((r for r in rows if r["hash"] in front), key=lambda r: r[x])
    fig.add_trace(
        go.Scatter(
            x=[r[x] for r in on],
            y=[r[y] for r in on],
            mode="lines+markers",
            name="Pareto front",
            line={"color": "crimson"},
            marker={"symbol": "circle-open", "size": 12, "color": "crimson"},
        )
    )
    fig.update_layout(
        title={"text": f"Sweep {data.meta['name']}: {y} against {x}"},
        xaxis_title=x,
        yaxis_title=y,
        template="plotly_white",
        height=460,
    )
    return fig


def _parallel_figure(data: SweepData, objectives: list[tuple[str, bool]]) -> go.Figure:
    rows = data.ok_rows()
    dims = []
    for c in [*data.axes, *(c for c, _ in objectives)]:
        vals = [r.get(c) for r in rows]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
            dims.append({"label": c, "values": [float(v) for v in vals]})
        else:  # categorical: one tick per value
            cats = sorted({str(v) for v in vals})
            dims.append(
                {
                    "label": c,
                    "values": [cats.index(str(v)) for v in vals],
                    "tickvals": list(range(len(cats))),
                    "ticktext": cats,
                }
            )
    c0 = objectives[0][0]
    line = {"color": [float(r.get(c0) or 0.0) for r in rows], "colorscale": "Viridis"}
    fig = go.Figure(go.Parcoords(dimensions=dims, line=line))
    fig.update_layout(
        title={"text": "Every point: axes and objectives"}, template="plotly_white", height=460
    )
    return fig


def sweep_sections(data: SweepData, objectives: list[tuple[str, bool]]) -> list[Section]:
    """The report's sweep section: status summary, Pareto table, scatter, parallel
    coordinates (only the scatter and table when no point succeeded)."""
    counts = _status_counts(data)
    front = pareto_rows(data, objectives)
    cols = [*data.axes, *(c for c, _ in objectives)]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>"
        for r in front
    )
    status = ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items()))
    blocks = [
        f"<p>{len(data.rows):,} points ({html.escape(status)}); Pareto front of {len(front):,} points.</p>",
        f"<table><tr>{head}</tr>{body}</table>",
    ]
    figs = [_pareto_figure(data, objectives)]
    if data.ok_rows():
        figs.append(_parallel_figure(data, objectives))
    return [Section(id="sweep", title=f"Sweep: {data.meta['name']}", blocks=blocks, figures=figs)]
