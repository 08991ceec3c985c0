"""Derive a stack's activation-memory factor from measured peak memory.

    PYTHONPATH=src python scripts/memory_factor.py [--stack nanotron]

The Ultra-Scale Playbook rows of ``layout_sweeps.csv`` record each run's measured peak
memory in their notes (``peak mem X GB``, torch.cuda max allocated). For every such row
this computes the memory model's breakdown (parallel/memory.py) with the stack's factor
set to 1 and fits, by least squares, the one factor f in

    measured = (weights + gradients + optimizer + logits + buffers) + f x activations

that the catalog stores as the stack's ``activation_memory_factor``. It also prints the
spread of the residual before and after. The breakdown is the first pipeline stage's:
the measured figure fits it better than the most loaded stage's (residual 5.3 vs 5.7 GB),
as a run that logs rank 0's memory would report. Nothing here is fitted to throughput.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import replace

import numpy as np

from colossim.parallel.memory import memory_breakdown
from colossim.validation import read_runs
from colossim.validation.prepare import prepare_row
from colossim.workload.stack import efficiency, stack_profile

PEAK = re.compile(r"peak mem ([0-9.]+) GB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stack", default="nanotron")
    args = ap.parse_args()
    eff = efficiency()
    stack = replace(stack_profile(args.stack), activation_memory_factor=1.0)
    measured, rest, act = [], [], []
    for row in read_runs("layout_sweeps"):
        hit = PEAK.search(row.get("notes") or "")
        if not hit or row["framework"].strip() != args.stack:
            continue
        p = prepare_row(row, eff)
        one = p.plans.take(np.array([0]))
        mem = memory_breakdown(p.model, p.training, one, stack, eff, first_stage=True)
        measured.append(float(hit.group(1)) * 1e9)
        act.append(float(mem.activations[0]))
        rest.append(float(mem.total[0] - mem.activations[0]))
    y, r, a = np.array(measured), np.array(rest), np.array(act)
    f = float(np.sum((y - r) * a) / np.sum(a * a))
    print(f"{len(y)} rows of {args.stack} with a measured peak")
    print(f"activation_memory_factor = {f:.3f}")
    print(
        f"residual std: {np.std(y - r - a) / 1e9:.2f} GB at 1, {np.std(y - r - f * a) / 1e9:.2f} GB at f"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
