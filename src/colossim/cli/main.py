"""``colossim``: click commands. Exit codes: 0 ok, 1 ran but nothing feasible, 2 bad input."""

from __future__ import annotations

import click

from colossim import __version__
from colossim.cli.common import (
    FORMAT,
    SET,
    check_writable,
    console,
    handle_errors,
    output,
    progress,
    run,
    searched,
    verbosity,
)
from colossim.errors import InputError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="colossim")
@click.option(
    "-v", "--verbose", count=True, help="more detail (-vv: tracebacks for internal errors)"
)
@click.option("-q", "--quiet", is_flag=True, help="only the essential output")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """colossim: a digital twin of AI training superclusters.

    Predicts step time, MFU, memory, time-to-train (and, per command, fabric, failures,
    power and cost) for a scenario file; with no file, the built-in 100,000-H100
    Colossus-class scenario.
    """
    ctx.obj = {"verbose": verbose, "quiet": quiet}


def _stop_cleanly_on_sigterm() -> None:
    """SIGTERM ends the command as Ctrl-C does: one line on stderr, exit 143. Output files
    are written atomically, so an interrupted command leaves the previous file intact."""
    import signal
    import sys

    def stop(signum, frame):  # noqa: ARG001 - the signal handler's signature
        print("terminated: no output file was written or changed", file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)


def entry() -> None:
    """The `colossim` program (the console script): the click group, with SIGTERM handled
    like Ctrl-C. In-process callers (tests, notebooks) use ``main`` and keep their own
    signal handlers."""
    _stop_cleanly_on_sigterm()
    main()


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@FORMAT
@SET
@click.option(
    "--write-plan",
    "write_plan",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="write the scenario to FILE with the chosen plan fixed (then `colossim estimate FILE`)",
)
@verbosity
@handle_errors
def plan(
    scenario: str | None, fmt: str, overrides: tuple[str, ...], write_plan: str | None
) -> None:
    """Search the best parallel plan for SCENARIO (default: built-in Colossus 100k H100).

    A scenario with a fixed plan keeps it as the result (as every other command does)
    and the search says how the best searched plan compares.
    """
    from rich.table import Table

    from colossim.report.perf import estimate_tables, estimate_to_json, search_tables

    if write_plan:
        check_writable(write_plan, "--write-plan")
    r = searched(run(scenario, overrides), always=True, priced=True)
    res, top, best, ctx = r.search, list(r.top), r.estimate, r.ctx
    payload = estimate_to_json(best, ctx, scenario=r.name)
    payload["search"] = {
        "candidates": res.candidates,
        "rejected": res.rejected,
        "memory_headroom": res.memory_headroom,
        "elapsed_s": res.elapsed_s,
    }
    # -v: the time and memory breakdowns and the rejections by reason too
    detail = (click.get_current_context().find_root().obj or {}).get("verbose", 0) >= 1
    gpus = None
    if r.partitioned:
        mix = " + ".join(f"{n:,} {g}" for g, n in r.scenario.cluster.gpu_counts.items())
        if r.scenario.cluster.job == "spanning":
            gpus = f"{mix} (one job, paced by the {ctx.cluster.gpu.id}s)"
        else:
            gpus = f"{mix} (one job per partition; shown: the {ctx.cluster.gpu.id} job)"
    tables = estimate_tables(best, ctx, breakdown=detail, gpus=gpus)
    tables += search_tables(res, top)[: 2 if detail else 1]
    payload["plan_source"] = r.plan_source
    if r.plan is not None:
        gain = top[0].tokens_per_s / best.tokens_per_s - 1.0
        payload["search"]["best_plan"] = top[0].plan.as_dict()
        payload["search"]["best_tokens_per_s"] = top[0].tokens_per_s
        payload["search"]["best_vs_scenario_plan"] = gain
        note = Table(show_header=False, title="Scenario plan vs search")
        note.add_row("Result above", "the scenario's fixed plan")
        note.add_row("Best searched plan", f"{gain:+.1%} tokens/s (plan #1 of the search table)")
        tables.append(note)
    if r.partitioned:
        from colossim.report.partitions import partitions_table, partitions_to_json

        with progress("each partition as its own job"):
            payload |= partitions_to_json(r)
        tables.append(partitions_table(payload))
    with progress("failures, fabric, power and cost"):
        payload["with_failures"], failures = _failure_summary(r)
        payload["facility"], summary = _facility_summary(r)
    tables += [failures, summary]
    if write_plan:
        from pathlib import Path

        from colossim.cli.common import write_atomic
        from colossim.scenario.load import dump_with_plan

        write_atomic(Path(write_plan), dump_with_plan(r.loaded, best.plan.as_dict()))
        payload["written_plan"] = str(write_plan)
    # -q: the plan and its prediction (tables 2 and 3 of estimate_tables)
    output(fmt, payload, tables, essential=slice(1, 3), warnings=r.warnings())
    if write_plan and fmt != "json":
        console(stderr=True).print(f"wrote {write_plan} with the plan above fixed")


