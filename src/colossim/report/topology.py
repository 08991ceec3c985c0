"""A drawing of the scale-out fabric for the HTML report: one box per switch tier with its
switch count, the GPUs (hosts) at the bottom, and the links between tiers annotated with
their count and the oversubscription of the tier below.

Pure: a :class:`~colossim.fabric.topology.Fabric` in, a plotly figure out (boxes are
layout shapes named ``tier:<name>``, so a test can read them back).
"""

from __future__ import annotations

import math

import plotly.graph_objects as go

from colossim.fabric.topology import Fabric
from colossim.report.fabric import fabric_to_json

__all__ = ["tier_oversubscription", "topology_figure"]

_BOX_H = 0.5  # box height, in tier rows
_COLORS = ("#1f77b4", "#9467bd", "#8c564b", "#7f7f7f")


def tier_oversubscription(fabric: Fabric) -> list[float | None]:
    """Down/up port ratio of each tier's switches (None at the top tier, which has no up
    ports): 1.0 is non-blocking, 2.0 means twice as much bandwidth below as above."""
    return [
        None if up <= 0 else down / up
        for down, up in zip(fabric.down_ports_per_tier, fabric.up_ports_per_tier, strict=True)
    ]


def _width(count: int, largest: int) -> float:
    """Box width (the x axis spans [0, 1]) growing with the log of the count."""
    if largest <= 1:
        return 0.5
    return 0.25 + 0.6 * math.log1p(count) / math.log1p(largest)


def topology_figure(fabric: Fabric, *, num_gpus: int, gpus_per_node: int) -> go.Figure:
    """Boxes per tier (bottom: GPUs and their NICs; then leaf, spine, core...), each with
    its switch count; links between rows labelled with their count and oversubscription.

    Args:
        fabric: the sized fabric.
        num_gpus: GPUs in the cluster.
        gpus_per_node: GPUs per node (server).
    """
    fab = fabric_to_json(fabric)
    tiers = list(fab["switches"]["per_tier"].items())
    links = list(fab["links_per_tier"].values())
    over = tier_oversubscription(fabric)
    nodes = max(1, num_gpus // max(1, gpus_per_node))
    rows = [("GPUs", num_gpus, f"{num_gpus:,} GPUs in {nodes:,} nodes, {fab['nics']:,} NICs")]
    for i, (name, count) in enumerate(tiers):
        down, up = fabric.down_ports_per_tier[i], fabric.up_ports_per_tier[i]
        ports = f"{down} down / {up} up ports" if up else f"{down} ports down"
        rows.append((name, count, f"{name}: {count:,} switches ({ports})"))
    largest = max(c for _, c, _ in rows)
    fig = go.Figure()
    for y, (name, count, text) in enumerate(rows):
        w = _width(count, largest)
        color = "#2ca02c" if y == 0 else _COLORS[(y - 1) % len(_COLORS)]
        fig.add_shape(
            type="rect", x0=0.5 - w / 2, x1=0.5 + w / 2, y0=y - _BOX_H / 2, y1=y + _BOX_H / 2,
            name=f"tier:{name}", line={"color": color, "width": 2}, fillcolor=color, opacity=0.25,
        )  # fmt: skip
        fig.add_annotation(x=0.5, y=y, text=text, showarrow=False, font={"size": 13})
    for i, n_links in enumerate(links):
        lo, hi = i + _BOX_H / 2, i + 1 - _BOX_H / 2
        for x in (0.38, 0.5, 0.62):
            fig.add_shape(type="line", x0=x, x1=x, y0=lo, y1=hi, line={"color": "#555", "width": 1})
        # Links entering tier i come from tier i-1, whose down/up ratio they set.
        o = over[i - 1] if i > 0 else None
        ratio = "" if o is None else f"; {tiers[i - 1][0]} oversubscription {o:.3g}:1"
        what = "host links" if i == 0 else "links"
        fig.add_annotation(
            x=0.64, y=(lo + hi) / 2, xanchor="left", showarrow=False, font={"size": 11},
            text=f"{n_links:,} {what} at {fab['port_gbit_per_s']:g} Gb/s{ratio}",
        )  # fmt: skip
    planes = f", {fab['planes']:,} planes (rails)" if fab["planes"] > 1 else ""
    # A point per row carries the hover text (shapes have none).
    fig.add_trace(
        go.Scatter(
            x=[0.5] * len(rows), y=list(range(len(rows))), mode="markers",
            marker={"size": 1, "color": "rgba(0,0,0,0)"}, text=[t for _, _, t in rows],
            hovertemplate="%{text}<extra></extra>", showlegend=False,
        )
    )  # fmt: skip
    fig.update_xaxes(visible=False, range=[0, 1])
    fig.update_yaxes(visible=False, range=[-0.6, len(rows) - 0.4])
    fig.update_layout(
        title={"text": f"Topology: {fab['kind']}, {fab['tiers']} tier(s){planes}"},
        template="plotly_white",
        margin={"l": 20, "r": 20, "t": 60, "b": 20},
        height=140 + 110 * len(rows),
    )
    return fig
