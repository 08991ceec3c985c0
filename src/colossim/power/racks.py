"""Physical build: racks, kW per rack, rows, halls and floor area (catalog ``racks.yaml``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from colossim.catalog import load_catalog
from colossim.errors import require_int, require_number
from colossim.units import W_PER_KW

__all__ = ["RackLayout", "rack_layout"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RackLayout:
    """Racks and floor space of the GPU servers.

    Attributes:
        design: ``racks.yaml`` entry used.
        gpus_per_rack: GPUs in one rack.
        racks: GPU racks (rounded up).
        kw_per_rack: rack power with every GPU at TDP (servers only), kW.
        rows: rows of ``racks_per_row`` racks (rounded up).
        halls: data halls of ``gpus_per_hall`` GPUs (rounded up).
        white_space_m2: rack floor with aisles, m2.
        floor_area_m2: white space plus electrical/mechanical support space, m2.
    """

    design: str
    gpus_per_rack: int
    racks: int
    kw_per_rack: float
    rows: int
    halls: int
    white_space_m2: float
    floor_area_m2: float


def _design(gpu_id: str) -> str:
    """Longest ``rack-<prefix>`` whose prefix starts ``gpu_id``; ``rack-default`` otherwise."""
    ids = [k for k in load_catalog("racks") if k != "rack-default"]
    match = [k for k in ids if gpu_id.startswith(k.removeprefix("rack-"))]
    return max(match, key=len) if match else "rack-default"


def rack_layout(*, gpu_id: str, num_gpus: int, server_peak_w_per_gpu: float) -> RackLayout:
    """Racks, rows, halls and floor area for ``num_gpus`` GPUs of type ``gpu_id``.

    Args:
        gpu_id: GPU catalog id (selects the rack design by prefix).
        num_gpus: GPUs in the cluster.
        server_peak_w_per_gpu: server power per GPU with the GPU at TDP, W.
    """
    require_int("cluster.num_gpus", num_gpus, minimum=1)
    require_number("power.server_peak_w_per_gpu", server_peak_w_per_gpu, minimum=0.0)
    design = _design(gpu_id)
    v = load_catalog("racks")[design].values
    per_rack = int(v["gpus_per_rack"])
    racks = math.ceil(num_gpus / per_rack)
    white = racks * float(v["m2_per_rack"])
    return RackLayout(
        design=design,
        gpus_per_rack=per_rack,
        racks=racks,
        kw_per_rack=per_rack * server_peak_w_per_gpu / W_PER_KW,
        rows=math.ceil(racks / int(v["racks_per_row"])),
        halls=math.ceil(num_gpus / int(v["gpus_per_hall"])),
        white_space_m2=white,
        floor_area_m2=white * float(v["support_area_factor"]),
    )
