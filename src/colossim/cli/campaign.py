"""``colossim campaign``: failures, restarts, checkpoints and goodput of a training run."""

from __future__ import annotations

import click

from colossim.cli.common import (
    FORMAT,
    SEED,
    SET,
    handle_errors,
    output,
    progress,
    run,
    searched,
    verbosity,
)
from colossim.units import SECONDS_PER_DAY

__all__ = ["COMMANDS", "campaign"]

# Candidate intervals of `--sweep`, as multiples of the closed-form optimum.
_SWEEP_FACTORS = (0.5, 0.71, 1.0, 1.41, 2.0)


@click.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@FORMAT
@SET
@click.option(
    "--trials",
    type=click.IntRange(1, 1_000_000),
    default=None,
    help="Monte Carlo trials [default: the scenario's reliability.trials, else 1000, "
    "fewer when each trial is long]",
)
@SEED
@click.option(
    "--sweep",
    is_flag=True,
    help="also simulate checkpoint intervals around the optimum (0.5x-2x) and report the best",
)
@click.option(
    "--scale-sweep",
    "scale",
    is_flag=True,
    help="also simulate goodput vs GPU count (10k-1M) for each recovery policy "
    "(14-day windows, 64 trials per cell)",
)
@click.option(
    "--sensitivity",
    is_flag=True,
    help="also simulate goodput with detection, restart, checkpoint write time and spares "
    "each at 0.25x-4x",
)
@verbosity
@handle_errors
def campaign(
    scenario: str | None,
    fmt: str,
    overrides: tuple[str, ...],
    trials: int | None,
    seed: int | None,
    sweep: bool,
    scale: bool,
    sensitivity: bool,
) -> None:
    """Simulate the training campaign of SCENARIO: failures, restarts, checkpoints, spares.

    Prints goodput, interruptions by cause, time-to-train p10/p50/p90, lost GPU-hours and
    the best checkpoint interval (Monte Carlo; same seed, same result). The steady-state
    throughput is the scenario's fixed plan, or the best plan the search finds.
    """
    import numpy as np
    from rich.table import Table

    from colossim.campaign import sweep_checkpoint_intervals
    from colossim.pipeline.campaign import check_default_work
    from colossim.report.campaign import campaign_tables, campaign_to_json

    r = searched(run(scenario, overrides, trials=trials, seed=seed, campaign_limit=None))
    sc = r.scenario
    est, config = r.estimate, r.campaign_config
    if trials is None and "trials" not in sc.reliability.model_fields_set:
        check_default_work(config)  # the default count of trials never runs for minutes
    with progress(f"simulating {config.n_trials:,} campaign trials"):
        result = r.campaign
    payload = {"scenario": sc.name, **campaign_to_json(result)}
    p = est.plan
    payload["steady_state"] = {
        "plan": p.as_dict(),
        "num_gpus_used": est.num_gpus_used,
        "tokens_per_s": est.tokens_per_s,
        "mfu": est.mfu,
        "days_to_train_no_failures": est.days_to_train,
    }
    steady = Table(title=f"Steady state ({sc.name})", show_header=False)
    steady.add_row(
        "Plan",
        f"TP {p.tp} x PP {p.pp} (VP {p.vp}) x DP {p.dp} x CP {p.cp}, EP {p.ep} "
        f"on {est.num_gpus_used:,} GPUs",
    )
    steady.add_row("Throughput", f"{est.tokens_per_s:,.0f} tokens/s, MFU {est.mfu:.1%}")
    steady.add_row("Days to train", f"{est.days_to_train:,.1f} with no failures")
    tables = campaign_tables(result)
    tables.insert(1, steady)

    if sweep:
        grid = result.checkpoint_interval_optimal_s * np.array(_SWEEP_FACTORS)
        with progress(f"simulating {grid.size} checkpoint intervals x {config.n_trials:,} trials"):
            sw = sweep_checkpoint_intervals(config, intervals_s=grid)
        payload["best_checkpoint_interval_s"] = sw.best_interval_s
        payload["checkpoint_sweep"] = {
            "intervals_s": sw.intervals_s,
            "goodput": sw.goodput,
            "goodput_stderr": sw.goodput_stderr,
            "best_interval_s": sw.best_interval_s,
        }
        st = Table(title="Checkpoint interval sweep (same random numbers for every interval)")
        st.add_column("interval, s", justify="right")
        st.add_column("goodput", justify="right")
        for iv, g, e in zip(sw.intervals_s, sw.goodput, sw.goodput_stderr, strict=True):
            mark = "  best" if iv == sw.best_interval_s else ""
            st.add_row(f"{iv:,.0f}", f"{g:.4f} ± {e:.4f}{mark}")
        tables.append(st)

    if scale:
        with progress("simulating goodput vs GPU count for each recovery policy"):
            payload["scale_sweep"], table = _scale_sweep(config)
        tables.append(table)
    if sensitivity:
        with progress("simulating the sensitivity of goodput"):
            payload["sensitivity"], table = _sensitivity(config)
        tables.append(table)

    notes = _notes(config, result, requested=trials or sc.reliability.trials)
    output(fmt, payload, tables, warnings=notes + r.warnings())


