"""Design-space sweeps: a base scenario, axes over its fields (grid, zip, random,
Latin hypercube), constraints, and every point run through the one pipeline on a local
process pool or Ray, into a DuckDB results store.

    from colossim.sweep import load_spec, run_sweep
    from colossim.report.sweep import POINT_OUTPUTS

    summary = run_sweep(load_spec("gpu-count-nic"), db="r.duckdb", outputs=POINT_OUTPUTS)
"""

from colossim.sweep.executors import Executor, default_workers
from colossim.sweep.plans import every_plan
from colossim.sweep.points import Point, sweep_points
from colossim.sweep.run import PointOutputs, SweepSummary, evaluate_point, resolve_points, run_sweep
from colossim.sweep.spec import Axis, Sampling, SweepSpec, bundled_sweeps, load_spec
from colossim.sweep.tables import (
    SweepData,
    export_points,
    pareto_mask,
    read_sweep,
    write_columns,
)

__all__ = [
    "Axis",
    "Executor",
    "Point",
    "PointOutputs",
    "Sampling",
    "SweepData",
    "SweepSpec",
    "SweepSummary",
    "bundled_sweeps",
    "default_workers",
    "evaluate_point",
    "every_plan",
    "export_points",
    "load_spec",
    "pareto_mask",
    "read_sweep",
    "resolve_points",
    "run_sweep",
    "sweep_points",
    "write_columns",
]
