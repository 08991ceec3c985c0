"""``colossim report`` (offline HTML) and ``colossim compare`` (scenarios side by side)."""

from __future__ import annotations

from pathlib import Path

import click

from colossim.cli.common import (
    FORMAT,
    SET,
    check_writable,
    counted_progress,
    handle_errors,
    output,
    progress,
    run,
    verbosity,
    write_atomic,
)
from colossim.errors import InputError

__all__ = ["COMMANDS", "compare", "report"]

CAMPAIGN = click.option(
    "--campaign/--no-campaign",
    "with_campaign",
    default=True,
    show_default=True,
    help="simulate the failure campaign for goodput (skipped when too expensive)",
)
TRIALS = click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=None,
    help="campaign Monte Carlo trials (default: the scenario's, bounded)",
)


def _collect_all(paths: list, overrides: tuple[str, ...], *, with_campaign: bool, trials):
    """Every scenario's pipeline with every stage the report shows computed now, so that
    rendering does no work; a progress bar (count, ETA) on a terminal."""
    results = []
    with counted_progress(len(paths), "scenarios") as bar:
        for path in paths:
            r = run(path, overrides, campaign=with_campaign, trials=trials)
            r.check_priced()
            if r.plan is None:
                bar.stage(f"{r.name}: searching parallel plans")
                r.top  # noqa: B018
            bar.stage(f"{r.name}: sizing the fabric, power, grid and battery")
            r.cost  # noqa: B018 - computes the estimate, fabric, facility and cost
            if with_campaign:
                bar.stage(f"{r.name}: simulating the failure campaign")
                r.campaign  # noqa: B018
            results.append(r)
            bar.advance()
    return results


def _sweep_sections(db: str) -> list:
    """The sweep section of the report (read before the expensive work: a bad DB fails
    fast)."""
    from colossim.report.sweep import default_objectives, parse_objectives, sweep_sections
    from colossim.sweep import read_sweep

    data = read_sweep(db, field="--sweep")
    return sweep_sections(data, parse_objectives(default_objectives(data), data))


def _build_out(main, trials: int | None, with_campaign: bool) -> list:
    """The partitions and build-out sections of the main scenario (empty without them)."""
    from colossim.report.build_out import build_out_sections

    if not main.partitioned and not main.scenario.phases:
        return []
    phases = None
    if main.scenario.phases:
        from colossim.pipeline.roadmap import roadmap

        n = len(main.scenario.phases)
        with counted_progress(n, "build-out phases") as bar:
            phases = roadmap(main.loaded, trials=trials, campaign=with_campaign, on_phase=bar.stage)
    return build_out_sections(main, phases)


def _check_output(out: str) -> Path:
    """Fail early (exit 2) if ``-o`` cannot be written, before the expensive work."""
    check_writable(out, "-o/--output")
    return Path(out)


@click.command()
@click.argument("scenarios", nargs=-1, type=click.Path(dir_okay=False), metavar="[SCENARIO]...")
@click.option(
    "-o",
    "--output",
    "out",
    default="report.html",
    show_default=True,
    type=click.Path(),
    help="HTML file to write",
)
@click.option(
    "--compare",
    "compare_with",
    multiple=True,
    type=click.Path(dir_okay=False),
    metavar="SCENARIO",
    help="add a scenario to the comparison section (repeatable; same as extra arguments)",
)
@click.option(
    "--sweep",
    "sweep_db",
    default=None,
    type=click.Path(dir_okay=False),
    metavar="DB",
    help="add a sweep's Pareto scatter and parallel coordinates (a `colossim sweep` DuckDB file)",
)
@click.option(
    "--title",
    default=None,
    help="page title (default: 'colossim report: A vs B ...', scenarios in the order given)",
)
@CAMPAIGN
@TRIALS
@FORMAT
@SET
@verbosity
@handle_errors
def report(
    scenarios: tuple[str, ...],
    out: str,
    compare_with: tuple[str, ...],
    sweep_db: str | None,
    title: str | None,
    with_campaign: bool,
    trials: int | None,
    fmt: str,
    overrides: tuple[str, ...],
) -> None:
    """Write one self-contained HTML report of SCENARIO (default: built-in Colossus 100k H100).

    The file works offline (plotly.js is embedded once; nothing is fetched): summary, time
    and memory breakdowns, search Pareto front (searched plans only), power trace with
    battery state of charge, cost, campaign goodput, fabric. Further scenarios (extra
    arguments or --compare) add a comparison section; the report is about the first.
    --set applies to every scenario.
    """
    from colossim.report.html import render_html, report_sections, report_title

    path = _check_output(out)
    extra = _sweep_sections(sweep_db) if sweep_db else []
    paths: list[str | None] = list(scenarios) + list(compare_with)
    if not paths:
        paths = [None]
    results = _collect_all(paths, overrides, with_campaign=with_campaign, trials=trials)
    extra = _build_out(results[0], trials, with_campaign) + extra
    if title is None:
        title = report_title([r.name for r in results])
    with progress("rendering the HTML report"):
        page = render_html(results[0], results[1:], extra=extra, title=title)
        ids = [s.id for s in [*report_sections(results[0], results[1:]), *extra]]
    try:
        write_atomic(path, page)
    except OSError as exc:
        raise InputError(
            "-o/--output", f"cannot write ({exc.strerror or exc})", value=out
        ) from None
    size = len(page.encode("utf-8"))
    payload = {
        "output": str(path),
        "bytes": size,
        "sections": ids,
        "scenarios": [r.name for r in results],
        "title": title,
        "campaign": None if results[0].campaign is not None else results[0].campaign_note,
    }
    if fmt == "json":
        output(fmt, payload, [])
        return
    click.echo(f"wrote {path} ({size / 1e6:.1f} MB): {', '.join(ids)}")
    output(fmt, payload, [])  # -v: every figure of the JSON (title, sections, scenarios)
    if results[0].campaign is None and results[0].campaign_note:
        click.echo(f"note: {results[0].campaign_note}", err=True)


@click.command()
@click.argument(
    "scenarios", nargs=-1, required=True, type=click.Path(dir_okay=False), metavar="SCENARIO..."
)
@CAMPAIGN
@TRIALS
@FORMAT
@SET
@verbosity
@handle_errors
def compare(
    scenarios: tuple[str, ...],
    with_campaign: bool,
    trials: int | None,
    fmt: str,
    overrides: tuple[str, ...],
) -> None:
    """Key outputs of several SCENARIO files side by side (JSON: one dict per scenario).

    GPU type and count, model, best plan, step time, tokens/s, MFU, memory per GPU, days to
    train, fabric tiers and switches, facility power, capex, $ per GPU-hour and goodput
    (null when the campaign is skipped). --set applies to every scenario.
    """
    from colossim.report.compare import compare_tables, compare_to_json

    results = _collect_all(list(scenarios), overrides, with_campaign=with_campaign, trials=trials)
    rows = compare_to_json(results)
    if fmt == "json":
        from colossim.report.jsonsafe import dumps

        click.echo(dumps(rows))
        return
    output(fmt, {"scenarios": rows}, compare_tables(rows))


COMMANDS = [report, compare]
