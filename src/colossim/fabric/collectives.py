"""Vectorised cost of NCCL-style collectives on a hierarchical network.

Time of one collective = latency + bytes / bandwidth, following NCCL's own cost model
(NCCL-TUNE, github NVIDIA/nccl src/graph/tuning.cc, facts.md 5.2) with bandwidths taken
from measured bus bandwidths (nccl-tests PERFORMANCE.md definitions, facts.md 5.1, 5.3).

The network is seen per GPU as a stack of levels (:class:`LinkLevels`): level 0 is the
scale-up domain (NVLink), levels 1.. are the scale-out tiers (leaf, spine, core). A group
of ``g`` ranks at stride ``s`` (ranks laid out node-major) spans ``g * s`` consecutive
ranks; its bottleneck is the highest level it spans. A group that spans several scale-up
domains with ``m > 1`` members per domain runs hierarchically: an intra-domain step on
NVLink and an inter-domain step among ``n = ceil(g / m)`` domains, each GPU moving
``1/m`` of the data over its own NIC (per-NIC rate = busbw x (k-1)/(n-1), facts.md 5.1).

Algorithms: ``ring`` (hierarchical ring), ``tree`` (NCCL double binary tree, all-reduce
only), ``in_switch`` (NVLS inside the domain, SHARP in the network where the switches
have it; all-reduce only), ``auto`` (the fastest, as NCCL's tuner picks the algorithm and
protocol of least predicted time). Each of ring and tree is costed under the three NCCL
protocols (LL, LL128, Simple) and the fastest is kept.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from colossim.catalog import lookup
from colossim.errors import InputError
from colossim.fabric.topology import Fabric, catalog_entry

__all__ = [
    "Algorithm",
    "BusBandwidthTable",
    "Collective",
    "LinkLevels",
    "bus_bandwidth_bytes_per_s",
    "bus_bandwidth_table",
    "collective_time_s",
    "link_levels",
    "link_levels_simple",
]

_US = 1e-6
# MODEL: "whole cluster" reach of link_levels_simple when the GPU count is not given.
_UNBOUNDED_RANKS = 2**53


class Collective(enum.Enum):
    """Collective operations (nccl-tests names)."""

    ALL_REDUCE = "all_reduce"
    REDUCE_SCATTER = "reduce_scatter"
    ALL_GATHER = "all_gather"
    ALL_TO_ALL = "all_to_all"
    SEND_RECV = "send_recv"


class Algorithm(enum.StrEnum):
    """Collective algorithm."""

    AUTO = "auto"
    RING = "ring"
    TREE = "tree"
    IN_SWITCH = "in_switch"


_ALGORITHM_ALIASES = {"nvls": Algorithm.IN_SWITCH, "sharp": Algorithm.IN_SWITCH}


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkLevels:
    """Per-GPU view of the network, one entry per level (0 = scale-up, 1 = leaf, ...).

    Attributes:
        bw_bytes_per_s: achievable unidirectional per-GPU bandwidth at each level (line
            rate x efficiency), bytes/s.
        latency_s: per-step latency at each level under NCCL's Simple protocol (ring), s;
            LL/LL128 and tree step latencies scale from it by NCCL-TUNE's ratios.
        ranks_per_level: GPUs reachable without leaving each level (non-decreasing).
        in_switch_bw_bytes_per_s: all-reduce algbw of in-switch reduction per level
            (NVLS at level 0, SHARP above; per GPU), bytes/s; empty or 0 = not available.
        in_switch_latency_s: latency of the in-switch reduction per level, s.
        cost_model: catalog id of the NCCL constants (``network.yaml``).
    """

    bw_bytes_per_s: tuple[float, ...]
    latency_s: tuple[float, ...]
    ranks_per_level: tuple[int, ...]
    in_switch_bw_bytes_per_s: tuple[float, ...] = ()
    in_switch_latency_s: tuple[float, ...] = ()
    cost_model: str = "nccl-tune"

    def __post_init__(self) -> None:
        n = len(self.bw_bytes_per_s)
        if n < 1 or len(self.latency_s) != n or len(self.ranks_per_level) != n:
            raise InputError(
                "link_levels",
                "bw_bytes_per_s, latency_s and ranks_per_level need the same length >= 1",
                value=(len(self.bw_bytes_per_s), len(self.latency_s), len(self.ranks_per_level)),
            )
        for name, vals in (
            ("in_switch_bw_bytes_per_s", self.in_switch_bw_bytes_per_s),
            ("in_switch_latency_s", self.in_switch_latency_s),
        ):
            if len(vals) not in (0, n):
                raise InputError(f"link_levels.{name}", f"needs 0 or {n} entries", value=len(vals))
        bw = np.asarray(self.bw_bytes_per_s, dtype=float)
        if not np.all(np.isfinite(bw)) or np.any(bw <= 0):
            raise InputError(
                "link_levels.bw_bytes_per_s", "must be finite and > 0", value=self.bw_bytes_per_s
            )
        lat = np.asarray(self.latency_s, dtype=float)
        if not np.all(np.isfinite(lat)) or np.any(lat < 0):
            raise InputError(
                "link_levels.latency_s", "must be finite and >= 0", value=self.latency_s
            )
        ranks = np.asarray(self.ranks_per_level)
        if np.any(ranks < 1) or np.any(np.diff(ranks) < 0):
            raise InputError(
                "link_levels.ranks_per_level",
                "must be >= 1 and non-decreasing",
                value=self.ranks_per_level,
            )
        isw = np.asarray(self.in_switch_bw_bytes_per_s, dtype=float)
        if not np.all(np.isfinite(isw)) or np.any(isw < 0):
            raise InputError(
                "link_levels.in_switch_bw_bytes_per_s",
                "must be finite and >= 0",
                value=self.in_switch_bw_bytes_per_s,
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Nccl:
    """NCCL-TUNE constants in SI units; protocol axis is [LL, LL128, Simple]."""

    base_ring_s: np.ndarray
    base_tree_s: np.ndarray
    nvlink_ring_s: np.ndarray
    nvlink_tree_s: np.ndarray
    net_ring_s: np.ndarray
    net_tree_s: np.ndarray
    nvls_s: float
    net_nvls_s: float
    collnet_s: float
    protocol_bw_frac: np.ndarray
    tree_bw_frac: float
    net_overhead_s: np.ndarray
    sharp_algbw_frac: float


def _nccl(cost_model: str) -> _Nccl:
    v = catalog_entry(cost_model, kind="collective_model", field="link_levels.cost_model").values
    simple_factor = np.array([1.0, 1.0, float(v["simple_net_overhead_factor"])])
    return _Nccl(
        base_ring_s=np.array(v["base_latency_us"]["ring"], dtype=float) * _US,
        base_tree_s=np.array(v["base_latency_us"]["tree"], dtype=float) * _US,
        nvlink_ring_s=np.array(v["nvlink_latency_us"]["ring"], dtype=float) * _US,
        nvlink_tree_s=np.array(v["nvlink_latency_us"]["tree"], dtype=float) * _US,
        net_ring_s=np.array(v["net_latency_us"]["ring"], dtype=float) * _US,
        net_tree_s=np.array(v["net_latency_us"]["tree"], dtype=float) * _US,
        nvls_s=float(v["nvlink_latency_us"]["nvls"]) * _US,
        net_nvls_s=float(v["net_latency_us"]["nvls"]) * _US,
        collnet_s=float(v["net_latency_us"]["collnet"]) * _US,
        protocol_bw_frac=np.array(v["protocol_bw_frac"], dtype=float),
        tree_bw_frac=float(v["tree_bw_frac"]),
        # NCCL-TUNE: multi-node rings floor the intra-node step latency at the net
        # overhead (1 us on Intel hosts), x3 for the Simple protocol (facts.md 5.2)
        net_overhead_s=float(v["net_overhead_us"]) * _US * simple_factor,
        sharp_algbw_frac=float(v["sharp_algbw_frac"]),
    )


def _scaleup_profile(generation: str) -> dict:
    return catalog_entry(
        f"scaleup-{generation}", kind="scaleup", field="cluster.gpu.generation"
    ).values


def _level_latencies(nccl: _Nccl, *, hop_latency_s: float, levels: int) -> tuple[float, ...]:
    # Simple-protocol ring step latency: NVLink at level 0; NET at level l >= 1 plus the
    # 2l-1 switch traversals of a path that turns at tier l. MODEL: hops add to NCCL's NET
    # latency, which already covers the NIC and one switch.
    out = [float(nccl.nvlink_ring_s[2])]
    out += [
        float(nccl.net_ring_s[2]) + max(2 * lvl - 2, 0) * hop_latency_s for lvl in range(1, levels)
    ]
    return tuple(out)


def link_levels(
    fabric: Fabric,
    *,
    scaleup_bw_bytes_per_s: float | None = None,
    generation: str | None = None,
    cost_model: str = "nccl-tune",
) -> LinkLevels:
    """Per-GPU network levels of a built fabric.

    Args:
        fabric: the fabric from :func:`colossim.fabric.topology.build_fabric`.
        scaleup_bw_bytes_per_s: unidirectional scale-up (NVLink) line rate per GPU, bytes/s;
            default: ``scaleup_gb_per_s`` of ``fabric.config.gpu`` in ``catalog/gpus.yaml``.
        generation: GPU generation for the scale-up link profile (hopper, blackwell,
            ampere, cdna3); default: that of ``fabric.config.gpu``.
        cost_model: catalog id of the NCCL constants.
    """
    gpu_id = fabric.config.gpu
    if scaleup_bw_bytes_per_s is None or generation is None:
        if gpu_id is None:
            raise InputError(
                "cluster.gpu",
                "the fabric has no GPU id, so the scale-up bandwidth is unknown",
                fix="set FabricConfig.gpu or pass scaleup_bw_bytes_per_s and generation",
            )
        gpu = lookup("gpus", gpu_id, field="cluster.gpu").values
        if scaleup_bw_bytes_per_s is None:
            scaleup_bw_bytes_per_s = float(gpu["scaleup_gb_per_s"]) * 1e9
        if generation is None:
            generation = str(gpu["generation"])
    prof = _scaleup_profile(generation)
    nccl = _nccl(cost_model)
    n_levels = fabric.tiers + 1
    bw = (float(scaleup_bw_bytes_per_s) * float(prof["ring_efficiency"]),) + tuple(
        fabric.scaleout_bw_bytes_per_s
    )
    nvls = float(scaleup_bw_bytes_per_s) * float(prof["nvls_algbw_frac"])
    sharp = [
        b * nccl.sharp_algbw_frac if fabric.in_network_reduction else 0.0
        for b in fabric.scaleout_bw_bytes_per_s
    ]
    return LinkLevels(
        bw_bytes_per_s=bw,
        latency_s=_level_latencies(nccl, hop_latency_s=fabric.hop_latency_s, levels=n_levels),
        ranks_per_level=tuple(fabric.gpus_per_level),
        in_switch_bw_bytes_per_s=(nvls, *sharp),
        in_switch_latency_s=(nccl.nvls_s,) + (nccl.collnet_s,) * fabric.tiers,
        cost_model=cost_model,
    )


def link_levels_simple(
    scaleup_bw_bytes_per_s: float,
    *,
    scaleup_domain: int,
    nic_bw_bytes_per_s: float,
    efficiency: float | str,
    num_gpus: int | None = None,
    generation: str = "hopper",
    in_network_reduction: bool = False,
    hop_latency_s: float = 0.0,
    cost_model: str = "nccl-tune",
) -> LinkLevels:
    """Two-level network (scale-up domain, then a flat non-blocking scale-out fabric).

    Args:
        scaleup_bw_bytes_per_s: unidirectional scale-up line rate per GPU, bytes/s.
        scaleup_domain: GPUs per scale-up domain.
        nic_bw_bytes_per_s: scale-out line rate per GPU (all its NICs), bytes/s.
        efficiency: fraction of line rate achieved, or an efficiency profile id.
        num_gpus: GPUs in the cluster (reach of level 1); ``None`` = unbounded.
        generation: GPU generation for the scale-up link profile.
        in_network_reduction: the scale-out switches reduce in the network (SHARP).
        hop_latency_s: extra switch latency per step above NCCL's NET latency, s.
        cost_model: catalog id of the NCCL constants.
    """
    if isinstance(efficiency, str):
        efficiency = float(
            catalog_entry(efficiency, kind="efficiency", field="cluster.fabric.efficiency").values[
                "efficiency"
            ]
        )
    if not (0 < float(efficiency) <= 1):
        raise InputError("cluster.fabric.efficiency", "must be in (0, 1]", value=efficiency)
    if scaleup_domain < 1:
        raise InputError("cluster.scaleup_domain", "must be >= 1", value=scaleup_domain)
    for name, val in (
        ("scaleup_bw_bytes_per_s", scaleup_bw_bytes_per_s),
        ("nic_bw_bytes_per_s", nic_bw_bytes_per_s),
    ):
        if not math.isfinite(val) or val <= 0:
            raise InputError(name, "must be finite and > 0", value=val)
    prof = _scaleup_profile(generation)
    nccl = _nccl(cost_model)
    top = _UNBOUNDED_RANKS if num_gpus is None else max(int(num_gpus), int(scaleup_domain))
    out_bw = float(nic_bw_bytes_per_s) * float(efficiency)
    return LinkLevels(
        bw_bytes_per_s=(float(scaleup_bw_bytes_per_s) * float(prof["ring_efficiency"]), out_bw),
        latency_s=(float(nccl.nvlink_ring_s[2]), float(nccl.net_ring_s[2]) + hop_latency_s),
        ranks_per_level=(int(scaleup_domain), top),
        in_switch_bw_bytes_per_s=(
            float(scaleup_bw_bytes_per_s) * float(prof["nvls_algbw_frac"]),
            out_bw * nccl.sharp_algbw_frac if in_network_reduction else 0.0,
        ),
        in_switch_latency_s=(nccl.nvls_s, nccl.collnet_s),
        cost_model=cost_model,
    )


def _parse_algorithm(algorithm: str | Algorithm) -> Algorithm:
    key = str(algorithm).lower()
    if key in _ALGORITHM_ALIASES:
        return _ALGORITHM_ALIASES[key]
    try:
        return Algorithm(key)
    except ValueError:
        raise InputError(
            "algorithm",
            "unknown collective algorithm",
            value=algorithm,
            fix=f"use one of {', '.join(a.value for a in Algorithm)} (or nvls, sharp)",
        ) from None


def _as_counts(name: str, arr: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(arr)) or np.any(arr < 1) or np.any(arr != np.floor(arr)):
        raise InputError(name, "must be whole numbers >= 1", value=arr.ravel()[:4].tolist())
    return arr.astype(float)


def collective_time_s(
    op: Collective,
    *,
    size_bytes: np.ndarray,
    group_size: np.ndarray,
    stride: np.ndarray,
    levels: LinkLevels,
    algorithm: str = "auto",
) -> np.ndarray:
    """Time of one collective per (size, group, stride), vectorised.

    Args:
        op: the collective.
        size_bytes: nccl-tests convention, bytes: all-reduce, the per-rank buffer;
            all-gather, the gathered output per rank; reduce-scatter, the input per rank;
            all-to-all, the total each rank sends and keeps; send/recv, the bytes sent.
        group_size: ranks in the group (1 costs 0).
        stride: distance in global rank order between consecutive group members.
        levels: the network as seen by one GPU.
        algorithm: ``auto``, ``ring``, ``tree``, ``in_switch`` (alias ``nvls``/``sharp``).
            ``tree`` and ``in_switch`` exist for all-reduce only (others use ring); an
            in-switch request where no level can reduce in the switch falls back to ring.

    Returns:
        Seconds, finite and >= 0, shape of the broadcast inputs.
    """
    algo = _parse_algorithm(algorithm)
    op = Collective(op)
    size, g, s = np.broadcast_arrays(
        np.asarray(size_bytes, dtype=float),
        np.asarray(group_size, dtype=float),
        np.asarray(stride, dtype=float),
    )
    if not np.all(np.isfinite(size)) or np.any(size < 0):
        raise InputError("size_bytes", "must be finite and >= 0", value=size.ravel()[:4].tolist())
    g = _as_counts("group_size", g)
    s = _as_counts("stride", s)
    nccl = _nccl(levels.cost_model)
    n_lv = len(levels.bw_bytes_per_s)
    ranks = np.asarray(levels.ranks_per_level, dtype=float)
    bw = np.asarray(levels.bw_bytes_per_s, dtype=float)
    lat_simple = np.asarray(levels.latency_s, dtype=float)

    # Step latency per level and protocol: NCCL-TUNE's hwLatencies, scaled so that the
    # Simple ring value equals the level's latency_s (NVLink row at level 0, NET above).
    ring_ratio = np.stack(
        [nccl.nvlink_ring_s / nccl.nvlink_ring_s[2]]
        + [nccl.net_ring_s / nccl.net_ring_s[2]] * (n_lv - 1)
    )
    tree_ratio = np.stack(
        [nccl.nvlink_tree_s / nccl.nvlink_ring_s[2]]
        + [nccl.net_tree_s / nccl.net_ring_s[2]] * (n_lv - 1)
    )
    ring_lat = ring_ratio * lat_simple[:, None]  # (levels, 3)
    tree_lat = tree_ratio * lat_simple[:, None]

    # Placement: the group spans g*s consecutive ranks (a send/recv pair spans 2*s).
    # MODEL: groups are aligned to level boundaries (no straddling).
    span = 2.0 * s if op is Collective.SEND_RECV else g * s
    lvl = np.minimum(np.searchsorted(ranks, span, side="left"), n_lv - 1)
    domain = ranks[0]
    m = np.clip(np.floor(domain / s), 1.0, g)  # members per scale-up domain
    n = np.ceil(g / m)  # scale-up domains spanned
    b0 = bw[0]
    bl = bw[lvl]
    lat0 = ring_lat[0]  # (3,)
    f = nccl.protocol_bw_frac  # (3,)

    # Bytes each GPU moves over NVLink (v0) and over its NIC (v1) -- facts.md 5.1 factors,
    # applied per hierarchical step (intra-domain on m ranks, inter-domain on n ranks with
    # 1/m of the data per GPU).
    if op is Collective.ALL_REDUCE:
        v0 = 2.0 * (m - 1.0) / m * size
        v1 = 2.0 * (n - 1.0) / n * size / m
        intra_steps, inter_steps = 2.0 * (m - 1.0), 2.0 * (n - 1.0)
    elif op in (Collective.REDUCE_SCATTER, Collective.ALL_GATHER):
        v0 = (m - 1.0) / m * size
        v1 = (n - 1.0) / n * size / m
        intra_steps, inter_steps = m - 1.0, n - 1.0
    elif op is Collective.ALL_TO_ALL:
        # each rank keeps 1/g, sends (m-1)/g inside its domain and (g-m)/g out of it
        v0 = (m - 1.0) / g * size
        v1 = (g - m) / g * size
        intra_steps, inter_steps = (m > 1).astype(float), (n > 1).astype(float)
    else:  # SEND_RECV
        on_nvlink = lvl == 0
        v0 = np.where(on_nvlink, size, 0.0)
        v1 = np.where(on_nvlink, 0.0, size)
        intra_steps, inter_steps = on_nvlink.astype(float), (~on_nvlink).astype(float)

    multi = n > 1
    # MODEL: the intra- and inter-domain steps are pipelined (NCCL splits the buffer into
    # chunks over channels), so the bandwidth term is the slower step; latencies add.
    t_bw = np.maximum(v0 / b0, v1 / bl)  # Simple protocol; LL/LL128 divide by their bw share
    want_tree = op is Collective.ALL_REDUCE and algo in (Algorithm.AUTO, Algorithm.TREE)
    if want_tree:
        log2n = np.log2(n)
    t_ring = np.full(size.shape, np.inf)
    t_tree = np.full(size.shape, np.inf)
    for p in range(3):  # LL, LL128, Simple; each pass is vectorised over all elements
        intra_lat = np.where(multi, max(lat0[p], nccl.net_overhead_s[p]), lat0[p])
        # NCCL-TUNE ring: base + intra steps x intraLat + inter steps x interLat (facts.md 5.2)
        t = (
            nccl.base_ring_s[p]
            + intra_steps * intra_lat
            + inter_steps * ring_lat[lvl, p]
            + t_bw / f[p]
        )
        np.minimum(t_ring, t, out=t_ring)
        if want_tree:
            # NCCL-TUNE tree: base + 2((ppn-1) intraLat + log2(nNodes) interLat), 0.92x bw
            t = (
                nccl.base_tree_s[p]
                + 2.0 * ((m - 1.0) * tree_lat[0, p] + log2n * tree_lat[lvl, p])
                + t_bw / (f[p] * nccl.tree_bw_frac)
            )
            np.minimum(t_tree, t, out=t_tree)
    t_best = t_ring
    if op is Collective.ALL_REDUCE and algo in (Algorithm.AUTO, Algorithm.IN_SWITCH):
        t_isw = _in_switch_all_reduce(
            levels,
            nccl,
            size=size,
            m=m,
            n=n,
            lvl=lvl,
            v0=v0,
            v1=v1,
            b0=b0,
            bl=bl,
            tree_latl_simple=tree_lat[lvl, 2],
        )
        if algo is Algorithm.IN_SWITCH:
            t_best = np.where(np.isfinite(t_isw), t_isw, t_ring)
        else:
            t_best = np.minimum(np.minimum(t_ring, t_tree), t_isw)
    elif want_tree and algo is Algorithm.TREE:
        t_best = t_tree

    done = (g <= 1) | (size <= 0)
    return np.where(done, 0.0, t_best)


def _in_switch_all_reduce(
    levels: LinkLevels,
    nccl: _Nccl,
    *,
    size: np.ndarray,
    m: np.ndarray,
    n: np.ndarray,
    lvl: np.ndarray,
    v0: np.ndarray,
    v1: np.ndarray,
    b0: float,
    bl: np.ndarray,
    tree_latl_simple: np.ndarray,
) -> np.ndarray:
    """All-reduce with in-switch reduction where available (inf where none is used)."""
    n_lv = len(levels.bw_bytes_per_s)
    isw_bw = np.asarray(levels.in_switch_bw_bytes_per_s or (0.0,) * n_lv, dtype=float)
    isw_lat = np.asarray(levels.in_switch_latency_s or (0.0,) * n_lv, dtype=float)
    simple = 2
    # NVLS: each GPU sends its buffer to the switch once and receives the sum once, so
    # time = S / algbw (nccl-tests #212: algbw ~275 GB/s on 8x H100, facts.md 5.3).
    # Steps without in-switch support use the ring bandwidth; inside the domain with the
    # ring latency, across domains with NCCL's (NVLS)Tree term base + 2 log2(nNodes)
    # interLat (facts.md 5.2).
    intra = m > 1
    if isw_bw[0] > 0:
        has0 = intra
        t0 = np.where(intra, size / isw_bw[0], 0.0)
        lat0 = np.where(intra, isw_lat[0], 0.0)
    else:
        has0 = np.zeros(size.shape, dtype=bool)
        t0 = v0 / b0
        lat0 = np.where(
            intra, nccl.base_ring_s[simple] + 2.0 * (m - 1.0) * levels.latency_s[0], 0.0
        )
    inter = n > 1
    level_has = isw_bw > 0
    hasl = level_has[lvl] & inter
    bw_safe = np.where(level_has, isw_bw, np.inf)  # per level: SHARP algbw or none
    t1 = np.where(hasl, size / m / bw_safe[lvl], v1 / bl)
    lat1 = np.where(
        hasl,
        isw_lat[lvl],
        np.where(inter, nccl.base_tree_s[simple] + 2.0 * np.log2(n) * tree_latl_simple, 0.0),
    )
    t = np.maximum(t0, t1) + lat0 + lat1
    return np.where(has0 | hasl, t, np.inf)


def bus_bandwidth_bytes_per_s(
    op: Collective, *, size_bytes: np.ndarray, time_s: np.ndarray, group_size: np.ndarray
) -> np.ndarray:
    """nccl-tests bus bandwidth: algbw = S / t times 2(n-1)/n (all-reduce), (n-1)/n
    (reduce-scatter, all-gather, all-to-all) or 1 (send/recv) (NT-PERF, facts.md 5.1).

    Returns 0 where the time is 0 (nothing to move).
    """
    size, t, g = np.broadcast_arrays(
        np.asarray(size_bytes, float), np.asarray(time_s, float), np.asarray(group_size, float)
    )
    op = Collective(op)
    if op is Collective.ALL_REDUCE:
        factor = 2.0 * (g - 1.0) / np.maximum(g, 1.0)
    elif op is Collective.SEND_RECV:
        factor = np.ones_like(g)
    else:
        factor = (g - 1.0) / np.maximum(g, 1.0)
    safe_t = np.where(t > 0, t, 1.0)
    return np.where(t > 0, size / safe_t * factor, 0.0)


_LEVEL_NAMES = ("scale-up domain", "leaf", "spine", "core", "tier-4")


@dataclass(frozen=True, slots=True, kw_only=True)
class BusBandwidthTable:
    """Bus bandwidth each collective gets at each level of a fabric.

    Attributes:
        size_bytes: message size used (nccl-tests convention), bytes.
        level_names: level labels (scale-up domain, leaf, spine, core).
        group_sizes: ranks in the collective group used at each level (the whole level).
        collectives: rows.
        busbw_bytes_per_s: ``[collective][level]`` bus bandwidth, bytes/s.
        time_s: ``[collective][level]`` time of one collective, s.
    """

    size_bytes: float
    level_names: tuple[str, ...]
    group_sizes: tuple[int, ...]
    collectives: tuple[Collective, ...]
    busbw_bytes_per_s: tuple[tuple[float, ...], ...]
    time_s: tuple[tuple[float, ...], ...]


def bus_bandwidth_table(
    fabric: Fabric,
    size_bytes: float,
    *,
    scaleup_bw_bytes_per_s: float | None = None,
    generation: str | None = None,
    algorithm: str = "auto",
) -> BusBandwidthTable:
    """Bus bandwidth of every collective inside each level of ``fabric``.

    At level ``l`` the group is every GPU of one level-``l`` unit (stride 1); send/recv is
    a pair that crosses level ``l-1`` (stride = ranks of level ``l-1``).

    Args:
        fabric: the fabric.
        size_bytes: message size (nccl-tests convention), bytes.
        scaleup_bw_bytes_per_s: see :func:`link_levels`.
        generation: see :func:`link_levels`.
        algorithm: see :func:`collective_time_s`.
    """
    if not math.isfinite(size_bytes) or size_bytes <= 0:
        raise InputError("size_bytes", "must be finite and > 0", value=size_bytes)
    lv = link_levels(fabric, scaleup_bw_bytes_per_s=scaleup_bw_bytes_per_s, generation=generation)
    ranks = np.asarray(lv.ranks_per_level, dtype=float)
    names = tuple(
        _LEVEL_NAMES[i] if i < len(_LEVEL_NAMES) else f"tier-{i}" for i in range(len(ranks))
    )
    names = names[:-1] + ((names[-1] + " (whole fabric)"),) if len(names) > 1 else names
    sr_stride = np.concatenate([[1.0], ranks[:-1]])
    rows_bw, rows_t = [], []
    ops = tuple(Collective)
    for op in ops:
        if op is Collective.SEND_RECV:
            g, s = np.full_like(ranks, 2.0), sr_stride
        else:
            g, s = ranks, np.ones_like(ranks)
        t = collective_time_s(
            op,
            size_bytes=np.full_like(ranks, size_bytes),
            group_size=g,
            stride=s,
            levels=lv,
            algorithm=algorithm,
        )
        b = bus_bandwidth_bytes_per_s(op, size_bytes=size_bytes, time_s=t, group_size=g)
        rows_t.append(tuple(float(x) for x in t))
        rows_bw.append(tuple(float(x) for x in b))
    return BusBandwidthTable(
        size_bytes=float(size_bytes),
        level_names=names,
        group_sizes=tuple(int(x) for x in ranks),
        collectives=ops,
        busbw_bytes_per_s=tuple(rows_bw),
        time_s=tuple(rows_t),
    )
