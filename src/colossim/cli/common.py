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
from pathlib import Path

import click
from rich.console import Console

from colossim.errors import InputError, InputErrors
from colossim.pipeline import NoFeasiblePlan, ScenarioResults, run_scenario
from colossim.report.jsonsafe import dumps, to_jsonable

# Exit codes: 0 ok; 1 ran but nothing feasible; 2 bad input; 3 internal error (a bug:
# the message asks for a report, -vv prints the traceback).
EXIT_OK, EXIT_INFEASIBLE, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class _Console(Console):
    """rich's Console, but a closed reader of stdout (``| head``) ends the program with
    the shell's broken-pipe status (141) instead of rich's exit 1, the "infeasible" code."""

    def on_broken_pipe(self) -> None:
        _quiet_broken_pipe()


def console(stderr: bool = False) -> Console:
    return _Console(
        stderr=stderr,
        no_color=bool(os.environ.get("NO_COLOR")),
        width=int(os.environ.get("COLUMNS", "0")) or None,
        highlight=False,
        # User text (scenario names, ids, CSV fields) is never terminal markup: a `[/]`
        # in a name is printed as written.
        markup=False,
    )


def _error_json(errors: list[InputError]) -> str:
    return dumps(
        {
            "ok": False,
            "exit_code": EXIT_BAD_INPUT,
            "errors": [
                {
                    "field": e.field,
                    "problem": e.problem,
                    "value": None if e.value is None else repr(e.value),
                    "fix": e.fix,
                    "location": e.location,
                    "message": e.message(),
                }
                for e in errors
            ],
        }
    )


def _bad_input(errors: list[InputError], fmt: str, err: Console, *, summary: str = "") -> None:
    """Print input errors (stderr; and a JSON object on stdout under --format json)."""
    if fmt == "json":
        click.echo(_error_json(errors))
    for e in errors:
        err.print(f"error: {e.message()}", soft_wrap=True)
    if summary:
        n = len(errors)
        err.print(f"{n} error{'s' if n != 1 else ''} in {summary}; nothing was run.")
    sys.exit(EXIT_BAD_INPUT)


def handle_errors(fn):
    """Turn known errors into one-line messages and exit codes; never a traceback
    unless -v was given twice. Under ``--format json`` errors are also a JSON object on
    stdout."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        err = console(stderr=True)
        fmt = kwargs.get("fmt", "text")
        try:
            return fn(*args, **kwargs)
        except InputErrors as exc:
            _bad_input(exc.errors, fmt, err, summary=exc.what)
        except InputError as exc:
            loaded = (ctx.find_root().obj or {}).get("loaded")
            if exc.location is None and loaded is not None:
                exc.location = loaded.location(exc.field)
            _bad_input([exc], fmt, err)
        except NoFeasiblePlan as exc:
            if fmt == "json":
                click.echo(dumps({"feasible": False, "message": str(exc), **exc.payload}))
            err.print(f"infeasible: {exc}", soft_wrap=True)
            sys.exit(EXIT_INFEASIBLE)
        except click.exceptions.Exit:
            raise
        except KeyboardInterrupt:
            err.print("interrupted: no output file was written or changed")
            sys.exit(130)
        except BrokenPipeError:
            _quiet_broken_pipe()
        except Exception as exc:  # noqa: BLE001 - last line of defence: no tracebacks for users
            if int((ctx.find_root().obj or {}).get("verbose", 0)) >= 2:
                traceback.print_exc()
            err.print(
                f"internal error: {exc.__class__.__name__}: {exc} (please report it; -vv shows the traceback)",
                soft_wrap=True,
            )
            sys.exit(EXIT_INTERNAL)

    return wrapper


# 128 + SIGPIPE: what a shell reports for a writer whose reader went away.
EXIT_BROKEN_PIPE = 141


def _quiet_broken_pipe() -> None:
    """The reader of stdout went away (``colossim search | head -1``): stop quietly.
    stdout is pointed at /dev/null so that the interpreter's final flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_BROKEN_PIPE)


def _set_verbosity(ctx: click.Context, param: click.Parameter, value) -> None:
    """-v/-q after the subcommand mean what they mean before it."""
    root = ctx.find_root()
    root.obj = root.obj or {}
    if param.name == "verbose" and value:
        root.obj["verbose"] = int(root.obj.get("verbose", 0)) + int(value)
    elif param.name == "quiet" and value:
        root.obj["quiet"] = True


def verbosity(fn):
    """``-v/--verbose`` and ``-q/--quiet`` on a subcommand (also accepted before it)."""
    fn = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_set_verbosity,
        help="only the essential output",
    )(fn)
    return click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_set_verbosity,
        help="more detail (-vv: tracebacks for internal errors)",
    )(fn)


