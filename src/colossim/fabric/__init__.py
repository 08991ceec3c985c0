"""Scale-out fabric: closed-form fat-tree sizing (``sizing``), the topology builder (rails,
bill of materials; ``topology``), the per-GPU network levels (``levels``) and collective
costs on them (``collectives``).

Public API::

    from colossim.fabric import FabricConfig, build_fabric, link_levels, collective_time_s
"""

from colossim.fabric.collectives import (
    Algorithm,
    BusBandwidthTable,
    Collective,
    bus_bandwidth_bytes_per_s,
    bus_bandwidth_table,
    collective_time_s,
)
from colossim.fabric.levels import LinkLevels, link_levels, link_levels_simple
from colossim.fabric.sizing import (
    MAX_TIERS,
    fat_tree_capacity,
    fat_tree_switch_counts,
    tier_down_ports,
)
from colossim.fabric.topology import (
    BomLine,
    Fabric,
    FabricConfig,
    FabricKind,
    HostLink,
    build_fabric,
)

__all__ = [
    "MAX_TIERS",
    "Algorithm",
    "BomLine",
    "BusBandwidthTable",
    "Collective",
    "Fabric",
    "FabricConfig",
    "FabricKind",
    "HostLink",
    "LinkLevels",
    "build_fabric",
    "bus_bandwidth_bytes_per_s",
    "bus_bandwidth_table",
    "collective_time_s",
    "fat_tree_capacity",
    "fat_tree_switch_counts",
    "link_levels",
    "link_levels_simple",
    "tier_down_ports",
]
