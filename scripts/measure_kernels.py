"""Measure the kernel rates the step model uses, on the GPU this runs on, as catalog data.

    python scripts/measure_kernels.py --gpu-id h200-sxm-141gb --out measured.yaml
    PYTHONPATH=src python scripts/gemm_fit.py --file measured.yaml

Needs PyTorch with CUDA (not a colossim dependency: run it where the GPU is). Measures,
with CUDA events after warm-up, the median of ``--iters`` runs of

- dense GEMMs ``A[M,K] @ B[K,N]`` over training shapes, in bf16 and (Hopper and later,
  ``torch._scaled_mm``) fp8 e4m3 with per-tensor scales: the ``gemm_benchmarks`` table
  of ``kernels.yaml`` (rows M, N, K, TFLOPS), from which ``scripts/gemm_fit.py --file``
  derives the short-K constant;
- grouped GEMMs (``torch._grouped_mm``, where this PyTorch has it) at MoE shapes: the
  ``grouped_rows`` (groups, M per group, N, K, TFLOPS);
- the attention core, ``scaled_dot_product_attention`` on the flash backend, forward
  (causal and not) and backward (not causal) over sequence lengths and head dims, with
  the FLOP counts of ``attention.yaml``: a generation table of that file.

The output is one YAML document whose ``source`` names the GPU, driver, CUDA and PyTorch
versions and the date, so that it can be pasted into the catalog as it is.
``--device cpu`` times float32 GEMMs with numpy instead (no PyTorch): a check of this
script's plumbing (tests/test_measure_kernels.py), not data for the catalog.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import yaml

GEMM_M = (2048, 4096, 8192, 16384)
GEMM_NK = (512, 1024, 2048, 4096, 8192, 16384)
GROUPED = (
    (8, 4096, 4096, 7168),
    (8, 1024, 2048, 7168),
    (32, 512, 1536, 4096),
    (16, 2048, 768, 2048),
)
ATTN_SEQ = (512, 1024, 2048, 4096, 8192, 16384)
ATTN_HEAD_DIMS = (64, 128)
ATTN_TOKENS = 16384  # batch x sequence, as the FlashAttention benchmarks
ATTN_HIDDEN = 2048  # heads x head dim
QUICK = {"GEMM_M": (512,), "GEMM_NK": (256, 1024)}


def gemm_shapes(quick: bool) -> list[tuple[int, int, int]]:
    ms = QUICK["GEMM_M"] if quick else GEMM_M
    nk = QUICK["GEMM_NK"] if quick else GEMM_NK
    return [(m, n, k) for m in ms for n in nk for k in nk]


def tflops(flops: float, seconds: float) -> float:
    """FLOP/s in TFLOP/s, rounded as the catalog stores it."""
    return round(flops / seconds / 1e12, 2)


def _cpu_gemms(shapes, iters: int) -> list[list[float]]:
    rng = np.random.default_rng(0)
    rows = []
    for m, n, k in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        a @ b  # warm-up
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t0)
        rows.append([m, n, k, tflops(2.0 * m * n * k, statistics.median(times))])
    return rows


def _cuda_timer(torch, fn, iters: int) -> float:
    """Median seconds of ``fn`` over ``iters`` runs after three warm-ups."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def _cuda_gemms(torch, shapes, precision: str, iters: int) -> list[list[float]]:
    rows = []
    for m, n, k in shapes:
        a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(n, k, device="cuda", dtype=torch.bfloat16)
        if precision == "fp8":
            a8, b8 = a.to(torch.float8_e4m3fn), b.to(torch.float8_e4m3fn)
            one = torch.ones((), device="cuda")

            def fn(a8=a8, b8=b8, one=one):
                return torch._scaled_mm(
                    a8, b8.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16
                )
        else:

            def fn(a=a, b=b):
                return a @ b.t()

        rows.append([m, n, k, tflops(2.0 * m * n * k, _cuda_timer(torch, fn, iters))])
    return rows


