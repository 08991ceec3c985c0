"""The results store of a sweep: one DuckDB file, two tables.

``sweep``  one row: the spec (text and hash), colossim version, catalog hash, start/end.
``points`` one row per finished point, keyed by the resolved scenario's hash: the axis
           values, every kept output, ``status`` (``ok``, ``infeasible``, ``invalid``,
           ``error``) and ``error``.

Each batch of finished points is written in one transaction, so a sweep killed at any
moment keeps every committed point and ``--resume`` skips exactly those (the primary
key on ``hash`` makes a duplicate impossible).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from colossim.errors import InputError
from colossim.sweep.spec import Axis, SweepSpec

__all__ = ["SweepStore", "axis_sql_type", "catalog_hash", "open_db"]

SQL_TYPES = ("BOOLEAN", "BIGINT", "DOUBLE", "VARCHAR")


def catalog_hash() -> str:
    """Hash of the bundled catalog files (GPUs, prices, ...): points computed with a
    different catalog are not comparable."""
    h = hashlib.sha256()
    folder = resources.files("colossim").joinpath("catalog")
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        if p.name.endswith(".yaml"):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _version() -> str:
    try:
        return metadata.version("colossim")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def axis_sql_type(a: Axis) -> str:
    """The column type of an axis (values of mixed or structured types are stored as
    JSON text)."""
    if a.values is None:
        return "BIGINT" if a.integer else "DOUBLE"
    vals = a.values
    if all(isinstance(v, bool) for v in vals):
        return "BOOLEAN"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return "BIGINT"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
        return "DOUBLE"
    if all(isinstance(v, str) for v in vals):
        return "VARCHAR"
    return "JSON"


def _duckdb():
    import duckdb

    return duckdb


def open_db(path: str, *, read_only: bool, field: str = "DB"):
    """A DuckDB connection, or :class:`InputError` (missing file, locked by a running
    sweep, not a DuckDB file, unwritable directory)."""
    duckdb = _duckdb()
    p = Path(path)
    if read_only and not p.is_file():
        raise InputError(
            field,
            "no such sweep database",
            value=path,
            fix="run `colossim sweep SPEC --db PATH` first",
        )
    if not read_only:
        parent = p.parent if str(p.parent) else Path(".")
        if p.is_dir():
            raise InputError(
                field, "is a directory", value=path, fix="give a file path, e.g. results.duckdb"
            )
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise InputError(
                field,
                "directory does not exist or is not writable",
                value=path,
                fix="give a path in a writable directory",
            )
    try:
        return duckdb.connect(str(p), read_only=read_only)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        fix = (
            "another process (a running sweep?) holds it: try again when it is done"
            if "lock" in first.lower()
            else None
        )
        raise InputError(field, f"cannot open the database: {first}", value=path, fix=fix) from None


class SweepStore:
    """A sweep's DuckDB file opened for writing (see the module docstring).

    Args:
        path: the database file (created if missing).
        spec: the sweep spec.
        outputs: kept output columns, name -> SQL type.
        resume: continue the sweep already in the file (same spec hash required);
            without it, a file that already holds a sweep is an error.
    """

    def __init__(self, path: str, spec: SweepSpec, outputs: Mapping[str, str], *, resume: bool):
        self.path = path
        self.con = open_db(path, read_only=False, field="--db")
        self._axes = spec.axes
        self._outputs = dict(outputs)
        try:
            self._prepare(spec, resume=resume)
        except BaseException:
            self.con.close()
            raise
        self._columns = ["hash", "idx", "status", "error", "overrides", "elapsed_s", "finished_at"]
        self._columns += [a.name for a in self._axes] + list(self._outputs)

    def _prepare(self, spec: SweepSpec, *, resume: bool) -> None:
        tables = {
            r[0]
            for r in self.con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if "sweep" in tables:
            row = self.con.execute("SELECT spec_hash, name FROM sweep").fetchone()
            if not resume:
                raise InputError(
                    "--db",
                    f"already holds sweep {row[1]!r}",
                    value=self.path,
                    fix="pass --resume to continue it, or give a new --db path",
                )
            if row[0] != spec.spec_hash:
                raise InputError(
                    "--resume",
                    f"the database holds a different sweep ({row[1]!r}, spec hash {row[0]}; this spec: {spec.spec_hash})",
                    value=self.path,
                    fix="resume with the same spec, or give a new --db path",
                )
            return
        # Structured axis values (mappings, mixed types) are stored as JSON text.
        axis_cols = [
            f'"{a.name}" {"VARCHAR" if axis_sql_type(a) == "JSON" else axis_sql_type(a)}'
            for a in self._axes
        ]
        out_cols = [f'"{k}" {t}' for k, t in self._outputs.items()]
        self.con.execute("BEGIN TRANSACTION")
        self.con.execute(
            "CREATE TABLE sweep (name VARCHAR, spec_hash VARCHAR, spec VARCHAR, source VARCHAR,"
            " base VARCHAR, axes VARCHAR, outputs VARCHAR, colossim_version VARCHAR,"
            " catalog_hash VARCHAR, points_total BIGINT, started_at TIMESTAMP, finished_at TIMESTAMP)"
        )
        self.con.execute(
            "CREATE TABLE points (hash VARCHAR PRIMARY KEY, idx BIGINT, status VARCHAR,"
            " error VARCHAR, overrides VARCHAR, elapsed_s DOUBLE, finished_at TIMESTAMP, "
            + ", ".join(axis_cols + out_cols)
            + ")"
        )
        axes = [{"field": a.field, "name": a.name} for a in self._axes]
        self.con.execute(
            "INSERT INTO sweep VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL)",
            [
                spec.name,
                spec.spec_hash,
                spec.text,
                spec.source,
                spec.base,
                json.dumps(axes),
                json.dumps(list(self._outputs)),
                _version(),
                catalog_hash(),
                _now(),
            ],
        )
        self.con.execute("COMMIT")

    def done_hashes(self) -> set[str]:
        """Hashes of the points already stored."""
        return {r[0] for r in self.con.execute("SELECT hash FROM points").fetchall()}

    def set_total(self, n: int) -> None:
        self.con.execute("UPDATE sweep SET points_total = ?", [n])

    def add(self, rows: list[dict[str, Any]]) -> None:
        """Store finished points, all or none (one transaction); a hash already stored
        is skipped."""
        if not rows:
            return
        cols = ", ".join(f'"{c}"' for c in self._columns)
        marks = ", ".join("?" for _ in self._columns)
        sql = f"INSERT INTO points ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        json_axes = {a.name for a in self._axes if axis_sql_type(a) == "JSON"}
        now = _now()
        values = []
        for row in rows:
            rec = {**row, "finished_at": now}
            for k in json_axes:
                rec[k] = json.dumps(rec.get(k))
            values.append([rec.get(c) for c in self._columns])
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.executemany(sql, values)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def finish(self) -> None:
        self.con.execute("UPDATE sweep SET finished_at = ?", [_now()])

    def close(self) -> None:
        self.con.close()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
