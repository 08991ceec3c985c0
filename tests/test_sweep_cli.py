"""``colossim sweep`` as a user runs it: exit codes, one row per point, a real kill
followed by ``--resume``, ``show``, ``export``, ``report --sweep``, ``search --export``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from helpers import SMALL_SCENARIO, cli, cli_json

TINY = """\
name: tiny
base: base.yaml
axes:
  cluster.nic_gbit_per_s: [200, 400]
  workload.tokens: {values: [1.0e12, 2.0e12], name: tokens}
trials: 4
"""
# 48 points; each searches its plans (tens of ms), so a kill lands mid-run.
SLOW_POINTS = 48
SLOW = f"""\
name: slow
base: base.yaml
axes:
  cluster.num_gpus: {{values: [4096, 8192], name: gpus}}
  workload.tokens: {{values: {[float(t) * 1e12 for t in range(1, 25)]}, name: tokens}}
  workload.model: [llama3-70b]
  workload.global_batch: [1024]
  plan: [search]
trials: 16
"""


def spec(tmp_path: Path, text: str = TINY) -> str:
    (tmp_path / "base.yaml").write_text(SMALL_SCENARIO, encoding="utf-8")
    p = tmp_path / "spec.yaml"
    p.write_text(text, encoding="utf-8")
    return str(p)


def count(db: str) -> tuple[int, int]:
    with duckdb.connect(db, read_only=True) as con:
        return con.execute("SELECT count(*), count(DISTINCT hash) FROM points").fetchone()


def test_sweep_run_show_export(tmp_path: Path) -> None:
    db = str(tmp_path / "r.duckdb")
    out = cli_json("sweep", spec(tmp_path), "--db", db, "--workers", "1")
    assert out["points"] == 4 and out["by_status"] == {"ok": 4}
    assert count(db) == (4, 4)
    shown = cli_json("sweep", "show", db)
    assert shown["points"] == 4 and shown["pareto"]
    assert [o["column"] for o in shown["objectives"]] == [
        "days_to_train",
        "usd_per_run",
        "facility_power_w",
    ]
    res = cli("sweep", "show", db, "--objectives", "mfu:max,capex_usd")
    assert res.exit_code == 0 and "Pareto front" in res.output
    res = cli("sweep", "export", db, str(tmp_path / "r.csv"))
    assert res.exit_code == 0 and "wrote 4 points" in res.output
    assert (tmp_path / "r.csv").read_text().count("\n") == 5


def test_explicit_run_subcommand_and_export_flag(tmp_path: Path) -> None:
    db, pq = str(tmp_path / "r.duckdb"), str(tmp_path / "r.parquet")
    res = cli("sweep", "run", spec(tmp_path), "--db", db, "--workers", "1", "--export", pq)
    assert res.exit_code == 0, res.output
    n = duckdb.connect().execute(f"SELECT count(*) FROM '{pq}'").fetchone()[0]
    assert n == 4


@pytest.mark.parametrize(
    ("args", "text", "words"),
    [
        ((), TINY.replace("cluster.nic_gbit_per_s", "cluster.nic_gbps"), "not a scenario field"),
        ((), TINY.replace("[200, 400]", "[]"), "empty axis"),
        ((), TINY + "constraints: ['tokens > 1e13']\n", "exclude every one of the 4 points"),
        (("--db", "/nonexistent/dir/r.duckdb"), TINY, "--db: directory does not exist"),
        (("--objectives", "x"), TINY, "No such option"),
        (("--address", "auto", "--db", "unused.duckdb"), TINY, "only with --executor ray"),
    ],
)
def test_bad_input_exits_2(tmp_path: Path, args: tuple, text: str, words: str) -> None:
    res = cli("sweep", spec(tmp_path, text), *(args or ("--db", str(tmp_path / "r.duckdb"))))
    assert res.exit_code == 2, res.output
    assert words in res.output
    assert "Traceback" not in res.output


def test_show_errors_exit_2(tmp_path: Path) -> None:
    res = cli("sweep", "show", str(tmp_path / "missing.duckdb"))
    assert res.exit_code == 2 and "no such sweep database" in res.output
    db = str(tmp_path / "r.duckdb")
    cli_json("sweep", spec(tmp_path), "--db", db, "--workers", "1")
    res = cli("sweep", "show", db, "--objectives", "mfuu")
    assert res.exit_code == 2 and "did you mean 'mfu'" in res.output
    res = cli("sweep", "export", db, str(tmp_path / "r.xlsx"))
    assert res.exit_code == 2 and ".parquet or .csv" in res.output
    res = cli("sweep", "missing-spec.yaml", "--db", db)
    assert res.exit_code == 2 and "bundled example" in res.output


def test_killed_sweep_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    """A real SIGKILL of the whole process tree (parent and pool workers) mid-run."""
    path, db = spec(tmp_path, SLOW), str(tmp_path / "k.duckdb")
    cmd = [sys.executable, "-m", "colossim.cli.main", "-v", "sweep", path, "--db", db]
    proc = subprocess.Popen(
        [*cmd, "--workers", "2"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group: the kill reaches the workers too
        env={**os.environ, "NO_COLOR": "1"},
    )
    done, deadline = 0, time.monotonic() + 60
    while done < 3 and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        done += line.startswith("point ")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert done >= 3, "the sweep did not report three finished points"
    stored, distinct = count(db)
    assert 3 <= stored < SLOW_POINTS and stored == distinct
    res = cli("sweep", path, "--db", db, "--resume", "--workers", "1", "--format", "json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["skipped"] == stored and out["ran"] == SLOW_POINTS - stored
    assert count(db) == (SLOW_POINTS, SLOW_POINTS)


def test_report_with_sweep_section(tmp_path: Path) -> None:
    db, html = str(tmp_path / "r.duckdb"), tmp_path / "r.html"
    path = spec(tmp_path)
    cli_json("sweep", path, "--db", db, "--workers", "1")
    base = str(tmp_path / "base.yaml")
    out = cli_json("report", base, "--no-campaign", "--sweep", db, "-o", str(html))
    assert out["sections"][-1] == "sweep"
    page = html.read_text(encoding="utf-8")
    assert "Pareto front" in page and '"parcoords"' in page
    res = cli("report", base, "--sweep", str(tmp_path / "none.duckdb"), "-o", str(html))
    assert res.exit_code == 2 and "--sweep" in res.output


def test_search_export_writes_every_evaluated_plan(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(SMALL_SCENARIO, encoding="utf-8")
    out = str(tmp_path / "plans.csv")
    res = cli("search", str(base), "--set", "plan=search", "--format", "json", "--export", out)
    assert res.exit_code == 0, res.output
    feasible = json.loads(res.stdout)["feasible"]
    con = duckdb.connect()
    n, ranks, front = con.execute(
        f"SELECT count(*), max(rank), sum(on_pareto_front::INT) FROM '{out}'"
    ).fetchone()
    assert n == feasible == ranks and front >= 1
    res = cli("search", str(base), "--export", str(tmp_path / "plans.txt"))
    assert res.exit_code == 2 and "--export" in res.output


def test_bundled_example_as_a_new_user_runs_it(tmp_path: Path) -> None:
    """`colossim sweep examples/sweeps/<one>.yaml --db T/r.duckdb` from any directory:
    the bundled spec is found by name; one row per point."""
    db = str(tmp_path / "r.duckdb")
    res = cli("sweep", "examples/sweeps/power-battery.yaml", "--db", db, "--format", "json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["points"] == 15 and out["by_status"] == {"ok": 15}
    assert count(db) == (15, 15)
    with duckdb.connect(db, read_only=True) as con:
        rows = con.execute("SELECT grid_mw, battery_units, grid_ok FROM points").fetchall()
    ok = {(cap, units): good for cap, units, good in rows}
    # Under the default grid rules (ramp limits) no cap is met without a battery; more
    # battery never makes it worse.
    assert not ok[(55, 0)] and ok[(90, 200)]
    for cap in (55, 60, 65, 75, 90):
        assert ok[(cap, 0)] <= ok[(cap, 25)] <= ok[(cap, 200)]
