"""Scale-out fabric builder: rail-optimised and plain fat trees (folded Clos), closed form.

:func:`build_fabric` picks the switch port speed, efficiency profile and NIC from
``catalog/network.yaml``, sizes the tiers with :mod:`colossim.fabric.sizing` (a handful of
integer operations, no per-switch objects, so a 1,000,000-GPU fabric costs microseconds),
counts optics and cables, prices the bill of materials and derives the per-level reach and
bandwidth that :mod:`colossim.fabric.collectives` prices collectives on.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from colossim.catalog import CatalogEntry, load_catalog, lookup
from colossim.errors import InputError, require_int
from colossim.fabric.sizing import (
    MAX_TIERS,
    TierSizing,
    fat_tree_capacity,
    fat_tree_switch_counts,
    size_tiers,
    tier_down_ports,
)

# MAX_TIERS, fat_tree_capacity, fat_tree_switch_counts and tier_down_ports moved to
# colossim.fabric.sizing; they stay importable from here.
__all__ = [
    "BomLine",
    "Fabric",
    "FabricConfig",
    "FabricKind",
    "HostLink",
    "MAX_TIERS",
    "build_fabric",
    "catalog_entry",
    "fat_tree_capacity",
    "fat_tree_switch_counts",
    "tier_down_ports",
]

_CATALOG = "network"
_BITS_PER_BYTE = 8


class FabricKind(enum.StrEnum):
    """Topology family."""

    RAIL_FAT_TREE = "rail_fat_tree"
    FAT_TREE = "fat_tree"


class HostLink(enum.StrEnum):
    """Medium of the NIC-to-leaf links."""

    AUTO = "auto"  # optical for rail-optimised (leaves sit at end of row), copper otherwise
    OPTICAL = "optical"
    COPPER = "copper"  # in-rack passive DAC to a top-of-rack leaf


@dataclass(frozen=True, slots=True, kw_only=True)
class FabricConfig:
    """What to build.

    Attributes:
        num_gpus: GPUs attached to the fabric.
        gpus_per_node: GPUs per server (HGX: 8; GB200 compute tray: 4).
        scaleup_domain: GPUs per scale-up (NVLink) domain (HGX: 8; NVL72: 72).
        nic_gbit_per_s: line rate of one NIC, Gb/s.
        switch: switch id in ``catalog/network.yaml``.
        nics_per_gpu: scale-out NICs per GPU.
        port_gbit_per_s: switch port speed (breakout) in Gb/s; ``None`` = the switch's default.
        oversubscription: down/up bandwidth ratio of tier 1 (leaf), tier 2, ... switches;
            missing tiers are 1:1; the top tier has no uplinks.
        kind: rail-optimised (one plane per rail) or plain fat tree.
        efficiency: efficiency profile id (``spectrum-x``, ``ethernet``, ``infiniband``,
            ``efa-measured``); ``None`` = the switch's default.
        nic: NIC id for power and cost; ``None`` = the switch's default for the NIC speed.
        host_link: NIC-to-leaf medium.
        gpu: GPU id in ``catalog/gpus.yaml``; gives the scale-up bandwidth and generation
            to :func:`colossim.fabric.collectives.link_levels` (optional).
    """

    num_gpus: int
    gpus_per_node: int
    scaleup_domain: int
    nic_gbit_per_s: float
    switch: str
    nics_per_gpu: int = 1
    port_gbit_per_s: float | None = None
    oversubscription: tuple[float, ...] = ()
    kind: FabricKind = FabricKind.RAIL_FAT_TREE
    efficiency: str | None = None
    nic: str | None = None
    host_link: HostLink = HostLink.AUTO
    gpu: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BomLine:
    """One line of the fabric's bill of materials."""

    item: str
    kind: str  # switch | transceiver | cable | nic
    count: int
    unit_power_w: float
    unit_price_usd: float
    power_w: float
    cost_usd: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Fabric:
    """A sized fabric. Per-tier tuples are indexed tier 1 (leaf) .. tier ``tiers`` (top).

    Attributes:
        config: the input.
        tiers: switch tiers.
        planes: independent planes (rails for a rail-optimised tree, else 1).
        hosts_per_plane: endpoints (switch-facing host ports) per plane.
        radix: switch ports at the chosen speed.
        port_gbit_per_s: switch port speed, Gb/s.
        down_ports_per_tier: down ports per switch in each tier.
        up_ports_per_tier: up ports per switch in each tier (0 at the top).
        switches_per_tier: switches in each tier, all planes.
        links_per_tier: links entering each tier from below (tier 1: host links), all planes.
        switches: total switches.
        switch_ports: total switch ports.
        endpoint_ports: host-facing links (NIC ports at the switch port speed).
        nics: NIC cards.
        transceivers: pluggable optics by catalog id.
        cables: cables by catalog id.
        bom: bill of materials, switches, optics, cables and NICs.
        bisection_bw_bytes_per_s: bisection bandwidth, one direction, bytes/s (line rate).
        max_hops: switch hops on the longest shortest path.
        power_w: switches + optics + cables, W (NICs excluded: server power includes them).
        cost_usd: switches + optics + cables, USD (NICs excluded, see ``nic_cost_usd``).
        nic_power_w: power of all NICs, W.
        nic_cost_usd: cost of all NICs, USD.
        efficiency: achievable fraction of line rate (efficiency profile).
        efficiency_profile: efficiency profile id.
        in_network_reduction: switches reduce in the network (SHARP).
        hop_latency_s: one switch traversal, s.
        gpus_per_level: GPUs reachable without leaving level 0 (scale-up domain), 1 (one
            leaf, rail-aware), 2 .. ``tiers`` (whole fabric); length ``tiers + 1``.
        nic_bw_bytes_per_s_per_gpu: scale-out line rate per GPU (all its NICs), bytes/s.
        scaleout_bw_bytes_per_s: achievable per-GPU bandwidth at levels 1 .. ``tiers``
            (line x efficiency / oversubscription below that level), bytes/s.
    """

    config: FabricConfig
    tiers: int
    planes: int
    hosts_per_plane: int
    radix: int
    port_gbit_per_s: float
    down_ports_per_tier: tuple[int, ...]
    up_ports_per_tier: tuple[int, ...]
    switches_per_tier: tuple[int, ...]
    links_per_tier: tuple[int, ...]
    switches: int
    switch_ports: int
    endpoint_ports: int
    nics: int
    transceivers: dict[str, int]
    cables: dict[str, int]
    bom: tuple[BomLine, ...]
    bisection_bw_bytes_per_s: float
    max_hops: int
    power_w: float
    cost_usd: float
    nic_power_w: float
    nic_cost_usd: float
    efficiency: float
    efficiency_profile: str
    in_network_reduction: bool
    hop_latency_s: float
    gpus_per_level: tuple[int, ...]
    nic_bw_bytes_per_s_per_gpu: float
    scaleout_bw_bytes_per_s: tuple[float, ...]


