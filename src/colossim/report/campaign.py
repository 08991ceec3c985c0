"""Campaign (failures, checkpoints, goodput) result -> JSON-safe dict and rich tables."""

from __future__ import annotations

import math

from rich.table import Table

from colossim.campaign import CampaignResult, CampaignTimeline, SimulationMode

__all__ = ["campaign_tables", "campaign_to_json", "timeline_to_json"]


def _f(x: float) -> float:
    """Finite float for JSON (the core never produces NaN/inf; this is a last guard)."""
    x = float(x)
    return x if math.isfinite(x) else 0.0


def campaign_to_json(result: CampaignResult) -> dict:
    """JSON-safe summary of a campaign simulation (SI units or days, suffixes in the keys).

    Means are over Monte Carlo trials; ``*_stderr`` is the standard error of the mean (the
    spread expected between seeds); p10/p50/p90 are percentiles across trials.
    """
    r = result
    return {
        "mode": r.mode.value,
        "n_trials": int(r.n_trials),
        "seed": int(r.seed),
        "num_gpus": int(r.num_gpus),
        "goodput": _f(r.goodput),
        "goodput_stderr": _f(r.goodput_stderr),
        "goodput_p10": _f(r.goodput_p10),
        "goodput_p50": _f(r.goodput_p50),
        "goodput_p90": _f(r.goodput_p90),
        "effective_training_time": _f(r.effective_training_time),
        "effective_training_time_stderr": _f(r.effective_training_time_stderr),
        "wall_fraction": {
            "useful": _f(r.effective_training_time),
            "downtime": _f(r.wall_fraction_downtime),
            "rework": _f(r.wall_fraction_rework),
            "checkpoint": _f(r.wall_fraction_checkpoint),
        },
        "interruptions_mean": _f(r.interruptions_mean),
        "interruptions_stderr": _f(r.interruptions_stderr),
        "interruptions_p10": _f(r.interruptions_p10),
        "interruptions_p50": _f(r.interruptions_p50),
        "interruptions_p90": _f(r.interruptions_p90),
        "unexpected_interruptions_mean": _f(r.unexpected_interruptions_mean),
        "planned_interruptions_mean": _f(r.planned_interruptions_mean),
        "expected_interruptions": _f(r.expected_interruptions),
        "interruptions_by_cause": {k: _f(v) for k, v in r.interruptions_by_cause.items()},
        "interruptions_by_domain": {k: _f(v) for k, v in r.interruptions_by_domain.items()},
        "mtbi_s": _f(r.mtbi_s),
        "wall_days_mean": _f(r.wall_days_mean),
        "time_to_train_days_mean": _f(r.time_to_train_days_mean),
        "time_to_train_days_stderr": _f(r.time_to_train_days_stderr),
        "time_to_train_days_p10": _f(r.time_to_train_days_p10),
        "time_to_train_days_p50": _f(r.time_to_train_days_p50),
        "time_to_train_days_p90": _f(r.time_to_train_days_p90),
        "fraction_finished": _f(r.fraction_finished),
        "lost_gpu_hours": _f(r.lost_gpu_hours),
        "checkpoint_interval_s": _f(r.checkpoint_interval_s),
        "checkpoint_interval_young_s": _f(r.checkpoint_interval_young_s),
        "checkpoint_interval_daly_s": _f(r.checkpoint_interval_daly_s),
        "checkpoint_interval_optimal_s": _f(r.checkpoint_interval_optimal_s),
        # The best interval: maximum of the exact expected useful fraction (Daly 2006).
        "best_checkpoint_interval_s": _f(r.checkpoint_interval_optimal_s),
        "checkpoint_blocking_s": _f(r.checkpoint_blocking_s),
        "spare_nodes": int(r.spare_nodes),
        "work_fraction_degraded": _f(r.work_fraction_degraded),
        "recovery": _recovery_json(r),
    }


def _recovery_json(r: CampaignResult) -> dict:
    """The recovery design's per-interruption costs."""
    c = r.costs
    out: dict = {
        "policy": r.recovery_policy,
        "partial_restart": bool(r.partial_restart),
        "speed_factor": _f(r.speed_factor),
    }
    if c is not None:
        out.update(
            node_failure_stop_s=_f(c.node_stop_s),
            other_failure_stop_s=_f(c.other_stop_s),
            node_failure_debt_s=_f(c.node_debt_s),
        )
        # A finite loss: back to the last in-memory snapshot; left out: back to the last
        # persistent checkpoint.
        for key, loss in (("node", c.node_max_loss_s), ("other", c.other_max_loss_s)):
            if math.isfinite(loss):
                out[f"{key}_failure_max_loss_s"] = _f(loss)
    for name, dc in r.domain_costs.items():
        out[f"{name}_failure_stop_s"] = _f(dc.stop_s)
        out[f"{name}_failure_debt_s"] = _f(dc.debt_s)
        out[f"{name}_spares_cover"] = bool(dc.covered)
        if math.isfinite(dc.max_loss_s):
            out[f"{name}_failure_max_loss_s"] = _f(dc.max_loss_s)
    return out


def _recovery_row(r: CampaignResult) -> tuple[str, str]:
    """Recovery policy and running throughput, for the summary table."""
    partial = " + partial restart" if r.partial_restart else ""
    return (
        r.recovery_policy.replace("_", " ") + partial,
        f"running at {100 * r.speed_factor:.1f}% throughput",
    )


