"""Reading a sweep's store back, Pareto fronts over its points, and exports to Parquet
or CSV (DuckDB's ``COPY``; no pandas or pyarrow needed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colossim.errors import InputError
from colossim.sweep.store import open_db

__all__ = [
    "EXPORT_FORMATS",
    "SweepData",
    "export_format",
    "export_points",
    "pareto_mask",
    "read_sweep",
    "write_columns",
]

EXPORT_FORMATS = {".parquet": "PARQUET", ".csv": "CSV"}


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepData:
    """A sweep read back from its store.

    Attributes:
        meta: the ``sweep`` row (name, spec, versions, start/end...).
        axes: axis names, in spec order.
        columns: every column of ``points``.
        rows: every point, ordered by ``idx``.
    """

    meta: dict[str, Any]
    axes: tuple[str, ...]
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]

    def ok_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] == "ok"]


def read_sweep(db: str, *, field: str = "DB") -> SweepData:
    """Every point and the metadata of the sweep in ``db`` (read-only)."""
    con = open_db(db, read_only=True, field=field)
    try:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if not {"sweep", "points"} <= tables:
            raise InputError(field, "not a colossim sweep database", value=db)
        cur = con.execute("SELECT * FROM sweep")
        names = [d[0] for d in cur.description]
        meta = dict(zip(names, cur.fetchone(), strict=True))
        cur = con.execute("SELECT * FROM points ORDER BY idx")
        columns = tuple(d[0] for d in cur.description)
        rows = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    axes = tuple(a["name"] for a in json.loads(meta["axes"]))
    return SweepData(meta=meta, axes=axes, columns=columns, rows=rows)


def export_format(out: str, *, field: str) -> str:
    """The DuckDB ``COPY`` format of an export path, from its suffix."""
    fmt = EXPORT_FORMATS.get(Path(out).suffix.lower())
    if fmt is None:
        raise InputError(
            field, "unknown export format", value=out, fix="give a .parquet or .csv file name"
        )
    parent = Path(out).parent if str(Path(out).parent) else Path(".")
    if not parent.is_dir():
        raise InputError(field, "its directory does not exist", value=out)
    return fmt


def _copy(con, source_sql: str, out: str, fmt: str, field: str) -> None:
    import duckdb

    target = out.replace("'", "''")
    opts = "(FORMAT PARQUET)" if fmt == "PARQUET" else "(FORMAT CSV, HEADER)"
    try:
        con.execute(f"COPY ({source_sql}) TO '{target}' {opts}")
    except duckdb.Error as exc:
        raise InputError(field, f"cannot write: {str(exc).splitlines()[0]}", value=out) from None


def export_points(db: str, out: str, *, field: str = "OUT") -> int:
    """Write every point of the sweep in ``db`` to ``out`` (.parquet or .csv); returns
    the number of rows."""
    fmt = export_format(out, field=field)
    con = open_db(db, read_only=True, field="DB")
    try:
        n = con.execute("SELECT count(*) FROM points").fetchone()[0]
        _copy(con, "SELECT * FROM points ORDER BY idx", out, fmt, field)
    finally:
        con.close()
    return int(n)


def write_columns(columns: dict[str, np.ndarray], out: str, *, field: str = "--export") -> int:
    """Write equal-length arrays as a table to ``out`` (.parquet or .csv); returns the
    number of rows."""
    import duckdb

    fmt = export_format(out, field=field)
    con = duckdb.connect()
    try:
        con.register("export_table", columns)
        _copy(con, "SELECT * FROM export_table", out, fmt, field)
    finally:
        con.close()
    return len(next(iter(columns.values()))) if columns else 0


def pareto_mask(values: np.ndarray, *, chunk: int = 512) -> np.ndarray:
    """Which rows of ``values`` (n points x k objectives, all to minimise) no other row
    dominates (no worse in every objective and better in one). O(n^2 k), in chunks of
    rows so memory stays at ``chunk x n x k`` booleans."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    keep = np.ones(n, dtype=bool)
    for a in range(0, n, chunk):
        block = v[a : a + chunk, None, :]  # (c, 1, k) against every row (1, n, k)
        no_worse = (v[None, :, :] <= block).all(axis=2)
        better = (v[None, :, :] < block).any(axis=2)
        keep[a : a + chunk] = ~(no_worse & better).any(axis=1)
    return keep
