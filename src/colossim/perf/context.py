"""What the step model needs besides the plans: model, training run, cluster, software
stack, efficiency constants and the network that prices collectives."""

from __future__ import annotations

from dataclasses import dataclass

from colossim.cluster import Cluster
from colossim.fabric.topology import Fabric
from colossim.perf.comm import Network, network_for
from colossim.workload.model import TransformerSpec
from colossim.workload.stack import Efficiency, StackProfile, efficiency, stack_profile
from colossim.workload.training import Training

__all__ = ["Context", "context"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """Everything the step model needs besides the plans."""

    model: TransformerSpec
    training: Training
    cluster: Cluster
    stack: StackProfile
    eff: Efficiency
    network: Network
    fabric: Fabric | None = None


def context(
    model: TransformerSpec,
    training: Training,
    cluster: Cluster,
    *,
    eff: Efficiency | None = None,
    stack: StackProfile | None = None,
    fabric: Fabric | None = None,
    nic_efficiency: float | None = None,
) -> Context:
    """Bundle model, run and cluster with the efficiency constants (catalog defaults
    unless ``eff`` / ``stack`` are given, as the calibration does).

    ``fabric``: the built scale-out fabric, whose levels (leaf, spine, core, with their
    oversubscription and efficiency) then price every collective; ``None`` = a flat
    non-blocking network at ``cluster.nic_efficiency``. ``nic_efficiency`` replaces the
    fabric's efficiency profile when given."""
    eff = eff or efficiency()
    return Context(
        model=model,
        training=training,
        cluster=cluster,
        stack=stack or stack_profile(training.framework),
        eff=eff,
        network=network_for(cluster, fabric, nic_efficiency=nic_efficiency),
        fabric=fabric,
    )