def _scale_sweep(config):
    """``--scale-sweep``: JSON and table of goodput vs GPU count per policy."""
    from rich.table import Table

    from colossim.campaign.sweeps import scale_sweep

    sw = scale_sweep(config)
    payload = {
        "num_gpus": sw.num_gpus,
        "window_days": sw.window_s / SECONDS_PER_DAY,
        "trials_per_cell": sw.n_trials,
        "goodput": {p: sw.goodput[i] for i, p in enumerate(sw.policies)},
        "goodput_stderr": {p: sw.goodput_stderr[i] for i, p in enumerate(sw.policies)},
    }
    table = Table(title="Goodput vs GPU count (same random numbers in every cell)")
    table.add_column("recovery")
    for n in sw.num_gpus:
        table.add_column(f"{n:,}", justify="right")
    for i, p in enumerate(sw.policies):
        table.add_row(p, *(f"{g:.3f}" for g in sw.goodput[i]))
    return payload, table


def _sensitivity(config):
    """``--sensitivity``: JSON and table of goodput vs each recovery input."""
    from rich.table import Table

    from colossim.campaign.sweeps import sensitivity

    se = sensitivity(config)
    payload = {
        "factors": se.factors,
        "inputs": {
            name: {
                "value": se.base_values[i],
                "goodput": se.goodput[i],
                "goodput_stderr": se.goodput_stderr[i],
            }
            for i, name in enumerate(se.inputs)
        },
    }
    table = Table(title="Sensitivity of goodput (one input at a time x factor)")
    table.add_column("input (as configured)")
    for f in se.factors:
        table.add_column(f"x{f:g}", justify="right")
    for i, name in enumerate(se.inputs):
        label = f"{name} ({se.base_values[i]:,.4g})"
        table.add_row(label, *(f"{g:.3f}" for g in se.goodput[i]))
    return payload, table


def _notes(config, result, *, requested: int) -> list[str]:
    """What the reader must know about this simulation: fewer trials than asked, spares
    short (unfinished trials: the pipeline warns) (stderr, and the JSON's ``warnings``)."""
    out = []
    if result.n_trials < requested:
        out.append(
            f"ran {result.n_trials:,} trials instead of {requested:,}: each trial "
            "simulates many interruptions; set --trials (or reliability.trials) to insist"
        )
    in_repair = config.nodes_in_repair_mean
    # Elastic DP never waits for a spare (it runs without the failed replicas).
    if in_repair > config.spare_nodes and config.recovery.policy != "elastic_dp":
        out.append(
            f"{in_repair:,.0f} nodes are in repair on average but only "
            f"{config.spare_nodes:,} hot spares: the job often waits for repairs "
            "(raise reliability.spare_nodes, or leave it out for a sized pool)"
        )
    # Unfinished trials: in the pipeline's warnings (ScenarioResults.warnings).
    return out


COMMANDS = [campaign]