def catalog_entry(entry_id: str, *, kind: str, field: str) -> CatalogEntry:
    """Look up ``entry_id`` in the network catalog and check it is a ``kind`` entry.

    Args:
        entry_id: catalog id.
        kind: expected ``kind`` (switch, nic, transceiver, cable, efficiency, scaleup, ...).
        field: input field that named it, for the error message.
    """
    entry = lookup(_CATALOG, entry_id, field=field)
    if entry.values.get("kind") != kind:
        ids = [k for k, e in load_catalog(_CATALOG).items() if e.values.get("kind") == kind]
        raise InputError(
            field,
            f"{entry_id!r} is a {entry.values.get('kind')}, not a {kind}",
            value=entry_id,
            fix=f"use one of: {', '.join(ids)}",
        )
    return entry


def _line(entry: CatalogEntry, count: int, kind: str) -> BomLine:
    p = float(entry.values["power_w"])
    c = float(entry.values["price_usd"])
    return BomLine(
        item=entry.id,
        kind=kind,
        count=int(count),
        unit_power_w=p,
        unit_price_usd=c,
        power_w=p * count,
        cost_usd=c * count,
    )


def _port_speed(
    config: FabricConfig, sw: CatalogEntry, *, nic_gbit: float, field: str
) -> tuple[float, int, int]:
    """Switch port speed (Gb/s), radix at that speed, and switch ports per NIC."""
    ports_by_speed = {float(k): int(v) for k, v in sw.values["ports_by_gbit_per_s"].items()}

    def divides_nic(sp: float) -> bool:
        return sp <= nic_gbit and abs(nic_gbit / sp - round(nic_gbit / sp)) < 1e-9

    if config.port_gbit_per_s is not None:
        port_gbit = float(config.port_gbit_per_s)
    else:
        # The switch's default breakout if the NIC can use it, else the fastest breakout
        # whose speed divides the NIC's (a 200G A100 NIC on an SN5600: 256 x 200G).
        port_gbit = float(sw.values["default_port_gbit_per_s"])
        usable = [sp for sp in ports_by_speed if divides_nic(sp)]
        if usable and port_gbit not in usable:
            port_gbit = max(usable)
    if port_gbit not in ports_by_speed:
        raise InputError(
            f"{field}.port_gbit_per_s",
            f"switch {config.switch!r} has no {port_gbit:g} Gb/s breakout",
            value=port_gbit,
            fix=f"use one of {', '.join(f'{s:g}' for s in ports_by_speed)}",
        )
    ratio = nic_gbit / port_gbit
    if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
        fits = [f"{sp:g}" for sp in ports_by_speed if divides_nic(sp)]
        raise InputError(
            f"{field}.port_gbit_per_s",
            f"a {nic_gbit:g} Gb/s NIC needs switch ports of its speed or a speed that divides it",
            value=port_gbit,
            fix=f"use port_gbit_per_s {' or '.join(fits)}"
            if fits
            else f"switch {config.switch!r} has no breakout for {nic_gbit:g} Gb/s NICs; "
            "pick another switch or NIC speed",
        )
    return port_gbit, ports_by_speed[port_gbit], int(round(ratio))


