"""Fabric output for the CLI: JSON-safe dict and rich tables (``colossim fabric``)."""

from __future__ import annotations

import math

from rich.table import Table

from colossim.fabric.collectives import BusBandwidthTable
from colossim.fabric.topology import Fabric

__all__ = ["fabric_tables", "fabric_to_json"]

_TIER_NAMES = ("leaf", "spine", "core", "tier-4")


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0


def _tier_name(i: int) -> str:
    return _TIER_NAMES[i] if i < len(_TIER_NAMES) else f"tier-{i + 1}"


def bus_table_to_json(bus: BusBandwidthTable) -> dict:
    """JSON-safe form of a :class:`BusBandwidthTable`."""
    return {
        "size_bytes": _finite(bus.size_bytes),
        "levels": [
            {"name": name, "group_size": int(g)}
            for name, g in zip(bus.level_names, bus.group_sizes, strict=True)
        ],
        "busbw_bytes_per_s": {
            op.value: [_finite(x) for x in row]
            for op, row in zip(bus.collectives, bus.busbw_bytes_per_s, strict=True)
        },
        "time_s": {
            op.value: [_finite(x) for x in row]
            for op, row in zip(bus.collectives, bus.time_s, strict=True)
        },
    }


def fabric_to_json(fabric: Fabric, bus_table: BusBandwidthTable | None = None) -> dict:
    """JSON-safe summary of a fabric and, if given, its bus bandwidth table.

    Args:
        fabric: the sized fabric.
        bus_table: from :func:`colossim.fabric.collectives.bus_bandwidth_table`.
    """
    c = fabric.config
    out = {
        "kind": str(c.kind),
        "switch": c.switch,
        "port_gbit_per_s": _finite(fabric.port_gbit_per_s),
        "radix": fabric.radix,
        "tiers": fabric.tiers,
        "planes": fabric.planes,
        "hosts_per_plane": fabric.hosts_per_plane,
        "switches": {
            "total": fabric.switches,
            "per_tier": {_tier_name(i): int(n) for i, n in enumerate(fabric.switches_per_tier)},
        },
        "links_per_tier": {_tier_name(i): int(n) for i, n in enumerate(fabric.links_per_tier)},
        "switch_ports": fabric.switch_ports,
        "endpoint_ports": fabric.endpoint_ports,
        "nics": fabric.nics,
        "transceivers": {k: int(v) for k, v in fabric.transceivers.items()},
        "cables": {k: int(v) for k, v in fabric.cables.items()},
        "bisection_bw_bytes_per_s": _finite(fabric.bisection_bw_bytes_per_s),
        "max_hops": fabric.max_hops,
        "power_w": _finite(fabric.power_w),
        "cost_usd": _finite(fabric.cost_usd),
        "nic_power_w": _finite(fabric.nic_power_w),
        "nic_cost_usd": _finite(fabric.nic_cost_usd),
        "efficiency": _finite(fabric.efficiency),
        "efficiency_profile": fabric.efficiency_profile,
        "in_network_reduction": fabric.in_network_reduction,
        "gpus_per_level": [int(x) for x in fabric.gpus_per_level],
        "scaleout_bw_bytes_per_s": [_finite(x) for x in fabric.scaleout_bw_bytes_per_s],
        "bom": [
            {
                "item": b.item,
                "kind": b.kind,
                "count": b.count,
                "unit_power_w": _finite(b.unit_power_w),
                "unit_price_usd": _finite(b.unit_price_usd),
                "power_w": _finite(b.power_w),
                "cost_usd": _finite(b.cost_usd),
            }
            for b in fabric.bom
        ],
    }
    if bus_table is not None:
        out["bus_bandwidth"] = bus_table_to_json(bus_table)
    return out


def _si(x: float, unit: str) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:,.2f} {prefix}{unit}"
    return f"{x:,.2f} {unit}"


def fabric_tables(fabric: Fabric, bus_table: BusBandwidthTable | None = None) -> list[Table]:
    """Rich tables: summary, bill of materials and (if given) bus bandwidth per level.

    Args:
        fabric: the sized fabric.
        bus_table: from :func:`colossim.fabric.collectives.bus_bandwidth_table`.
    """
    c = fabric.config
    summary = Table(
        title=f"Fabric: {c.kind} on {c.switch} ({fabric.radix} x {fabric.port_gbit_per_s:g}G ports)"
    )
    summary.add_column("quantity")
    summary.add_column("value", justify="right")
    rows = [
        ("GPUs", f"{c.num_gpus:,}"),
        ("tiers", str(fabric.tiers)),
        ("planes (rails)", f"{fabric.planes:,}"),
        ("switches", f"{fabric.switches:,}"),
        *((f"  {_tier_name(i)}", f"{n:,}") for i, n in enumerate(fabric.switches_per_tier)),
        ("bisection bandwidth", _si(fabric.bisection_bw_bytes_per_s, "B/s")),
        ("max switch hops", str(fabric.max_hops)),
        ("efficiency", f"{fabric.efficiency:.2f} ({fabric.efficiency_profile})"),
        ("fabric power (excl. NICs)", _si(fabric.power_w, "W")),
        ("fabric cost (excl. NICs)", f"${fabric.cost_usd:,.0f}"),
        ("NICs power / cost", f"{_si(fabric.nic_power_w, 'W')} / ${fabric.nic_cost_usd:,.0f}"),
    ]
    for k, v in rows:
        summary.add_row(k, v)

    bom = Table(title="Bill of materials")
    for col, just in (
        ("item", "left"),
        ("kind", "left"),
        ("count", "right"),
        ("unit W", "right"),
        ("unit $", "right"),
        ("power", "right"),
        ("cost $", "right"),
    ):
        bom.add_column(col, justify=just)
    for b in fabric.bom:
        bom.add_row(
            b.item,
            b.kind,
            f"{b.count:,}",
            f"{b.unit_power_w:g}",
            f"{b.unit_price_usd:,.0f}",
            _si(b.power_w, "W"),
            f"{b.cost_usd:,.0f}",
        )
    tables = [summary, bom]

    if bus_table is not None:
        bw = Table(
            title=f"Bus bandwidth per collective, {_si(bus_table.size_bytes, 'B')} messages (GB/s)"
        )
        bw.add_column("collective")
        for name, g in zip(bus_table.level_names, bus_table.group_sizes, strict=True):
            bw.add_column(f"{name}\n{g:,} GPUs", justify="right")
        for op, row in zip(bus_table.collectives, bus_table.busbw_bytes_per_s, strict=True):
            bw.add_row(op.value, *(f"{x / 1e9:,.1f}" for x in row))
        tables.append(bw)
    return tables