def _cuda_grouped(torch, iters: int) -> list[list[float]]:
    if not hasattr(torch, "_grouped_mm"):
        return []
    rows = []
    for g, m, n, k in GROUPED:
        a = torch.randn(g * m, k, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(g, n, k, device="cuda", dtype=torch.bfloat16).transpose(-2, -1)
        offs = torch.arange(m, g * m + 1, m, device="cuda", dtype=torch.int32)
        sec = _cuda_timer(
            torch, lambda a=a, b=b, offs=offs: torch._grouped_mm(a, b, offs=offs), iters
        )
        rows.append([g, m, n, k, tflops(2.0 * g * m * n * k, sec)])
    return rows


def _attention_point(torch, sdpa, s: int, d: int, iters: int) -> tuple[float, float, float]:
    """TFLOP/s of the attention core at sequence ``s`` and head dim ``d``: forward causal,
    forward, backward (not causal), FLOPs as attention.yaml counts them."""
    shape = (ATTN_TOKENS // s, ATTN_HIDDEN // d, s, d)
    q, k, v = (
        torch.randn(shape, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        for _ in range(3)
    )
    flops = 4.0 * shape[0] * s * s * shape[1] * d
    causal = _cuda_timer(torch, lambda: sdpa(q, k, v, is_causal=True), iters)
    full = _cuda_timer(torch, lambda: sdpa(q, k, v), iters)
    out = sdpa(q, k, v)
    grad = torch.randn_like(out)
    bwd = _cuda_timer(
        torch, lambda: torch.autograd.grad(out, (q, k, v), grad, retain_graph=True), iters
    )
    return tflops(flops / 2, causal), tflops(flops, full), tflops(2.5 * flops, bwd)


def _cuda_attention(torch, iters: int) -> dict:
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.functional import scaled_dot_product_attention as sdpa

    table = {"seq_len": list(ATTN_SEQ), "forward_causal": {}, "forward": {}, "backward": {}}
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        for d in ATTN_HEAD_DIMS:
            points = [_attention_point(torch, sdpa, s, d, iters) for s in ATTN_SEQ]
            for i, key in enumerate(("forward_causal", "forward", "backward")):
                table[key][d] = [p[i] for p in points]
    return table


def _cuda_source(torch) -> str:
    import subprocess

    driver = subprocess.run(
        ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
        capture_output=True, text=True, check=False,
    ).stdout.strip().splitlines()  # fmt: skip
    return (
        f"measured by scripts/measure_kernels.py on {torch.cuda.get_device_name()}, driver "
        f"{driver[0] if driver else 'unknown'}, CUDA {torch.version.cuda}, PyTorch "
        f"{torch.__version__}, {datetime.date.today().isoformat()}"
    )


def measure(device: str, gpu_id: str, iters: int, quick: bool) -> dict:
    """Every table this device can measure, in the catalog's layout."""
    shapes = gemm_shapes(quick)
    if device == "cpu":
        src = f"numpy float32 GEMMs on the CPU ({datetime.date.today().isoformat()}): plumbing check, not catalog data"
        return {
            "gemm_benchmarks": {
                "gpu": gpu_id,
                "precision": "fp32-cpu",
                "rows": _cpu_gemms(shapes, iters),
                "grouped_rows": [],
                "source": src,
            }
        }
    try:
        import torch
    except ImportError:
        raise RuntimeError("PyTorch is needed on the GPU machine: pip install torch") from None
    if not torch.cuda.is_available():
        raise RuntimeError("PyTorch sees no CUDA device (run on the GPU, or --device cpu)")
    src = _cuda_source(torch)
    out = {}
    fp8 = torch.cuda.get_device_capability() >= (8, 9)
    for prec in ("bf16", "fp8") if fp8 else ("bf16",):
        grouped = _cuda_grouped(torch, iters) if prec == "bf16" else []
        rows = _cuda_gemms(torch, shapes, prec, iters)
        out[f"gemm_benchmarks_{prec}"] = {
            "gpu": gpu_id,
            "precision": prec,
            "rows": rows,
            "grouped_rows": grouped,
            "source": src,
        }
    out["attention_torch_sdpa_flash"] = {
        "gpu": gpu_id,
        "table": _cuda_attention(torch, iters),
        "source": src,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--gpu-id", required=True, help="catalog id of this GPU (gpus.yaml)")
    ap.add_argument("--out", required=True, type=Path, help="YAML file to write")
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="a few small shapes only")
    args = ap.parse_args(argv)
    try:
        tables = measure(args.device, args.gpu_id, max(args.iters, 1), args.quick)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # leaf lists (table rows) inline, one row per line
    text = yaml.safe_dump(tables, sort_keys=False, default_flow_style=None, width=100)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}: {', '.join(tables)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