def _efficiency(config: FabricConfig, sw: CatalogEntry, *, field: str) -> tuple[str, float]:
    """Efficiency profile id and its achievable fraction of line rate."""
    eff_id = (
        config.efficiency if config.efficiency is not None else str(sw.values["default_efficiency"])
    )
    entry = catalog_entry(eff_id, kind="efficiency", field=f"{field}.efficiency")
    return eff_id, float(entry.values["efficiency"])


def _nic(config: FabricConfig, sw: CatalogEntry, *, nic_gbit: float, field: str) -> CatalogEntry:
    """The NIC named by the config, else the switch's default NIC for the NIC speed."""
    nic_id = config.nic
    if nic_id is None:
        defaults = {float(k): v for k, v in sw.values["default_nic_by_gbit_per_s"].items()}
        if nic_gbit not in defaults:
            raise InputError(
                f"{field}.nic",
                f"no default NIC for {nic_gbit:g} Gb/s on {config.switch!r}",
                fix="name a NIC id from catalog/network.yaml",
            )
        nic_id = str(defaults[nic_gbit])
    nic = catalog_entry(nic_id, kind="nic", field=f"{field}.nic")
    if float(nic.values["gbit_per_s"]) != nic_gbit:
        raise InputError(
            f"{field}.nic",
            f"{nic_id!r} runs at {nic.values['gbit_per_s']} Gb/s, not {nic_gbit:g}",
            value=nic_id,
            fix="match nic_gbit_per_s to the NIC",
        )
    return nic


@dataclass(frozen=True, slots=True, kw_only=True)
class _Choice:
    """Checked inputs and the catalog picks a fabric is built from."""

    num_gpus: int
    gpus_per_node: int
    scaleup_domain: int
    nics_per_gpu: int
    nic_gbit: float
    rail: bool  # rail-optimised (one plane per rail)
    optical_host: bool  # NIC-to-leaf links are optical
    sw: CatalogEntry
    nic: CatalogEntry
    port_gbit: float
    radix: int
    ports_per_gpu: int
    efficiency_id: str
    efficiency: float
    down: tuple[int, ...]  # down ports per switch of the non-top tiers


def _choose(config: FabricConfig, *, field: str) -> _Choice:
    """Check the inputs; pick the port speed, efficiency profile, NIC and tier port split."""
    num_gpus, gpn, domain, nics_per_gpu, nic_gbit = _checked_counts(config, field=field)
    rail = FabricKind(config.kind) is FabricKind.RAIL_FAT_TREE
    host_link = HostLink(config.host_link)
    sw = catalog_entry(config.switch, kind="switch", field=f"{field}.switch")
    port_gbit, radix, ports_per_nic = _port_speed(config, sw, nic_gbit=nic_gbit, field=field)
    eff_id, eff = _efficiency(config, sw, field=field)
    nic = _nic(config, sw, nic_gbit=nic_gbit, field=field)
    down = tier_down_ports(
        radix, oversubscription=config.oversubscription, field=f"{field}.oversubscription"
    )
    return _Choice(
        num_gpus=num_gpus,
        gpus_per_node=gpn,
        scaleup_domain=domain,
        nics_per_gpu=nics_per_gpu,
        nic_gbit=nic_gbit,
        rail=rail,
        optical_host=host_link is HostLink.OPTICAL or (host_link is HostLink.AUTO and rail),
        sw=sw,
        nic=nic,
        port_gbit=port_gbit,
        radix=radix,
        ports_per_gpu=nics_per_gpu * ports_per_nic,
        efficiency_id=eff_id,
        efficiency=eff,
        down=down,
    )


