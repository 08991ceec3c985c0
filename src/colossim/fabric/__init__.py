"""Scale-out fabric: topology builder (fat trees, rails, bill of materials) and
collective costs on it.

Public API::

    from colossim.fabric import FabricConfig, build_fabric, link_levels, collective_time_s
"""

from colossim.fabric.collectives import (
    Algorithm,
    BusBandwidthTable,
    Collective,
    LinkLevels,
    bus_bandwidth_bytes_per_s,
    bus_bandwidth_table,
    collective_time_s,
    link_levels,
    link_levels_simple,
)
from colossim.fabric.topology import (
    MAX_TIERS,
    BomLine,
    Fabric,
    FabricConfig,
    FabricKind,
    HostLink,
    build_fabric,
    fat_tree_capacity,
    fat_tree_switch_counts,
    tier_down_ports,
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
