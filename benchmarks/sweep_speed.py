"""Sweep throughput: scenarios per second of a 1,000-point sweep, locally and on Ray.

    python benchmarks/sweep_speed.py [--format json] [--points 1000] [--no-ray]

The sweep: the built-in Colossus scenario with a Latin hypercube over the GPU count
(1,024-4,096 H100), the model (Llama 3 8B / 70B), the NIC speed and the token budget;
every point searches its parallel plans, sizes fabric, power and batteries, prices the
cluster and runs an 8-trial failure campaign, and is written to a DuckDB store.

Runs (each into a fresh store): the local executor with one worker per CPU; Ray with a
local instance of 1 CPU, then of as many CPUs as the machine has. Scaling efficiency is
rate(n workers) / (n x rate(1 worker)); the issue's target is >= 0.8 (linear within 20%).
Reports ``{"scenarios_per_s_local", "scenarios_per_s_ray", "workers", ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from colossim.report.sweep import POINT_OUTPUTS
from colossim.sweep import default_workers, load_spec, run_sweep

SPEC = """\
name: sweep-speed
base: colossus-100k-h100
sampling: lhs
samples: {points}
seed: 1
axes:
  cluster.num_gpus: {{values: [1024, 2048, 4096], name: gpus}}
  workload.model: [llama3-8b, llama3-70b]
  workload.global_batch: [1024]
  cluster.nic_gbit_per_s: [200, 400, 800]
  workload.tokens: {{min: 1.0e12, max: 2.0e13, log: true}}
trials: 8
"""


def _run(spec_path: str, *, executor: str, workers: int) -> float:
    """Scenarios per second of one full sweep into a fresh store."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = load_spec(spec_path)
        t0 = time.perf_counter()
        s = run_sweep(
            spec,
            db=os.path.join(tmp, "bench.duckdb"),
            outputs=POINT_OUTPUTS,
            executor=executor,
            workers=workers,
        )
        elapsed = time.perf_counter() - t0
    assert s.by_status.get("ok", 0) == s.points, s.by_status
    return s.ran / elapsed


def _ray(spec_path: str, workers: int) -> float:
    import ray

    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        return _run(spec_path, executor="ray", workers=workers)
    finally:
        ray.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--format", choices=["text", "json"], default="text")
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--no-ray", action="store_true", help="local executor only")
    args = ap.parse_args()
    workers = default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = str(Path(tmp) / "sweep-speed.yaml")
        Path(spec_path).write_text(SPEC.format(points=args.points), encoding="utf-8")
        out: dict = {"points": args.points, "workers": workers, "cpus": os.cpu_count()}
        out["scenarios_per_s_local"] = _run(spec_path, executor="local", workers=workers)
        out["scenarios_per_s_ray"] = None
        if not args.no_ray:
            one = _ray(spec_path, 1)
            many = _ray(spec_path, workers)
            out["scenarios_per_s_ray_1_worker"] = one
            out["scenarios_per_s_ray"] = many
            out["ray_scaling_efficiency"] = many / (workers * one)
    if args.format == "json":
        print(json.dumps(out, indent=2))
        return
    print(f"{args.points:,}-point sweep, {workers} workers ({out['cpus']} CPUs)")
    print(f"  local process pool : {out['scenarios_per_s_local']:,.1f} scenarios/s")
    if out["scenarios_per_s_ray"] is not None:
        print(f"  Ray, 1 worker      : {out['scenarios_per_s_ray_1_worker']:,.1f} scenarios/s")
        print(f"  Ray, {workers} workers     : {out['scenarios_per_s_ray']:,.1f} scenarios/s")
        print(f"  Ray scaling        : {out['ray_scaling_efficiency']:.0%} of linear")


if __name__ == "__main__":
    main()
