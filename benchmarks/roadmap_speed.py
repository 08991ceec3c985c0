"""Mixed clusters and the build-out: wall time of the partitioned plan and of the roadmap.

    python benchmarks/roadmap_speed.py [--format json] [--repeat 3]

(a) `plan` of the 200k-GPU example with two partitions (150k H100 + 50k H200): the
spanning job (one search per partition, re-ranked by the paced step) plus each partition as
its own job (one search each) and the campaign; (b) `roadmap` of the five-phase Colossus
example (20k -> 1M GPUs), each phase through the whole pipeline with its campaign at
``--trials`` trials. Reports the median of ``--repeat`` runs (other work on the machine
inflates single runs). Target: each under 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from colossim.pipeline import run_scenario
from colossim.pipeline.roadmap import roadmap
from colossim.report.partitions import partitions_to_json
from colossim.scenario.load import load_scenario


def _plan() -> None:
    r = run_scenario(load_scenario("colossus-200k-h100-h200"))
    partitions_to_json(r)
    r.cost  # noqa: B018
    r.campaign  # noqa: B018


def _roadmap(trials: int) -> None:
    roadmap(load_scenario("colossus-roadmap"), trials=trials)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--format", choices=["text", "json"], default="text")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--trials", type=int, default=100)
    args = ap.parse_args()
    cases = {
        "plan colossus-200k-h100-h200 (2 partitions)": _plan,
        f"roadmap colossus-roadmap (5 phases, {args.trials} trials)": lambda: _roadmap(args.trials),
    }
    out = {}
    for name, fn in cases.items():
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    if args.format == "json":
        print(json.dumps({"median_s": out}, indent=2))
        return
    for name, s in out.items():
        print(f"{name}: {s:.2f} s (median of {args.repeat})")


if __name__ == "__main__":
    main()
