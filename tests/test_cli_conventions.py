"""Terminal conventions: -q keeps the essential tables, progress never pollutes stdout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import colossim
from helpers import SMALL_SCENARIO, cli, cli_json

EXAMPLES = Path(colossim.__file__).parent / "examples"

SMALL = [
    "--set",
    "cluster.num_gpus=1024",
    "--set",
    "workload.model=llama3-70b",
    "--set",
    "workload.global_batch=512",
]


_run = cli


def test_quiet_prints_the_plan_and_prediction_only() -> None:
    full = _run("plan", *SMALL)
    quiet = _run("-q", "plan", *SMALL)
    assert full.exit_code == 0 and quiet.exit_code == 0
    assert "Prediction" in quiet.output and "Plan" in quiet.output
    assert "Cluster and workload" in full.output and "Cluster and workload" not in quiet.output
    assert "Fabric, power and cost" not in quiet.output
    assert len(quiet.output.splitlines()) < len(full.output.splitlines()) / 2


def test_json_stdout_is_pure_json_with_progress_on() -> None:
    res = _run("plan", "--format", "json", *SMALL)
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["plan"]["tp"] * data["plan"]["pp"] * data["plan"]["dp"] * data["plan"]["cp"] <= 1024


def test_verbose_adds_the_breakdowns() -> None:
    plain = _run("plan", *SMALL)
    verbose = _run("-v", "plan", *SMALL)
    assert verbose.exit_code == 0
    assert len(verbose.output.splitlines()) > len(plain.output.splitlines())
    assert "gemm" in verbose.output.lower() and "gemm" not in plain.output.lower()


def test_quiet_and_verbose_work_after_the_subcommand() -> None:
    def same(a, b) -> bool:  # the same output, but for the search's elapsed time
        untimed = re.compile(r"in [0-9.]+ s")
        return untimed.sub("", a.output) == untimed.sub("", b.output)

    before, after = _run("-q", "plan", *SMALL), _run("plan", "-q", *SMALL)
    assert after.exit_code == 0 and same(before, after)
    assert same(_run("plan", "-v", *SMALL), _run("-v", "plan", *SMALL))
    # estimate -q keeps the plan and the prediction, not the cluster table alone
    q = _run("estimate", "-q", *SMALL)
    assert q.exit_code == 0 and "Step time" in q.output and "Cluster and workload" not in q.output


@pytest.mark.parametrize("command", ["plan", "estimate", "cost", "fabric", "campaign"])
def test_json_errors_are_json_on_stdout(command: str) -> None:
    res = cli(command, "--format", "json", "--set", "cluster.num_gpus=-5", catch=True)
    assert res.exit_code == 2
    data = json.loads(res.stdout)
    assert data["ok"] is False and data["exit_code"] == 2
    assert data["errors"][0]["field"] == "cluster.num_gpus"
    assert "error: " in res.stderr


def test_schema_takes_format_json() -> None:
    res = _run("schema", "--format", "json")
    assert res.exit_code == 0 and "properties" in json.loads(res.stdout)


def test_estimate_without_a_fixed_plan_estimates_the_searched_best(tmp_path: Path) -> None:
    est = cli_json("estimate", "colossus-100k-h100")
    best = cli_json("plan", "colossus-100k-h100")
    assert est["plan_source"] == "search" and est["plan"] == best["plan"]
    # --write-plan fixes that plan in a scenario that reproduces it exactly
    out = tmp_path / "fixed.yaml"
    written = cli_json("plan", "colossus-100k-h100", "--write-plan", str(out))
    assert written["written_plan"] == str(out)
    again = cli_json("estimate", str(out))
    assert again["plan_source"] == "scenario" and again["plan"] == best["plan"]
    assert again["tokens_per_s"] == pytest.approx(best["tokens_per_s"], rel=1e-12)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temporary file


def test_examples_by_name_and_init(tmp_path: Path, monkeypatch) -> None:
    listed = cli_json("examples")
    assert "gb300-1m" in listed and listed["gb300-1m"]["num_gpus"] == 1_000_000
    by_name = cli_json("fabric", "gb300-1m")
    assert by_name["tiers"] >= 3
    bad = cli("plan", "gb300-1n", catch=True)
    assert bad.exit_code == 2 and "did you mean 'gb300-1m'" in bad.output
    monkeypatch.chdir(tmp_path)
    assert cli("init", "gb300-1m").exit_code == 0
    assert (tmp_path / "gb300-1m.yaml").read_text() == (EXAMPLES / "gb300-1m.yaml").read_text()
    again = cli("init", "gb300-1m", catch=True)
    assert again.exit_code == 2 and "--force" in again.output


def test_non_regular_and_huge_scenario_files_are_refused(tmp_path: Path) -> None:
    res = cli("plan", "/dev/zero", catch=True)
    assert res.exit_code == 2 and "not a regular file" in res.output
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * 2_000_000 + "\n")
    res = cli("plan", str(big), catch=True)
    assert res.exit_code == 2 and "limit" in res.output


def test_user_text_is_not_markup(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(SMALL_SCENARIO.replace("name: t", "name: 'a [/] [bold]b'"))
    res = cli("estimate", str(p), catch=True)
    assert res.exit_code == 0, res.output


def test_a_closed_pipe_is_not_the_infeasible_code() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "colossim.cli.main", "search", "gb300-1m"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with proc:
        proc.stdout.readline()
        proc.stdout.close()  # the reader goes away, as `| head -1` does
        rc = proc.wait(timeout=120)
        err = proc.stderr.read().decode()
    assert rc in (0, 141), err


def test_write_atomic_leaves_the_old_file_on_failure(tmp_path: Path) -> None:
    from colossim.cli.common import write_atomic

    target = tmp_path / "report.html"
    target.write_text("old")

    with pytest.raises(TypeError):
        write_atomic(target, 12345)  # type: ignore[arg-type]
    assert target.read_text() == "old" and not list(tmp_path.glob(".*.tmp"))
    write_atomic(target, "new")
    assert target.read_text() == "new"
    # the mode a plain open() would give, not mkstemp's private 0600
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize(
    "kind",
    ["gpus", "models", "frameworks", "switches", "nics", "optics", "cables", "batteries",
     "prices", "power", "failures"],
)  # fmt: skip
def test_catalog_lists_every_kind_with_uncut_figures(kind: str, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    data = cli_json("catalog", kind)
    assert data and all(v["source"] for v in data.values())
    text = cli("catalog", kind).output
    # Every top-level number of every entry appears whole in the 80-column text.
    for entry in data.values():
        for key, value in entry["values"].items():
            if isinstance(value, float | int) and not isinstance(value, bool):
                shown = f"{value:,}" if isinstance(value, int) else f"{value}"
                assert f"{key}={shown}" in text, (kind, key)


def test_unpriced_gpu_is_refused_before_the_search(monkeypatch) -> None:
    import colossim.pipeline.results as pipeline

    monkeypatch.setattr(pipeline, "plan_search", lambda *a, **k: pytest.fail("searched"))
    res = cli("plan", "--set", "cluster.gpu=mi325x", "--set", "cluster.num_gpus=8192", catch=True)
    assert res.exit_code == 2 and "cost.server_usd" in res.stderr


def test_sigterm_stops_with_one_line_and_no_partial_file(tmp_path: Path) -> None:
    import signal
    import time

    out = tmp_path / "report.html"
    out.write_text("previous report")
    proc = subprocess.Popen(
        [sys.executable, "-m", "colossim.cli.main", "report", "gb300-1m", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with proc:
        time.sleep(2.0)  # inside the search / simulation
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err.decode()
    assert "terminated" in err.decode() and "Traceback" not in err.decode()
    assert out.read_text() == "previous report"
    assert not list(tmp_path.glob(".*.tmp"))


def test_plan_tables_fit_80_columns_without_cutting_numbers(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    text = cli("plan").output
    assert "…" not in text  # rich's truncation mark: no figure is cut
    assert max(len(line) for line in text.splitlines()) <= 80
