"""Terminal tables and JSON for estimates, searches and validation."""

from __future__ import annotations

import dataclasses

from rich.table import Table

from colossim.parallel.plan import Infeasible
from colossim.perf.estimate import Context, Estimate
from colossim.search import SearchResult
from colossim.validation import SearchCheck, ValidationReport

__all__ = [
    "estimate_tables",
    "estimate_to_json",
    "search_tables",
    "search_to_json",
    "validation_tables",
    "validation_to_json",
]


def _gb(x: float) -> str:
    return f"{x / 1e9:,.1f} GB"


def estimate_to_json(est: Estimate, ctx: Context, *, scenario: str = "") -> dict:
    return {
        "scenario": scenario,
        "gpu": ctx.cluster.gpu.id,
        "num_gpus": ctx.cluster.num_gpus,
        "num_gpus_used": est.num_gpus_used,
        "idle_gpus": est.idle_gpus,
        "model": ctx.model.name,
        "params": ctx.model.total_params,
        "active_params": ctx.model.active_params,
        "plan": est.plan.as_dict(),
        "step_time_s": est.step_time_s,
        "tokens_per_s": est.tokens_per_s,
        "tokens_per_s_per_gpu": est.tokens_per_s_per_gpu,
        "mfu": est.mfu,
        "hfu": est.hfu,
        "memory_per_gpu_bytes": est.memory_per_gpu_bytes,
        "memory_capacity_bytes": est.memory_capacity_bytes,
        "fits_in_memory": est.fits,
        "days_to_train": est.days_to_train,
        "tokens": ctx.training.tokens,
        "time_breakdown_s": est.time_breakdown_s,
        "memory_breakdown_bytes": est.memory_breakdown_bytes,
    }


def estimate_tables(
    est: Estimate, ctx: Context, *, breakdown: bool = True, gpus: str | None = None
) -> list[Table]:
    """Cluster, plan, prediction (and, with ``breakdown``, time and memory) tables;
    ``gpus`` replaces the GPUs line (a cluster of several partitions)."""
    c, m, t = ctx.cluster, ctx.model, ctx.training
    summary = Table(title="Cluster and workload", show_header=False)
    summary.add_row(
        "GPUs",
        gpus
        or f"{c.num_gpus:,} x {c.gpu.name} ({c.gpus_per_node}/node, NVLink domain {c.scaleup_domain})",
    )
    summary.add_row("Scale-out", f"{c.nic_bw_bytes_per_s * 8 / 1e9:,.0f} Gb/s per GPU")
    summary.add_row(
        "Model",
        f"{m.name}: {m.total_params / 1e9:,.1f}B params ({m.active_params / 1e9:,.1f}B active)",
    )
    summary.add_row(
        "Training",
        f"{t.tokens:,.3g} tokens, seq {t.seq_len:,}, batch {est.plan.global_batch:,} seq, {t.precision}, {t.framework} profile",
    )
    p = est.plan
    plan = Table(title="Plan", show_header=False)
    plan.add_row("Layout", f"TP {p.tp} x PP {p.pp} (VP {p.vp}) x DP {p.dp} x CP {p.cp}, EP {p.ep}")
    plan.add_row("Micro-batch", f"{p.micro_batch} seq, {p.num_microbatches:,.0f} per step")
    plan.add_row("Recompute / sharding", f"{p.recompute.name.lower()} / {p.sharding.name.lower()}")
    plan.add_row("GPUs used", f"{est.num_gpus_used:,} ({est.idle_gpus:,} idle)")
    res = Table(title="Prediction", show_header=False)
    res.add_row("Step time", f"{est.step_time_s:,.2f} s")
    res.add_row(
        "Throughput", f"{est.tokens_per_s:,.0f} tokens/s ({est.tokens_per_s_per_gpu:,.1f} per GPU)"
    )
    res.add_row("MFU / HFU", f"{est.mfu:.1%} / {est.hfu:.1%}")
    res.add_row(
        "Memory per GPU",
        f"{_gb(est.memory_per_gpu_bytes)} of {_gb(est.memory_capacity_bytes)}"
        + ("" if est.fits else "  DOES NOT FIT"),
    )
    res.add_row("Days to train", f"{est.days_to_train:,.1f} (steady state, no failures)")
    tables = [summary, plan, res]
    if breakdown:
        tb = Table(title="Where the step time goes")
        tb.add_column("part")
        tb.add_column("seconds", justify="right")
        tb.add_column("share", justify="right")
        total = est.step_time_s
        for k, v in est.time_breakdown_s.items():
            tb.add_row(k, f"{v:,.3f}", f"{v / total:.1%}")
        mb = Table(title="Memory per GPU")
        mb.add_column("part")
        mb.add_column("GB", justify="right")
        for k, v in est.memory_breakdown_bytes.items():
            mb.add_row(k, f"{v / 1e9:,.2f}")
        tables += [tb, mb]
    return tables


