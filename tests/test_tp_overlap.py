"""TP communication overlap as an input: Megatron-Core --tp-comm-overlap, torchtitan async
TP (scenario ``workload.tp_comm_overlap``, validation CSV column ``tp_comm_overlap``)."""

from __future__ import annotations

import csv
import io

import pytest

from colossim.cluster import cluster_for
from colossim.hardware import gpu
from colossim.parallel.plan import Plan
from colossim.perf.estimate import context, estimate
from colossim.validation import read_runs, validate_rows
from colossim.workload.model import preset
from colossim.workload.stack import stack_profile
from colossim.workload.training import Training
from helpers import SMALL_SCENARIO, cli, cli_json

PLAN = Plan(tp=8, pp=1, dp=8, micro_batch=1, global_batch=64)


def _tp_s(framework: str, overlap: bool | None) -> float:
    training = Training(
        seq_len=4096, global_batch=64, tokens=1e12, framework=framework, tp_comm_overlap=overlap
    )
    ctx = context(preset("llama3-70b"), training, cluster_for(gpu("h100-sxm-80gb"), 64))
    return estimate(ctx, PLAN).time_breakdown_s["tp_comm_exposed"]


def test_enabling_overlap_hides_tp_communication_where_the_stack_can() -> None:
    megatron = stack_profile("megatron")
    assert megatron.tp_overlap < megatron.tp_overlap_enabled  # off by default in Megatron-LM
    default, on, off = (_tp_s("megatron", v) for v in (None, True, False))
    assert default == pytest.approx(off) and on < 0.5 * off
    # a stack that overlaps by default hides the same share when asked explicitly
    nemo = stack_profile("nemo")
    assert nemo.tp_overlap_enabled == nemo.tp_overlap
    assert _tp_s("nemo", True) == pytest.approx(_tp_s("nemo", None))
    assert _tp_s("nemo", False) > _tp_s("nemo", None)


def test_scenario_field_reaches_the_step_model(tmp_path) -> None:
    def tp_exposed(extra: str) -> float:
        text = SMALL_SCENARIO.replace("global_batch: 128\n", "global_batch: 128\n" + extra)
        text = text.replace("tp: 1, pp: 1, dp: 64", "tp: 8, pp: 1, dp: 8")
        p = tmp_path / f"s{len(extra)}.yaml"
        p.write_text(text, encoding="utf-8")
        return cli_json("estimate", str(p))["time_breakdown_s"]["tp_comm_exposed"]

    assert tp_exposed("  tp_comm_overlap: true\n") < tp_exposed("  tp_comm_overlap: false\n")


def test_csv_column_is_optional_and_checked(published_csv, tmp_path) -> None:
    (row,) = [
        r for r in read_runs(published_csv) if r["id"].startswith("mcore-readme2024-weak-gpt-32b")
    ]
    assert row["tp_comm_overlap"] == "true"  # the Megatron-Core README runs pass the flag

    def predicted(value: str | None):
        header = [c for c in row if value is not None or c != "tp_comm_overlap"]
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        w.writerow(replace_value(row, value))
        p = tmp_path / f"r{value}.csv"
        p.write_text(out.getvalue(), encoding="utf-8")
        (res,) = validate_rows(read_runs(p)).rows
        return res

    assert predicted("").predicted == predicted(None).predicted  # blank = absent = default
    assert predicted("true").predicted > predicted("false").predicted
    bad = predicted("maybe")
    assert bad.predicted is None and "tp_comm_overlap" in bad.reason and "maybe" in bad.reason


def replace_value(row: dict, value: str | None) -> dict:
    return {**row, "tp_comm_overlap": value or ""}


@pytest.mark.parametrize("field", ["tp_comm_overlap", "cuda_graphs"])
def test_a_switch_that_is_not_a_boolean_is_one_clear_error(tmp_path, field) -> None:
    text = SMALL_SCENARIO.replace("global_batch: 128\n", f"global_batch: 128\n  {field}: maybe\n")
    p = tmp_path / "s.yaml"
    p.write_text(text, encoding="utf-8")
    r = cli("plan", str(p), catch=True)
    assert r.exit_code == 2 and "Traceback" not in r.output
    (line,) = [x for x in r.stderr.splitlines() if x.startswith("error: ")]
    assert f"workload.{field}" in line and "'maybe'" in line and f"{p}:10:" in line
