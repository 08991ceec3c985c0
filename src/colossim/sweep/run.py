"""Run a sweep: resolve every point into a validated scenario (hash, dedupe, skip the
points a resumed store already has), evaluate the rest on an executor, and store each
result as it arrives.

A point is independent of the others: a worker runs :func:`colossim.run_scenario` on
it and returns a flat dict of numbers and strings. A point that fails (bad input found
late, no feasible plan) is stored with its ``status`` and ``error``, not lost.

Which outputs a point has is decided by a :class:`PointOutputs` the caller passes (the
rendering layer's ``colossim.report.sweep.POINT_OUTPUTS`` reuses the ``compare`` row):
this package sits below ``report/`` and does not choose them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from colossim.errors import InputError, InputErrors, did_you_mean
from colossim.pipeline import NoFeasiblePlan, ScenarioResults, run_scenario
from colossim.scenario.load import LoadedScenario, apply_overrides, scenario_from_data
from colossim.scenario.schema import Scenario
from colossim.sweep.executors import Executor, check_executor, default_workers, run_tasks
from colossim.sweep.points import Point, sweep_points
from colossim.sweep.spec import SweepSpec
from colossim.sweep.store import SQL_TYPES, SweepStore
from colossim.yamlio import load_yaml

__all__ = ["PointOutputs", "SweepSummary", "evaluate_point", "resolve_points", "run_sweep"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PointOutputs:
    """The outputs stored for each point.

    Attributes:
        columns: output name -> SQL type (``DOUBLE``, ``BIGINT``, ``VARCHAR``,
            ``BOOLEAN``), in column order.
        row: a module-level function (workers import it by name) from a point's
            :class:`ScenarioResults` to a dict with (at least) those keys.
    """

    columns: Mapping[str, str]
    row: Callable[[ScenarioResults], dict]


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One point as a worker receives it (picklable)."""

    hash: str
    idx: int
    values: dict[str, Any]
    overrides: tuple[str, ...]
    scenario: Scenario | None
    error: str | None
    trials: int | None
    campaign: bool
    outputs: PointOutputs


@dataclass(slots=True, kw_only=True)
class SweepSummary:
    """What a sweep run did."""

    points: int  # points after constraints and deduplication
    excluded: int  # points the constraints excluded
    duplicates: int  # points that resolved to a scenario already in the sweep
    skipped: int  # already in the store (resumed)
    ran: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0


def scenario_hash(scenario: Scenario) -> str:
    """Stable hash of a resolved scenario (canonical JSON of every field)."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _unknown_field_error(spec: SweepSpec, exc: InputErrors | InputError) -> InputError | None:
    """The spec error when a point fails because an axis names no scenario field."""
    errors = exc.errors if isinstance(exc, InputErrors) else [exc]
    for e in errors:
        if "unknown key" not in e.problem:
            continue
        for a in spec.axes:
            if e.field == a.field or a.field.startswith(e.field + "."):
                return InputError(
                    f"axes.{a.field}",
                    f"not a scenario field ({e.field}: {e.problem})",
                    location=spec.location("axes", a.field),
                    fix="see `colossim schema` for the fields",
                )
    return None


def resolve_points(spec: SweepSpec, *, outputs: PointOutputs) -> tuple[list[Task], SweepSummary]:
    """Every point of ``spec`` as a task: overrides applied to the base scenario and
    validated (about 1 ms a point). A point whose values the scenario rejects becomes
    an ``invalid`` task; an axis over a field that does not exist is a spec error.

    Raises:
        InputError: a bad spec (unknown field, constraints that exclude everything).
    """
    points, excluded = sweep_points(spec)
    with open(spec.base, encoding="utf-8") as f:
        base, _ = load_yaml(f.read(), filename=spec.base)
    tasks: dict[str, Task] = {}
    duplicates = 0
    for p in points:
        scenario, error = _resolve(spec, base, p)
        h = scenario_hash(scenario) if scenario is not None else _overrides_hash(p)
        if h in tasks:
            duplicates += 1
            continue
        tasks[h] = Task(
            hash=h,
            idx=p.idx,
            values=p.values,
            overrides=p.overrides,
            scenario=scenario,
            error=error,
            trials=spec.trials,
            campaign=spec.campaign,
            outputs=outputs,
        )
    summary = SweepSummary(points=len(tasks), excluded=excluded, duplicates=duplicates, skipped=0)
    return list(tasks.values()), summary


def _resolve(spec: SweepSpec, base: Any, p: Point) -> tuple[Scenario | None, str | None]:
    try:
        data = apply_overrides(copy.deepcopy(base), list(p.overrides))
        return scenario_from_data(data, positions={}, filename=spec.base), None
    except (InputErrors, InputError) as exc:
        spec_error = _unknown_field_error(spec, exc)
        if spec_error is not None:
            raise spec_error from None
        return None, str(exc).replace("\n", "; ")


def _overrides_hash(p: Point) -> str:
    text = json.dumps(sorted(p.overrides))
    return "invalid-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def evaluate_point(task: Task) -> dict[str, Any]:
    """Run one point (in a worker) and return its row: hash, idx, status, error,
    elapsed_s, the axis values and the outputs (None where not computed)."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {"hash": task.hash, "idx": task.idx, **task.values}
    row["overrides"] = json.dumps(list(task.overrides))
    status, error, outputs = "ok", None, {}
    if task.scenario is None:
        status, error = "invalid", task.error
    else:
        try:
            loaded = LoadedScenario(scenario=task.scenario, path=f"<sweep point {task.idx}>")
            r = run_scenario(loaded, trials=task.trials, campaign=task.campaign)
            outputs = task.outputs.row(r)
        except NoFeasiblePlan as exc:
            status, error = "infeasible", str(exc)
        except (InputError, InputErrors) as exc:
            status, error = "invalid", str(exc).replace("\n", "; ")
        except Exception as exc:  # noqa: BLE001 - a point's bug is stored, not fatal
            status, error = "error", f"{exc.__class__.__name__}: {exc}"
    for k in task.outputs.columns:
        row[k] = outputs.get(k)
    row.update(status=status, error=error, elapsed_s=time.perf_counter() - t0)
    return row


