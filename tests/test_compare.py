"""`colossim compare`: key outputs side by side, as a table and as JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from colossim.report.compare import COMPARE_KEYS
from helpers import cli

SMALL = """\
name: small-search
cluster: {gpu: h100-sxm-80gb, num_gpus: 1024}
workload: {model: llama3-8b, tokens: 1e12, seq_len: 8192, global_batch: 512}
plan: search
facility: {trace_duration_s: 600}
"""
FIXED = """\
name: fixed-64
cluster: {gpu: h100-sxm-80gb, num_gpus: 64}
workload: {model: llama3-8b, tokens: 1e12, seq_len: 8192, global_batch: 128}
plan: {tp: 1, pp: 1, dp: 64, micro_batch: 1, recompute: selective, sharding: zero1}
facility: {trace_duration_s: 600}
"""


run = cli


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("compare")
    a, b = d / "small.yaml", d / "fixed.yaml"
    a.write_text(SMALL)
    b.write_text(FIXED)
    return str(a), str(b)


@pytest.fixture(scope="module")
def rows(files) -> list[dict]:
    r = run("compare", *files, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _numbers(v)
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        yield obj


def test_one_entry_per_scenario_same_keys_finite(rows) -> None:
    assert [r["scenario"] for r in rows] == ["small-search", "fixed-64"]
    for r in rows:
        assert tuple(r) == COMPARE_KEYS
        assert all(math.isfinite(x) for x in _numbers(r))
        for k in ("step_time_s", "tokens_per_s", "memory_per_gpu_bytes", "days_to_train",
                  "facility_power_w", "capex_usd", "usd_per_gpu_hour"):  # fmt: skip
            assert r[k] > 0, k
        assert 0 < r["mfu"] < 1
        assert 0 < r["goodput"] <= 1
        # Failures only ever add time.
        assert r["days_to_train_with_failures"] >= r["days_to_train"] * (1 - 1e-9)
    assert [r["num_gpus"] for r in rows] == [1024, 64]


def test_rows_agree_with_single_commands(files, rows) -> None:
    """Compare reuses the per-command numbers: same step time, fabric and cost."""
    _, fixed = files
    est = json.loads(run("estimate", fixed, "--format", "json").stdout)
    fab = json.loads(run("fabric", fixed, "--format", "json").stdout)
    cst = json.loads(run("cost", fixed, "--format", "json").stdout)
    row = rows[1]
    assert row["step_time_s"] == est["step_time_s"]
    assert row["tokens_per_s"] == est["tokens_per_s"]
    assert row["plan"] == est["plan"]
    assert row["fabric_tiers"] == fab["tiers"]
    assert row["fabric_switches"] == fab["switches"]["total"]
    assert row["capex_usd"] == pytest.approx(cst["capex_usd"])
    assert row["usd_per_gpu_hour"] == pytest.approx(cst["usd_per_gpu_hour"])
    # Days to train and throughput are two views of one number.
    assert row["days_to_train"] * 86_400 * row["tokens_per_s"] == pytest.approx(1e12)


def test_no_campaign_gives_null_goodput(files) -> None:
    r = run("compare", files[1], "--no-campaign", "--format", "json")
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.stdout)
    assert row["goodput"] is None and tuple(row) == COMPARE_KEYS
    assert row["days_to_train_with_failures"] is None


def test_text_table(files) -> None:
    r = run("compare", *files)
    assert r.exit_code == 0, r.output
    for text in ("small-search", "fixed-64", "tokens/s", "MFU", "$ per GPU-hour", "goodput",
                 "does not fit", "days to train with failures"):  # fmt: skip
        assert text in r.stdout, text


def test_bad_input_exit_2(tmp_path: Path, files) -> None:
    r = run("compare", files[0], str(tmp_path / "missing.yaml"))
    assert r.exit_code == 2 and "file not found" in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster: {gpu: h100-sxm-80gb\n")
    r = run("compare", str(bad))
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = run("compare")
    assert r.exit_code == 2
