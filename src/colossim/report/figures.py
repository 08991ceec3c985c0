"""Plotly figures of the HTML report, built from the ``*_to_json`` dicts and raw arrays.

Each builder is pure: result in, :class:`plotly.graph_objects.Figure` out. The numbers
come from the existing JSON summaries (``report.perf``, ``report.power``, ...), so the
report and ``--format json`` never disagree. Labels never start and end with ``$``
(plotly.js would hand them to MathJax, which is not embedded).
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from colossim.units import GB, SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_MINUTE, W_PER_MW

__all__ = [
    "campaign_goodput_figure",
    "campaign_timeline_figure",
    "compare_figure",
    "cost_figure",
    "downsample_envelope",
    "memory_figure",
    "pareto_figure",
    "power_phases_figure",
    "power_trace_figure",
    "power_zoom_figure",
    "time_figure",
]

_TRACE_POINTS = 2_000  # points per line of the whole-trace plot (the file stays small)
_ZOOM_S = 60.0  # seconds of the full-resolution trace plot


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


def downsample_envelope(values: np.ndarray, points: int) -> tuple[np.ndarray, ...]:
    """Split ``values`` into at most ``points`` consecutive chunks; per chunk: start index,
    mean, min and max. Keeps every spike visible (min/max) in a few thousand points."""
    v = _finite(values)
    n = v.size
    chunk = max(1, math.ceil(n / points))
    starts = np.arange(0, n, chunk)
    counts = np.diff(np.append(starts, n))
    return (
        starts,
        np.add.reduceat(v, starts) / counts,
        np.minimum.reduceat(v, starts),
        np.maximum.reduceat(v, starts),
    )


def power_trace_figure(
    power_w: np.ndarray,
    resolution_s: float,
    *,
    grid_w: np.ndarray | None = None,
    soc_frac: np.ndarray | None = None,
    grid_limit_w: float | None = None,
) -> go.Figure:
    """Whole facility power trace (min-max band and mean), grid import and battery state of
    charge (right axis, % of capacity), downsampled to a few thousand points.

    Args:
        power_w: facility power per bin, W.
        resolution_s: bin width, s.
        grid_w: grid import per bin, W (None: no grid simulation).
        soc_frac: battery state of charge per bin, fraction of capacity (None: no battery).
        grid_limit_w: grid import limit, W.
    """
    starts, mean, lo, hi = downsample_envelope(power_w, _TRACE_POINTS)
    duration_s = power_w.size * resolution_s
    unit, scale = (
        ("hours", SECONDS_PER_HOUR) if duration_s >= 7200 else ("minutes", SECONDS_PER_MINUTE)
    )
    t = starts * resolution_s / scale
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=t,
            y=hi / W_PER_MW,
            mode="lines",
            line={"width": 0},
            showlegend=False,
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=t, y=lo / W_PER_MW, mode="lines", line={"width": 0}, fill="tonexty",
            fillcolor="rgba(31,119,180,0.25)", name="facility min-max",
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=t, y=mean / W_PER_MW, mode="lines", name="facility mean", line={"color": "#1f77b4"}
        )
    )
    if grid_w is not None:
        _, g_mean, _, _ = downsample_envelope(grid_w, _TRACE_POINTS)
        fig.add_trace(
            go.Scatter(
                x=t,
                y=g_mean / W_PER_MW,
                mode="lines",
                name="grid import",
                line={"color": "#2ca02c"},
            )
        )
    if grid_limit_w is not None:
        fig.add_hline(
            y=grid_limit_w / W_PER_MW,
            line_dash="dash",
            line_color="firebrick",
            annotation_text="grid limit",
        )
    fig.update_layout(xaxis={"title": {"text": unit}}, yaxis={"title": {"text": "MW"}})
    if soc_frac is not None:
        _, s_mean, _, _ = downsample_envelope(soc_frac, _TRACE_POINTS)
        fig.add_trace(
            go.Scatter(
                x=t, y=s_mean * 100, mode="lines", name="battery state of charge",
                line={"color": "#ff7f0e"}, yaxis="y2",
            )
        )  # fmt: skip
        fig.update_layout(
            yaxis2={"title": {"text": "state of charge, %"}, "overlaying": "y", "side": "right",
                    "range": [0, 100], "dtick": 20, "showgrid": False}
        )  # fmt: skip
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    return _layout(fig, "Power trace over the simulated window", height=420)


def power_zoom_figure(
    power_w: np.ndarray, resolution_s: float, *, grid_w: np.ndarray | None = None
) -> go.Figure:
    """The first minute of the trace at full resolution: the step-level power swings."""
    n = max(1, min(power_w.size, int(round(_ZOOM_S / resolution_s))))
    t_s = np.arange(n) * resolution_s
    fig = go.Figure(
        go.Scatter(
            x=t_s,
            y=_finite(power_w[:n]) / W_PER_MW,
            mode="lines",
            name="facility",
            line={"shape": "hv"},
        )
    )
    if grid_w is not None:
        fig.add_trace(
            go.Scatter(
                x=t_s,
                y=_finite(grid_w[:n]) / W_PER_MW,
                mode="lines",
                name="grid import",
                line={"shape": "hv"},
            )
        )
    fig.update_xaxes(title_text="seconds")
    fig.update_yaxes(title_text="MW")
    return _layout(fig, f"First {n * resolution_s:.0f} s at {resolution_s:g} s resolution")


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


def pareto_figure(
    *,
    mem_gb: np.ndarray,
    tokens_per_s_per_gpu: np.ndarray,
    gpus_used: np.ndarray,
    labels: list[str],
    pareto: np.ndarray,
    capacity_gb: float,
) -> go.Figure:
    """Kept feasible plans: throughput per GPU against memory per GPU; the Pareto front
    (tokens/s up, memory headroom up, GPUs used down) highlighted; index 0 is the best."""
    mem = _finite(mem_gb)
    tps = _finite(tokens_per_s_per_gpu)
    used = np.asarray(gpus_used, dtype=np.int64)
    on_front = np.zeros(mem.size, dtype=bool)
    on_front[np.asarray(pareto, dtype=np.int64)] = True
    hover = "%{text}<br>%{x:.1f} GB, %{y:,.1f} tok/s/GPU<br>%{customdata:,} GPUs<extra></extra>"
    fig = go.Figure()
    rest = ~on_front
    fig.add_trace(
        go.Scatter(
            x=mem[rest], y=tps[rest], mode="markers", name="other kept plans",
            marker={"color": "#bbbbbb", "size": 6}, text=[labels[i] for i in np.flatnonzero(rest)],
            customdata=used[rest], hovertemplate=hover,
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=mem[on_front], y=tps[on_front], mode="markers", name="Pareto front",
            marker={"color": used[on_front], "colorscale": "Viridis", "size": 9, "showscale": True,
                    "colorbar": {"title": {"text": "GPUs used"}}},
            text=[labels[i] for i in np.flatnonzero(on_front)], customdata=used[on_front], hovertemplate=hover,
        )
    )  # fmt: skip
    if mem.size:
        fig.add_trace(
            go.Scatter(
                x=mem[:1], y=tps[:1], mode="markers", name="best plan",
                marker={"symbol": "star", "size": 16, "color": "firebrick"}, text=labels[:1],
                customdata=used[:1], hovertemplate=hover,
            )
        )  # fmt: skip
    fig.add_vline(x=capacity_gb, line_dash="dash", line_color="firebrick", annotation_text="HBM")
    fig.update_xaxes(title_text="memory per GPU, GB")
    fig.update_yaxes(title_text="tokens/s per GPU")
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    return _layout(fig, "Search: kept plans and Pareto front", height=460)


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
        ends: what ends each gap (``node_failure``, ``other_failure``, ``planned``, ``end``).
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


def compare_figure(rows: list[dict]) -> go.Figure:
    """Side by side: tokens/s per GPU and MFU of each scenario (``compare_to_json`` rows)."""
    names = [r["scenario"] for r in rows]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=names, y=_finite([r["tokens_per_s_per_gpu"] for r in rows]), name="tokens/s per GPU"
        )
    )
    fig.add_trace(
        go.Scatter(
            x=names,
            y=_finite([r["mfu"] for r in rows]) * 100,
            name="MFU, %",
            mode="markers",
            marker={"size": 12},
            yaxis="y2",
        )
    )
    fig.update_layout(
        yaxis={"title": {"text": "tokens/s per GPU"}},
        yaxis2={
            "title": {"text": "MFU, %"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
    )
    return _layout(fig, "Scenarios side by side")