def _check_outputs(spec: SweepSpec, outputs: PointOutputs) -> PointOutputs:
    """The evaluator narrowed to the spec's ``outputs:`` (unknown names are errors)."""
    bad_types = {k: t for k, t in outputs.columns.items() if t not in SQL_TYPES}
    if bad_types:
        raise ValueError(f"unsupported output column types: {bad_types}")
    if spec.outputs is None:
        return outputs
    known = list(outputs.columns)
    for name in spec.outputs:
        if name not in outputs.columns:
            raise InputError(
                "outputs",
                f"unknown output {name!r} ({did_you_mean(name, known)}known: {', '.join(known)})",
                location=spec.location("outputs"),
            )
    cols = {k: outputs.columns[k] for k in spec.outputs}
    return PointOutputs(columns=cols, row=outputs.row)


def _without_axes(spec: SweepSpec, outputs: PointOutputs) -> PointOutputs:
    """An output named like an axis (``gpu``, ``num_gpus``) is the axis value itself:
    the axis column keeps it."""
    names = {a.name for a in spec.axes}
    cols = {k: t for k, t in outputs.columns.items() if k not in names}
    return PointOutputs(columns=cols, row=outputs.row)


def run_sweep(
    spec: SweepSpec,
    *,
    db: str,
    outputs: PointOutputs,
    executor: Executor | str = Executor.LOCAL,
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    on_start: Callable[[SweepSummary], None] | None = None,
    on_point: Callable[[dict], None] | None = None,
) -> SweepSummary:
    """Run every point of ``spec`` not yet in ``db`` and store each result.

    Args:
        spec: the validated sweep spec (:func:`colossim.sweep.load_spec`).
        db: DuckDB file (created; with ``resume``, continued).
        outputs: the outputs to store per point (see :class:`PointOutputs`).
        executor: ``local`` (process pool) or ``ray``.
        workers: processes / Ray CPUs (default: the CPUs available).
        address: Ray cluster address (``--executor ray`` only).
        resume: continue a sweep already in ``db``.
        on_start: called once with the summary before the first point runs.
        on_point: called with each finished point's row.

    Returns:
        A :class:`SweepSummary`.
    """
    t0 = time.perf_counter()
    executor = Executor(executor)
    check_executor(executor, address)
    workers = workers or default_workers()
    outputs = _without_axes(spec, _check_outputs(spec, outputs))
    tasks, summary = resolve_points(spec, outputs=outputs)
    store = SweepStore(db, spec, outputs.columns, resume=resume)
    try:
        done = store.done_hashes()
        todo = [t for t in tasks if t.hash not in done]
        summary.skipped = len(tasks) - len(todo)
        store.set_total(len(tasks))
        if on_start is not None:
            on_start(summary)
        for row in run_tasks(
            evaluate_point, todo, executor=executor, workers=workers, address=address
        ):
            # One transaction per point: committed before it is reported as done.
            store.add([row])
            summary.ran += 1
            summary.by_status[row["status"]] = summary.by_status.get(row["status"], 0) + 1
            if on_point is not None:
                on_point(row)
        store.finish()
    finally:
        store.close()
    summary.elapsed_s = time.perf_counter() - t0
    return summary
