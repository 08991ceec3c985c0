"""``colossim``: click commands. Exit codes: 0 ok, 1 ran but nothing feasible, 2 bad input."""

from __future__ import annotations

import functools
import os
import sys
import traceback

import click
from rich.console import Console

from colossim import __version__
from colossim.errors import ColossimError, InputError, InputErrors
from colossim.report.jsonsafe import dumps

EXIT_OK, EXIT_INFEASIBLE, EXIT_BAD_INPUT = 0, 1, 2


class Infeasible(ColossimError):
    """The command ran but found nothing feasible (exit 1)."""

    def __init__(self, message: str, payload: dict | None = None) -> None:
        super().__init__(message)
        self.payload = payload or {}


def _console(stderr: bool = False) -> Console:
    return Console(
        stderr=stderr,
        no_color=bool(os.environ.get("NO_COLOR")),
        width=int(os.environ.get("COLUMNS", "0")) or None,
        highlight=False,
    )


def handle_errors(fn):
    """Turn known errors into one-line messages and exit codes; never a traceback
    unless -v was given twice."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        verbose = (ctx.find_root().obj or {}).get("verbose", 0)
        err = _console(stderr=True)
        try:
            return fn(*args, **kwargs)
        except InputErrors as exc:
            for e in exc.errors:
                err.print(f"error: {e.message()}", markup=False, soft_wrap=True)
            n = len(exc.errors)
            err.print(f"{n} error{'s' if n != 1 else ''} in scenario; nothing was run.", markup=False)
            sys.exit(EXIT_BAD_INPUT)
        except InputError as exc:
            err.print(f"error: {exc.message()}", markup=False, soft_wrap=True)
            sys.exit(EXIT_BAD_INPUT)
        except Infeasible as exc:
            fmt = kwargs.get("fmt", "text")
            if fmt == "json":
                click.echo(dumps({"feasible": False, "message": str(exc), **exc.payload}))
            err.print(f"infeasible: {exc}", markup=False, soft_wrap=True)
            sys.exit(EXIT_INFEASIBLE)
        except click.exceptions.Exit:
            raise
        except (KeyboardInterrupt, BrokenPipeError):
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - last line of defence: no tracebacks for users
            if verbose >= 2:
                traceback.print_exc()
            err.print(
                f"internal error: {exc.__class__.__name__}: {exc} (please report it; -vv shows the traceback)",
                markup=False,
                soft_wrap=True,
            )
            sys.exit(EXIT_INFEASIBLE + 2)

    return wrapper


def output(fmt: str, payload: dict, tables: list) -> None:
    if fmt == "json":
        click.echo(dumps(payload))
        return
    con = _console()
    for t in tables:
        con.print(t)


FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="output format"
)
SET = click.option(
    "--set", "overrides", multiple=True, metavar="PATH=VALUE", help="override a scenario field, e.g. cluster.num_gpus=20000"
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="colossim")
@click.option("-v", "--verbose", count=True, help="more detail (-vv: tracebacks for internal errors)")
@click.option("-q", "--quiet", is_flag=True, help="only the essential output")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """colossim: a digital twin of AI training superclusters.

    Predicts step time, MFU, memory, time-to-train (and, per command, fabric, failures,
    power and cost) for a scenario file; with no file, the built-in 100,000-H100
    Colossus-class scenario.
    """
    ctx.obj = {"verbose": verbose, "quiet": quiet}


def _load(scenario: str | None, overrides: tuple[str, ...]):
    from colossim.scenario.build import build_context
    from colossim.scenario.load import load_scenario

    loaded = load_scenario(scenario, overrides=list(overrides))
    return loaded, build_context(loaded.scenario)


def _top_estimates(res, ctx, k):
    from colossim.api import Estimate

    if res.feasible is None:
        return []
    return [Estimate.from_batch(res.feasible, i, ctx) for i in range(min(k, len(res.feasible)))]


def _search_or_fail(loaded, ctx):
    from colossim.api import plan_search
    from colossim.scenario.build import build_space

    res = plan_search(ctx, build_space(loaded.scenario))
    if res.feasible is None:
        reasons = ", ".join(f"{k}: {v:,}" for k, v in sorted(res.rejected.items(), key=lambda kv: -kv[1]))
        raise Infeasible(
            f"no feasible plan among {res.candidates:,} candidates (rejected by reason: {reasons})",
            {"candidates": res.candidates, "rejected": res.rejected},
        )
    return res


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@FORMAT
@SET
@handle_errors
def plan(scenario: str | None, fmt: str, overrides: tuple[str, ...]) -> None:
    """Search the best parallel plan for SCENARIO (default: built-in Colossus 100k H100)."""
    from colossim.report.perf import estimate_tables, estimate_to_json, search_tables

    loaded, ctx = _load(scenario, overrides)
    res = _search_or_fail(loaded, ctx)
    top = _top_estimates(res, ctx, loaded.scenario.search.top_k)
    best = top[0]
    payload = estimate_to_json(best, ctx, scenario=loaded.scenario.name)
    payload["search"] = {"candidates": res.candidates, "rejected": res.rejected, "elapsed_s": res.elapsed_s}
    tables = estimate_tables(best, ctx, breakdown=False) + search_tables(res, top)[:1]
    output(fmt, payload, tables)


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@FORMAT
@SET
@handle_errors
def estimate(scenario: str, fmt: str, overrides: tuple[str, ...]) -> None:
    """Predict the fixed plan of SCENARIO, with the full time and memory breakdown."""
    from colossim.api import estimate as run_estimate
    from colossim.report.perf import estimate_tables, estimate_to_json
    from colossim.scenario.build import build_plan

    loaded, ctx = _load(scenario, overrides)
    p = build_plan(loaded.scenario, ctx)
    if p is None:
        raise InputError("plan", "the scenario has no fixed plan ('search')", fix="give plan: {tp: ..., pp: ..., dp: ...} or run `colossim plan`")
    est = run_estimate(ctx, p)
    payload = estimate_to_json(est, ctx, scenario=loaded.scenario.name)
    output(fmt, payload, estimate_tables(est, ctx))
    if not est.fits:
        _console(stderr=True).print("warning: the plan does not fit in GPU memory", markup=False)


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@FORMAT
@SET
@click.option("--top", "top_k", type=click.IntRange(1, 1000), default=None, help="plans to list")
@handle_errors
def search(scenario: str | None, fmt: str, overrides: tuple[str, ...], top_k: int | None) -> None:
    """Enumerate every plan for SCENARIO: top plans, Pareto front size, rejections."""
    from colossim.report.perf import search_tables, search_to_json

    loaded, ctx = _load(scenario, overrides)
    res = _search_or_fail(loaded, ctx)
    top = _top_estimates(res, ctx, top_k or loaded.scenario.search.top_k)
    output(fmt, search_to_json(res, top), search_tables(res, top))


@main.command()
@click.argument("csv_file", metavar="FILE.csv", type=click.Path(dir_okay=False))
@FORMAT
@click.option("--no-rows", is_flag=True, help="summary tables only")
@handle_errors
def validate(csv_file: str, fmt: str, no_rows: bool) -> None:
    """Predict every run of a published-runs CSV and report the accuracy."""
    from colossim.report.perf import validation_tables, validation_to_json
    from colossim.validate import read_runs, validate_rows

    rep = validate_rows(read_runs(csv_file))
    output(fmt, validation_to_json(rep), validation_tables(rep, rows=not no_rows))


@main.command()
@handle_errors
def schema() -> None:
    """Print the JSON schema of scenario files."""
    import json

    from colossim.scenario.schema import Scenario

    click.echo(json.dumps(Scenario.model_json_schema(), indent=2))


@main.command()
@click.argument("kind", type=click.Choice(["gpus", "models", "frameworks"]), default="gpus")
@FORMAT
@handle_errors
def catalog(kind: str, fmt: str) -> None:
    """List catalog entries (GPUs, model presets, software stacks) with their sources."""
    from rich.table import Table

    from colossim.catalog import load_catalog

    name = {"gpus": "gpus", "models": "models", "frameworks": "efficiency"}[kind]
    entries = load_catalog(name)
    payload = {k: {"values": e.values, "source": e.source, "sources": e.sources} for k, e in entries.items()}
    t = Table(title=f"catalog: {kind}")
    t.add_column("id")
    t.add_column("figures")
    t.add_column("source")
    for k, e in entries.items():
        t.add_row(k, ", ".join(f"{a}={b}" for a, b in e.values.items() if not isinstance(b, dict))[:120], e.source[:100])
    output(fmt, payload, [t])


if __name__ == "__main__":  # pragma: no cover
    main()
