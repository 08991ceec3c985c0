"""``colossim sweep``: run a design-space sweep into DuckDB, show its Pareto front,
export it.

    colossim sweep SPEC.yaml [--db results.duckdb] [--executor ray] [--resume]
    colossim sweep show results.duckdb [--objectives days_to_train,usd_per_run]
    colossim sweep export results.duckdb results.parquet

``sweep SPEC`` is short for ``sweep run SPEC``.
"""

from __future__ import annotations

import sys

import click

from colossim.cli.common import EXIT_INFEASIBLE, FORMAT, console, handle_errors, output

__all__ = ["COMMANDS", "sweep"]


class _DefaultRun(click.Group):
    """A group whose first argument, when it is not a subcommand, is ``run``'s: so
    ``colossim sweep SPEC`` runs the sweep."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultRun)
def sweep() -> None:
    """Design-space sweeps into DuckDB: `sweep SPEC` (same as `sweep run SPEC`),
    `sweep show DB`, `sweep export DB OUT`.

    Bundled example specs (give the name as SPEC): gpu-count-nic, recovery-scale,
    power-battery. Format: docs/sweep.md.
    """


class _Progress:
    """Count, rate and ETA on a terminal (rich, on stderr); one line per point with -v
    when stderr is not a terminal; nothing with -q."""

    def __init__(self) -> None:
        obj = click.get_current_context().find_root().obj or {}
        self.verbose, quiet = int(obj.get("verbose", 0)), bool(obj.get("quiet", False))
        self.err = console(stderr=True)
        self.bar = None
        self.live = not quiet and self.err.is_terminal
        self.lines = not quiet and not self.err.is_terminal and self.verbose >= 1
        self.done, self.total = 0, 0

    def start(self, summary) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.total = summary.points - summary.skipped
        if summary.skipped:
            self.err.print(
                f"resuming: {summary.skipped:,} of {summary.points:,} points already stored",
                markup=False,
            )
        if self.live:
            self.bar = Progress(
                TextColumn("sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.err,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("sweep", total=self.total, rate="")

    def point(self, row: dict) -> None:
        self.done += 1
        if self.bar is not None:
            elapsed = self.bar.tasks[0].elapsed or 0.0
            rate = f"{self.done / elapsed:,.1f} points/s" if elapsed > 0 else ""
            self.bar.update(self.task, advance=1, rate=rate)
        elif self.lines:
            err = f" ({row['error'][:120]})" if row.get("error") else ""
            self.err.print(
                f"point {self.done}/{self.total} {row['status']} {row['hash']}{err}",
                markup=False,
                soft_wrap=True,
            )

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@sweep.command("run")
@click.argument("spec", metavar="SPEC")
@click.option(
    "--db",
    default="results.duckdb",
    show_default=True,
    help="DuckDB results file",
    type=click.Path(),
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local process pool, or Ray (pip install 'colossim[ray]')",
)
@click.option("--address", default=None, help="Ray cluster address (default: a local Ray)")
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="worker processes (default: CPUs)"
)
@click.option("--resume", is_flag=True, help="continue the sweep already in --db")
@click.option(
    "--export",
    "export_to",
    type=click.Path(dir_okay=False),
    default=None,
    help="also write every point to a .parquet or .csv file",
)
@FORMAT
@handle_errors
def run_cmd(
    spec: str,
    db: str,
    executor: str,
    address: str | None,
    workers: int | None,
    resume: bool,
    export_to: str | None,
    fmt: str,
) -> None:
    """Run every point of the sweep SPEC (a YAML file or a bundled example name) into
    the DuckDB file --db; a killed sweep continues with --resume."""
    from rich.table import Table

    from colossim.report.sweep import POINT_OUTPUTS
    from colossim.sweep import export_points, load_spec, run_sweep
    from colossim.sweep.tables import export_format

    if export_to is not None:
        export_format(export_to, field="--export")
    s = load_spec(spec)
    bar = _Progress()
    try:
        summary = run_sweep(
            s,
            db=db,
            outputs=POINT_OUTPUTS,
            executor=executor,
            workers=workers,
            address=address,
            resume=resume,
            on_start=bar.start,
            on_point=bar.point,
        )
    finally:
        bar.stop()
    exported = export_points(db, export_to, field="--export") if export_to else None
    payload = {
        "sweep": s.name,
        "db": db,
        "points": summary.points,
        "excluded": summary.excluded,
        "duplicates": summary.duplicates,
        "skipped": summary.skipped,
        "ran": summary.ran,
        "by_status": summary.by_status,
        "elapsed_s": summary.elapsed_s,
        "points_per_s": summary.ran / summary.elapsed_s if summary.elapsed_s > 0 else None,
        "export": export_to,
        "exported_rows": exported,
    }
    t = Table(title=f"Sweep {s.name} -> {db}", show_header=False)
    t.add_row(
        "points",
        f"{summary.points:,} ({summary.excluded:,} excluded by constraints, {summary.duplicates:,} duplicates)",
    )
    t.add_row(
        "ran now",
        f"{summary.ran:,} in {summary.elapsed_s:,.1f} s ({summary.skipped:,} already stored)",
    )
    t.add_row(
        "by status", ", ".join(f"{k}: {v:,}" for k, v in sorted(summary.by_status.items())) or "-"
    )
    if export_to:
        t.add_row("exported", f"{exported:,} rows to {export_to}")
    t.add_row("next", f"colossim sweep show {db}")
    output(fmt, payload, [t])
    if summary.ran and not summary.by_status.get("ok") and not summary.skipped:
        sys.exit(EXIT_INFEASIBLE)


@sweep.command("show")
@click.argument("db", metavar="DB")
@click.option(
    "--objectives",
    default=None,
    help="columns of the Pareto front, comma-separated, NAME or NAME:max "
    "[default: days_to_train,usd_per_run,facility_power_w]",
)
@FORMAT
@handle_errors
def show(db: str, objectives: str | None, fmt: str) -> None:
    """The Pareto front of the sweep in DB (time to train vs cost vs power by default)."""
    from colossim.report.sweep import (
        default_objectives,
        parse_objectives,
        sweep_show_json,
        sweep_show_tables,
    )
    from colossim.sweep import read_sweep

    data = read_sweep(db)
    obj = parse_objectives(objectives or default_objectives(data), data)
    output(fmt, sweep_show_json(data, obj), sweep_show_tables(data, obj))


@sweep.command("export")
@click.argument("db", metavar="DB")
@click.argument("out", metavar="OUT", type=click.Path(dir_okay=False))
@handle_errors
def export(db: str, out: str) -> None:
    """Write every point of the sweep in DB to OUT (.parquet or .csv)."""
    from colossim.sweep import export_points

    n = export_points(db, out)
    click.echo(f"wrote {n:,} points to {out}")


COMMANDS = (sweep,)