def _optics_and_cables(
    c: _Choice, *, sizing: TierSizing, nics: int, field: str
) -> tuple[dict[str, int], dict[str, int]]:
    """Pluggable optics and cables by catalog id.

    MODEL: switch-side modules are packed per cage across the whole fabric (ceil of total
    port bandwidth / cage bandwidth); every inter-switch link is optical; one fibre cord per
    400G DR4 link; copper host links use one DAC splitter per switch cage.
    """
    cage_gbit = float(c.sw.values["cage_gbit_per_s"])
    sw_optic = catalog_entry(str(c.sw.values["optic"]), kind="transceiver", field=f"{field}.switch")
    nic_optic = catalog_entry(str(c.nic.values["optic"]), kind="transceiver", field=f"{field}.nic")
    fibre = catalog_entry("fiber-mpo12-smf", kind="cable", field=f"{field}.host_link")
    dac = catalog_entry("dac-800g-2x400g", kind="cable", field=f"{field}.host_link")
    inter_switch_link_gbit = sum(sizing.links_per_tier[1:]) * c.port_gbit
    host_link_gbit = sizing.planes * sizing.hosts * c.port_gbit
    switch_side_optical_gbit = 2 * inter_switch_link_gbit + (
        host_link_gbit if c.optical_host else 0.0
    )
    transceivers: dict[str, int] = {}
    cables: dict[str, int] = {}

    def _add(d: dict[str, int], key: str, n: int) -> None:
        if n > 0:
            d[key] = d.get(key, 0) + int(n)

    _add(transceivers, sw_optic.id, math.ceil(switch_side_optical_gbit / cage_gbit - 1e-9))
    fibre_gbit = float(fibre.values["gbit_per_s"])
    _add(cables, fibre.id, math.ceil(inter_switch_link_gbit / fibre_gbit - 1e-9))
    if c.optical_host:
        _add(transceivers, nic_optic.id, nics)
        _add(cables, fibre.id, math.ceil(host_link_gbit / fibre_gbit - 1e-9))
    else:
        _add(cables, dac.id, math.ceil(host_link_gbit / float(dac.values["gbit_per_s"]) - 1e-9))
    return transceivers, cables