def _failure_summary(r):
    """Days to train with failures next to the failure-free figure (`colossim campaign`
    for the whole story)."""
    from rich.table import Table

    wf, est = r.with_failures, r.estimate
    t = Table(title="With failures (see `colossim campaign`)", show_header=False)
    if wf is None:
        t.add_row("Campaign", r.campaign_note)
        return {"days_to_train": None, "goodput": None, "note": r.campaign_note}, t
    data = {
        "days_to_train": wf.days,
        "days_to_train_p10": wf.days_p10,
        "days_to_train_p90": wf.days_p90,
        "goodput": wf.goodput,
        "basis": wf.basis,
        "recovery_policy": r.campaign.recovery_policy,
        "trials": r.campaign.n_trials,
    }
    hours = wf.days < 1  # a failure-free run at scale may take minutes
    scale, unit, spec = (24, "hours", ",.3g") if hours else (1, "days", ",.1f")
    spread = (
        "from the window's goodput"
        if wf.basis.startswith("goodput")
        else f"p10-p90 {wf.days_p10 * scale:{spec}}-{wf.days_p90 * scale:{spec}} {unit}"
    )
    finished = r.campaign.fraction_finished
    with_failures = (
        f"{_days(wf.days)} with failures ({spread})"
        if finished >= 0.5 or wf.basis.startswith("goodput")
        else f"most runs do not finish within {r.scenario.reliability.horizon_days:,.0f} days "
        f"with failures ({finished:.0%} of trials do)"
    )
    t.add_row("Time to train", f"{with_failures} vs {_days(est.days_to_train)} failure-free")
    data["fraction_finished"] = finished
    t.add_row("Goodput", f"{wf.goodput:.1%} ({data['recovery_policy']} recovery)")
    asked = r.scenario.reliability.trials
    data["trials_requested"] = asked
    cut = data["trials"] < asked and "trials" not in r.scenario.reliability.model_fields_set
    t.add_row(
        "Trials",
        f"{data['trials']:,} of {asked:,}: cut to bound the work "
        "(`colossim campaign --trials N` insists)"
        if cut
        else f"{data['trials']:,}",
    )
    return data, t


def _usd(x: float) -> str:
    """Dollars in the unit that keeps 2-3 significant figures (a run may cost $40)."""
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"${x / scale:,.{2 if unit == 'B' else 1}f}{unit}"
    return f"${x:,.2f}"


def _days(days: float) -> str:
    from colossim.pipeline.sanity import duration_text

    return duration_text(days)


