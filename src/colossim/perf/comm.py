"""Collective communication cost on a cluster, vectorised over groups.

The placement rule: ranks are numbered node-major and the parallel dimensions are laid
out innermost-first in Megatron order (tp, cp, ep, dp, pp). A group of ``group_size``
ranks whose consecutive members are ``stride`` ranks apart has
``per_domain = clip(domain / stride, 1, group_size)`` members in each scale-up domain.

- Inside one domain: NVLink ring, busbw = NVLink unidirectional bandwidth x efficiency.
- Across domains: hierarchical collective; the NIC carries 1/per_domain of the ring
  traffic of each rank, so busbw = min(NVLink busbw, NIC x efficiency x (n-1)/(k-1)),
  k = domains spanned (nccl-tests relation, facts.md 5.1).
- Time = latency + busbw factor x size / busbw, with nccl-tests factors (all-reduce
  2(n-1)/n; reduce-scatter, all-gather, all-to-all (n-1)/n; send/recv 1).
- All-to-all cannot use the hierarchy: the share of its bytes that leaves the domain
  goes over the NIC.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from colossim.perf.profile import Efficiency
from colossim.workload import Cluster

__all__ = ["Collective", "Network", "network_for"]


class Collective(Enum):
    ALL_REDUCE = "all_reduce"
    REDUCE_SCATTER = "reduce_scatter"
    ALL_GATHER = "all_gather"
    ALL_TO_ALL = "all_to_all"
    SEND_RECV = "send_recv"


@dataclass(frozen=True, slots=True, kw_only=True)
class Network:
    """Per-GPU view of the links (SI units)."""

    domain: int
    scaleup_busbw_bytes_per_s: float
    nic_busbw_bytes_per_s: float
    latency_intra_s: float
    latency_inter_s: float

    def time_s(
        self, op: Collective, *, size_bytes: np.ndarray, group_size: np.ndarray, stride: np.ndarray
    ) -> np.ndarray:
        """Seconds for one collective per group (arrays broadcast together)."""
        n = np.asarray(group_size, dtype=np.float64)
        size = np.asarray(size_bytes, dtype=np.float64)
        stride = np.asarray(stride, dtype=np.float64)
        per_domain = np.clip(np.floor(self.domain / stride), 1.0, n)
        domains = np.ceil(n / per_domain)
        multi = domains > 1
        nic = self.nic_busbw_bytes_per_s * np.where(multi, (n - 1) / np.maximum(domains - 1, 1), 1.0)
        busbw = np.where(multi, np.minimum(self.scaleup_busbw_bytes_per_s, nic), self.scaleup_busbw_bytes_per_s)
        # MODEL: latency = one intra-domain step + 2 log2(domains) network steps (tree /
        # hierarchical algorithms NCCL picks at scale), NCCL-TUNE constants.
        latency = self.latency_intra_s + np.where(multi, 2 * np.log2(np.maximum(domains, 1)) * self.latency_inter_s, 0)
        frac = (n - 1) / np.maximum(n, 1)
        if op is Collective.ALL_REDUCE:
            t = 2 * frac * size / busbw
        elif op in (Collective.REDUCE_SCATTER, Collective.ALL_GATHER):
            t = frac * size / busbw
        elif op is Collective.ALL_TO_ALL:
            inside = (per_domain - 1) / np.maximum(n, 1)
            outside = (n - per_domain) / np.maximum(n, 1)
            t = size * (inside / self.scaleup_busbw_bytes_per_s + outside / self.nic_busbw_bytes_per_s)
        else:  # SEND_RECV: point to point to the next group member
            bw = np.where(stride >= self.domain, self.nic_busbw_bytes_per_s, self.scaleup_busbw_bytes_per_s)
            t = size / bw
        return np.where(n > 1, latency + t, 0.0)


def network_for(cluster: Cluster, eff: Efficiency) -> Network:
    """The per-GPU network view of a cluster."""
    return Network(
        domain=cluster.scaleup_domain,
        scaleup_busbw_bytes_per_s=cluster.gpu.scaleup_bw_bytes_per_s * eff.nvlink_efficiency,
        nic_busbw_bytes_per_s=cluster.nic_bw_bytes_per_s * cluster.nic_efficiency,
        latency_intra_s=eff.collective_latency_intra_s,
        latency_inter_s=eff.collective_latency_inter_s,
    )
