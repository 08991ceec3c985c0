"""Scale-out fabric builder: rail-optimised and plain fat trees (folded Clos), closed form.

The builder sizes a fat tree from port counts alone, so a 1,000,000-GPU fabric is a
handful of integer operations (no per-switch objects). Sizing rule (facts.md 5.4):

* a switch of radix ``k`` at the chosen port speed; a non-top tier-``t`` switch splits
  its ports into ``d_t`` down and ``u_t = k - d_t`` up, ``d_t / u_t`` = oversubscription
  ``o_t`` (``d_t = floor(k * o_t / (1 + o_t))``; 1:1 gives ``k/2``);
* an ``n``-tier tree whose top switches use all ``k`` ports downwards serves at most
  ``k * d_1 * ... * d_{n-1}`` endpoints: ``k`` (1 tier), ``k^2/2`` (2 tiers, non-blocking,
  [DERIVED] facts.md 5.4) and ``k^3/4`` (3 tiers, Al-Fares et al. SIGCOMM'08);
* the builder takes the smallest ``n`` whose capacity covers the endpoints;
* rail-optimised: NIC port ``i`` of every node goes to rail ``i``, and each rail is an
  independent plane (multiplane design, facts.md 5.4: "GPUs ~ rails x per-plane hosts").

Counts per tier come from ports: ``L_1 = ceil(H / d_1)``, ``L_t = ceil(L_{t-1} u_{t-1} / d_t)``,
top ``L_n = ceil(L_{n-1} u_{n-1} / k)``; a full 3-tier k-ary tree gives ``k^2/2, k^2/2,
k^2/4`` switches ((k/2)^2 core switches, facts.md 5.4).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from colossim.catalog import CatalogEntry, load_catalog, lookup
from colossim.errors import InputError

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

# MODEL: at most four switch tiers; radix-64 at 4 tiers already serves 2 x 32^4 = 2.1M
# endpoints per plane, beyond any cluster in facts.md.
MAX_TIERS = 4
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


def tier_down_ports(
    radix: int, oversubscription: Sequence[float], *, field: str
) -> tuple[int, ...]:
    """Down ports per switch of tiers 1 .. MAX_TIERS-1 (non-top tiers).

    Args:
        radix: switch ports.
        oversubscription: down/up ratio per tier; missing tiers are 1:1.
        field: input field name for errors.
    """
    out = []
    for t in range(MAX_TIERS - 1):
        o = float(oversubscription[t]) if t < len(oversubscription) else 1.0
        if not math.isfinite(o) or o <= 0:
            raise InputError(
                f"{field}[{t}]",
                "must be a finite ratio > 0",
                value=o,
                fix="e.g. 1.0 (non-blocking) or 3.0 (3:1)",
            )
        # down:up = o:1 -> d = k * o / (1 + o), rounded down to whole ports
        d = int(math.floor(radix * o / (1.0 + o) + 1e-9))
        if d < 1 or d > radix - 1:
            raise InputError(
                f"{field}[{t}]",
                f"leaves a radix-{radix} switch with no {'down' if d < 1 else 'up'} port",
                value=o,
                fix=f"use a ratio between {1 / (radix - 1):.3g} and {radix - 1}",
            )
        out.append(d)
    return tuple(out)


def fat_tree_capacity(*, radix: int, down_ports: Sequence[int], tiers: int) -> int:
    """Endpoints an ``tiers``-tier fat tree can serve: ``k * d_1 * ... * d_{n-1}``.

    Non-blocking (``d = k/2``): ``k``, ``k^2/2``, ``k^3/4`` (facts.md 5.4, Al-Fares 2008).
    """
    return int(radix * math.prod(down_ports[: tiers - 1]))


def fat_tree_switch_counts(
    hosts: np.ndarray | int, *, radix: int, down_ports: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Tiers and switches per tier of one fat-tree plane, vectorised over ``hosts``.

    Args:
        hosts: endpoints per plane (array or scalar, each >= 1).
        radix: switch ports at the chosen speed.
        down_ports: down ports per switch of tiers 1 .. MAX_TIERS-1.

    Returns:
        ``(tiers, switches)``: int arrays of shape ``hosts.shape`` and
        ``hosts.shape + (MAX_TIERS,)``; switches of unused tiers are 0. Hosts beyond the
        ``MAX_TIERS`` capacity get ``tiers = MAX_TIERS + 1`` and no counts (caller errors).
    """
    h = np.asarray(hosts, dtype=np.int64)
    caps = np.array(
        [
            fat_tree_capacity(radix=radix, down_ports=down_ports, tiers=n)
            for n in range(1, MAX_TIERS + 1)
        ],
        dtype=np.int64,
    )
    tiers = np.searchsorted(caps, h, side="left") + 1  # smallest n with capacity >= hosts
    d = np.array(list(down_ports) + [radix], dtype=np.int64)
    u = radix - d
    sw = np.zeros(h.shape + (MAX_TIERS,), dtype=np.int64)
    prev = np.ones_like(h)  # switches in the tier below (unused for tier 1)
    for t in range(MAX_TIERS):  # loop over <= 4 tiers, vectorised over hosts
        is_top = tiers == t + 1
        below_links = h if t == 0 else prev * u[t - 1]
        per_switch = np.where(is_top, radix, d[t])  # top tier: all ports down
        count = -(-below_links // per_switch)  # ceil division on integers
        count = np.where(tiers >= t + 1, count, 0)
        count = np.where(tiers > MAX_TIERS, 0, count)
        sw[..., t] = count
        prev = count
    return tiers, sw


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


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


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(name, "must be a whole number >= 1", value=value)
    return int(value)


def build_fabric(config: FabricConfig) -> Fabric:
    """Size a fabric and cost it from the catalog.

    Args:
        config: what to build (see :class:`FabricConfig`).

    Returns:
        The sized :class:`Fabric`.

    Raises:
        InputError: unknown catalog ids, impossible port speeds or ratios, or a cluster
            too large for ``MAX_TIERS`` tiers.
    """
    f = "cluster.fabric"
    num_gpus = _check_positive_int(f"{f}.num_gpus", config.num_gpus)
    gpn = _check_positive_int(f"{f}.gpus_per_node", config.gpus_per_node)
    domain = _check_positive_int(f"{f}.scaleup_domain", config.scaleup_domain)
    nics_per_gpu = _check_positive_int(f"{f}.nics_per_gpu", config.nics_per_gpu)
    nic_gbit = float(config.nic_gbit_per_s)
    if not math.isfinite(nic_gbit) or nic_gbit <= 0:
        raise InputError(
            f"{f}.nic_gbit_per_s", "must be > 0", value=config.nic_gbit_per_s, fix="e.g. 400"
        )
    kind = FabricKind(config.kind)
    host_link = HostLink(config.host_link)

    sw = catalog_entry(config.switch, kind="switch", field=f"{f}.switch")
    ports_by_speed = {float(k): int(v) for k, v in sw.values["ports_by_gbit_per_s"].items()}
    if config.port_gbit_per_s is not None:
        port_gbit = float(config.port_gbit_per_s)
    else:
        # The switch's default breakout if the NIC can use it, else the fastest breakout
        # whose speed divides the NIC's (a 200G A100 NIC on an SN5600: 256 x 200G).
        port_gbit = float(sw.values["default_port_gbit_per_s"])
        usable = [
            sp
            for sp in ports_by_speed
            if sp <= nic_gbit and abs(nic_gbit / sp - round(nic_gbit / sp)) < 1e-9
        ]
        if usable and port_gbit not in usable:
            port_gbit = max(usable)
    if port_gbit not in ports_by_speed:
        raise InputError(
            f"{f}.port_gbit_per_s",
            f"switch {config.switch!r} has no {port_gbit:g} Gb/s breakout",
            value=port_gbit,
            fix=f"use one of {', '.join(f'{s:g}' for s in ports_by_speed)}",
        )
    radix = ports_by_speed[port_gbit]
    ratio = nic_gbit / port_gbit
    if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
        fits = [
            f"{sp:g}"
            for sp in ports_by_speed
            if sp <= nic_gbit and abs(nic_gbit / sp - round(nic_gbit / sp)) < 1e-9
        ]
        raise InputError(
            f"{f}.port_gbit_per_s",
            f"a {nic_gbit:g} Gb/s NIC needs switch ports of its speed or a speed that divides it",
            value=port_gbit,
            fix=f"use port_gbit_per_s {' or '.join(fits)}"
            if fits
            else f"switch {config.switch!r} has no breakout for {nic_gbit:g} Gb/s NICs; "
            "pick another switch or NIC speed",
        )
    ports_per_nic = int(round(ratio))

    eff_id = (
        config.efficiency if config.efficiency is not None else str(sw.values["default_efficiency"])
    )
    eff = float(
        catalog_entry(eff_id, kind="efficiency", field=f"{f}.efficiency").values["efficiency"]
    )
    nic_id = config.nic
    if nic_id is None:
        defaults = {float(k): v for k, v in sw.values["default_nic_by_gbit_per_s"].items()}
        if nic_gbit not in defaults:
            raise InputError(
                f"{f}.nic",
                f"no default NIC for {nic_gbit:g} Gb/s on {config.switch!r}",
                fix="name a NIC id from catalog/network.yaml",
            )
        nic_id = str(defaults[nic_gbit])
    nic = catalog_entry(nic_id, kind="nic", field=f"{f}.nic")
    if float(nic.values["gbit_per_s"]) != nic_gbit:
        raise InputError(
            f"{f}.nic",
            f"{nic_id!r} runs at {nic.values['gbit_per_s']} Gb/s, not {nic_gbit:g}",
            value=nic_id,
            fix="match nic_gbit_per_s to the NIC",
        )

    down = tier_down_ports(
        radix, oversubscription=config.oversubscription, field=f"{f}.oversubscription"
    )

    nodes = _ceil_div(num_gpus, gpn)
    ports_per_gpu = nics_per_gpu * ports_per_nic
    if kind is FabricKind.RAIL_FAT_TREE:
        # MODEL: each NIC-port position of a node is a rail and an independent plane whose
        # endpoints are the nodes; a partial last node is counted as full.
        planes = gpn * ports_per_gpu
        hosts = nodes
    else:
        planes = 1
        hosts = num_gpus * ports_per_gpu
    tiers_arr, sw_arr = fat_tree_switch_counts(hosts, radix=radix, down_ports=down)
    tiers = int(tiers_arr)
    if tiers > MAX_TIERS:
        cap = fat_tree_capacity(radix=radix, down_ports=down, tiers=MAX_TIERS)
        raise InputError(
            f"{f}.num_gpus",
            f"needs more than {MAX_TIERS} tiers of radix-{radix} switches "
            f"({hosts} endpoints per plane, capacity {cap})",
            value=num_gpus,
            fix="use a rail-optimised fabric, a higher-radix breakout or oversubscription",
        )
    per_plane = [int(x) for x in sw_arr[:tiers]]
    switches_per_tier = tuple(planes * x for x in per_plane)
    down_per_tier = tuple(list(down[: tiers - 1]) + [radix])
    up_per_tier = tuple(radix - d for d in down_per_tier[:-1]) + (0,)
    links_plane = [hosts] + [per_plane[t - 1] * up_per_tier[t - 1] for t in range(1, tiers)]
    links_per_tier = tuple(planes * x for x in links_plane)
    endpoint_ports = planes * hosts
    n_switches = sum(switches_per_tier)
    nics = num_gpus * nics_per_gpu

    # Optics and cables. MODEL: switch-side modules are packed per cage across the whole
    # fabric (ceil of total port bandwidth / cage bandwidth); every inter-switch link is
    # optical; one fibre cord per 400G DR4 link; copper host links use one DAC splitter
    # per switch cage.
    port_bw_gbit = port_gbit
    cage_gbit = float(sw.values["cage_gbit_per_s"])
    sw_optic = catalog_entry(str(sw.values["optic"]), kind="transceiver", field=f"{f}.switch")
    nic_optic = catalog_entry(str(nic.values["optic"]), kind="transceiver", field=f"{f}.nic")
    fibre = catalog_entry("fiber-mpo12-smf", kind="cable", field=f"{f}.host_link")
    dac = catalog_entry("dac-800g-2x400g", kind="cable", field=f"{f}.host_link")
    optical_host = host_link is HostLink.OPTICAL or (
        host_link is HostLink.AUTO and kind is FabricKind.RAIL_FAT_TREE
    )
    inter_switch_link_gbit = sum(links_per_tier[1:]) * port_bw_gbit
    host_link_gbit = endpoint_ports * port_bw_gbit
    switch_side_optical_gbit = 2 * inter_switch_link_gbit + (
        host_link_gbit if optical_host else 0.0
    )
    transceivers: dict[str, int] = {}
    cables: dict[str, int] = {}

    def _add(d: dict[str, int], key: str, n: int) -> None:
        if n > 0:
            d[key] = d.get(key, 0) + int(n)

    _add(transceivers, sw_optic.id, math.ceil(switch_side_optical_gbit / cage_gbit - 1e-9))
    fibre_gbit = float(fibre.values["gbit_per_s"])
    _add(cables, fibre.id, math.ceil(inter_switch_link_gbit / fibre_gbit - 1e-9))
    if optical_host:
        _add(transceivers, nic_optic.id, nics)
        _add(cables, fibre.id, math.ceil(host_link_gbit / fibre_gbit - 1e-9))
    else:
        _add(cables, dac.id, math.ceil(host_link_gbit / float(dac.values["gbit_per_s"]) - 1e-9))

    entries = load_catalog(_CATALOG)
    bom = [_line(sw, n_switches, "switch")]
    bom += [_line(entries[k], n, "transceiver") for k, n in transceivers.items()]
    bom += [_line(entries[k], n, "cable") for k, n in cables.items()]
    nic_line = _line(nic, nics, "nic")
    fabric_lines = list(bom)
    bom.append(nic_line)
    power_w = float(sum(b.power_w for b in fabric_lines))
    cost_usd = float(sum(b.cost_usd for b in fabric_lines))

    port_bytes = port_gbit * 1e9 / _BITS_PER_BYTE
    # Bisection: half the thinnest tier boundary (links entering a tier), per plane, summed
    # over planes. MODEL: ECMP spreads a bisection-crossing load evenly over that boundary.
    bisection = 0.5 * min(links_plane) * port_bytes

    # Per-level reach (GPUs) and achievable bandwidth per GPU.
    nic_bytes_per_gpu = nics_per_gpu * nic_gbit * 1e9 / _BITS_PER_BYTE
    gpus_per_level = [min(domain, num_gpus)]
    for t in range(1, tiers):
        endpoints_under = math.prod(down[:t])
        if kind is FabricKind.RAIL_FAT_TREE:
            # rail-aware: a stripe of rail leaves serves whole nodes; cross-rail hops go over
            # NVLink first (PXN), facts.md 5.4 (juniper.net rail-optimised JVD)
            g = endpoints_under * gpn
        else:
            g = max(1, endpoints_under // ports_per_gpu)
        gpus_per_level.append(min(g, num_gpus))
    gpus_per_level.append(num_gpus)
    gpus_per_level = [int(x) for x in np.maximum.accumulate(gpus_per_level)]
    scaleout_bw = []
    for t in range(1, tiers + 1):
        # MODEL: traffic that leaves a tier-i switch upwards is thinned by that switch's
        # down/up ratio (never boosted when undersubscribed).
        thin = math.prod(max(down_per_tier[i] / max(up_per_tier[i], 1), 1.0) for i in range(t - 1))
        scaleout_bw.append(nic_bytes_per_gpu * eff / thin)

    return Fabric(
        config=config,
        tiers=tiers,
        planes=planes,
        hosts_per_plane=hosts,
        radix=radix,
        port_gbit_per_s=port_gbit,
        down_ports_per_tier=down_per_tier,
        up_ports_per_tier=up_per_tier,
        switches_per_tier=switches_per_tier,
        links_per_tier=links_per_tier,
        switches=n_switches,
        switch_ports=n_switches * radix,
        endpoint_ports=endpoint_ports,
        nics=nics,
        transceivers=transceivers,
        cables=cables,
        bom=tuple(bom),
        bisection_bw_bytes_per_s=float(bisection * planes),
        max_hops=2 * tiers - 1,
        power_w=power_w,
        cost_usd=cost_usd,
        nic_power_w=nic_line.power_w,
        nic_cost_usd=nic_line.cost_usd,
        efficiency=eff,
        efficiency_profile=eff_id,
        in_network_reduction=bool(sw.values["in_network_reduction"]),
        hop_latency_s=float(sw.values["hop_latency_s"]),
        gpus_per_level=tuple(gpus_per_level),
        nic_bw_bytes_per_s_per_gpu=nic_bytes_per_gpu,
        scaleout_bw_bytes_per_s=tuple(scaleout_bw),
    )
