"""How far apart do measurements of near-identical layouts lie? (no model involved)

    python scripts/sweep_noise.py [FILE.csv] [--format json]

Within each sweep of a layout-sweep file (default: the bundled ``layout_sweeps``), pairs
rows that share every layout field (tp, pp, dp, cp, ep, vp, micro-batch, recompute) and
differ only in ZeRO-0 vs ZeRO-1. Sharding the optimizer state changes a step by the
optimizer update and one parameter all-gather: a few percent of a step at these sizes.
The spread of the measured ratio of such twins is therefore a floor under any layout
model's error on the file: a pair measured 2x apart cannot both be predicted within 40%.

Prints the number of twin pairs and how many differ by more than 1.25x and 2x.

``--without-stalls`` also runs the model (``colossim validate``) and reports the ranking
figures and the sweeps' MAPE once more without the unflagged rows that show a run-level
stall: a measured step over 1.5x the predicted one and either more than
``STALL_S_PER_SLOT`` seconds per pipeline slot (micro-batches + pp - 1) above it or at 512
GPUs and beyond (the Ultra-Scale Playbook's runs: about one second per slot whatever the
layout). What the model would reach on a file without that noise; not a figure to quote
as its accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

import numpy as np

from colossim.errors import InputError
from colossim.validation import read_runs
from colossim.validation.prepare import FLAG_MARK

LAYOUT = ("tp", "pp", "dp", "cp", "ep", "vp", "micro_batch", "recompute")
STALL_S_PER_SLOT = 0.3
STALL_MIN_RATIO = 1.5
STALL_ALL_GPUS = 512


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


def stalled(plan: dict, seq: int, measured: float, predicted: float) -> bool:
    """A row's measured step exceeds the predicted one (``plan``: the layout validate
    ran, blanks filled) by a run-level stall."""
    gb, dp, pp, mb = (int(plan[k]) for k in ("global_batch", "dp", "pp", "micro_batch"))
    n = dp * pp * int(plan["tp"]) * int(plan["cp"])
    tokens = gb * seq
    measured_s = tokens / (measured * n)
    predicted_s = tokens / (predicted * n)
    slots = gb // (dp * mb) + pp - 1
    excess = measured_s - predicted_s
    slow = measured_s > STALL_MIN_RATIO * predicted_s
    return slow and (excess / slots > STALL_S_PER_SLOT or n >= STALL_ALL_GPUS)


def without_stalls(rows: list[dict[str, str]]) -> dict:
    """Ranking figures and sweeps MAPE with and without the stalled unflagged rows."""
    from colossim.validation import validate_rows
    from colossim.validation.ranking import RankedRow, ranking

    rep = validate_rows(rows)
    kept, dropped, ape = [], 0, []
    for raw, r in zip(rows, rep.rows, strict=True):
        if r.predicted is None or not r.sweep:
            continue
        if not r.flagged and stalled(r.plan, int(raw["seq_len"]), r.measured, r.predicted):
            dropped += 1
            continue
        kept.append(RankedRow(sweep=r.sweep, measured=r.measured, predicted=r.predicted,
                              flagged=r.flagged))  # fmt: skip
        if not r.flagged:
            ape.append(abs(r.predicted / r.measured - 1) * 100)
    summary, extra, _ = ranking(kept)
    return {
        "stalled_rows_left_out": dropped,
        **summary,
        "flagged_slower_than_all_share": extra["flagged_slower_than_all_share"],
        "sweeps_mape_pct": float(np.mean(ape)) if ape else None,
        "sweeps_median_ape_pct": float(np.median(ape)) if ape else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("file", nargs="?", default="layout_sweeps")
    ap.add_argument("--format", choices=["text", "json"], default="text")
    ap.add_argument("--without-stalls", action="store_true", help="also run the model")
    args = ap.parse_args(argv)
    try:
        rows = read_runs(args.file)
        pairs = twins(rows)
        model = without_stalls(rows) if args.without_stalls else None
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
    if model is not None:
        res["without_stalls"] = model
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
        if model is not None:
            print(
                f"without the {model['stalled_rows_left_out']} stalled unflagged rows: "
                f"pair order {model['pair_order_acc']:.3f}, median Spearman "
                f"{model['spearman_median']:.2f}, top-1 regret max "
                f"{model['top1_regret_max_pct']:.0f}%, sweeps MAPE "
                f"{model['sweeps_mape_pct']:.1f}% (median {model['sweeps_median_ape_pct']:.1f}%)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