def search_to_json(res: SearchResult, top: list[Estimate]) -> dict:
    return {
        "candidates": res.candidates,
        "feasible": res.feasible_count,
        "rejected": res.rejected,
        "memory_headroom": res.memory_headroom,
        "elapsed_s": res.elapsed_s,
        "plans_per_s": res.candidates / res.elapsed_s if res.elapsed_s > 0 else None,
        "top": [
            {
                "plan": e.plan.as_dict(),
                "tokens_per_s": e.tokens_per_s,
                "tokens_per_s_per_gpu": e.tokens_per_s_per_gpu,
                "mfu": e.mfu,
                "memory_per_gpu_bytes": e.memory_per_gpu_bytes,
                "num_gpus_used": e.num_gpus_used,
                "step_time_s": e.step_time_s,
            }
            for e in top
        ],
        "pareto_size": int(len(res.pareto)),
    }


# Short labels, so that the top-plans table fits 80 columns without cutting a number.
_RECOMPUTE_SHORT = {"none": "none", "selective": "sel", "full": "full"}
_SHARDING_SHORT = {"none": "0", "zero1": "1", "zero2": "2", "zero3": "3"}


def search_tables(res: SearchResult, top: list[Estimate]) -> list[Table]:
    t = Table(
        title=f"Search: {res.candidates:,} candidates in {res.elapsed_s:.2f} s",
        caption="layout TP.PP.VP.DP.CP.EP; mb micro-batch; rc recompute; Z ZeRO stage",
    )
    for col in ("#", "layout", "mb", "rc", "Z", "GPUs", "tok/s/GPU", "MFU", "mem GB"):
        # Numbers never wrap or shrink: the layout column folds first if space runs out.
        t.add_column(col, justify="right", no_wrap=col != "layout", overflow="fold")
    for i, e in enumerate(top, 1):
        p = e.plan
        t.add_row(
            str(i), f"{p.tp}.{p.pp}.{p.vp}.{p.dp}.{p.cp}.{p.ep}", str(p.micro_batch),
            _RECOMPUTE_SHORT[p.recompute.name.lower()], _SHARDING_SHORT[p.sharding.name.lower()],
            f"{e.num_gpus_used:,}", f"{e.tokens_per_s_per_gpu:,.1f}", f"{e.mfu:.1%}",
            f"{e.memory_per_gpu_bytes / 1e9:.1f}",
        )  # fmt: skip
    r = Table(title="Rejected plans by reason")
    r.add_column("reason")
    r.add_column("plans", justify="right")
    for k, v in sorted(res.rejected.items(), key=lambda kv: -kv[1]):
        r.add_row(k, f"{v:,}")
    if Infeasible.MEMORY_HEADROOM.value in res.rejected:
        r.caption = (
            f"memory_headroom: within HBM but above {1 - res.memory_headroom:.0%} of it "
            f"({res.memory_headroom:.0%} kept free)"
        )
    return [t, r]


def validation_to_json(rep: ValidationReport) -> dict:
    ranked = rep.ranking()
    out = {
        "summary": rep.summary(),
        "search_match": rep.search_match(),
        "by_gpu": rep.breakdown("gpu"),
        "by_framework": rep.breakdown("framework"),
        "by_source": rep.breakdown("source"),
        "rows": [
            {
                "id": r.id,
                "measured": r.measured,
                "predicted": r.predicted,
                "ape_pct": r.ape_pct,
                "reason": r.reason,
                "plan": r.plan,
                "searched": r.searched,
                "fill_spread_pct": r.fill_spread_pct,
                "sweep": r.sweep,
                "flagged": r.flagged,
                "search_check": _search_check_json(r.search_check),
            }
            for r in rep.rows
        ],
    }
    if ranked is not None:
        summary, flagged, sweeps = ranked
        out["ranking"] = summary
        out["ranking_flagged"] = flagged
        out["ranking_by_sweep"] = [dataclasses.asdict(s) for s in sweeps]
    return out


