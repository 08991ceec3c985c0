"""Scenarios side by side (``colossim compare`` and the report's comparison section).

Each row reads one :class:`~colossim.pipeline.ScenarioResults`; the key figures come from
the ``*_to_json`` summaries (nothing is recomputed here).
"""

from __future__ import annotations

from rich.table import Table

from colossim.pipeline import ScenarioResults
from colossim.report.cost import cost_to_json
from colossim.report.fabric import fabric_to_json
from colossim.report.jsonsafe import to_jsonable
from colossim.report.perf import estimate_to_json
from colossim.report.power import power_to_json

__all__ = [
    "COMPARE_KEYS",
    "compare_row",
    "compare_tables",
    "compare_to_json",
    "plan_label",
]

# Keys of every compare row, in display order (same keys for every scenario).
COMPARE_KEYS = (
    "scenario",
    "gpu",
    "num_gpus",
    "model",
    "plan",
    "step_time_s",
    "tokens_per_s",
    "tokens_per_s_per_gpu",
    "mfu",
    "memory_per_gpu_bytes",
    "fits_in_memory",
    "days_to_train",
    "days_to_train_with_failures",
    "fabric_tiers",
    "fabric_switches",
    "facility_power_w",
    "capex_usd",
    "usd_per_gpu_hour",
    "goodput",
)


def plan_label(plan: dict) -> str:
    """A plan dict (``Plan.as_dict``) in one short line."""
    return (
        f"TP{plan['tp']} PP{plan['pp']} VP{plan['vp']} DP{plan['dp']} CP{plan['cp']} EP{plan['ep']}"
        f" mb{plan['micro_batch']} {plan['recompute']}/{plan['sharding']}"
    )


def compare_row(r: ScenarioResults) -> dict:
    """The key outputs of one scenario (keys: :data:`COMPARE_KEYS`), JSON-safe;
    ``days_to_train_with_failures`` (median over the campaign's trials) and ``goodput``
    are None when the campaign was not run."""
    est = estimate_to_json(r.estimate, r.ctx, scenario=r.name)
    fab = fabric_to_json(r.fabric)
    pw = power_to_json(r.facility)
    cst = cost_to_json(r.cost)
    goodput = None
    if r.campaign is not None:
        from colossim.report.campaign import campaign_to_json

        goodput = campaign_to_json(r.campaign)["goodput"]
    wf = r.with_failures
    row = {
        "scenario": r.name,
        # A mixed cluster: every GPU type (the estimate is the pacing partition's).
        "gpu": "+".join(r.scenario.cluster.gpu_counts) if r.partitioned else est["gpu"],
        "num_gpus": est["num_gpus"],
        "model": est["model"],
        "plan": est["plan"],
        "step_time_s": est["step_time_s"],
        "tokens_per_s": est["tokens_per_s"],
        "tokens_per_s_per_gpu": est["tokens_per_s_per_gpu"],
        "mfu": est["mfu"],
        "memory_per_gpu_bytes": est["memory_per_gpu_bytes"],
        "fits_in_memory": est["fits_in_memory"],
        "days_to_train": est["days_to_train"],
        "days_to_train_with_failures": None if wf is None else wf.days,
        "fabric_tiers": fab["tiers"],
        "fabric_switches": fab["switches"]["total"],
        "facility_power_w": pw["average_facility_power_w"],
        "capex_usd": cst["capex_usd"],
        "usd_per_gpu_hour": cst["usd_per_gpu_hour"],
        "goodput": goodput,
    }
    return to_jsonable(row)


def compare_to_json(results: list[ScenarioResults]) -> list[dict]:
    """One dict per scenario, same keys (:data:`COMPARE_KEYS`); goodput is None when the
    campaign was not run."""
    return [compare_row(r) for r in results]


def _usd(x: float) -> str:
    if abs(x) >= 1e9:
        return f"${x / 1e9:,.2f}B"
    return f"${x / 1e6:,.1f}M" if abs(x) >= 1e6 else f"${x / 1e3:,.1f}k"


def _watts(x: float) -> str:
    return f"{x / 1e6:,.1f} MW" if abs(x) >= 1e6 else f"{x / 1e3:,.0f} kW"


def _fmt_rows(row: dict) -> dict[str, str]:
    g = row["goodput"]
    dwf = row["days_to_train_with_failures"]
    tiers = row["fabric_tiers"]
    return {
        "GPUs": f"{row['num_gpus']:,} x {row['gpu']}",
        "model": row["model"],
        "best plan": plan_label(row["plan"]),
        "step time": f"{row['step_time_s']:,.3f} s",
        "tokens/s": f"{row['tokens_per_s']:,.0f}",
        "tokens/s per GPU": f"{row['tokens_per_s_per_gpu']:,.1f}",
        "MFU": f"{row['mfu']:.1%}",
        "memory per GPU": f"{row['memory_per_gpu_bytes'] / 1e9:,.1f} GB"
        + ("" if row["fits_in_memory"] else " (does not fit)"),
        "days to train": f"{row['days_to_train']:,.1f}",
        "days to train with failures": "-" if dwf is None else f"{dwf:,.1f}",
        "fabric": f"{tiers} tier{'s' if tiers != 1 else ''}, {row['fabric_switches']:,} switches",
        "facility power": _watts(row["facility_power_w"]),
        "capex": _usd(row["capex_usd"]),
        "$ per GPU-hour": f"${row['usd_per_gpu_hour']:,.2f}",
        "goodput": "-" if g is None else f"{g:.1%}",
    }


def compare_display(rows: list[dict]) -> list[tuple[str, list[str]]]:
    """(label, one formatted cell per scenario) for every compared quantity."""
    cells = [_fmt_rows(r) for r in rows]
    return [(label, [c[label] for c in cells]) for label in cells[0]] if cells else []


def compare_tables(rows: list[dict]) -> list[Table]:
    """One rich table: a row per quantity, a column per scenario."""
    t = Table(title=f"{len(rows)} scenario{'s' if len(rows) != 1 else ''} side by side")
    t.add_column("")
    for r in rows:
        t.add_column(r["scenario"], justify="right")
    for label, cells in compare_display(rows):
        t.add_row(label, *cells)
    return [t]
