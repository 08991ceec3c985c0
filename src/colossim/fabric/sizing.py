"""Closed-form sizing of fat trees (folded Clos) from switch port counts.

Sizing rule (Al-Fares et al. SIGCOMM 2008; docs/sources.md: ALFARES-2008):

* a switch of radix ``k`` at the chosen port speed; a non-top tier-``t`` switch splits
  its ports into ``d_t`` down and ``u_t = k - d_t`` up, ``d_t / u_t`` = oversubscription
  ``o_t`` (``d_t = floor(k * o_t / (1 + o_t))``; 1:1 gives ``k/2``);
* an ``n``-tier tree whose top switches use all ``k`` ports downwards serves at most
  ``k * d_1 * ... * d_{n-1}`` endpoints: ``k`` (1 tier), ``k^2/2`` (2 tiers, non-blocking,
  [DERIVED] from the same port split) and ``k^3/4`` (3 tiers, Al-Fares et al.);
* the builder takes the smallest ``n`` whose capacity covers the endpoints;
* rail-optimised: NIC port ``i`` of every node goes to rail ``i``, and each rail is an
  independent plane (multiplane design: GPUs ~ rails x per-plane hosts; NVIDIA's "up to
  128K GPUs in two tiers" = 512^2/2; docs/sources.md: S-NET, JUNIPER-RAIL).

Counts per tier come from ports: ``L_1 = ceil(H / d_1)``, ``L_t = ceil(L_{t-1} u_{t-1} / d_t)``,
top ``L_n = ceil(L_{n-1} u_{n-1} / k)``; a full 3-tier k-ary tree gives ``k^2/2, k^2/2,
k^2/4`` switches ((k/2)^2 core switches, Al-Fares et al.).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from colossim.errors import InputError

__all__ = [
    "MAX_TIERS",
    "TierSizing",
    "ceil_div",
    "fat_tree_capacity",
    "fat_tree_switch_counts",
    "size_tiers",
    "tier_down_ports",
]

# MODEL: at most four switch tiers; radix-64 at 4 tiers already serves 2 x 32^4 = 2.1M
# endpoints per plane, beyond any cluster built or announced (docs/sources.md).
MAX_TIERS = 4


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

    Non-blocking (``d = k/2``): ``k``, ``k^2/2``, ``k^3/4`` (Al-Fares et al. 2008).
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


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, slots=True, kw_only=True)
class TierSizing:
    """Tier sizing of all planes (see :class:`Fabric` for the per-tier tuples)."""

    tiers: int
    planes: int
    hosts: int
    down_per_tier: tuple[int, ...]
    up_per_tier: tuple[int, ...]
    switches_per_tier: tuple[int, ...]
    links_plane: tuple[int, ...]  # links entering each tier, one plane
    links_per_tier: tuple[int, ...]


def size_tiers(
    *,
    rail: bool,
    num_gpus: int,
    gpus_per_node: int,
    ports_per_gpu: int,
    radix: int,
    down: tuple[int, ...],
    field: str,
) -> TierSizing:
    """Planes, endpoints per plane, tiers and switches/links per tier.

    Args:
        rail: rail-optimised (one plane per NIC-port position of a node) or one plane.
        num_gpus: GPUs attached.
        gpus_per_node: GPUs per server.
        ports_per_gpu: switch-facing ports per GPU (NICs x ports per NIC).
        radix: switch ports at the chosen speed.
        down: down ports per switch of tiers 1 .. MAX_TIERS-1 (:func:`tier_down_ports`).
        field: input field name for errors.
    """
    if rail:
        # MODEL: each NIC-port position of a node is a rail and an independent plane whose
        # endpoints are the nodes; a partial last node is counted as full.
        planes = gpus_per_node * ports_per_gpu
        hosts = ceil_div(num_gpus, gpus_per_node)
    else:
        planes = 1
        hosts = num_gpus * ports_per_gpu
    tiers_arr, sw_arr = fat_tree_switch_counts(hosts, radix=radix, down_ports=down)
    tiers = int(tiers_arr)
    if tiers > MAX_TIERS:
        cap = fat_tree_capacity(radix=radix, down_ports=down, tiers=MAX_TIERS)
        raise InputError(
            f"{field}.num_gpus",
            f"needs more than {MAX_TIERS} tiers of radix-{radix} switches "
            f"({hosts} endpoints per plane, capacity {cap})",
            value=num_gpus,
            fix="use a rail-optimised fabric, a higher-radix breakout or oversubscription",
        )
    per_plane = [int(x) for x in sw_arr[:tiers]]
    down_per_tier = tuple(list(down[: tiers - 1]) + [radix])
    up_per_tier = tuple(radix - d for d in down_per_tier[:-1]) + (0,)
    links_plane = [hosts] + [per_plane[t - 1] * up_per_tier[t - 1] for t in range(1, tiers)]
    return TierSizing(
        tiers=tiers,
        planes=planes,
        hosts=hosts,
        down_per_tier=down_per_tier,
        up_per_tier=up_per_tier,
        switches_per_tier=tuple(planes * x for x in per_plane),
        links_plane=tuple(links_plane),
        links_per_tier=tuple(planes * x for x in links_plane),
    )
