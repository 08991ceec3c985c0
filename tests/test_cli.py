"""End-to-end CLI: outputs, JSON keys, exit codes, and one clear line for bad input."""

from __future__ import annotations

import json
import math

import pytest

from helpers import SMALL_SCENARIO as SCENARIO
from helpers import cli

run = cli


def _finite(obj) -> bool:
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_finite(v) for v in obj)
    return not (isinstance(obj, float) and not math.isfinite(obj))


@pytest.fixture
def scenario(tmp_path):
    def write(text: str = SCENARIO, name: str = "s.yaml"):
        p = tmp_path / name
        p.write_text(text)
        return str(p)

    return write


def test_plan_default_scenario_json_keys() -> None:
    r = run("plan", "--format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    for key in (
        "step_time_s",
        "tokens_per_s_per_gpu",
        "mfu",
        "memory_per_gpu_bytes",
        "days_to_train",
    ):
        assert key in out and out[key] > 0
    assert out["num_gpus"] == 100_000 and out["num_gpus_used"] + out["idle_gpus"] == 100_000
    assert out["memory_per_gpu_bytes"] <= 80e9
    assert _finite(out)


def test_plan_text_mentions_figures() -> None:
    r = run("plan")
    assert r.exit_code == 0
    for word in ("Step time", "MFU", "Memory per GPU", "Days to train", "100,000"):
        assert word in r.output


def test_estimate_breakdown(scenario) -> None:
    r = run("estimate", scenario(), "--format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out["time_breakdown_s"]) >= {
        "gemm",
        "attention",
        "pipeline_bubble",
        "dp_comm_exposed",
    }
    assert out["step_time_s"] == pytest.approx(sum(out["time_breakdown_s"].values()), rel=1e-9)
    assert _finite(out)


def test_set_override(scenario) -> None:
    r = run(
        "estimate",
        scenario(),
        "--format",
        "json",
        "--set",
        "cluster.num_gpus=128",
        "--set",
        "plan.dp=128",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["num_gpus"] == 128


@pytest.mark.parametrize(
    ("mutation", "needle"),
    [
        (("h100-sxm-80gb", "h100-sxm-80g"), "cluster.gpu"),
        (("num_gpus: 64", "num_gpus: -64"), "cluster.num_gpus"),
        (("global_batch: 128", "global_batch: -2"), "workload.global_batch"),
        (("tp: 1, pp: 1, dp: 64", "tp: 64, pp: 1, dp: 1"), "heads"),
        (("dp: 64", "dp: 32"), "GPUs"),
        (("tokens: 1e12", "tokenz: 1e12"), "did you mean 'tokens'"),
        (("seq_len: 8192", "seq_len: 8192\n  seq_len: 4096"), "duplicate key"),
        (("model: llama3-8b", "model: [unclosed"), "syntax error"),
    ],
)
def test_bad_input_exit_2_one_message(scenario, mutation, needle) -> None:
    text = SCENARIO.replace(*mutation)
    assert text != SCENARIO
    r = run("estimate", scenario(text))
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert "Traceback" not in r.output


def test_error_has_file_line(scenario) -> None:
    path = scenario(SCENARIO.replace("num_gpus: 64", "num_gpus: -64"))
    r = run("estimate", path)
    assert f"{path}:4:" in r.output and "(got -64)" in r.output


def test_several_errors_reported_at_once(scenario) -> None:
    text = SCENARIO.replace("num_gpus: 64", "num_gpus: -1").replace("seq_len: 8192", "seq_len: 0")
    r = run("estimate", scenario(text))
    assert r.exit_code == 2 and "2 errors" in r.output


def test_missing_file_and_not_yaml(scenario, tmp_path) -> None:
    assert run("estimate", str(tmp_path / "nope.yaml")).exit_code == 2
    assert run("estimate", scenario("- just\n- a list\n")).exit_code == 2


def test_infeasible_search_exits_1(scenario) -> None:
    text = (
        SCENARIO.replace("llama3-8b", "megatron-1t")
        .replace("num_gpus: 64", "num_gpus: 8")
        .replace(
            "plan: {tp: 1, pp: 1, dp: 64, micro_batch: 1, recompute: selective, sharding: zero1}",
            "plan: search",
        )
    )
    r = run("search", scenario(text), "--format", "json")
    assert r.exit_code == 1
    assert "memory" in r.output


def test_validate_json(published_csv) -> None:
    r = run("validate", str(published_csv), "--format", "json")
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert set(out["summary"]) >= {
        "rows",
        "predicted",
        "mape_pct",
        "median_ape_pct",
        "within_10pct",
        "within_25pct",
    }
    assert {"id", "measured", "predicted", "ape_pct", "reason"} <= set(out["rows"][0])
    assert _finite(out)


def test_validate_malformed_csv(tmp_path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("id,gpu\n1,2\n")
    r = run("validate", str(p))
    assert r.exit_code == 2 and "missing column" in r.output and "Traceback" not in r.output


def test_schema_is_json() -> None:
    r = run("schema")
    assert r.exit_code == 0 and "properties" in json.loads(r.stdout)


@pytest.mark.parametrize(
    ("command", "keys"),
    [
        (
            "fabric",
            (
                "tiers",
                "switches",
                "transceivers",
                "bisection_bw_bytes_per_s",
                "power_w",
                "cost_usd",
            ),
        ),
        ("power", ("it_power_w", "facility_power_w", "peak_swing_w", "battery_units", "energy_j")),
        ("cost", ("capex_usd", "opex_usd_per_year", "usd_per_gpu_hour", "breakdown")),
    ],
)
def test_facility_commands_on_default_scenario(command, keys) -> None:
    r = run(command, "--format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    for k in keys:
        assert k in out, k
    assert _finite(out)
    if command == "fabric":
        assert out["tiers"] == 3
    if command == "power":
        assert 120e6 <= out["facility_power_w"] <= 170e6
    if command == "cost":
        servers = {row["item"]: row for row in out["breakdown"]}["servers"]["capex_usd"]
        assert 3e9 <= servers <= 4.5e9


def test_validate_search_check_switch(published_csv) -> None:
    on = json.loads(run("validate", str(published_csv), "--format", "json", "--no-rows").stdout)
    off = json.loads(
        run("validate", str(published_csv), "--format", "json", "--no-search-check").stdout
    )
    assert on["search_match"]["searched_ge_published"] == on["search_match"]["rows"] > 0
    assert off.get("search_match") is None
    assert off["summary"] == on["summary"]
