"""Power-trace figures of the HTML report: the whole window per minute (min, mean, max,
with the campaign's outages shaded) and a few steps at full resolution (the swing).

The step-level swing (seconds) is invisible on a day-long axis, where it only fills a
band between the same min and max; the per-minute mean and min are what move there
(checkpoint stalls and outages), and a zoom on a few steps shows the swing itself.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from colossim.report.figures import _finite, _layout
from colossim.units import SECONDS_PER_HOUR, SECONDS_PER_MINUTE, W_PER_MW

__all__ = ["bin_envelope", "power_steps_figure", "power_trace_figure", "zoom_window_s"]

_TRACE_POINTS = 2_000  # most points per line of the whole-window plot (the file stays small)
_BIN_S = 60.0  # the whole-window plot's bin: one minute (wider when that is too many)
_ZOOM_STEPS = 4  # training steps shown at full resolution


def bin_envelope(values: np.ndarray, chunk: int) -> tuple[np.ndarray, ...]:
    """Split ``values`` into consecutive chunks of ``chunk`` entries (the last may be
    shorter); per chunk: start index, mean, min and max."""
    v = _finite(values)
    starts = np.arange(0, v.size, max(1, chunk))
    counts = np.diff(np.append(starts, v.size))
    return (
        starts,
        np.add.reduceat(v, starts) / counts,
        np.minimum.reduceat(v, starts),
        np.maximum.reduceat(v, starts),
    )


def _chunk(n: int, resolution_s: float) -> int:
    """Samples per bin: one minute, or more when a minute would give too many points."""
    return max(1, round(_BIN_S / resolution_s), math.ceil(n / _TRACE_POINTS))


def power_trace_figure(
    power_w: np.ndarray,
    resolution_s: float,
    *,
    grid_w: np.ndarray | None = None,
    soc_frac: np.ndarray | None = None,
    grid_limit_w: float | None = None,
    outages_s: np.ndarray | None = None,
    stalls: tuple[np.ndarray, float] | None = None,
) -> go.Figure:
    """The whole window, per minute: facility min, mean and max, grid import (mean),
    battery state of charge (right axis, %) and the campaign's outages shaded.

    Args:
        power_w: facility power per bin, W.
        resolution_s: bin width, s.
        grid_w: grid import per bin, W (None: no grid simulation).
        soc_frac: battery state of charge per bin, fraction of capacity (None: no battery).
        grid_limit_w: grid import limit, W.
        outages_s: (n, 2) [start, back up) of outages inside the window, s.
        stalls: (start times, s; length, s) of checkpoint stalls, marked on the min line.
    """
    chunk = _chunk(power_w.size, resolution_s)
    starts, mean, lo, hi = bin_envelope(power_w, chunk)
    duration_s = power_w.size * resolution_s
    unit, scale = (
        ("hours", SECONDS_PER_HOUR) if duration_s >= 7200 else ("minutes", SECONDS_PER_MINUTE)
    )
    t = starts * resolution_s / scale
    per = f"per {chunk * resolution_s:g} s"
    fig = go.Figure()
    for y, name, style in (
        (hi, f"facility max {per}", {"color": "#aec7e8", "width": 1}),
        (lo, f"facility min {per} (stalls, restarts)", {"color": "#9467bd", "width": 1}),
        (mean, f"facility mean {per}", {"color": "#1f77b4", "width": 2}),
    ):
        fig.add_trace(go.Scatter(x=t, y=y / W_PER_MW, mode="lines", name=name, line=style))
    if grid_w is not None:
        g_mean = bin_envelope(grid_w, chunk)[1]
        fig.add_trace(
            go.Scatter(x=t, y=g_mean / W_PER_MW, mode="lines", name="grid import (mean)",
                       line={"color": "#2ca02c"})
        )  # fmt: skip
    if grid_limit_w is not None:
        fig.add_hline(y=grid_limit_w / W_PER_MW, line_dash="dash", line_color="firebrick",
                      annotation_text="grid limit")  # fmt: skip
    for i, (a, b) in enumerate(np.asarray(outages_s if outages_s is not None else [])):
        label = {"annotation_text": "outages", "annotation_position": "top left"} if i == 0 else {}
        fig.add_vrect(x0=a / scale, x1=b / scale, fillcolor="firebrick", opacity=0.15,
                      line_width=0, **label)  # fmt: skip
    if stalls is not None:
        # A rug of ticks below the curves: one per stall (too short to see on this axis).
        at, stall_s = stalls
        at = np.asarray(at, dtype=np.float64)
        every = f", every {np.median(np.diff(at)) / 60:.3g} min" if at.size > 1 else ""
        fig.add_trace(
            go.Scatter(
                x=at / scale, y=np.full(at.size, float(lo.min()) * 0.9 / W_PER_MW), mode="markers",
                name=f"checkpoint stalls ({stall_s:.3g} s{every})",
                marker={"symbol": "line-ns-open", "size": 10, "color": "#8c564b"},
                hovertemplate=f"checkpoint stall, {stall_s:.3g} s<extra></extra>",
            )
        )  # fmt: skip
    fig.update_xaxes(range=[0, duration_s / scale])
    fig.update_layout(xaxis={"title": {"text": unit}}, yaxis={"title": {"text": "MW"}})
    if soc_frac is not None:
        s_mean = bin_envelope(soc_frac, chunk)[1]
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
    return _layout(fig, f"Power over the simulated window ({per})", height=440)


def zoom_window_s(step_time_s: float, resolution_s: float, duration_s: float) -> float:
    """Seconds shown at full resolution: a few steps, at least 20 samples, at most the
    whole trace."""
    want = _ZOOM_STEPS * step_time_s if step_time_s > 0 else 60.0
    return min(duration_s, max(want, 20 * resolution_s))


def power_steps_figure(
    power_w: np.ndarray,
    resolution_s: float,
    *,
    step_time_s: float,
    grid_w: np.ndarray | None = None,
) -> go.Figure:
    """A few training steps at full resolution, from the window of the trace where power
    swings most: the step-level swing between compute and communication."""
    total = power_w.size
    n = max(1, min(total, round(zoom_window_s(step_time_s, resolution_s, total * resolution_s)
                                / resolution_s)))  # fmt: skip
    # The window with the widest swing (not an outage or a start-up ramp), first if tied.
    starts, _, lo, hi = bin_envelope(power_w, n)
    i0 = int(starts[int(np.argmax(hi - lo))]) if total > n else 0
    i0 = min(i0, total - n)
    t_s = (i0 + np.arange(n)) * resolution_s
    fig = go.Figure(
        go.Scatter(x=t_s, y=_finite(power_w[i0 : i0 + n]) / W_PER_MW, mode="lines",
                   name="facility", line={"shape": "hv", "color": "#1f77b4"})
    )  # fmt: skip
    if grid_w is not None:
        fig.add_trace(
            go.Scatter(x=t_s, y=_finite(grid_w[i0 : i0 + n]) / W_PER_MW, mode="lines",
                       name="grid import", line={"shape": "hv", "color": "#2ca02c"})
        )  # fmt: skip
    fig.update_xaxes(title_text="seconds into the trace", tickformat=",.1f")
    fig.update_yaxes(title_text="MW")
    steps = n * resolution_s / step_time_s if step_time_s > 0 else 0.0
    return _layout(
        fig,
        f"Step-level swing: {n * resolution_s:.3g} s (about {steps:.3g} steps of "
        f"{step_time_s:.3g} s) at {resolution_s:g} s resolution",
    )