def _facility_summary(r):
    """Fabric, power and cost in a few figures (details: `colossim fabric|power|cost`)."""
    from rich.table import Table

    f, pw, cst = r.fabric, r.facility.power, r.cost
    data = {
        "fabric_tiers": f.tiers,
        "fabric_switches": int(sum(f.switches_per_tier)),
        "it_power_w": pw.nameplate_it_w,
        "it_average_power_w": pw.average_it_w,
        "facility_power_w": pw.average_facility_w,
        "peak_swing_w": pw.peak_swing_w,
        "battery_units": int(r.facility.battery_units),
        "capex_usd": cst.capex_usd,
        "usd_per_gpu_hour": cst.usd_per_gpu_hour,
        "usd_per_run": cst.usd_per_run,
    }
    t = Table(title="Fabric, power and cost (see `colossim fabric|power|cost`)", show_header=False)
    t.add_row("Fabric", f"{f.tiers} tiers, {data['fabric_switches']:,} switches")
    t.add_row(
        "Power",
        f"IT {pw.nameplate_it_w / 1e6:,.1f} MW nameplate ({pw.average_it_w / 1e6:,.1f} MW average while training), facility {pw.average_facility_w / 1e6:,.1f} MW average, swing {pw.peak_swing_w / 1e6:,.1f} MW",
    )
    t.add_row(
        "Cost",
        f"capex ${cst.capex_usd / 1e9:,.2f}B, ${cst.usd_per_gpu_hour:,.2f}/GPU-hour"
        + (f", {_usd(cst.usd_per_run)} per run" if cst.usd_per_run else ""),
    )
    return data, t


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@FORMAT
@SET
@verbosity
@handle_errors
def estimate(scenario: str | None, fmt: str, overrides: tuple[str, ...]) -> None:
    """Predict the fixed plan of SCENARIO, with the full time and memory breakdown (the
    best searched plan when the scenario has none)."""
    from colossim.report.perf import estimate_tables, estimate_to_json

    r = searched(run(scenario, overrides, campaign=False))
    est = r.estimate
    payload = estimate_to_json(est, r.ctx, scenario=r.name)
    payload["plan_source"] = r.plan_source
    # -q: the plan and its prediction (tables 2 and 3), as `plan -q`
    output(fmt, payload, estimate_tables(est, r.ctx), essential=slice(1, 3), warnings=r.warnings())
    if r.plan is None and fmt != "json":
        console(stderr=True).print(
            "note: the scenario has no fixed plan; this is the best searched plan "
            "(`colossim plan --write-plan FILE` fixes it in a scenario file)"
        )


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@FORMAT
@SET
@click.option("--top", "top_k", type=click.IntRange(1, 1000), default=None, help="plans to list")
@click.option(
    "--export",
    "export_to",
    type=click.Path(dir_okay=False),
    default=None,
    help="write every evaluated (feasible) plan to a .parquet or .csv file",
)
@verbosity
@handle_errors
def search(
    scenario: str | None,
    fmt: str,
    overrides: tuple[str, ...],
    top_k: int | None,
    export_to: str | None,
) -> None:
    """Enumerate every plan for SCENARIO: top plans, Pareto front size, rejections."""
    from colossim.report.perf import search_tables, search_to_json

    if export_to is not None:
        from colossim.sweep.tables import export_format

        export_format(export_to, field="--export")  # fail before the search
    r = searched(run(scenario, overrides, campaign=False))
    top = list(r.best_plans(top_k) if top_k else r.top)
    output(fmt, search_to_json(r.search, top), search_tables(r.search, top))
    if export_to is not None:
        from colossim.sweep import every_plan, write_columns

        with progress("searching again, keeping every plan"):
            columns, _ = every_plan(r)
            n = write_columns(columns, export_to)
        console(stderr=True).print(f"wrote {n:,} plans to {export_to}", markup=False)