def check_writable(path, field: str) -> None:
    """InputError (exit 2) if ``path`` cannot be written, before any expensive work."""
    p = Path(path)
    fix = "give a writable file path"
    if p.is_dir():
        raise InputError(field, "is a directory", value=str(path), fix=fix)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(field, "its directory does not exist", value=str(path), fix=fix)
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise InputError(field, "not writable", value=str(path), fix=fix)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename,
    so a kill or a concurrent writer never leaves a partial or mixed file."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _verbosity() -> tuple[int, bool]:
    ctx = click.get_current_context(silent=True)
    obj = (ctx.find_root().obj if ctx is not None else None) or {}
    return int(obj.get("verbose", 0)), bool(obj.get("quiet", False))


def output(
    fmt: str,
    payload: dict,
    tables: list,
    *,
    essential: slice = slice(0, 1),
    warnings: list[str] | None = None,
) -> None:
    """Print ``payload`` as JSON or ``tables`` as rich tables (``-q``: only the
    ``essential`` tables, by default the first). ``warnings`` (implausible results) go
    to stderr, and into the JSON as a ``warnings`` list."""
    if warnings is not None:
        payload = {**payload, "warnings": list(warnings)}
    if fmt == "json":
        click.echo(dumps(payload))
    else:
        verbose, quiet = _verbosity()
        con = console()
        for t in tables[essential] if quiet else tables:
            con.print(t)
        figures = _all_figures(payload) if verbose >= 1 and not quiet else None
        if figures is not None:
            con.print(figures)
    err = console(stderr=True)
    for w in warnings or ():
        err.print(f"warning: {w}", soft_wrap=True)


# `-v` lists every figure of the JSON output; beyond this many (a whole catalog) the
# tables already show them all.
_MAX_VERBOSE_FIGURES = 600
# Not figures of the answer: warnings (printed apart) and the wall-clock time of this run.
_NOT_FIGURES = frozenset({"warnings", "elapsed_s", "plans_per_s"})


def _all_figures(payload: object):
    """``-v``: every scalar of the JSON payload (nested keys joined by dots; lists of up to
    8 numbers inline, longer series only counted), as one table; None if there is none or
    the payload is a whole listing."""
    from rich.table import Table

    rows: list[tuple[str, str]] = []

    def walk(obj: object, key: str) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k not in _NOT_FIGURES:
                    walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(obj, list | tuple):
            if all(isinstance(v, int | float) for v in obj) and len(obj) <= 8:
                rows.append((key, ", ".join(_figure(v) for v in obj)))
            elif all(isinstance(v, int | float) for v in obj):
                rows.append((key, f"({len(obj):,} values)"))
            else:
                for i, v in enumerate(obj):
                    walk(v, f"{key}[{i}]")
        elif obj is not None:
            rows.append((key, _figure(obj)))

    walk(to_jsonable(payload), "")
    if not rows or len(rows) > _MAX_VERBOSE_FIGURES:
        return None
    t = Table(title="All figures (-v; the same as --format json)", show_header=False)
    t.add_column("figure", overflow="fold")
    t.add_column("value", justify="right", overflow="fold")
    for k, v in rows:
        t.add_row(k, v)  # the console reads no markup: user text prints as written
    return t


def _figure(v: object) -> str:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    return f"{v:,}" if isinstance(v, int) else f"{v:,.6g}"


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


class _Counted:
    """Handle of :func:`counted_progress`: relabel the bar, count one item done."""

    def __init__(self, bar=None, task=None, noun: str = "") -> None:
        self._bar, self._task, self._noun = bar, task, noun

    def stage(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)


@contextlib.contextmanager
def counted_progress(total: int, noun: str):
    """A progress bar over ``total`` items (count, elapsed, ETA) on stderr, on a terminal
    only and not under ``-q``. Yields a :class:`_Counted`."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    _, quiet = _verbosity()
    err = console(stderr=True)
    if quiet or not err.is_terminal:
        yield _Counted()
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(noun),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        yield _Counted(bar, bar.add_task(noun, total=total), noun)


FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="output format",
)
SEED = click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="random seed (overrides the scenario's)",
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


def searched(r: ScenarioResults, *, always: bool = False, priced: bool = False) -> ScenarioResults:
    """Run the search of ``r`` under a spinner when its plan is searched (``always``:
    also for a fixed plan, to compare with it); raises NoFeasiblePlan (exit 1).
    ``priced``: the command will price the cluster, so an unpriced GPU is refused first."""
    if priced:
        r.check_priced()
    if r.plan is None or always:
        with progress("searching parallel plans"):
            r.top  # noqa: B018 - computes (and caches) the search and its best plans
    return r
