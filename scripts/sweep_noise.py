"""How far apart do measurements of near-identical layouts lie? (no model involved)

    python scripts/sweep_noise.py [FILE.csv] [--format json]

Within each sweep of a layout-sweep file (default: the bundled ``layout_sweeps``), pairs
rows that share every layout field (tp, pp, dp, cp, ep, vp, micro-batch, recompute) and
differ only in ZeRO-0 vs ZeRO-1. Sharding the optimizer state changes a step by the
optimizer update and one parameter all-gather: a few percent of a step at these sizes.
The spread of the measured ratio of such twins is therefore a floor under any layout
model's error on the file: a pair measured 2x apart cannot both be predicted within 40%.

Prints the number of twin pairs, how many differ by more than 1.25x and 2x, and the
pair-order accuracy an oracle that knows the true physics, and so predicts each twin
pair equal, loses on them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

import numpy as np

from colossim.errors import InputError
from colossim.validation import read_runs

LAYOUT = ("tp", "pp", "dp", "cp", "ep", "vp", "micro_batch", "recompute")
FLAG_MARK = "FLAG: MFU < 1%"


def twins(rows: list[dict[str, str]]) -> list[tuple[str, float, float, bool]]:
    """(sweep, ZeRO-0 tokens/s, ZeRO-1 tokens/s, either flagged) per twin pair."""
    groups: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for row in rows:
        sweep = (row.get("sweep") or "").strip()
        sharding = (row.get("sharding") or "").strip()
        measured = (row.get("measured_tokens_per_s_per_gpu") or "").strip()
        if not sweep or sharding not in ("none", "zero1") or not measured:
            continue
        key = (sweep, *((row.get(k) or "").strip() for k in LAYOUT))
        groups[key][sharding] = row
    out = []
    for key, pair in groups.items():
        if len(pair) == 2:
            z0, z1 = pair["none"], pair["zero1"]
            flagged = any(FLAG_MARK in (r.get("notes") or "") for r in (z0, z1))
            out.append(
                (
                    key[0],
                    float(z0["measured_tokens_per_s_per_gpu"]),
                    float(z1["measured_tokens_per_s_per_gpu"]),
                    flagged,
                )
            )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("file", nargs="?", default="layout_sweeps")
    ap.add_argument("--format", choices=["text", "json"], default="text")
    args = ap.parse_args(argv)
    try:
        pairs = twins(read_runs(args.file))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ratio = np.array([max(a, b) / min(a, b) for _, a, b, _ in pairs]) if pairs else np.array([])
    clean = np.array([not f for *_, f in pairs], dtype=bool)
    res = {
        "twin_pairs": len(pairs),
        "twin_pairs_unflagged": int(clean.sum()),
        "apart_over_1.25x": int((ratio > 1.25).sum()),
        "apart_over_2x": int((ratio > 2.0).sum()),
        "apart_over_2x_unflagged": int(((ratio > 2.0) & clean).sum()),
        "max_ratio": float(ratio.max()) if len(ratio) else None,
        "median_ratio": float(np.median(ratio)) if len(ratio) else None,
        # pairs more than 10% apart: an oracle predicting twins equal orders none of them
        "pairs_over_10pct_apart": int((ratio > 1.1).sum()),
    }
    if args.format == "json":
        json.dump(res, sys.stdout, indent=2)
        print()
    else:
        print(
            f"{res['twin_pairs']} ZeRO-0/ZeRO-1 twin pairs ({res['twin_pairs_unflagged']} unflagged)"
        )
        print(
            f"  median ratio {res['median_ratio']:.2f}, max {res['max_ratio']:.1f}; "
            f"> 1.25x apart: {res['apart_over_1.25x']}; > 2x apart: {res['apart_over_2x']} "
            f"({res['apart_over_2x_unflagged']} with neither row flagged)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