def _search_check_json(c: SearchCheck | None) -> dict | None:
    if c is None:
        return None
    return {
        "published_plan": c.published_plan,
        "searched_plan": c.searched_plan,
        "published_tokens_per_s_per_gpu": c.published_tokens_per_s_per_gpu,
        "searched_tokens_per_s_per_gpu": c.searched_tokens_per_s_per_gpu,
        "gain_pct": c.gain_pct,
        "parallel_dims_match": c.parallel_dims_match,
        "exact_match": c.exact_match,
        "searched_ge_published": c.searched_ge_published,
        "inside_space": c.inside_space,
        "widened": list(c.widened),
        "fits": c.fits,
        "published_memory_bytes": c.published_memory_bytes,
        "searched_memory_bytes": c.searched_memory_bytes,
        "memory_headroom": c.memory_headroom,
        "memory_limit_bytes": c.memory_limit_bytes,
    }


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def validation_tables(rep: ValidationReport, *, rows: bool = True) -> list[Table]:
    tables = []
    if rows:
        t = Table(title="Measured vs predicted tokens/s per GPU")
        for col in ("id", "measured", "predicted", "error"):
            t.add_column(col, justify="left" if col == "id" else "right")
        t.add_column("note")
        for r in rep.rows:
            err = None if r.ape_pct is None else (r.predicted - r.measured) / r.measured * 100
            t.add_row(
                r.id,
                _fmt(r.measured, ",.1f"),
                _fmt(r.predicted, ",.1f"),
                _fmt(err, "+.1f") + ("%" if err is not None else ""),
                r.reason,
            )
        tables.append(t)
    for key in ("gpu", "framework", "source"):
        b = Table(title=f"Accuracy by {key}")
        for col in (key, "rows", "predicted", "MAPE", "median APE", "<=10%", "<=25%"):
            b.add_column(col, justify="left" if col == key else "right")
        for k, s in rep.breakdown(key).items():
            b.add_row(
                k,
                str(s["rows"]),
                str(s["predicted"]),
                _fmt(s["mape_pct"], ".1f"),
                _fmt(s["median_ape_pct"], ".1f"),
                _fmt(s["within_10pct"], ".0%"),
                _fmt(s["within_25pct"], ".0%"),
            )
        tables.append(b)
    m = rep.search_match()
    if m is not None:
        t = Table(title="Plan search vs published layouts (full-layout rows)", show_header=False)
        n = m["rows"]

        def share(k: str) -> str:
            return f"{m[k]} of {n}" + (f" ({m[k] / n:.0%})" if n else "")

        t.add_row("exact match (+ micro-batch, vp/recompute/sharding if given)", share("exact"))
        t.add_row("parallel dims match (tp, pp, dp, cp, ep)", share("parallel_dims"))
        t.add_row("searched best >= published (predicted)", share("searched_ge_published"))
        t.add_row("published plan outside the search space", share("outside_space"))
        t.add_row("space widened to hold a published value", share("widened"))
        t.add_row("published plan over the memory model", share("not_fitting"))
        gain = f"{_fmt(m['median_gain_pct'], '.1f')} / {_fmt(m['max_gain_pct'], '.1f')} %"
        t.add_row("searched best faster by (median / max)", gain)
        tables.append(t)
    ranked = rep.ranking()
    if ranked is not None:
        tables.append(_ranking_table(*ranked))
    s = rep.summary()
    t = Table(title="Summary", show_header=False)
    t.add_row("rows", str(s["rows"]))
    t.add_row("predicted", str(s["predicted"]))
    if s["flagged"]:
        t.add_row("flagged (MFU < 1%), reported apart", str(s["flagged"]))
    t.add_row("MAPE", _fmt(s["mape_pct"], ".1f") + " %")
    t.add_row("median APE", _fmt(s["median_ape_pct"], ".1f") + " %")
    t.add_row("within 10%", _fmt(s["within_10pct"], ".0%"))
    t.add_row("within 25%", _fmt(s["within_25pct"], ".0%"))
    tables.append(t)
    return tables


def _ranking_table(summary: dict, flagged: dict, sweeps: list) -> Table:
    t = Table(title="Ranking of layouts within sweeps (non-flagged rows)", show_header=False)
    t.add_row("sweeps", str(summary["sweeps"]))
    t.add_row(
        "pairs > 10% apart ordered right",
        f"{_fmt(summary['pair_order_acc'], '.1%')} of {flagged['pairs']}",
    )
    t.add_row("Spearman per sweep, median", _fmt(summary["spearman_median"], ".3f"))
    regret = (
        f"{_fmt(summary['top1_regret_median_pct'], '.1f')} / "
        f"{_fmt(summary['top1_regret_max_pct'], '.1f')} %"
    )
    t.add_row("top-1 regret (median / max)", regret)
    if flagged["flagged_rows"]:
        t.add_row(
            "flagged rows predicted slower than every other layout",
            f"{_fmt(flagged['flagged_slower_than_all_share'], '.0%')} of {flagged['flagged_rows']}",
        )
    return t
