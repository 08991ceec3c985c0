"""Scenario section ``cluster.fabric``: the scale-out network (pydantic v2).

Converted into the core :class:`colossim.fabric.topology.FabricConfig` by
:meth:`FabricSection.to_config`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from colossim.catalog import load_catalog
from colossim.errors import InputError
from colossim.fabric.topology import FabricConfig, FabricKind, HostLink
from colossim.scenario.known import require_known

__all__ = ["FabricSection"]

# Scale-out NICs per GPU: today's servers have 1 (8 per 8-GPU node); 64 is beyond any design.
MAX_NICS_PER_GPU = 64


def _ids_of_kind(kind: str) -> list[str]:
    return [k for k, e in load_catalog("network").items() if e.values.get("kind") == kind]


def _check_id(value: str, kind: str) -> str:
    return require_known(value, _ids_of_kind(kind), f"{kind} id")


class FabricSection(BaseModel):
    """The scale-out fabric: topology, switch, NICs, oversubscription, efficiency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["rail_fat_tree", "fat_tree"] = Field(
        "rail_fat_tree",
        description="rail-optimised fat tree (one plane per NIC rail) or plain fat tree",
    )
    switch: str = Field("sn5600", description="switch id in catalog/network.yaml")
    port_gbit_per_s: float | None = Field(
        None,
        gt=0,
        description="switch port speed (breakout), Gb/s; default: the switch's (SN5600: 400)",
    )
    nic_gbit_per_s: float | None = Field(
        None,
        gt=0,
        description="line rate of one NIC, Gb/s; default: the cluster's / GPU catalog's NIC rate",
    )
    nics_per_gpu: int = Field(1, gt=0, le=MAX_NICS_PER_GPU, description="scale-out NICs per GPU")
    nic: str | None = Field(
        None,
        description="NIC id for power and cost; default: the switch's default for the NIC rate",
    )
    oversubscription: float | tuple[float, ...] = Field(
        1.0,
        description="down:up bandwidth ratio; a number = leaf tier only; a list = tiers 1, 2, ...",
    )
    efficiency: str | None = Field(
        None,
        description="efficiency profile (spectrum-x, ethernet, infiniband, efa-measured)",
    )
    adaptive_routing: bool | None = Field(
        None,
        description="Ethernet only: true = spectrum-x, false = ethernet profile (efficiency wins)",
    )
    host_link: Literal["auto", "optical", "copper"] = Field(
        "auto",
        description="NIC-to-leaf medium; auto = optical if rail-optimised, else in-rack copper DAC",
    )

    @field_validator("switch")
    @classmethod
    def _known_switch(cls, v: str) -> str:
        return _check_id(v, "switch")

    @field_validator("nic")
    @classmethod
    def _known_nic(cls, v: str | None) -> str | None:
        return None if v is None else _check_id(v, "nic")

    @field_validator("efficiency")
    @classmethod
    def _known_profile(cls, v: str | None) -> str | None:
        return None if v is None else _check_id(v, "efficiency")

    @field_validator("oversubscription")
    @classmethod
    def _positive(cls, v: float | tuple[float, ...]) -> float | tuple[float, ...]:
        vals = (v,) if isinstance(v, (int, float)) else tuple(v)
        if not vals or any(not (x > 0) for x in vals):
            raise ValueError("every ratio must be > 0 (1.0 = non-blocking, 3.0 = 3:1)")
        return v

    @model_validator(mode="after")
    def _routing(self) -> FabricSection:
        if self.adaptive_routing is not None:
            protocol = load_catalog("network")[self.switch].values.get("protocol")
            if protocol != "ethernet":
                raise ValueError(
                    f"adaptive_routing applies to Ethernet switches; {self.switch!r} is {protocol}"
                )
        return self

    def efficiency_profile(self) -> str | None:
        """The efficiency profile id this section asks for (``None`` = switch default)."""
        if self.efficiency is not None:
            return self.efficiency
        if self.adaptive_routing is None:
            return None
        return "spectrum-x" if self.adaptive_routing else "ethernet"

    def to_config(
        self,
        num_gpus: int,
        gpus_per_node: int,
        scaleup_domain: int,
        *,
        gpu: str | None = None,
        nic_gbit_per_s: float | None = None,
    ) -> FabricConfig:
        """Build the core :class:`FabricConfig`.

        Args:
            num_gpus: GPUs in the cluster.
            gpus_per_node: GPUs per server.
            scaleup_domain: GPUs per scale-up (NVLink) domain.
            gpu: GPU catalog id (gives the scale-up link to the collective model and the
                default NIC rate).
            nic_gbit_per_s: cluster-level NIC rate, Gb/s, used when this section has none.
        """
        nic_rate = self.nic_gbit_per_s if self.nic_gbit_per_s is not None else nic_gbit_per_s
        if nic_rate is None and gpu is not None:
            nic_rate = load_catalog("gpus")[gpu].values.get("nic_gbit_per_s")
        if nic_rate is None:
            raise InputError(
                "cluster.fabric.nic_gbit_per_s",
                "no NIC rate given and none known for the GPU",
                fix="set cluster.fabric.nic_gbit_per_s, e.g. 400",
            )
        over = (
            (float(self.oversubscription),)
            if isinstance(self.oversubscription, (int, float))
            else tuple(float(x) for x in self.oversubscription)
        )
        return FabricConfig(
            num_gpus=int(num_gpus),
            gpus_per_node=int(gpus_per_node),
            scaleup_domain=int(scaleup_domain),
            nic_gbit_per_s=float(nic_rate),
            switch=self.switch,
            nics_per_gpu=self.nics_per_gpu,
            port_gbit_per_s=self.port_gbit_per_s,
            oversubscription=over,
            kind=FabricKind(self.kind),
            efficiency=self.efficiency_profile(),
            nic=self.nic,
            host_link=HostLink(self.host_link),
            gpu=gpu,
        )
