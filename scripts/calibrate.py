"""Fit the global efficiency constants of the step-time model on a validation CSV.

    python scripts/calibrate.py [../shared/validation/published_runs.csv] [--write]

One fit on the whole file at once (never per row): robust least squares (soft-L1) on
log(predicted / measured) over every predictable row. Parameters, their starting point
and bounds are listed in PARAMS with the reason for each bound. ``--write`` stores the
result in src/colossim/catalog/efficiency.yaml (values only; comments and sources stay).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from colossim.validation import read_runs, validate_rows
from colossim.workload.stack import efficiency, stack_profile

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "src" / "colossim" / "catalog" / "efficiency.yaml"
DEFAULT_CSV = ROOT.parent / "shared" / "validation" / "published_runs.csv"
FRAMEWORKS = ("megatron", "nemo", "torchtitan", "llm-foundry")

# (section, name, lower, upper): bounds keep each constant physical.
PARAMS = [
    ("global", "gemm_half_dim", 1.0, 512.0),  # GEMM dims where efficiency halves: 1 .. 512
    ("global", "attention_efficiency", 0.2, 0.8),  # FA2/FA3 reach 35-75% of peak
    ("global", "elementwise_bw_efficiency", 0.3, 0.95),  # fraction of HBM bandwidth
    ("global", "layer_overhead_s", 0.0, 5e-4),  # launch + sync per layer, per pass
    ("global", "step_overhead_s", 0.0, 2.0),  # data loading, logging, per step
    ("global", "power_cap_factor", 0.5, 1.0),  # clocks of power-capped parts
    ("global", "fp8_gemm_factor", 0.4, 1.2),  # FP8 recipe overheads relative to FP8 MAMF
    ("global", "grouped_gemm_factor", 0.2, 1.0),  # grouped expert GEMMs vs dense GEMMs
    ("global", "moe_layer_overhead_s", 0.0, 5e-3),  # router/permute/dropless sync per MoE layer
    *[(fw, "compute_factor", 0.5, 1.3) for fw in FRAMEWORKS],  # stack kernel quality
    ("nemo", "tp_overlap", 0.0, 1.0),  # TP comm overlap (Megatron-Core tp_comm_overlap)
    ("torchtitan", "tp_overlap", 0.0, 1.0),  # async TP in some rows
]


def residuals(x: np.ndarray, rows: list[dict]) -> np.ndarray:
    eff = efficiency()
    stacks = {fw: stack_profile(fw) for fw in FRAMEWORKS}
    glob = {}
    for (section, name, _, _), value in zip(PARAMS, x, strict=True):
        if section == "global":
            glob[name] = value
        else:
            stacks[section] = replace(stacks[section], **{name: value})
    eff = replace(eff, **glob)
    report = validate_rows(rows, eff=eff, stacks=stacks)
    out = []
    for r in report.rows:
        if r.predicted is not None and r.measured:
            out.append(np.log(max(r.predicted, 1e-9) / r.measured))
    return np.array(out)


def current() -> np.ndarray:
    eff = efficiency()
    x = []
    for section, name, _, _ in PARAMS:
        x.append(
            getattr(eff, name) if section == "global" else getattr(stack_profile(section), name)
        )
    return np.array(x, dtype=float)


def write(x: np.ndarray) -> None:
    text = CATALOG.read_text()
    section = None
    lines = text.split("\n")
    values = {(s, n): v for (s, n, _, _), v in zip(PARAMS, x, strict=True)}
    for i, line in enumerate(lines):
        m = re.match(r"^([A-Za-z0-9_-]+):\s*$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^(\s+)([a-z_0-9]+):\s*([-+0-9.eE]+)\s*$", line)
        if m and (section, m.group(2)) in values:
            lines[i] = f"{m.group(1)}{m.group(2)}: {float(values[(section, m.group(2))]):.4g}"
    CATALOG.write_text("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("csv", nargs="?", default=str(DEFAULT_CSV))
    ap.add_argument("--write", action="store_true", help="store the fit in efficiency.yaml")
    ap.add_argument("--max-nfev", type=int, default=60)
    args = ap.parse_args()
    rows = read_runs(args.csv)
    x0 = current()
    lo = np.array([p[2] for p in PARAMS])
    hi = np.array([p[3] for p in PARAMS])
    x0 = np.clip(x0, lo, hi)
    r0 = residuals(x0, rows)
    print(f"start: rows={len(r0)} MAPE={np.mean(np.abs(np.expm1(r0))) * 100:.1f}%", file=sys.stderr)
    fit = least_squares(
        residuals, x0, bounds=(lo, hi), args=(rows,), loss="soft_l1", f_scale=0.1,
        x_scale=np.maximum(hi - lo, 1e-9), diff_step=0.02, max_nfev=args.max_nfev,
    )  # fmt: skip
    r = residuals(fit.x, rows)
    print(f"fit:   rows={len(r)} MAPE={np.mean(np.abs(np.expm1(r))) * 100:.1f}%", file=sys.stderr)
    for (section, name, _, _), v in zip(PARAMS, fit.x, strict=True):
        print(f"  {section}.{name} = {v:.4g}")
    if args.write:
        write(fit.x)
        print(f"wrote {CATALOG}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
