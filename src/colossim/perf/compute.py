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
``kernels.yaml``, the one that finishes first. A grouped GEMM (MoE experts, one launch)
schedules the tiles of all its groups together, so its waves count every group's tiles.
A short reduction dimension K does not amortise the tile's fixed prologue and epilogue
time (filling the operand pipeline, writing the output tile): K / (K + k_half), k_half the
K whose main loop takes as long as that fixed part. It is measured at the 8-bit rate
(catalog ``kernels.yaml`` ``gemm_benchmarks``, derived by ``scripts/gemm_fit.py``) and
scales with the precision's rate: the fixed part takes the same time while the main loop
runs through K twice as fast at half the element width (:func:`gemm_half_dim`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from colossim.catalog import load_catalog
from colossim.hardware import GPU
from colossim.hardware import gpu as gpu_by_id

__all__ = [
    "GemmBenchmarks",
    "GemmTiles",
    "gemm_benchmarks",
    "gemm_ceiling_flop_per_s",
    "gemm_half_dim",
    "gemm_seconds",
    "gemm_shape_efficiency",
    "gemm_tiles",
    "modelled_tflops",
    "parse_gemm_benchmarks",
]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class GemmBenchmarks:
    """Measured GEMM throughput over shapes on one GPU and precision (catalog
    ``kernels.yaml`` ``gemm_benchmarks``)."""

    gpu: str
    precision: str
    m: np.ndarray
    n: np.ndarray
    k: np.ndarray
    tflops: np.ndarray
    grouped: np.ndarray  # rows of groups, M per group, N, K, TFLOPS
    source: str


def parse_gemm_benchmarks(values: dict, source: str) -> GemmBenchmarks:
    """A ``gemm_benchmarks`` table (catalog layout: gpu, precision, rows of M, N, K,
    TFLOPS, optional grouped_rows of groups, M per group, N, K, TFLOPS)."""
    rows = np.array(values["rows"], dtype=np.float64).reshape(-1, 4)
    grouped = np.array(values.get("grouped_rows") or [], dtype=np.float64).reshape(-1, 5)
    return GemmBenchmarks(
        gpu=str(values["gpu"]),
        precision=str(values["precision"]),
        m=rows[:, 0],
        n=rows[:, 1],
        k=rows[:, 2],
        tflops=rows[:, 3],
        grouped=grouped,
        source=source,
    )


@cache
def gemm_benchmarks() -> GemmBenchmarks:
    """The catalog's measured GEMM table (kernels.yaml ``gemm_benchmarks``)."""
    entry = load_catalog("kernels")["gemm_benchmarks"]
    return parse_gemm_benchmarks(entry.values, entry.source)


def gemm_half_dim(gpu: GPU, precision: str, half_dim_8bit: float) -> float:
    """K at which a GEMM tile's fixed prologue/epilogue time equals its main loop at
    ``precision``: ``half_dim_8bit`` (measured at the 8-bit rate) x this precision's peak
    relative to an 8-bit rate of twice the 16-bit peak (every catalog generation)."""
    return half_dim_8bit * gpu.peak(str(precision)) / (2.0 * gpu.peak("bf16"))


def gemm_ceiling_flop_per_s(gpu: GPU, precision: str) -> float:
    """Best measured dense matmul rate of ``gpu`` at ``precision`` (FLOP/s)."""
    eff = gpu.matmul_efficiency.get(str(precision), gpu.matmul_efficiency["bf16"])
    return gpu.peak(str(precision)) * min(eff, 1.0)


def gemm_shape_efficiency(
    m: np.ndarray,
    n: np.ndarray,
    k: np.ndarray,
    *,
    sm_count: int,
    k_half: float,
    groups: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Fraction (0, 1] of the GPU's matmul ceiling that an M x N x K GEMM reaches.

    Args:
        m, n: output dimensions (tokens, output features), arrays or scalars.
        k: reduction dimension.
        sm_count: SMs of the GPU (0: no wave quantisation).
        groups: GEMMs of this shape in one grouped launch (their tiles share the waves).
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
            count = gm * gn * groups
            util = util * count / (np.ceil(count / sm_count) * sm_count)
        best = np.maximum(best, rel * util)
    return best * k / (k + k_half)


def gemm_seconds(
    m: np.ndarray,
    n: np.ndarray,
    k: np.ndarray,
    *,
    ceiling: float,
    hbm_bytes_per_s: float,
    elem_bytes: float,
    sm_count: int,
    k_half: float,
    groups: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Seconds of ``groups`` M x N x K GEMMs in one launch: their FLOPs at ``ceiling``
    (FLOP/s, already times any factor <= 1) x the shape efficiency, and never less than
    the time to stream the operands and the output from HBM (roofline, Williams et al.
    2009): ``elem_bytes`` per input element, each of the three matrices once."""
    shape = gemm_shape_efficiency(m, n, k, sm_count=sm_count, k_half=k_half, groups=groups)
    flops = 2.0 * groups * m * n * k
    stream = elem_bytes * groups * (n * k + m * (n + k)) / hbm_bytes_per_s
    return np.maximum(flops / (ceiling * shape), stream)


# Bytes per input element of a GEMM precision (the benchmark tables' precisions).
GEMM_INPUT_BYTES = {"fp8": 1.0, "bf16": 2.0, "fp16": 2.0}


def modelled_tflops(
    b: GemmBenchmarks,
    m: np.ndarray,
    n: np.ndarray,
    k: np.ndarray,
    *,
    half_dim_8bit: float,
    hbm_efficiency: float,
    groups: np.ndarray | float = 1.0,
) -> np.ndarray:
    """TFLOP/s the GEMM model gives ``groups`` M x N x K GEMMs on the GPU and precision
    of benchmark table ``b`` (to set against its measured rows)."""
    g = gpu_by_id(b.gpu)
    t = gemm_seconds(
        m, n, k,
        ceiling=gemm_ceiling_flop_per_s(g, b.precision),
        hbm_bytes_per_s=g.hbm_bw_bytes_per_s * hbm_efficiency,
        elem_bytes=GEMM_INPUT_BYTES[b.precision],
        sm_count=g.sm_count,
        k_half=gemm_half_dim(g, b.precision, half_dim_8bit),
        groups=groups,
    )  # fmt: skip
    return 2.0 * groups * m * n * k / t / 1e12
