"""One self-contained, offline HTML report of a scenario (``colossim report``).

The page embeds plotly.js once (``plotly.offline.get_plotlyjs``), each figure as a JSON
block, and a few lines of script that draw them: no ``src``/``href`` to the network, no
CDN, nothing fetched. Numbers come from the ``*_to_json`` summaries; sections whose
inputs were not computed (no search for a fixed plan, no campaign) are left out.

Pure: :func:`render_html` returns the page as a string; the CLI writes it.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field

import numpy as np

from colossim import __version__
from colossim.pipeline import ScenarioResults
from colossim.report import figures, power_figures
from colossim.report.compare import compare_display, compare_row, plan_label
from colossim.report.cost import cost_to_json
from colossim.report.fabric import fabric_to_json
from colossim.report.jsonsafe import to_jsonable
from colossim.report.perf import estimate_to_json, search_to_json
from colossim.report.power import power_to_json
from colossim.report.topology import topology_figure
from colossim.units import J_PER_MWH, SECONDS_PER_HOUR, W_PER_MW

__all__ = [
    "PLOTLY_MARKER",
    "Section",
    "render_html",
    "report_sections",
    "report_title",
]

# Comment placed just before the embedded plotly.js (tests use it to find the bundle).
PLOTLY_MARKER = "<!-- plotly.js (embedded, MIT licence) -->"


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """One section of the page.

    Attributes:
        id: anchor id (``summary``, ``time``, ``memory``, ``power``, ``cost``, ``search``,
            ``campaign``, ``fabric``, ``compare``).
        title: heading.
        blocks: HTML fragments (tables, paragraphs) placed before the figures.
        figures: plotly figures of the section.
    """

    id: str
    title: str
    blocks: list[str] = field(default_factory=list)
    figures: list = field(default_factory=list)


# ---------------------------------------------------------------- small HTML helpers


def _esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def _num(x: float | None, spec: str, scale: float = 1.0) -> str:
    """Formatted number, or '-' for None / non-finite (never 'nan' on the page)."""
    if x is None or not math.isfinite(float(x)):
        return "-"
    return format(float(x) / scale, spec)


def _table(headers: list[str] | None, rows: list[list[object]], *, cls: str = "") -> str:
    out = [f'<table class="{_esc(cls)}">' if cls else "<table>"]
    if headers:
        out.append(
            "<thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in headers) + "</tr></thead>"
        )
    out.append("<tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _kv(rows: list[tuple[str, str]]) -> str:
    return _table(None, [list(r) for r in rows], cls="kv")


def _p(text: str) -> str:
    return f"<p>{_esc(text)}</p>"


# ---------------------------------------------------------------- sections


def _summary(r: ScenarioResults, row: dict) -> Section:
    ctx = r.ctx
    rows = [("scenario", r.name), ("source", r.source)]
    if r.description:
        rows.append(("description", r.description))
    rows.append(
        (
            "tokens to train",
            f"{ctx.training.tokens:,.4g} at sequence length {ctx.training.seq_len:,}",
        )
    )
    rows += [(label, cells[0]) for label, cells in compare_display([row])]
    if r.campaign is None and r.campaign_note:
        rows.append(("goodput note", r.campaign_note))
    return Section(id="summary", title="Summary", blocks=[_kv(rows)])


def _time(est: dict) -> Section:
    total = est["step_time_s"]
    rows = [
        [k, _num(v, ",.4f"), _num(v / total if total else None, ".1%")]
        for k, v in est["time_breakdown_s"].items()
    ]
    return Section(
        id="time",
        title="Time breakdown",
        blocks=[
            _p(
                f"{_num(est['tokens_per_s'], ',.0f')} tokens/s, MFU {_num(est['mfu'], '.1%')}, HFU {_num(est['hfu'], '.1%')}; {_num(est['days_to_train'], ',.1f')} days to train at steady state (no failures)."
            ),
            _table(["part", "seconds per step", "share"], rows),
        ],
        figures=[figures.time_figure(est["time_breakdown_s"], total)],
    )


def _memory(est: dict) -> Section:
    rows = [[k, _num(v, ",.2f", 1e9)] for k, v in est["memory_breakdown_bytes"].items()]
    rows.append(["total", _num(est["memory_per_gpu_bytes"], ",.2f", 1e9)])
    fits = "fits" if est["fits_in_memory"] else "DOES NOT FIT"
    return Section(
        id="memory",
        title="Memory breakdown",
        blocks=[
            _p(
                f"{_num(est['memory_per_gpu_bytes'], ',.1f', 1e9)} GB of {_num(est['memory_capacity_bytes'], ',.0f', 1e9)} GB per GPU ({fits})."
            ),
            _table(["part", "GB per GPU"], rows),
        ],
        figures=[
            figures.memory_figure(est["memory_breakdown_bytes"], est["memory_capacity_bytes"])
        ],
    )


def _power(r: ScenarioResults, pw: dict) -> Section:
    fac = r.facility
    trace = fac.trace
    grid = fac.grid
    rows = [
        ("nameplate IT power", f"{_num(pw['nameplate_it_power_w'], ',.1f', W_PER_MW)} MW"),
        (
            "average facility power",
            f"{_num(pw['average_facility_power_w'], ',.1f', W_PER_MW)} MW (PUE {pw['pue']:g})",
        ),
        (
            "step swing / peak swing",
            f"{_num(pw['step_swing_w'], ',.1f', W_PER_MW)} / {_num(pw['peak_swing_w'], ',.1f', W_PER_MW)} MW",
        ),
        (
            f"energy over {_num(pw['trace']['duration_s'], '.3g', SECONDS_PER_HOUR)} h",
            f"{_num(pw['energy_j'], ',.4g', J_PER_MWH)} MWh",
        ),
    ]
    soc = None
    if grid is not None:
        g = pw["grid"]
        units = pw["battery_units"]
        rows += [
            (
                "battery",
                f"{units:,} x {pw['battery'] or 'none'}"
                + ("" if units else " (no battery needed or none configured)"),
            ),
            ("grid limits met", "yes" if g["ok"] else "NO"),
            (
                "max grid draw / ramp",
                f"{_num(g['max_grid_w'], ',.1f', W_PER_MW)} MW / {_num(g['max_ramp_w_per_s'], ',.2f', W_PER_MW)} MW/s",
            ),
        ]
        if grid.battery_energy_j > 0:
            soc = np.asarray(grid.soc_j) / grid.battery_energy_j
    figs = [figures.power_phases_figure(pw)]
    grid_w = None if grid is None else grid.grid_w
    duration_s = trace.power_w.size * trace.resolution_s
    figs.append(
        power_figures.power_steps_figure(
            trace.power_w, trace.resolution_s, step_time_s=r.estimate.step_time_s, grid_w=grid_w
        )
    )
    figs.append(
        power_figures.power_trace_figure(
            trace.power_w,
            trace.resolution_s,
            grid_w=grid_w,
            soc_frac=soc,
            grid_limit_w=r.grid_limit_w,
            outages_s=_outages(r),
            stalls=_stall_starts(r, duration_s),
        )
    )
    blocks = [_kv(rows)]
    if soc is None:
        blocks.append(
            _p(
                "No battery state of charge to show: the scenario has no battery, or no grid simulation (facility.grid_mw unset), or the sizing needed none."
            )
        )
    return Section(id="power", title="Power", blocks=blocks, figures=figs)


def _outages(r: ScenarioResults) -> np.ndarray | None:
    """The (n, 2) [start, back up) outages the power trace was simulated with, s."""
    o = r.trace_events.outages
    if o is None or not o.count:
        return None
    return np.column_stack([o.start_s, o.start_s + o.duration_s])


def _stall_starts(r: ScenarioResults, duration_s: float) -> tuple[np.ndarray, float] | None:
    """(start times, s; stall length, s) of the checkpoint stalls in the power trace."""
    from colossim.power.trace import checkpoint_stalls

    ev = r.trace_events
    if ev.checkpoint_interval_s is None or not ev.checkpoint_stall_s:
        return None
    out = checkpoint_stalls(
        interval_s=ev.checkpoint_interval_s, stall_s=ev.checkpoint_stall_s, horizon_s=duration_s
    )
    return (np.asarray(out.start_s), float(ev.checkpoint_stall_s)) if len(out.start_s) else None


def _cost(cst: dict) -> Section:
    rows = [
        [
            i["item"],
            _num(i["capex_usd"], ",.0f", 1e6),
            _num(i["lifetime_years"], "g"),
            _num(i["usd_per_year"], ",.1f", 1e6),
            _num(i["usd_per_gpu_hour"], ".3f"),
        ]
        for i in cst["breakdown"]
    ]
    totals = [
        ("capex", f"{_num(cst['capex_usd'], ',.2f', 1e9)} B USD"),
        ("opex", f"{_num(cst['opex_usd_per_year'], ',.0f', 1e6)} M USD per year"),
        ("USD per GPU-hour", _num(cst["usd_per_gpu_hour"], ",.2f")),
    ]
    if cst["usd_per_run"] is not None:
        totals.append(
            (
                "USD per training run",
                f"{_num(cst['usd_per_run'], ',.1f', 1e6)} M over {_num(cst['run_hours'], ',.0f')} h",
            )
        )
    return Section(
        id="cost",
        title="Cost breakdown",
        blocks=[
            _kv(totals),
            _table(
                ["item", "capex M USD", "life, years", "M USD per year", "USD per GPU-hour"], rows
            ),
        ],
        figures=[figures.cost_figure(cst)],
    )


def _search(r: ScenarioResults) -> Section:
    res = r.search
    js = search_to_json(res, list(r.top))
    steps = res.feasible
    n = len(steps)
    labels = [plan_label(steps.plans.plan(i).as_dict()) for i in range(n)]
    fig = figures.pareto_figure(
        mem_gb=np.asarray(steps.memory.total) / 1e9,
        tokens_per_s=np.asarray(steps.tokens_per_s),
        gpus_used=np.array([steps.plans.plan(i).num_gpus for i in range(n)]),
        labels=labels,
        capacity_gb=res.memory_capacity_bytes / 1e9,
    )
    rejected = (
        ", ".join(f"{k}: {v:,}" for k, v in sorted(js["rejected"].items(), key=lambda kv: -kv[1]))
        or "none"
    )
    top = [
        [
            i + 1,
            plan_label(t["plan"]),
            f"{t['num_gpus_used']:,}",
            _num(t["tokens_per_s"], ",.0f"),
            _num(t["tokens_per_s_per_gpu"], ",.1f"),
            _num(t["mfu"], ".1%"),
            _num(t["memory_per_gpu_bytes"], ",.1f", 1e9),
        ]
        for i, t in enumerate(js["top"])
    ]
    return Section(
        id="search",
        title="Plan search and Pareto front",
        blocks=[
            _p(
                f"{js['candidates']:,} candidate plans, {js['feasible']:,} feasible, {js['pareto_size']:,} on the Pareto front (tokens/s up, memory headroom up, GPUs used down); rejected by reason: {rejected}. The plots show the {n:,} plans the search kept, total tokens/s against GPUs used and against memory per GPU, with each view's Pareto front; the star is the chosen plan (highest total tokens/s)."
            ),
            _table(
                ["#", "plan", "GPUs used", "tokens/s", "tokens/s per GPU", "MFU", "GB per GPU"], top
            ),
        ],
        figures=[fig],
    )


def _campaign(r: ScenarioResults) -> Section:
    from colossim.report.campaign import campaign_to_json

    c = campaign_to_json(r.campaign)
    rows = [
        ("mode", f"{c['mode']}, {c['n_trials']:,} trials, seed {c['seed']}"),
        (
            "goodput (mean, p10 / p50 / p90)",
            f"{_num(c['goodput'], '.1%')} ({_num(c['goodput_p10'], '.1%')} / {_num(c['goodput_p50'], '.1%')} / {_num(c['goodput_p90'], '.1%')})",
        ),
        (
            "wall time: useful / down / rework / checkpoint",
            " / ".join(
                _num(c["wall_fraction"][k], ".1%")
                for k in ("useful", "downtime", "rework", "checkpoint")
            ),
        ),
        (
            "interruptions per trial (mean; closed form)",
            f"{_num(c['interruptions_mean'], ',.1f')}; {_num(c['expected_interruptions'], ',.1f')}",
        ),
        ("mean time between interruptions", f"{_num(c['mtbi_s'], ',.2f', SECONDS_PER_HOUR)} h"),
        (
            "checkpoint interval (used; Young)",
            f"{_num(c['checkpoint_interval_s'], ',.0f', 60)} min; {_num(c['checkpoint_interval_young_s'], ',.0f', 60)} min",
        ),
    ]
    if c["mode"] != "window":
        rows.append(
            (
                "days to train (p10 / p50 / p90)",
                " / ".join(_num(c[f"time_to_train_days_p{p}"], ",.1f") for p in (10, 50, 90)),
            )
        )
    figs = [figures.campaign_goodput_figure(np.asarray(r.campaign.per_trial_goodput), c["goodput"])]
    timeline = _timeline(r)
    if timeline is not None:
        figs.append(figures.campaign_timeline_figure(**timeline))
    return Section(
        id="campaign",
        title="Campaign: failures, checkpoints, goodput",
        blocks=[_kv(rows)],
        figures=figs,
    )


def _timeline(r: ScenarioResults) -> dict | None:
    """Keyword arguments of :func:`figures.campaign_timeline_figure`, if the campaign
    recorded the timeline of an example trial."""
    tl = getattr(r.campaign, "timeline", None)
    if tl is None or len(tl.start_s) == 0:
        return None
    window = str(getattr(r.campaign.mode, "value", r.campaign.mode)) == "window"
    return {
        "start_s": np.asarray(tl.start_s),
        "up_s": np.asarray(tl.up_s),
        "end_s": np.asarray(tl.end_s),
        "work_s": np.asarray(tl.work_s),
        "ends": [str(getattr(e, "value", e)) for e in tl.ends],
        "total_work_s": None if window else r.ctx.training.tokens / r.estimate.tokens_per_s,
    }


def _fabric(r: ScenarioResults, fab: dict) -> Section:
    rows = [
        (
            "kind / switch",
            f"{fab['kind']} on {fab['switch']} ({fab['radix']} x {fab['port_gbit_per_s']:g} Gb/s ports)",
        ),
        ("tiers", str(fab["tiers"])),
        ("planes (rails)", f"{fab['planes']:,}"),
        (
            "switches",
            f"{fab['switches']['total']:,} ("
            + ", ".join(f"{k} {v:,}" for k, v in fab["switches"]["per_tier"].items())
            + ")",
        ),
        ("bisection bandwidth", f"{_num(fab['bisection_bw_bytes_per_s'], ',.1f', 1e12)} TB/s"),
        ("max switch hops", str(fab["max_hops"])),
        ("power (excl. NICs)", f"{_num(fab['power_w'], ',.2f', W_PER_MW)} MW"),
        ("cost (excl. NICs)", f"{_num(fab['cost_usd'], ',.1f', 1e6)} M USD"),
    ]
    bom = [
        [
            b["item"],
            b["kind"],
            f"{b['count']:,}",
            _num(b["unit_power_w"], "g"),
            _num(b["unit_price_usd"], ",.0f"),
            _num(b["power_w"], ",.3f", W_PER_MW),
            _num(b["cost_usd"], ",.2f", 1e6),
        ]
        for b in fab["bom"]
    ]
    return Section(
        id="fabric",
        title="Fabric",
        blocks=[
            _kv(rows),
            _table(["item", "kind", "count", "unit W", "unit USD", "MW", "M USD"], bom),
        ],
        figures=[
            topology_figure(
                r.fabric, num_gpus=r.ctx.cluster.num_gpus, gpus_per_node=r.ctx.cluster.gpus_per_node
            )
        ],
    )


def _compare(rows: list[dict]) -> Section:
    disp = compare_display(rows)
    headers = ["", *(r["scenario"] for r in rows)]
    return Section(
        id="compare",
        title="Comparison",
        blocks=[_table(headers, [[label, *cells] for label, cells in disp], cls="compare")],
        figures=figures.compare_figures(rows),
    )


def report_sections(
    main: ScenarioResults, others: list[ScenarioResults] | tuple = ()
) -> list[Section]:
    """The sections of the report of ``main`` (plus a comparison with ``others``), in page
    order; sections whose inputs were not computed are left out."""
    row = compare_row(main)
    est = estimate_to_json(main.estimate, main.ctx, scenario=main.name)
    pw = power_to_json(main.facility)
    sections = [_summary(main, row), _time(est), _memory(est)]
    if main.plan is None:  # a searched plan: show the search
        sections.append(_search(main))
    sections += [_power(main, pw), _cost(cost_to_json(main.cost))]
    if main.campaign is not None:
        sections.append(_campaign(main))
    sections.append(_fabric(main, fabric_to_json(main.fabric)))
    if others:
        sections.append(_compare([row, *(compare_row(o) for o in others)]))
    return sections


# ---------------------------------------------------------------- page

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f2937;color:#fff;padding:14px 24px}header h1{margin:0;font-size:1.4em}
nav{padding:8px 24px;background:#e5e7eb}nav a{margin-right:14px;color:#1f2937}
main{padding:8px 24px;max-width:1200px}section{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:12px 18px;margin:14px 0}
table{border-collapse:collapse;margin:8px 0;font-size:.92em}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}table.kv td:last-child{text-align:left}
.plot{width:100%;min-height:300px}footer{padding:12px 24px;color:#666;font-size:.85em}
"""

