"""The network as one GPU sees it: a stack of levels, each with a bandwidth and a latency.

Level 0 is the scale-up domain (NVLink), levels 1.. are the scale-out tiers (leaf, spine,
core) of a built fabric (:func:`link_levels`) or one flat non-blocking tier
(:func:`link_levels_simple`). Bandwidths are achievable rates: line rate x the measured
efficiency of the scale-up link profile or of the fabric (nccl-tests bus bandwidths;
docs/sources.md: NCCL-TESTS-212, S-NET). Latencies are NCCL's own per-step constants
(NCCL-TUNE: github NVIDIA/nccl @ 5067397c, src/graph/tuning.cc; docs/sources.md: NCCL-TUNE)
plus the switch hops of each level. :mod:`colossim.fabric.collectives` prices collectives
on these levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from colossim.catalog import lookup
from colossim.errors import InputError
from colossim.fabric.topology import Fabric, catalog_entry

__all__ = [
    "LinkLevels",
    "NcclConstants",
    "link_levels",
    "link_levels_simple",
    "nccl_constants",
]

_US = 1e-6
# MODEL: "whole cluster" reach of link_levels_simple when the GPU count is not given.
_UNBOUNDED_RANKS = 2**53


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
class NcclConstants:
    """NCCL's cost-model constants (NCCL-TUNE: github NVIDIA/nccl @ 5067397c,
    src/graph/tuning.cc) in SI units; protocol axis is [LL, LL128, Simple]."""

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


def nccl_constants(cost_model: str) -> NcclConstants:
    """The ``collective_model`` entry ``cost_model`` of ``catalog/network.yaml``, in seconds."""
    v = catalog_entry(cost_model, kind="collective_model", field="link_levels.cost_model").values
    simple_factor = np.array([1.0, 1.0, float(v["simple_net_overhead_factor"])])
    return NcclConstants(
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
        # overhead (1 us on Intel hosts), x3 for the Simple protocol
        net_overhead_s=float(v["net_overhead_us"]) * _US * simple_factor,
        sharp_algbw_frac=float(v["sharp_algbw_frac"]),
    )


def _scaleup_profile(generation: str) -> dict:
    return catalog_entry(
        f"scaleup-{generation}", kind="scaleup", field="cluster.gpu.generation"
    ).values


def _level_latencies(
    nccl: NcclConstants, *, hop_latency_s: float, levels: int
) -> tuple[float, ...]:
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
    nccl = nccl_constants(cost_model)
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
    nccl = nccl_constants(cost_model)
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
