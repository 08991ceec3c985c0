"""Derive the short-K constant of the GEMM model from measured GEMM throughput.

    PYTHONPATH=src python scripts/gemm_fit.py

The catalog's ``kernels.yaml`` ``gemm_benchmarks`` holds measured FP8 GEMM throughput
over shapes on a Hopper GPU (DeepGEMM README). For the compute-bound rows (M >= 1024:
training shapes; the M = 64 / 128 rows are decode shapes bound by streaming weights)
this finds, by a scan, the k_half of ``K / (K + k_half)`` (perf/compute.py) that
minimises the RMS of log(model / measured), the model being the GPU's measured matmul
ceiling x tile/wave quantisation x that factor, under the HBM roofline. The result is
what ``efficiency.yaml`` stores as ``gemm_half_dim`` (at the 8-bit rate). It then prints
the grouped rows' measured / model ratios: the grouped-GEMM model (waves over all
groups' tiles) needs no extra factor when they sit near or above 1. Nothing here is
fitted to training throughput.
"""

from __future__ import annotations

import argparse

import numpy as np

from colossim.hardware import gpu
from colossim.perf.compute import (
    gemm_benchmarks,
    gemm_ceiling_flop_per_s,
    gemm_half_dim,
    gemm_seconds,
)
from colossim.workload.stack import efficiency

COMPUTE_BOUND_M = 1024  # rows with fewer tokens are decode shapes (weight streaming)
FP8_BYTES = 1.0


def model_tflops(m, n, k, *, half_dim_8bit: float, groups=1.0) -> np.ndarray:
    """Throughput the GEMM model predicts on the benchmark's GPU and precision."""
    bench = gemm_benchmarks()
    g = gpu(bench.gpu)
    t = gemm_seconds(
        m, n, k,
        ceiling=gemm_ceiling_flop_per_s(g, bench.precision),
        hbm_bytes_per_s=g.hbm_bw_bytes_per_s * efficiency().elementwise_bw_efficiency,
        elem_bytes=FP8_BYTES,
        sm_count=g.sm_count,
        k_half=gemm_half_dim(g, bench.precision, half_dim_8bit),
        groups=groups,
    )  # fmt: skip
    return 2.0 * groups * m * n * k / t / 1e12


def fit_half_dim(grid: np.ndarray) -> tuple[float, float]:
    """(k_half, RMS log error) minimising the error on the compute-bound rows."""
    b = gemm_benchmarks()
    sel = b.m >= COMPUTE_BOUND_M
    errs = [
        float(np.sqrt(np.mean(np.log(model_tflops(b.m, b.n, b.k, half_dim_8bit=kh) / b.tflops)[sel] ** 2)))
        for kh in grid
    ]  # fmt: skip
    i = int(np.argmin(errs))
    return float(grid[i]), errs[i]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.parse_args()
    b = gemm_benchmarks()
    kh, err = fit_half_dim(np.arange(16.0, 1025.0, 2.0))
    print(
        f"{b.gpu} {b.precision}: {len(b.m)} dense rows, {int((b.m >= COMPUTE_BOUND_M).sum())} compute-bound"
    )
    print(f"gemm_half_dim = {kh:.0f} (8-bit rate), RMS log error {err:.3f}")
    pred = model_tflops(b.m, b.n, b.k, half_dim_8bit=kh)
    for m, n, k, meas, mod in zip(b.m, b.n, b.k, b.tflops, pred, strict=True):
        print(f"  M {m:5.0f} N {n:5.0f} K {k:5.0f}  measured {meas:5.0f}  model {mod:5.0f} TFLOPS")
    gr = b.grouped
    ratio = gr[:, 4] / model_tflops(gr[:, 1], gr[:, 2], gr[:, 3], half_dim_8bit=kh, groups=gr[:, 0])
    print(f"grouped rows, measured / model: median {np.median(ratio):.2f}, min {ratio.min():.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