@main.command()
@click.argument("csv_file", metavar="[FILE.csv]", required=False, default="published_runs")
@FORMAT
@click.option("--no-rows", is_flag=True, help="summary tables only")
@click.option(
    "--search-check/--no-search-check",
    default=True,
    show_default=True,
    help="also search each full-layout row and compare the best plan with the published one",
)
@verbosity
@handle_errors
def validate(csv_file: str, fmt: str, no_rows: bool, search_check: bool) -> None:
    """Predict every run of a published-runs CSV and report the accuracy.

    FILE.csv: a CSV of measured runs, or the name of a bundled file: `published_runs`
    (default: measured runs from papers and framework pages) or `layout_sweeps` (the same
    model and GPUs with only the layout varied). With a `sweep` column, also reports how
    well layouts are ranked within each sweep (pair order, Spearman, top-1 regret); rows
    flagged `MFU < 1%` in their notes are reported apart. Blank layout fields are filled
    with the row's stack defaults.
    """
    from colossim.report.perf import validation_tables, validation_to_json
    from colossim.validation import read_runs, validate_rows

    with progress("predicting published runs"):
        rep = validate_rows(read_runs(csv_file), search_check=search_check)
    output(fmt, validation_to_json(rep), validation_tables(rep, rows=not no_rows))


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@FORMAT
@SET
@click.option(
    "--size-bytes",
    type=click.FloatRange(min=1),
    default=2**30,
    show_default=True,
    help="message size for the bus-bandwidth table",
)
@verbosity
@handle_errors
def fabric(scenario: str | None, fmt: str, overrides: tuple[str, ...], size_bytes: float) -> None:
    """Scale-out fabric of SCENARIO: tiers, switches, optics, power, cost, bus bandwidth."""
    from colossim.fabric import bus_bandwidth_table
    from colossim.report.fabric import fabric_tables, fabric_to_json

    f = run(scenario, overrides, campaign=False).fabric
    bus = bus_bandwidth_table(f, size_bytes)
    output(fmt, fabric_to_json(f, bus), fabric_tables(f, bus))


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@FORMAT
@SET
@verbosity
@handle_errors
def power(scenario: str | None, fmt: str, overrides: tuple[str, ...]) -> None:
    """Power per phase, power swings, grid + battery sizing and energy for SCENARIO."""
    from colossim.report.power import power_tables, power_to_json

    r = searched(run(scenario, overrides))
    with progress("simulating failures, power trace, grid and battery"):
        result = r.facility
    payload = power_to_json(result) | {
        "campaign_outages_in_trace": r.campaign is not None,
        "campaign_note": r.campaign_note,
    }
    output(fmt, payload, power_tables(result), warnings=r.warnings())


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@FORMAT
@SET
@verbosity
@handle_errors
def cost(scenario: str | None, fmt: str, overrides: tuple[str, ...]) -> None:
    """Capex, opex, $ per GPU-hour and $ per training run for SCENARIO."""
    from rich.table import Table

    from colossim.report.cost import cost_tables, cost_to_json

    r = searched(run(scenario, overrides), priced=True)
    with progress("simulating failures, power trace, grid and battery"):
        result = r.cost
    payload = cost_to_json(result) | {
        "usd_per_run_failure_free": r.usd_per_run_failure_free,
        "run_days": r.run_days,
        "run_days_basis": r.run_days_basis,
    }
    run_t = Table(title="One training run", show_header=False)
    run_t.add_row(
        f"$ per run, {r.run_days_basis} ({_days(r.run_days)})",
        _usd(result.usd_per_run),
    )
    run_t.add_row(
        f"$ per run, failure-free ({_days(r.estimate.days_to_train)})",
        _usd(r.usd_per_run_failure_free),
    )
    # -q: the totals and the run (the breakdown by item is the detail)
    output(
        fmt, payload, [*cost_tables(result), run_t], essential=slice(1, 3), warnings=r.warnings()
    )


@main.command()
@FORMAT
@verbosity
@handle_errors
def schema(fmt: str) -> None:
    """Print the JSON schema of scenario files (it is JSON in either format)."""
    import json

    from colossim.scenario.schema import Scenario

    click.echo(json.dumps(Scenario.model_json_schema(), indent=2))


