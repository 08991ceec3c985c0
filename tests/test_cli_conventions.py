"""Terminal conventions: -q keeps the essential tables, progress never pollutes stdout."""

from __future__ import annotations

import json

from helpers import cli

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
