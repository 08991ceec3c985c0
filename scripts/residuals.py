"""Group the step model's errors on the layout sweeps by mechanism.

    PYTHONPATH=src python scripts/residuals.py [layout_sweeps|published_runs] [--json FILE]

Runs ``colossim validate FILE --format json`` (or reads a saved JSON), joins each row
with its CSV columns and prints, per group (TP nodes, PP degree, micro-batches, GPUs,
sharding, recompute, micro-batch size, stack), the row count, the median signed error,
the MAPE and the median error relative to its sweep's mean (what the ranking sees).
Rows flagged ``MFU < 1%`` are left out. Analysis only: nothing here feeds the model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict

import numpy as np

from colossim.validation import read_runs


def load(name: str, saved: str | None) -> list[dict]:
    if saved:
        with open(saved, encoding="utf-8") as fh:
            data = json.load(fh)
    else:
        cmd = [sys.executable, "-m", "colossim.cli.main", "validate", name, "--format", "json"]
        data = json.loads(subprocess.run(cmd, capture_output=True, text=True).stdout)
    csv = {r["id"]: r for r in read_runs(name)}
    out = []
    for r in data["rows"]:
        if r.get("flagged") or not r.get("predicted"):
            continue
        row = dict(csv[r["id"]])
        row.update(pred=r["predicted"], meas=r["measured"], plan=r["plan"])
        row["err"] = np.log(r["predicted"] / r["measured"])
        out.append(row)
    by_sweep = defaultdict(list)
    for row in out:
        by_sweep[row.get("sweep", "")].append(row["err"])
    for row in out:
        row["rel"] = row["err"] - np.mean(by_sweep[row.get("sweep", "")])
    return out


GROUPS = {
    "tp_nodes": lambda r, p: int(np.ceil(p["tp"] / 8)),
    "pp": lambda r, p: p["pp"],
    "microbatches": lambda r, p: _bucket(p["global_batch"] // (p["dp"] * p["micro_batch"])),
    "gpus": lambda r, p: int(r["num_gpus"]),
    "sharding": lambda r, p: p["sharding"],
    "recompute": lambda r, p: p["recompute"],
    "micro_batch": lambda r, p: p["micro_batch"],
    "dp": lambda r, p: _bucket(p["dp"]),
    "stack": lambda r, p: r["framework"],
    "model": lambda r, p: r["model"][:28],
    "seq": lambda r, p: r["seq_len"],
}


def _bucket(n: int) -> str:
    for b in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512):
        if n <= b:
            return f"<={b}"
    return ">512"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("name", nargs="?", default="layout_sweeps")
    ap.add_argument("--json")
    ap.add_argument("--group", action="append")
    args = ap.parse_args()
    rows = load(args.name, args.json)
    print(f"{len(rows)} rows")
    for g in args.group or GROUPS:
        fn = GROUPS[g]
        acc = defaultdict(list)
        for r in rows:
            acc[fn(r, r["plan"])].append(r)
        print(f"\n== {g}")
        print(f"{'value':>30} {'n':>5} {'med%':>7} {'mape%':>7} {'rel%':>7}")
        for k in sorted(acc, key=str):
            rs = acc[k]
            e = np.array([r["err"] for r in rs])
            rel = np.array([r["rel"] for r in rs])
            ape = np.abs(np.exp(e) - 1).mean() * 100
            print(
                f"{str(k):>30} {len(rs):>5} {100 * (np.exp(np.median(e)) - 1):>7.1f} "
                f"{ape:>7.1f} {100 * (np.exp(np.median(rel)) - 1):>7.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
