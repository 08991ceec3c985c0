"""Kernel rates of the step-time model: GEMMs as a function of shape and precision, under
the measured ceiling of each GPU.

GEMM throughput = peak(precision) x ``matmul_efficiency`` (the best measured dense
matmul rate of the GPU, "maximum achievable matmul FLOPS", catalog ``gpus.yaml``)
x shape efficiency x stack factor x clock factor, where every factor after the ceiling
is at most 1: no GEMM runs above its GPU's measured ceiling (tests/test_kernels.py).

Shape efficiency (NVIDIA Deep Learning Performance Guide, "Matrix Multiplication
Background"): the M x N output is cut into tiles; the padded part of edge tiles is
wasted (tile quantisation) and the tiles run in waves of one per SM, the last wave
partly empty (wave quantisation). The library picks, among the tiles of catalog
``kernels.yaml``, the one that finishes first. A short reduction dimension K does not
amortise the tile's prologue and epilogue: K / (K + k_half).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from colossim.catalog import load_catalog
from colossim.hardware import GPU

__all__ = ["GemmTiles", "gemm_ceiling_flop_per_s", "gemm_shape_efficiency", "gemm_tiles"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GemmTiles:
    """Output tiles a GEMM library chooses from (catalog ``kernels.yaml``)."""

    tile_m: tuple[int, ...]
    tile_n: tuple[int, ...]
    relative_efficiency: tuple[float, ...]


@cache
def gemm_tiles() -> GemmTiles:
    v = load_catalog("kernels")["gemm_tiles"].values
    return GemmTiles(
        tile_m=tuple(int(x) for x in v["tile_m"]),
        tile_n=tuple(int(x) for x in v["tile_n"]),
        relative_efficiency=tuple(float(x) for x in v["relative_efficiency"]),
    )


def gemm_ceiling_flop_per_s(gpu: GPU, precision: str) -> float:
    """Best measured dense matmul rate of ``gpu`` at ``precision`` (FLOP/s)."""
    eff = gpu.matmul_efficiency.get(str(precision), gpu.matmul_efficiency["bf16"])
    return gpu.peak(str(precision)) * min(eff, 1.0)


def gemm_shape_efficiency(
    m: np.ndarray, n: np.ndarray, k: np.ndarray, *, sm_count: int, k_half: float
) -> np.ndarray:
    """Fraction (0, 1] of the GPU's matmul ceiling that an M x N x K GEMM reaches.

    Args:
        m, n: output dimensions (tokens, output features), arrays or scalars.
        k: reduction dimension.
        sm_count: SMs of the GPU (0: no wave quantisation).
        k_half: K at which the reduction-length factor is one half.
    """
    tiles = gemm_tiles()
    m = np.maximum(np.asarray(m, dtype=np.float64), 1.0)
    n = np.maximum(np.asarray(n, dtype=np.float64), 1.0)
    k = np.maximum(np.asarray(k, dtype=np.float64), 1.0)
    best = np.zeros(np.broadcast(m, n).shape)
    for tm, tn, rel in zip(tiles.tile_m, tiles.tile_n, tiles.relative_efficiency, strict=True):
        gm, gn = np.ceil(m / tm), np.ceil(n / tn)
        util = (m * n) / (gm * tm * gn * tn)
        if sm_count > 0:
            count = gm * gn
            util = util * count / (np.ceil(count / sm_count) * sm_count)
        best = np.maximum(best, rel * util)
    return best * k / (k + k_half)