def _reach_and_bandwidth(
    c: _Choice, *, sizing: TierSizing, nic_bytes_per_gpu: float
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """GPUs reachable at each level and achievable per-GPU bandwidth at levels 1 .. tiers."""
    tiers, num_gpus, down = sizing.tiers, c.num_gpus, c.down
    gpus_per_level = [min(c.scaleup_domain, num_gpus)]
    for t in range(1, tiers):
        endpoints_under = math.prod(down[:t])
        # rail-aware: a stripe of rail leaves serves whole nodes; cross-rail hops go over
        # NVLink first (PXN) (Juniper rail-optimised JVD; docs/sources.md: JUNIPER-RAIL)
        g = (
            endpoints_under * c.gpus_per_node
            if c.rail
            else max(1, endpoints_under // c.ports_per_gpu)
        )
        gpus_per_level.append(min(g, num_gpus))
    gpus_per_level.append(num_gpus)
    reach = tuple(int(x) for x in np.maximum.accumulate(gpus_per_level))
    down_t, up_t = sizing.down_per_tier, sizing.up_per_tier
    scaleout_bw = []
    for t in range(1, tiers + 1):
        # MODEL: traffic that leaves a tier-i switch upwards is thinned by that switch's
        # down/up ratio (never boosted when undersubscribed).
        thin = math.prod(max(down_t[i] / max(up_t[i], 1), 1.0) for i in range(t - 1))
        scaleout_bw.append(nic_bytes_per_gpu * c.efficiency / thin)
    return reach, tuple(scaleout_bw)


def _checked_counts(config: FabricConfig, *, field: str) -> tuple[int, int, int, int, float]:
    """GPUs, GPUs per node, scale-up domain, NICs per GPU (whole numbers >= 1) and NIC Gb/s."""
    counts = tuple(
        require_int(f"{field}.{name}", getattr(config, name), minimum=1)
        for name in ("num_gpus", "gpus_per_node", "scaleup_domain", "nics_per_gpu")
    )
    nic_gbit = float(config.nic_gbit_per_s)
    if not math.isfinite(nic_gbit) or nic_gbit <= 0:
        raise InputError(
            f"{field}.nic_gbit_per_s", "must be > 0", value=config.nic_gbit_per_s, fix="e.g. 400"
        )
    return (*counts, nic_gbit)


def _fabric_lines(
    sw: CatalogEntry, n_switches: int, *, transceivers: dict[str, int], cables: dict[str, int]
) -> list[BomLine]:
    """Bill of materials of the fabric proper: switches, optics, cables (no NICs)."""
    entries = load_catalog(_CATALOG)
    lines = [_line(sw, n_switches, "switch")]
    lines += [_line(entries[k], n, "transceiver") for k, n in transceivers.items()]
    lines += [_line(entries[k], n, "cable") for k, n in cables.items()]
    return lines


def build_fabric(config: FabricConfig) -> Fabric:
    """Size a fabric and cost it from the catalog.

    Steps: check the inputs and pick port speed, efficiency profile and NIC
    (:func:`_choose`); size the tiers (:func:`colossim.fabric.sizing.size_tiers`); count
    optics and cables; price the bill of materials; derive per-level reach and bandwidth.

    Args:
        config: what to build (see :class:`FabricConfig`).

    Raises:
        InputError: unknown catalog ids, impossible port speeds or ratios, or a cluster
            too large for ``MAX_TIERS`` tiers.
    """
    f = "cluster.fabric"
    c = _choose(config, field=f)
    sizing = size_tiers(
        rail=c.rail,
        num_gpus=c.num_gpus,
        gpus_per_node=c.gpus_per_node,
        ports_per_gpu=c.ports_per_gpu,
        radix=c.radix,
        down=c.down,
        field=f,
    )
    n_switches = sum(sizing.switches_per_tier)
    nics = c.num_gpus * c.nics_per_gpu
    transceivers, cables = _optics_and_cables(c, sizing=sizing, nics=nics, field=f)
    fabric_lines = _fabric_lines(c.sw, n_switches, transceivers=transceivers, cables=cables)
    nic_line = _line(c.nic, nics, "nic")
    port_bytes = c.port_gbit * 1e9 / _BITS_PER_BYTE
    # Bisection: half the thinnest tier boundary (links entering a tier), per plane, summed
    # over planes. MODEL: ECMP spreads a bisection-crossing load evenly over that boundary.
    bisection = 0.5 * min(sizing.links_plane) * port_bytes
    nic_bytes_per_gpu = c.nics_per_gpu * c.nic_gbit * 1e9 / _BITS_PER_BYTE
    gpus_per_level, scaleout_bw = _reach_and_bandwidth(
        c, sizing=sizing, nic_bytes_per_gpu=nic_bytes_per_gpu
    )
    return Fabric(
        config=config,
        tiers=sizing.tiers,
        planes=sizing.planes,
        hosts_per_plane=sizing.hosts,
        radix=c.radix,
        port_gbit_per_s=c.port_gbit,
        down_ports_per_tier=sizing.down_per_tier,
        up_ports_per_tier=sizing.up_per_tier,
        switches_per_tier=sizing.switches_per_tier,
        links_per_tier=sizing.links_per_tier,
        switches=n_switches,
        switch_ports=n_switches * c.radix,
        endpoint_ports=sizing.planes * sizing.hosts,
        nics=nics,
        transceivers=transceivers,
        cables=cables,
        bom=tuple(fabric_lines) + (nic_line,),
        bisection_bw_bytes_per_s=float(bisection * sizing.planes),
        max_hops=2 * sizing.tiers - 1,
        # switches + optics + cables; NICs are counted in server power and cost
        power_w=float(sum(b.power_w for b in fabric_lines)),
        cost_usd=float(sum(b.cost_usd for b in fabric_lines)),
        nic_power_w=nic_line.power_w,
        nic_cost_usd=nic_line.cost_usd,
        efficiency=c.efficiency,
        efficiency_profile=c.efficiency_id,
        in_network_reduction=bool(c.sw.values["in_network_reduction"]),
        hop_latency_s=float(c.sw.values["hop_latency_s"]),
        gpus_per_level=gpus_per_level,
        nic_bw_bytes_per_s_per_gpu=nic_bytes_per_gpu,
        scaleout_bw_bytes_per_s=scaleout_bw,
    )