def timeline_to_json(timeline: CampaignTimeline) -> dict:
    """JSON-safe timeline of one example trial: one entry per gap between interruptions
    (wall times in s; ``kept_s``/``checkpoint_s``/``lost_s`` are durations in s)."""
    tl = timeline
    return {
        "wall_s": _f(tl.wall_s),
        "finished": bool(tl.finished),
        "truncated": bool(tl.truncated),
        "gaps": {
            "start_s": [_f(x) for x in tl.start_s],
            "up_s": [_f(x) for x in tl.up_s],
            "end_s": [_f(x) for x in tl.end_s],
            "kept_s": [_f(x) for x in tl.kept_s],
            "checkpoint_s": [_f(x) for x in tl.checkpoint_s],
            "lost_s": [_f(x) for x in tl.lost_s],
            "work_s": [_f(x) for x in tl.work_s],
            "active_fraction": [_f(x) for x in tl.active_fraction],
            "end": [e.value for e in tl.ends],
        },
    }


def campaign_tables(result: CampaignResult) -> list[Table]:
    """Rich tables: campaign summary, where the wall clock goes, interruptions by cause."""
    r = result
    window = r.mode is SimulationMode.WINDOW
    title = (
        f"Campaign window: {r.wall_days_mean:.1f} days on {r.num_gpus:,} GPUs"
        if window
        else f"Campaign to train: {r.num_gpus:,} GPUs"
    )
    summary = Table(title=f"{title} ({r.n_trials:,} trials, seed {r.seed})")
    summary.add_column("quantity")
    summary.add_column("mean", justify="right")
    summary.add_column("p10 / p50 / p90", justify="right")
    summary.add_row(
        "goodput",
        f"{r.goodput:.3f} ± {r.goodput_stderr:.4f}",
        f"{r.goodput_p10:.3f} / {r.goodput_p50:.3f} / {r.goodput_p90:.3f}",
    )
    summary.add_row(
        "effective training time",
        f"{r.effective_training_time:.3f} ± {r.effective_training_time_stderr:.4f}",
        "",
    )
    if not window:
        summary.add_row(
            "time to train, days",
            f"{r.time_to_train_days_mean:.1f} ± {r.time_to_train_days_stderr:.1f}",
            f"{r.time_to_train_days_p10:.1f} / {r.time_to_train_days_p50:.1f} / "
            f"{r.time_to_train_days_p90:.1f}",
        )
        if r.fraction_finished < 1.0:
            summary.add_row("finished before the horizon", f"{100 * r.fraction_finished:.1f}%", "")
    summary.add_row(
        "interruptions",
        f"{r.interruptions_mean:,.1f} ± {r.interruptions_stderr:.1f}",
        f"{r.interruptions_p10:,.0f} / {r.interruptions_p50:,.0f} / {r.interruptions_p90:,.0f}",
    )
    summary.add_row(
        "  unexpected / planned",
        f"{r.unexpected_interruptions_mean:,.1f} / {r.planned_interruptions_mean:,.1f}",
        f"closed form {r.expected_interruptions:,.1f}",
    )
    summary.add_row("mean time between interruptions (all)", f"{r.mtbi_s / 60:,.1f} min", "")
    summary.add_row("lost GPU-hours", f"{r.lost_gpu_hours:,.0f}", "")
    summary.add_row(
        "checkpoint interval used",
        f"{r.checkpoint_interval_s:,.0f} s",
        f"Young {r.checkpoint_interval_young_s:,.0f} / Daly {r.checkpoint_interval_daly_s:,.0f} s",
    )
    summary.add_row(
        "best checkpoint interval",
        f"{r.checkpoint_interval_optimal_s:,.0f} s",
        "max. of expected useful fraction",
    )
    summary.add_row("hot-spare nodes", f"{r.spare_nodes:,}", "")
    summary.add_row("recovery", *_recovery_row(r))
    summary.add_row("checkpoint stall", f"{r.checkpoint_blocking_s:,.2f} s", "")

    wall = Table(title="Where the wall clock goes (mean fraction)")
    wall.add_column("use")
    wall.add_column("fraction", justify="right")
    for name, value in (
        ("training kept", r.effective_training_time),
        ("down (detect, wait, restart, restore)", r.wall_fraction_downtime),
        ("rework (lost since last checkpoint)", r.wall_fraction_rework),
        ("checkpoint stalls", r.wall_fraction_checkpoint),
        ("reduced throughput (elastic, in work)", r.work_fraction_degraded),
    ):
        wall.add_row(name, f"{100 * value:.2f}%")

    causes = Table(title="Interruptions by cause (mean per trial)")
    causes.add_column("cause")
    causes.add_column("count", justify="right")
    causes.add_column("share", justify="right")
    total = sum(r.interruptions_by_cause.values())
    for name, count in sorted(r.interruptions_by_cause.items(), key=lambda kv: -kv[1]):
        share = count / total if total > 0 else 0.0
        causes.add_row(name.replace("_", " "), f"{count:,.1f}", f"{100 * share:.1f}%")
    return [summary, wall, causes, _domain_table(r)]


def _domain_table(r: CampaignResult) -> Table:
    """Interruptions by what they take down, with each failure domain's stop."""
    table = Table(title="Interruptions by domain (mean per trial)")
    table.add_column("takes down")
    table.add_column("count", justify="right")
    table.add_column("whole-job stop", justify="right")
    stops = {
        "node": r.costs.node_stop_s if r.costs else None,
        "nvlink_domain": r.costs.node_stop_s if r.costs else None,
        "in_place": r.costs.other_stop_s if r.costs else None,
        **{k: v.stop_s for k, v in r.domain_costs.items()},
    }
    for name, count in r.interruptions_by_domain.items():
        stop = stops.get(name)
        label = name.replace("_", " ")
        if name in r.domain_costs and not r.domain_costs[name].covered:
            label += " (spares short: waits)"
        table.add_row(label, f"{count:,.1f}", "" if stop is None else f"{stop:,.0f} s")
    return table