# Draws every figure from its JSON block; no network access (plotly.js is inline).
_INIT = """
(function(){
  var blocks=document.querySelectorAll('script.figure-data');
  for(var i=0;i<blocks.length;i++){
    var spec=JSON.parse(blocks[i].textContent);
    var div=document.getElementById(blocks[i].getAttribute('data-target'));
    Plotly.newPlot(div,spec.data,spec.layout,{responsive:true,displaylogo:false});
  }
})();
"""


def _figure_json(fig) -> str:
    """Figure as JSON safe to inline in a <script> block (no '</', no NaN)."""
    spec = json.loads(fig.to_json())
    text = json.dumps(to_jsonable(spec), allow_nan=False, separators=(",", ":"))
    # '<' escaped so the data can never close the <script> element.
    return text.replace("<", "\\u003c")


def report_title(names: list[str] | tuple[str, ...]) -> str:
    """The page title: ``colossim report: A`` or ``colossim report: A vs B vs C`` (the
    scenarios in the order asked for)."""
    return "colossim report: " + " vs ".join(names)


def render_html(
    main: ScenarioResults,
    others: list[ScenarioResults] | tuple = (),
    *,
    plotly_js: str | None = None,
    extra: list[Section] | tuple = (),
    title: str | None = None,
) -> str:
    """The whole report page as one string (plotly.js inline once; works offline).

    Args:
        main: results of the scenario reported.
        others: further scenarios for the comparison section (may be empty).
        plotly_js: the plotly.js bundle (default: the one shipped with the plotly package).
        extra: sections appended at the end (e.g. ``report.sweep.sweep_sections``).
        title: page title (default: :func:`report_title` of every scenario, in order).
    """
    if plotly_js is None:
        from plotly.offline import get_plotlyjs

        plotly_js = get_plotlyjs()
    sections = [*report_sections(main, others), *extra]
    if title is None:
        title = report_title([main.name, *(o.name for o in others)])
    body: list[str] = []
    n_fig = 0
    for s in sections:
        body.append(f'<section id="{_esc(s.id)}"><h2>{_esc(s.title)}</h2>')
        body += s.blocks
        for fig in s.figures:
            div_id = f"fig-{n_fig}"
            body.append(f'<div class="plot" id="{div_id}"></div>')
            body.append(
                f'<script type="application/json" class="figure-data" data-target="{div_id}">{_figure_json(fig)}</script>'
            )
            n_fig += 1
        body.append("</section>")
    nav = "".join(f'<a href="#{_esc(s.id)}">{_esc(s.title)}</a>' for s in sections)
    ids = " ".join(s.id for s in sections)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta name="colossim-sections" content="{_esc(ids)}">',
            f'<meta name="colossim-figures" content="{n_fig}">',
            f"<title>{_esc(title)}</title>",
            f"<style>{_CSS}</style>",
            PLOTLY_MARKER,
            f"<script>{plotly_js}</script>",
            "</head><body>",
            f"<header><h1>{_esc(title)}</h1></header>",
            f"<nav>{nav}</nav>",
            "<main>",
            *body,
            "</main>",
            f"<footer>Generated by colossim {_esc(__version__)}. Self-contained: works offline.</footer>",
            f"<script>{_INIT}</script>",
            "</body></html>",
        ]
    )
