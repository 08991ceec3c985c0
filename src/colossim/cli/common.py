"""Shared pieces of the click commands: error handling, output, scenario loading.

Each command module (``cli/main.py`` and its siblings) imports from here, so that
commands can live in their own modules without circular imports.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import traceback

import click
from rich.console import Console

from colossim.errors import InputError, InputErrors
from colossim.pipeline import NoFeasiblePlan, ScenarioResults, run_scenario
from colossim.report.jsonsafe import dumps

# Exit codes: 0 ok; 1 ran but nothing feasible; 2 bad input; 3 internal error (a bug:
# the message asks for a report, -vv prints the traceback).
EXIT_OK, EXIT_INFEASIBLE, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def console(stderr: bool = False) -> Console:
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
        err = console(stderr=True)
        try:
            return fn(*args, **kwargs)
        except InputErrors as exc:
            for e in exc.errors:
                err.print(f"error: {e.message()}", markup=False, soft_wrap=True)
            n = len(exc.errors)
            err.print(
                f"{n} error{'s' if n != 1 else ''} in scenario; nothing was run.", markup=False
            )
            sys.exit(EXIT_BAD_INPUT)
        except InputError as exc:
            loaded = (ctx.find_root().obj or {}).get("loaded")
            if exc.location is None and loaded is not None:
                exc.location = loaded.location(exc.field)
            err.print(f"error: {exc.message()}", markup=False, soft_wrap=True)
            sys.exit(EXIT_BAD_INPUT)
        except NoFeasiblePlan as exc:
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
            sys.exit(EXIT_INTERNAL)

    return wrapper


def _verbosity() -> tuple[int, bool]:
    ctx = click.get_current_context(silent=True)
    obj = (ctx.find_root().obj if ctx is not None else None) or {}
    return int(obj.get("verbose", 0)), bool(obj.get("quiet", False))


def output(fmt: str, payload: dict, tables: list, *, essential: slice = slice(0, 1)) -> None:
    """Print ``payload`` as JSON or ``tables`` as rich tables (``-q``: only the
    ``essential`` tables, by default the first)."""
    if fmt == "json":
        click.echo(dumps(payload))
        return
    _, quiet = _verbosity()
    con = console()
    for t in tables[essential] if quiet else tables:
        con.print(t)


@contextlib.contextmanager
def progress(description: str):
    """A spinner with elapsed time on stderr while a slow step runs.

    Yields a function ``stage(text)`` that relabels the spinner. Silent under ``-q``
    and when stderr is not a terminal (rich then renders nothing transient).
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    _, quiet = _verbosity()
    err = console(stderr=True)
    if quiet or not err.is_terminal:
        yield lambda text: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)
        yield lambda text: bar.update(task, description=text)


FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="output format",
)
SET = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="override a scenario field, e.g. cluster.num_gpus=20000",
)


def run(scenario: str | None, overrides: tuple[str, ...] = (), **options) -> ScenarioResults:
    """Load SCENARIO (with ``--set`` overrides) and return its lazy pipeline
    (:func:`colossim.run_scenario`; ``options`` are its keyword arguments)."""
    from colossim.scenario.load import load_scenario

    loaded = load_scenario(scenario, overrides=list(overrides))
    # Errors found after loading (cross-field rules, a plan that does not fit the
    # cluster) still point into the file: handle_errors looks the field up here.
    click_ctx = click.get_current_context(silent=True)
    if click_ctx is not None:
        root = click_ctx.find_root()
        root.obj = {**(root.obj or {}), "loaded": loaded}
    return run_scenario(loaded, **options)


def searched(r: ScenarioResults) -> ScenarioResults:
    """Run the search of ``r`` under a spinner (raises NoFeasiblePlan: exit 1)."""
    with progress("searching parallel plans"):
        r.top  # noqa: B018 - computes (and caches) the search and its best plans
    return r
