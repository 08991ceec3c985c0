"""Speed of the fabric model: build + cost 1k / 100k / 1M-GPU fabrics, and one vectorised
collective-cost call over 1M (size, group) pairs.

Targets (issue 4): a 1,000,000-GPU fabric builds and costs in < 1 s.

Usage::

    python benchmarks/fabric_speed.py [--format text|json] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from colossim.fabric import (
    Collective,
    FabricConfig,
    FabricKind,
    build_fabric,
    bus_bandwidth_table,
    collective_time_s,
    link_levels,
)

TARGET_BUILD_1M_S = 1.0


def _best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(repeat: int) -> dict:
    out: dict = {"build_and_cost_s": {}, "fabrics": {}}
    build_fabric(
        FabricConfig(
            num_gpus=8, gpus_per_node=8, scaleup_domain=8, nic_gbit_per_s=400, switch="sn5600"
        )
    )
    for kind in (FabricKind.RAIL_FAT_TREE, FabricKind.FAT_TREE):
        for n in (1_000, 100_000, 1_000_000):
            cfg = FabricConfig(
                num_gpus=n,
                gpus_per_node=8,
                scaleup_domain=8,
                nic_gbit_per_s=400,
                switch="sn5600",
                kind=kind,
                gpu="h100-sxm-80gb",
            )
            key = f"{kind.value}_{n}"
            out["build_and_cost_s"][key] = _best_of(lambda cfg=cfg: build_fabric(cfg), repeat)
            f = build_fabric(cfg)
            out["fabrics"][key] = {
                "tiers": f.tiers,
                "switches": f.switches,
                "cost_usd": f.cost_usd,
                "power_w": f.power_w,
            }
    f = build_fabric(
        FabricConfig(
            num_gpus=1_000_000,
            gpus_per_node=8,
            scaleup_domain=8,
            nic_gbit_per_s=400,
            switch="sn5600",
            gpu="h100-sxm-80gb",
        )
    )
    lv = link_levels(f)
    rng = np.random.default_rng(np.random.SeedSequence(4))
    pairs = 1_000_000
    size = rng.uniform(1e3, 1e10, pairs)
    group = 2 ** rng.integers(0, 17, pairs)
    stride = 2 ** rng.integers(0, 4, pairs)
    out["collective_1m_pairs_s"] = {}
    for op in Collective:
        out["collective_1m_pairs_s"][op.value] = _best_of(
            lambda op=op: collective_time_s(
                op, size_bytes=size, group_size=group, stride=stride, levels=lv
            ),
            repeat,
        )
    out["bus_bandwidth_table_1m_s"] = _best_of(lambda: bus_bandwidth_table(f, 2**30), repeat)
    out["target_build_1m_s"] = TARGET_BUILD_1M_S
    out["build_1m_meets_target"] = (
        max(v for k, v in out["build_and_cost_s"].items() if k.endswith("_1000000"))
        < TARGET_BUILD_1M_S
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--repeat", type=int, default=5, help="timing repeats (best is kept)")
    args = parser.parse_args(argv)
    res = run(max(1, args.repeat))
    if args.format == "json":
        json.dump(res, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print("build + cost a fabric (best of repeats):")
    for k, v in res["build_and_cost_s"].items():
        fab = res["fabrics"][k]
        print(
            f"  {k:>24}: {v * 1e3:8.3f} ms  tiers={fab['tiers']} switches={fab['switches']:,} "
            f"cost=${fab['cost_usd'] / 1e6:,.1f}M power={fab['power_w'] / 1e6:,.2f} MW"
        )
    print("collective cost, one call over 1,000,000 (size, group, stride) triples:")
    for k, v in res["collective_1m_pairs_s"].items():
        print(f"  {k:>24}: {v * 1e3:8.1f} ms  ({v / 1e6 * 1e9:.0f} ns per triple)")
    print(
        f"bus bandwidth table of the 1M-GPU fabric: {res['bus_bandwidth_table_1m_s'] * 1e3:.2f} ms"
    )
    ok = "yes" if res["build_1m_meets_target"] else "NO"
    print(f"1M-GPU build under {res['target_build_1m_s']:g} s: {ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
