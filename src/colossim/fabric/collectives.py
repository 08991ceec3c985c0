"""Vectorised cost of NCCL-style collectives on a hierarchical network.

Time of one collective = latency + bytes / bandwidth, following NCCL's own cost model
(NCCL-TUNE: github NVIDIA/nccl @ 5067397c, src/graph/tuning.cc) with bandwidths taken from
measured bus bandwidths (nccl-tests doc/PERFORMANCE.md definitions, NT-PERF; measurements
in NCCL-TESTS-212 and S-NET). Keys are those of docs/sources.md.

The network is seen per GPU as a stack of levels (:class:`colossim.fabric.levels.LinkLevels`,
built by :mod:`colossim.fabric.levels`): level 0 is the
scale-up domain (NVLink), levels 1.. are the scale-out tiers (leaf, spine, core). A group
of ``g`` ranks at stride ``s`` (ranks laid out node-major) spans ``g * s`` consecutive
ranks; its bottleneck is the highest level it spans. A group that spans several scale-up
domains with ``m > 1`` members per domain runs hierarchically: an intra-domain step on
NVLink and an inter-domain step among ``n = ceil(g / m)`` domains, each GPU moving
``1/m`` of the data over its own NIC (per-NIC rate = busbw x (k-1)/(n-1), the
hierarchical-collective derivation of S-NET).

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

from colossim.errors import InputError
from colossim.fabric.levels import (
    LinkLevels,
    NcclConstants,
    link_levels,
    link_levels_simple,
    nccl_constants,
)
from colossim.fabric.topology import Fabric

# LinkLevels, link_levels and link_levels_simple moved to colossim.fabric.levels; they stay
# importable from here.
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
    size, g, s = _checked_inputs(size_bytes, group_size, stride)
    nccl = nccl_constants(levels.cost_model)
    ring_lat, tree_lat = _step_latencies(nccl, levels)
    p = _placement(op, g, s, levels)
    v = _volumes(op, size, g, p)
    want_tree = op is Collective.ALL_REDUCE and algo in (Algorithm.AUTO, Algorithm.TREE)
    t_ring, t_tree = _ring_and_tree(
        nccl, p, v, ring_lat=ring_lat, tree_lat=tree_lat, want_tree=want_tree
    )
    t_best = t_ring
    if op is Collective.ALL_REDUCE and algo in (Algorithm.AUTO, Algorithm.IN_SWITCH):
        t_isw = _in_switch_all_reduce(
            levels, nccl, size=size, p=p, v=v, tree_latl_simple=tree_lat[p.lvl, 2]
        )
        if algo is Algorithm.IN_SWITCH:
            t_best = np.where(np.isfinite(t_isw), t_isw, t_ring)
        else:
            t_best = np.minimum(np.minimum(t_ring, t_tree), t_isw)
    elif want_tree and algo is Algorithm.TREE:
        t_best = t_tree

    done = (g <= 1) | (size <= 0)
    return np.where(done, 0.0, t_best)


def _checked_inputs(
    size_bytes: np.ndarray, group_size: np.ndarray, stride: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sizes (finite, >= 0), group sizes and strides (whole numbers >= 1), broadcast."""
    size, g, s = np.broadcast_arrays(
        np.asarray(size_bytes, dtype=float),
        np.asarray(group_size, dtype=float),
        np.asarray(stride, dtype=float),
    )
    if not np.all(np.isfinite(size)) or np.any(size < 0):
        raise InputError("size_bytes", "must be finite and >= 0", value=size.ravel()[:4].tolist())
    return size, _as_counts("group_size", g), _as_counts("stride", s)


def _step_latencies(nccl: NcclConstants, levels: LinkLevels) -> tuple[np.ndarray, np.ndarray]:
    """Ring and tree step latency per level and protocol, shape (levels, 3), s.

    NCCL-TUNE's hwLatencies, scaled so that the Simple ring value equals the level's
    ``latency_s`` (NVLink row at level 0, NET above).
    """
    n_lv = len(levels.bw_bytes_per_s)
    lat_simple = np.asarray(levels.latency_s, dtype=float)
    ring_ratio = np.stack(
        [nccl.nvlink_ring_s / nccl.nvlink_ring_s[2]]
        + [nccl.net_ring_s / nccl.net_ring_s[2]] * (n_lv - 1)
    )
    tree_ratio = np.stack(
        [nccl.nvlink_tree_s / nccl.nvlink_ring_s[2]]
        + [nccl.net_tree_s / nccl.net_ring_s[2]] * (n_lv - 1)
    )
    return ring_ratio * lat_simple[:, None], tree_ratio * lat_simple[:, None]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Placement:
    """Where a group sits: bottleneck level, members per scale-up domain, domains spanned."""

    lvl: np.ndarray  # highest level the group spans (index into the levels)
    m: np.ndarray  # members per scale-up domain
    n: np.ndarray  # scale-up domains spanned
    b0: float  # scale-up bandwidth, bytes/s
    bl: np.ndarray  # bandwidth of the bottleneck level, bytes/s


def _placement(op: Collective, g: np.ndarray, s: np.ndarray, levels: LinkLevels) -> _Placement:
    ranks = np.asarray(levels.ranks_per_level, dtype=float)
    bw = np.asarray(levels.bw_bytes_per_s, dtype=float)
    # Placement: the group spans g*s consecutive ranks (a send/recv pair spans 2*s).
    # MODEL: groups are aligned to level boundaries (no straddling).
    span = 2.0 * s if op is Collective.SEND_RECV else g * s
    lvl = np.minimum(np.searchsorted(ranks, span, side="left"), len(bw) - 1)
    m = np.clip(np.floor(ranks[0] / s), 1.0, g)
    return _Placement(lvl=lvl, m=m, n=np.ceil(g / m), b0=bw[0], bl=bw[lvl])


