"""Scenario sections of mixed-generation clusters and their build-out: ``cluster.partitions``
(groups of one GPU type each) and ``phases`` (dated steps that add partitions and power).

A partition is a homogeneous group of servers: one GPU type, its node size, NVLink domain
and NIC. ``cluster`` fields that a partition leaves out (``gpus_per_node``,
``scaleup_domain``, ``nic_gbit_per_s``) apply to it, then the GPU's catalog defaults.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from colossim.catalog import load_catalog
from colossim.scenario.bounds import (
    MAX_GPUS,
    MAX_GPUS_PER_NODE,
    MAX_NIC_GBIT_PER_S,
    MAX_SCALEUP_DOMAIN,
)
from colossim.scenario.known import require_known

__all__ = ["MAX_PARTITIONS", "MAX_PHASES", "PartitionSection", "PhaseSection"]

# A cluster of more GPU types than this is a typo; each partition costs a search.
MAX_PARTITIONS = 16
MAX_PHASES = 64
# Power of one site: far above any announced campus (multi-GW), below absurd magnitudes.
MAX_SITE_MW = 1e6


class PartitionSection(BaseModel):
    """One homogeneous group of the cluster: a GPU type and how many."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="label (default: the GPU id)")
    gpu: str = Field(description="GPU catalog id (see `colossim catalog`)")
    num_gpus: int = Field(gt=0, le=MAX_GPUS, description="GPUs in this partition")
    gpus_per_node: int | None = Field(
        None,
        gt=0,
        le=MAX_GPUS_PER_NODE,
        description="GPUs per server; default cluster's, then catalog",
    )
    scaleup_domain: int | None = Field(
        None,
        gt=0,
        le=MAX_SCALEUP_DOMAIN,
        description="GPUs per NVLink domain; default cluster's, then catalog",
    )
    nic_gbit_per_s: float | None = Field(
        None, gt=0, le=MAX_NIC_GBIT_PER_S, description="scale-out NIC line rate per GPU, Gb/s"
    )

    @field_validator("gpu")
    @classmethod
    def _known_gpu(cls, v: str) -> str:
        return require_known(v, list(load_catalog("gpus")), "GPU id")

    @property
    def label(self) -> str:
        return self.name or self.gpu


class PhaseSection(BaseModel):
    """One dated step of the build-out: what it adds, and the power the site has from then on.

    Power fields are the site's totals after the phase (left out: unchanged from the
    phase before)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="label, e.g. 'Colossus 100k'")
    date: dt.date = Field(description="when the phase is in service (YYYY-MM-DD)")
    partitions: list[PartitionSection] = Field(
        default_factory=list, max_length=MAX_PARTITIONS, description="GPUs added in this phase"
    )
    grid_mw: float | None = Field(
        None, gt=0, le=MAX_SITE_MW, description="grid import capacity from this phase on, MW"
    )
    onsite_mw: float | None = Field(
        None,
        ge=0,
        le=MAX_SITE_MW,
        description="on-site generation (e.g. gas turbines) from this phase on, MW",
    )
    battery_units: int | None = Field(
        None,
        ge=0,
        le=1_000_000,
        description="battery units installed from this phase on (default: sized by the tool)",
    )
    note: str = Field("", description="sources and assumptions of this phase")
