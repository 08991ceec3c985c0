"""Fit the efficiency constants of the step-time model on both validation files at once.

    python scripts/calibrate.py [--write] [--cv] [--max-nfev N]

One fit (never per row, never per sweep) of a handful of global constants and per-stack
terms, each within physical bounds (PARAMS, with the reason for each bound), on
``published_runs.csv`` and ``layout_sweeps.csv`` together. The objective mixes, with
equal total weight per file:

- published runs: log(predicted / measured) per row;
- layout sweeps (rows flagged ``MFU < 1%`` left out): log error per row, and the same
  log error minus its sweep mean, which only the ranking of layouts inside the sweep
  moves (the sweep's absolute level is a property of the cluster it ran on), weighted
  twice.

Robust least squares (soft-L1) keeps a few pathological rows from steering the fit.
``--cv`` adds leave-one-source-out cross-validation: for each source (paper, vendor page,
benchmark), refit without its rows and predict them; the MAPE of those held-out
predictions is reported next to the in-sample figure. ``--write`` stores the fit in
src/colossim/catalog/efficiency.yaml (values only; comments and sources stay).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from colossim.validation import read_runs
from colossim.validation.prepare import FLAG_MARK, PreparedRow, prepare_row, score_rows
from colossim.workload.stack import Efficiency, StackProfile, efficiency, stack_profile

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "src" / "colossim" / "catalog" / "efficiency.yaml"
FILES = ("published_runs", "layout_sweeps")
STACKS = (
    "megatron", "nemo", "torchtitan", "llm-foundry", "nanotron", "kempnerforge",
    "megatron-deepspeed",
)  # fmt: skip

HOST_MAX_S = {
    "megatron": 2e-3, "nemo": 2e-3, "megatron-deepspeed": 2e-3, "torchtitan": 4e-3,
    "llm-foundry": 4e-3, "kempnerforge": 4e-3, "nanotron": 1e-2,
}  # fmt: skip
# (section, name, lower, upper): bounds keep each constant physical.
PARAMS = [
    ("global", "elementwise_bw_efficiency", 0.3, 0.9),  # fraction of HBM bandwidth
    ("global", "layer_overhead_s", 0.0, 5e-4),  # GPU-side sync per layer and pass
    ("global", "step_overhead_s", 0.0, 1.0),  # data loading, logging, per step
    ("global", "dvfs_power_exponent", 1.0, 3.0),  # P_dyn ~ f^k: 3 if V ~ f, 1 at V floor
    ("global", "fp8_gemm_factor", 0.5, 1.0),  # FP8 GEMMs vs ceiling, on top of fp8.yaml
    ("global", "moe_layer_overhead_s", 0.0, 5e-3),  # router/permute/dropless sync per layer
    *[(s, "compute_factor", 0.5, 1.0) for s in STACKS],  # never above the GPU's ceiling
    # Host launch time per layer (fwd + bwd): Megatron-based stacks issue few fused C++
    # kernels (Transformer Engine): <= 2 ms; compiled PyTorch stacks <= 4 ms; eager
    # module-by-module PyTorch (nanotron) <= 10 ms.
    *[(s, "layer_host_s", 0.0, HOST_MAX_S[s]) for s in STACKS],
    # blocking p2p with metadata handshake: <= 1 ms, as the Playbook rows at TP 1 show
    # (PP 8 across 8 nodes runs within 10% of PP 8 inside one node, 21 ms per micro-batch)
    ("nanotron", "pp_p2p_host_s", 0.0, 1e-3),
    ("nanotron", "tp_node_sync_s", 0.0, 2e-3),  # blocking TP collective, per node spanned
    ("nanotron", "tp_pp_sync_s", 0.0, 1e-3),  # host skew per TP ring step under PP
    ("nemo", "ep_overlap", 0.0, 1.0),  # overlapped MoE all-to-all (Megatron-Core / DeepEP)
    ("megatron", "ep_overlap", 0.0, 1.0),
    ("nemo", "tp_overlap", 0.0, 1.0),  # Megatron-Core tp_comm_overlap
    ("torchtitan", "tp_overlap", 0.0, 1.0),  # default (vanilla) TP
    ("torchtitan", "tp_overlap_enabled", 0.0, 1.0),  # async TP (tp_comm_overlap rows)
    ("megatron", "tp_overlap_enabled", 0.0, 1.0),  # --tp-comm-overlap rows
    ("nanotron", "tp_overlap", 0.0, 1.0),  # nanotron async TP (notes)
    ("nanotron", "dp_overlap", 0.0, 1.0),  # DP bucket overlap with backward
    ("megatron-deepspeed", "dp_overlap", 0.0, 1.0),  # ZeRO-3 prefetch overlap
    ("global", "alloc_pressure_start", 0.8, 0.97),  # share of HBM where retries begin
    ("global", "alloc_pressure_penalty", 0.0, 10.0),  # allocator retries near full memory
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rows:
    """Prepared rows of both files, with what the objective needs."""

    prepared: list[PreparedRow]
    cache: dict  # priced collectives per group of rows (they depend on no fitted constant)
    measured: np.ndarray
    published: np.ndarray  # bool: row of published_runs
    sweep: np.ndarray  # sweep id per row ("" for published rows)
    source: np.ndarray


def load_rows(eff: Efficiency) -> Rows:
    prepared, meas, pub, sweep, source = [], [], [], [], []
    for name in FILES:
        for row in read_runs(name):
            raw = (row.get("measured_tokens_per_s_per_gpu") or "").strip()
            if not raw or FLAG_MARK in (row.get("notes") or ""):
                continue
            try:
                p = prepare_row(row, eff)
            except Exception:  # noqa: BLE001 - unpredictable rows are counted by validate
                continue
            prepared.append(p)
            meas.append(float(raw))
            pub.append(name == "published_runs")
            sweep.append((row.get("sweep") or "").strip())
            source.append((row.get("source") or "").split(",")[0].strip())
    return Rows(
        prepared=prepared,
        cache={},
        measured=np.array(meas),
        published=np.array(pub),
        sweep=np.array(sweep),
        source=np.array(source),
    )


def constants(x: np.ndarray) -> tuple[Efficiency, dict[str, StackProfile]]:
    eff = efficiency()
    stacks = {s: stack_profile(s) for s in STACKS}
    glob = {}
    for (section, name, _, _), value in zip(PARAMS, x, strict=True):
        if section == "global":
            glob[name] = float(value)
        else:
            stacks[section] = replace(stacks[section], **{name: float(value)})
    return replace(eff, **glob), stacks


def predict(x: np.ndarray, rows: Rows, mask: np.ndarray | None = None) -> np.ndarray:
    eff, stacks = constants(x)
    idx = np.arange(len(rows.prepared)) if mask is None else np.flatnonzero(mask)
    scored = score_rows([rows.prepared[i] for i in idx], eff, stacks, cache=rows.cache)
    out = np.full(len(rows.prepared), np.nan)
    out[idx] = [s.tokens_per_s_per_gpu for s in scored]
    return out


def residuals(x: np.ndarray, rows: Rows, mask: np.ndarray) -> np.ndarray:
    err = np.log(np.maximum(predict(x, rows, mask), 1e-9) / rows.measured)
    pub = mask & rows.published
    swp = mask & ~rows.published
    demeaned = np.zeros_like(err)
    for s in np.unique(rows.sweep[swp]):
        sel = swp & (rows.sweep == s)
        demeaned[sel] = err[sel] - err[sel].mean()
    # equal total weight per file: each residual scaled by 1/sqrt(rows of its file)
    w_pub = 1 / np.sqrt(max(pub.sum(), 1))
    w_swp = 1 / np.sqrt(max(swp.sum(), 1))
    return np.concatenate([w_pub * err[pub], w_swp * err[swp], 2 * w_swp * demeaned[swp]])


def fit(
    x0: np.ndarray, rows: Rows, mask: np.ndarray, max_nfev: int, free: np.ndarray | None = None
) -> np.ndarray:
    """Fit the constants marked ``free`` (all by default), the others held at ``x0``."""
    lo = np.array([p[2] for p in PARAMS])
    hi = np.array([p[3] for p in PARAMS])
    x0 = np.clip(x0, lo, hi)
    free = np.ones(len(PARAMS), dtype=bool) if free is None else free

    def expand(xf: np.ndarray) -> np.ndarray:
        x = x0.copy()
        x[free] = xf
        return x

    res = least_squares(
        lambda xf: residuals(expand(xf), rows, mask), x0[free], bounds=(lo[free], hi[free]),
        loss="soft_l1", f_scale=0.005, x_scale=np.maximum(hi - lo, 1e-9)[free],
        diff_step=0.01, max_nfev=max_nfev,
    )  # fmt: skip
    return expand(res.x)


def selected(only: str | None) -> np.ndarray:
    """Mask of PARAMS named by ``--only`` (comma-separated ``section.name`` prefixes)."""
    if not only:
        return np.ones(len(PARAMS), dtype=bool)
    prefixes = [p.strip() for p in only.split(",") if p.strip()]
    mask = np.array([any(f"{s}.{n}".startswith(p) for p in prefixes) for s, n, _, _ in PARAMS])
    if not mask.any():
        raise SystemExit(f"--only {only!r} names no constant of PARAMS")
    return mask


def mape(pred: np.ndarray, meas: np.ndarray) -> float:
    ok = np.isfinite(pred)
    return float(np.mean(np.abs(pred[ok] / meas[ok] - 1)) * 100)


def current() -> np.ndarray:
    eff = efficiency()
    return np.array(
        [
            getattr(eff, n) if s == "global" else getattr(stack_profile(s), n)
            for s, n, _, _ in PARAMS
        ],
        dtype=float,
    )


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


def report(label: str, pred: np.ndarray, rows: Rows) -> None:
    pub, swp = rows.published, ~rows.published
    print(
        f"{label}: published MAPE {mape(pred[pub], rows.measured[pub]):.1f}% "
        f"({pub.sum()} rows), sweeps MAPE {mape(pred[swp], rows.measured[swp]):.1f}% "
        f"({swp.sum()} rows)",
        file=sys.stderr,
    )


def cross_validate(x: np.ndarray, rows: Rows, max_nfev: int, free: np.ndarray) -> np.ndarray:
    """Leave-one-source-out: each source's rows predicted by a fit without them."""
    held = np.full(len(rows.prepared), np.nan)
    for src in np.unique(rows.source):
        out = rows.source == src
        xs = fit(x, rows, ~out, max_nfev, free)
        held[out] = predict(xs, rows, out)[out]
        print(f"  held out {src[:60]!r}: {out.sum()} rows", file=sys.stderr)
    return held


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", action="store_true", help="store the fit in efficiency.yaml")
    ap.add_argument("--cv", action="store_true", help="leave-one-source-out cross-validation")
    ap.add_argument("--max-nfev", type=int, default=40)
    ap.add_argument("--cv-nfev", type=int, default=8, help="refit budget per held-out source")
    ap.add_argument(
        "--only", help="fit only these constants (comma-separated section.name prefixes)"
    )
    args = ap.parse_args()
    rows = load_rows(efficiency())
    everything = np.ones(len(rows.prepared), dtype=bool)
    x0 = current()
    report("start", predict(x0, rows), rows)
    free = selected(args.only)
    x = fit(x0, rows, everything, args.max_nfev, free)
    report("fit  ", predict(x, rows), rows)
    for (section, name, lo, hi), v in zip(PARAMS, x, strict=True):
        at = " (at bound)" if np.isclose(v, lo) or np.isclose(v, hi) else ""
        print(f"  {section}.{name} = {v:.4g}{at}")
    if args.cv:
        held = cross_validate(x, rows, args.cv_nfev, free)
        report("leave-one-source-out", held, rows)
    if args.write:
        write(x)
        print(f"wrote {CATALOG}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