@main.command()
@FORMAT
@verbosity
@handle_errors
def examples(fmt: str) -> None:
    """List the example scenarios shipped with colossim (usable by name: `colossim plan
    gb300-1m`; `colossim init NAME` copies one to edit)."""
    from rich.table import Table

    from colossim.scenario.load import example_names, load_scenario

    rows = {}
    for name in example_names():
        sc = load_scenario(name).scenario
        rows[name] = {
            "scenario": sc.name,
            "gpu": sc.cluster.gpu,
            "num_gpus": sc.cluster.num_gpus,
            "model": sc.workload.model
            if isinstance(sc.workload.model, str)
            else sc.workload.model.name,
            "description": " ".join(sc.description.split()),
        }
    t = Table(title="example scenarios (use the name in place of a file)")
    for col in ("name", "GPUs", "model"):
        t.add_column(col, overflow="fold")
    for name, r in rows.items():
        t.add_row(name, f"{r['num_gpus']:,} x {r['gpu']}", r["model"])
    output(fmt, rows, [t])


@main.command()
@click.argument("name")
@click.argument("dest", required=False, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="overwrite DEST if it exists")
@verbosity
@handle_errors
def init(name: str, dest: str | None, force: bool) -> None:
    """Copy the example scenario NAME to DEST (default: NAME.yaml) to edit it."""
    from pathlib import Path

    from colossim.cli.common import write_atomic
    from colossim.scenario.load import example_text

    text = example_text(name)
    path = Path(dest or f"{name.removesuffix('.yaml')}.yaml")
    if path.exists() and not force:
        raise InputError(
            "DEST", "exists", value=str(path), fix="choose another path or pass --force"
        )
    check_writable(path, "DEST")
    write_atomic(path, text)
    click.echo(f"wrote {path}: edit it, then `colossim plan {path}`")


# `colossim catalog KIND`: (catalog file, entry `kind:` within it, or None for all).
CATALOG_KINDS = {
    "gpus": ("gpus", None),
    "models": ("models", None),
    "frameworks": ("efficiency", None),
    "switches": ("network", "switch"),
    "nics": ("network", "nic"),
    "optics": ("network", "transceiver"),
    "cables": ("network", "cable"),
    "batteries": ("batteries", None),
    "prices": ("prices", None),
    "power": ("power", None),
    "failures": ("reliability", None),
}


def _flat(values: dict, prefix: str = "") -> list[str]:
    """``key=value`` for every figure, nested mappings as ``outer.inner=value``."""
    out = []
    for k, v in values.items():
        if isinstance(v, dict):
            out += _flat(v, f"{prefix}{k}.")
        elif isinstance(v, list):
            out.append(f"{prefix}{k}=[{', '.join(map(str, v))}]")
        else:
            out.append(
                f"{prefix}{k}={v:,}"
                if isinstance(v, int) and not isinstance(v, bool)
                else f"{prefix}{k}={v}"
            )
    return out


@main.command()
@click.argument("kind", type=click.Choice(list(CATALOG_KINDS)), default="gpus")
@FORMAT
@verbosity
@handle_errors
def catalog(kind: str, fmt: str) -> None:
    """List catalog entries of KIND with every figure and its source."""
    from rich.table import Table

    from colossim.catalog import load_catalog

    name, entry_kind = CATALOG_KINDS[kind]
    entries = {
        k: e
        for k, e in load_catalog(name).items()
        if entry_kind is None or e.values.get("kind") == entry_kind
    }
    payload = {
        k: {"values": e.values, "source": e.source, "sources": e.sources}
        for k, e in entries.items()
    }
    t = Table(title=f"catalog: {kind} ({name}.yaml)", show_lines=True)
    t.add_column("id: source", overflow="fold", ratio=1)
    t.add_column("figures", overflow="fold", ratio=1)
    for k, e in entries.items():
        figures = [f for f in _flat(e.values) if not f.startswith("kind=")]
        # One figure a line, in a column of its own, so that no number is cut at 80 columns.
        t.add_row(f"{k}\n\n{e.source}", "\n".join(figures))
    output(fmt, payload, [t])


# Commands that live in their own modules (one module per command family).
for _module in ("report", "campaign", "sweep", "facility", "roadmap"):
    _mod = __import__(f"colossim.cli.{_module}", fromlist=["COMMANDS"])
    for _cmd in _mod.COMMANDS:
        main.add_command(_cmd)


if __name__ == "__main__":  # pragma: no cover
    entry()