@dataclass(frozen=True, slots=True, kw_only=True)
class _Volumes:
    """Bytes each GPU moves and steps it takes, intra-domain (0) and inter-domain (1)."""

    v0: np.ndarray
    v1: np.ndarray
    intra_steps: np.ndarray
    inter_steps: np.ndarray


def _volumes(op: Collective, size: np.ndarray, g: np.ndarray, p: _Placement) -> _Volumes:
    """The algorithm's data movement per GPU over NVLink (v0) and over its NIC (v1).

    nccl-tests factors (NT-PERF) applied per hierarchical step: intra-domain on ``m`` ranks,
    inter-domain on ``n`` ranks with ``1/m`` of the data per GPU.
    """
    m, n = p.m, p.n
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
        on_nvlink = p.lvl == 0
        v0 = np.where(on_nvlink, size, 0.0)
        v1 = np.where(on_nvlink, 0.0, size)
        intra_steps, inter_steps = on_nvlink.astype(float), (~on_nvlink).astype(float)
    return _Volumes(v0=v0, v1=v1, intra_steps=intra_steps, inter_steps=inter_steps)


def _ring_and_tree(
    nccl: NcclConstants,
    p: _Placement,
    v: _Volumes,
    *,
    ring_lat: np.ndarray,
    tree_lat: np.ndarray,
    want_tree: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Ring and tree times, each the fastest of NCCL's three protocols (tree: inf if unwanted)."""
    m, n, lvl = p.m, p.n, p.lvl
    multi = n > 1
    lat0 = ring_lat[0]  # (3,)
    f = nccl.protocol_bw_frac  # (3,)
    # MODEL: the intra- and inter-domain steps are pipelined (NCCL splits the buffer into
    # chunks over channels), so the bandwidth term is the slower step; latencies add.
    t_bw = np.maximum(v.v0 / p.b0, v.v1 / p.bl)  # Simple; LL/LL128 divide by their bw share
    if want_tree:
        log2n = np.log2(n)
    t_ring = np.full(m.shape, np.inf)
    t_tree = np.full(m.shape, np.inf)
    for k in range(3):  # LL, LL128, Simple; each pass is vectorised over all elements
        intra_lat = np.where(multi, max(lat0[k], nccl.net_overhead_s[k]), lat0[k])
        # NCCL-TUNE ring: base + intra steps x intraLat + inter steps x interLat
        t = (
            nccl.base_ring_s[k]
            + v.intra_steps * intra_lat
            + v.inter_steps * ring_lat[lvl, k]
            + t_bw / f[k]
        )
        np.minimum(t_ring, t, out=t_ring)
        if want_tree:
            # NCCL-TUNE tree: base + 2((ppn-1) intraLat + log2(nNodes) interLat), 0.92x bw
            t = (
                nccl.base_tree_s[k]
                + 2.0 * ((m - 1.0) * tree_lat[0, k] + log2n * tree_lat[lvl, k])
                + t_bw / (f[k] * nccl.tree_bw_frac)
            )
            np.minimum(t_tree, t, out=t_tree)
    return t_ring, t_tree


def _in_switch_all_reduce(
    levels: LinkLevels,
    nccl: NcclConstants,
    *,
    size: np.ndarray,
    p: _Placement,
    v: _Volumes,
    tree_latl_simple: np.ndarray,
) -> np.ndarray:
    """All-reduce with in-switch reduction where available (inf where none is used)."""
    m, n, lvl = p.m, p.n, p.lvl
    n_lv = len(levels.bw_bytes_per_s)
    isw_bw = np.asarray(levels.in_switch_bw_bytes_per_s or (0.0,) * n_lv, dtype=float)
    isw_lat = np.asarray(levels.in_switch_latency_s or (0.0,) * n_lv, dtype=float)
    simple = 2
    # NVLS: each GPU sends its buffer to the switch once and receives the sum once, so
    # time = S / algbw (nccl-tests issue #212: algbw ~275 GB/s on 8x H100, NCCL-TESTS-212).
    # Steps without in-switch support use the ring bandwidth; inside the domain with the
    # ring latency, across domains with NCCL's (NVLS)Tree term base + 2 log2(nNodes)
    # interLat (NCCL-TUNE).
    intra = m > 1
    if isw_bw[0] > 0:
        has0 = intra
        t0 = np.where(intra, size / isw_bw[0], 0.0)
        lat0 = np.where(intra, isw_lat[0], 0.0)
    else:
        has0 = np.zeros(size.shape, dtype=bool)
        t0 = v.v0 / p.b0
        lat0 = np.where(
            intra, nccl.base_ring_s[simple] + 2.0 * (m - 1.0) * levels.latency_s[0], 0.0
        )
    inter = n > 1
    level_has = isw_bw > 0
    hasl = level_has[lvl] & inter
    bw_safe = np.where(level_has, isw_bw, np.inf)  # per level: SHARP algbw or none
    t1 = np.where(hasl, size / m / bw_safe[lvl], v.v1 / p.bl)
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
    (reduce-scatter, all-gather, all-to-all) or 1 (send/recv) (NT-PERF: nccl-tests
    doc/PERFORMANCE.md).

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
