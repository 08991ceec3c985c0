"""Collective costs as the step-time model sees them: the fabric's cost model, per plan.

There is one implementation of each collective: :func:`colossim.fabric.collectives.
collective_time_s` (NCCL's latency-bandwidth model on a hierarchy of link levels, with
ring, tree and in-switch algorithms). This module only decides which levels a cluster
has; :func:`colossim.perf.step.evaluate` calls it once per distinct communication key of
a batch of plans, which keeps it cheap inside the search.

- A scenario with a built fabric (:mod:`colossim.fabric.topology`) gets its levels: the
  scale-up domain, then leaf, spine and core, each with its reach, oversubscription and
  efficiency (adaptive-routing Ethernet, plain Ethernet, InfiniBand).
- Without a fabric (published runs, quick estimates), two levels: the scale-up domain
  and a non-blocking scale-out network at ``cluster.nic_efficiency`` of NIC line rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colossim.cluster import Cluster
from colossim.fabric.collectives import (
    Collective,
    LinkLevels,
    collective_time_s,
    link_levels,
    link_levels_simple,
)
from colossim.fabric.topology import Fabric

__all__ = ["Collective", "Network", "network_for"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Network:
    """The network of one cluster as the step model sees it.

    Attributes:
        levels: per-GPU link levels (scale-up domain first).
        scaleup_domain: GPUs per scale-up domain.
    """

    levels: LinkLevels
    scaleup_domain: int

    def time_s(
        self, op: Collective, *, size_bytes: np.ndarray, group_size: np.ndarray, stride: np.ndarray
    ) -> np.ndarray:
        """Seconds of one collective per element (arrays broadcast together); groups
        of one rank cost nothing."""
        return collective_time_s(
            op, size_bytes=size_bytes, group_size=group_size, stride=stride, levels=self.levels
        )


def network_for(
    cluster: Cluster, fabric: Fabric | None = None, *, nic_efficiency: float | None = None
) -> Network:
    """The step model's view of ``cluster``'s network.

    Args:
        cluster: GPUs, scale-up domain and NIC line rate.
        fabric: the built scale-out fabric; ``None`` = flat non-blocking scale-out network.
        nic_efficiency: with a fabric, an explicit achievable fraction of line rate that
            replaces the fabric's efficiency profile (scenario ``cluster.nic_efficiency``).
    """
    gpu = cluster.gpu
    if fabric is None:
        levels = link_levels_simple(
            gpu.scaleup_bw_bytes_per_s,
            scaleup_domain=cluster.scaleup_domain,
            nic_bw_bytes_per_s=cluster.nic_bw_bytes_per_s,
            efficiency=cluster.nic_efficiency,
            num_gpus=cluster.num_gpus,
            generation=gpu.generation,
        )
    else:
        levels = link_levels(
            fabric, scaleup_bw_bytes_per_s=gpu.scaleup_bw_bytes_per_s, generation=gpu.generation
        )
        if nic_efficiency is not None:
            scale = nic_efficiency / fabric.efficiency
            bw = (levels.bw_bytes_per_s[0], *(b * scale for b in levels.bw_bytes_per_s[1:]))
            isw = levels.in_switch_bw_bytes_per_s
            isw = (isw[0], *(b * scale for b in isw[1:])) if isw else isw
            levels = LinkLevels(
                bw_bytes_per_s=bw,
                latency_s=levels.latency_s,
                ranks_per_level=levels.ranks_per_level,
                in_switch_bw_bytes_per_s=isw,
                in_switch_latency_s=levels.in_switch_latency_s,
                cost_model=levels.cost_model,
            )
    return Network(levels=levels, scaleup_domain=cluster.scaleup_domain)
