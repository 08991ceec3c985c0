"""A cluster of several partitions (GPU types): how each runs the job spanning them, and
what each would do as its own job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from colossim.pipeline import ScenarioResults

__all__ = ["partitions_table", "partitions_to_json"]


def partitions_to_json(r: ScenarioResults) -> dict:
    """``partitions`` (one entry per partition) and the spanning-vs-separate comparison."""
    jobs = r.separate_jobs
    # Both ways are computed whichever the scenario chose, for the comparison.
    spanning = r.partition_uses
    paced = r.spanning.paced(0)
    pacing = r.spanning.pacing(0)
    entries = []
    for i, (use, job) in enumerate(zip(spanning, jobs, strict=True)):
        est = job.estimate
        entries.append(
            {
                "name": use.label,
                "gpu": use.gpu_id,
                "num_gpus": use.num_gpus,
                "paces_the_job": i == pacing,
                "utilisation": use.utilisation,
                "lost_to_pacing": 1.0 - use.utilisation,
                "step_time_s": use.step_time_s,
                "micro_batches_per_replica": use.micro_batches,
                "mfu": use.mfu,
                "separate_job": {
                    "plan": est.plan.as_dict(),
                    "step_time_s": est.step_time_s,
                    "tokens_per_s": est.tokens_per_s,
                    "mfu": est.mfu,
                    "days_to_train": est.days_to_train,
                    "fabric_tiers": job.fabric.tiers,
                    "fabric_switches": int(sum(job.fabric.switches_per_tier)),
                },
            }
        )
    separate_tps = sum(j.estimate.tokens_per_s for j in jobs)
    uniform = r.spanning.paced(0, by_speed=False)
    by_speed = r.spanning.paced(0, by_speed=True)
    return {
        "partitions": entries,
        "partition_job": r.scenario.cluster.job,
        "placement": r.scenario.cluster.placement,
        "spanning_vs_separate": {
            "spanning_tokens_per_s": paced.tokens_per_s,
            "spanning_days_to_train": paced.days_to_train,
            "uniform_tokens_per_s": uniform.tokens_per_s,
            "by_speed_tokens_per_s": by_speed.tokens_per_s,
            "separate_tokens_per_s_total": separate_tps,
            "separate_over_spanning": separate_tps / paced.tokens_per_s,
        },
    }


def partitions_table(data: dict) -> Table:
    """The partitions as one table (from :func:`partitions_to_json`)."""
    job = data["partition_job"]
    title = (
        "Partitions: one job spanning them (paced by the slowest)"
        if job == "spanning"
        else "Partitions: one job each (headline: the largest)"
    )
    t = Table(title=title)
    for col in ("partition", "GPUs", "util", "MFU", "own job: days", "tok/s"):
        t.add_column(col, justify="left" if col == "partition" else "right", no_wrap=True)
    for p in data["partitions"]:
        own = p["separate_job"]
        t.add_row(
            p["name"] + (" *" if p["paces_the_job"] else ""),
            f"{p['num_gpus']:,}",
            f"{p['utilisation']:.0%}",
            f"{p['mfu']:.1%}",
            f"{own['days_to_train']:,.1f}",
            f"{own['tokens_per_s']:,.0f}",
        )
    cmp_ = data["spanning_vs_separate"]
    gain = cmp_["by_speed_tokens_per_s"] / cmp_["uniform_tokens_per_s"]
    t.caption = (
        f"* paces the spanning job ({data['placement']} placement); util = busy time / step. "
        f"Spanning: {cmp_['spanning_tokens_per_s']:,.0f} tok/s, "
        f"{cmp_['spanning_days_to_train']:,.1f} d; micro-batches by speed: {gain:.2f}x "
        f"uniform; separate jobs: {cmp_['separate_over_spanning']:.2f}x in total"
    )
    return t
