"""scripts/measure_kernels.py, the GPU kernel measurement that feeds the catalog: its
plumbing on the CPU (numpy GEMMs), and one clear error where no GPU stack is present."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from colossim.perf.compute import parse_gemm_benchmarks
from colossim.yamlio import load_yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "measure_kernels.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def test_cpu_measurement_writes_a_catalog_table(tmp_path: Path) -> None:
    out = tmp_path / "m.yaml"
    r = _run(
        "--gpu-id", "h100-sxm-80gb", "--out", str(out), "--device", "cpu", "--quick", "--iters", "2"
    )
    assert r.returncode == 0, r.stderr
    data, _ = load_yaml(out.read_text(encoding="utf-8"), filename=str(out))
    entry = data["gemm_benchmarks"]
    table = parse_gemm_benchmarks(entry, entry["source"])
    # the quick grid: one M, two N and two K values, every combination once
    assert len(table.m) == 4 and set(table.m) == {512.0}
    assert set(zip(table.n, table.k, strict=True)) == {
        (256, 256),
        (256, 1024),
        (1024, 256),
        (1024, 1024),
    }
    assert np.all(np.isfinite(table.tflops)) and np.all(table.tflops > 0)
    assert "not catalog data" in table.source  # a CPU table is never passed off as a GPU's


def test_gpu_measurement_without_cuda_is_one_clear_error(tmp_path: Path) -> None:
    r = _run("--gpu-id", "h100-sxm-80gb", "--out", str(tmp_path / "m.yaml"))
    if r.returncode == 0:  # a machine with PyTorch and a GPU: the bf16 table is there
        assert "gemm_benchmarks_bf16" in (tmp_path / "m.yaml").read_text(encoding="utf-8")
        return
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m.yaml").exists()
