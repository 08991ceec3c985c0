"""Derive the short-K constant of the GEMM model from measured GEMM throughput.

    PYTHONPATH=src python scripts/gemm_fit.py [--file measured.yaml]

The catalog's ``kernels.yaml`` ``gemm_benchmarks`` holds measured FP8 GEMM throughput
over shapes on a Hopper GPU (DeepGEMM README). For the compute-bound rows (M >= 1024:
training shapes; the M = 64 / 128 rows are decode shapes bound by streaming weights)
this finds, by a scan, the k_half of ``K / (K + k_half)`` (perf/compute.py) that
minimises the RMS of log(model / measured), the model being the GPU's measured matmul
ceiling x tile/wave quantisation x that factor, under the HBM roofline. The result is
what ``efficiency.yaml`` stores as ``gemm_half_dim`` (at the 8-bit rate). It then prints
the grouped rows' measured / model ratios: the grouped-GEMM model (waves over all
groups' tiles) needs no extra factor when they sit near or above 1. Nothing here is
fitted to training throughput. ``--file``: a table written by
``scripts/measure_kernels.py`` on a GPU (each ``gemm_benchmarks*`` entry in turn) instead
of the catalog's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from colossim.errors import InputError
from colossim.perf.compute import (
    GemmBenchmarks,
    gemm_benchmarks,
    modelled_tflops,
    parse_gemm_benchmarks,
)
from colossim.workload.stack import efficiency
from colossim.yamlio import load_yaml

COMPUTE_BOUND_M = 1024  # rows with fewer tokens are decode shapes (weight streaming)


def model_tflops(b: GemmBenchmarks, m, n, k, *, half_dim_8bit: float, groups=1.0) -> np.ndarray:
    hbm = efficiency().elementwise_bw_efficiency
    return modelled_tflops(
        b, m, n, k, half_dim_8bit=half_dim_8bit, hbm_efficiency=hbm, groups=groups
    )


def fit_half_dim(b: GemmBenchmarks, grid: np.ndarray) -> tuple[float, float]:
    """(k_half at the 8-bit rate, RMS log error) minimising the error on the
    compute-bound rows of ``b``."""
    sel = b.m >= COMPUTE_BOUND_M
    errs = [
        float(np.sqrt(np.mean(np.log(model_tflops(b, b.m, b.n, b.k, half_dim_8bit=kh) / b.tflops)[sel] ** 2)))
        for kh in grid
    ]  # fmt: skip
    i = int(np.argmin(errs))
    return float(grid[i]), errs[i]


def tables(path: Path | None) -> list[GemmBenchmarks]:
    if path is None:
        return [gemm_benchmarks()]
    data, _ = load_yaml(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        parse_gemm_benchmarks(v, str(v.get("source", path)))
        for key, v in data.items()
        if key.startswith("gemm_benchmarks")
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--file", type=Path, help="a table of scripts/measure_kernels.py")
    args = ap.parse_args()
    try:
        found = tables(args.file)
    except (OSError, KeyError, ValueError, InputError) as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 2
    for b in found:
        report(b)
    return 0


def report(b: GemmBenchmarks) -> None:
    kh, err = fit_half_dim(b, np.arange(16.0, 2049.0, 2.0))
    print(
        f"{b.gpu} {b.precision}: {len(b.m)} dense rows, {int((b.m >= COMPUTE_BOUND_M).sum())} compute-bound"
    )
    print(f"gemm_half_dim = {kh:.0f} (8-bit rate), RMS log error {err:.3f}")
    pred = model_tflops(b, b.m, b.n, b.k, half_dim_8bit=kh)
    for m, n, k, meas, mod in zip(b.m, b.n, b.k, b.tflops, pred, strict=True):
        print(f"  M {m:5.0f} N {n:5.0f} K {k:5.0f}  measured {meas:5.0f}  model {mod:5.0f} TFLOPS")
    gr = b.grouped
    if len(gr):
        ratio = gr[:, 4] / model_tflops(
            b, gr[:, 1], gr[:, 2], gr[:, 3], half_dim_8bit=kh, groups=gr[:, 0]
        )
        print(
            f"grouped rows, measured / model: median {np.median(ratio):.2f}, min {ratio.min():.2f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
