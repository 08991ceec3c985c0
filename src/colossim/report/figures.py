"""Plotly figures of the HTML report, built from the ``*_to_json`` dicts and raw arrays.

Each builder is pure: result in, :class:`plotly.graph_objects.Figure` out. The numbers
come from the existing JSON summaries (``report.perf``, ``report.power``, ...), so the
report and ``--format json`` never disagree. Labels never start and end with ``$``
(plotly.js would hand them to MathJax, which is not embedded).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from colossim.units import GB, SECONDS_PER_DAY, W_PER_MW

__all__ = [
    "campaign_goodput_figure",
    "campaign_timeline_figure",
    "compare_figures",
    "cost_figure",
    "front_2d",
    "memory_figure",
    "pareto_figure",
    "power_phases_figure",
    "time_figure",
]


def _layout(fig: go.Figure, title: str, **kw) -> go.Figure:
    fig.update_layout(
        title={"text": title},
        template="plotly_white",
        margin={"l": 60, "r": 30, "t": 60, "b": 50},
        height=kw.pop("height", 380),
        **kw,
    )
    return fig


def _finite(values) -> np.ndarray:
    """Float array with non-finite entries replaced by 0 (the core never produces them;
    this is a last guard so that no NaN reaches the page)."""
    a = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(a), a, 0.0)


def time_figure(time_breakdown_s: dict[str, float], step_time_s: float) -> go.Figure:
    """Horizontal bars: where one training step's time goes, s (``estimate_to_json``)."""
    names = list(time_breakdown_s)
    vals = _finite([time_breakdown_s[k] for k in names])
    share = vals / step_time_s if step_time_s > 0 else np.zeros_like(vals)
    fig = go.Figure(
        go.Bar(
            x=vals,
            y=names,
            orientation="h",
            text=[f"{s:.1%}" for s in share],
            textposition="auto",
            hovertemplate="%{y}: %{x:.4f} s<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="seconds per step")
    return _layout(fig, f"Step time breakdown ({step_time_s:.3f} s per step)")


def memory_figure(memory_breakdown_bytes: dict[str, float], capacity_bytes: float) -> go.Figure:
    """One stacked bar of per-GPU memory by part against the HBM capacity, GB."""
    fig = go.Figure()
    for k, v in memory_breakdown_bytes.items():
        fig.add_trace(
            go.Bar(
                x=[float(_finite([v])[0]) / GB],
                y=["per GPU"],
                name=k,
                orientation="h",
                hovertemplate=f"{k}: %{{x:.2f}} GB<extra></extra>",
            )
        )
    fig.add_vline(
        x=capacity_bytes / GB,
        line_dash="dash",
        line_color="firebrick",
        annotation_text=f"HBM {capacity_bytes / GB:.0f} GB",
    )
    fig.update_layout(barmode="stack", legend={"orientation": "h", "y": -0.35})
    fig.update_xaxes(title_text="GB")
    return _layout(fig, "Memory per GPU", height=300)


def power_phases_figure(power: dict) -> go.Figure:
    """Facility power per step phase and the compute-phase breakdown, MW (``power_to_json``)."""
    phases = power["phases_facility_w"]
    parts = power["breakdown_compute_w"]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=list(phases),
            y=_finite(list(phases.values())) / W_PER_MW,
            name="facility power per phase",
            hovertemplate="%{x}: %{y:.1f} MW<extra></extra>",
        )
    )
    for k, v in parts.items():
        fig.add_trace(
            go.Bar(
                x=["compute (by part)"],
                y=[float(_finite([v])[0]) / W_PER_MW],
                name=k,
                hovertemplate=f"{k}: %{{y:.1f}} MW<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="MW")
    return _layout(fig, f"Facility power by phase (PUE {power['pue']:g})")


def cost_figure(cost: dict) -> go.Figure:
    """Dollars per GPU-hour by cost item (``cost_to_json``)."""
    items = cost["breakdown"]
    fig = go.Figure(
        go.Bar(
            x=[i["item"] for i in items],
            y=_finite([i["usd_per_gpu_hour"] for i in items]),
            hovertemplate="%{x}: %{y:.3f} USD per GPU-hour<extra></extra>",
        )
    )
    fig.update_yaxes(title_text="USD per GPU-hour")
    return _layout(fig, f"Cost per GPU-hour by item (total {cost['usd_per_gpu_hour']:.2f} USD)")


def front_2d(y_up: np.ndarray, x_down: np.ndarray, *, chosen: int = 0) -> np.ndarray:
    """Indices (ascending) of the 2-D Pareto front: no other plan has at least ``y_up``
    and at most ``x_down`` with one of them strictly better. Among exact ties on
    ``y_up`` the ``chosen`` plan counts as the better one, so it is on the front whenever
    it has the highest ``y_up`` (the search's best plan always has)."""
    y = _finite(y_up)
    x = _finite(x_down)
    if y.size == 0:
        return np.empty(0, dtype=np.int64)
    pick = np.zeros(y.size)
    pick[chosen] = -1.0  # sorts the chosen plan first among equal (y, x)
    # Best y first; among equal y, smallest x first (then the chosen plan): a plan is on
    # the front iff its x is below every x seen before it.
    order = np.lexsort((pick, x, -y))
    best_x = np.minimum.accumulate(x[order])
    prev = np.concatenate([[np.inf], best_x[:-1]])
    keep = x[order] < prev
    # Plans tied with the one just kept on both axes are on the front too.
    same = np.concatenate(
        [[False], (y[order][1:] == y[order][:-1]) & (x[order][1:] == x[order][:-1])]
    )
    keep |= same & np.concatenate([[False], keep[:-1]])
    return np.sort(order[keep])


def pareto_figure(
    *,
    mem_gb: np.ndarray,
    tokens_per_s: np.ndarray,
    gpus_used: np.ndarray,
    labels: list[str],
    capacity_gb: float,
    chosen: int = 0,
) -> go.Figure:
    """Kept feasible plans, total tokens/s against GPUs used (left) and against memory per
    GPU (right); each panel's Pareto front (tokens/s up, the x axis down) drawn as a step
    line; the chosen plan (index ``chosen``, the search's best) starred on both fronts.

    Total tokens/s, not tokens/s per GPU: a plan that leaves GPUs idle looks better per
    GPU but trains slower."""
    from plotly.subplots import make_subplots

    mem = _finite(mem_gb)
    tps = _finite(tokens_per_s)
    used = np.asarray(gpus_used, dtype=np.float64)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=("against GPUs used", "against memory per GPU"))  # fmt: skip
    hover = "%{text}<br>%{customdata[0]:,} GPUs, %{customdata[1]:.1f} GB<br>%{y:,.0f} tokens/s<extra></extra>"
    custom = np.column_stack([used, mem]) if mem.size else np.empty((0, 2))
    for col, x in ((1, used), (2, mem)):
        front = front_2d(tps, x, chosen=chosen)
        rest = np.setdiff1d(np.arange(x.size), front)
        first = col == 1
        fig.add_trace(
            go.Scatter(
                x=x[rest], y=tps[rest], mode="markers", name="other kept plans",
                marker={"color": "#c7c7c7", "size": 6}, text=[labels[i] for i in rest],
                customdata=custom[rest], hovertemplate=hover, legendgroup="rest", showlegend=first,
            ), row=1, col=col,
        )  # fmt: skip
        o = front[np.argsort(x[front], kind="stable")]
        fig.add_trace(
            go.Scatter(
                x=x[o], y=tps[o], mode="lines+markers", name="Pareto front",
                line={"color": "#1f77b4", "shape": "hv"}, marker={"color": "#1f77b4", "size": 8},
                text=[labels[i] for i in o], customdata=custom[o], hovertemplate=hover,
                legendgroup="front", showlegend=first,
            ), row=1, col=col,
        )  # fmt: skip
        if x.size:
            c = [chosen]
            fig.add_trace(
                go.Scatter(
                    x=x[c], y=tps[c], mode="markers", name="chosen plan",
                    marker={"symbol": "star", "size": 18, "color": "#d62728",
                            "line": {"color": "#222", "width": 1}},
                    text=[labels[chosen]], customdata=custom[c], hovertemplate=hover,
                    legendgroup="chosen", showlegend=first,
                ), row=1, col=col,
            )  # fmt: skip
    fig.add_vline(x=capacity_gb, line_dash="dash", line_color="firebrick",
                  annotation_text="HBM", row=1, col=2)  # fmt: skip
    fig.update_xaxes(title_text="GPUs used", row=1, col=1)
    fig.update_xaxes(title_text="memory per GPU, GB", row=1, col=2)
    fig.update_yaxes(title_text="tokens/s (whole job)", row=1, col=1)
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    return _layout(fig, "Search: kept plans and Pareto fronts", height=480)


def campaign_goodput_figure(per_trial_goodput: np.ndarray, goodput_mean: float) -> go.Figure:
    """Histogram of goodput across Monte Carlo trials, with the mean."""
    g = _finite(per_trial_goodput)
    fig = go.Figure(
        go.Histogram(
            x=g * 100, nbinsx=40, name="trials", hovertemplate="%{x}%: %{y} trials<extra></extra>"
        )
    )
    fig.add_vline(
        x=goodput_mean * 100,
        line_dash="dash",
        line_color="firebrick",
        annotation_text=f"mean {goodput_mean:.1%}",
    )
    fig.update_xaxes(title_text="goodput, %")
    fig.update_yaxes(title_text="trials")
    return _layout(fig, f"Goodput distribution ({g.size:,} trials)")


def campaign_timeline_figure(
    *,
    start_s: np.ndarray,
    up_s: np.ndarray,
    end_s: np.ndarray,
    work_s: np.ndarray,
    ends: list[str],
    total_work_s: float | None = None,
) -> go.Figure:
    """Timeline of one example trial: useful work kept against wall-clock time, with each
    interruption marked by what caused it (``CampaignTimeline`` arrays).

    Args:
        start_s: wall time each gap between interruptions starts, s.
        up_s: wall time training resumes in each gap, s.
        end_s: wall time each gap ends, s.
        work_s: cumulative useful work at the end of each gap, s at full throughput.
        ends: what ends each gap (``node_failure``, ``other_failure``, ``domain_failure``,
            ``planned``, ``end``).
        total_work_s: work to train, s at full throughput (None: window mode).
    """
    st, up, en, wk = (_finite(a) for a in (start_s, up_s, end_s, work_s))
    prev = np.concatenate([[0.0], wk[:-1]])
    # Per gap: flat while down [start, up), then rising to the kept work at the end.
    # MODEL (display only): work drawn as rising linearly over the running part of a gap.
    x = np.column_stack([st, up, en]).ravel() / SECONDS_PER_DAY
    y = np.column_stack([prev, prev, wk]).ravel() / SECONDS_PER_DAY
    fig = go.Figure(
        go.Scatter(x=x, y=y, mode="lines", name="useful work kept", line={"color": "#1f77b4"})
    )
    kinds = np.array([str(k) for k in ends])
    n_int = int((kinds != "end").sum())
    for k, color in (
        ("node_failure", "firebrick"),
        ("other_failure", "#ff7f0e"),
        ("domain_failure", "#9467bd"),
        ("planned", "#2ca02c"),
    ):
        sel = kinds == k
        if sel.any():
            fig.add_trace(
                go.Scatter(
                    x=en[sel] / SECONDS_PER_DAY, y=wk[sel] / SECONDS_PER_DAY, mode="markers", name=k.replace("_", " "),
                    marker={"color": color, "size": 5},
                )
            )  # fmt: skip
    if total_work_s is not None and total_work_s > 0:
        fig.add_hline(
            y=total_work_s / SECONDS_PER_DAY,
            line_dash="dash",
            line_color="#555",
            annotation_text="work to train",
        )
    fig.update_xaxes(title_text="wall-clock days")
    fig.update_yaxes(title_text="useful work, days at full throughput")
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    return _layout(
        fig,
        f"Timeline of one example trial ({n_int:,} interruption{'s' if n_int != 1 else ''})",
        height=400,
    )


def _bars(names: list[str], values: list, *, name: str, color: str, fmt: str) -> go.Bar:
    """One bar per scenario; a missing value (None) is drawn as no bar and says so."""
    y = [None if v is None else float(_finite([v])[0]) for v in values]
    return go.Bar(
        x=names,
        y=y,
        name=name,
        marker={"color": color},
        text=["not simulated" if v is None else format(v, fmt) for v in y],
        textposition="outside",
        cliponaxis=False,
        hovertemplate=f"%{{x}}: %{{text}} ({name})<extra></extra>",
    )


def compare_figures(rows: list[dict]) -> list[go.Figure]:
    """Scenarios side by side (``compare_row`` dicts): days to train without and with
    failures, capex, average facility power and goodput: four charts whose quantities
    compare across models and cluster sizes (unlike tokens/s per GPU or MFU)."""
    names = [r["scenario"] for r in rows]
    days = go.Figure(
        [
            _bars(names, [r["days_to_train"] for r in rows], name="no failures",
                  color="#1f77b4", fmt=",.1f"),
            _bars(names, [r["days_to_train_with_failures"] for r in rows], name="with failures",
                  color="#d62728", fmt=",.1f"),
        ]
    )  # fmt: skip
    days.update_layout(barmode="group", legend={"orientation": "h", "y": -0.2})
    days.update_yaxes(title_text="days", rangemode="tozero")
    capex = go.Figure(
        _bars(names, [r["capex_usd"] / 1e6 for r in rows], name="capex", color="#9467bd",
              fmt=",.1f")
    )  # fmt: skip
    capex.update_yaxes(title_text="M USD", rangemode="tozero")
    power = go.Figure(
        _bars(names, [r["facility_power_w"] / W_PER_MW for r in rows], name="facility power",
              color="#ff7f0e", fmt=",.2f")
    )  # fmt: skip
    power.update_yaxes(title_text="MW", rangemode="tozero")
    gp = [None if r["goodput"] is None else r["goodput"] * 100 for r in rows]
    goodput = go.Figure(_bars(names, gp, name="goodput", color="#2ca02c", fmt=".1f"))
    goodput.update_yaxes(title_text="goodput, %", range=[0, 105], dtick=20)
    return [
        _layout(days, "Days to train, without and with failures", height=340),
        _layout(capex, "Capex (incl. fabric and batteries)", height=300),
        _layout(power, "Average facility power (PUE included)", height=300),
        _layout(goodput, "Goodput (campaign mean)", height=300),
    ]
